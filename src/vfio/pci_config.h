/* SPDX-License-Identifier: MIT */
/*
 * The configuration space a guest sees for an assigned PCI function. Pure: the real
 * device is reached only through struct vfio_pci_dev_ops (pread/pwrite on the vfio
 * device's config region in the monitor, a byte array in tests and fuzzing).
 *
 * Per register:
 *   - IDs, class, header type, subsystem, interrupt pin: read once at init, read-only.
 *   - Interrupt line: a scratch byte the guest may write, as on real hardware; after a
 *     reset it holds what firmware would have written, the GSI the monitor routes the
 *     function's pin to (vfio_pci_config_set_intx_line), 0 until told.
 *   - COMMAND: memory, I/O, bus master, parity, SERR and INTx-disable are writable and
 *     written through to the device; the rest reads zero.
 *   - STATUS: read from the device; its write-1-to-clear error bits are passed through.
 *   - BARs: virtual. Sizing works from the region sizes vfio reports; the guest's
 *     addresses never reach the device. 64-bit and I/O BARs included.
 *   - Expansion ROM: hidden (reads zero, writes are dropped).
 *   - MSI and MSI-X capabilities: emulated here and never written to the device; the
 *     monitor programs the device's vectors itself (VFIO_DEVICE_SET_IRQS) when told.
 *   - Every other byte of [0x40, 0x100): read from the device; writes pass through,
 *     except to capability IDs and next pointers (the list's shape is fixed). vfio-pci
 *     applies its own per-capability write permissions behind this mask.
 *   - The extended space [0x100, size): read from the device; writes are dropped.
 *
 * Changes the monitor must follow are reported through struct vfio_pci_config_listener:
 * a BAR starting or stopping to decode at a guest address (decode bit in COMMAND and an
 * address that fits), MSI and MSI-X state. Listener calls are made with the config lock
 * held: they must not call back into this config space.
 *
 * Handlers accept any offset and size, as a guest may produce them, and serialise
 * themselves: vCPU threads call them concurrently.
 */
#ifndef SLABVM_VFIO_PCI_CONFIG_H
#define SLABVM_VFIO_PCI_CONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "devices/device.h"

#define VFIO_PCI_NUM_BARS 6
#define VFIO_PCI_CFG_SIZE 256	   /* the standard space, shadowed here */
#define VFIO_PCI_CFG_EXP_SIZE 4096 /* with the PCI Express extended space */

/* The real device's config space: 0 or a negative errno. */
struct vfio_pci_dev_ops {
	int (*read)(void *ctx, unsigned int offset, void *buf, unsigned int len);
	int (*write)(void *ctx, unsigned int offset, const void *buf, unsigned int len);
};

/* MSI as the guest programmed it; only meaningful while enabled. */
struct vfio_pci_msi {
	bool enabled;
	unsigned int nvec; /* vectors enabled: 1, 2, 4, ... 32 */
	uint64_t addr;
	uint16_t data; /* vector i sends data | i */
	uint32_t mask; /* per-vector mask bits, if the device has them */
};

struct vfio_pci_config_listener {
	void (*bar_changed)(void *ctx, unsigned int bar, bool mapped, uint64_t addr, uint64_t size);
	void (*msi_changed)(void *ctx, const struct vfio_pci_msi *msi);
	void (*msix_changed)(void *ctx, bool enabled, bool masked);
	void *ctx;
};

enum vfio_pci_bar_type {
	VFIO_PCI_BAR_UNUSED,
	VFIO_PCI_BAR_IO,
	VFIO_PCI_BAR_MEM32,
	VFIO_PCI_BAR_MEM64,
	VFIO_PCI_BAR_UPPER, /* the upper half of the 64-bit BAR before it */
};

/* Fields are private; the monitor and tests only read them. */
struct vfio_pci_bar {
	enum vfio_pci_bar_type type;
	uint64_t size;
	bool prefetchable;
	bool mapped; /* reported as decoding at addr */
	uint64_t addr;
};

struct vfio_pci_config {
	pthread_mutex_t lock;
	char name[16];
	const struct vfio_pci_dev_ops *ops;
	void *ctx;
	struct vfio_pci_config_listener listener;
	unsigned int size;		   /* 256, or 4096 with the extended space */
	uint8_t shadow[VFIO_PCI_CFG_SIZE]; /* values of the virtual bytes */
	uint8_t virt[VFIO_PCI_CFG_SIZE];   /* 1: the byte is virtual (shadow), 0: the device's */
	uint8_t wmask[VFIO_PCI_CFG_SIZE];  /* bits the guest may write */
	uint8_t w1c[VFIO_PCI_CFG_SIZE];	   /* device bits the guest clears by writing 1 */
	struct vfio_pci_bar bar[VFIO_PCI_NUM_BARS];
	/* MSI: capability offset (0: none), layout, and what the listener was last told. */
	unsigned int msi_cap;
	bool msi_64, msi_maskable;
	unsigned int msi_max; /* vectors the device supports */
	struct vfio_pci_msi msi;
	/* MSI-X: capability offset (0: none) and where its table and PBA live. */
	unsigned int msix_cap;
	unsigned int msix_nvec;
	unsigned int msix_table_bar, msix_pba_bar;
	uint32_t msix_table_offset, msix_pba_offset;
	bool msix_enabled, msix_masked;
	uint8_t intx_line; /* INTERRUPT_LINE after a reset */
};

/*
 * Reads the device's configuration through ops and builds the guest's view. bar_size[i]
 * is vfio's region size for BAR i (0: absent); the BAR register itself gives its type.
 * size is vfio's config region size (256 or 4096). name (the BDF) goes into messages.
 * Refuses a device whose space cannot be read, a bridge, BAR sizes that are not powers of
 * two or do not match their register, a malformed capability list, an MSI-X table or PBA
 * outside its BAR. Ends with vfio_pci_config_reset.
 */
int vfio_pci_config_init(struct vfio_pci_config *c, const char *name,
			 const struct vfio_pci_dev_ops *ops, void *ctx,
			 const uint64_t bar_size[VFIO_PCI_NUM_BARS], unsigned int size,
			 const struct vfio_pci_config_listener *listener, struct error *err);
void vfio_pci_config_destroy(struct vfio_pci_config *c);

/*
 * Back to the state after a function reset: COMMAND 0 (also on the device: no decoding,
 * no bus mastering), BAR addresses 0, INTERRUPT_LINE the intx line, MSI and MSI-X off. The listener
 * hears about every BAR that stops decoding and MSI or MSI-X that goes off.
 */
void vfio_pci_config_reset(struct vfio_pci_config *c);
/* What INTERRUPT_LINE reads after the next reset: the GSI of the function's INTx pin. */
void vfio_pci_config_set_intx_line(struct vfio_pci_config *c, uint8_t line);

/*
 * The guest's accesses: offset < 4096, size 1, 2 or 4 within one dword; anything else
 * reads as all ones and writes nothing.
 */
uint32_t vfio_pci_config_read(struct vfio_pci_config *c, unsigned int offset, unsigned int size);
void vfio_pci_config_write(struct vfio_pci_config *c, unsigned int offset, unsigned int size,
			   uint32_t value);

/* The two above as io_ops (opaque = struct vfio_pci_config), e.g. for pci_cfg_hook(). */
extern const struct io_ops vfio_pci_config_io_ops;

#endif
