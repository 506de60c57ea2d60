/* SPDX-License-Identifier: MIT */
/*
 * What the hostile guests (firmware/hostile_*.c) share: PCI configuration through mechanism
 * #1 and ECAM, a polling virtio-pci driver that knows slabvm's BAR 4 layout
 * (src/devices/virtio_pci.h) and lets the caller write any descriptor it likes, and the
 * verdict protocol that tests/guest/test_hostile.py reads:
 *
 *   "hostile: ok NAME"               a check passed
 *   "hostile: FAIL NAME: why"        a check failed (the guest goes on)
 *   "hostile: sync NAME"             the guest waits for a byte on COM1 (the test looks at
 *                                    slabvm from outside meanwhile)
 *   "hostile: verdict pass N" or "hostile: verdict FAIL F of N", then the guest halts with
 *   interrupts off, so only a signal ends slabvm.
 *
 * A check that something does NOT happen (a buffer not returned, a status bit not set) polls
 * for a bounded number of iterations: on a slow host it may miss a bug, never invent one.
 */
#ifndef SLABVM_HOSTILE_H
#define SLABVM_HOSTILE_H

#include "fwlib.h"

#define HV_PCI_ID_RNG 0x10441af4u	  /* device << 16 | vendor */
#define HV_PCI_ID_BALLOON 0x10451af4u

/* Configuration space (PCI 3.0). */
#define HV_PCI_COMMAND 0x04
#define HV_PCI_COMMAND_MEMORY 0x2
#define HV_PCI_BAR1 0x14
#define HV_PCI_BAR4 0x20
#define HV_PCI_CAP_PTR 0x34
#define HV_PCI_CAP_ID_MSIX 0x11
#define HV_ECAM_BASE 0xe0000000ULL /* src/x86/platform.h */

/* slabvm's virtio-pci BAR 4 (src/devices/virtio_pci.h). */
#define HV_BAR4_SIZE 0x4000ULL
#define HV_COMMON 0x0000
#define HV_DEVCFG 0x2000
#define HV_NOTIFY 0x3000 /* queue q at + 4 * q */

/* Common configuration (virtio 1.2, 4.1.4.3). */
#define HV_CC_DFSELECT 0x00
#define HV_CC_DF 0x04
#define HV_CC_GFSELECT 0x08
#define HV_CC_GF 0x0c
#define HV_CC_MSIX 0x10
#define HV_CC_STATUS 0x14
#define HV_CC_Q_SELECT 0x16
#define HV_CC_Q_SIZE 0x18
#define HV_CC_Q_MSIX 0x1a
#define HV_CC_Q_ENABLE 0x1c
#define HV_CC_Q_DESC 0x20
#define HV_CC_Q_AVAIL 0x28
#define HV_CC_Q_USED 0x30

#define HV_S_ACKNOWLEDGE 0x01
#define HV_S_DRIVER 0x02
#define HV_S_DRIVER_OK 0x04
#define HV_S_FEATURES_OK 0x08
#define HV_S_NEEDS_RESET 0x40

#define HV_F_INDIRECT (1ULL << 28)
#define HV_F_VERSION_1 (1ULL << 32)

#define HV_D_NEXT 1
#define HV_D_WRITE 2
#define HV_D_INDIRECT 4

#define HV_PAGE 4096ULL
#define HV_POLL 2000000u /* iterations a positive wait allows: generous */
#define HV_QUIET 200000u /* iterations a negative check waits */

#define MMIO8(a) (*(volatile uint8_t *)(uintptr_t)(a))
#define MMIO16(a) (*(volatile uint16_t *)(uintptr_t)(a))
#define MMIO32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define MMIO64(a) (*(volatile uint64_t *)(uintptr_t)(a))

static inline void hv_barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static inline void hv_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* Configuration mechanism #1: any bus, slot, function and byte offset, sizes 1, 2, 4. */
uint32_t hv_conf1_read(unsigned int bus, unsigned int slot, unsigned int fn, unsigned int off,
		       unsigned int size);
void hv_conf1_write(unsigned int bus, unsigned int slot, unsigned int fn, unsigned int off,
		    unsigned int size, uint32_t v);
static inline uint32_t hv_cfg_read32(unsigned int slot, unsigned int off)
{
	return hv_conf1_read(0, slot, 0, off, 4);
}
static inline void hv_cfg_write32(unsigned int slot, unsigned int off, uint32_t v)
{
	hv_conf1_write(0, slot, 0, off, 4, v);
}
/* The ECAM address of a function's register. */
static inline uint64_t hv_ecam(unsigned int bus, unsigned int slot, unsigned int fn,
			       unsigned int off)
{
	return HV_ECAM_BASE + ((uint64_t)bus << 20) + ((uint64_t)slot << 15) +
	       ((uint64_t)fn << 12) + off;
}

/* A virtio-pci function this guest drives. */
struct hv_dev {
	const char *name;
	unsigned int slot;
	uint64_t bar4; /* where BAR 4 decodes */
	uint64_t home; /* where slabvm had put it */
};

/* A split virtqueue laid out from base: descriptors, avail at +0x1000, used at +0x2000. */
struct hv_vq {
	unsigned int index;
	uint16_t size;
	uint64_t base;
	volatile uint64_t *desc; /* two words per descriptor */
	volatile uint16_t *avail;
	volatile uint16_t *used;
	uint16_t next_avail;
	uint16_t last_used;
};

/* The slot of the function with id (device << 16 | vendor) on bus 0, or -1. */
int hv_find(uint32_t id);
/* Finds the device and places its BAR 4 at bar4 (32-bit window), memory decoding on. */
int hv_open(struct hv_dev *d, const char *name, uint32_t id, uint64_t bar4);
/* Moves BAR 4: decoding off, both halves written, decoding on. */
void hv_move_bar4(struct hv_dev *d, uint64_t to);
void hv_set_decode(struct hv_dev *d, int on);

static inline uint64_t hv_cc(const struct hv_dev *d, unsigned int off)
{
	return d->bar4 + HV_COMMON + off;
}
static inline uint8_t hv_status(const struct hv_dev *d)
{
	return MMIO8(hv_cc(d, HV_CC_STATUS));
}

/*
 * Reset, ACKNOWLEDGE, DRIVER, the features wanted (ANDed with those offered) and
 * FEATURES_OK. Returns the features accepted, or 0 if the device refused.
 */
uint64_t hv_negotiate(struct hv_dev *d, uint64_t want);
/* Sets up queue index of size entries at base (zeroed) and enables it; 0 or -1. */
int hv_queue(struct hv_dev *d, struct hv_vq *q, unsigned int index, uint16_t size,
	     uint64_t base);
/* DRIVER_OK; 0 if the device took it and does not need a reset. */
int hv_driver_ok(struct hv_dev *d);
/* Resets the device (status 0); 0 if the status reads back 0. */
int hv_reset(struct hv_dev *d);

/* Descriptor i of q, or of a table at gpa. */
void hv_desc(volatile uint64_t *table, unsigned int i, uint64_t addr, uint32_t len,
	     uint16_t flags, uint16_t next);
static inline volatile uint64_t *hv_table(uint64_t gpa)
{
	return (volatile uint64_t *)(uintptr_t)gpa;
}
/* Makes the chain at head available (no notify). */
void hv_avail(struct hv_vq *q, uint16_t head);
/* Notifies queue q at BAR 4 address bar (which need not be where BAR 4 is). */
static inline void hv_kick_at(uint64_t bar, const struct hv_vq *q)
{
	MMIO16(bar + HV_NOTIFY + 4 * q->index) = (uint16_t)q->index;
}
static inline void hv_kick(const struct hv_dev *d, const struct hv_vq *q)
{
	hv_kick_at(d->bar4, q);
}
/* used->idx as the device last published it. */
static inline uint16_t hv_used_idx(const struct hv_vq *q)
{
	hv_barrier();
	return q->used[1];
}
/* Waits up to polls iterations for n more used entries; 1 if they came, 0 if not. */
int hv_wait_used(struct hv_vq *q, uint16_t n, uint32_t polls);
/* Takes the next used entry: its id, and its length in *len. */
uint32_t hv_take_used(struct hv_vq *q, uint32_t *len);
/* Waits up to polls iterations for every bit of mask in the device status. */
int hv_wait_status(const struct hv_dev *d, uint8_t mask, uint32_t polls);

/* Posts one chain (already in the table) and waits for it: 1 if it came back. */
int hv_roundtrip(struct hv_dev *d, struct hv_vq *q, uint16_t head);
/* A balloon driver's inflate or deflate: the pages [first, first + n) on queue q, in
 * buffers of at most max PFNs written at pfns (guest memory), each a one-descriptor chain
 * waited for up to waits times HV_POLL. 0 when every buffer came back, -1 otherwise. */
int hv_balloon_send(struct hv_dev *d, struct hv_vq *q, uint64_t pfns, uint32_t max,
		    uint64_t first, uint64_t n, unsigned int waits);

/* The verdict protocol (above). */
__attribute__((format(printf, 2, 3))) int hv_check(int ok, const char *fmt, ...);
void hv_sync(const char *name);
__attribute__((noreturn)) void hv_finish(void);

/* xorshift64*: the sequence of a run is fixed by its seed (seed=N on the command line). */
void hv_seed(const struct bootinfo *bi, uint64_t dflt);
uint64_t hv_rand(void);

/* The end of the highest plugged RAM region. */
uint64_t hv_ram_end(const struct bootinfo *bi);

#endif
