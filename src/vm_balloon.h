/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon on the VM's PCI bus, an entry of its device list (QOM type
 * virtio-balloon-pci, id balloon0), and what the control socket asks of it.
 */
#ifndef SLABVM_VM_BALLOON_H
#define SLABVM_VM_BALLOON_H

#include "balloon/balloon.h"
#include "base/error.h"

#define VM_BALLOON_TYPE "virtio-balloon-pci"

struct vm;

int vm_balloon_add(struct vm *vm, const struct balloon_config *cfg, unsigned int slot,
		   struct error *err);
/* The VM's balloon, NULL without one. */
struct balloon *vm_balloon(struct vm *vm);

#endif
