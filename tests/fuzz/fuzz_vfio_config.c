// SPDX-License-Identifier: MIT
/*
 * A guest with free rein over the virtualized config space of an assigned function, over
 * a fake device fd (a config image in memory that checks what reaches it), and over its
 * emulated MSI-X table and PBA. The input first shapes the device, then drives it:
 *   byte 0       number of patches (low 4 bits), each two bytes: offset, value, applied
 *                to an NVMe-like image (64-bit BAR 0, I/O BAR 2, MSI-X in BAR 4, MSI,
 *                power management and PCI Express capabilities, an extended space)
 *   6 bytes      per BAR: 0 keeps the image's size, 0xff removes the region, another
 *                value n gives it 1 << (n % 40) bytes
 *   then ops     a byte: bits 2:0 0 config read, 1 config write, 2 reset, 3 the device
 *                changes a byte of its own, 4 MSI-X table read, 5 table write, 6 PBA
 *                read, 7 the device signals a vector; bits 4:3 log2 of the access size
 *                (config space: 8 bytes go through io_ops); then a 2-byte offset (or
 *                vector) and, for writes, the value (4 bytes, 8 for the table; 1 for a
 *                device change)
 * After every step it checks what must hold whatever the guest did: no BAR address, ROM,
 * MSI or MSI-X register or capability link ever reaches the device, COMMAND reaches it
 * only with the bits a guest may set, the BAR decode events pair up and match COMMAND and
 * the BAR registers, sizing reads answer with the region's size, read-only registers
 * keep their values, a vector is live exactly while MSI-X is on and neither the function
 * nor the vector is masked, only live vectors are delivered and none of them is pending.
 */
#include <linux/pci_regs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_input.h"
#include "vfio/msix.h"
#include "vfio/pci_config.h"

#define COMMAND_GUEST                                                                              \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |           \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

struct harness {
	struct vfio_pci_config c;
	uint8_t img[VFIO_PCI_CFG_EXP_SIZE];
	uint64_t bar_size[VFIO_PCI_NUM_BARS];
	/* The listener's view, rebuilt from its events. */
	bool mapped[VFIO_PCI_NUM_BARS];
	uint64_t addr[VFIO_PCI_NUM_BARS];
	struct vfio_pci_msi msi;
	bool msix_on, msix_masked;
	uint32_t id, class;
	struct vfio_msix msix;
	bool msix_ready;
	bool live[VFIO_MSIX_MAX_VECTORS]; /* what the MSI-X listener was told */
};

static void put(uint8_t *p, unsigned int off, unsigned int size, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		p[off + i] = v >> (8 * i);
}

static int dev_read(void *ctx, unsigned int off, void *buf, unsigned int len)
{
	struct harness *h = ctx;

	FUZZ_CHECK(len <= 4 && off < sizeof(h->img) && len <= sizeof(h->img) - off);
	memcpy(buf, h->img + off, len);
	return 0;
}

/* The registers a guest write may reach, and COMMAND only with the guest's bits. */
static int dev_write(void *ctx, unsigned int off, const void *buf, unsigned int len)
{
	struct harness *h = ctx;
	const struct vfio_pci_config *c = &h->c;
	const uint8_t *b = buf;
	unsigned int i, o;

	FUZZ_CHECK(len >= 1 && len <= 4 && off < VFIO_PCI_CFG_SIZE &&
		   len <= VFIO_PCI_CFG_SIZE - off);
	for (i = 0; i < len; i++) {
		o = off + i;
		if (o == PCI_COMMAND)
			FUZZ_CHECK(!(b[i] & ~(COMMAND_GUEST & 0xff)));
		else if (o == PCI_COMMAND + 1)
			FUZZ_CHECK(!(b[i] & ~(COMMAND_GUEST >> 8)));
		else
			FUZZ_CHECK(o == PCI_STATUS || o == PCI_STATUS + 1 ||
				   o >= PCI_STD_HEADER_SIZEOF);
		FUZZ_CHECK(!c->virt[o] || o == PCI_COMMAND || o == PCI_COMMAND + 1);
		/* Checked apart from virt[]: the shortest MSI capability has 10 bytes. */
		if (c->msi_cap)
			FUZZ_CHECK(o < c->msi_cap || o >= c->msi_cap + 10);
		if (c->msix_cap)
			FUZZ_CHECK(o < c->msix_cap || o >= c->msix_cap + PCI_CAP_MSIX_SIZEOF);
		h->img[o] = b[i];
	}
	return 0;
}

static const struct vfio_pci_dev_ops dev_ops = {dev_read, dev_write};

static void on_bar(void *ctx, unsigned int bar, bool mapped, uint64_t addr, uint64_t size)
{
	struct harness *h = ctx;
	const struct vfio_pci_bar *b;

	FUZZ_CHECK(bar < VFIO_PCI_NUM_BARS);
	b = &h->c.bar[bar];
	FUZZ_CHECK(size == b->size && addr && !(addr & (size - 1)));
	FUZZ_CHECK(mapped != h->mapped[bar]);
	if (!mapped)
		FUZZ_CHECK(addr == h->addr[bar]);
	if (b->type == VFIO_PCI_BAR_IO)
		FUZZ_CHECK(addr + size <= 0x10000);
	else if (b->type == VFIO_PCI_BAR_MEM32)
		FUZZ_CHECK(addr + size <= 0x100000000ULL);
	else
		FUZZ_CHECK(b->type == VFIO_PCI_BAR_MEM64 && addr + size > addr);
	h->mapped[bar] = mapped;
	h->addr[bar] = addr;
}

static void on_msi(void *ctx, const struct vfio_pci_msi *msi)
{
	struct harness *h = ctx;
	const struct vfio_pci_config *c = &h->c;

	FUZZ_CHECK(memcmp(msi, &h->msi, sizeof(*msi)));
	if (msi->enabled) {
		FUZZ_CHECK(msi->nvec >= 1 && msi->nvec <= c->msi_max && msi->nvec <= 32);
		FUZZ_CHECK(!(msi->nvec & (msi->nvec - 1)));
		FUZZ_CHECK(!(msi->addr & 3));
		FUZZ_CHECK(c->msi_64 || msi->addr <= UINT32_MAX);
		FUZZ_CHECK(c->msi_maskable || !msi->mask);
	} else {
		FUZZ_CHECK(!msi->nvec && !msi->addr && !msi->data && !msi->mask);
	}
	h->msi = *msi;
}

static void on_msix(void *ctx, bool enabled, bool masked)
{
	struct harness *h = ctx;

	FUZZ_CHECK(h->c.msix_cap);
	FUZZ_CHECK(enabled != h->msix_on || masked != h->msix_masked);
	h->msix_on = enabled;
	h->msix_masked = masked;
	if (h->msix_ready)
		vfio_msix_control(&h->msix, enabled, masked);
}

static void on_vector(void *ctx, unsigned int v, bool live, uint64_t addr, uint32_t data)
{
	struct harness *h = ctx;

	FUZZ_CHECK(v < h->msix.nvec);
	FUZZ_CHECK(live || (!addr && !data));
	FUZZ_CHECK(!(addr & 3));
	/* Quiet to quiet is no news; live to live is, with a new message. */
	FUZZ_CHECK(live != h->live[v] || live);
	h->live[v] = live;
}

static void on_deliver(void *ctx, unsigned int v, uint64_t addr, uint32_t data)
{
	struct harness *h = ctx;

	(void)addr;
	(void)data;
	FUZZ_CHECK(v < h->msix.nvec && h->live[v]);
}

/* The NVMe-like function of the unit tests. */
static void image(struct harness *h)
{
	uint8_t *p = h->img;

	put(p, PCI_VENDOR_ID, 4, 0x00101b36);
	put(p, PCI_CLASS_REVISION, 4, 0x01080210);
	put(p, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	put(p, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	put(p, PCI_BASE_ADDRESS_0, 4, PCI_BASE_ADDRESS_MEM_TYPE_64);
	put(p, PCI_BASE_ADDRESS_2, 4, PCI_BASE_ADDRESS_SPACE_IO);
	put(p, PCI_BASE_ADDRESS_4, 4, 0);
	put(p, PCI_ROM_ADDRESS, 4, 0xfeb80001);
	p[PCI_INTERRUPT_PIN] = 1;
	p[PCI_CAPABILITY_LIST] = 0x40;
	put(p, 0x40, 4, 0x0003 << 16 | 0x48 << 8 | PCI_CAP_ID_PM);
	put(p, 0x48, 4,
	    (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | 3 << 1) << 16 | 0x60 << 8 |
		    PCI_CAP_ID_MSI);
	put(p, 0x60, 4, 64 << 16 | 0x70 << 8 | PCI_CAP_ID_MSIX);
	put(p, 0x64, 4, 4);
	put(p, 0x68, 4, 0x800 | 4);
	put(p, 0x70, 4, 2 << 16 | PCI_CAP_ID_EXP);
	put(p, 0x100, 4, 0x00010001);
	h->bar_size[0] = 16 << 10;
	h->bar_size[2] = 8;
	h->bar_size[4] = 4 << 10;
}

/* What must hold between any two steps. */
static void check(struct harness *h)
{
	struct vfio_pci_config *c = &h->c;
	uint16_t cmd = vfio_pci_config_read(c, PCI_COMMAND, 2);
	unsigned int i;

	FUZZ_CHECK(!(cmd & ~COMMAND_GUEST));
	FUZZ_CHECK(vfio_pci_config_read(c, PCI_VENDOR_ID, 4) == h->id);
	FUZZ_CHECK(vfio_pci_config_read(c, PCI_CLASS_REVISION, 4) == h->class);
	FUZZ_CHECK(vfio_pci_config_read(c, PCI_ROM_ADDRESS, 4) == 0);
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		const struct vfio_pci_bar *b = &c->bar[i];
		uint32_t v = vfio_pci_config_read(c, PCI_BASE_ADDRESS_0 + 4 * i, 4);

		FUZZ_CHECK(b->mapped == h->mapped[i]);
		FUZZ_CHECK(!b->mapped || b->addr == h->addr[i]);
		switch (b->type) {
		case VFIO_PCI_BAR_UNUSED:
			FUZZ_CHECK(v == 0 && !b->mapped);
			break;
		case VFIO_PCI_BAR_IO:
			FUZZ_CHECK((v & 3) == 1 && !(v & (b->size - 1) & ~3U));
			FUZZ_CHECK(!b->mapped || (cmd & PCI_COMMAND_IO));
			break;
		case VFIO_PCI_BAR_MEM32:
		case VFIO_PCI_BAR_MEM64:
			FUZZ_CHECK(!(v & (b->size - 1) & ~0xfU));
			FUZZ_CHECK(!b->mapped || (cmd & PCI_COMMAND_MEMORY));
			break;
		case VFIO_PCI_BAR_UPPER:
			FUZZ_CHECK(i > 0 && c->bar[i - 1].type == VFIO_PCI_BAR_MEM64 && !b->mapped);
			break;
		}
	}
	FUZZ_CHECK(c->msi.enabled == h->msi.enabled);
	FUZZ_CHECK(c->msix_enabled == h->msix_on && c->msix_masked == h->msix_masked);
	if (!h->msix_ready)
		return;
	for (i = 0; i < h->msix.nvec; i++) {
		uint32_t ctrl =
			vfio_msix_table_read(&h->msix, i * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4);
		bool live = h->msix_on && !h->msix_masked && !(ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
		bool pending = vfio_msix_pba_read(&h->msix, i / 8, 1) & (1U << (i % 8));

		FUZZ_CHECK(!(ctrl & ~PCI_MSIX_ENTRY_CTRL_MASKBIT));
		FUZZ_CHECK(h->live[i] == live);
		FUZZ_CHECK(!(live && pending));
	}
	/* The PBA's bits past the last vector stay clear. */
	if (h->msix.nvec % 64)
		FUZZ_CHECK(!(vfio_msix_pba_read(&h->msix, (h->msix.nvec / 64) * 8, 8) >>
			     (h->msix.nvec % 64)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	struct fuzz_input in = {data, size, 0};
	struct vfio_pci_config_listener l = {on_bar, on_msi, on_msix, &h};
	struct vfio_msix_listener ml = {on_vector, on_deliver, &h};
	struct error err = {0};
	unsigned int n, i;

	memset(&h, 0, sizeof(h));
	image(&h);
	n = fuzz_take(&in, 1) & 15;
	for (i = 0; i < n; i++) {
		unsigned int off = fuzz_take(&in, 1);

		h.img[off] = fuzz_take(&in, 1);
	}
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		unsigned int v = fuzz_take(&in, 1);

		if (v == 0xff)
			h.bar_size[i] = 0;
		else if (v)
			h.bar_size[i] = 1ULL << (v % 40);
	}
	h.id = h.img[0] | h.img[1] << 8 | h.img[2] << 16 | (uint32_t)h.img[3] << 24;
	h.class = h.img[8] | h.img[9] << 8 | h.img[10] << 16 | (uint32_t)h.img[11] << 24;
	if (vfio_pci_config_init(&h.c, "0000:00:03.0", &dev_ops, &h, h.bar_size,
				 VFIO_PCI_CFG_EXP_SIZE, &l, &err)) {
		FUZZ_CHECK(err.code < 0 && err.msg[0] && !strchr(err.msg, '\n'));
		return 0;
	}
	/* Init turned decoding and bus mastering off on the device. */
	FUZZ_CHECK(!(h.img[PCI_COMMAND] & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)));
	if (h.c.msix_cap) {
		FUZZ_CHECK(!vfio_msix_init(&h.msix, h.c.msix_nvec, &ml, &err));
		h.msix_ready = true;
	}
	check(&h);
	while (fuzz_left(&in)) {
		unsigned int op = fuzz_take(&in, 1), sz = 1U << ((op >> 3) & 3);
		unsigned int off = fuzz_take(&in, 2);

		switch (op & 7) {
		case 0:
			if (sz == 8)
				vfio_pci_config_io_ops.read(&h.c, off % 0x1100, sz);
			else
				vfio_pci_config_read(&h.c, off % 0x1100, sz);
			break;
		case 1:
			if (sz == 8)
				vfio_pci_config_io_ops.write(&h.c, off % 0x1100, sz,
							     fuzz_take(&in, 4));
			else
				vfio_pci_config_write(&h.c, off % 0x1100, sz, fuzz_take(&in, 4));
			break;
		case 2:
			vfio_pci_config_reset(&h.c);
			if (h.msix_ready)
				vfio_msix_reset(&h.msix);
			FUZZ_CHECK(!h.img[PCI_COMMAND] && !h.img[PCI_COMMAND + 1]);
			break;
		case 3:
			/* The device's own state moves (status bits, capability registers). */
			h.img[off % VFIO_PCI_CFG_EXP_SIZE] = fuzz_take(&in, 1);
			break;
		case 4:
			if (h.msix_ready)
				vfio_msix_table_read(&h.msix, off, sz);
			break;
		case 5:
			if (h.msix_ready)
				vfio_msix_table_write(&h.msix, off, sz, fuzz_take(&in, 8));
			break;
		case 6:
			if (h.msix_ready)
				vfio_msix_pba_read(&h.msix, off % 0x200, sz);
			break;
		case 7:
			if (h.msix_ready)
				vfio_msix_notify(&h.msix, off % (h.msix.nvec + 1));
			break;
		}
		check(&h);
	}
	if (h.msix_ready)
		vfio_msix_destroy(&h.msix);
	vfio_pci_config_destroy(&h.c);
	return 0;
}
