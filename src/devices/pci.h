/* SPDX-License-Identifier: MIT */
/*
 * PCI bus 0 behind a host bridge, reached through configuration mechanism #1 (ports
 * 0xCF8/0xCFC) and ECAM, and the base every PCI device model embeds: a 256-byte
 * configuration space whose read-only and write-1-to-clear bits are enforced per byte,
 * BARs that appear on and vanish from the MMIO and port I/O buses as the guest moves them
 * and flips the COMMAND decode bits, a capability list, INTx, and MSI-X.
 *
 * The integrator calls pci_host_init(), embeds a struct pci_dev in each device model
 * (pci_dev_init(), pci_dev_add_bar(), capabilities, pci_msix_init()), puts it in a slot with
 * pci_host_add(), then places every BAR once with pci_host_assign_bars() before the guest
 * runs, as firmware would. Linux keeps those addresses, and may move BARs later: both work.
 *
 * Devices are conventional PCI (no PCI Express capability): ECAM offsets 0x100..0xfff of a
 * present function read as zero, unless its configuration hook covers them (an assigned
 * PCIe function). Functions other than 0 and buses other than 0 are absent and read as all
 * ones. Slots are filled before the guest runs and never change.
 *
 * BARs are registered on and removed from the buses from inside configuration writes, that
 * is from inside another bus handler: the bus must not hold its lock across a handler.
 *
 * Locking and callback context: each pci_dev has a lock that covers its configuration space,
 * BAR mappings and MSI-X state, taken by the configuration and MSI-X table handlers and by
 * pci_intx_set() and pci_msix_notify(). Held under it: bus_register()/bus_unregister(),
 * irq_ops->set_level, msi_ops->send and the BAR listener, which therefore must not call back
 * into this device. A configuration hook (pci_cfg_hook()) is called without it, so a device
 * model may take its own lock there and call back into pci.c.
 */
#ifndef SLABVM_PCI_H
#define SLABVM_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/device.h"
#include "base/error.h"
#include "devices/irq.h"

#define PCI_SLOTS 32
#define PCI_CONF1_WINDOW 8 /* ports 0xCF8..0xCFF */
#define PCI_CAP_FIRST 0x40 /* the capability list starts after the standard header */

/* I/O BARs are placed here; x86 legacy devices all live below 0x1000. */
#define PCI_IO_WINDOW_BASE 0x1000ULL
#define PCI_IO_WINDOW_SIZE 0xf000ULL

/* The host bridge in slot 0: QEMU's generic host bridge ID, for which no OS has quirks. */
#define PCI_HOST_VENDOR 0x1b36
#define PCI_HOST_DEVICE 0x0008

/* How MSI messages leave the machine: the monitor sends them through KVM, tests record. */
struct msi_ops {
	void (*send)(void *ctx, uint64_t addr, uint32_t data);
};

struct pci_dev;

/*
 * Told each time a BAR starts or stops decoding at an address, e.g. to move KVM ioeventfds
 * or the memslot of a passed-through BAR along with it. Called with the device's lock held.
 */
struct pci_bar_listener {
	void (*bar_changed)(void *ctx, struct pci_dev *d, unsigned int bar, bool mapped,
			    uint64_t addr, uint64_t size);
	void *ctx;
};

enum pci_bar_type {
	PCI_BAR_UNUSED,
	PCI_BAR_IO,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64, /* takes the next BAR register too, for the upper address half */
};

/* Fields are private to pci.c; tests only read them. */
struct pci_bar {
	enum pci_bar_type type;
	uint64_t size; /* a power of two */
	const struct io_ops *ops;
	void *opaque;
	char name[40];
	bool mapped; /* registered on its bus at addr */
	uint64_t addr;
};

struct pci_msix {
	unsigned int nvec; /* 0: no MSI-X */
	unsigned int cap;  /* configuration offset of the capability */
	unsigned int bar;
	uint32_t pba_offset; /* the table is at offset 0 of the BAR, the PBA right after it */
	uint8_t *table;	     /* nvec entries of PCI_MSIX_ENTRY_SIZE bytes, as the guest sees them */
	uint64_t *pending;   /* the PBA */
};

struct pci_cfg_hook {
	unsigned int offset; /* dword aligned */
	unsigned int len;    /* a multiple of 4; 0 for no hook */
	const struct io_ops *ops;
	void *opaque;
};

struct pci_host;

struct pci_dev {
	pthread_mutex_t lock;
	const char *name;
	struct pci_host *host; /* set by pci_host_add() */
	unsigned int slot;
	uint8_t cfg[PCI_CFG_SPACE_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_SIZE]; /* bits the guest may write */
	uint8_t w1c[PCI_CFG_SPACE_SIZE];   /* bits the guest clears by writing 1 */
	unsigned int cap_free;		   /* where the next capability goes */
	unsigned int cap_last;		   /* the last capability in the list, 0 for none */
	struct pci_bar bar[PCI_STD_NUM_BARS];
	struct pci_msix msix;
	struct pci_cfg_hook hook;
	bool intx_level; /* the device's INTx request */
	bool intx_out;	 /* what this device contributes to its line after masking */
};

/* The identity of a function, as its configuration header shows it. */
struct pci_dev_id {
	uint16_t vendor;
	uint16_t device;
	uint16_t subsys_vendor;
	uint16_t subsys;
	uint32_t class_code; /* base class << 16 | subclass << 8 | programming interface */
	uint8_t revision;
	bool intx; /* uses INTA */
};

struct pci_host_config {
	struct bus *mmio; /* ECAM and memory BARs */
	struct bus *pio;  /* configuration ports and I/O BARs */
	/* INTA..INTD of all slots share GSIs PLATFORM_PCI_INTX_GSI_BASE + 0..3. */
	const struct irq_ops *irq_ops;
	void *irq_ctx;
	const struct msi_ops *msi_ops;
	void *msi_ctx;
	/* The 64-bit window (platform.h: above RAM, 1 GiB aligned); size 0 for none. */
	uint64_t mmio64_base;
	uint64_t mmio64_size;
	struct pci_bar_listener listener; /* optional */
	/*
	 * Port 0xCF9 sits inside the configuration address register. As on PIIX/ICH chipsets,
	 * only 4-byte accesses at 0xCF8 reach that register; byte accesses at 0xCF9 go to these
	 * ops (offset 0) when given: the reset control register.
	 */
	const struct io_ops *reset_ops;
	void *reset_opaque;
};

struct pci_host {
	struct pci_host_config cfg;
	pthread_mutex_t lock;	/* config_addr and the INTx lines */
	uint32_t config_addr;	/* 0xCF8 */
	uint32_t intx_slots[4]; /* per INTx GSI, the slots asserting it */
	struct pci_dev bridge;	/* slot 0 */
	struct pci_dev *slot[PCI_SLOTS];
	uint64_t mmio64_end; /* where pci_host_assign_bars' 64-bit BARs end (mmio64_base: none) */
};

/*
 * Sets up the bridge and registers ECAM on cfg->mmio and ports 0xCF8..0xCFF on cfg->pio.
 * cfg is copied. Undo with pci_host_destroy(), which also takes every BAR off its bus.
 */
int pci_host_init(struct pci_host *h, const struct pci_host_config *cfg, struct error *err);
void pci_host_destroy(struct pci_host *h);
/* Slot 1..31; d was set up with pci_dev_init() and its BARs. Before the guest runs only. */
int pci_host_add(struct pci_host *h, unsigned int slot, struct pci_dev *d, struct error *err);
/*
 * Gives every BAR of every device an address and turns its decoding on, as firmware does:
 * I/O BARs in the I/O window, 32-bit ones in [PLATFORM_PCI32_BASE, +SIZE), 64-bit ones in
 * the 64-bit window (or the 32-bit one without it), each naturally aligned, from the
 * window's base up (h->mmio64_end: the end of the last). Fails without changing anything
 * when a window is too small.
 */
int pci_host_assign_bars(struct pci_host *h, struct error *err);

/* opaque = struct pci_host. conf1: the 8 ports at PLATFORM_PCI_CONFIG_ADDR; ECAM: its window. */
extern const struct io_ops pci_conf1_io_ops;
extern const struct io_ops pci_ecam_io_ops;

/* A fresh function: header from id, all BARs unused, no capabilities, COMMAND 0. */
void pci_dev_init(struct pci_dev *d, const char *name, const struct pci_dev_id *id);
void pci_dev_destroy(struct pci_dev *d);
/*
 * BAR index of the given type and size (a power of two; memory >= 16 bytes, I/O 4..256
 * bytes), decoded by ops with offsets inside the BAR. A 64-bit BAR also uses index + 1.
 * ops NULL: a function whose configuration header is hooked (an assigned one) decodes the
 * BAR itself; pci.c only places it (pci_host_assign_bars writes the address and COMMAND
 * through the hook, as firmware's configuration writes would go).
 */
int pci_dev_add_bar(struct pci_dev *d, unsigned int index, enum pci_bar_type type, uint64_t size,
		    const struct io_ops *ops, void *opaque, struct error *err);
/* Where BAR index decodes now; false while it does not. */
bool pci_bar_address(struct pci_dev *d, unsigned int index, uint64_t *addr);

/* A BAR as the guest programmed it: decoding at addr, or not decoding at all. */
struct pci_bar_info {
	enum pci_bar_type type; /* PCI_BAR_UNUSED also for the upper half of a 64-bit BAR */
	uint64_t size;
	bool prefetch;
	bool decoding; /* COMMAND enables its space and its registers hold a usable address */
	uint64_t addr;
};

/* A function as the guest sees it now, for query-pci. */
struct pci_dev_info {
	unsigned int slot;
	uint16_t vendor, device, subsys_vendor, subsys;
	uint32_t class_code; /* base class << 16 | subclass << 8 | programming interface */
	uint8_t irq_pin;     /* 0: no INTx */
	uint8_t irq_line;
	struct pci_bar_info bar[PCI_STD_NUM_BARS];
};

/*
 * Reads d's header as a guest's configuration reads would (through the hook of an assigned
 * function, whose BARs only it knows), so the answer is what the guest programmed.
 * Not under d's lock: call it from outside the device's handlers.
 */
void pci_dev_info(struct pci_dev *d, struct pci_dev_info *out);

/*
 * The device model's side of its configuration space (offset + size <= PCI_CFG_SPACE_SIZE):
 * values and masks that bypass the guest's rules. Changing a BAR or COMMAND this way
 * updates the bus mappings as a guest write would.
 */
uint32_t pci_cfg_get(struct pci_dev *d, unsigned int offset, unsigned int size);
void pci_cfg_set(struct pci_dev *d, unsigned int offset, unsigned int size, uint32_t value);
void pci_cfg_set_wmask(struct pci_dev *d, unsigned int offset, unsigned int size, uint32_t mask);
/*
 * Appends a capability of len bytes (>= 2) to the list. Returns its configuration offset,
 * with the ID and next pointer filled in and everything else zero and read-only.
 */
int pci_cap_add(struct pci_dev *d, uint8_t id, unsigned int len, struct error *err);
/*
 * Guest accesses inside [offset, offset + len) go to ops instead (offset relative to the
 * hook), without the device lock held: for registers whose access has side effects. The
 * range may reach into the extended space, up to PCI_CFG_SPACE_EXP_SIZE (ECAM only).
 */
void pci_cfg_hook(struct pci_dev *d, unsigned int offset, unsigned int len,
		  const struct io_ops *ops, void *opaque);

/* The GSI that INTx pin (1..4 for INTA..INTD) of a function in slot reaches, as in _PRT. */
unsigned int pci_intx_gsi(unsigned int slot, unsigned int pin);

/* The device's INTA request; reaches the line unless INTx is disabled or MSI-X is on. */
void pci_intx_set(struct pci_dev *d, bool level);

/*
 * MSI-X with nvec (1..2048) vectors, its table and PBA alone in a 32-bit memory BAR at
 * index bar, which pci.c decodes itself. All vectors start masked.
 */
int pci_msix_init(struct pci_dev *d, unsigned int bar, unsigned int nvec, struct error *err);
bool pci_msix_enabled(struct pci_dev *d);
/*
 * Signals vector: sent at once, or held in the PBA while the vector or the function is
 * masked and sent when unmasked. Ignored while MSI-X is disabled or for a vector >= nvec.
 */
void pci_msix_notify(struct pci_dev *d, unsigned int vector);
/* Forgets held messages: the device was reset, its interrupt conditions are gone. */
void pci_msix_clear_pending(struct pci_dev *d);

#endif
