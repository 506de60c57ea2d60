// SPDX-License-Identifier: MIT
/*
 * The virtio-pci modern transport, driven the way a guest driver drives it: find the
 * structures through the capability list and the BARs, then talk to them through the MMIO
 * bus. The device behind it is a recorder, and so are the interrupt controllers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define VIRTIO_PCI_NO_LEGACY
#include "devices/virtio_pci.h"
#include "pci_test.h"
#include "x86/platform.h"

#include <linux/virtio_pci.h>

#define SLOT 3
#define NQ 3
#define QMAX 256
#define CFG_SIZE 8
#define F_DEV0 (1ULL << 0)
#define F_DEV5 (1ULL << 5)
#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define F_RING_PACKED (1ULL << 34)
#define OFFERED (F_DEV0 | F_DEV5 | F_VERSION_1 | (1ULL << VIRTIO_F_EVENT_IDX) | F_RING_PACKED)
#define GSI (PLATFORM_PCI_INTX_GSI_BASE + (SLOT & 3))

struct fake_dev {
	uint64_t features;
	bool refuse;
	unsigned int set_features_calls;
	uint64_t set_features_arg;
	unsigned int resets;
	unsigned int nready;
	unsigned int ready_q[8];
	struct virtio_queue_config ready_cfg[8];
	unsigned int nnotify;
	unsigned int notify_q[8];
	uint8_t config[CFG_SIZE];
	unsigned int config_writes;
};

static uint64_t fake_features(void *dev)
{
	return ((struct fake_dev *)dev)->features;
}

static bool fake_set_features(void *dev, uint64_t features)
{
	struct fake_dev *d = dev;

	d->set_features_calls++;
	d->set_features_arg = features;
	return !d->refuse;
}

static uint64_t fake_config_read(void *dev, uint32_t offset, unsigned int size)
{
	struct fake_dev *d = dev;
	uint64_t v = 0;

	assert_true(offset + size <= CFG_SIZE);
	memcpy(&v, &d->config[offset], size);
	return v;
}

static void fake_config_write(void *dev, uint32_t offset, unsigned int size, uint64_t value)
{
	struct fake_dev *d = dev;

	assert_true(offset + size <= CFG_SIZE);
	memcpy(&d->config[offset], &value, size);
	d->config_writes++;
}

static void fake_queue_ready(void *dev, unsigned int q, const struct virtio_queue_config *cfg)
{
	struct fake_dev *d = dev;

	assert_true(d->nready < 8);
	d->ready_q[d->nready] = q;
	d->ready_cfg[d->nready++] = *cfg;
}

static void fake_queue_notify(void *dev, unsigned int q)
{
	struct fake_dev *d = dev;

	assert_true(d->nnotify < 8);
	d->notify_q[d->nnotify++] = q;
}

static void fake_reset(void *dev)
{
	((struct fake_dev *)dev)->resets++;
}

static const struct virtio_device_ops fake_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = NQ,
	.queue_max_size = QMAX,
	.features = fake_features,
	.set_features = fake_set_features,
	.config_size = CFG_SIZE,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.queue_ready = fake_queue_ready,
	.queue_notify = fake_queue_notify,
	.reset = fake_reset,
};

struct rec_irq {
	bool level[PLATFORM_IOAPIC_PINS];
};

static void rec_set_level(void *ctx, unsigned int gsi, bool level)
{
	((struct rec_irq *)ctx)->level[gsi] = level;
}

static const struct irq_ops rec_irq_ops = {rec_set_level};

struct rec_msi {
	unsigned int n;
	uint32_t data[16];
};

static void rec_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct rec_msi *r = ctx;

	assert_int_equal(addr, 0xfee00000);
	assert_true(r->n < 16);
	r->data[r->n++] = data;
}

static const struct msi_ops rec_msi_ops = {rec_send};

/* Where the driver found things. */
struct layout {
	uint64_t common, isr, device, notify;
	uint32_t device_len, notify_len, notify_mult;
	unsigned int ncaps[6];
	unsigned int pci_cfg; /* configuration offset of the PCI_CFG capability */
	uint64_t msix_table;
};

struct fixture {
	struct bus mmio, pio;
	struct rec_irq irq;
	struct rec_msi msi;
	struct pci_host host;
	struct fake_dev dev;
	struct virtio_pci vp;
	struct layout l;
};

static uint32_t cfg_read(struct fixture *f, unsigned int reg, unsigned int size)
{
	return pci_test_cfg_read(&f->host, SLOT, reg, size);
}

static void cfg_write(struct fixture *f, unsigned int reg, unsigned int size, uint32_t v)
{
	pci_test_cfg_write(&f->host, SLOT, reg, size, v);
}

static uint64_t bar_base(struct fixture *f, unsigned int bar)
{
	uint32_t lo = cfg_read(f, PCI_BASE_ADDRESS_0 + 4 * bar, 4);

	if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
		return (lo & ~0xfULL) | (uint64_t)cfg_read(f, PCI_BASE_ADDRESS_0 + 4 * bar + 4, 4)
						<< 32;
	return lo & ~0xfULL;
}

/* What virtio_pci_modern_probe() and vp_modern_map_capability() do, with their checks. */
static void discover(struct fixture *f)
{
	struct layout *l = &f->l;
	unsigned int ptr, n = 0;

	memset(l, 0, sizeof(*l));
	for (ptr = cfg_read(f, PCI_CAPABILITY_LIST, 1); ptr; ptr = cfg_read(f, ptr + 1, 1)) {
		uint8_t type = cfg_read(f, ptr + VIRTIO_PCI_CAP_CFG_TYPE, 1);
		uint8_t bar = cfg_read(f, ptr + VIRTIO_PCI_CAP_BAR, 1);
		uint32_t off = cfg_read(f, ptr + VIRTIO_PCI_CAP_OFFSET, 4);
		uint32_t len = cfg_read(f, ptr + VIRTIO_PCI_CAP_LENGTH, 4);
		uint64_t addr;

		assert_true(++n < 16);
		if (cfg_read(f, ptr, 1) == PCI_CAP_ID_MSIX) {
			uint32_t t = cfg_read(f, ptr + PCI_MSIX_TABLE, 4);

			assert_int_equal(cfg_read(f, ptr + PCI_MSIX_FLAGS, 2), NQ);
			l->msix_table = bar_base(f, t & 7) + (t & ~7U);
			continue;
		}
		assert_int_equal(cfg_read(f, ptr, 1), PCI_CAP_ID_VNDR);
		assert_true(type >= 1 && type <= 5);
		l->ncaps[type]++;
		if (type == VIRTIO_PCI_CAP_PCI_CFG) {
			assert_int_equal(cfg_read(f, ptr + VIRTIO_PCI_CAP_LEN, 1),
					 sizeof(struct virtio_pci_cfg_cap));
			l->pci_cfg = ptr;
			continue;
		}
		assert_int_equal(bar, VIRTIO_PCI_BAR);
		assert_true(off + len <= VIRTIO_PCI_BAR_SIZE);
		addr = bar_base(f, bar) + off;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			assert_true(len >= sizeof(struct virtio_pci_common_cfg));
			assert_int_equal(off % 4, 0);
			l->common = addr;
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			assert_true(len >= 1);
			l->isr = addr;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			assert_int_equal(off % 4, 0);
			l->device = addr;
			l->device_len = len;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			assert_int_equal(cfg_read(f, ptr + VIRTIO_PCI_CAP_LEN, 1),
					 sizeof(struct virtio_pci_notify_cap));
			l->notify = addr;
			l->notify_len = len;
			l->notify_mult = cfg_read(f, ptr + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
			break;
		}
	}
}

static uint64_t rd(struct fixture *f, uint64_t addr, unsigned int size)
{
	uint64_t v;

	assert_true(bus_read(&f->mmio, addr, size, &v));
	return v;
}

static void wr(struct fixture *f, uint64_t addr, unsigned int size, uint64_t v)
{
	assert_true(bus_write(&f->mmio, addr, size, v));
}

/* Common configuration registers, at their own width. */
static uint64_t cr(struct fixture *f, unsigned int off)
{
	static const uint8_t width[VIRTIO_PCI_COMMON_LEN] = {
		[VIRTIO_PCI_COMMON_DFSELECT] = 4,  [VIRTIO_PCI_COMMON_DF] = 4,
		[VIRTIO_PCI_COMMON_GFSELECT] = 4,  [VIRTIO_PCI_COMMON_GF] = 4,
		[VIRTIO_PCI_COMMON_MSIX] = 2,	   [VIRTIO_PCI_COMMON_NUMQ] = 2,
		[VIRTIO_PCI_COMMON_STATUS] = 1,	   [VIRTIO_PCI_COMMON_CFGGENERATION] = 1,
		[VIRTIO_PCI_COMMON_Q_SELECT] = 2,  [VIRTIO_PCI_COMMON_Q_SIZE] = 2,
		[VIRTIO_PCI_COMMON_Q_MSIX] = 2,	   [VIRTIO_PCI_COMMON_Q_ENABLE] = 2,
		[VIRTIO_PCI_COMMON_Q_NOFF] = 2,	   [VIRTIO_PCI_COMMON_Q_DESCLO] = 8,
		[VIRTIO_PCI_COMMON_Q_AVAILLO] = 8, [VIRTIO_PCI_COMMON_Q_USEDLO] = 8,
	};

	assert_true(width[off]);
	return rd(f, f->l.common + off, width[off]);
}

static void cw(struct fixture *f, unsigned int off, unsigned int size, uint64_t v)
{
	wr(f, f->l.common + off, size, v);
}

static uint8_t status(struct fixture *f)
{
	return cr(f, VIRTIO_PCI_COMMON_STATUS);
}

static void set_status(struct fixture *f, uint8_t bits)
{
	cw(f, VIRTIO_PCI_COMMON_STATUS, 1, status(f) | bits);
}

static void write_features(struct fixture *f, uint64_t features)
{
	cw(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cw(f, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	cw(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cw(f, VIRTIO_PCI_COMMON_GF, 4, features >> 32);
}

static bool negotiate(struct fixture *f, uint64_t features)
{
	cw(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	set_status(f, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(f, VIRTIO_STATUS_DRIVER);
	write_features(f, features);
	set_status(f, VIRTIO_STATUS_FEATURES_OK);
	return status(f) & VIRTIO_STATUS_FEATURES_OK;
}

static void setup_queue(struct fixture *f, unsigned int q, uint16_t size, uint64_t base)
{
	cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	cw(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	cw(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)base);
	cw(f, VIRTIO_PCI_COMMON_Q_DESCHI, 4, base >> 32);
	cw(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, base + 0x1000);
	cw(f, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)(base + 0x2000));
	cw(f, VIRTIO_PCI_COMMON_Q_USEDHI, 4, (base + 0x2000) >> 32);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pci_host_config cfg = {0};
	struct error err = {0};

	cfg.irq_ops = &rec_irq_ops;
	cfg.irq_ctx = &f->irq;
	cfg.msi_ops = &rec_msi_ops;
	cfg.msi_ctx = &f->msi;
	cfg.mmio64_base = 1ULL << 36;
	cfg.mmio64_size = PLATFORM_PCI64_SIZE;
	assert_int_equal(pci_test_host_init(&f->host, &f->mmio, &f->pio, &cfg), 0);
	f->dev.features = OFFERED;
	memcpy(f->dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88", CFG_SIZE);
	assert_int_equal(virtio_pci_init(&f->vp, &fake_ops, &f->dev, &err), 0);
	assert_int_equal(pci_host_add(&f->host, SLOT, &f->vp.pci, &err), 0);
	assert_int_equal(pci_host_assign_bars(&f->host, &err), 0);
	discover(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pci_host_destroy(&f->host);
	virtio_pci_destroy(&f->vp);
	bus_destroy(&f->mmio);
	bus_destroy(&f->pio);
	free(f);
	return 0;
}

static void test_identity(void **state)
{
	struct fixture *f = *state;
	uint32_t lo;

	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	assert_int_equal(cfg_read(f, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_BALLOON);
	assert_int_equal(cfg_read(f, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_read(f, PCI_SUBSYSTEM_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	assert_true(cfg_read(f, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_int_equal(cfg_read(f, PCI_CLASS_REVISION, 4) >> 8, 0x00ff00);
	assert_int_equal(cfg_read(f, PCI_INTERRUPT_PIN, 1), 1);
	/* BAR 4 is 64-bit memory of 16 KiB, placed above 4 GiB. */
	lo = cfg_read(f, PCI_BASE_ADDRESS_4, 4);
	assert_int_equal(lo & 7, PCI_BASE_ADDRESS_MEM_TYPE_64);
	assert_true(bar_base(f, VIRTIO_PCI_BAR) >= 1ULL << 36);
	cfg_write(f, PCI_COMMAND, 2, 0);
	cfg_write(f, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
	assert_int_equal(cfg_read(f, PCI_BASE_ADDRESS_4, 4), 0xffffc004);
}

static void test_capabilities(void **state)
{
	struct fixture *f = *state;
	uint64_t addr;

	assert_int_equal(f->l.ncaps[VIRTIO_PCI_CAP_COMMON_CFG], 1);
	assert_int_equal(f->l.ncaps[VIRTIO_PCI_CAP_NOTIFY_CFG], 1);
	assert_int_equal(f->l.ncaps[VIRTIO_PCI_CAP_ISR_CFG], 1);
	assert_int_equal(f->l.ncaps[VIRTIO_PCI_CAP_DEVICE_CFG], 1);
	assert_int_equal(f->l.ncaps[VIRTIO_PCI_CAP_PCI_CFG], 1);
	assert_int_equal(f->l.notify_mult, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	assert_int_equal(f->l.device_len, CFG_SIZE);
	assert_true(f->l.notify_len >= (NQ - 1) * f->l.notify_mult + 2);
	assert_int_not_equal(f->l.msix_table, 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_NUMQ), NQ);
	/* What the monitor would hand to KVM for an ioeventfd. */
	cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
	assert_true(virtio_pci_notify_addr(&f->vp, 2, &addr));
	assert_int_equal(addr, f->l.notify + cr(f, VIRTIO_PCI_COMMON_Q_NOFF) * f->l.notify_mult);
	assert_false(virtio_pci_notify_addr(&f->vp, NQ, &addr));
}

static void test_features(void **state)
{
	struct fixture *f = *state;

	cw(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_DF), (uint32_t)OFFERED);
	cw(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	/* Packed rings are not offered whatever the device says. */
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_DF), (OFFERED & ~F_RING_PACKED) >> 32);
	cw(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_DF), 0);
	/* Refused: no VERSION_1, a bit not offered, one the transport took away. */
	assert_false(negotiate(f, F_DEV0));
	assert_false(negotiate(f, F_VERSION_1 | (1ULL << 7)));
	assert_false(negotiate(f, F_VERSION_1 | F_RING_PACKED));
	assert_int_equal(f->dev.set_features_calls, 0);
	/* Refused by the device. */
	f->dev.refuse = true;
	assert_false(negotiate(f, F_VERSION_1 | F_DEV5));
	assert_int_equal(f->dev.set_features_calls, 1);
	f->dev.refuse = false;
	/* The driver may try again without a reset. */
	write_features(f, F_VERSION_1 | F_DEV0);
	set_status(f, VIRTIO_STATUS_FEATURES_OK);
	assert_true(status(f) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(f->dev.set_features_arg, F_VERSION_1 | F_DEV0);
	/* Frozen now. */
	write_features(f, F_VERSION_1 | F_DEV5);
	cw(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_GF), F_DEV0);
	cw(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_GF), 1);
	assert_int_equal(f->dev.set_features_calls, 2);
}

static void test_status_machine(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(status(f), 0);
	set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* DRIVER_OK without FEATURES_OK does not stick; nor can bits be cleared. */
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	cw(f, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* NEEDS_RESET is the device's bit. */
	set_status(f, VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	assert_true(negotiate(f, F_VERSION_1));
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	assert_true(status(f) & VIRTIO_STATUS_DRIVER_OK);
	set_status(f, VIRTIO_STATUS_FAILED);
	assert_true(status(f) & VIRTIO_STATUS_FAILED);
	/* Wrong widths and offsets inside the common structure read 0 and do nothing. */
	cw(f, VIRTIO_PCI_COMMON_STATUS, 2, 0);
	assert_true(status(f) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, f->l.common + VIRTIO_PCI_COMMON_STATUS, 2), 0);
	assert_int_equal(rd(f, f->l.common + VIRTIO_PCI_COMMON_NUMQ, 4), 0);
	assert_int_equal(rd(f, f->l.common + VIRTIO_PCI_COMMON_DF + 1, 1), 0);
	assert_int_equal(rd(f, f->l.common + VIRTIO_PCI_COMMON_LEN, 4), 0);
	assert_int_equal(rd(f, f->l.common + 0x100, 8), 0);
	wr(f, f->l.common + VIRTIO_PCI_COMMON_Q_SELECT + 1, 1, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SELECT), 0);
	assert_int_equal(f->dev.resets, 1);
}

static void test_queue_rules(void **state)
{
	struct fixture *f = *state;
	unsigned int bad[] = {0, 3, 100, QMAX * 2, 0xffff};
	unsigned int i;

	cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SIZE), QMAX);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_NOFF), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cw(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, bad[i]);
		assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SIZE), QMAX);
	}
	/* A queue past num_queues is not there. */
	cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, NQ);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SIZE), 0);
	cw(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SIZE), 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_ENABLE), 0);
	/* Enabling before FEATURES_OK is refused. */
	setup_queue(f, 0, 64, 0x100000);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_ENABLE), 0);
	assert_true(negotiate(f, F_VERSION_1));
	/* negotiate() reset the device: set the queues up again. */
	setup_queue(f, 0, 64, 0x100000);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SIZE), 64);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_AVAILLO), 0x101000);
	cw(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_ENABLE), 1);
	/* A misaligned descriptor table is refused. */
	setup_queue(f, 1, 16, 0x200008);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_ENABLE), 0);
	/* A ring that wraps around the address space is refused. */
	setup_queue(f, 1, 16, 0xffffffffffffff80ULL);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_ENABLE), 0);
	/* Not yet DRIVER_OK: the device has not heard of queue 0. */
	assert_int_equal(f->dev.nready, 0);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->dev.nready, 1);
	assert_int_equal(f->dev.ready_q[0], 0);
	assert_int_equal(f->dev.ready_cfg[0].size, 64);
	assert_int_equal(f->dev.ready_cfg[0].desc, 0x100000);
	assert_int_equal(f->dev.ready_cfg[0].avail, 0x101000);
	assert_int_equal(f->dev.ready_cfg[0].used, 0x102000);
	assert_int_equal(f->dev.ready_cfg[0].msix_vector, 2);
	/* An enabled queue's registers are frozen; 0 does not disable it. */
	cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cw(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
	cw(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x300000);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SIZE), 64);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_DESCLO), 0x100000);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_ENABLE), 1);
	/* After DRIVER_OK, enabling hands the queue over at once, 64-bit addresses intact. */
	setup_queue(f, 2, 1, 0x123400000000ULL);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(f->dev.nready, 2);
	assert_int_equal(f->dev.ready_q[1], 2);
	assert_int_equal(f->dev.ready_cfg[1].size, 1);
	assert_int_equal(f->dev.ready_cfg[1].desc, 0x123400000000ULL);
	assert_int_equal(f->dev.ready_cfg[1].used, 0x123400002000ULL);
	assert_int_equal(f->dev.ready_cfg[1].msix_vector, VIRTIO_MSI_NO_VECTOR);
	/* Enabling twice does not hand it over twice. */
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(f->dev.nready, 2);
}

static void bring_up(struct fixture *f)
{
	unsigned int q;

	assert_true(negotiate(f, F_VERSION_1 | F_DEV0));
	for (q = 0; q < NQ; q++) {
		setup_queue(f, q, 128, 0x100000 * (q + 1));
		cw(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, q + 1);
		if (q != 1)
			cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	}
	cw(f, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
}

static void test_notify(void **state)
{
	struct fixture *f = *state;
	uint64_t n = f->l.notify;
	uint32_t m = f->l.notify_mult;

	assert_true(negotiate(f, F_VERSION_1));
	setup_queue(f, 0, 128, 0x100000);
	cw(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	/* Before DRIVER_OK the device hears nothing. */
	wr(f, n, 2, 0);
	assert_int_equal(f->dev.nnotify, 0);
	cw(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	bring_up(f);
	wr(f, n + 2 * m, 2, 2);
	wr(f, n, 2, 0);
	wr(f, n, 4, 0);
	assert_int_equal(f->dev.nnotify, 3);
	assert_int_equal(f->dev.notify_q[0], 2);
	assert_int_equal(f->dev.notify_q[1], 0);
	/* Queue 1 is not enabled, queue 3 does not exist, odd offsets are no queue. */
	wr(f, n + m, 2, 1);
	wr(f, n + 3 * m, 2, 3);
	wr(f, n + 1, 1, 0);
	wr(f, f->vp.pci.bar[VIRTIO_PCI_BAR].addr + VIRTIO_PCI_BAR_SIZE - 4, 4, 0);
	assert_int_equal(f->dev.nnotify, 3);
	/* The ioeventfd path takes the same checks. */
	virtio_pci_kick(&f->vp, 0);
	virtio_pci_kick(&f->vp, 1);
	virtio_pci_kick(&f->vp, 1000);
	assert_int_equal(f->dev.nnotify, 4);
	assert_int_equal(rd(f, n, 2), 0);
}

static void test_isr_intx(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport *t = &f->vp.transport;
	uint8_t gen;

	bring_up(f);
	assert_false(f->irq.level[GSI]);
	t->ops->notify_queue(t, 0);
	assert_true(f->irq.level[GSI]);
	assert_true(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	assert_int_equal(rd(f, f->l.isr, 1), 1);
	assert_false(f->irq.level[GSI]);
	assert_int_equal(rd(f, f->l.isr, 1), 0);
	/* A configuration change: bit 1 and a new generation. */
	gen = cr(f, VIRTIO_PCI_COMMON_CFGGENERATION);
	t->ops->notify_config(t);
	assert_true(f->irq.level[GSI]);
	t->ops->notify_queue(t, 2);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_CFGGENERATION), (uint8_t)(gen + 1));
	assert_int_equal(rd(f, f->l.isr, 1), 3);
	assert_false(f->irq.level[GSI]);
	/* INTx disable holds the line down; the ISR still tells. */
	cfg_write(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	t->ops->notify_queue(t, 0);
	assert_false(f->irq.level[GSI]);
	assert_int_equal(rd(f, f->l.isr, 1), 1);
	assert_int_equal(f->msi.n, 0);
}

static void enable_msix(struct fixture *f)
{
	unsigned int cap = f->vp.pci.msix.cap, v;

	for (v = 0; v <= NQ; v++) {
		uint64_t e = f->l.msix_table + v * PCI_MSIX_ENTRY_SIZE;

		wr(f, e + PCI_MSIX_ENTRY_LOWER_ADDR, 4, 0xfee00000);
		wr(f, e + PCI_MSIX_ENTRY_UPPER_ADDR, 4, 0);
		wr(f, e + PCI_MSIX_ENTRY_DATA, 4, 0x30 + v);
		wr(f, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	}
	cfg_write(f, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

static void test_msix_routing(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport *t = &f->vp.transport;

	enable_msix(f);
	bring_up(f);
	/* Vectors beyond the table are refused as NO_VECTOR. */
	cw(f, VIRTIO_PCI_COMMON_MSIX, 2, NQ + 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_MSIX), VIRTIO_MSI_NO_VECTOR);
	cw(f, VIRTIO_PCI_COMMON_MSIX, 2, NQ);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_MSIX), NQ);
	cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cw(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0x1234);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_MSIX), VIRTIO_MSI_NO_VECTOR);
	cw(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
	t->ops->notify_queue(t, 0);
	t->ops->notify_queue(t, 2);
	t->ops->notify_config(t);
	assert_int_equal(f->msi.n, 3);
	assert_int_equal(f->msi.data[0], 0x31);
	assert_int_equal(f->msi.data[1], 0x33);
	assert_int_equal(f->msi.data[2], 0x30 + NQ);
	/* No INTx and no queue bit in the ISR with MSI-X on. */
	assert_false(f->irq.level[GSI]);
	assert_int_equal(rd(f, f->l.isr, 1) & 1, 0);
	/* NO_VECTOR: no interrupt at all. */
	cw(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	t->ops->notify_queue(t, 0);
	assert_int_equal(f->msi.n, 3);
	/* A masked vector waits in the PBA. */
	wr(f, f->l.msix_table + 3 * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 1);
	t->ops->notify_queue(t, 2);
	assert_int_equal(f->msi.n, 3);
	wr(f, f->l.msix_table + 3 * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	assert_int_equal(f->msi.n, 4);
	assert_int_equal(f->msi.data[3], 0x33);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport *t = &f->vp.transport;
	unsigned int q;

	bring_up(f);
	t->ops->notify_queue(t, 0);
	t->ops->needs_reset(t);
	assert_true(f->irq.level[GSI]);
	cw(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	cw(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(f->dev.resets, 2);
	assert_int_equal(status(f), 0);
	assert_false(f->irq.level[GSI]);
	assert_int_equal(rd(f, f->l.isr, 1), 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_DFSELECT), 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_MSIX), VIRTIO_MSI_NO_VECTOR);
	cw(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_GF), 0);
	for (q = 0; q < NQ; q++) {
		cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_SIZE), QMAX);
		assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_ENABLE), 0);
		assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_MSIX), VIRTIO_MSI_NO_VECTOR);
		assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_DESCLO), 0);
		assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_AVAILLO), 0);
		assert_int_equal(cr(f, VIRTIO_PCI_COMMON_Q_USEDLO), 0);
	}
	cw(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	/* Nothing reaches the device until it is set up again. */
	wr(f, f->l.notify, 2, 0);
	t->ops->notify_queue(t, 0);
	assert_int_equal(f->dev.nnotify, 0);
	assert_false(f->irq.level[GSI]);
	/* And features must be negotiated again. */
	set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_false(status(f) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport *t = &f->vp.transport;

	/* Before DRIVER_OK: the bit, but no interrupt. */
	assert_true(negotiate(f, F_VERSION_1));
	t->ops->needs_reset(t);
	assert_true(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(f->irq.level[GSI]);
	cw(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_false(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	/* After: a configuration interrupt, and the device hears no more kicks. */
	enable_msix(f);
	bring_up(f);
	t->ops->needs_reset(t);
	assert_true(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(status(f) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->msi.n, 1);
	assert_int_equal(f->msi.data[0], 0x30);
	t->ops->needs_reset(t);
	assert_int_equal(f->msi.n, 1);
	wr(f, f->l.notify, 2, 0);
	assert_int_equal(f->dev.nnotify, 0);
	/* Writing the status back keeps it set: only a reset clears it. */
	set_status(f, VIRTIO_STATUS_FAILED);
	assert_true(status(f) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_device_config(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport *t = &f->vp.transport;
	uint8_t gen = cr(f, VIRTIO_PCI_COMMON_CFGGENERATION);

	assert_int_equal(rd(f, f->l.device, 4), 0x44332211);
	assert_int_equal(rd(f, f->l.device + 6, 2), 0x8877);
	assert_int_equal(rd(f, f->l.device, 8), 0x8877665544332211ULL);
	/* Past the device's configuration: 0 and dropped. */
	assert_int_equal(rd(f, f->l.device + 6, 4), 0);
	assert_int_equal(rd(f, f->l.device + 0x800, 4), 0);
	wr(f, f->l.device + 7, 2, 0);
	assert_int_equal(f->dev.config_writes, 0);
	wr(f, f->l.device + 4, 4, 0xcafef00d);
	assert_int_equal(f->dev.config_writes, 1);
	assert_int_equal(rd(f, f->l.device + 4, 4), 0xcafef00d);
	/* Driver writes are not changes; the device's are, even before DRIVER_OK. */
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_CFGGENERATION), gen);
	t->ops->notify_config(t);
	t->ops->notify_config(t);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_CFGGENERATION), (uint8_t)(gen + 2));
	assert_false(f->irq.level[GSI]);
}

/* The configuration-space window into BAR 4 that the spec requires (4.1.4.9). */
static void test_pci_cfg_window(void **state)
{
	struct fixture *f = *state;
	unsigned int c = f->l.pci_cfg;
	unsigned int data = c + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);

	assert_int_not_equal(c, 0);
	cfg_write(f, c + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_BAR);
	cfg_write(f, c + VIRTIO_PCI_CAP_OFFSET, 4,
		  VIRTIO_PCI_COMMON_OFFSET + VIRTIO_PCI_COMMON_NUMQ);
	cfg_write(f, c + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	assert_int_equal(cfg_read(f, c + VIRTIO_PCI_CAP_LENGTH, 4), 2);
	assert_int_equal(cfg_read(f, data, 4), NQ);
	assert_int_equal(cfg_read(f, data, 2), NQ);
	/* Writes go through too: select features word 1 and read it back. */
	cfg_write(f, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_DFSELECT);
	cfg_write(f, c + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	cfg_write(f, data, 4, 1);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_DFSELECT), 1);
	/* Another BAR, an unaligned offset or a bad length reach nothing. */
	cfg_write(f, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_DFSELECT + 2);
	cfg_write(f, data, 4, 0);
	cfg_write(f, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_DFSELECT);
	cfg_write(f, c + VIRTIO_PCI_CAP_LENGTH, 4, 3);
	cfg_write(f, data, 4, 0);
	cfg_write(f, c + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	cfg_write(f, c + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_MSIX_BAR);
	cfg_write(f, data, 4, 0);
	assert_int_equal(cr(f, VIRTIO_PCI_COMMON_DFSELECT), 1);
	/* The other capability fields stay read-only. */
	cfg_write(f, c + VIRTIO_PCI_CAP_CFG_TYPE, 1, 1);
	assert_int_equal(cfg_read(f, c + VIRTIO_PCI_CAP_CFG_TYPE, 1), VIRTIO_PCI_CAP_PCI_CFG);
}

static void test_bad_devices(void **state)
{
	struct fixture *f = *state;
	struct virtio_device_ops ops = fake_ops;
	struct virtio_pci vp;
	struct error err = {0};

	(void)f;
	ops.num_queues = 0;
	assert_int_equal(virtio_pci_init(&vp, &ops, &f->dev, &err), -EINVAL);
	ops.num_queues = VIRTIO_PCI_MAX_QUEUES + 1;
	assert_int_equal(virtio_pci_init(&vp, &ops, &f->dev, &err), -EINVAL);
	ops = fake_ops;
	ops.queue_max_size = 100;
	assert_int_equal(virtio_pci_init(&vp, &ops, &f->dev, &err), -EINVAL);
	ops = fake_ops;
	ops.config_size = VIRTIO_PCI_DEVICE_MAX + 1;
	assert_int_equal(virtio_pci_init(&vp, &ops, &f->dev, &err), -EINVAL);
	ops = fake_ops;
	f->dev.features = F_DEV0;
	assert_int_equal(virtio_pci_init(&vp, &ops, &f->dev, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "VERSION_1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isr_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_devices, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
