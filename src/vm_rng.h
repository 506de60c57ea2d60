/* SPDX-License-Identifier: MIT */
/* virtio-rng on the VM's PCI bus, an entry of its device list (QOM type virtio-rng-pci). */
#ifndef SLABVM_VM_RNG_H
#define SLABVM_VM_RNG_H

#include "base/error.h"

struct vm;

int vm_rng_add(struct vm *vm, unsigned int slot, struct error *err);

#endif
