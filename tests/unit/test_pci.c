// SPDX-License-Identifier: MIT
/*
 * The PCI host bridge and device base: both configuration mechanisms, the register rules,
 * BARs on the buses, capabilities, INTx, MSI-X and BAR placement. Configuration writes go
 * straight to the handlers: through bus_write() on the MMIO bus, an ECAM write that moves a
 * BAR would reach bus_register() on that bus while bus_write() still holds its lock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pci_test.h"

#include "devices/pci.h"
#include "x86/platform.h"

#define CONF1(slot, reg) (0x80000000U | (slot) << 11 | ((reg)&0xfc))

struct rec_irq {
	bool level[PLATFORM_IOAPIC_PINS];
	unsigned int calls;
};

static void rec_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct rec_irq *r = ctx;

	assert_true(gsi < PLATFORM_IOAPIC_PINS);
	r->level[gsi] = level;
	r->calls++;
}

static const struct irq_ops rec_irq_ops = {rec_set_level};

struct rec_msi {
	unsigned int n;
	uint64_t addr[16];
	uint32_t data[16];
};

static void rec_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct rec_msi *r = ctx;

	assert_true(r->n < 16);
	r->addr[r->n] = addr;
	r->data[r->n] = data;
	r->n++;
}

static const struct msi_ops rec_msi_ops = {rec_send};

struct rec_bar {
	unsigned int reads, writes;
	uint64_t last_off;
};

static uint64_t rec_bar_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct rec_bar *r = opaque;

	(void)size;
	r->reads++;
	r->last_off = offset;
	return 0x5a00 + offset;
}

static void rec_bar_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct rec_bar *r = opaque;

	(void)size;
	(void)value;
	r->writes++;
	r->last_off = offset;
}

static const struct io_ops rec_bar_ops = {rec_bar_read, rec_bar_write};

struct bar_event {
	unsigned int bar;
	bool mapped;
	uint64_t addr;
};

struct fixture {
	struct bus mmio, pio;
	struct rec_irq irq;
	struct rec_msi msi;
	struct pci_host host;
	struct pci_dev dev;
	struct rec_bar bar_rec;
	struct bar_event ev[16];
	unsigned int nev;
	unsigned int resets;
	struct pci_dev extra[4]; /* more devices a test sets up; teardown destroys them */
	unsigned int nextra;
};

static void rec_bar_changed(void *ctx, struct pci_dev *d, unsigned int bar, bool mapped,
			    uint64_t addr, uint64_t size)
{
	struct fixture *f = ctx;

	(void)d;
	(void)size;
	assert_true(f->nev < 16);
	f->ev[f->nev++] = (struct bar_event){bar, mapped, addr};
}

static void rec_reset_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct fixture *f = opaque;

	assert_int_equal(offset, 0);
	assert_int_equal(size, 1);
	if (value == PLATFORM_RESET_VALUE)
		f->resets++;
}

static const struct io_ops rec_reset_ops = {NULL, rec_reset_write};

static const struct pci_dev_id test_id = {
	.vendor = 0x1234,
	.device = 0x5678,
	.subsys_vendor = 0x1234,
	.subsys = 0x0001,
	.class_code = 0x018000,
	.revision = 3,
	.intx = true,
};

#define TEST_SLOT 2
#define TEST_IO_BAR 0
#define TEST_MEM32_BAR 1
#define TEST_MEM64_BAR 2 /* and 3 */
#define TEST_MSIX_BAR 5

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pci_host_config cfg = {0};
	struct error err = {0};

	cfg.irq_ops = &rec_irq_ops;
	cfg.irq_ctx = &f->irq;
	cfg.msi_ops = &rec_msi_ops;
	cfg.msi_ctx = &f->msi;
	cfg.mmio64_base = 1ULL << 40;
	cfg.mmio64_size = PLATFORM_PCI64_SIZE;
	cfg.listener = (struct pci_bar_listener){rec_bar_changed, f};
	cfg.reset_ops = &rec_reset_ops;
	cfg.reset_opaque = f;
	assert_int_equal(pci_test_host_init(&f->host, &f->mmio, &f->pio, &cfg), 0);
	pci_dev_init(&f->dev, "testdev", &test_id);
	assert_int_equal(pci_dev_add_bar(&f->dev, TEST_IO_BAR, PCI_BAR_IO, 32, &rec_bar_ops,
					 &f->bar_rec, &err),
			 0);
	assert_int_equal(pci_dev_add_bar(&f->dev, TEST_MEM32_BAR, PCI_BAR_MEM32, 0x1000,
					 &rec_bar_ops, &f->bar_rec, &err),
			 0);
	assert_int_equal(pci_dev_add_bar(&f->dev, TEST_MEM64_BAR, PCI_BAR_MEM64, 1ULL << 33,
					 &rec_bar_ops, &f->bar_rec, &err),
			 0);
	assert_int_equal(pci_host_add(&f->host, TEST_SLOT, &f->dev, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	pci_host_destroy(&f->host);
	pci_dev_destroy(&f->dev);
	for (i = 0; i < f->nextra; i++)
		pci_dev_destroy(&f->extra[i]);
	bus_destroy(&f->mmio);
	bus_destroy(&f->pio);
	free(f);
	return 0;
}

static struct pci_dev *extra_dev(struct fixture *f, const char *name)
{
	struct pci_dev *d = &f->extra[f->nextra++];

	assert_true(f->nextra <= 4);
	pci_dev_init(d, name, &test_id);
	return d;
}

/* Guest-style accesses straight to the handlers. */
static uint32_t ecam_read(struct fixture *f, unsigned int slot, unsigned int reg, unsigned int size)
{
	return pci_test_cfg_read(&f->host, slot, reg, size);
}

static void ecam_write(struct fixture *f, unsigned int slot, unsigned int reg, unsigned int size,
		       uint32_t v)
{
	pci_test_cfg_write(&f->host, slot, reg, size, v);
}

static uint32_t conf1_read(struct fixture *f, uint32_t addr, unsigned int byte, unsigned int size)
{
	pci_conf1_io_ops.write(&f->host, 0, 4, addr);
	return pci_conf1_io_ops.read(&f->host, 4 + byte, size);
}

static void conf1_write(struct fixture *f, uint32_t addr, unsigned int byte, unsigned int size,
			uint32_t v)
{
	pci_conf1_io_ops.write(&f->host, 0, 4, addr);
	pci_conf1_io_ops.write(&f->host, 4 + byte, size, v);
}

static bool mmio_hits(struct fixture *f, uint64_t addr)
{
	uint64_t v;

	return bus_read(&f->mmio, addr, 4, &v);
}

static void test_conf1_matches_ecam(void **state)
{
	struct fixture *f = *state;
	unsigned int slot, reg, size;
	uint64_t v;

	for (slot = 0; slot < PCI_SLOTS; slot++)
		for (reg = 0; reg < PCI_CFG_SPACE_SIZE; reg += 4)
			for (size = 1; size <= 4; size <<= 1) {
				unsigned int byte;

				for (byte = 0; byte + size <= 4; byte += size)
					assert_int_equal(
						conf1_read(f, CONF1(slot, reg), byte, size),
						ecam_read(f, slot, reg + byte, size));
			}
	/* A write through one is seen through the other. */
	conf1_write(f, CONF1(TEST_SLOT, PCI_INTERRUPT_LINE), 0, 1, 0x2a);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_INTERRUPT_LINE, 1), 0x2a);
	ecam_write(f, TEST_SLOT, PCI_CACHE_LINE_SIZE, 1, 0x10);
	assert_int_equal(conf1_read(f, CONF1(TEST_SLOT, PCI_CACHE_LINE_SIZE), 0, 1), 0x10);
	/* The host bridge, and both windows reachable through the buses. */
	assert_true(bus_read(&f->mmio, PLATFORM_ECAM_BASE, 4, &v));
	assert_int_equal(v, PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	assert_int_equal(ecam_read(f, 0, PCI_CLASS_DEVICE, 2), 0x0600);
	assert_true(bus_write(&f->pio, PLATFORM_PCI_CONFIG_ADDR, 4, CONF1(TEST_SLOT, 0)));
	assert_true(bus_read(&f->pio, PLATFORM_PCI_CONFIG_ADDR, 4, &v));
	assert_int_equal(v, CONF1(TEST_SLOT, 0));
	assert_true(bus_read(&f->pio, PLATFORM_PCI_CONFIG_DATA + 2, 2, &v));
	assert_int_equal(v, 0x5678);
}

static void test_absent_reads_ones(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ecam_read(f, 7, 0, 4), 0xffffffff);
	assert_int_equal(ecam_read(f, 7, 0, 2), 0xffff);
	assert_int_equal(ecam_read(f, 7, 2, 1), 0xff);
	/* Function 1 of a present device, and bus 1. */
	assert_int_equal(pci_ecam_io_ops.read(&f->host, PCI_TEST_ECAM(TEST_SLOT, 1, 0), 4),
			 0xffffffff);
	assert_int_equal(
		pci_ecam_io_ops.read(&f->host, (1ULL << 20) | PCI_TEST_ECAM(TEST_SLOT, 0, 0), 4),
		0xffffffff);
	assert_int_equal(conf1_read(f, CONF1(TEST_SLOT, 0) | 1 << 8, 0, 4), 0xffffffff);
	assert_int_equal(conf1_read(f, CONF1(TEST_SLOT, 0) | 1 << 16, 0, 4), 0xffffffff);
	/* Without the enable bit the data port reaches nothing. */
	assert_int_equal(conf1_read(f, CONF1(TEST_SLOT, 0) & ~0x80000000U, 0, 4), 0xffffffff);
	/* Writes to absent functions go nowhere and harm nothing. */
	ecam_write(f, 7, PCI_COMMAND, 2, 0xffff);
	conf1_write(f, CONF1(TEST_SLOT, PCI_COMMAND) | 1 << 8, 0, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_COMMAND, 2), 0);
	/* Extended space of a conventional function reads as zero; bad widths as ones. */
	assert_int_equal(ecam_read(f, TEST_SLOT, 0x100, 4), 0);
	assert_int_equal(ecam_read(f, TEST_SLOT, 0xffc, 4), 0);
	assert_int_equal(ecam_read(f, TEST_SLOT, 2, 4), 0xffffffff);
	assert_int_equal(ecam_read(f, TEST_SLOT, 3, 2), 0xffff);
	assert_int_equal(pci_ecam_io_ops.read(&f->host, PCI_TEST_ECAM(TEST_SLOT, 0, 0), 8), ~0ULL);
	assert_int_equal(pci_ecam_io_ops.read(&f->host, PLATFORM_ECAM_SIZE, 4), 0xffffffff);
	/* Only a dword access at 0xCF8 is the address register. */
	assert_int_equal(pci_conf1_io_ops.read(&f->host, 0, 2), 0xffff);
	assert_int_equal(pci_conf1_io_ops.read(&f->host, 2, 1), 0xff);
}

/* A configuration hook that records the last access and reads back 0xe0000000 | offset. */
struct hook_rec {
	unsigned int reads, writes;
	uint64_t offset;
	unsigned int size;
	uint64_t value;
};

static uint64_t hook_rec_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct hook_rec *h = opaque;

	h->reads++;
	h->offset = offset;
	h->size = size;
	return 0xe0000000 | offset;
}

static void hook_rec_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct hook_rec *h = opaque;

	h->writes++;
	h->offset = offset;
	h->size = size;
	h->value = value;
}

static const struct io_ops hook_rec_ops = {hook_rec_read, hook_rec_write};

/* An assigned PCIe function hooks its extended space; ECAM reaches it there. */
static void test_extended_space_hook(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *pcie = extra_dev(f, "pcie"), *low = extra_dev(f, "low");
	struct hook_rec h = {0}, hl = {0};
	struct error err = {0};

	pci_cfg_hook(pcie, 0, PCI_CFG_SPACE_EXP_SIZE, &hook_rec_ops, &h);
	assert_int_equal(pci_host_add(&f->host, 5, pcie, &err), 0);
	assert_int_equal(ecam_read(f, 5, 0x100, 4), 0xe0000100);
	assert_int_equal(h.size, 4);
	assert_int_equal(ecam_read(f, 5, 0xffe, 2), 0x0ffe);
	assert_int_equal(h.offset, 0xffe);
	assert_int_equal(ecam_read(f, 5, 0x101, 1), 0x01);
	ecam_write(f, 5, 0x148, 4, 0x12345678);
	assert_int_equal(h.writes, 1);
	assert_int_equal(h.offset, 0x148);
	assert_int_equal(h.value, 0x12345678);
	/* The header goes to the hook too, through either mechanism. */
	assert_int_equal(conf1_read(f, CONF1(5, PCI_VENDOR_ID), 0, 4), 0xe0000000);
	/* Bad widths never reach it. */
	h.reads = 0;
	assert_int_equal(ecam_read(f, 5, 0x102, 4), 0xffffffff);
	assert_int_equal(pci_ecam_io_ops.read(&f->host, PCI_TEST_ECAM(5, 0, 0x100), 8), ~0ULL);
	assert_int_equal(h.reads, 0);

	/* A hook below 0x100 (as virtio-pci's) leaves the extended space reading zero. */
	pci_cfg_hook(low, 0x40, 8, &hook_rec_ops, &hl);
	assert_int_equal(pci_host_add(&f->host, 6, low, &err), 0);
	assert_int_equal(ecam_read(f, 6, 0x44, 4), 0xe0000004);
	assert_int_equal(ecam_read(f, 6, 0x100, 4), 0);
	ecam_write(f, 6, 0x100, 4, 0xffffffff);
	assert_int_equal(ecam_read(f, 6, 0x100, 4), 0);
	assert_int_equal(hl.reads, 1);
	assert_int_equal(hl.writes, 0);
}

static void test_read_only_bits(void **state)
{
	struct fixture *f = *state;
	uint32_t before[PCI_CFG_SPACE_SIZE / 4];
	unsigned int reg;

	for (reg = 0; reg < PCI_CFG_SPACE_SIZE; reg += 4)
		before[reg / 4] = ecam_read(f, TEST_SLOT, reg, 4);
	ecam_write(f, TEST_SLOT, PCI_VENDOR_ID, 4, 0);
	ecam_write(f, TEST_SLOT, PCI_CLASS_REVISION, 4, 0xffffffff);
	ecam_write(f, TEST_SLOT, PCI_HEADER_TYPE, 1, 0x80);
	ecam_write(f, TEST_SLOT, PCI_SUBSYSTEM_VENDOR_ID, 4, 0);
	ecam_write(f, TEST_SLOT, PCI_ROM_ADDRESS, 4, 0xfffff800);
	ecam_write(f, TEST_SLOT, PCI_CAPABILITY_LIST, 1, 0x40);
	ecam_write(f, TEST_SLOT, PCI_INTERRUPT_PIN, 1, 4);
	for (reg = 0x40; reg < PCI_CFG_SPACE_SIZE; reg += 4)
		ecam_write(f, TEST_SLOT, reg, 4, 0xffffffff);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_VENDOR_ID, 4), before[0]);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_CLASS_REVISION, 4), 0x01800003);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00011234);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_ROM_ADDRESS, 4), 0);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_CAPABILITY_LIST, 1), 0);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_INTERRUPT_PIN, 1), 1);
	for (reg = 0x40; reg < PCI_CFG_SPACE_SIZE; reg += 4)
		assert_int_equal(ecam_read(f, TEST_SLOT, reg, 4), before[reg / 4]);
	/* COMMAND keeps only the bits it implements. */
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	/* The interrupt line was set to the slot's GSI and stays writable. */
	assert_int_equal(before[PCI_INTERRUPT_LINE / 4] & 0xff,
			 PLATFORM_PCI_INTX_GSI_BASE + (TEST_SLOT & 3));
}

static void test_status_w1c(void **state)
{
	struct fixture *f = *state;
	uint16_t errs = PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT |
			PCI_STATUS_DETECTED_PARITY;

	pci_cfg_set(&f->dev, PCI_STATUS, 2, errs);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_STATUS, 2), errs);
	/* Zeros change nothing, ones clear only where they are. */
	ecam_write(f, TEST_SLOT, PCI_STATUS, 2, 0);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_STATUS, 2), errs);
	ecam_write(f, TEST_SLOT, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_STATUS, 2),
			 PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_DETECTED_PARITY);
	/* A dword write to COMMAND that carries ones into STATUS clears them too. */
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 4, 0xffff0000);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_STATUS, 2), 0);
	/* Read-only status bits cannot be cleared or set. */
	pci_cfg_set(&f->dev, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	ecam_write(f, TEST_SLOT, PCI_STATUS, 2, 0xffff);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
}

static uint32_t size_bar(struct fixture *f, unsigned int bar)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint32_t old = ecam_read(f, TEST_SLOT, reg, 4), v;

	ecam_write(f, TEST_SLOT, reg, 4, 0xffffffff);
	v = ecam_read(f, TEST_SLOT, reg, 4);
	ecam_write(f, TEST_SLOT, reg, 4, old);
	return v;
}

static void test_bar_sizing(void **state)
{
	struct fixture *f = *state;
	struct error err = {0};

	assert_int_equal(size_bar(f, TEST_IO_BAR), 0xffffffe1);
	assert_int_equal(size_bar(f, TEST_MEM32_BAR), 0xfffff000);
	/* 8 GiB: nothing writable in the low half, the upper half says the size. */
	assert_int_equal(size_bar(f, TEST_MEM64_BAR), PCI_BASE_ADDRESS_MEM_TYPE_64);
	assert_int_equal(size_bar(f, TEST_MEM64_BAR + 1), 0xfffffffe);
	assert_int_equal(size_bar(f, 4), 0);
	assert_int_equal(size_bar(f, 5), 0);
	/* Bad BARs are refused with a reason. */
	assert_int_equal(
		pci_dev_add_bar(&f->dev, 3, PCI_BAR_MEM32, 16, &rec_bar_ops, &f->bar_rec, &err),
		-EBUSY);
	assert_int_equal(
		pci_dev_add_bar(&f->dev, 4, PCI_BAR_MEM32, 0x3000, &rec_bar_ops, &f->bar_rec, &err),
		-EINVAL);
	assert_int_equal(
		pci_dev_add_bar(&f->dev, 5, PCI_BAR_MEM64, 0x1000, &rec_bar_ops, &f->bar_rec, &err),
		-EINVAL);
	assert_int_equal(
		pci_dev_add_bar(&f->dev, 4, PCI_BAR_IO, 512, &rec_bar_ops, &f->bar_rec, &err),
		-EINVAL);
	assert_non_null(strstr(err.msg, "testdev"));
}

static void test_bar_sizing_small_mem64(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = extra_dev(f, "small64");
	struct error err = {0};

	assert_int_equal(
		pci_dev_add_bar(d, 4, PCI_BAR_MEM64, 0x4000, &rec_bar_ops, &f->bar_rec, &err), 0);
	assert_int_equal(pci_host_add(&f->host, 9, d, &err), 0);
	ecam_write(f, 9, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
	ecam_write(f, 9, PCI_BASE_ADDRESS_5, 4, 0xffffffff);
	assert_int_equal(ecam_read(f, 9, PCI_BASE_ADDRESS_4, 4), 0xffffc004);
	assert_int_equal(ecam_read(f, 9, PCI_BASE_ADDRESS_5, 4), 0xffffffff);
}

static void test_bar_decode(void **state)
{
	struct fixture *f = *state;
	uint64_t v, addr;

	ecam_write(f, TEST_SLOT, PCI_BASE_ADDRESS_0 + 4 * TEST_MEM32_BAR, 4, 0xc0001000);
	ecam_write(f, TEST_SLOT, PCI_BASE_ADDRESS_0 + 4 * TEST_IO_BAR, 4, 0x2000);
	assert_false(mmio_hits(f, 0xc0001000));
	assert_false(bus_read(&f->pio, 0x2000, 1, &v));
	assert_false(pci_bar_address(&f->dev, TEST_MEM32_BAR, &addr));
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_true(bus_read(&f->mmio, 0xc0001010, 4, &v));
	assert_int_equal(v, 0x5a10);
	assert_int_equal(f->bar_rec.last_off, 0x10);
	assert_false(mmio_hits(f, 0xc0002000));
	assert_false(bus_read(&f->pio, 0x2000, 1, &v));
	assert_true(pci_bar_address(&f->dev, TEST_MEM32_BAR, &addr));
	assert_int_equal(addr, 0xc0001000);
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	assert_true(bus_write(&f->pio, 0x201f, 1, 0));
	assert_int_equal(f->bar_rec.last_off, 0x1f);
	assert_false(bus_write(&f->pio, 0x2020, 1, 0));
	/* The 64-bit BAR was never given an address: it stays off. */
	assert_false(pci_bar_address(&f->dev, TEST_MEM64_BAR, &addr));
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_false(mmio_hits(f, 0xc0001000));
	assert_true(bus_read(&f->pio, 0x2000, 1, &v));
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, 0);
	assert_false(bus_read(&f->pio, 0x2000, 1, &v));
	/* The listener saw each change. */
	assert_int_equal(f->nev, 4);
	assert_true(f->ev[0].mapped && f->ev[0].bar == TEST_MEM32_BAR);
	assert_true(f->ev[1].mapped && f->ev[1].bar == TEST_IO_BAR && f->ev[1].addr == 0x2000);
	assert_true(!f->ev[2].mapped && f->ev[2].bar == TEST_MEM32_BAR);
	assert_true(!f->ev[3].mapped && f->ev[3].bar == TEST_IO_BAR);
}

/* pci_dev_info reports what the guest programmed: BAR addresses only while they decode. */
static void test_dev_info(void **state)
{
	struct fixture *f = *state;
	struct pci_dev_info info;

	ecam_write(f, TEST_SLOT, PCI_BASE_ADDRESS_0 + 4 * TEST_MEM32_BAR, 4, 0xc0001000);
	ecam_write(f, TEST_SLOT, PCI_BASE_ADDRESS_0 + 4 * TEST_IO_BAR, 4, 0x2000);
	ecam_write(f, TEST_SLOT, PCI_BASE_ADDRESS_0 + 4 * TEST_MEM64_BAR, 4, 0);
	ecam_write(f, TEST_SLOT, PCI_BASE_ADDRESS_0 + 4 * TEST_MEM64_BAR + 4, 4, 0x100);
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ecam_write(f, TEST_SLOT, PCI_INTERRUPT_LINE, 1, 0x2a);
	pci_dev_info(&f->dev, &info);
	assert_int_equal(info.slot, TEST_SLOT);
	assert_int_equal(info.vendor, 0x1234);
	assert_int_equal(info.device, 0x5678);
	assert_int_equal(info.subsys_vendor, 0x1234);
	assert_int_equal(info.subsys, 0x0001);
	assert_int_equal(info.class_code, 0x018000);
	assert_int_equal(info.irq_pin, 1);
	assert_int_equal(info.irq_line, 0x2a);
	assert_int_equal(info.bar[TEST_IO_BAR].type, PCI_BAR_IO);
	assert_int_equal(info.bar[TEST_IO_BAR].size, 32);
	assert_false(info.bar[TEST_IO_BAR].decoding); /* I/O decoding is off */
	assert_int_equal(info.bar[TEST_MEM32_BAR].type, PCI_BAR_MEM32);
	assert_true(info.bar[TEST_MEM32_BAR].decoding);
	assert_int_equal(info.bar[TEST_MEM32_BAR].addr, 0xc0001000);
	assert_int_equal(info.bar[TEST_MEM64_BAR].type, PCI_BAR_MEM64);
	assert_int_equal(info.bar[TEST_MEM64_BAR].size, 1ULL << 33);
	assert_true(info.bar[TEST_MEM64_BAR].decoding);
	assert_int_equal(info.bar[TEST_MEM64_BAR].addr, 0x100ULL << 32);
	assert_int_equal(info.bar[TEST_MEM64_BAR + 1].type, PCI_BAR_UNUSED);
	assert_int_equal(info.bar[4].type, PCI_BAR_UNUSED);

	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_IO);
	pci_dev_info(&f->dev, &info);
	assert_true(info.bar[TEST_IO_BAR].decoding);
	assert_int_equal(info.bar[TEST_IO_BAR].addr, 0x2000);
	assert_false(info.bar[TEST_MEM32_BAR].decoding);
	assert_false(info.bar[TEST_MEM64_BAR].decoding);

	/* The host bridge: no BARs, no pin. */
	pci_dev_info(f->host.slot[0], &info);
	assert_int_equal(info.vendor, PCI_HOST_VENDOR);
	assert_int_equal(info.class_code, 0x060000); /* host bridge */
	assert_int_equal(info.irq_pin, 0);
	assert_int_equal(info.bar[0].type, PCI_BAR_UNUSED);
}

static void test_bar_move(void **state)
{
	struct fixture *f = *state;
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * TEST_MEM64_BAR;
	uint64_t v;

	ecam_write(f, TEST_SLOT, reg, 4, 0);
	ecam_write(f, TEST_SLOT, reg + 4, 4, 0x100);
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_true(mmio_hits(f, 0x10000000000ULL));
	assert_true(mmio_hits(f, 0x10000000000ULL + (1ULL << 33) - 4));
	/* Moving the upper half alone moves the BAR with decoding on. */
	ecam_write(f, TEST_SLOT, reg + 4, 4, 0x200);
	assert_false(mmio_hits(f, 0x10000000000ULL));
	assert_true(bus_read(&f->mmio, 0x20000000008ULL, 4, &v));
	assert_int_equal(v, 0x5a08);
	/* Sizing with decoding on leaves it nowhere rather than at the top of memory. */
	ecam_write(f, TEST_SLOT, reg, 4, 0xffffffff);
	ecam_write(f, TEST_SLOT, reg + 4, 4, 0xffffffff);
	assert_false(mmio_hits(f, 0x20000000000ULL));
	assert_false(mmio_hits(f, 0xfffffffe00000000ULL));
	/* A 32-bit BAR cannot reach over the 4 GiB line, and an address of 0 is unassigned. */
	reg = PCI_BASE_ADDRESS_0 + 4 * TEST_MEM32_BAR;
	ecam_write(f, TEST_SLOT, reg, 4, 0xfffff000);
	assert_false(mmio_hits(f, 0xfffff000));
	ecam_write(f, TEST_SLOT, reg, 4, 0);
	assert_false(mmio_hits(f, 0));
	/* A BAR placed over ECAM does not take it over. */
	ecam_write(f, TEST_SLOT, reg, 4, PLATFORM_ECAM_BASE);
	assert_true(bus_read(&f->mmio, PLATFORM_ECAM_BASE, 4, &v));
	assert_int_equal(v, PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	ecam_write(f, TEST_SLOT, reg, 4, 0xd0000000);
	assert_true(mmio_hits(f, 0xd0000000));
}

static void test_capability_list(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = extra_dev(f, "caps");
	struct error err = {0};
	uint8_t ids[] = {0x09, 0x05, 0x09}, seen[8];
	unsigned int n = 0, ptr, i;
	int off[3];

	for (i = 0; i < 3; i++)
		off[i] = pci_cap_add(d, ids[i], 6 + i, &err);
	assert_int_equal(off[0], PCI_CAP_FIRST);
	pci_cfg_set(d, off[1] + 2, 2, 0xbeef);
	pci_cfg_set_wmask(d, off[2] + 4, 1, 0x0f);
	assert_int_equal(pci_host_add(&f->host, 4, d, &err), 0);
	assert_true(ecam_read(f, 4, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* Walk as a driver does, with a bound in case the list loops. */
	for (ptr = ecam_read(f, 4, PCI_CAPABILITY_LIST, 1); ptr && n < 8;
	     ptr = ecam_read(f, 4, ptr + PCI_CAP_LIST_NEXT, 1)) {
		assert_int_equal(ptr & 3, 0);
		assert_true(ptr >= PCI_CAP_FIRST);
		seen[n++] = ecam_read(f, 4, ptr, 1);
	}
	assert_int_equal(n, 3);
	assert_memory_equal(seen, ids, 3);
	assert_int_equal(ecam_read(f, 4, off[1] + 2, 2), 0xbeef);
	/* Only what the device made writable is. */
	ecam_write(f, 4, off[1], 4, 0);
	assert_int_equal(ecam_read(f, 4, off[1], 4), 0xbeef0000 | (off[2] << 8) | 0x05);
	ecam_write(f, 4, off[2] + 4, 1, 0xff);
	assert_int_equal(ecam_read(f, 4, off[2] + 4, 1), 0x0f);
	/* The list ends where config space does. */
	assert_int_equal(pci_cap_add(d, 0x09, 200, &err), -ENOSPC);
	assert_int_equal(pci_cap_add(d, 0x09, 1, &err), -ENOSPC);
}

static uint64_t msix_bar_addr(struct fixture *f)
{
	uint64_t addr;

	assert_true(pci_bar_address(&f->dev, TEST_MSIX_BAR, &addr));
	return addr;
}

static void msix_program(struct fixture *f, unsigned int v, uint32_t data, bool masked)
{
	uint64_t e = msix_bar_addr(f) + v * PCI_MSIX_ENTRY_SIZE;

	assert_true(bus_write(&f->mmio, e + PCI_MSIX_ENTRY_LOWER_ADDR, 4, 0xfee00000 | v << 12));
	assert_true(bus_write(&f->mmio, e + PCI_MSIX_ENTRY_UPPER_ADDR, 4, 0));
	assert_true(bus_write(&f->mmio, e + PCI_MSIX_ENTRY_DATA, 4, data));
	assert_true(bus_write(&f->mmio, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, masked));
}

static uint64_t msix_pba(struct fixture *f)
{
	uint64_t v;
	int cap = f->dev.msix.cap;
	uint32_t pba = ecam_read(f, TEST_SLOT, cap + PCI_MSIX_PBA, 4);

	assert_int_equal(pba & PCI_MSIX_PBA_BIR, TEST_MSIX_BAR);
	assert_true(bus_read(&f->mmio, msix_bar_addr(f) + (pba & PCI_MSIX_PBA_OFFSET), 8, &v));
	return v;
}

static void test_msix(void **state)
{
	struct fixture *f = *state;
	struct error err = {0};
	unsigned int cap;
	uint64_t v;

	assert_int_equal(pci_msix_init(&f->dev, TEST_MSIX_BAR, 4, &err), 0);
	cap = f->dev.msix.cap;
	assert_int_equal(ecam_read(f, TEST_SLOT, cap, 1), PCI_CAP_ID_MSIX);
	assert_int_equal(ecam_read(f, TEST_SLOT, cap + PCI_MSIX_FLAGS, 2), 3);
	assert_int_equal(ecam_read(f, TEST_SLOT, cap + PCI_MSIX_TABLE, 4), TEST_MSIX_BAR);
	assert_int_equal(size_bar(f, TEST_MSIX_BAR), 0xfffff000);
	ecam_write(f, TEST_SLOT, PCI_BASE_ADDRESS_0 + 4 * TEST_MSIX_BAR, 4, 0xc0100000);
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* Every vector starts masked; the table size field cannot be written. */
	assert_true(bus_read(&f->mmio, 0xc010000c, 4, &v));
	assert_int_equal(v, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	ecam_write(f, TEST_SLOT, cap + PCI_MSIX_FLAGS, 2, 0x07ff);
	assert_int_equal(ecam_read(f, TEST_SLOT, cap + PCI_MSIX_FLAGS, 2), 3);
	/* Disabled: nothing is sent or held. */
	msix_program(f, 1, 0x41, false);
	pci_msix_notify(&f->dev, 1);
	assert_int_equal(f->msi.n, 0);
	assert_int_equal(msix_pba(f), 0);
	ecam_write(f, TEST_SLOT, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_true(pci_msix_enabled(&f->dev));
	pci_msix_notify(&f->dev, 1);
	assert_int_equal(f->msi.n, 1);
	assert_int_equal(f->msi.addr[0], 0xfee01000);
	assert_int_equal(f->msi.data[0], 0x41);
	/* A masked vector is held in the PBA and sent once when unmasked. */
	msix_program(f, 2, 0x42, true);
	pci_msix_notify(&f->dev, 2);
	pci_msix_notify(&f->dev, 2);
	assert_int_equal(f->msi.n, 1);
	assert_int_equal(msix_pba(f), 1 << 2);
	assert_false(bus_write(&f->mmio, 0xc0100000 + 0x1000, 4, 0));
	assert_true(bus_write(&f->mmio, 0xc0100000 + f->dev.msix.pba_offset, 8, 0));
	assert_int_equal(msix_pba(f), 1 << 2);
	assert_true(bus_write(&f->mmio, 0xc0100000 + 2 * 16 + 12, 4, 0));
	assert_int_equal(f->msi.n, 2);
	assert_int_equal(f->msi.data[1], 0x42);
	assert_int_equal(msix_pba(f), 0);
	/* The function mask holds every vector, and releasing it sends what was held. */
	ecam_write(f, TEST_SLOT, cap + PCI_MSIX_FLAGS, 2,
		   PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	pci_msix_notify(&f->dev, 1);
	pci_msix_notify(&f->dev, 2);
	assert_int_equal(f->msi.n, 2);
	assert_int_equal(msix_pba(f), 0x6);
	ecam_write(f, TEST_SLOT, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(f->msi.n, 4);
	assert_int_equal(f->msi.data[2], 0x41);
	assert_int_equal(f->msi.data[3], 0x42);
	/* Held messages can be dropped; out-of-range vectors do nothing. */
	msix_program(f, 3, 0x43, true);
	pci_msix_notify(&f->dev, 3);
	pci_msix_clear_pending(&f->dev);
	assert_true(bus_write(&f->mmio, 0xc0100000 + 3 * 16 + 12, 4, 0));
	pci_msix_notify(&f->dev, 4);
	pci_msix_notify(&f->dev, 100000);
	assert_int_equal(f->msi.n, 4);
	/* Reserved bits of an entry read as zero; odd-sized accesses are safe. */
	assert_true(bus_write(&f->mmio, 0xc0100000 + 3 * 16, 8, ~0ULL));
	assert_true(bus_read(&f->mmio, 0xc0100000 + 3 * 16, 4, &v));
	assert_int_equal(v, 0xfffffffc);
	assert_true(bus_write(&f->mmio, 0xc0100000 + 3 * 16 + 12, 4, 0xfffffffe));
	assert_true(bus_read(&f->mmio, 0xc0100000 + 3 * 16 + 12, 4, &v));
	assert_int_equal(v, 0);
	assert_true(bus_read(&f->mmio, 0xc0100000 + 0xffe, 2, &v));
	assert_int_equal(v, 0);
	assert_int_equal(pci_msix_init(&f->dev, 4, 2, &err), -EBUSY);
}

static void test_intx(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *other = extra_dev(f, "sharer");
	struct error err = {0};
	unsigned int gsi = PLATFORM_PCI_INTX_GSI_BASE + (TEST_SLOT & 3);
	unsigned int calls;

	/* Slot TEST_SLOT + 4 wraps onto the same GSI. */
	assert_int_equal(pci_host_add(&f->host, TEST_SLOT + 4, other, &err), 0);
	pci_intx_set(&f->dev, true);
	assert_true(f->irq.level[gsi]);
	assert_true(ecam_read(f, TEST_SLOT, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* INTx disable masks the line but not the status bit. */
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	assert_false(f->irq.level[gsi]);
	assert_true(ecam_read(f, TEST_SLOT, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	ecam_write(f, TEST_SLOT, PCI_COMMAND, 2, 0);
	assert_true(f->irq.level[gsi]);
	/* A shared line stays up while any device holds it. */
	pci_intx_set(other, true);
	calls = f->irq.calls;
	pci_intx_set(&f->dev, false);
	assert_true(f->irq.level[gsi]);
	assert_false(ecam_read(f, TEST_SLOT, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci_intx_set(other, false);
	assert_false(f->irq.level[gsi]);
	assert_int_equal(f->irq.calls, calls + 1);
	/* Other slots use other GSIs. */
	pci_intx_set(&f->dev, true);
	assert_int_equal(f->irq.level[gsi ^ 1] + f->irq.level[gsi ^ 2] + f->irq.level[gsi ^ 3], 0);
	/* With MSI-X enabled the function does not use INTx. */
	assert_int_equal(pci_msix_init(&f->dev, TEST_MSIX_BAR, 1, &err), 0);
	ecam_write(f, TEST_SLOT, f->dev.msix.cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_false(f->irq.level[gsi]);
	ecam_write(f, TEST_SLOT, f->dev.msix.cap + PCI_MSIX_FLAGS, 2, 0);
	assert_true(f->irq.level[gsi]);
	pci_intx_set(&f->dev, false);
	assert_false(f->irq.level[gsi]);
	/* A request made before the device was in a slot reaches the line once it is. */
	other = extra_dev(f, "early");
	pci_intx_set(other, true);
	assert_int_equal(pci_host_add(&f->host, 7, other, &err), 0);
	assert_true(f->irq.level[PLATFORM_PCI_INTX_GSI_BASE + 3]);
}

static void test_assign_bars(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *a = extra_dev(f, "a"), *b = extra_dev(f, "b");
	struct error err = {0};
	struct {
		struct pci_dev *d;
		unsigned int bar;
		uint64_t base, end;
	} want[] = {
		{&f->dev, TEST_IO_BAR, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_BASE + PCI_IO_WINDOW_SIZE},
		{&f->dev, TEST_MEM32_BAR, PLATFORM_PCI32_BASE,
		 PLATFORM_PCI32_BASE + PLATFORM_PCI32_SIZE},
		{&f->dev, TEST_MEM64_BAR, 1ULL << 40, (1ULL << 40) + PLATFORM_PCI64_SIZE},
		{a, 0, PLATFORM_PCI32_BASE, PLATFORM_PCI32_BASE + PLATFORM_PCI32_SIZE},
		{a, 1, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_BASE + PCI_IO_WINDOW_SIZE},
		{a, 2, 1ULL << 40, (1ULL << 40) + PLATFORM_PCI64_SIZE},
		{b, 0, PLATFORM_PCI32_BASE, PLATFORM_PCI32_BASE + PLATFORM_PCI32_SIZE},
		{b, 2, 1ULL << 40, (1ULL << 40) + PLATFORM_PCI64_SIZE},
	};
	unsigned int i, j;

	assert_int_equal(
		pci_dev_add_bar(a, 0, PCI_BAR_MEM32, 0x100000, &rec_bar_ops, &f->bar_rec, &err), 0);
	assert_int_equal(pci_dev_add_bar(a, 1, PCI_BAR_IO, 256, &rec_bar_ops, &f->bar_rec, &err),
			 0);
	assert_int_equal(
		pci_dev_add_bar(a, 2, PCI_BAR_MEM64, 0x4000, &rec_bar_ops, &f->bar_rec, &err), 0);
	assert_int_equal(
		pci_dev_add_bar(b, 0, PCI_BAR_MEM32, 0x10, &rec_bar_ops, &f->bar_rec, &err), 0);
	assert_int_equal(
		pci_dev_add_bar(b, 2, PCI_BAR_MEM64, 1ULL << 30, &rec_bar_ops, &f->bar_rec, &err),
		0);
	assert_int_equal(pci_host_add(&f->host, 5, a, &err), 0);
	assert_int_equal(pci_host_add(&f->host, 6, b, &err), 0);
	assert_int_equal(f->host.mmio64_end, 1ULL << 40);
	assert_int_equal(pci_host_assign_bars(&f->host, &err), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t addr, size = want[i].d->bar[want[i].bar].size;

		assert_true(pci_bar_address(want[i].d, want[i].bar, &addr));
		/* mmio64_end: past every 64-bit BAR (what the firmware's page tables cover). */
		if (want[i].base == 1ULL << 40)
			assert_true(addr + size <= f->host.mmio64_end);
		assert_int_equal(addr & (size - 1), 0);
		assert_true(addr >= want[i].base && addr + size <= want[i].end);
		for (j = 0; j < i; j++) {
			uint64_t other;

			assert_true(pci_bar_address(want[j].d, want[j].bar, &other));
			assert_true(addr + size <= other ||
				    other + want[j].d->bar[want[j].bar].size <= addr);
		}
	}
	/* Decoding is on, and the guest sees the addresses in the BAR registers. */
	assert_int_equal(ecam_read(f, 5, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(ecam_read(f, 6, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	assert_true(mmio_hits(f, b->bar[0].addr));
	assert_int_equal(ecam_read(f, 6, PCI_BASE_ADDRESS_0, 4), b->bar[0].addr);
	assert_int_equal(ecam_read(f, 6, PCI_BASE_ADDRESS_3, 4), b->bar[2].addr >> 32);
	assert_int_equal(ecam_read(f, 5, PCI_BASE_ADDRESS_1, 4),
			 a->bar[1].addr | PCI_BASE_ADDRESS_SPACE_IO);
	assert_int_equal(ecam_read(f, 5, PCI_BASE_ADDRESS_2, 4),
			 (uint32_t)a->bar[2].addr | PCI_BASE_ADDRESS_MEM_TYPE_64);
	/* Packed from the window's base, largest first: 8 GiB, 1 GiB, 16 KiB. */
	assert_int_equal(f->host.mmio64_end, (1ULL << 40) + (1ULL << 33) + (1ULL << 30) + 0x4000);
}

static void test_assign_bars_exhausted(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *a = extra_dev(f, "big");
	struct error err = {0};
	uint64_t addr;

	/* Two 256 MiB BARs fill the 512 MiB window exactly; a third does not fit. */
	assert_int_equal(
		pci_dev_add_bar(a, 0, PCI_BAR_MEM32, 256 << 20, &rec_bar_ops, &f->bar_rec, &err),
		0);
	assert_int_equal(
		pci_dev_add_bar(a, 1, PCI_BAR_MEM32, 256 << 20, &rec_bar_ops, &f->bar_rec, &err),
		0);
	assert_int_equal(pci_host_add(&f->host, 5, a, &err), 0);
	assert_int_equal(pci_host_assign_bars(&f->host, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "testdev BAR1"));
	assert_non_null(strstr(err.msg, "32-bit"));
	/* Nothing changed. */
	assert_false(pci_bar_address(a, 0, &addr));
	assert_int_equal(ecam_read(f, 5, PCI_BASE_ADDRESS_0, 4), 0);
	assert_int_equal(ecam_read(f, TEST_SLOT, PCI_COMMAND, 2), 0);
}

static void test_host_errors(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *d = extra_dev(f, "late");
	struct pci_host h2;
	struct pci_host_config cfg = {.mmio = &f->mmio, .pio = &f->pio};
	struct error err = {0};

	assert_int_equal(pci_host_add(&f->host, 0, d, &err), -EINVAL);
	assert_int_equal(pci_host_add(&f->host, PCI_SLOTS, d, &err), -EINVAL);
	assert_int_equal(pci_host_add(&f->host, TEST_SLOT, d, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "testdev"));
	assert_int_equal(pci_host_add(&f->host, 31, &f->dev, &err), -EBUSY);
	/* A second host cannot take the same windows. */
	assert_int_equal(pci_host_init(&h2, &cfg, &err), -EBUSY);
	cfg.mmio64_base = 0x80000000;
	cfg.mmio64_size = 1 << 30;
	assert_int_equal(pci_host_init(&h2, &cfg, &err), -EINVAL);
}

static void test_reset_port(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	/* A byte at 0xCF9 is the reset register, not part of the address register. */
	assert_true(bus_write(&f->pio, PLATFORM_RESET_PORT, 1, PLATFORM_RESET_VALUE));
	assert_int_equal(f->resets, 1);
	assert_true(bus_read(&f->pio, PLATFORM_RESET_PORT, 1, &v));
	assert_int_equal(v, 0xff);
	assert_true(bus_write(&f->pio, PLATFORM_PCI_CONFIG_ADDR, 4, 0x8000fffe));
	assert_int_equal(f->resets, 1);
	assert_true(bus_read(&f->pio, PLATFORM_PCI_CONFIG_ADDR, 4, &v));
	assert_int_equal(v, 0x8000fffc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conf1_matches_ecam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_reads_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extended_space_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_w1c, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_small_mem64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dev_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capability_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assign_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assign_bars_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_port, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
