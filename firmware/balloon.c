// SPDX-License-Identifier: MIT
/*
 * A minimal virtio-balloon driver (virtio 1.2, 4.1 and 5.5) over the modern virtio-pci
 * transport, driven by polling: no interrupts, no MSI-X vectors. It finds the device
 * (1af4:1045) through configuration mechanism #1, locates its structures through the vendor
 * capabilities, negotiates VERSION_1 (and MUST_TELL_HOST if offered), and sets up the
 * inflate and deflate queues in guest RAM at RING_BASE (the image lives in the firmware
 * area, outside RAM). BAR 4 is used where slabvm put it if the page tables map it; if not,
 * or if the command line says bar4=ADDR, the guest moves it into the 32-bit window first.
 *
 * Then, with G the granule size (the PFN set does not depend on it):
 *  1. inflate, in one buffer: every page of [INFL_BASE, INFL_BASE + 2 MiB), the first
 *     INFL_EXTRA pages at INFL_BASE + 2 MiB, and three invalid PFNs (past the end of RAM, in
 *     the PCI hole, and a repeat of one sent earlier in the same buffer); 'actual' becomes
 *     the number of pages the driver believes it holds. Prints "balloon: inflated ..." and
 *     waits for a byte on COM1.
 *  2. deflate, in one buffer: the first DEFL_FULL pages at INFL_BASE, the INFL_EXTRA pages
 *     at INFL_BASE + 2 MiB and one never-inflated page (invalid); checks that the deflated
 *     pages read as zero (their backing was released, and the marker written before
 *     inflating is gone). Prints "balloon: deflated ..." and waits for 'q', then exits 0.
 * num_pages (the host's target) is printed at the start and after the first byte. Every
 * failure exits non-zero with a message.
 *
 * With stats=1 on the command line it also negotiates the statistics queue, sends a stats
 * buffer (free memory STATS_FREE_1, total STATS_TOTAL) before inflating, and after step 1
 * waits, however long it takes, for the host to return it (the host asks on a timer), then
 * sends it again with free memory STATS_FREE_2 and prints "balloon: stats sent again".
 */
#include "fwlib.h"

/* PCI configuration mechanism #1 (src/x86/platform.h). */
#define PCI_CONFIG_ADDR 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_ID_BALLOON 0x10451af4u /* device << 16 | vendor */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_VNDR 0x09

/* virtio_pci_cap (virtio 1.2, 4.1.4). */
#define VIRTIO_CAP_CFG_TYPE 3
#define VIRTIO_CAP_BAR 4
#define VIRTIO_CAP_OFFSET 8
#define VIRTIO_CAP_NOTIFY_MULT 16
#define VIRTIO_CAP_COMMON 1
#define VIRTIO_CAP_NOTIFY 2
#define VIRTIO_CAP_DEVICE 4

/* Common configuration (virtio 1.2, 4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_NUMQ 0x12
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_AVAIL 0x28
#define CC_Q_USED 0x30

#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 0x40
#define STATUS_FAILED 0x80

#define F_MUST_TELL_HOST (1ULL << 0)
#define F_STATS_VQ (1ULL << 1)
#define F_VERSION_1 (1ULL << 32)

/* Balloon configuration (virtio 1.2, 5.5.4). */
#define BCFG_NUM_PAGES 0
#define BCFG_ACTUAL 4

/* Where BAR 4 goes if the page tables do not cover where slabvm put it, or bar4=ADDR on the
 * command line: the top of the 32-bit window, far from the BARs slabvm allocates upwards
 * from its base. */
#define BAR_FALLBACK 0xdfff0000ULL

#define PAGE 4096ULL
#define QSIZE 8
#define RING_BASE 0x100000ULL /* 1 MiB: guest RAM in granule 0, never inflated */
#define INFL_ARRAY (RING_BASE + 0x2000)
#define DEFL_ARRAY (RING_BASE + 0x3000)
#define STATS_RING (RING_BASE + 0x4000)
#define STATS_BUF (RING_BASE + 0x5000)
#define INFL_BASE 0x800000ULL /* 8 MiB: one 2 MiB-aligned block, then INFL_EXTRA pages */
#define INFL_FULL 512
#define INFL_EXTRA 3
#define DEFL_FULL 2
#define NEVER_INFLATED (INFL_BASE + 0x400000ULL) /* 12 MiB */
#define MARKER 0x5a5a5a5a5a5a5a5aULL
#define POLL_MAX 4000000u

/* Statistics (virtio 1.2, 5.5.6.3): packed entries of le16 tag, le64 value. */
#define STAT_ENTRY 10
#define S_MEMFREE 4
#define S_MEMTOT 5
#define STATS_FREE_1 0x1111000ULL
#define STATS_FREE_2 0x2222000ULL
#define STATS_TOTAL 0x4000000ULL

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq {
	unsigned int index;
	volatile struct vring_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[QSIZE], used_event */
	volatile uint16_t *used;  /* flags, idx, then {le32 id, le32 len}[QSIZE] */
	uint64_t notify;
	uint16_t next_avail;
	uint16_t last_used;
};

/* Where the device's structures are, once map_device found them. */
struct dev {
	uint64_t bar4, common, device, notify_base;
	uint32_t notify_mult;
};

static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static uint32_t cfg_read32(unsigned int slot, unsigned int off)
{
	outl(PCI_CONFIG_ADDR, 0x80000000u | slot << 11 | (off & 0xfc));
	return inl(PCI_CONFIG_DATA);
}

static void cfg_write32(unsigned int slot, unsigned int off, uint32_t v)
{
	outl(PCI_CONFIG_ADDR, 0x80000000u | slot << 11 | (off & 0xfc));
	outl(PCI_CONFIG_DATA, v);
}

static uint8_t cfg_read8(unsigned int slot, unsigned int off)
{
	return cfg_read32(slot, off) >> (8 * (off & 3));
}

static uint8_t mmio_read8(uint64_t a)
{
	return *(volatile uint8_t *)(uintptr_t)a;
}

static uint16_t mmio_read16(uint64_t a)
{
	return *(volatile uint16_t *)(uintptr_t)a;
}

static uint32_t mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)(uintptr_t)a;
}

static void mmio_write8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)(uintptr_t)a = v;
}

static void mmio_write16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)(uintptr_t)a = v;
}

static void mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)a = v;
}

/* 64-bit common configuration fields as the two halves drivers write. */
static void mmio_write64(uint64_t a, uint64_t v)
{
	mmio_write32(a, (uint32_t)v);
	mmio_write32(a + 4, (uint32_t)(v >> 32));
}

/* Whether the identity map the monitor built covers gpa (4-level paging). */
static int mapped(uint64_t gpa)
{
	uint64_t cr3, e;
	const uint64_t mask = 0x000ffffffffff000ULL;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	e = ((volatile uint64_t *)(uintptr_t)(cr3 & mask))[(gpa >> 39) & 511];
	if (!(e & 1))
		return 0;
	e = ((volatile uint64_t *)(uintptr_t)(e & mask))[(gpa >> 30) & 511];
	if (!(e & 1))
		return 0;
	if (e & 0x80)
		return 1;
	e = ((volatile uint64_t *)(uintptr_t)(e & mask))[(gpa >> 21) & 511];
	if (!(e & 1))
		return 0;
	if (e & 0x80)
		return 1;
	e = ((volatile uint64_t *)(uintptr_t)(e & mask))[(gpa >> 12) & 511];
	return e & 1;
}

static int find_device(void)
{
	for (unsigned int slot = 0; slot < 32; slot++)
		if (cfg_read32(slot, 0) == PCI_ID_BALLOON)
			return (int)slot;
	return -1;
}

/* Sets bar4, common, device, notify_base and notify_mult from the vendor capabilities. */
static int map_device(struct dev *d, unsigned int slot, const char *cmdline)
{
	uint32_t lo = cfg_read32(slot, PCI_BAR0 + 16), hi = cfg_read32(slot, PCI_BAR0 + 20);
	unsigned int c, n = 0, found = 0;
	uint64_t to = BAR_FALLBACK;
	int forced = !fw_cmdline_u64(cmdline, "bar4", &to);

	if ((lo & 0x7) != 0x4) {
		fw_printf("balloon: BAR4 is not a 64-bit memory BAR (0x%x)\n", lo);
		return -1;
	}
	d->bar4 = ((uint64_t)hi << 32) | (lo & ~0xfULL);
	fw_printf("balloon: slot %u, BAR4 at 0x%lx\n", slot, (unsigned long)d->bar4);
	if (forced || !d->bar4 || !mapped(d->bar4) || !mapped(d->bar4 + 0x3fff)) {
		uint32_t cmd = cfg_read32(slot, PCI_COMMAND);

		if ((to & 0x3fff) || to < 0xc0000000ULL || to + 0x4000 > 0xe0000000ULL) {
			fw_printf(
				"balloon: bar4=0x%lx is not 16 KiB aligned in the 32-bit window\n",
				(unsigned long)to);
			return -1;
		}
		fw_printf("balloon: moving BAR4 to 0x%lx (%s)\n", (unsigned long)to,
			  forced ? "bar4= on the command line" : "not mapped");
		/* The upper half of the dword is STATUS: write-1-to-clear bits, write zeros. */
		cfg_write32(slot, PCI_COMMAND, cmd & 0xffff & ~PCI_COMMAND_MEMORY);
		cfg_write32(slot, PCI_BAR0 + 16, (uint32_t)to);
		cfg_write32(slot, PCI_BAR0 + 20, (uint32_t)(to >> 32));
		lo = cfg_read32(slot, PCI_BAR0 + 16);
		hi = cfg_read32(slot, PCI_BAR0 + 20);
		d->bar4 = ((uint64_t)hi << 32) | (lo & ~0xfULL);
		if (d->bar4 != to) {
			fw_printf("balloon: BAR4 reads back 0x%lx after the move\n",
				  (unsigned long)d->bar4);
			return -1;
		}
	}
	cfg_write32(slot, PCI_COMMAND,
		    (cfg_read32(slot, PCI_COMMAND) & 0xffff) | PCI_COMMAND_MEMORY);

	if (!((cfg_read32(slot, PCI_COMMAND) >> 16) & PCI_STATUS_CAP_LIST)) {
		fw_puts("balloon: no capability list\n");
		return -1;
	}
	for (c = cfg_read8(slot, PCI_CAP_PTR) & 0xfc; c && n < 48;
	     c = cfg_read8(slot, c + 1) & 0xfc, n++) {
		unsigned int type;
		uint64_t where;

		if (cfg_read8(slot, c) != PCI_CAP_ID_VNDR)
			continue;
		type = cfg_read8(slot, c + VIRTIO_CAP_CFG_TYPE);
		if (cfg_read8(slot, c + VIRTIO_CAP_BAR) != 4 || type > VIRTIO_CAP_DEVICE)
			continue;
		where = d->bar4 + cfg_read32(slot, c + VIRTIO_CAP_OFFSET);
		if (type == VIRTIO_CAP_COMMON) {
			d->common = where;
		} else if (type == VIRTIO_CAP_NOTIFY) {
			d->notify_base = where;
			d->notify_mult = cfg_read32(slot, c + VIRTIO_CAP_NOTIFY_MULT);
		} else if (type == VIRTIO_CAP_DEVICE) {
			d->device = where;
		} else {
			continue;
		}
		found |= 1u << type;
	}
	if (found !=
	    (1u << VIRTIO_CAP_COMMON | 1u << VIRTIO_CAP_NOTIFY | 1u << VIRTIO_CAP_DEVICE)) {
		fw_printf("balloon: virtio capabilities missing (found mask 0x%x)\n", found);
		return -1;
	}
	fw_printf("balloon: common +0x%lx device +0x%lx notify +0x%lx x%u\n",
		  (unsigned long)(d->common - d->bar4), (unsigned long)(d->device - d->bar4),
		  (unsigned long)(d->notify_base - d->bar4), d->notify_mult);
	return 0;
}

static int setup_queue(struct dev *d, struct vq *q, unsigned int index, uint64_t base)
{
	uint16_t max;

	q->index = index;
	q->desc = (volatile struct vring_desc *)(uintptr_t)base;
	q->avail = (volatile uint16_t *)(uintptr_t)(base + 0x100);
	q->used = (volatile uint16_t *)(uintptr_t)(base + 0x200);
	memset((void *)(uintptr_t)base, 0, PAGE);
	q->next_avail = 0;
	q->last_used = 0;

	mmio_write16(d->common + CC_Q_SELECT, index);
	max = mmio_read16(d->common + CC_Q_SIZE);
	if (max < QSIZE) {
		fw_printf("balloon: queue %u holds %u entries, want %u\n", index, max, QSIZE);
		return -1;
	}
	mmio_write16(d->common + CC_Q_SIZE, QSIZE);
	mmio_write64(d->common + CC_Q_DESC, base);
	mmio_write64(d->common + CC_Q_AVAIL, base + 0x100);
	mmio_write64(d->common + CC_Q_USED, base + 0x200);
	q->notify = d->notify_base + (uint64_t)mmio_read16(d->common + CC_Q_NOFF) * d->notify_mult;
	mmio_write16(d->common + CC_Q_ENABLE, 1);
	if (mmio_read16(d->common + CC_Q_ENABLE) != 1) {
		fw_printf("balloon: queue %u did not enable\n", index);
		return -1;
	}
	return 0;
}

/* Queues one device-readable buffer and notifies; returns its descriptor. */
static uint16_t post(struct vq *q, uint64_t addr, uint32_t len)
{
	uint16_t slot = q->next_avail % QSIZE;

	q->desc[slot].addr = addr;
	q->desc[slot].len = len;
	q->desc[slot].flags = 0;
	q->desc[slot].next = 0;
	q->avail[2 + slot] = slot;
	barrier();
	q->avail[1] = ++q->next_avail;
	barrier();
	mmio_write16(q->notify, q->index);
	return slot;
}

/* Takes the next used element, which must be descriptor slot. */
static int take_used(struct vq *q, uint16_t slot)
{
	volatile uint32_t *elem;

	barrier();
	elem = (volatile uint32_t *)(q->used + 2) + 2 * (q->last_used % QSIZE);
	if (elem[0] != slot) {
		fw_printf("balloon: queue %u returned id %u, want %u\n", q->index, elem[0], slot);
		return -1;
	}
	q->last_used++;
	return 0;
}

/* Queues one device-readable buffer, notifies, and polls for its return. */
static int transfer(struct dev *d, struct vq *q, uint64_t addr, uint32_t len)
{
	uint16_t slot = post(q, addr, len);
	uint32_t i;

	for (i = 0; i < POLL_MAX && q->used[1] == q->last_used; i++)
		__asm__ volatile("pause" : : : "memory");
	if (q->used[1] == q->last_used) {
		fw_printf("balloon: queue %u: buffer not returned (device status 0x%x)\n", q->index,
			  mmio_read8(d->common + CC_STATUS));
		return -1;
	}
	return take_used(q, slot);
}

static void put_stat(uint64_t at, uint16_t tag, uint64_t val)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)at;

	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	for (unsigned int k = 0; k < 8; k++)
		p[2 + k] = (uint8_t)(val >> (8 * k));
}

/* The stats buffer, with free memory free; the device keeps it until the host asks. */
static uint16_t send_stats(struct vq *q, uint64_t free)
{
	put_stat(STATS_BUF, S_MEMFREE, free);
	put_stat(STATS_BUF + STAT_ENTRY, S_MEMTOT, STATS_TOTAL);
	return post(q, STATS_BUF, 2 * STAT_ENTRY);
}

static int init_device(struct dev *d, unsigned int slot, const char *cmdline, struct vq *infl,
		       struct vq *defl, struct vq *stats)
{
	uint64_t want_stats = 0;
	uint64_t offered, wanted;
	uint8_t st;

	if (map_device(d, slot, cmdline))
		return -1;
	mmio_write8(d->common + CC_STATUS, 0);
	if (mmio_read8(d->common + CC_STATUS) != 0) {
		fw_puts("balloon: reset did not clear the status\n");
		return -1;
	}
	mmio_write8(d->common + CC_STATUS, STATUS_ACKNOWLEDGE);
	mmio_write8(d->common + CC_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
	mmio_write32(d->common + CC_DFSELECT, 0);
	offered = mmio_read32(d->common + CC_DF);
	mmio_write32(d->common + CC_DFSELECT, 1);
	offered |= (uint64_t)mmio_read32(d->common + CC_DF) << 32;
	fw_cmdline_u64(cmdline, "stats", &want_stats);
	wanted = offered & (F_VERSION_1 | F_MUST_TELL_HOST | (want_stats ? F_STATS_VQ : 0));
	if (want_stats && !(wanted & F_STATS_VQ)) {
		fw_puts("balloon: STATS_VQ not offered\n");
		return -1;
	}
	fw_printf("balloon: features offered 0x%lx, accepted 0x%lx, %u queues\n",
		  (unsigned long)offered, (unsigned long)wanted, mmio_read16(d->common + CC_NUMQ));
	if (!(wanted & F_VERSION_1)) {
		fw_puts("balloon: VERSION_1 not offered\n");
		return -1;
	}
	mmio_write32(d->common + CC_GFSELECT, 0);
	mmio_write32(d->common + CC_GF, (uint32_t)wanted);
	mmio_write32(d->common + CC_GFSELECT, 1);
	mmio_write32(d->common + CC_GF, (uint32_t)(wanted >> 32));
	mmio_write8(d->common + CC_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
	st = mmio_read8(d->common + CC_STATUS);
	if (!(st & STATUS_FEATURES_OK)) {
		fw_printf("balloon: FEATURES_OK refused (status 0x%x)\n", st);
		mmio_write8(d->common + CC_STATUS, st | STATUS_FAILED);
		return -1;
	}
	if (setup_queue(d, infl, 0, RING_BASE) || setup_queue(d, defl, 1, RING_BASE + PAGE))
		return -1;
	if (want_stats && setup_queue(d, stats, 2, STATS_RING))
		return -1;
	mmio_write8(d->common + CC_STATUS,
		    STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	st = mmio_read8(d->common + CC_STATUS);
	if (!(st & STATUS_DRIVER_OK) || (st & STATUS_NEEDS_RESET)) {
		fw_printf("balloon: DRIVER_OK not taken (status 0x%x)\n", st);
		return -1;
	}
	return 0;
}

static uint64_t ram_end(const struct bootinfo *bi)
{
	uint64_t end = 0;

	for (uint32_t i = 0; i < bi->nregions; i++)
		if (bi->region[i].plugged && bi->region[i].base + bi->region[i].size > end)
			end = bi->region[i].base + bi->region[i].size;
	return end;
}

static volatile uint64_t *word_at(uint64_t gpa)
{
	return (volatile uint64_t *)(uintptr_t)gpa;
}

static void set_actual(struct dev *d, uint32_t pages)
{
	mmio_write32(d->device + BCFG_ACTUAL, pages);
}

int main(struct bootinfo *bi)
{
	struct dev dv = {0}, *d = &dv;
	struct vq infl, defl, stats = {0};
	volatile uint32_t *pfns;
	uint32_t n = 0, held = 0, i;
	uint16_t stats_slot = 0;
	uint64_t end;
	int slot;

	if (fw_check_bootinfo(bi))
		return 1;
	end = ram_end(bi);
	if (bi->nregions < 1 || bi->region[0].base != 0 ||
	    bi->region[0].size < INFL_BASE + 0x600000) {
		fw_puts("balloon: want at least 14 MiB of low RAM\n");
		return 1;
	}
	slot = find_device();
	if (slot < 0) {
		fw_puts("balloon: no virtio-balloon device (1af4:1045)\n");
		return 1;
	}
	if (init_device(d, (unsigned int)slot, bi->cmdline, &infl, &defl, &stats))
		return 1;
	fw_printf("balloon: ready, granule 0x%lx, num_pages %u\n", (unsigned long)bi->granule,
		  mmio_read32(d->device + BCFG_NUM_PAGES));
	if (stats.notify) {
		stats_slot = send_stats(&stats, STATS_FREE_1);
		fw_puts("balloon: stats sent\n");
	}

	/* Markers in the pages that come back, to tell a released page from a kept one. */
	for (i = 0; i < DEFL_FULL; i++)
		*word_at(INFL_BASE + i * PAGE) = MARKER;
	for (i = 0; i < INFL_EXTRA; i++)
		*word_at(INFL_BASE + 0x200000 + i * PAGE) = MARKER;

	pfns = (volatile uint32_t *)(uintptr_t)INFL_ARRAY;
	for (i = 0; i < INFL_FULL; i++)
		pfns[n++] = (uint32_t)(INFL_BASE / PAGE) + i;
	for (i = 0; i < INFL_EXTRA; i++)
		pfns[n++] = (uint32_t)((INFL_BASE + 0x200000) / PAGE) + i;
	pfns[n++] = (uint32_t)(end / PAGE) + 16;      /* past the end of RAM */
	pfns[n++] = (uint32_t)(0xc0000000ULL / PAGE); /* the PCI hole */
	pfns[n++] = (uint32_t)(INFL_BASE / PAGE) + 7; /* sent above already */
	held = INFL_FULL + INFL_EXTRA;
	if (transfer(d, &infl, INFL_ARRAY, n * 4))
		return 1;
	set_actual(d, held);
	fw_printf("balloon: inflated %u pfns (%u valid, %u invalid), actual %u\n", n, held,
		  n - held, mmio_read32(d->device + BCFG_ACTUAL));
	if (stats.notify) {
		while (stats.used[1] == stats.last_used)
			__asm__ volatile("pause" : : : "memory");
		if (take_used(&stats, stats_slot))
			return 1;
		send_stats(&stats, STATS_FREE_2);
		fw_puts("balloon: stats sent again\n");
	}
	fw_getc();

	fw_printf("balloon: num_pages %u\n", mmio_read32(d->device + BCFG_NUM_PAGES));
	pfns = (volatile uint32_t *)(uintptr_t)DEFL_ARRAY;
	n = 0;
	for (i = 0; i < DEFL_FULL; i++)
		pfns[n++] = (uint32_t)(INFL_BASE / PAGE) + i;
	for (i = 0; i < INFL_EXTRA; i++)
		pfns[n++] = (uint32_t)((INFL_BASE + 0x200000) / PAGE) + i;
	pfns[n++] = (uint32_t)(NEVER_INFLATED / PAGE);
	if (transfer(d, &defl, DEFL_ARRAY, n * 4))
		return 1;
	held -= DEFL_FULL + INFL_EXTRA;
	set_actual(d, held);
	{
		unsigned int kept = 0;

		for (i = 0; i < DEFL_FULL; i++)
			kept += *word_at(INFL_BASE + i * PAGE) != 0;
		for (i = 0; i < INFL_EXTRA; i++)
			kept += *word_at(INFL_BASE + 0x200000 + i * PAGE) != 0;
		fw_printf("balloon: deflated %u pfns (%u valid, %u invalid), actual %u, "
			  "%u of %u pages kept their contents\n",
			  n, n - 1, 1u, mmio_read32(d->device + BCFG_ACTUAL), kept,
			  DEFL_FULL + INFL_EXTRA);
	}
	while (fw_getc() != 'q')
		;
	fw_puts("balloon: bye\n");
	return 0;
}
