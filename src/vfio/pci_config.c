// SPDX-License-Identifier: MIT
#include "vfio/pci_config.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "base/le.h"
#include "base/size.h"

/* COMMAND bits the guest controls and the device receives. */
#define COMMAND_WRITABLE                                                                           \
	(PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* STATUS error bits, cleared by writing 1. */
#define STATUS_W1C                                                                                 \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |           \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)
#define IO_SPACE_END 0x10000ULL
#define MEM32_END 0x100000000ULL
#define CAP_MAX 48 /* (256 - 64) / 4: more capabilities than that means a loop */

static uint32_t ones(unsigned int size)
{
	return size >= 4 ? 0xffffffff : (1U << (8 * size)) - 1;
}

/* Marks [off, off + size) virtual with a value and write mask. */
static void virt_set(struct vfio_pci_config *c, unsigned int off, unsigned int size, uint32_t value,
		     uint32_t wmask)
{
	le_write(c->shadow + off, size, value);
	le_write(c->wmask + off, size, wmask);
	memset(c->virt + off, 1, size);
}

static bool access_ok(unsigned int off, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && off < VFIO_PCI_CFG_EXP_SIZE &&
	       (off & 3) + size <= 4;
}

/* The device's bytes; all ones (a device that went away) when it cannot be read. */
static uint32_t dev_read(struct vfio_pci_config *c, unsigned int off, unsigned int size)
{
	uint8_t buf[4];

	if (c->ops->read(c->ctx, off, buf, size))
		return ones(size);
	return le_read(buf, size);
}

static void dev_write(struct vfio_pci_config *c, unsigned int off, unsigned int size, uint32_t v)
{
	uint8_t buf[4];

	le_write(buf + 0, size, v);
	/* A failed write is what hardware does with a write it ignores: nothing to report. */
	c->ops->write(c->ctx, off, buf, size);
}

/* Where BAR i decodes now, if it does. */
static bool bar_target(const struct vfio_pci_config *c, unsigned int i, uint64_t *addr)
{
	const struct vfio_pci_bar *b = &c->bar[i];
	uint16_t cmd = le_read(c->shadow + PCI_COMMAND, 2);
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint64_t a = le_read(c->shadow + reg, 4);

	switch (b->type) {
	case VFIO_PCI_BAR_IO:
		a &= PCI_BASE_ADDRESS_IO_MASK;
		if (!(cmd & PCI_COMMAND_IO) || a + b->size > IO_SPACE_END)
			return false;
		break;
	case VFIO_PCI_BAR_MEM32:
		a &= PCI_BASE_ADDRESS_MEM_MASK;
		if (!(cmd & PCI_COMMAND_MEMORY) || a + b->size > MEM32_END)
			return false;
		break;
	case VFIO_PCI_BAR_MEM64:
		a = (a | (uint64_t)le_read(c->shadow + reg + 4, 4) << 32) & ~0xfULL;
		if (!(cmd & PCI_COMMAND_MEMORY) || a + b->size < a)
			return false;
		break;
	default:
		return false;
	}
	*addr = a;
	return a != 0;
}

static void update_bars(struct vfio_pci_config *c)
{
	const struct vfio_pci_config_listener *l = &c->listener;
	unsigned int i;

	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		struct vfio_pci_bar *b = &c->bar[i];
		uint64_t addr = 0;
		bool want = bar_target(c, i, &addr);

		if (b->mapped && (!want || addr != b->addr)) {
			b->mapped = false;
			if (l->bar_changed)
				l->bar_changed(l->ctx, i, false, b->addr, b->size);
		}
		if (want && !b->mapped) {
			b->mapped = true;
			b->addr = addr;
			if (l->bar_changed)
				l->bar_changed(l->ctx, i, true, addr, b->size);
		}
	}
}

/* Where the MSI registers are in this capability's layout. */
static unsigned int msi_data_off(const struct vfio_pci_config *c)
{
	return c->msi_cap + (c->msi_64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32);
}

static unsigned int msi_mask_off(const struct vfio_pci_config *c)
{
	return c->msi_cap + (c->msi_64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
}

static unsigned int msi_len(bool is64, bool maskable)
{
	return (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32) + 4 + (maskable ? 8 : 0);
}

static void update_msi(struct vfio_pci_config *c)
{
	const struct vfio_pci_config_listener *l = &c->listener;
	struct vfio_pci_msi m = {0};
	uint16_t ctl;
	unsigned int qsize;

	if (!c->msi_cap)
		return;
	ctl = le_read(c->shadow + c->msi_cap + PCI_MSI_FLAGS, 2);
	m.enabled = ctl & PCI_MSI_FLAGS_ENABLE;
	if (m.enabled) {
		/* More vectors than the device offers is the guest's error; it gets the most. */
		qsize = (ctl & PCI_MSI_FLAGS_QSIZE) >> 4;
		m.nvec = 1U << qsize < c->msi_max ? 1U << qsize : c->msi_max;
		m.addr = le_read(c->shadow + c->msi_cap + PCI_MSI_ADDRESS_LO, 4);
		if (c->msi_64)
			m.addr |= (uint64_t)le_read(c->shadow + c->msi_cap + PCI_MSI_ADDRESS_HI, 4)
				  << 32;
		m.data = le_read(c->shadow + msi_data_off(c), 2);
		if (c->msi_maskable)
			m.mask = le_read(c->shadow + msi_mask_off(c), 4);
	}
	if (memcmp(&m, &c->msi, sizeof(m))) {
		c->msi = m;
		if (l->msi_changed)
			l->msi_changed(l->ctx, &m);
	}
}

static void update_msix(struct vfio_pci_config *c)
{
	const struct vfio_pci_config_listener *l = &c->listener;
	uint16_t ctl;
	bool enabled, masked;

	if (!c->msix_cap)
		return;
	ctl = le_read(c->shadow + c->msix_cap + PCI_MSIX_FLAGS, 2);
	enabled = ctl & PCI_MSIX_FLAGS_ENABLE;
	masked = ctl & PCI_MSIX_FLAGS_MASKALL;
	if (enabled == c->msix_enabled && masked == c->msix_masked)
		return;
	c->msix_enabled = enabled;
	c->msix_masked = masked;
	if (l->msix_changed)
		l->msix_changed(l->ctx, enabled, masked);
}

/* BAR i from its register's flag bits and vfio's region size. */
static int init_bar(struct vfio_pci_config *c, unsigned int i, const uint64_t *bar_size,
		    struct error *err)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t v = le_read(c->shadow + reg, 4);
	uint64_t size = bar_size[i], mask;
	struct vfio_pci_bar *b = &c->bar[i];

	/* The 64-bit BAR below has set this register up already. */
	if (b->type == VFIO_PCI_BAR_UPPER) {
		if (size)
			return error_set(err, -EINVAL,
					 "vfio device %s: BAR %u is the upper half of BAR %u but "
					 "has a region of its own",
					 c->name, i, i - 1);
		return 0;
	}
	virt_set(c, reg, 4, 0, 0);
	if (!size)
		return 0;
	if (size & (size - 1))
		return error_set(err, -EINVAL,
				 "vfio device %s: BAR %u size %" PRIu64 " is not a power of two",
				 c->name, i, size);
	if (v & PCI_BASE_ADDRESS_SPACE_IO) {
		if (size < 4 || size > IO_SPACE_END)
			return error_set(err, -EINVAL,
					 "vfio device %s: I/O BAR %u of %" PRIu64 " bytes", c->name,
					 i, size);
		b->type = VFIO_PCI_BAR_IO;
		virt_set(c, reg, 4, PCI_BASE_ADDRESS_SPACE_IO, ~(uint32_t)(size - 1) & ~3U);
	} else {
		switch (v & PCI_BASE_ADDRESS_MEM_TYPE_MASK) {
		case PCI_BASE_ADDRESS_MEM_TYPE_32:
			if (size > MEM32_END / 2)
				return error_set(err, -EINVAL,
						 "vfio device %s: 32-bit BAR %u of %s", c->name, i,
						 size_str(size).s);
			b->type = VFIO_PCI_BAR_MEM32;
			break;
		case PCI_BASE_ADDRESS_MEM_TYPE_64:
			if (i == VFIO_PCI_NUM_BARS - 1)
				return error_set(err, -EINVAL,
						 "vfio device %s: 64-bit BAR %u has no upper half",
						 c->name, i);
			b->type = VFIO_PCI_BAR_MEM64;
			c->bar[i + 1].type = VFIO_PCI_BAR_UPPER;
			break;
		default:
			return error_set(err, -EINVAL,
					 "vfio device %s: BAR %u has the reserved memory type",
					 c->name, i);
		}
		if (size < 16)
			return error_set(err, -EINVAL,
					 "vfio device %s: memory BAR %u of %" PRIu64 " bytes",
					 c->name, i, size);
		b->prefetchable = v & PCI_BASE_ADDRESS_MEM_PREFETCH;
		mask = ~(size - 1);
		virt_set(c, reg, 4, v & ~PCI_BASE_ADDRESS_MEM_MASK,
			 (uint32_t)mask & PCI_BASE_ADDRESS_MEM_MASK);
		if (b->type == VFIO_PCI_BAR_MEM64)
			virt_set(c, reg + 4, 4, 0, mask >> 32);
	}
	b->size = size;
	return 0;
}

static int init_msi(struct vfio_pci_config *c, unsigned int cap, struct error *err)
{
	uint16_t ctl = le_read(c->shadow + cap + PCI_MSI_FLAGS, 2);
	bool is64 = ctl & PCI_MSI_FLAGS_64BIT, maskable = ctl & PCI_MSI_FLAGS_MASKBIT;
	unsigned int len = msi_len(is64, maskable), max = 1U << ((ctl & PCI_MSI_FLAGS_QMASK) >> 1);
	uint16_t wctl = PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;

	if (c->msi_cap || cap + len > VFIO_PCI_CFG_SIZE)
		return error_set(err, -EINVAL,
				 "vfio device %s: MSI capability at 0x%x repeated or too long",
				 c->name, cap);
	c->msi_cap = cap;
	c->msi_64 = is64;
	c->msi_maskable = maskable;
	c->msi_max = max > 32 ? 32 : max;
	/* All of it virtual: the device is programmed through VFIO_DEVICE_SET_IRQS. */
	virt_set(c, cap + PCI_MSI_FLAGS, 2, ctl & ~wctl, wctl);
	virt_set(c, cap + PCI_MSI_ADDRESS_LO, 4, 0, 0xfffffffc);
	if (is64)
		virt_set(c, cap + PCI_MSI_ADDRESS_HI, 4, 0, 0xffffffff);
	virt_set(c, msi_data_off(c), 4, 0, 0xffff);
	if (maskable) {
		virt_set(c, msi_mask_off(c), 4, 0,
			 c->msi_max == 32 ? 0xffffffff : (1U << c->msi_max) - 1);
		virt_set(c, msi_mask_off(c) + 4, 4, 0, 0);
	}
	return 0;
}

/* A table or PBA of len bytes at offset in BAR bir must lie inside a memory BAR. */
static bool msix_fits(const struct vfio_pci_config *c, unsigned int bir, uint64_t offset,
		      uint64_t len)
{
	const struct vfio_pci_bar *b;

	if (bir >= VFIO_PCI_NUM_BARS)
		return false;
	b = &c->bar[bir];
	if (b->type != VFIO_PCI_BAR_MEM32 && b->type != VFIO_PCI_BAR_MEM64)
		return false;
	return offset <= b->size && len <= b->size - offset;
}

static int init_msix(struct vfio_pci_config *c, unsigned int cap, struct error *err)
{
	uint16_t ctl = le_read(c->shadow + cap + PCI_MSIX_FLAGS, 2);
	uint32_t table = le_read(c->shadow + cap + PCI_MSIX_TABLE, 4);
	uint32_t pba = le_read(c->shadow + cap + PCI_MSIX_PBA, 4);
	uint16_t wctl = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;

	if (c->msix_cap || cap + PCI_CAP_MSIX_SIZEOF > VFIO_PCI_CFG_SIZE)
		return error_set(err, -EINVAL,
				 "vfio device %s: MSI-X capability at 0x%x repeated or too long",
				 c->name, cap);
	c->msix_cap = cap;
	c->msix_nvec = (ctl & PCI_MSIX_FLAGS_QSIZE) + 1;
	c->msix_table_bar = table & PCI_MSIX_TABLE_BIR;
	c->msix_table_offset = table & PCI_MSIX_TABLE_OFFSET;
	c->msix_pba_bar = pba & PCI_MSIX_PBA_BIR;
	c->msix_pba_offset = pba & PCI_MSIX_PBA_OFFSET;
	if (!msix_fits(c, c->msix_table_bar, c->msix_table_offset,
		       (uint64_t)c->msix_nvec * PCI_MSIX_ENTRY_SIZE) ||
	    !msix_fits(c, c->msix_pba_bar, c->msix_pba_offset, (c->msix_nvec + 63) / 64 * 8))
		return error_set(err, -EINVAL,
				 "vfio device %s: MSI-X table (BAR %u + 0x%" PRIx32
				 ") or PBA (BAR %u + 0x%" PRIx32 ") for %u vectors lies outside "
				 "its memory BAR",
				 c->name, c->msix_table_bar, c->msix_table_offset, c->msix_pba_bar,
				 c->msix_pba_offset, c->msix_nvec);
	virt_set(c, cap + PCI_MSIX_FLAGS, 2, ctl & ~wctl, wctl);
	virt_set(c, cap + PCI_MSIX_TABLE, 4, table, 0);
	virt_set(c, cap + PCI_MSIX_PBA, 4, pba, 0);
	return 0;
}

/* Walks the capability list: finds MSI and MSI-X, fixes every ID and next pointer. */
static int init_caps(struct vfio_pci_config *c, struct error *err)
{
	uint8_t seen[VFIO_PCI_CFG_SIZE] = {0};
	unsigned int cap, n = 0;
	int ret = 0;

	virt_set(c, PCI_CAPABILITY_LIST, 1, c->shadow[PCI_CAPABILITY_LIST], 0);
	if (!(le_read(c->shadow + PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	for (cap = c->shadow[PCI_CAPABILITY_LIST] & ~3U; cap; cap = c->shadow[cap + 1] & ~3U) {
		if (cap < PCI_STD_HEADER_SIZEOF || seen[cap] || ++n > CAP_MAX)
			return error_set(err, -EINVAL,
					 "vfio device %s: capability list loops or leaves the "
					 "capability area at 0x%x",
					 c->name, cap);
		seen[cap] = 1;
		virt_set(c, cap, 2, le_read(c->shadow + cap, 2), 0);
		if (c->shadow[cap] == PCI_CAP_ID_MSI)
			ret = init_msi(c, cap, err);
		else if (c->shadow[cap] == PCI_CAP_ID_MSIX)
			ret = init_msix(c, cap, err);
		if (ret)
			return ret;
	}
	return 0;
}

int vfio_pci_config_init(struct vfio_pci_config *c, const char *name,
			 const struct vfio_pci_dev_ops *ops, void *ctx,
			 const uint64_t bar_size[VFIO_PCI_NUM_BARS], unsigned int size,
			 const struct vfio_pci_config_listener *listener, struct error *err)
{
	/* Read-only header registers: IDs, class, header type, BIST, CardBus CIS, subsystem,
	 * interrupt pin, MIN_GNT and MAX_LAT. */
	static const struct {
		uint8_t off, len;
	} ro_header[] = {
		{PCI_VENDOR_ID, 4},   {PCI_CLASS_REVISION, 4}, {PCI_HEADER_TYPE, 2},
		{PCI_CARDBUS_CIS, 8}, {PCI_INTERRUPT_PIN, 3},
	};
	unsigned int i, off;
	int ret;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->ops = ops;
	c->ctx = ctx;
	if (listener)
		c->listener = *listener;
	if (size != VFIO_PCI_CFG_SIZE && size != VFIO_PCI_CFG_EXP_SIZE)
		return error_set(err, -EINVAL, "vfio device %s: config space of %u bytes", c->name,
				 size);
	c->size = size;
	for (off = 0; off < VFIO_PCI_CFG_SIZE; off += 4) {
		ret = ops->read(ctx, off, c->shadow + off, 4);
		if (ret)
			return error_set(err, ret,
					 "vfio device %s: cannot read its config space: %s",
					 c->name, strerror(-ret));
	}
	if (le_read(c->shadow + PCI_VENDOR_ID, 2) == 0xffff)
		return error_set(err, -ENODEV, "vfio device %s: config space reads all ones",
				 c->name);
	if ((c->shadow[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK) != PCI_HEADER_TYPE_NORMAL)
		return error_set(err, -EINVAL,
				 "vfio device %s: header type %u; only endpoints (type 0) can "
				 "be assigned",
				 c->name, c->shadow[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK);

	/* Capability bodies pass through by default; the header is virtual. */
	memset(c->wmask + PCI_STD_HEADER_SIZEOF, 0xff, VFIO_PCI_CFG_SIZE - PCI_STD_HEADER_SIZEOF);
	for (i = 0; i < sizeof(ro_header) / sizeof(ro_header[0]); i++)
		for (off = ro_header[i].off; off < ro_header[i].off + ro_header[i].len; off++)
			virt_set(c, off, 1, c->shadow[off], 0);
	virt_set(c, PCI_COMMAND, 2, 0, 0);
	le_write(c->w1c + PCI_STATUS, 2, STATUS_W1C);
	virt_set(c, PCI_CACHE_LINE_SIZE, 1, c->shadow[PCI_CACHE_LINE_SIZE], 0xff);
	virt_set(c, PCI_LATENCY_TIMER, 1, c->shadow[PCI_LATENCY_TIMER], 0xff);
	virt_set(c, PCI_INTERRUPT_LINE, 1, 0, 0xff);
	virt_set(c, PCI_ROM_ADDRESS, 4, 0, 0);
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		ret = init_bar(c, i, bar_size, err);
		if (ret)
			return ret;
	}
	ret = init_caps(c, err);
	if (ret)
		return ret;

	le_write(c->wmask + PCI_COMMAND, 2, COMMAND_WRITABLE);
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		if (c->bar[i].type == VFIO_PCI_BAR_IO)
			c->wmask[PCI_COMMAND] |= PCI_COMMAND_IO;
		else if (c->bar[i].size)
			c->wmask[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
	}
	pthread_mutex_init(&c->lock, NULL);
	vfio_pci_config_reset(c);
	return 0;
}

void vfio_pci_config_destroy(struct vfio_pci_config *c)
{
	pthread_mutex_destroy(&c->lock);
}

void vfio_pci_config_set_intx_line(struct vfio_pci_config *c, uint8_t line)
{
	pthread_mutex_lock(&c->lock);
	c->intx_line = line;
	pthread_mutex_unlock(&c->lock);
}

void vfio_pci_config_reset(struct vfio_pci_config *c)
{
	unsigned int i, reg;

	pthread_mutex_lock(&c->lock);
	le_write(c->shadow + PCI_COMMAND, 2, 0);
	/* The device stops decoding and mastering before anyone relies on it. */
	dev_write(c, PCI_COMMAND, 2, 0);
	c->shadow[PCI_INTERRUPT_LINE] = c->intx_line;
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		reg = PCI_BASE_ADDRESS_0 + 4 * i;
		le_write(c->shadow + reg, 4,
			 le_read(c->shadow + reg, 4) & ~le_read(c->wmask + reg, 4));
	}
	if (c->msi_cap) {
		le_write(c->shadow + c->msi_cap + PCI_MSI_FLAGS, 2,
			 le_read(c->shadow + c->msi_cap + PCI_MSI_FLAGS, 2) &
				 ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE));
		for (reg = c->msi_cap + PCI_MSI_ADDRESS_LO;
		     reg < c->msi_cap + msi_len(c->msi_64, c->msi_maskable); reg++)
			c->shadow[reg] = 0;
	}
	if (c->msix_cap)
		le_write(c->shadow + c->msix_cap + PCI_MSIX_FLAGS, 2,
			 le_read(c->shadow + c->msix_cap + PCI_MSIX_FLAGS, 2) &
				 ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
	update_bars(c);
	update_msi(c);
	update_msix(c);
	pthread_mutex_unlock(&c->lock);
}

uint32_t vfio_pci_config_read(struct vfio_pci_config *c, unsigned int offset, unsigned int size)
{
	uint32_t live = 0, v = 0;
	unsigned int i;
	bool need_live = false;

	if (!access_ok(offset, size))
		return ones(size);
	if (offset >= VFIO_PCI_CFG_SIZE)
		return offset < c->size ? dev_read(c, offset, size) : 0;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < size; i++)
		need_live |= !c->virt[offset + i];
	if (need_live)
		live = dev_read(c, offset, size);
	for (i = 0; i < size; i++) {
		uint8_t b = c->virt[offset + i] ? c->shadow[offset + i] : live >> (8 * i);

		v |= (uint32_t)b << (8 * i);
	}
	pthread_mutex_unlock(&c->lock);
	return v;
}

/* Bytes [off, off + len) of a guest write that belong to the device, merged with its own. */
static void write_through(struct vfio_pci_config *c, unsigned int off, unsigned int len,
			  uint32_t value)
{
	uint32_t mask = 0, live;
	unsigned int i;

	for (i = 0; i < len; i++)
		mask |= (uint32_t)(c->wmask[off + i] | c->w1c[off + i]) << (8 * i);
	if (!mask)
		return;
	/* Read-only bits go back as they are; write-1-to-clear bits only as the guest wrote. */
	live = mask == ones(len) ? 0 : dev_read(c, off, len);
	dev_write(c, off, len, (live & ~mask) | (value & mask));
}

void vfio_pci_config_write(struct vfio_pci_config *c, unsigned int offset, unsigned int size,
			   uint32_t value)
{
	unsigned int i, run = 0, end = offset + size;
	uint16_t cmd;

	if (!access_ok(offset, size) || offset >= VFIO_PCI_CFG_SIZE)
		return;
	pthread_mutex_lock(&c->lock);
	cmd = le_read(c->shadow + PCI_COMMAND, 2);
	for (i = 0; i < size; i++) {
		unsigned int o = offset + i;
		uint8_t b = value >> (8 * i), m = c->wmask[o];

		if (c->virt[o]) {
			c->shadow[o] = (c->shadow[o] & ~m) | (b & m);
			continue;
		}
		/* Runs of device bytes go to the device as one write each. */
		if (i + 1 == size || c->virt[o + 1]) {
			write_through(c, o - run, run + 1, value >> (8 * (i - run)));
			run = 0;
		} else {
			run++;
		}
	}
	if (le_read(c->shadow + PCI_COMMAND, 2) != cmd)
		dev_write(c, PCI_COMMAND, 2, le_read(c->shadow + PCI_COMMAND, 2));
	if (offset < PCI_BASE_ADDRESS_5 + 4 && end > PCI_COMMAND)
		update_bars(c);
	if (c->msi_cap && offset < c->msi_cap + msi_len(c->msi_64, c->msi_maskable) &&
	    end > c->msi_cap)
		update_msi(c);
	if (c->msix_cap && offset < c->msix_cap + PCI_MSIX_FLAGS + 2 && end > c->msix_cap)
		update_msix(c);
	pthread_mutex_unlock(&c->lock);
}

static uint64_t io_read(void *opaque, uint64_t offset, unsigned int size)
{
	if (size > 4 || offset >= VFIO_PCI_CFG_EXP_SIZE)
		return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
	return vfio_pci_config_read(opaque, offset, size);
}

static void io_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	if (offset < VFIO_PCI_CFG_EXP_SIZE)
		vfio_pci_config_write(opaque, offset, size, value);
}

const struct io_ops vfio_pci_config_io_ops = {io_read, io_write};
