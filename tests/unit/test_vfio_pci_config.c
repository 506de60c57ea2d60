// SPDX-License-Identifier: MIT
/*
 * The virtualized config space of an assigned function, against fake devices built here:
 * an edu-like one (a 32-bit BAR, MSI, a vendor capability) and an NVMe-like one (a 64-bit
 * BAR, an I/O BAR, MSI-X in a BAR of its own, power management and PCI Express
 * capabilities, an extended space). The fake device logs every write that reaches it.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vfio/pci_config.h"

struct dev_write {
	unsigned int off, len;
	uint32_t value;
};

struct fake_dev {
	uint8_t cfg[VFIO_PCI_CFG_EXP_SIZE];
	uint64_t bar_size[VFIO_PCI_NUM_BARS];
	unsigned int size;
	struct dev_write w[64];
	unsigned int nw;
	bool fail_read;
};

struct event {
	char kind; /* 'b' BAR, 'm' MSI, 'x' MSI-X */
	unsigned int bar;
	bool on;
	uint64_t addr, size;
	struct vfio_pci_msi msi;
	bool masked;
};

struct recorder {
	struct event ev[32];
	unsigned int n;
};

static int dev_read(void *ctx, unsigned int off, void *buf, unsigned int len)
{
	struct fake_dev *d = ctx;

	assert_true(off + len <= d->size);
	if (d->fail_read)
		return -EIO;
	memcpy(buf, d->cfg + off, len);
	return 0;
}

/* The error bits of STATUS, cleared by writing 1; all of them are in its upper byte. */
#define STATUS_ERRORS 0xf900

/* Stores what it gets, except STATUS: read-only but for its error bits. */
static int dev_write(void *ctx, unsigned int off, const void *buf, unsigned int len)
{
	struct fake_dev *d = ctx;
	const uint8_t *b = buf;
	unsigned int i;
	uint32_t v = 0;

	assert_true(off + len <= d->size);
	for (i = 0; i < len; i++) {
		v |= (uint32_t)b[i] << (8 * i);
		if (off + i == PCI_STATUS + 1)
			d->cfg[off + i] &= ~(b[i] & (STATUS_ERRORS >> 8));
		else if (off + i == PCI_STATUS)
			continue;
		else
			d->cfg[off + i] = b[i];
	}
	assert_true(d->nw < 64);
	d->w[d->nw++] = (struct dev_write){off, len, v};
	return 0;
}

static const struct vfio_pci_dev_ops dev_ops = {dev_read, dev_write};

static void rec_bar(void *ctx, unsigned int bar, bool mapped, uint64_t addr, uint64_t size)
{
	struct recorder *r = ctx;

	assert_true(r->n < 32);
	r->ev[r->n++] =
		(struct event){.kind = 'b', .bar = bar, .on = mapped, .addr = addr, .size = size};
}

static void rec_msi(void *ctx, const struct vfio_pci_msi *msi)
{
	struct recorder *r = ctx;

	assert_true(r->n < 32);
	r->ev[r->n++] = (struct event){.kind = 'm', .on = msi->enabled, .msi = *msi};
}

static void rec_msix(void *ctx, bool enabled, bool masked)
{
	struct recorder *r = ctx;

	assert_true(r->n < 32);
	r->ev[r->n++] = (struct event){.kind = 'x', .on = enabled, .masked = masked};
}

static void put(uint8_t *p, unsigned int off, unsigned int size, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		p[off + i] = v >> (8 * i);
}

static uint32_t get(const uint8_t *p, unsigned int off, unsigned int size)
{
	uint32_t v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (uint32_t)p[off + i] << (8 * i);
	return v;
}

static void header(struct fake_dev *d, uint16_t vendor, uint16_t device, uint32_t class)
{
	memset(d, 0, sizeof(*d));
	d->size = VFIO_PCI_CFG_SIZE;
	put(d->cfg, PCI_VENDOR_ID, 2, vendor);
	put(d->cfg, PCI_DEVICE_ID, 2, device);
	put(d->cfg, PCI_CLASS_REVISION, 4, class << 8 | 0x10);
	put(d->cfg, PCI_SUBSYSTEM_VENDOR_ID, 2, 0x1af4);
	put(d->cfg, PCI_SUBSYSTEM_ID, 2, 0x1100);
	d->cfg[PCI_INTERRUPT_PIN] = 1;
	d->cfg[PCI_INTERRUPT_LINE] = 11;
	/* What firmware on the host left: decoding on, a ROM address, a cache line size. */
	put(d->cfg, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	put(d->cfg, PCI_ROM_ADDRESS, 4, 0xfeb80001);
	d->cfg[PCI_CACHE_LINE_SIZE] = 0x10;
}

/* QEMU's edu: BAR0 1 MiB, 64-bit MSI with one vector, then a vendor capability. */
static void edu(struct fake_dev *d)
{
	header(d, 0x1234, 0x11e8, 0x00ff00);
	put(d->cfg, PCI_BASE_ADDRESS_0, 4, 0xfea00000);
	d->bar_size[0] = 1 << 20;
	put(d->cfg, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	d->cfg[PCI_CAPABILITY_LIST] = 0x40;
	d->cfg[0x40] = PCI_CAP_ID_MSI;
	d->cfg[0x41] = 0x50;
	put(d->cfg, 0x42, 2, PCI_MSI_FLAGS_64BIT);
	put(d->cfg, 0x44, 4, 0xfee01000); /* left over from the host's driver */
	d->cfg[0x50] = PCI_CAP_ID_VNDR;
	d->cfg[0x51] = 0;
	d->cfg[0x52] = 8;
	put(d->cfg, 0x54, 4, 0xcafe0000);
}

/* An NVMe controller: BAR0 64-bit 16K, BAR2 I/O 8 bytes, BAR4 4K with MSI-X (65 vectors). */
static void nvme(struct fake_dev *d)
{
	header(d, 0x1b36, 0x0010, 0x010802);
	d->size = VFIO_PCI_CFG_EXP_SIZE;
	put(d->cfg, PCI_BASE_ADDRESS_0, 4, 0xfe000000 | PCI_BASE_ADDRESS_MEM_TYPE_64);
	put(d->cfg, PCI_BASE_ADDRESS_1, 4, 0);
	put(d->cfg, PCI_BASE_ADDRESS_2, 4, 0xc001);
	put(d->cfg, PCI_BASE_ADDRESS_4, 4, 0xfe004000);
	d->bar_size[0] = 16 << 10;
	d->bar_size[2] = 8;
	d->bar_size[4] = 4 << 10;
	put(d->cfg, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	d->cfg[PCI_CAPABILITY_LIST] = 0x40;
	d->cfg[0x40] = PCI_CAP_ID_PM;
	d->cfg[0x41] = 0x50;
	put(d->cfg, 0x42, 2, 3);
	d->cfg[0x50] = PCI_CAP_ID_MSIX;
	d->cfg[0x51] = 0x60;
	put(d->cfg, 0x52, 2, 64 | PCI_MSIX_FLAGS_ENABLE);
	put(d->cfg, 0x54, 4, 0x0000 | 4); /* table at BAR4 + 0 */
	put(d->cfg, 0x58, 4, 0x0800 | 4); /* PBA at BAR4 + 0x800 */
	d->cfg[0x60] = PCI_CAP_ID_EXP;
	d->cfg[0x61] = 0;
	put(d->cfg, 0x62, 2, 2);
	put(d->cfg, 0x60 + PCI_EXP_DEVCTL, 2, 0x2810);
	put(d->cfg, 0x100, 4, 0x00010001); /* AER, version 1, last */
	put(d->cfg, 0x104, 4, 0x12345678);
}

static struct vfio_pci_config_listener listener(struct recorder *r)
{
	return (struct vfio_pci_config_listener){rec_bar, rec_msi, rec_msix, r};
}

static void setup(struct vfio_pci_config *c, struct fake_dev *d, struct recorder *r)
{
	struct vfio_pci_config_listener l = listener(r);
	struct error err = {0};

	memset(r, 0, sizeof(*r));
	if (vfio_pci_config_init(c, "0000:00:03.0", &dev_ops, d, d->bar_size, d->size, &l, &err))
		fail_msg("init: %s", err.msg);
	d->nw = 0;
}

static uint32_t rd(struct vfio_pci_config *c, unsigned int off, unsigned int size)
{
	return vfio_pci_config_read(c, off, size);
}

static void wr(struct vfio_pci_config *c, unsigned int off, unsigned int size, uint32_t v)
{
	vfio_pci_config_write(c, off, size, v);
}

/* No write reached the device inside [off, off + len). */
static void expect_untouched(const struct fake_dev *d, unsigned int off, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < d->nw; i++)
		if (d->w[i].off < off + len && off < d->w[i].off + d->w[i].len)
			fail_msg("device written at 0x%x", d->w[i].off);
}

static void test_init_state(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;
	uint8_t before[VFIO_PCI_CFG_EXP_SIZE];

	(void)state;
	edu(&d);
	memcpy(before, d.cfg, sizeof(before));
	setup(&c, &d, &r);
	/* Init stopped the device's decoding and mastering; nothing else reached it. */
	assert_int_equal(get(d.cfg, PCI_COMMAND, 2), 0);
	assert_int_equal(memcmp(before + 8, d.cfg + 8, sizeof(before) - 8), 0);
	assert_int_equal(rd(&c, PCI_VENDOR_ID, 4), 0x11e81234);
	assert_int_equal(rd(&c, PCI_CLASS_REVISION, 4), 0x00ff0010);
	assert_int_equal(rd(&c, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
	assert_int_equal(rd(&c, PCI_COMMAND, 2), 0);
	assert_int_equal(rd(&c, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 1), 0);
	assert_int_equal(rd(&c, PCI_CACHE_LINE_SIZE, 1), 0x10);
	/* The host's BAR address is not the guest's business. */
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_0, 4), 0);
	assert_int_equal(rd(&c, PCI_ROM_ADDRESS, 4), 0);
	assert_int_equal(c.bar[0].type, VFIO_PCI_BAR_MEM32);
	assert_int_equal(c.bar[1].type, VFIO_PCI_BAR_UNUSED);
	assert_int_equal(r.n, 0);
	/* Read-only header bytes stay as they are and never reach the device. */
	d.nw = 0;
	wr(&c, PCI_VENDOR_ID, 4, 0);
	wr(&c, PCI_CLASS_REVISION, 4, 0);
	wr(&c, PCI_HEADER_TYPE, 1, 0x80);
	wr(&c, PCI_BIST, 1, PCI_BIST_START);
	wr(&c, PCI_INTERRUPT_PIN, 1, 4);
	wr(&c, PCI_CAPABILITY_LIST, 1, 0x50);
	assert_int_equal(d.nw, 0);
	assert_int_equal(rd(&c, PCI_VENDOR_ID, 4), 0x11e81234);
	assert_int_equal(rd(&c, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(rd(&c, PCI_BIST, 1), 0);
	assert_int_equal(rd(&c, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(rd(&c, PCI_CAPABILITY_LIST, 1), 0x40);
	wr(&c, PCI_INTERRUPT_LINE, 1, 10);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 1), 10);
	assert_int_equal(d.nw, 0);
	vfio_pci_config_destroy(&c);
}

static void test_bar_mem32(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	edu(&d);
	setup(&c, &d, &r);
	wr(&c, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_0, 4), 0xfff00000);
	/* Unused BARs size to zero. */
	wr(&c, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_1, 4), 0);
	wr(&c, PCI_BASE_ADDRESS_0, 4, 0xc0012345);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_0, 4), 0xc0000000);
	assert_int_equal(r.n, 0);
	/* Decoding follows COMMAND.MEMORY. */
	wr(&c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].kind, 'b');
	assert_int_equal(r.ev[0].bar, 0);
	assert_true(r.ev[0].on);
	assert_int_equal(r.ev[0].addr, 0xc0000000);
	assert_int_equal(r.ev[0].size, 1 << 20);
	/* Moving it while decoding: off at the old address, on at the new one. */
	wr(&c, PCI_BASE_ADDRESS_0, 2, 0x0000);
	assert_int_equal(r.n, 1);
	wr(&c, PCI_BASE_ADDRESS_0 + 2, 2, 0xc010);
	assert_int_equal(r.n, 3);
	assert_false(r.ev[1].on);
	assert_int_equal(r.ev[1].addr, 0xc0000000);
	assert_true(r.ev[2].on);
	assert_int_equal(r.ev[2].addr, 0xc0100000);
	/* Sizing with decoding on takes it to the top of 32-bit space, as on hardware. */
	wr(&c, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.ev[4].addr, 0xfff00000);
	wr(&c, PCI_BASE_ADDRESS_0, 4, 0);
	assert_int_equal(r.n, 6);
	assert_false(r.ev[5].on);
	/* No BAR address ever reaches the device. */
	expect_untouched(&d, PCI_BASE_ADDRESS_0, 24);
	vfio_pci_config_destroy(&c);
}

static void test_bar_mem64_and_io(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	nvme(&d);
	setup(&c, &d, &r);
	assert_int_equal(c.bar[0].type, VFIO_PCI_BAR_MEM64);
	assert_int_equal(c.bar[1].type, VFIO_PCI_BAR_UPPER);
	assert_int_equal(c.bar[2].type, VFIO_PCI_BAR_IO);
	assert_int_equal(c.bar[4].type, VFIO_PCI_BAR_MEM32);
	wr(&c, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	wr(&c, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_0, 4), 0xffffc004);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_1, 4), 0xffffffff);
	wr(&c, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_2, 4), 0xfffffff9);
	wr(&c, PCI_BASE_ADDRESS_0, 4, 0x00000000);
	wr(&c, PCI_BASE_ADDRESS_1, 4, 0x00000080);
	wr(&c, PCI_BASE_ADDRESS_2, 4, 0x0000c100);
	wr(&c, PCI_BASE_ADDRESS_4, 4, 0xfe000000);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_2, 4), 0xc101);
	assert_int_equal(r.n, 0);
	/* I/O decoding alone maps the I/O BAR; the guest may set IO since there is one. */
	wr(&c, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(rd(&c, PCI_COMMAND, 2), PCI_COMMAND_IO);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].bar, 2);
	assert_int_equal(r.ev[0].addr, 0xc100);
	assert_int_equal(r.ev[0].size, 8);
	wr(&c, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ev[1].bar, 0);
	assert_int_equal(r.ev[1].addr, 0x8000000000ULL);
	assert_int_equal(r.ev[1].size, 16 << 10);
	assert_int_equal(r.ev[2].bar, 4);
	/* An I/O BAR past 64 KiB does not decode. */
	wr(&c, PCI_BASE_ADDRESS_2, 4, 0x10000);
	assert_int_equal(r.n, 4);
	assert_false(r.ev[3].on);
	assert_int_equal(r.ev[3].bar, 2);
	/* A 64-bit BAR that would wrap does not either. */
	wr(&c, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	wr(&c, PCI_BASE_ADDRESS_0, 4, 0xffffc000);
	assert_int_equal(r.ev[r.n - 1].kind, 'b');
	assert_false(r.ev[r.n - 1].on);
	assert_false(c.bar[0].mapped);
	expect_untouched(&d, PCI_BASE_ADDRESS_0, 24);
	vfio_pci_config_destroy(&c);
}

static void test_command_and_status(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	edu(&d);
	setup(&c, &d, &r);
	/* No I/O BAR: IO stays off; special cycles and the like are not the guest's. */
	wr(&c, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(rd(&c, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
							 PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
							 PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(get(d.cfg, PCI_COMMAND, 2), rd(&c, PCI_COMMAND, 2));
	assert_int_equal(d.nw, 1);
	/* Writing the same value again is not a device access. */
	wr(&c, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(d.nw, 1);
	wr(&c, PCI_COMMAND, 1, PCI_COMMAND_MEMORY);
	assert_int_equal(get(d.cfg, PCI_COMMAND, 2),
			 PCI_COMMAND_MEMORY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);

	/* STATUS comes from the device; its error bits clear by writing 1. */
	put(d.cfg, PCI_STATUS, 2,
	    PCI_STATUS_CAP_LIST | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY);
	assert_int_equal(rd(&c, PCI_STATUS, 2), PCI_STATUS_CAP_LIST | PCI_STATUS_REC_MASTER_ABORT |
							PCI_STATUS_DETECTED_PARITY);
	d.nw = 0;
	wr(&c, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	assert_int_equal(get(d.cfg, PCI_STATUS, 2),
			 PCI_STATUS_CAP_LIST | PCI_STATUS_DETECTED_PARITY);
	/* A dword write: COMMAND virtual, STATUS through, each as its own access. */
	d.nw = 0;
	wr(&c, PCI_COMMAND, 4, (uint32_t)PCI_STATUS_DETECTED_PARITY << 16 | PCI_COMMAND_MASTER);
	assert_int_equal(get(d.cfg, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	assert_int_equal(get(d.cfg, PCI_COMMAND, 2), PCI_COMMAND_MASTER);
	assert_int_equal(rd(&c, PCI_COMMAND, 4),
			 (uint32_t)PCI_STATUS_CAP_LIST << 16 | PCI_COMMAND_MASTER);
	assert_int_equal(d.nw, 2);
	/* Turning memory off unmaps nothing that was not mapped. */
	assert_int_equal(r.n, 0);
	vfio_pci_config_destroy(&c);
}

static void test_rom_hidden(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	nvme(&d);
	setup(&c, &d, &r);
	wr(&c, PCI_ROM_ADDRESS, 4, 0xfffff801);
	assert_int_equal(rd(&c, PCI_ROM_ADDRESS, 4), 0);
	assert_int_equal(d.nw, 0);
	assert_int_equal(get(d.cfg, PCI_ROM_ADDRESS, 4), 0xfeb80001);
	vfio_pci_config_destroy(&c);
}

static void test_msi(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;
	uint8_t before[0x10];

	(void)state;
	edu(&d);
	memcpy(before, d.cfg + 0x40, sizeof(before));
	setup(&c, &d, &r);
	assert_int_equal(c.msi_cap, 0x40);
	assert_true(c.msi_64);
	assert_false(c.msi_maskable);
	assert_int_equal(c.msi_max, 1);
	assert_int_equal(rd(&c, 0x40, 4), (uint32_t)PCI_MSI_FLAGS_64BIT << 16 | 0x5005);
	/* Reset cleared what the host's driver left. */
	assert_int_equal(rd(&c, 0x44, 4), 0);
	wr(&c, 0x44, 4, 0xfee0100f);
	wr(&c, 0x48, 4, 0x1);
	wr(&c, 0x4c, 4, 0xffff4041);
	assert_int_equal(rd(&c, 0x44, 4), 0xfee0100c);
	assert_int_equal(rd(&c, 0x4c, 4), 0x4041);
	assert_int_equal(r.n, 0);
	/* Enabled with more vectors than it has: it gets one. */
	wr(&c, 0x42, 2, PCI_MSI_FLAGS_ENABLE | 0x30 | 0xff00);
	assert_int_equal(rd(&c, 0x42, 2), PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_ENABLE | 0x30);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].kind, 'm');
	assert_true(r.ev[0].msi.enabled);
	assert_int_equal(r.ev[0].msi.nvec, 1);
	assert_int_equal(r.ev[0].msi.addr, 0x1fee0100cULL);
	assert_int_equal(r.ev[0].msi.data, 0x4041);
	/* A new data value while enabled is news; the same value again is not. */
	wr(&c, 0x4c, 2, 0x4042);
	wr(&c, 0x4c, 2, 0x4042);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[1].msi.data, 0x4042);
	wr(&c, 0x42, 2, 0);
	assert_int_equal(r.n, 3);
	assert_false(r.ev[2].msi.enabled);
	/* The device's own MSI registers were never touched. */
	expect_untouched(&d, 0x40, 0x10);
	assert_int_equal(memcmp(before, d.cfg + 0x40, sizeof(before)), 0);
	vfio_pci_config_destroy(&c);
}

static void test_msi_maskable(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	edu(&d);
	/* 32-bit, per-vector masking, 4 vectors (MMC 2). */
	put(d.cfg, 0x42, 2, PCI_MSI_FLAGS_MASKBIT | 2 << 1);
	d.cfg[0x41] = 0; /* the list ends here: the vendor capability is gone */
	setup(&c, &d, &r);
	assert_int_equal(c.msi_max, 4);
	assert_true(c.msi_maskable);
	wr(&c, 0x44, 4, 0xfee00000);
	wr(&c, 0x48, 2, 0x20);
	wr(&c, 0x4c, 4, 0xffffffff);
	assert_int_equal(rd(&c, 0x4c, 4), 0xf);
	wr(&c, 0x50, 4, 0xffffffff); /* pending: read-only */
	assert_int_equal(rd(&c, 0x50, 4), 0);
	wr(&c, 0x42, 2, PCI_MSI_FLAGS_ENABLE | 2 << 4);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].msi.nvec, 4);
	assert_int_equal(r.ev[0].msi.addr, 0xfee00000);
	assert_int_equal(r.ev[0].msi.data, 0x20);
	assert_int_equal(r.ev[0].msi.mask, 0xf);
	wr(&c, 0x4c, 1, 0x5);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[1].msi.mask, 0x5);
	expect_untouched(&d, 0x40, 0x14);
	vfio_pci_config_destroy(&c);
}

static void test_msix(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	nvme(&d);
	setup(&c, &d, &r);
	assert_int_equal(c.msix_cap, 0x50);
	assert_int_equal(c.msix_nvec, 65);
	assert_int_equal(c.msix_table_bar, 4);
	assert_int_equal(c.msix_table_offset, 0);
	assert_int_equal(c.msix_pba_bar, 4);
	assert_int_equal(c.msix_pba_offset, 0x800);
	/* The host left it enabled; the guest starts with it off. */
	assert_int_equal(rd(&c, 0x52, 2), 64);
	assert_int_equal(rd(&c, 0x54, 4), 4);
	assert_int_equal(rd(&c, 0x58, 4), 0x804);
	wr(&c, 0x54, 4, 0);
	wr(&c, 0x52, 2, 0xffff);
	assert_int_equal(rd(&c, 0x52, 2), 64 | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(rd(&c, 0x54, 4), 4);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].kind, 'x');
	assert_true(r.ev[0].on);
	assert_true(r.ev[0].masked);
	wr(&c, 0x53, 1, PCI_MSIX_FLAGS_ENABLE >> 8);
	assert_int_equal(r.n, 2);
	assert_false(r.ev[1].masked);
	wr(&c, 0x50, 4, 0);
	assert_int_equal(r.n, 3);
	assert_false(r.ev[2].on);
	assert_int_equal(rd(&c, 0x50, 2), 0x6011);
	expect_untouched(&d, 0x50, 12);
	vfio_pci_config_destroy(&c);
}

static void test_passthrough(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	nvme(&d);
	setup(&c, &d, &r);
	/* PCI Express device control goes to the device; what it holds is what is read. */
	assert_int_equal(rd(&c, 0x60 + PCI_EXP_DEVCTL, 2), 0x2810);
	wr(&c, 0x60 + PCI_EXP_DEVCTL, 2, 0x2830);
	assert_int_equal(get(d.cfg, 0x60 + PCI_EXP_DEVCTL, 2), 0x2830);
	put(d.cfg, 0x60 + PCI_EXP_DEVSTA, 2, 0x4);
	assert_int_equal(rd(&c, 0x60 + PCI_EXP_DEVSTA, 2), 0x4);
	/* The list's shape is fixed: IDs and next pointers are read-only. */
	d.nw = 0;
	wr(&c, 0x60, 2, 0x4040);
	assert_int_equal(d.nw, 0);
	assert_int_equal(rd(&c, 0x60, 2), 0x0010);
	/* A dword over the ID, next pointer and the capability's register: only the register. */
	wr(&c, 0x40, 4, 0xabcd0000);
	assert_int_equal(d.nw, 1);
	assert_int_equal(d.w[0].off, 0x42);
	assert_int_equal(d.w[0].len, 2);
	assert_int_equal(get(d.cfg, 0x40, 4), 0xabcd5001);
	/* The extended space is read from the device and never written. */
	assert_int_equal(rd(&c, 0x100, 4), 0x00010001);
	assert_int_equal(rd(&c, 0x106, 2), 0x1234);
	d.nw = 0;
	wr(&c, 0x104, 4, 0);
	assert_int_equal(d.nw, 0);
	assert_int_equal(rd(&c, 0xffc, 4), 0);
	vfio_pci_config_destroy(&c);

	/* Without an extended space it reads zero; odd accesses read all ones. */
	edu(&d);
	setup(&c, &d, &r);
	assert_int_equal(rd(&c, 0x100, 4), 0);
	assert_int_equal(rd(&c, 0x1000, 4), 0xffffffff);
	assert_int_equal(rd(&c, 0x02, 4), 0xffffffff);
	assert_int_equal(rd(&c, 0x03, 2), 0xffff);
	assert_int_equal(rd(&c, 0x00, 3), 0xffffff);
	assert_int_equal(vfio_pci_config_io_ops.read(&c, 0, 8), UINT64_MAX);
	assert_int_equal(vfio_pci_config_io_ops.read(&c, 0, 4), 0x11e81234);
	/* The vendor capability's body is live. */
	assert_int_equal(rd(&c, 0x54, 4), 0xcafe0000);
	put(d.cfg, 0x54, 4, 0xbeef);
	assert_int_equal(rd(&c, 0x54, 4), 0xbeef);
	/* A device that stopped answering reads all ones where it is asked. */
	d.fail_read = true;
	assert_int_equal(rd(&c, 0x54, 4), 0xffffffff);
	assert_int_equal(rd(&c, PCI_STATUS, 2), 0xffff);
	assert_int_equal(rd(&c, PCI_VENDOR_ID, 2), 0x1234);
	vfio_pci_config_destroy(&c);
}

static void test_reset(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	nvme(&d);
	setup(&c, &d, &r);
	wr(&c, PCI_BASE_ADDRESS_4, 4, 0xfe000000);
	wr(&c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	wr(&c, 0x52, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(r.n, 2);
	assert_int_equal(get(d.cfg, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	vfio_pci_config_reset(&c);
	assert_int_equal(get(d.cfg, PCI_COMMAND, 2), 0);
	assert_int_equal(rd(&c, PCI_COMMAND, 2), 0);
	assert_int_equal(rd(&c, PCI_BASE_ADDRESS_4, 4), 0);
	assert_int_equal(rd(&c, 0x52, 2), 64);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ev[2].kind, 'b');
	assert_false(r.ev[2].on);
	assert_int_equal(r.ev[2].addr, 0xfe000000);
	assert_int_equal(r.ev[3].kind, 'x');
	assert_false(r.ev[3].on);
	vfio_pci_config_destroy(&c);
}

/* INTERRUPT_LINE: what the monitor routes the pin to after each reset, a scratch byte for
 * the guest in between, never the device's own byte. */
static void test_intx_line(void **state)
{
	struct vfio_pci_config c;
	struct fake_dev d;
	struct recorder r;

	(void)state;
	nvme(&d);
	setup(&c, &d, &r);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 1), 0);
	vfio_pci_config_set_intx_line(&c, 17);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 1), 0); /* from the next reset on */
	vfio_pci_config_reset(&c);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 1), 17);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 4) & 0xff, 17);
	wr(&c, PCI_INTERRUPT_LINE, 1, 0x55);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 1), 0x55);
	assert_int_equal(d.cfg[PCI_INTERRUPT_LINE], 11);
	vfio_pci_config_reset(&c);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 1), 17);
	vfio_pci_config_destroy(&c);
}

static void expect_refused(struct fake_dev *d, const char *want)
{
	struct vfio_pci_config c;
	struct error err = {0};

	assert_int_not_equal(vfio_pci_config_init(&c, "0000:00:03.0", &dev_ops, d, d->bar_size,
						  d->size, NULL, &err),
			     0);
	if (!strstr(err.msg, want) || !strstr(err.msg, "vfio device 0000:00:03.0"))
		fail_msg("message \"%s\" does not contain \"%s\"", err.msg, want);
}

static void test_refusals(void **state)
{
	struct fake_dev d;

	(void)state;
	edu(&d);
	d.cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
	expect_refused(&d, "header type 1");
	edu(&d);
	put(d.cfg, PCI_VENDOR_ID, 2, 0xffff);
	expect_refused(&d, "all ones");
	edu(&d);
	d.fail_read = true;
	expect_refused(&d, "cannot read");
	edu(&d);
	d.bar_size[0] = 3 << 20;
	expect_refused(&d, "BAR 0 size 3145728 is not a power of two");
	edu(&d);
	d.bar_size[0] = 8;
	expect_refused(&d, "memory BAR 0 of 8 bytes");
	edu(&d);
	put(d.cfg, PCI_BASE_ADDRESS_5, 4, PCI_BASE_ADDRESS_MEM_TYPE_64);
	d.bar_size[5] = 4096;
	expect_refused(&d, "64-bit BAR 5 has no upper half");
	nvme(&d);
	d.bar_size[1] = 4096;
	expect_refused(&d, "BAR 1 is the upper half of BAR 0");
	edu(&d);
	d.cfg[0x51] = 0x40;
	expect_refused(&d, "capability list loops");
	edu(&d);
	d.cfg[PCI_CAPABILITY_LIST] = 0x20;
	expect_refused(&d, "capability area at 0x20");
	edu(&d);
	d.cfg[0x51] = 0xf0;
	d.cfg[0xf0] = PCI_CAP_ID_MSI;
	expect_refused(&d, "MSI capability at 0xf0 repeated or too long");
	nvme(&d);
	put(d.cfg, 0x58, 4, 0x1000 | 4);
	expect_refused(&d, "MSI-X table (BAR 4 + 0x0) or PBA (BAR 4 + 0x1000) for 65 vectors");
	nvme(&d);
	put(d.cfg, 0x54, 4, 2);
	expect_refused(&d, "MSI-X table (BAR 2");
	nvme(&d);
	put(d.cfg, 0x52, 2, 0x7ff);
	expect_refused(&d, "for 2048 vectors");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_state),	 cmocka_unit_test(test_bar_mem32),
		cmocka_unit_test(test_bar_mem64_and_io), cmocka_unit_test(test_command_and_status),
		cmocka_unit_test(test_rom_hidden),	 cmocka_unit_test(test_msi),
		cmocka_unit_test(test_msi_maskable),	 cmocka_unit_test(test_msix),
		cmocka_unit_test(test_passthrough),	 cmocka_unit_test(test_reset),
		cmocka_unit_test(test_intx_line),	 cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
