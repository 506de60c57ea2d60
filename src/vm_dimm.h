/* SPDX-License-Identifier: MIT */
/*
 * DIMMs plugged and unplugged at run time (--slots, QMP object-add/device_add/device_del):
 * the memory backends and pc-dimm devices QMP names, the memory map's DIMM slots behind
 * them and the ACPI memory hotplug controller that tells the guest.
 *
 * Plug (main loop): place the DIMM and fill its slot, memmap_plug (back it, map it in
 * every listener, add its memslot), then memhp_plug: the guest is told last. Unplug: the
 * controller asks the guest; its eject arrives on a vCPU thread, which only hands the slot
 * to the main loop through an eventfd; the main loop then unplugs it from the memory map,
 * empties the slot, tells the controller and emits DEVICE_DELETED. _OST reports take the
 * same way and become ACPI_DEVICE_OST; a refusal leaves the DIMM plugged.
 */
#ifndef SLABVM_VM_DIMM_H
#define SLABVM_VM_DIMM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "control/control.h"
#include "devices/memhp.h"

#define VM_DIMM_ID_MAX 64	/* longest QMP id kept, with its NUL */
#define VM_DIMM_MAX_MEMDEVS 128 /* backends defined at once */
#define VM_DIMM_MAX_OST 16	/* _OST reports waiting for the main loop */

struct vm_memdev {
	char id[VM_DIMM_ID_MAX]; /* "" when unused */
	bool memfd;		 /* memory-backend-memfd, else memory-backend-ram (same backing) */
	uint64_t size;
	int slot; /* the DIMM using it, -1 for none */
};

struct vm_dimm {
	char id[VM_DIMM_ID_MAX]; /* "" for an empty slot */
	unsigned int memdev;
	unsigned int region; /* its memory map region */
	uint64_t addr, size;
};

struct vm_dimm_ost {
	unsigned int slot;
	uint32_t event, status;
};

struct vm_dimms {
	struct vm_memdev memdev[VM_DIMM_MAX_MEMDEVS];
	struct vm_dimm slot[MEMHP_MAX_SLOTS];
	bool ready; /* vm_dimms_init ran: lock and fd need tearing down */
	int fd;	    /* eventfd: a vCPU has handed work to the main loop, -1 if none */
	/* What vCPUs handed over, under lock. */
	pthread_mutex_t lock;
	uint64_t ejected; /* bit per slot */
	unsigned int nost;
	struct vm_dimm_ost ost[VM_DIMM_MAX_OST];
};

struct vm;

/* The controller's ops; ctx is the VM. */
extern const struct memhp_ops vm_dimm_memhp_ops;

/* Sets up the hand-over to the main loop (before the controller can call). */
int vm_dimms_init(struct vm *vm, struct error *err);
void vm_dimms_destroy(struct vm *vm);

/* control.h's DIMM ops; ctx is the VM. */
int vm_dimm_memdev_add(void *ctx, const char *type, const char *id, uint64_t size,
		       struct error *err);
int vm_dimm_memdev_del(void *ctx, const char *id, struct error *err);
int vm_dimm_add(void *ctx, const char *id, const char *memdev, uint64_t addr, uint32_t slot,
		struct error *err);
int vm_dimm_del(void *ctx, const char *id, struct error *err);
void vm_dimm_list(void *ctx, struct control_dimms *out);

#endif
