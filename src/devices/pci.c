// SPDX-License-Identifier: MIT
/*
 * Configuration space is plain bytes plus two masks, so every register's read-only and
 * write-1-to-clear behaviour comes from one rule, set up once per register. What a write
 * means beyond its bytes (a BAR moves, decoding or INTx masking flips, MSI-X is unmasked)
 * is worked out afterwards from the resulting bytes, never from the write itself, so the
 * order and width of the guest's writes do not matter.
 */
#include "devices/pci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "x86/platform.h"

#define PCI_CONF1_ENABLE 0x80000000U
/* Enable, bus, device, function and register; reserved bits and bits 1:0 read as zero. */
#define PCI_CONF1_MASK 0x80fffffcU

/* COMMAND bits with a meaning here or that Linux sets; the rest are hard-wired to zero. */
#define PCI_COMMAND_WMASK                                                                          \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |           \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
#define PCI_STATUS_W1C                                                                             \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |           \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)
#define PCI_BARS_END (PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS)
#define PCI_CLASS_HOST_BRIDGE 0x060000

#define PCI_MSIX_CAP_LEN 12
#define PCI_MSIX_MAX_VECTORS 2048
/* A page of its own, so a guest can map it without also mapping a neighbour. */
#define PCI_MSIX_BAR_MIN 4096

#define PCI_IO_SPACE_END 0x10000ULL
#define PCI_MEM32_END (1ULL << 32)

static uint64_t pci_ones(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static bool pci_overlaps(unsigned int off, unsigned int size, unsigned int start, unsigned int len)
{
	return off < start + len && start < off + size;
}

static bool pci_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static bool pci_cfg_range_ok(unsigned int off, unsigned int size)
{
	return size >= 1 && size <= 4 && off < PCI_CFG_SPACE_SIZE &&
	       size <= PCI_CFG_SPACE_SIZE - off;
}

/* ---- INTx ---- */

/* The swizzle the DSDT's _PRT describes. */
unsigned int pci_intx_gsi(unsigned int slot, unsigned int pin)
{
	return PLATFORM_PCI_INTX_GSI_BASE + ((slot + pin - 1) & 3);
}

/* Slots sharing a GSI each hold their level in the host; the line is their OR. */
static void pci_host_intx(struct pci_host *h, struct pci_dev *d, bool level)
{
	unsigned int line = pci_intx_gsi(d->slot, d->cfg[PCI_INTERRUPT_PIN]) -
			    PLATFORM_PCI_INTX_GSI_BASE;
	bool before, after;

	pthread_mutex_lock(&h->lock);
	before = h->intx_slots[line] != 0;
	if (level)
		h->intx_slots[line] |= 1U << d->slot;
	else
		h->intx_slots[line] &= ~(1U << d->slot);
	after = h->intx_slots[line] != 0;
	if (before != after && h->cfg.irq_ops)
		h->cfg.irq_ops->set_level(h->cfg.irq_ctx, PLATFORM_PCI_INTX_GSI_BASE + line, after);
	pthread_mutex_unlock(&h->lock);
}

static bool pci_msix_on(const struct pci_dev *d)
{
	return d->msix.nvec &&
	       (le_read(d->cfg + d->msix.cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE);
}

/* Caller holds d->lock. A function with MSI-X enabled must not use INTx (PCI 3.0, 6.8.2). */
static void pci_intx_update(struct pci_dev *d)
{
	uint16_t cmd = le_read(d->cfg + PCI_COMMAND, 2);
	bool out;

	if (d->intx_level)
		d->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		d->cfg[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
	out = d->intx_level && d->cfg[PCI_INTERRUPT_PIN] && !(cmd & PCI_COMMAND_INTX_DISABLE) &&
	      !pci_msix_on(d);
	if (!d->host || out == d->intx_out)
		return;
	d->intx_out = out;
	pci_host_intx(d->host, d, out);
}

void pci_intx_set(struct pci_dev *d, bool level)
{
	pthread_mutex_lock(&d->lock);
	d->intx_level = level;
	pci_intx_update(d);
	pthread_mutex_unlock(&d->lock);
}

/* ---- MSI-X ---- */

static uint8_t *pci_msix_entry(const struct pci_dev *d, unsigned int v)
{
	return d->msix.table + (size_t)v * PCI_MSIX_ENTRY_SIZE;
}

static bool pci_msix_pending(const struct pci_dev *d, unsigned int v)
{
	return d->msix.pending[v / 64] & (1ULL << (v % 64));
}

static void pci_msix_set_pending(struct pci_dev *d, unsigned int v, bool on)
{
	if (on)
		d->msix.pending[v / 64] |= 1ULL << (v % 64);
	else
		d->msix.pending[v / 64] &= ~(1ULL << (v % 64));
}

static bool pci_msix_masked(const struct pci_dev *d, unsigned int v)
{
	uint16_t flags = le_read(d->cfg + d->msix.cap + PCI_MSIX_FLAGS, 2);

	return (flags & PCI_MSIX_FLAGS_MASKALL) ||
	       (pci_msix_entry(d, v)[PCI_MSIX_ENTRY_VECTOR_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void pci_msix_send(struct pci_dev *d, unsigned int v)
{
	const uint8_t *e = pci_msix_entry(d, v);
	uint64_t addr = le_read(e + PCI_MSIX_ENTRY_LOWER_ADDR, 4) |
			le_read(e + PCI_MSIX_ENTRY_UPPER_ADDR, 4) << 32;

	if (d->host && d->host->cfg.msi_ops)
		d->host->cfg.msi_ops->send(d->host->cfg.msi_ctx, addr,
					   le_read(e + PCI_MSIX_ENTRY_DATA, 4));
}

/* Caller holds d->lock: sends vector v if it is pending and nothing masks it any more. */
static void pci_msix_flush(struct pci_dev *d, unsigned int v)
{
	if (pci_msix_pending(d, v) && pci_msix_on(d) && !pci_msix_masked(d, v)) {
		pci_msix_set_pending(d, v, false);
		pci_msix_send(d, v);
	}
}

void pci_msix_notify(struct pci_dev *d, unsigned int vector)
{
	pthread_mutex_lock(&d->lock);
	if (vector < d->msix.nvec && pci_msix_on(d)) {
		if (pci_msix_masked(d, vector))
			pci_msix_set_pending(d, vector, true);
		else
			pci_msix_send(d, vector);
	}
	pthread_mutex_unlock(&d->lock);
}

bool pci_msix_enabled(struct pci_dev *d)
{
	bool on;

	pthread_mutex_lock(&d->lock);
	on = pci_msix_on(d);
	pthread_mutex_unlock(&d->lock);
	return on;
}

void pci_msix_clear_pending(struct pci_dev *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->msix.nvec)
		memset(d->msix.pending, 0, (d->msix.nvec + 63) / 64 * sizeof(uint64_t));
	pthread_mutex_unlock(&d->lock);
}

static unsigned int pci_msix_pba_bytes(const struct pci_dev *d)
{
	return (d->msix.nvec + 63) / 64 * 8;
}

static uint8_t pci_msix_byte(const struct pci_dev *d, uint64_t off)
{
	uint64_t table = (uint64_t)d->msix.nvec * PCI_MSIX_ENTRY_SIZE;

	if (off < table)
		return d->msix.table[off];
	if (off >= d->msix.pba_offset && off - d->msix.pba_offset < pci_msix_pba_bytes(d)) {
		off -= d->msix.pba_offset;
		return d->msix.pending[off / 8] >> (8 * (off % 8));
	}
	return 0;
}

/* The bits of each byte of a table entry that software may write (PCI 3.0, 6.8.2.6-9). */
static uint8_t pci_msix_entry_wmask(unsigned int byte)
{
	if (byte == PCI_MSIX_ENTRY_LOWER_ADDR)
		return 0xfc; /* dword aligned */
	if (byte < PCI_MSIX_ENTRY_VECTOR_CTRL)
		return 0xff;
	if (byte == PCI_MSIX_ENTRY_VECTOR_CTRL)
		return PCI_MSIX_ENTRY_CTRL_MASKBIT;
	return 0;
}

static bool pci_msix_access_ok(const struct pci_dev *d, uint64_t off, unsigned int size)
{
	uint64_t len = d->bar[d->msix.bar].size;

	return size >= 1 && size <= 8 && off < len && size <= len - off;
}

static uint64_t pci_msix_read(void *opaque, uint64_t off, unsigned int size)
{
	struct pci_dev *d = opaque;
	uint64_t v = 0;
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	if (pci_msix_access_ok(d, off, size))
		for (i = 0; i < size; i++)
			v |= (uint64_t)pci_msix_byte(d, off + i) << (8 * i);
	pthread_mutex_unlock(&d->lock);
	return v;
}

/* The PBA is read-only: pending bits change only by delivery. */
static void pci_msix_write(void *opaque, uint64_t off, unsigned int size, uint64_t value)
{
	struct pci_dev *d = opaque;
	uint64_t table = (uint64_t)d->msix.nvec * PCI_MSIX_ENTRY_SIZE;
	unsigned int i, v;

	pthread_mutex_lock(&d->lock);
	if (!pci_msix_access_ok(d, off, size) || off >= table)
		goto out;
	for (i = 0; i < size && off + i < table; i++) {
		uint8_t *b = &d->msix.table[off + i];
		uint8_t mask = pci_msix_entry_wmask((off + i) % PCI_MSIX_ENTRY_SIZE);

		*b = (*b & ~mask) | ((value >> (8 * i)) & mask);
	}
	for (v = off / PCI_MSIX_ENTRY_SIZE; v <= (off + i - 1) / PCI_MSIX_ENTRY_SIZE; v++)
		pci_msix_flush(d, v);
out:
	pthread_mutex_unlock(&d->lock);
}

static const struct io_ops pci_msix_io_ops = {pci_msix_read, pci_msix_write};

/* ---- BARs ---- */

static bool pci_bar_is_upper(const struct pci_dev *d, unsigned int i)
{
	return i > 0 && d->bar[i - 1].type == PCI_BAR_MEM64;
}

static struct bus *pci_bar_bus(const struct pci_dev *d, const struct pci_bar *b)
{
	return b->type == PCI_BAR_IO ? d->host->cfg.pio : d->host->cfg.mmio;
}

/*
 * Where a BAR of type and size would decode, from its registers lo and hi (the upper half
 * of a 64-bit one); false for an address that cannot decode:
 * zero (never assigned), past the end of its address space, or the all-ones value left
 * by sizing (it reaches the very top of the space), as in QEMU's pci_bar_address().
 */
static bool pci_bar_decode(enum pci_bar_type type, uint64_t size, uint32_t lo, uint32_t hi,
			   uint64_t *addr)
{
	uint64_t a = lo;

	switch (type) {
	case PCI_BAR_IO:
		a &= ~3ULL;
		if (a + size > PCI_IO_SPACE_END)
			return false;
		break;
	case PCI_BAR_MEM32:
		a &= ~0xfULL;
		if (a + size >= PCI_MEM32_END)
			return false;
		break;
	case PCI_BAR_MEM64:
		a = (a | (uint64_t)hi << 32) & ~0xfULL;
		if (a + size <= a)
			return false;
		break;
	default:
		return false;
	}
	*addr = a;
	return a != 0;
}

static bool pci_bar_target(const struct pci_dev *d, unsigned int i, uint64_t *addr)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t hi = d->bar[i].type == PCI_BAR_MEM64 ? le_read(d->cfg + reg + 4, 4) : 0;

	return pci_bar_decode(d->bar[i].type, d->bar[i].size, le_read(d->cfg + reg, 4), hi, addr);
}

static void pci_bar_unmap(struct pci_dev *d, unsigned int i)
{
	struct pci_bar *b = &d->bar[i];
	const struct pci_bar_listener *l = &d->host->cfg.listener;

	if (!b->mapped)
		return;
	bus_unregister(pci_bar_bus(d, b), b->addr);
	b->mapped = false;
	if (l->bar_changed)
		l->bar_changed(l->ctx, d, i, false, b->addr, b->size);
}

/*
 * Caller holds d->lock: makes the buses match the BAR registers and COMMAND. A BAR placed
 * over another range stays off until the guest rewrites it or toggles decoding.
 */
static void pci_update_bars(struct pci_dev *d)
{
	uint16_t cmd = le_read(d->cfg + PCI_COMMAND, 2);
	unsigned int i;

	if (!d->host)
		return;
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct pci_bar *b = &d->bar[i];
		const struct pci_bar_listener *l = &d->host->cfg.listener;
		uint16_t decode = b->type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
		uint64_t addr = 0;
		bool on;

		if (b->type == PCI_BAR_UNUSED || !b->ops)
			continue;
		on = (cmd & decode) && pci_bar_target(d, i, &addr);
		if (b->mapped && (!on || addr != b->addr))
			pci_bar_unmap(d, i);
		if (!on || b->mapped)
			continue;
		if (bus_register(pci_bar_bus(d, b), addr, b->size, b->ops, b->opaque, b->name,
				 NULL))
			continue;
		b->mapped = true;
		b->addr = addr;
		if (l->bar_changed)
			l->bar_changed(l->ctx, d, i, true, addr, b->size);
	}
}

bool pci_bar_address(struct pci_dev *d, unsigned int index, uint64_t *addr)
{
	bool mapped = false;

	if (index >= PCI_STD_NUM_BARS)
		return false;
	pthread_mutex_lock(&d->lock);
	if (d->bar[index].mapped) {
		*addr = d->bar[index].addr;
		mapped = true;
	}
	pthread_mutex_unlock(&d->lock);
	return mapped;
}

static int pci_bar_check(const struct pci_dev *d, unsigned int i, enum pci_bar_type type,
			 uint64_t size, struct error *err)
{
	bool ok;

	if (i >= PCI_STD_NUM_BARS || (type == PCI_BAR_MEM64 && i + 1 >= PCI_STD_NUM_BARS))
		return error_set(err, -EINVAL, "%s: no BAR %u of that type", d->name, i);
	if (d->bar[i].type != PCI_BAR_UNUSED || pci_bar_is_upper(d, i) ||
	    (type == PCI_BAR_MEM64 && d->bar[i + 1].type != PCI_BAR_UNUSED))
		return error_set(err, -EBUSY, "%s: BAR %u is taken", d->name, i);
	switch (type) {
	case PCI_BAR_IO:
		ok = size >= 4 && size <= 256;
		break;
	case PCI_BAR_MEM32:
		ok = size >= 16 && size <= (1ULL << 31);
		break;
	case PCI_BAR_MEM64:
		ok = size >= 16 && size <= (1ULL << 63);
		break;
	default:
		ok = false;
	}
	if (!ok || !pci_pow2(size))
		return error_set(err, -EINVAL, "%s: BAR %u: bad type or size 0x%llx", d->name, i,
				 (unsigned long long)size);
	return 0;
}

/* Caller holds d->lock and checked the arguments with pci_bar_check(). */
static void pci_bar_add(struct pci_dev *d, unsigned int i, enum pci_bar_type type, uint64_t size,
			const struct io_ops *ops, void *opaque)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;
	struct pci_bar *b = &d->bar[i];
	uint64_t mask = ~(size - 1);

	b->type = type;
	b->size = size;
	b->ops = ops;
	b->opaque = opaque;
	snprintf(b->name, sizeof(b->name), "%s BAR%u", d->name, i);
	switch (type) {
	case PCI_BAR_IO:
		le_write(d->cfg + reg, 4, PCI_BASE_ADDRESS_SPACE_IO);
		le_write(d->wmask + reg, 4, mask & ~3ULL);
		break;
	case PCI_BAR_MEM32:
		le_write(d->cfg + reg, 4, PCI_BASE_ADDRESS_MEM_TYPE_32);
		le_write(d->wmask + reg, 4, mask & ~0xfULL);
		break;
	default:
		le_write(d->cfg + reg, 4, PCI_BASE_ADDRESS_MEM_TYPE_64);
		le_write(d->wmask + reg, 4, mask & ~0xfULL);
		le_write(d->wmask + reg + 4, 4, mask >> 32);
		break;
	}
}

int pci_dev_add_bar(struct pci_dev *d, unsigned int index, enum pci_bar_type type, uint64_t size,
		    const struct io_ops *ops, void *opaque, struct error *err)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = pci_bar_check(d, index, type, size, err);
	if (!ret)
		pci_bar_add(d, index, type, size, ops, opaque);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* ---- configuration space ---- */

/* Caller holds d->lock: what the bytes just written at [off, off + size) now mean. */
static void pci_config_changed(struct pci_dev *d, unsigned int off, unsigned int size)
{
	bool cmd = pci_overlaps(off, size, PCI_COMMAND, 2);
	bool msix = d->msix.nvec && pci_overlaps(off, size, d->msix.cap + PCI_MSIX_FLAGS, 2);
	unsigned int v;

	if (cmd || pci_overlaps(off, size, PCI_BASE_ADDRESS_0, PCI_BARS_END - PCI_BASE_ADDRESS_0))
		pci_update_bars(d);
	if (cmd || msix)
		pci_intx_update(d);
	if (msix)
		for (v = 0; v < d->msix.nvec; v++)
			pci_msix_flush(d, v);
}

static bool pci_config_access_ok(unsigned int off, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && off < PCI_CFG_SPACE_EXP_SIZE &&
	       (off & 3) + size <= 4;
}

static bool pci_hooked(const struct pci_dev *d, unsigned int off)
{
	return off >= d->hook.offset && off - d->hook.offset < d->hook.len;
}

/* A guest's access: offset < 4096, size 1, 2 or 4, not crossing a dword; else all ones. */
static uint32_t pci_config_read(struct pci_dev *d, unsigned int offset, unsigned int size)
{
	uint32_t v;

	if (!pci_config_access_ok(offset, size))
		return pci_ones(size);
	/* Before the extended-space check: an assigned PCIe function hooks that space too. */
	if (pci_hooked(d, offset))
		return d->hook.ops->read(d->hook.opaque, offset - d->hook.offset, size) &
		       pci_ones(size);
	if (offset >= PCI_CFG_SPACE_SIZE)
		return 0;
	pthread_mutex_lock(&d->lock);
	v = le_read(d->cfg + offset, size);
	pthread_mutex_unlock(&d->lock);
	return v;
}

static void pci_config_write(struct pci_dev *d, unsigned int offset, unsigned int size,
			     uint32_t value)
{
	unsigned int i;

	if (!pci_config_access_ok(offset, size))
		return;
	if (pci_hooked(d, offset)) {
		d->hook.ops->write(d->hook.opaque, offset - d->hook.offset, size, value);
		return;
	}
	if (offset >= PCI_CFG_SPACE_SIZE)
		return;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < size; i++) {
		unsigned int o = offset + i;
		uint8_t b = value >> (8 * i);

		d->cfg[o] = ((d->cfg[o] & ~d->wmask[o]) | (b & d->wmask[o])) & ~(b & d->w1c[o]);
	}
	pci_config_changed(d, offset, size);
	pthread_mutex_unlock(&d->lock);
}

void pci_dev_info(struct pci_dev *d, struct pci_dev_info *out)
{
	uint16_t cmd = pci_config_read(d, PCI_COMMAND, 2);
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->slot = d->slot;
	out->vendor = pci_config_read(d, PCI_VENDOR_ID, 2);
	out->device = pci_config_read(d, PCI_DEVICE_ID, 2);
	out->subsys_vendor = pci_config_read(d, PCI_SUBSYSTEM_VENDOR_ID, 2);
	out->subsys = pci_config_read(d, PCI_SUBSYSTEM_ID, 2);
	out->class_code = pci_config_read(d, PCI_CLASS_REVISION, 4) >> 8;
	out->irq_pin = pci_config_read(d, PCI_INTERRUPT_PIN, 1);
	out->irq_line = pci_config_read(d, PCI_INTERRUPT_LINE, 1);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct pci_bar_info *b = &out->bar[i];
		unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;
		uint16_t decode;
		uint32_t lo, hi = 0;

		pthread_mutex_lock(&d->lock);
		b->type = d->bar[i].type;
		b->size = d->bar[i].size;
		pthread_mutex_unlock(&d->lock);
		if (b->type == PCI_BAR_UNUSED)
			continue;
		lo = pci_config_read(d, reg, 4);
		if (b->type == PCI_BAR_MEM64)
			hi = pci_config_read(d, reg + 4, 4);
		decode = b->type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
		b->prefetch = b->type != PCI_BAR_IO && (lo & PCI_BASE_ADDRESS_MEM_PREFETCH);
		b->decoding = (cmd & decode) && pci_bar_decode(b->type, b->size, lo, hi, &b->addr);
		if (!b->decoding)
			b->addr = 0;
	}
}

uint32_t pci_cfg_get(struct pci_dev *d, unsigned int offset, unsigned int size)
{
	uint32_t v = 0;

	pthread_mutex_lock(&d->lock);
	if (pci_cfg_range_ok(offset, size))
		v = le_read(d->cfg + offset, size);
	pthread_mutex_unlock(&d->lock);
	return v;
}

void pci_cfg_set(struct pci_dev *d, unsigned int offset, unsigned int size, uint32_t value)
{
	pthread_mutex_lock(&d->lock);
	if (pci_cfg_range_ok(offset, size)) {
		le_write(d->cfg + offset, size, value);
		pci_config_changed(d, offset, size);
	}
	pthread_mutex_unlock(&d->lock);
}

void pci_cfg_set_wmask(struct pci_dev *d, unsigned int offset, unsigned int size, uint32_t mask)
{
	pthread_mutex_lock(&d->lock);
	if (pci_cfg_range_ok(offset, size))
		le_write(d->wmask + offset, size, mask);
	pthread_mutex_unlock(&d->lock);
}

/* Caller holds d->lock. */
static int pci_cap_add_locked(struct pci_dev *d, uint8_t id, unsigned int len, struct error *err)
{
	unsigned int off = d->cap_free;

	if (len < 2 || len > PCI_CFG_SPACE_SIZE - off)
		return error_set(err, -ENOSPC, "%s: no room for a %u-byte capability 0x%02x",
				 d->name, len, id);
	memset(&d->cfg[off], 0, len);
	memset(&d->wmask[off], 0, len);
	memset(&d->w1c[off], 0, len);
	d->cfg[off] = id;
	if (d->cap_last)
		d->cfg[d->cap_last + PCI_CAP_LIST_NEXT] = off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->cap_last = off;
	d->cap_free = (off + len + 3) & ~3U;
	return off;
}

int pci_cap_add(struct pci_dev *d, uint8_t id, unsigned int len, struct error *err)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = pci_cap_add_locked(d, id, len, err);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void pci_cfg_hook(struct pci_dev *d, unsigned int offset, unsigned int len,
		  const struct io_ops *ops, void *opaque)
{
	pthread_mutex_lock(&d->lock);
	d->hook = (struct pci_cfg_hook){offset & ~3U, len & ~3U, ops, opaque};
	pthread_mutex_unlock(&d->lock);
}

int pci_msix_init(struct pci_dev *d, unsigned int bar, unsigned int nvec, struct error *err)
{
	uint64_t table = (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE;
	uint64_t size = PCI_MSIX_BAR_MIN;
	unsigned int v;
	int cap, ret;

	if (!nvec || nvec > PCI_MSIX_MAX_VECTORS)
		return error_set(err, -EINVAL, "%s: %u MSI-X vectors (1..%u)", d->name, nvec,
				 PCI_MSIX_MAX_VECTORS);
	pthread_mutex_lock(&d->lock);
	if (d->msix.nvec) {
		ret = error_set(err, -EBUSY, "%s: MSI-X is already set up", d->name);
		goto out;
	}
	d->msix.nvec = nvec;
	d->msix.pba_offset = table;
	while (size < table + pci_msix_pba_bytes(d))
		size <<= 1;
	ret = pci_bar_check(d, bar, PCI_BAR_MEM32, size, err);
	if (ret)
		goto fail;
	d->msix.table = calloc(nvec, PCI_MSIX_ENTRY_SIZE);
	d->msix.pending = calloc((nvec + 63) / 64, sizeof(uint64_t));
	if (!d->msix.table || !d->msix.pending) {
		ret = error_set(err, -ENOMEM, "%s: out of memory for MSI-X", d->name);
		goto fail;
	}
	cap = pci_cap_add_locked(d, PCI_CAP_ID_MSIX, PCI_MSIX_CAP_LEN, err);
	if (cap < 0) {
		ret = cap;
		goto fail;
	}
	pci_bar_add(d, bar, PCI_BAR_MEM32, size, &pci_msix_io_ops, d);
	for (v = 0; v < nvec; v++)
		pci_msix_entry(d, v)[PCI_MSIX_ENTRY_VECTOR_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	d->msix.cap = cap;
	d->msix.bar = bar;
	le_write(d->cfg + cap + PCI_MSIX_FLAGS, 2, nvec - 1);
	le_write(d->wmask + cap + PCI_MSIX_FLAGS, 2,
		 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	le_write(d->cfg + cap + PCI_MSIX_TABLE, 4, bar);
	le_write(d->cfg + cap + PCI_MSIX_PBA, 4, d->msix.pba_offset | bar);
	goto out;
fail:
	free(d->msix.table);
	free(d->msix.pending);
	d->msix = (struct pci_msix){0};
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void pci_dev_init(struct pci_dev *d, const char *name, const struct pci_dev_id *id)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->name = name;
	d->cap_free = PCI_CAP_FIRST;
	le_write(d->cfg + PCI_VENDOR_ID, 2, id->vendor);
	le_write(d->cfg + PCI_DEVICE_ID, 2, id->device);
	le_write(d->cfg + PCI_CLASS_REVISION, 4, id->class_code << 8 | id->revision);
	le_write(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, 2, id->subsys_vendor);
	le_write(d->cfg + PCI_SUBSYSTEM_ID, 2, id->subsys);
	d->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	d->cfg[PCI_INTERRUPT_PIN] = id->intx ? 1 : 0;
	le_write(d->wmask + PCI_COMMAND, 2, PCI_COMMAND_WMASK);
	le_write(d->w1c + PCI_STATUS, 2, PCI_STATUS_W1C);
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

void pci_dev_destroy(struct pci_dev *d)
{
	free(d->msix.table);
	free(d->msix.pending);
	d->msix = (struct pci_msix){0};
	pthread_mutex_destroy(&d->lock);
}

/* ---- the host bridge and its configuration windows ---- */

static struct pci_dev *pci_host_dev(struct pci_host *h, unsigned int bus, unsigned int dev,
				    unsigned int fn)
{
	if (bus || fn || dev >= PCI_SLOTS)
		return NULL;
	return h->slot[dev];
}

static uint32_t pci_host_conf1_addr(struct pci_host *h)
{
	uint32_t addr;

	pthread_mutex_lock(&h->lock);
	addr = h->config_addr;
	pthread_mutex_unlock(&h->lock);
	return addr;
}

/* The device and register that the data ports reach now, or NULL with no device there. */
static struct pci_dev *pci_conf1_target(struct pci_host *h, uint64_t offset, unsigned int *reg)
{
	uint32_t addr = pci_host_conf1_addr(h);

	if (!(addr & PCI_CONF1_ENABLE))
		return NULL;
	*reg = (addr & 0xfc) + (offset - 4);
	return pci_host_dev(h, (addr >> 16) & 0xff, (addr >> 11) & 0x1f, (addr >> 8) & 7);
}

static bool pci_conf1_is_reset(const struct pci_host *h, uint64_t offset, unsigned int size)
{
	return offset == PLATFORM_RESET_PORT - PLATFORM_PCI_CONFIG_ADDR && size == 1 &&
	       h->cfg.reset_ops;
}

static uint64_t pci_conf1_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct pci_host *h = opaque;
	struct pci_dev *d;
	unsigned int reg;

	if (offset == 0 && size == 4)
		return pci_host_conf1_addr(h);
	if (pci_conf1_is_reset(h, offset, size))
		return h->cfg.reset_ops->read ? h->cfg.reset_ops->read(h->cfg.reset_opaque, 0, 1)
					      : 0xff;
	if (offset < 4 || offset >= PCI_CONF1_WINDOW || size > PCI_CONF1_WINDOW - offset)
		return pci_ones(size);
	d = pci_conf1_target(h, offset, &reg);
	return d ? pci_config_read(d, reg, size) : pci_ones(size);
}

static void pci_conf1_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct pci_host *h = opaque;
	struct pci_dev *d;
	unsigned int reg;

	if (offset == 0 && size == 4) {
		pthread_mutex_lock(&h->lock);
		h->config_addr = value & PCI_CONF1_MASK;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	if (pci_conf1_is_reset(h, offset, size)) {
		if (h->cfg.reset_ops->write)
			h->cfg.reset_ops->write(h->cfg.reset_opaque, 0, 1, value);
		return;
	}
	if (offset < 4 || offset >= PCI_CONF1_WINDOW || size > PCI_CONF1_WINDOW - offset)
		return;
	d = pci_conf1_target(h, offset, &reg);
	if (d)
		pci_config_write(d, reg, size, value);
}

const struct io_ops pci_conf1_io_ops = {pci_conf1_read, pci_conf1_write};

/* ECAM: bus in bits 27:20, device 19:15, function 14:12, register 11:0 (PCIe 3.0, 7.2.2). */
static struct pci_dev *pci_ecam_target(struct pci_host *h, uint64_t offset)
{
	if (offset >= PLATFORM_ECAM_SIZE)
		return NULL;
	return pci_host_dev(h, offset >> 20, (offset >> 15) & 0x1f, (offset >> 12) & 7);
}

static uint64_t pci_ecam_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct pci_dev *d = pci_ecam_target(opaque, offset);

	if (!d || size > 4)
		return pci_ones(size);
	return pci_config_read(d, offset & 0xfff, size);
}

static void pci_ecam_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct pci_dev *d = pci_ecam_target(opaque, offset);

	if (d)
		pci_config_write(d, offset & 0xfff, size, value);
}

const struct io_ops pci_ecam_io_ops = {pci_ecam_read, pci_ecam_write};

int pci_host_init(struct pci_host *h, const struct pci_host_config *cfg, struct error *err)
{
	static const struct pci_dev_id bridge_id = {
		.vendor = PCI_HOST_VENDOR,
		.device = PCI_HOST_DEVICE,
		.class_code = PCI_CLASS_HOST_BRIDGE,
	};
	int ret;

	if (cfg->mmio64_size && (cfg->mmio64_base < PCI_MEM32_END ||
				 cfg->mmio64_base + cfg->mmio64_size < cfg->mmio64_base))
		return error_set(
			err, -EINVAL, "pci: 64-bit window 0x%llx+0x%llx is not above 4 GiB",
			(unsigned long long)cfg->mmio64_base, (unsigned long long)cfg->mmio64_size);
	memset(h, 0, sizeof(*h));
	h->cfg = *cfg;
	h->mmio64_end = cfg->mmio64_base;
	pthread_mutex_init(&h->lock, NULL);
	pci_dev_init(&h->bridge, "pci-host", &bridge_id);
	h->bridge.host = h;
	h->slot[0] = &h->bridge;
	ret = bus_register(cfg->mmio, PLATFORM_ECAM_BASE, PLATFORM_ECAM_SIZE, &pci_ecam_io_ops, h,
			   "pci-ecam", err);
	if (ret)
		goto fail;
	ret = bus_register(cfg->pio, PLATFORM_PCI_CONFIG_ADDR, PCI_CONF1_WINDOW, &pci_conf1_io_ops,
			   h, "pci-conf1", err);
	if (ret) {
		bus_unregister(cfg->mmio, PLATFORM_ECAM_BASE);
		goto fail;
	}
	return 0;
fail:
	pci_dev_destroy(&h->bridge);
	pthread_mutex_destroy(&h->lock);
	return ret;
}

void pci_host_destroy(struct pci_host *h)
{
	unsigned int s, i;

	for (s = 0; s < PCI_SLOTS; s++) {
		struct pci_dev *d = h->slot[s];

		if (!d)
			continue;
		pthread_mutex_lock(&d->lock);
		for (i = 0; i < PCI_STD_NUM_BARS; i++)
			pci_bar_unmap(d, i);
		d->host = NULL;
		d->intx_out = false;
		pthread_mutex_unlock(&d->lock);
	}
	bus_unregister(h->cfg.pio, PLATFORM_PCI_CONFIG_ADDR);
	bus_unregister(h->cfg.mmio, PLATFORM_ECAM_BASE);
	pci_dev_destroy(&h->bridge);
	pthread_mutex_destroy(&h->lock);
}

int pci_host_add(struct pci_host *h, unsigned int slot, struct pci_dev *d, struct error *err)
{
	if (slot == 0 || slot >= PCI_SLOTS)
		return error_set(err, -EINVAL, "pci: slot %u for %s is not in 1..%u", slot, d->name,
				 PCI_SLOTS - 1);
	if (h->slot[slot])
		return error_set(err, -EBUSY, "pci: slot %u for %s holds %s", slot, d->name,
				 h->slot[slot]->name);
	if (d->host)
		return error_set(err, -EBUSY, "pci: %s is already in slot %u", d->name, d->slot);
	pthread_mutex_lock(&d->lock);
	d->host = h;
	d->slot = slot;
	/* What firmware would write: the GSI, for guests that do not read ACPI's _PRT. */
	if (d->cfg[PCI_INTERRUPT_PIN])
		d->cfg[PCI_INTERRUPT_LINE] = pci_intx_gsi(slot, d->cfg[PCI_INTERRUPT_PIN]);
	pci_update_bars(d);
	pci_intx_update(d);
	pthread_mutex_unlock(&d->lock);
	h->slot[slot] = d;
	return 0;
}

struct pci_window {
	const char *name;
	uint64_t next;
	uint64_t end;
};

struct pci_placement {
	struct pci_dev *d;
	unsigned int bar;
	uint64_t size;
	uint64_t addr;
};

/* Largest first, so natural alignment never leaves a hole; then in slot order. */
static int pci_placement_cmp(const void *a, const void *b)
{
	const struct pci_placement *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->d->slot != y->d->slot)
		return x->d->slot < y->d->slot ? -1 : 1;
	return x->bar < y->bar ? -1 : x->bar > y->bar;
}

/* A function whose header is hooked (an assigned one) decodes its BARs itself: firmware's
 * writes go through the hook, as the guest's would. */
static bool pci_header_hooked(const struct pci_dev *d)
{
	return pci_hooked(d, PCI_COMMAND) && pci_hooked(d, PCI_BASE_ADDRESS_0);
}

static void pci_bar_place(struct pci_dev *d, unsigned int i, uint64_t addr)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t lo, wm;

	if (pci_header_hooked(d)) {
		d->hook.ops->write(d->hook.opaque, reg - d->hook.offset, 4, (uint32_t)addr);
		if (d->bar[i].type == PCI_BAR_MEM64)
			d->hook.ops->write(d->hook.opaque, reg + 4 - d->hook.offset, 4, addr >> 32);
		return;
	}
	pthread_mutex_lock(&d->lock);
	lo = le_read(d->cfg + reg, 4);
	wm = le_read(d->wmask + reg, 4);
	le_write(d->cfg + reg, 4, (lo & ~wm) | ((uint32_t)addr & wm));
	if (d->bar[i].type == PCI_BAR_MEM64)
		le_write(d->cfg + reg + 4, 4, addr >> 32);
	pthread_mutex_unlock(&d->lock);
}

/* Turns memory and I/O decoding on for the kinds of BAR d has, or both off. */
static void pci_set_decode(struct pci_dev *d, bool on)
{
	const uint16_t mask = PCI_COMMAND_IO | PCI_COMMAND_MEMORY;
	uint16_t bits = 0;
	unsigned int i;

	for (i = 0; on && i < PCI_STD_NUM_BARS; i++)
		if (d->bar[i].type != PCI_BAR_UNUSED)
			bits |= d->bar[i].type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	if (pci_header_hooked(d)) {
		uint16_t cmd = d->hook.ops->read(d->hook.opaque, PCI_COMMAND - d->hook.offset, 2);

		d->hook.ops->write(d->hook.opaque, PCI_COMMAND - d->hook.offset, 2,
				   (cmd & ~mask) | bits);
		return;
	}
	pthread_mutex_lock(&d->lock);
	d->cfg[PCI_COMMAND] = (d->cfg[PCI_COMMAND] & ~mask) | bits;
	pci_update_bars(d);
	pthread_mutex_unlock(&d->lock);
}

int pci_host_assign_bars(struct pci_host *h, struct error *err)
{
	struct pci_placement p[PCI_SLOTS * PCI_STD_NUM_BARS];
	struct pci_window io = {"I/O", PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_BASE + PCI_IO_WINDOW_SIZE};
	struct pci_window m32 = {"32-bit", PLATFORM_PCI32_BASE,
				 PLATFORM_PCI32_BASE + PLATFORM_PCI32_SIZE};
	struct pci_window m64 = {"64-bit", h->cfg.mmio64_base,
				 h->cfg.mmio64_base + h->cfg.mmio64_size};
	unsigned int n = 0, s, i, k;

	for (s = 1; s < PCI_SLOTS; s++) {
		struct pci_dev *d = h->slot[s];

		for (i = 0; d && i < PCI_STD_NUM_BARS; i++)
			if (d->bar[i].type != PCI_BAR_UNUSED)
				p[n++] = (struct pci_placement){d, i, d->bar[i].size, 0};
	}
	qsort(p, n, sizeof(p[0]), pci_placement_cmp);
	for (k = 0; k < n; k++) {
		enum pci_bar_type type = p[k].d->bar[p[k].bar].type;
		struct pci_window *w = type == PCI_BAR_IO ? &io : &m32;
		uint64_t a;

		if (type == PCI_BAR_MEM64 && h->cfg.mmio64_size)
			w = &m64;
		a = (w->next + p[k].size - 1) & ~(p[k].size - 1);
		if (a < w->next || a > w->end || p[k].size > w->end - a)
			return error_set(
				err, -ENOSPC,
				"pci: %s BAR%u (0x%llx bytes) does not fit in the %s window",
				p[k].d->name, p[k].bar, (unsigned long long)p[k].size, w->name);
		p[k].addr = a;
		w->next = a + p[k].size;
	}
	/* Everything off first, so no BAR meets another's old place on the bus. */
	for (s = 1; s < PCI_SLOTS; s++)
		if (h->slot[s])
			pci_set_decode(h->slot[s], false);
	for (k = 0; k < n; k++)
		pci_bar_place(p[k].d, p[k].bar, p[k].addr);
	for (s = 1; s < PCI_SLOTS; s++)
		if (h->slot[s])
			pci_set_decode(h->slot[s], true);
	h->mmio64_end = m64.next;
	return 0;
}
