// SPDX-License-Identifier: MIT
/*
 * The PCI host bridge and device base (devices/pci.h) under a guest with free rein, checked
 * against a model written from the PCI 3.0 rules and pci.h's contract, not from pci.c:
 *   - configuration reads through 0xCF8/0xCFC and ECAM, at any offset and width, return
 *     what the model predicts: all ones for an absent function or a bad access, zero past
 *     256 bytes, the hook's value inside a hook, else the model's bytes; writes change only
 *     the bits the spec makes writable (COMMAND's implemented bits, BAR address bits above
 *     the size, MSI-X enable and function mask, the lines and what a device declared
 *     writable), STATUS error bits are write-1-to-clear, and STATUS.INTERRUPT follows INTx;
 *   - a BAR is on its bus exactly while COMMAND decodes its kind and its register holds an
 *     assigned address (non-zero, inside its space, not reaching the top), unless the
 *     window met another range when it was last placed; windows never overlap, the bus
 *     holds nothing else, and the BAR listener is told each change once;
 *   - MSI-X: the table keeps only its writable bits, the PBA reads the pending bits, and a
 *     message leaves only for a vector that is unmasked while the function is enabled and
 *     not masked; one signalled under a mask is held and sent once when the mask goes;
 *   - each INTx line is the OR of its functions' requests that INTx_DISABLE and MSI-X let
 *     through; firmware placement (pci_host_assign_bars) is aligned, inside the windows and
 *     free of overlaps.
 *
 * Firmware placement with BAR sizes that do not fit its windows must fail and change nothing.
 *
 * Input: a byte choosing the MSI-X vector count, one choosing the sizes of device B's BARs
 * (bits 1:0 the 64-bit one, 3:2 the I/O one, 6:4 the 32-bit one), then operations, each a
 * byte:
 *   bits 2:0  0 a configuration port (0xCF8..0xCFF), 1 the address port with a made-up
 *             address, 2 ECAM, 3 a BAR through its bus, 4 a device-side call,
 *             5 an ECAM write to COMMAND, a BAR or the MSI-X flags, 6 and 7 as 3
 *   bits 4:3  log2 of the access size
 *   bit 5     write
 * followed by its operands. Missing bytes read as zero.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/pci_test.h"
#include "devices/pci.h"
#include "fuzz_input.h"
#include "x86/platform.h"

#define NDEV 3 /* the bridge and two devices */
#define MAXV 130
#define MAX_SENT 512
#define HOOK_OFF 0xa0
#define HOOK_LEN 8
#define VNDR_WMASK 0xff00ff0fU /* what device B declares writable in its vendor capability */
#define COMMAND_WMASK 0x0547   /* IO, MEMORY, MASTER, PARITY, SERR, INTX_DISABLE */
#define STATUS_W1C 0xf900
#define MEM64_BASE (1ULL << 40)

static const unsigned int slots[NDEV] = {0, 1, 6};
static const unsigned int nvecs[] = {1, 3, 64, 65, MAXV};
static const uint64_t b_mem64[] = {16, 16 << 10, 16 << 20, PLATFORM_PCI64_SIZE};
static const uint64_t b_io[] = {4, 16, 64, 256};
static const uint64_t b_mem32[] = {16, 256, 4096, 1 << 16, 1 << 20, 1 << 28, 1 << 29, 1ULL << 31};

struct harness;

/* What a synthetic BAR saw last. */
struct bar_rec {
	struct harness *h;
	unsigned int dev, bar;
};

struct mbar {
	enum pci_bar_type type; /* PCI_BAR_UNUSED for the upper half of a 64-bit BAR */
	uint64_t size;
	bool mapped;
	uint64_t addr;
	bool lmapped; /* what the listener was told */
	uint64_t laddr;
	struct bar_rec rec;
};

/* The model of one function. */
struct mdev {
	struct pci_dev *d;
	unsigned int slot;
	uint8_t cfg[PCI_CFG_SPACE_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_SIZE], w1c[PCI_CFG_SPACE_SIZE];
	struct mbar bar[PCI_STD_NUM_BARS];
	bool level;
	unsigned int msix_cap, nvec, msix_bar;
	uint8_t table[MAXV * PCI_MSIX_ENTRY_SIZE];
	bool pending[MAXV];
	bool hook;
};

struct msg {
	uint64_t addr;
	uint32_t data;
};

struct harness {
	struct bus mmio, pio;
	struct pci_host host;
	struct pci_dev a, b;
	struct mdev m[NDEV];
	uint32_t conf1;
	bool line[4];
	struct msg sent[MAX_SENT], want[MAX_SENT];
	unsigned int nsent, nwant;
	/* The last access a BAR, the hook or the reset register saw. */
	unsigned int calls;
	uint64_t last_off, last_val;
	unsigned int last_size, last_dev, last_bar;
	bool last_write;
};

static struct harness *fuzz_h;

static uint64_t ones(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static uint64_t get(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* ---- what the harness plugs in, recording ---- */

static uint64_t pattern(uint64_t off, unsigned int size)
{
	return (0x0123456789abcdefULL ^ (off * 0x9e3779b97f4a7c15ULL)) & ones(size);
}

static void record(struct harness *h, unsigned int dev, unsigned int bar, uint64_t off,
		   unsigned int size, bool write, uint64_t val)
{
	h->calls++;
	h->last_dev = dev;
	h->last_bar = bar;
	h->last_off = off;
	h->last_size = size;
	h->last_write = write;
	h->last_val = val;
}

static uint64_t bar_read(void *opaque, uint64_t off, unsigned int size)
{
	struct bar_rec *r = opaque;

	record(r->h, r->dev, r->bar, off, size, false, 0);
	return pattern(off, size);
}

static void bar_write(void *opaque, uint64_t off, unsigned int size, uint64_t val)
{
	struct bar_rec *r = opaque;

	record(r->h, r->dev, r->bar, off, size, true, val);
}

static const struct io_ops bar_ops = {bar_read, bar_write};

/* The hook stands for bar 6 of device 2, the reset register for bar 7 of device 0. */
static uint64_t hook_read(void *opaque, uint64_t off, unsigned int size)
{
	record(opaque, 2, 6, off, size, false, 0);
	return pattern(off, 8);
}

static void hook_write(void *opaque, uint64_t off, unsigned int size, uint64_t val)
{
	record(opaque, 2, 6, off, size, true, val & ones(size));
}

static const struct io_ops hook_ops = {hook_read, hook_write};

static uint64_t reset_read(void *opaque, uint64_t off, unsigned int size)
{
	record(opaque, 0, 7, off, size, false, 0);
	return 0x5a;
}

static void reset_write(void *opaque, uint64_t off, unsigned int size, uint64_t val)
{
	record(opaque, 0, 7, off, size, true, val & 0xff);
}

static const struct io_ops reset_ops = {reset_read, reset_write};

static struct mdev *model_of(struct harness *h, const struct pci_dev *d)
{
	unsigned int i;

	for (i = 0; i < NDEV; i++)
		if (h->m[i].d == d)
			return &h->m[i];
	FUZZ_CHECK(0);
	return NULL;
}

static bool m_msix_on(const struct mdev *m)
{
	return m->nvec && (get(&m->cfg[m->msix_cap + PCI_MSIX_FLAGS], 2) & PCI_MSIX_FLAGS_ENABLE);
}

static bool m_masked(const struct mdev *m, unsigned int v)
{
	return (get(&m->cfg[m->msix_cap + PCI_MSIX_FLAGS], 2) & PCI_MSIX_FLAGS_MASKALL) ||
	       (m->table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] & 1);
}

/* Only device A has MSI-X: whatever it sends, it must be enabled and its function unmasked. */
static void msi_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct harness *h = ctx;
	uint16_t flags = get(&h->a.cfg[h->a.msix.cap + PCI_MSIX_FLAGS], 2);

	FUZZ_CHECK((flags & PCI_MSIX_FLAGS_ENABLE) && !(flags & PCI_MSIX_FLAGS_MASKALL));
	FUZZ_CHECK(h->nsent < MAX_SENT);
	h->sent[h->nsent++] = (struct msg){addr, data};
}

static const struct msi_ops msi_ops = {msi_send};

static void set_level(void *ctx, unsigned int gsi, bool level)
{
	struct harness *h = ctx;
	unsigned int l = gsi - PLATFORM_PCI_INTX_GSI_BASE;

	FUZZ_CHECK(gsi >= PLATFORM_PCI_INTX_GSI_BASE && l < 4);
	FUZZ_CHECK(h->line[l] != level); /* told changes only */
	h->line[l] = level;
}

static const struct irq_ops irq_ops = {set_level};

static void bar_changed(void *ctx, struct pci_dev *d, unsigned int bar, bool mapped, uint64_t addr,
			uint64_t size)
{
	struct mbar *b = &model_of(ctx, d)->bar[bar];

	FUZZ_CHECK(size == b->size);
	if (mapped) {
		FUZZ_CHECK(!b->lmapped);
		b->laddr = addr;
	} else {
		FUZZ_CHECK(b->lmapped && b->laddr == addr);
	}
	b->lmapped = mapped;
}

/* ---- the model ---- */

static bool m_is_io(const struct mbar *b)
{
	return b->type == PCI_BAR_IO;
}

/* Where BAR i must decode by pci.h's rule, from the model's registers; false if nowhere. */
static bool m_bar_target(const struct mdev *m, unsigned int i, uint64_t *addr)
{
	const struct mbar *b = &m->bar[i];
	uint64_t a = get(&m->cfg[PCI_BASE_ADDRESS_0 + 4 * i], 4);

	switch (b->type) {
	case PCI_BAR_IO:
		a &= ~3ULL;
		if (a + b->size > 0x10000)
			return false;
		break;
	case PCI_BAR_MEM32:
		a &= ~0xfULL;
		if (a + b->size >= 1ULL << 32)
			return false;
		break;
	case PCI_BAR_MEM64:
		a = get(&m->cfg[PCI_BASE_ADDRESS_0 + 4 * i], 8) & ~0xfULL;
		if (a + b->size <= a)
			return false;
		break;
	default:
		return false;
	}
	*addr = a;
	return a != 0;
}

/* Whether [addr, +size) meets nothing on the bus of that kind, as the model sees it. */
static bool m_bus_free(const struct harness *h, bool io, uint64_t addr, uint64_t size)
{
	unsigned int i, k;

	if (io ? overlaps(addr, size, PLATFORM_PCI_CONFIG_ADDR, PCI_CONF1_WINDOW)
	       : overlaps(addr, size, PLATFORM_ECAM_BASE, PLATFORM_ECAM_SIZE))
		return false;
	for (i = 0; i < NDEV; i++)
		for (k = 0; k < PCI_STD_NUM_BARS; k++) {
			const struct mbar *b = &h->m[i].bar[k];

			if (b->mapped && m_is_io(b) == io && overlaps(addr, size, b->addr, b->size))
				return false;
		}
	return true;
}

static void m_update_bars(struct harness *h, struct mdev *m)
{
	uint16_t cmd = get(&m->cfg[PCI_COMMAND], 2);
	unsigned int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct mbar *b = &m->bar[i];
		uint64_t a = 0;
		bool on;

		if (b->type == PCI_BAR_UNUSED)
			continue;
		on = (cmd & (m_is_io(b) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) &&
		     m_bar_target(m, i, &a);
		if (b->mapped && (!on || a != b->addr))
			b->mapped = false;
		if (on && !b->mapped && m_bus_free(h, m_is_io(b), a, b->size)) {
			b->mapped = true;
			b->addr = a;
		}
	}
}

static void m_send(struct harness *h, const struct mdev *m, unsigned int v)
{
	const uint8_t *e = &m->table[v * PCI_MSIX_ENTRY_SIZE];

	FUZZ_CHECK(h->nwant < MAX_SENT);
	h->want[h->nwant++] = (struct msg){get(e, 8), get(e + PCI_MSIX_ENTRY_DATA, 4)};
}

static void m_flush(struct harness *h, struct mdev *m, unsigned int v)
{
	if (m->pending[v] && m_msix_on(m) && !m_masked(m, v)) {
		m->pending[v] = false;
		m_send(h, m, v);
	}
}

static void m_set_status_intx(struct mdev *m)
{
	m->cfg[PCI_STATUS] = (m->cfg[PCI_STATUS] & ~PCI_STATUS_INTERRUPT) |
			     (m->level ? PCI_STATUS_INTERRUPT : 0);
}

static bool m_hooked(const struct mdev *m, unsigned int reg)
{
	return m->hook && reg >= HOOK_OFF && reg < HOOK_OFF + HOOK_LEN;
}

/* Size 1, 2 or 4 inside one dword of the 4 KiB space (PCIe 3.0, 7.2.2). */
static bool m_access_ok(unsigned int reg, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && reg < 4096 && (reg & 3) + size <= 4;
}

/* The guest's read of a present function; the hook's read is checked as it happens. */
static uint64_t m_cfg_read(struct harness *h, const struct mdev *m, unsigned int reg,
			   unsigned int size)
{
	if (!m_access_ok(reg, size))
		return ones(size);
	if (reg >= PCI_CFG_SPACE_SIZE)
		return 0;
	if (m_hooked(m, reg)) {
		FUZZ_CHECK(h->last_bar == 6 && !h->last_write && h->last_off == reg - HOOK_OFF &&
			   h->last_size == size);
		return pattern(reg - HOOK_OFF, 8) & ones(size);
	}
	return get(&m->cfg[reg], size);
}

static void m_cfg_write(struct harness *h, struct mdev *m, unsigned int reg, unsigned int size,
			uint64_t value)
{
	unsigned int i, v;

	if (!m_access_ok(reg, size) || reg >= PCI_CFG_SPACE_SIZE)
		return;
	if (m_hooked(m, reg)) {
		FUZZ_CHECK(h->last_bar == 6 && h->last_write && h->last_off == reg - HOOK_OFF &&
			   h->last_size == size && h->last_val == (value & ones(size)));
		return;
	}
	for (i = 0; i < size; i++) {
		uint8_t b = value >> (8 * i), *c = &m->cfg[reg + i];

		*c = ((*c & ~m->wmask[reg + i]) | (b & m->wmask[reg + i])) & ~(b & m->w1c[reg + i]);
	}
	if (overlaps(reg, size, PCI_COMMAND, 2) || overlaps(reg, size, PCI_BASE_ADDRESS_0, 24))
		m_update_bars(h, m);
	if (m->nvec && overlaps(reg, size, m->msix_cap + PCI_MSIX_FLAGS, 2))
		for (v = 0; v < m->nvec; v++)
			m_flush(h, m, v);
}

static struct mdev *m_at(struct harness *h, unsigned int bus, unsigned int dev, unsigned int fn)
{
	unsigned int i;

	for (i = 0; !bus && !fn && i < NDEV; i++)
		if (h->m[i].slot == dev)
			return &h->m[i];
	return NULL;
}

static uint64_t m_msix_read(const struct mdev *m, uint64_t off, unsigned int size)
{
	uint64_t pba = (uint64_t)m->nvec * PCI_MSIX_ENTRY_SIZE, v = 0;
	unsigned int i;

	for (i = 0; i < size; i++) {
		uint64_t o = off + i;
		uint8_t byte = 0;

		if (o < pba) {
			byte = m->table[o];
		} else if (o - pba < (m->nvec + 63) / 64 * 8) {
			unsigned int bit;

			for (bit = 0; bit < 8; bit++)
				if ((o - pba) * 8 + bit < m->nvec &&
				    m->pending[(o - pba) * 8 + bit])
					byte |= 1U << bit;
		}
		v |= (uint64_t)byte << (8 * i);
	}
	return v;
}

/* Table bytes the guest may write: the address (dword aligned), data and the mask bit. */
static void m_msix_write(struct harness *h, struct mdev *m, uint64_t off, unsigned int size,
			 uint64_t value)
{
	uint64_t end = (uint64_t)m->nvec * PCI_MSIX_ENTRY_SIZE, o;
	static const uint8_t wmask[PCI_MSIX_ENTRY_SIZE] = {0xfc, 0xff, 0xff, 0xff, 0xff, 0xff,
							   0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
							   0x01, 0,    0,    0};
	unsigned int v;

	for (o = off; o < off + size && o < end; o++) {
		uint8_t mk = wmask[o % PCI_MSIX_ENTRY_SIZE];

		m->table[o] = (m->table[o] & ~mk) | ((value >> (8 * (o - off))) & mk);
	}
	for (v = off / PCI_MSIX_ENTRY_SIZE; off < end && v <= (o - 1) / PCI_MSIX_ENTRY_SIZE; v++)
		m_flush(h, m, v);
}

static bool m_line(const struct harness *h, unsigned int l)
{
	unsigned int i;

	for (i = 0; i < NDEV; i++) {
		const struct mdev *m = &h->m[i];

		if (m->level && m->cfg[PCI_INTERRUPT_PIN] && (m->slot & 3) == l &&
		    !(get(&m->cfg[PCI_COMMAND], 2) & PCI_COMMAND_INTX_DISABLE) && !m_msix_on(m))
			return true;
	}
	return false;
}

/* ---- the checks after every step ---- */

static void check_bus(const struct harness *h, const struct bus *bus, bool io)
{
	unsigned int i, k, n = 1;

	for (i = 0; i < NDEV; i++)
		for (k = 0; k < PCI_STD_NUM_BARS; k++) {
			const struct mbar *b = &h->m[i].bar[k];
			bool found = false;
			unsigned int r;

			if (!b->mapped || m_is_io(b) != io)
				continue;
			n++;
			for (r = 0; r < bus->nranges; r++)
				found |= bus->range[r].base == b->addr &&
					 bus->range[r].len == b->size;
			FUZZ_CHECK(found);
		}
	FUZZ_CHECK(bus->nranges == n);
	for (i = 1; i < bus->nranges; i++)
		FUZZ_CHECK(bus->range[i - 1].base + bus->range[i - 1].len <= bus->range[i].base);
}

static void check(struct harness *h)
{
	unsigned int i, k, v;

	for (i = 0; i < NDEV; i++) {
		struct mdev *m = &h->m[i];
		struct pci_dev *d = m->d;
		uint64_t addr;

		for (k = 0; k < PCI_CFG_SPACE_SIZE; k++)
			FUZZ_CHECK(m_hooked(m, k) || d->cfg[k] == m->cfg[k]);
		for (k = 0; k < PCI_STD_NUM_BARS; k++) {
			const struct mbar *b = &m->bar[k];

			FUZZ_CHECK(d->bar[k].mapped == b->mapped && b->lmapped == b->mapped);
			FUZZ_CHECK(pci_bar_address(d, k, &addr) == b->mapped);
			if (b->mapped)
				FUZZ_CHECK(d->bar[k].addr == b->addr && b->laddr == b->addr &&
					   addr == b->addr && !(b->addr & (b->size - 1)));
		}
		FUZZ_CHECK(pci_msix_enabled(d) == m_msix_on(m));
		if (!m->nvec)
			continue;
		FUZZ_CHECK(!memcmp(d->msix.table, m->table, m->nvec * PCI_MSIX_ENTRY_SIZE));
		for (v = 0; v < m->nvec; v++)
			FUZZ_CHECK(!!(d->msix.pending[v / 64] & (1ULL << (v % 64))) ==
				   m->pending[v]);
	}
	check_bus(h, &h->mmio, false);
	check_bus(h, &h->pio, true);
	FUZZ_CHECK(h->nsent == h->nwant &&
		   !memcmp(h->sent, h->want, h->nsent * sizeof(h->sent[0])));
	h->nsent = h->nwant = 0;
	for (i = 0; i < 4; i++)
		FUZZ_CHECK(h->line[i] == m_line(h, i));
}

/* ---- the guest's and the device's steps ---- */

static void conf1_access(struct harness *h, unsigned int off, unsigned int size, bool write,
			 uint64_t val)
{
	struct mdev *m = NULL;
	unsigned int reg = 0, calls = h->calls;
	uint64_t got = 0, want;

	if (write)
		pci_conf1_io_ops.write(&h->host, off, size, val);
	else
		got = pci_conf1_io_ops.read(&h->host, off, size);
	if (off == 0 && size == 4) {
		if (write)
			h->conf1 = val & 0x80fffffcU;
		want = h->conf1;
	} else if (off == 1 && size == 1) {
		FUZZ_CHECK(h->calls == calls + 1 && h->last_bar == 7 && h->last_write == write);
		FUZZ_CHECK(!write || h->last_val == (val & 0xff));
		want = 0x5a;
	} else {
		if (off >= 4 && size <= 8 - off && (h->conf1 & 0x80000000U)) {
			m = m_at(h, (h->conf1 >> 16) & 0xff, (h->conf1 >> 11) & 0x1f,
				 (h->conf1 >> 8) & 7);
			reg = (h->conf1 & 0xfc) + off - 4;
		}
		if (!m) {
			FUZZ_CHECK(h->calls == calls);
			want = ones(size);
		} else if (write) {
			m_cfg_write(h, m, reg, size, (uint32_t)val);
		} else {
			want = m_cfg_read(h, m, reg, size);
		}
	}
	if (!write)
		FUZZ_CHECK(got == want);
}

static void ecam_access(struct harness *h, uint64_t off, unsigned int size, bool write,
			uint64_t val)
{
	struct mdev *m = off < PLATFORM_ECAM_SIZE
				 ? m_at(h, off >> 20, (off >> 15) & 0x1f, (off >> 12) & 7)
				 : NULL;
	unsigned int calls = h->calls;
	uint64_t got;

	if (write) {
		pci_ecam_io_ops.write(&h->host, off, size, val);
		if (m)
			m_cfg_write(h, m, off & 0xfff, size, (uint32_t)val);
		else
			FUZZ_CHECK(h->calls == calls);
		return;
	}
	got = pci_ecam_io_ops.read(&h->host, off, size);
	if (!m)
		FUZZ_CHECK(got == ones(size) && h->calls == calls);
	else
		FUZZ_CHECK(got == (size > 4 ? ones(size) : m_cfg_read(h, m, off & 0xfff, size)));
}

static void bar_access(struct harness *h, struct fuzz_input *in, unsigned int size, bool write)
{
	uint8_t sel = fuzz_take(in, 1);
	unsigned int dev = 1 + (sel & 1), bar = (sel >> 1) % PCI_STD_NUM_BARS;
	struct mdev *m = &h->m[dev];
	struct mbar *b = &m->bar[bar];
	uint64_t off = fuzz_take(in, 2), val = write ? fuzz_take(in, size) : 0, got;
	bool inside, msix = m->nvec && bar == m->msix_bar;
	struct bus *bus = m_is_io(b) ? &h->pio : &h->mmio;
	unsigned int calls = h->calls;

	if (!b->mapped)
		return;
	off %= b->size;
	inside = size <= b->size - off;
	if (write) {
		FUZZ_CHECK(bus_write(bus, b->addr + off, size, val) == inside);
		if (inside && msix)
			m_msix_write(h, m, off, size, val);
	} else {
		FUZZ_CHECK(bus_read(bus, b->addr + off, size, &got) == inside);
		if (!inside)
			FUZZ_CHECK(got == ones(size));
		else if (msix)
			FUZZ_CHECK(got == m_msix_read(m, off, size));
		else
			FUZZ_CHECK(got == pattern(off, size));
	}
	if (!inside || msix) {
		FUZZ_CHECK(h->calls == calls);
		return;
	}
	FUZZ_CHECK(h->calls == calls + 1 && h->last_dev == dev && h->last_bar == bar &&
		   h->last_off == off && h->last_size == size && h->last_write == write);
	FUZZ_CHECK(!write || h->last_val == val);
}

static void device_call(struct harness *h, struct fuzz_input *in)
{
	uint8_t sel = fuzz_take(in, 1);
	struct mdev *m = &h->m[1 + ((sel >> 2) & 1)];
	unsigned int v;

	switch (sel & 3) {
	case 0:
		m->level = (sel >> 3) & 1;
		m_set_status_intx(m);
		pci_intx_set(m->d, m->level);
		break;
	case 1:
		v = fuzz_take(in, 1) % (MAXV + 2);
		if (v < m->nvec && m_msix_on(m)) {
			if (m_masked(m, v))
				m->pending[v] = true;
			else
				m_send(h, m, v);
		}
		pci_msix_notify(m->d, v);
		break;
	default:
		memset(m->pending, 0, sizeof(m->pending));
		pci_msix_clear_pending(m->d);
		break;
	}
}

/* An ECAM write where it matters most: COMMAND, a BAR register or the MSI-X flags. */
static void ecam_write_key(struct harness *h, struct fuzz_input *in, unsigned int size)
{
	uint8_t sel = fuzz_take(in, 1);
	const struct mdev *m = &h->m[sel % NDEV];
	unsigned int which = (sel / NDEV) % 8, reg;

	if (which == 0)
		reg = PCI_COMMAND;
	else if (which == 7)
		reg = m->msix_cap + PCI_MSIX_FLAGS;
	else
		reg = PCI_BASE_ADDRESS_0 + 4 * (which - 1);
	if (size > 4)
		size = 4;
	ecam_access(h, PCI_TEST_ECAM(m->slot, 0, reg), size, true, fuzz_take(in, size));
}

static void step(struct harness *h, struct fuzz_input *in, uint8_t op)
{
	unsigned int size = 1U << ((op >> 3) & 3), off;
	bool write = op & 0x20;
	uint8_t sel;
	uint32_t addr;

	switch (op & 7) {
	case 0:
		off = fuzz_take(in, 1) & 7;
		conf1_access(h, off, size, write, write ? fuzz_take(in, size) : 0);
		break;
	case 1:
		/* Enable, slot and register; op's top bits stray into bus and function. */
		sel = fuzz_take(in, 1);
		addr = (sel & 0x80 ? 0 : 0x80000000U) | (uint32_t)slots[sel % NDEV] << 11 |
		       (op & 0x40 ? 1U << 16 : 0) | (op & 0x80 ? 1U << 8 : 0) |
		       (uint32_t)fuzz_take(in, 1);
		conf1_access(h, 0, 4, true, addr);
		break;
	case 2:
		sel = fuzz_take(in, 1);
		if (sel & 0x80)
			off = fuzz_take(in, 4);
		else
			off = PCI_TEST_ECAM(slots[sel % NDEV], (sel >> 6) & 1,
					    fuzz_take(in, 2) & 0xfff);
		ecam_access(h, off, size, write, write ? fuzz_take(in, size) : 0);
		break;
	case 4:
		device_call(h, in);
		break;
	case 5:
		ecam_write_key(h, in, size);
		break;
	default:
		bar_access(h, in, size, write);
		break;
	}
}

/* ---- setting up, with firmware's placement checked ---- */

static void add_bar(struct harness *h, unsigned int dev, unsigned int bar, enum pci_bar_type type,
		    uint64_t size)
{
	struct mbar *b = &h->m[dev].bar[bar];
	struct error err = {0};

	b->type = type;
	b->size = size;
	b->rec = (struct bar_rec){h, dev, bar};
	FUZZ_CHECK(pci_dev_add_bar(h->m[dev].d, bar, type, size, &bar_ops, &b->rec, &err) == 0);
}

/* The write masks the spec gives each register of this function. */
static void m_masks(struct mdev *m)
{
	unsigned int i;

	memset(m->wmask, 0, sizeof(m->wmask));
	memset(m->w1c, 0, sizeof(m->w1c));
	m->wmask[PCI_COMMAND] = COMMAND_WMASK & 0xff;
	m->wmask[PCI_COMMAND + 1] = COMMAND_WMASK >> 8;
	m->w1c[PCI_STATUS + 1] = STATUS_W1C >> 8;
	m->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	m->wmask[PCI_INTERRUPT_LINE] = 0xff;
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		const struct mbar *b = &m->bar[i];
		uint64_t mask = ~(b->size - 1) & (m_is_io(b) ? ~3ULL : ~0xfULL);
		unsigned int k, n = b->type == PCI_BAR_MEM64 ? 8 : 4;

		for (k = 0; b->type != PCI_BAR_UNUSED && k < n; k++)
			m->wmask[PCI_BASE_ADDRESS_0 + 4 * i + k] = mask >> (8 * k);
	}
	if (m->nvec)
		m->wmask[m->msix_cap + PCI_MSIX_FLAGS + 1] = 0xc0;
}

/* What pci_host_assign_bars promises, then the model takes over from there. */
static void check_firmware(struct harness *h)
{
	unsigned int i, k, j, l;

	for (i = 1; i < NDEV; i++) {
		struct mdev *m = &h->m[i];

		for (k = 0; k < PCI_STD_NUM_BARS; k++) {
			struct mbar *b = &m->bar[k];
			uint64_t lo = m_is_io(b)		 ? PCI_IO_WINDOW_BASE
				      : b->type == PCI_BAR_MEM64 ? MEM64_BASE
								 : PLATFORM_PCI32_BASE;
			uint64_t len = m_is_io(b)		  ? PCI_IO_WINDOW_SIZE
				       : b->type == PCI_BAR_MEM64 ? PLATFORM_PCI64_SIZE
								  : PLATFORM_PCI32_SIZE;

			if (b->type == PCI_BAR_UNUSED)
				continue;
			FUZZ_CHECK(m->d->bar[k].mapped && m_bar_target(m, k, &b->addr));
			FUZZ_CHECK(b->addr == m->d->bar[k].addr && !(b->addr & (b->size - 1)));
			FUZZ_CHECK(b->addr >= lo && b->addr - lo <= len &&
				   b->size <= len - (b->addr - lo));
			b->mapped = true;
			for (j = 1; j <= i; j++)
				for (l = 0; l < PCI_STD_NUM_BARS; l++) {
					const struct mbar *o = &h->m[j].bar[l];

					if (o != b && o->mapped && m_is_io(o) == m_is_io(b))
						FUZZ_CHECK(!overlaps(b->addr, b->size, o->addr,
								     o->size));
				}
		}
		/* Type bits and the capability list, as the spec lays them out. */
		for (k = 0; k < PCI_STD_NUM_BARS; k++) {
			uint32_t reg = get(&m->cfg[PCI_BASE_ADDRESS_0 + 4 * k], 4);

			if (m->bar[k].type == PCI_BAR_IO)
				FUZZ_CHECK((reg & 3) == 1);
			else if (m->bar[k].type != PCI_BAR_UNUSED)
				FUZZ_CHECK((reg & 0xf) ==
					   (m->bar[k].type == PCI_BAR_MEM64 ? 4 : 0));
		}
	}
}

static void check_caps(const struct mdev *m)
{
	unsigned int p = m->cfg[PCI_CAPABILITY_LIST], n = 0, msix = 0;

	FUZZ_CHECK(!!p == !!(m->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST));
	for (; p; p = m->cfg[p + PCI_CAP_LIST_NEXT]) {
		FUZZ_CHECK(p >= PCI_CAP_FIRST && p < PCI_CFG_SPACE_SIZE - 1 && !(p & 3));
		FUZZ_CHECK(++n < 48);
		if (m->cfg[p] == PCI_CAP_ID_MSIX) {
			FUZZ_CHECK(p == m->msix_cap);
			FUZZ_CHECK((get(&m->cfg[p + PCI_MSIX_FLAGS], 2) & PCI_MSIX_FLAGS_QSIZE) ==
				   m->nvec - 1);
			FUZZ_CHECK(get(&m->cfg[p + PCI_MSIX_TABLE], 4) == m->msix_bar);
			FUZZ_CHECK(get(&m->cfg[p + PCI_MSIX_PBA], 4) ==
				   (m->nvec * PCI_MSIX_ENTRY_SIZE | m->msix_bar));
			msix++;
		}
	}
	FUZZ_CHECK(msix == !!m->nvec);
}

/*
 * Naturally aligned power-of-two BARs packed largest first from a window base aligned to
 * the largest leave no hole: they fit exactly when their sizes add up to the window's.
 */
static bool m_fits(const struct harness *h)
{
	uint64_t io = 0, m32 = 0, m64 = 0;
	unsigned int i, k;

	for (i = 1; i < NDEV; i++)
		for (k = 0; k < PCI_STD_NUM_BARS; k++) {
			const struct mbar *b = &h->m[i].bar[k];

			if (b->type == PCI_BAR_IO)
				io += b->size;
			else if (b->type == PCI_BAR_MEM32)
				m32 += b->size;
			else if (b->type == PCI_BAR_MEM64)
				m64 += b->size;
		}
	return io <= PCI_IO_WINDOW_SIZE && m32 <= PLATFORM_PCI32_SIZE && m64 <= PLATFORM_PCI64_SIZE;
}

/* Returns whether firmware could place the BARs; if not, it must have changed nothing. */
static bool harness_init(struct harness *h, unsigned int nvec, uint8_t layout)
{
	static const struct pci_dev_id id_a = {0x1af4, 0x10f0, 0x1af4, 1, 0xff0000, 1, true};
	static const struct pci_dev_id id_b = {0x1af4, 0x10f1, 0x1af4, 2, 0x058000, 2, true};
	struct pci_host_config cfg = {
		.irq_ops = &irq_ops,
		.irq_ctx = h,
		.msi_ops = &msi_ops,
		.msi_ctx = h,
		.mmio64_base = MEM64_BASE,
		.mmio64_size = PLATFORM_PCI64_SIZE,
		.listener = {bar_changed, h},
		.reset_ops = &reset_ops,
		.reset_opaque = h,
	};
	struct error err = {0};
	unsigned int i;
	int cap;

	memset(h, 0, sizeof(*h));
	FUZZ_CHECK(pci_test_host_init(&h->host, &h->mmio, &h->pio, &cfg) == 0);
	h->m[0].d = &h->host.bridge;
	h->m[1].d = &h->a;
	h->m[2].d = &h->b;
	for (i = 0; i < NDEV; i++)
		h->m[i].slot = slots[i];
	pci_dev_init(&h->a, "fuzz-a", &id_a);
	add_bar(h, 1, 0, PCI_BAR_IO, 32);
	add_bar(h, 1, 1, PCI_BAR_MEM32, 0x1000);
	add_bar(h, 1, 2, PCI_BAR_MEM64, 1 << 20);
	FUZZ_CHECK(pci_msix_init(&h->a, 4, nvec, &err) == 0);
	h->m[1].nvec = nvec;
	h->m[1].msix_bar = 4;
	h->m[1].msix_cap = h->a.msix.cap;
	h->m[1].bar[4] = (struct mbar){.type = PCI_BAR_MEM32, .size = h->a.bar[4].size};
	FUZZ_CHECK(h->a.bar[4].size >= 4096 &&
		   h->a.bar[4].size >= nvec * PCI_MSIX_ENTRY_SIZE + (nvec + 63) / 64 * 8);
	for (i = 0; i < nvec; i++)
		h->m[1].table[i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] = 1;

	pci_dev_init(&h->b, "fuzz-b", &id_b);
	add_bar(h, 2, 0, PCI_BAR_MEM64, b_mem64[layout & 3]);
	add_bar(h, 2, 3, PCI_BAR_IO, b_io[(layout >> 2) & 3]);
	add_bar(h, 2, 5, PCI_BAR_MEM32, b_mem32[(layout >> 4) & 7]);
	cap = pci_cap_add(&h->b, PCI_CAP_ID_VNDR, 8, &err);
	FUZZ_CHECK(cap >= PCI_CAP_FIRST);
	pci_cfg_set_wmask(&h->b, cap + 2, 4, VNDR_WMASK);
	pci_cfg_hook(&h->b, HOOK_OFF, HOOK_LEN, &hook_ops, h);
	h->m[2].hook = true;

	FUZZ_CHECK(pci_host_add(&h->host, slots[1], &h->a, &err) == 0);
	FUZZ_CHECK(pci_host_add(&h->host, slots[2], &h->b, &err) == 0);
	for (i = 0; i < NDEV; i++)
		memcpy(h->m[i].cfg, h->m[i].d->cfg, PCI_CFG_SPACE_SIZE);
	if (!m_fits(h)) {
		FUZZ_CHECK(pci_host_assign_bars(&h->host, &err) == -ENOSPC && err.msg[0]);
		for (i = 0; i < NDEV; i++)
			FUZZ_CHECK(!memcmp(h->m[i].cfg, h->m[i].d->cfg, PCI_CFG_SPACE_SIZE));
		check(h);
		return false;
	}
	FUZZ_CHECK(pci_host_assign_bars(&h->host, &err) == 0);
	for (i = 0; i < NDEV; i++) {
		memcpy(h->m[i].cfg, h->m[i].d->cfg, PCI_CFG_SPACE_SIZE);
		m_masks(&h->m[i]);
		check_caps(&h->m[i]);
		if (i == 2) {
			unsigned int k;

			for (k = 0; k < 4; k++)
				h->m[i].wmask[cap + 2 + k] = VNDR_WMASK >> (8 * k);
		}
	}
	check_firmware(h);
	check(h);
	return true;
}

static void harness_destroy(struct harness *h)
{
	pci_host_destroy(&h->host);
	pci_dev_destroy(&h->a);
	pci_dev_destroy(&h->b);
	bus_destroy(&h->mmio);
	bus_destroy(&h->pio);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct harness *h = fuzz_h;
	unsigned int nvec;
	bool placed;

	if (!h) {
		h = fuzz_h = malloc(sizeof(*h));
		FUZZ_CHECK(h);
	}
	nvec = nvecs[fuzz_take(&in, 1) % (sizeof(nvecs) / sizeof(nvecs[0]))];
	placed = harness_init(h, nvec, fuzz_take(&in, 1));
	while (placed && fuzz_left(&in)) {
		step(h, &in, fuzz_take(&in, 1));
		check(h);
	}
	harness_destroy(h);
	return 0;
}
