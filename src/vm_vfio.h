/* SPDX-License-Identifier: MIT */
/*
 * The VM's assigned devices (--vfio): one vfio container for all of them, opened before
 * the guest runs, and each device a function on the guest's PCI bus (vfio/assigned.h)
 * whose memslots and interrupt routes this file makes with KVM.
 */
#ifndef SLABVM_VM_VFIO_H
#define SLABVM_VM_VFIO_H

#include "base/error.h"

struct vm;
struct vm_config;

/*
 * Opens every cfg->vfio device through one container. A malformed address or a device
 * that does not exist is a usage error; anything the host refuses is not. Nothing to do
 * without --vfio.
 */
int vm_vfio_add(struct vm *vm, const struct vm_config *cfg, struct error *err);
/*
 * Puts every device vm_vfio_add opened on the PCI bus, in slots first_slot, first_slot +
 * 1, ..., before pci_host_assign_bars places their BARs.
 */
int vm_vfio_add_pci(struct vm *vm, unsigned int first_slot, struct error *err);

#endif
