/* SPDX-License-Identifier: MIT */
/*
 * The MSI-X table and pending bit array of an assigned function, emulated: the guest's
 * table never reaches the device, whose vectors the monitor programs itself. Pure, like
 * pci_config.h: the monitor traps the table's and PBA's ranges of the BAR and calls the
 * accessors here; pci_config's msix_changed goes to vfio_msix_control.
 *
 * A vector is live while MSI-X is enabled, the function is not masked and the vector's
 * mask bit is clear. The listener hears each vector go live with its message (the monitor
 * then binds the device's eventfd to a KVM irqfd routed there, so interrupts never exit to
 * userspace) and go quiet (the monitor then reads the eventfd itself and calls
 * vfio_msix_notify, which sets the pending bit). A vector that goes live while pending is
 * delivered once through the listener and its pending bit cleared, as the spec requires.
 * A live vector whose message the guest rewrites is reported live again with the new one.
 *
 * Listener calls are made with the table lock held; they must not call back in.
 */
#ifndef SLABVM_VFIO_MSIX_H
#define SLABVM_VFIO_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define VFIO_MSIX_MAX_VECTORS 2048
#define VFIO_MSIX_ENTRY_SIZE 16

struct vfio_msix_listener {
	void (*vector_changed)(void *ctx, unsigned int vector, bool live, uint64_t addr,
			       uint32_t data);
	void (*deliver)(void *ctx, unsigned int vector, uint64_t addr, uint32_t data);
	void *ctx;
};

/* Fields are private; tests only read them. */
struct vfio_msix {
	pthread_mutex_t lock;
	unsigned int nvec;
	uint8_t *table;	   /* nvec entries as the guest sees them */
	uint64_t *pending; /* the PBA */
	bool enabled, masked;
	struct vfio_msix_listener listener;
	/* What the listener was told last, per vector. */
	bool *live;
	uint64_t *addr;
	uint32_t *data;
};

/* nvec 1..2048 vectors, all masked, nothing pending. */
int vfio_msix_init(struct vfio_msix *m, unsigned int nvec, const struct vfio_msix_listener *l,
		   struct error *err);
void vfio_msix_destroy(struct vfio_msix *m);

/*
 * The guest's accesses, offsets relative to the table's and the PBA's start: any offset and
 * size from 1 to 8. Outside the table or PBA, and the upper half of an 8-byte access that
 * leaves them, read as zero; PBA writes are dropped.
 */
uint64_t vfio_msix_table_read(struct vfio_msix *m, uint64_t offset, unsigned int size);
void vfio_msix_table_write(struct vfio_msix *m, uint64_t offset, unsigned int size, uint64_t value);
uint64_t vfio_msix_pba_read(struct vfio_msix *m, uint64_t offset, unsigned int size);

/* MSI-X enable and function mask, as the config space's control register says. */
void vfio_msix_control(struct vfio_msix *m, bool enabled, bool masked);
/* The device signalled a vector the monitor is watching: delivered if live, else pending. */
void vfio_msix_notify(struct vfio_msix *m, unsigned int vector);
/* After a function reset: every vector masked, its message zero, nothing pending, off. */
void vfio_msix_reset(struct vfio_msix *m);

#endif
