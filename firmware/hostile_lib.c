// SPDX-License-Identifier: MIT
/*
 * The hostile guests' driver: no interrupts, every wait a bounded poll. It trusts nothing
 * the device says beyond what a check needs, and lets the guest write descriptors that no
 * well-behaved driver would.
 */
#include "hostile.h"

#define PCI_CONFIG_ADDR 0xcf8
#define PCI_CONFIG_DATA 0xcfc

static unsigned int hv_checks, hv_failed;
static uint64_t hv_state;

static void hv_conf1_select(unsigned int bus, unsigned int slot, unsigned int fn,
			    unsigned int off)
{
	outl(PCI_CONFIG_ADDR, 0x80000000u | (bus & 0xff) << 16 | (slot & 0x1f) << 11 |
				      (fn & 7) << 8 | (off & 0xfc));
}

static inline void outw(uint16_t port, uint16_t val)
{
	__asm__ volatile("outw %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t val;

	__asm__ volatile("inw %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

/* The data port for the byte at off: 0xCFC + (off & 3); never 0xCF9, the reset register. */
uint32_t hv_conf1_read(unsigned int bus, unsigned int slot, unsigned int fn, unsigned int off,
		       unsigned int size)
{
	uint16_t port = PCI_CONFIG_DATA + (off & 3);

	hv_conf1_select(bus, slot, fn, off);
	if (size == 1)
		return inb(port);
	if (size == 2)
		return inw(port);
	return inl(port);
}

void hv_conf1_write(unsigned int bus, unsigned int slot, unsigned int fn, unsigned int off,
		    unsigned int size, uint32_t v)
{
	uint16_t port = PCI_CONFIG_DATA + (off & 3);

	hv_conf1_select(bus, slot, fn, off);
	if (size == 1)
		outb(port, (uint8_t)v);
	else if (size == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}

int hv_find(uint32_t id)
{
	for (unsigned int slot = 0; slot < 32; slot++)
		if (hv_cfg_read32(slot, 0) == id)
			return (int)slot;
	return -1;
}

void hv_set_decode(struct hv_dev *d, int on)
{
	/* The upper half of the dword is STATUS, whose bits are write-1-to-clear. */
	uint32_t cmd = hv_cfg_read32(d->slot, HV_PCI_COMMAND) & 0xffff;

	cmd = on ? cmd | HV_PCI_COMMAND_MEMORY : cmd & ~HV_PCI_COMMAND_MEMORY;
	hv_cfg_write32(d->slot, HV_PCI_COMMAND, cmd);
}

void hv_move_bar4(struct hv_dev *d, uint64_t to)
{
	hv_set_decode(d, 0);
	hv_cfg_write32(d->slot, HV_PCI_BAR4, (uint32_t)to);
	hv_cfg_write32(d->slot, HV_PCI_BAR4 + 4, (uint32_t)(to >> 32));
	hv_set_decode(d, 1);
	d->bar4 = to;
}

int hv_open(struct hv_dev *d, const char *name, uint32_t id, uint64_t bar4)
{
	int slot = hv_find(id);

	d->name = name;
	if (slot < 0) {
		fw_printf("hostile: no %s (0x%x) on bus 0\n", name, id);
		return -1;
	}
	d->slot = (unsigned int)slot;
	d->home = (hv_cfg_read32(d->slot, HV_PCI_BAR4) & ~0xfULL) |
		  (uint64_t)hv_cfg_read32(d->slot, HV_PCI_BAR4 + 4) << 32;
	hv_move_bar4(d, bar4);
	return 0;
}

int hv_reset(struct hv_dev *d)
{
	MMIO8(hv_cc(d, HV_CC_STATUS)) = 0;
	return hv_status(d) == 0 ? 0 : -1;
}

uint64_t hv_negotiate(struct hv_dev *d, uint64_t want)
{
	uint64_t offered, f;

	if (hv_reset(d))
		return 0;
	MMIO8(hv_cc(d, HV_CC_STATUS)) = HV_S_ACKNOWLEDGE;
	MMIO8(hv_cc(d, HV_CC_STATUS)) = HV_S_ACKNOWLEDGE | HV_S_DRIVER;
	MMIO32(hv_cc(d, HV_CC_DFSELECT)) = 0;
	offered = MMIO32(hv_cc(d, HV_CC_DF));
	MMIO32(hv_cc(d, HV_CC_DFSELECT)) = 1;
	offered |= (uint64_t)MMIO32(hv_cc(d, HV_CC_DF)) << 32;
	f = offered & want;
	MMIO32(hv_cc(d, HV_CC_GFSELECT)) = 0;
	MMIO32(hv_cc(d, HV_CC_GF)) = (uint32_t)f;
	MMIO32(hv_cc(d, HV_CC_GFSELECT)) = 1;
	MMIO32(hv_cc(d, HV_CC_GF)) = (uint32_t)(f >> 32);
	MMIO8(hv_cc(d, HV_CC_STATUS)) = HV_S_ACKNOWLEDGE | HV_S_DRIVER | HV_S_FEATURES_OK;
	if (!(hv_status(d) & HV_S_FEATURES_OK))
		return 0;
	return f;
}

int hv_queue(struct hv_dev *d, struct hv_vq *q, unsigned int index, uint16_t size,
	     uint64_t base)
{
	q->index = index;
	q->size = size;
	q->base = base;
	q->desc = hv_table(base);
	q->avail = (volatile uint16_t *)(uintptr_t)(base + 0x1000);
	q->used = (volatile uint16_t *)(uintptr_t)(base + 0x2000);
	q->next_avail = 0;
	q->last_used = 0;
	memset((void *)(uintptr_t)base, 0, 0x3000);
	MMIO16(hv_cc(d, HV_CC_Q_SELECT)) = (uint16_t)index;
	MMIO16(hv_cc(d, HV_CC_Q_SIZE)) = size;
	MMIO64(hv_cc(d, HV_CC_Q_DESC)) = base;
	MMIO64(hv_cc(d, HV_CC_Q_AVAIL)) = base + 0x1000;
	MMIO64(hv_cc(d, HV_CC_Q_USED)) = base + 0x2000;
	MMIO16(hv_cc(d, HV_CC_Q_ENABLE)) = 1;
	return MMIO16(hv_cc(d, HV_CC_Q_ENABLE)) == 1 ? 0 : -1;
}

int hv_driver_ok(struct hv_dev *d)
{
	uint8_t st = hv_status(d);

	MMIO8(hv_cc(d, HV_CC_STATUS)) = st | HV_S_DRIVER_OK;
	st = hv_status(d);
	return (st & HV_S_DRIVER_OK) && !(st & HV_S_NEEDS_RESET) ? 0 : -1;
}

void hv_desc(volatile uint64_t *table, unsigned int i, uint64_t addr, uint32_t len,
	     uint16_t flags, uint16_t next)
{
	table[2 * i] = addr;
	table[2 * i + 1] = len | (uint64_t)flags << 32 | (uint64_t)next << 48;
}

void hv_avail(struct hv_vq *q, uint16_t head)
{
	q->avail[2 + q->next_avail % q->size] = head;
	hv_barrier();
	q->avail[1] = ++q->next_avail;
	hv_barrier();
}

int hv_wait_used(struct hv_vq *q, uint16_t n, uint32_t polls)
{
	uint16_t want = (uint16_t)(q->last_used + n);

	for (uint32_t i = 0; i < polls; i++) {
		if ((uint16_t)(hv_used_idx(q) - want) < 0x8000)
			return 1;
		hv_relax();
	}
	return (uint16_t)(hv_used_idx(q) - want) < 0x8000;
}

uint32_t hv_take_used(struct hv_vq *q, uint32_t *len)
{
	volatile uint32_t *e = (volatile uint32_t *)(q->used + 2) + 2 * (q->last_used % q->size);

	hv_barrier();
	q->last_used++;
	if (len)
		*len = e[1];
	return e[0];
}

int hv_wait_status(const struct hv_dev *d, uint8_t mask, uint32_t polls)
{
	for (uint32_t i = 0; i < polls; i++) {
		if ((hv_status(d) & mask) == mask)
			return 1;
		hv_relax();
	}
	return (hv_status(d) & mask) == mask;
}

int hv_roundtrip(struct hv_dev *d, struct hv_vq *q, uint16_t head)
{
	hv_avail(q, head);
	hv_kick(d, q);
	if (!hv_wait_used(q, 1, HV_POLL))
		return 0;
	return hv_take_used(q, NULL) == head;
}

int hv_balloon_send(struct hv_dev *d, struct hv_vq *q, uint64_t pfns, uint32_t max,
		    uint64_t first, uint64_t n, unsigned int waits)
{
	volatile uint32_t *pfn = (volatile uint32_t *)(uintptr_t)pfns;
	uint64_t done;
	uint32_t i, k;
	unsigned int w;

	for (done = 0; done < n; done += k) {
		k = n - done < max ? (uint32_t)(n - done) : max;
		for (i = 0; i < k; i++)
			pfn[i] = (uint32_t)(first / HV_PAGE + done + i);
		hv_desc(q->desc, 0, pfns, 4 * k, 0, 0);
		hv_avail(q, 0);
		hv_kick(d, q);
		for (w = 0; w < waits && !hv_wait_used(q, 1, HV_POLL); w++)
			;
		if (w == waits || hv_take_used(q, NULL) != 0)
			return -1;
	}
	return 0;
}

int hv_check(int ok, const char *fmt, ...)
{
	va_list ap;

	hv_checks++;
	if (!ok)
		hv_failed++;
	fw_puts(ok ? "hostile: ok " : "hostile: FAIL ");
	va_start(ap, fmt);
	fw_vprintf(fmt, ap);
	va_end(ap);
	fw_putc('\n');
	return ok;
}

void hv_sync(const char *name)
{
	fw_printf("hostile: sync %s\n", name);
	fw_getc();
}

void hv_finish(void)
{
	if (hv_failed)
		fw_printf("hostile: verdict FAIL %u of %u\n", hv_failed, hv_checks);
	else
		fw_printf("hostile: verdict pass %u\n", hv_checks);
	/* Interrupts off: the vCPU blocks in KVM_RUN until slabvm stops it. */
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

void hv_seed(const struct bootinfo *bi, uint64_t dflt)
{
	uint64_t s = dflt;

	fw_cmdline_u64(bi->cmdline, "seed", &s);
	hv_state = s ? s : 1;
	fw_printf("hostile: seed %lu\n", (unsigned long)s);
}

uint64_t hv_rand(void)
{
	hv_state ^= hv_state >> 12;
	hv_state ^= hv_state << 25;
	hv_state ^= hv_state >> 27;
	return hv_state * 0x2545f4914f6cdd1dULL;
}

uint64_t hv_ram_end(const struct bootinfo *bi)
{
	uint64_t end = 0;

	for (uint32_t i = 0; i < bi->nregions; i++)
		if (bi->region[i].plugged && bi->region[i].base + bi->region[i].size > end)
			end = bi->region[i].base + bi->region[i].size;
	return end;
}
