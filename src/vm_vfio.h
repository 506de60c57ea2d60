/* SPDX-License-Identifier: MIT */
/*
 * The VM's assigned devices (--vfio): one vfio container for all of them, opened before
 * the guest runs. Not on the guest's PCI bus yet (docs/design.md, "vfio (in progress)").
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

#endif
