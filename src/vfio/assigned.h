/* SPDX-License-Identifier: MIT */
/*
 * An assigned PCI function as a device on the guest's PCI bus: the probed vfio device
 * (device.h) behind the virtual configuration space (pci_config.h), its BARs and its
 * interrupts. KVM-free: memslots and irqfds are reached through struct vfio_assign_hooks,
 * which the monitor implements with KVM and tests with a recorder.
 *
 * BARs. pci.c places them (pci_dev_add_bar with no ops: the whole configuration space is
 * hooked to pci_config.c, which decides when a BAR decodes). When one starts decoding at a
 * guest address, each piece of its layout (region.h) appears there: mmapped pieces as a
 * memslot of the device's own memory (no exits), every other piece as a range on the MMIO
 * or port bus that reads and writes the device fd (pread/pwrite); the MSI-X table and PBA
 * go to msix.h instead. When it stops or moves, all of that goes or follows.
 *
 * Interrupts: one vfio interrupt index at a time, as vfio-pci allows: MSI-X while the guest
 * enables it, else MSI, else INTx when the function has a pin. Each vector has an eventfd
 * that vfio signals; while the vector is live (enabled and unmasked) the hooks bind it to
 * the guest's message (a KVM irqfd: no exit per interrupt); while it is masked it is
 * unbound, its count waits in the eventfd (delivered when bound again) and a PBA read
 * turns it into the pending bit. INTx is an eventfd on the slot's GSI with a resample
 * eventfd through which the guest's EOI unmasks the device.
 *
 * Locking: configuration writes run under pci_config's lock, MSI-X table accesses under
 * msix.h's; hooks are called under either and must not call back in.
 */
#ifndef SLABVM_VFIO_ASSIGNED_H
#define SLABVM_VFIO_ASSIGNED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "devices/bus.h"
#include "devices/pci.h"
#include "vfio/device.h"
#include "vfio/msix.h"
#include "vfio/pci_config.h"
#include "vfio/region.h"

struct vfio_assign_hooks {
	/* A memslot of hva at gpa; *handle identifies it for unmap. */
	int (*map)(void *ctx, uint64_t gpa, void *hva, uint64_t size, unsigned int *handle,
		   struct error *err);
	void (*unmap)(void *ctx, unsigned int handle);
	/* efd injects (addr, data) while routed (see kvm_msi_irqfd); *route is -1 unrouted. */
	int (*msi_route)(void *ctx, int *route, int efd, bool routed, uint64_t addr,
			 uint32_t data, struct error *err);
	/* An MSI sent now (a pending MSI-X vector the guest unmasked). */
	void (*msi_send)(void *ctx, uint64_t addr, uint32_t data);
	/* efd asserts gsi, level-triggered; the guest's EOI signals resample_efd. */
	int (*intx_route)(void *ctx, unsigned int gsi, int efd, int resample_efd, bool assign,
			  struct error *err);
	void *ctx;
};

enum vfio_irq_mode {
	VFIO_IRQ_NONE,
	VFIO_IRQ_INTX,
	VFIO_IRQ_MSI,
	VFIO_IRQ_MSIX,
};

struct vfio_assigned;

/* What a trapped range of a BAR hands to its io_ops. */
struct vfio_trap {
	struct vfio_assigned *a;
	unsigned int bar;
	uint64_t offset; /* of the range inside the BAR */
};

struct vfio_assigned_bar {
	struct vfio_bar_layout layout;
	void *hva[VFIO_BAR_MAX_PIECES];	      /* mmapped pieces, NULL for trapped ones */
	unsigned int slot[VFIO_BAR_MAX_PIECES]; /* their memslot while decoding */
	bool live[VFIO_BAR_MAX_PIECES];	      /* the piece's bus range in place */
	bool slotted[VFIO_BAR_MAX_PIECES];    /* and a memslot of hva over it */
	struct vfio_trap trap[VFIO_BAR_MAX_PIECES];
	char name[32];
	bool mapped;
	uint64_t addr;
};

struct vfio_assigned {
	struct vfio_pci_device *dev;
	struct pci_dev pci; /* what pci.c sees: placement, slot, the hook */
	struct vfio_pci_config cfg;
	struct vfio_assign_hooks hooks;
	struct bus *mmio, *pio;
	char name[16];
	struct vfio_assigned_bar bar[VFIO_PCI_NUM_BARS];
	bool have_msix;
	struct vfio_msix msix;
	/* Interrupts: the index in use and one eventfd per vector of each kind. */
	enum vfio_irq_mode mode;
	unsigned int intx_pin; /* 0: none */
	unsigned int nmsi, nmsix; /* vectors the device offers */
	int *msi_efd, *msi_route;
	int *msix_efd, *msix_route;
	int intx_efd, intx_resample;
	bool intx_routed;
	struct vfio_pci_msi msi; /* as last applied */
	uint64_t irq_errors;	 /* interrupt set-ups that failed (said on stderr) */
	bool no_reset_said;	 /* the device cannot be reset: said once on stderr */
	bool in_use;		 /* reset once in its slot: vfio_assigned_destroy resets it again */
};

/*
 * Builds the guest's function for the probed device dev: configuration space, BAR
 * layouts with their mappings of the device fd, MSI-X emulation and eventfds. Placed in a
 * slot with pci_host_add(&a->pci) afterwards. On failure nothing stays allocated.
 */
int vfio_assigned_init(struct vfio_assigned *a, struct vfio_pci_device *dev, struct bus *mmio,
		       struct bus *pio, const struct vfio_assign_hooks *hooks, struct error *err);
/* The function's power-on state: configuration (no decoding, interrupts off, INTERRUPT_LINE
 * the GSI of its slot's pin once it has a slot), MSI-X table, then the device's own reset. */
void vfio_assigned_reset(struct vfio_assigned *a);
void vfio_assigned_destroy(struct vfio_assigned *a);

#endif
