// SPDX-License-Identifier: MIT
/*
 * A guest with free rein over a virtio-pci function on a fresh host bridge: configuration
 * space through both mechanisms, BAR 4 and the MSI-X BAR through the MMIO bus, at any
 * offset and width, plus what the device model may do from its side. After every step it
 * checks what must hold whatever the guest did. Each operation starts with a byte:
 *   bits 2:0  0 conf1 port, 1 ECAM, 2 BAR 4, 3 MSI-X BAR, 4 a common configuration register
 *             at its own width, 5 a device event, 6 an ioeventfd kick, 7 a queue notify
 *   bits 4:3  log2 of the access size (ops 0..3)
 *   bit 5     write (ops 0..4)
 * followed by the operands the operation takes (offsets, then the value for writes).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_PCI_NO_LEGACY
#include "devices/virtio_pci.h"
#include "fuzz_input.h"
#include "x86/platform.h"

#include <linux/virtio_pci.h>

#define SLOT 5
#define NQ 2
#define QMAX 16
#define CFG_SIZE 12
#define F_REFUSED (1ULL << 3) /* the device turns down any set with this bit */
#define OFFERED                                                                                    \
	((1ULL << 0) | F_REFUSED | (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_VERSION_1) |   \
	 (1ULL << 34) | (1ULL << 40))
#define TRANSPORT_UNSUPPORTED ((1ULL << 34) | (0xfULL << 37) | (1ULL << 41))

struct harness {
	struct bus mmio, pio;
	struct pci_host host;
	struct virtio_pci vp;
	uint8_t config[CFG_SIZE];
	/* What the device was told, checked against what the transport shows. */
	bool features_set;
	uint64_t features;
	bool ready[NQ];
	bool line;
	uint8_t ro[PCI_CFG_SPACE_SIZE]; /* read-only bits of configuration space at start */
};

static struct harness *fuzz_h;

static bool fuzz_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint64_t dev_features(void *dev)
{
	(void)dev;
	return OFFERED;
}

static bool dev_set_features(void *dev, uint64_t features)
{
	struct harness *h = dev;

	FUZZ_CHECK(!(h->vp.status & VIRTIO_STATUS_FEATURES_OK));
	FUZZ_CHECK(!(features & ~(OFFERED & ~TRANSPORT_UNSUPPORTED)));
	FUZZ_CHECK(features & (1ULL << VIRTIO_F_VERSION_1));
	if (features & F_REFUSED)
		return false;
	h->features_set = true;
	h->features = features;
	return true;
}

static uint64_t dev_config_read(void *dev, uint32_t offset, unsigned int size)
{
	struct harness *h = dev;
	uint64_t v = 0;

	FUZZ_CHECK(size >= 1 && size <= 8 && offset + size <= CFG_SIZE);
	memcpy(&v, &h->config[offset], size);
	return v;
}

static void dev_config_write(void *dev, uint32_t offset, unsigned int size, uint64_t value)
{
	struct harness *h = dev;

	FUZZ_CHECK(size >= 1 && size <= 8 && offset + size <= CFG_SIZE);
	memcpy(&h->config[offset], &value, size);
}

static void dev_queue_ready(void *dev, unsigned int q, const struct virtio_queue_config *cfg)
{
	struct harness *h = dev;
	const struct virtio_pci_queue *vq = &h->vp.queue[q];

	FUZZ_CHECK(q < NQ && !h->ready[q]);
	FUZZ_CHECK(h->vp.status & VIRTIO_STATUS_DRIVER_OK);
	FUZZ_CHECK(h->vp.status & VIRTIO_STATUS_FEATURES_OK);
	FUZZ_CHECK(vq->enabled);
	FUZZ_CHECK(fuzz_pow2(cfg->size) && cfg->size <= QMAX);
	FUZZ_CHECK(cfg->size == vq->size && cfg->desc == vq->desc && cfg->avail == vq->avail &&
		   cfg->used == vq->used);
	FUZZ_CHECK(!(cfg->desc & 15) && !(cfg->avail & 1) && !(cfg->used & 3));
	FUZZ_CHECK(cfg->msix_vector == VIRTIO_MSI_NO_VECTOR || cfg->msix_vector <= NQ);
	h->ready[q] = true;
}

/* Like a real device: answer a kick with a used-buffer interrupt, from inside the call. */
static void dev_queue_notify(void *dev, unsigned int q)
{
	struct harness *h = dev;

	FUZZ_CHECK(q < NQ && h->ready[q]);
	FUZZ_CHECK(h->vp.status & VIRTIO_STATUS_DRIVER_OK);
	FUZZ_CHECK(!h->vp.needs_reset);
	h->vp.transport.ops->notify_queue(&h->vp.transport, q);
}

static void dev_reset(void *dev)
{
	struct harness *h = dev;

	h->features_set = false;
	memset(h->ready, 0, sizeof(h->ready));
}

static const struct virtio_device_ops dev_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = NQ,
	.queue_max_size = QMAX,
	.features = dev_features,
	.set_features = dev_set_features,
	.config_size = CFG_SIZE,
	.config_read = dev_config_read,
	.config_write = dev_config_write,
	.queue_ready = dev_queue_ready,
	.queue_notify = dev_queue_notify,
	.reset = dev_reset,
};

static bool msix_enabled(const struct pci_dev *d)
{
	return d->cfg[d->msix.cap + PCI_MSIX_FLAGS + 1] & (PCI_MSIX_FLAGS_ENABLE >> 8);
}

/* Only an unmasked entry of an enabled, unmasked function may send, and only its message. */
static void msi_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct harness *h = ctx;
	const struct pci_dev *d = &h->vp.pci;
	unsigned int v;
	bool found = false;

	FUZZ_CHECK(msix_enabled(d));
	FUZZ_CHECK(!(d->cfg[d->msix.cap + PCI_MSIX_FLAGS + 1] & (PCI_MSIX_FLAGS_MASKALL >> 8)));
	for (v = 0; v < d->msix.nvec; v++) {
		const uint8_t *e = d->msix.table + v * PCI_MSIX_ENTRY_SIZE;
		uint64_t a;
		uint32_t dt;

		memcpy(&a, e, 8);
		memcpy(&dt, e + PCI_MSIX_ENTRY_DATA, 4);
		if (a == addr && dt == data && !(e[PCI_MSIX_ENTRY_VECTOR_CTRL] & 1))
			found = true;
	}
	FUZZ_CHECK(found);
}

static const struct msi_ops fuzz_msi_ops = {msi_send};

static void irq_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct harness *h = ctx;
	const struct pci_dev *d = &h->vp.pci;

	FUZZ_CHECK(gsi == PLATFORM_PCI_INTX_GSI_BASE + (SLOT & 3));
	FUZZ_CHECK(level != h->line);
	if (level) {
		FUZZ_CHECK(!(d->cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8)));
		FUZZ_CHECK(!msix_enabled(d));
	}
	h->line = level;
}

static const struct irq_ops fuzz_irq_ops = {irq_set_level};

static void check(struct harness *h)
{
	const struct virtio_pci *vp = &h->vp;
	const struct pci_dev *d = &vp->pci;
	unsigned int i, q;
	uint64_t v;

	/* Negotiation: what FEATURES_OK shows is what the device accepted, and stays so. */
	if (vp->status & VIRTIO_STATUS_FEATURES_OK)
		FUZZ_CHECK(h->features_set && vp->driver_features == h->features);
	if (vp->status & VIRTIO_STATUS_DRIVER_OK)
		FUZZ_CHECK(vp->status & VIRTIO_STATUS_FEATURES_OK);
	/* NEEDS_RESET is the device's: it never enters the driver's status byte. */
	FUZZ_CHECK(!(vp->status & VIRTIO_STATUS_NEEDS_RESET));
	FUZZ_CHECK(vp->config_vector == VIRTIO_MSI_NO_VECTOR || vp->config_vector <= NQ);
	for (q = 0; q < NQ; q++) {
		const struct virtio_pci_queue *vq = &vp->queue[q];

		FUZZ_CHECK(fuzz_pow2(vq->size) && vq->size <= QMAX);
		FUZZ_CHECK(vq->msix_vector == VIRTIO_MSI_NO_VECTOR || vq->msix_vector <= NQ);
		FUZZ_CHECK(!vq->enabled || (vp->status & VIRTIO_STATUS_FEATURES_OK));
		FUZZ_CHECK(h->ready[q] ==
			   (vq->enabled && (vp->status & VIRTIO_STATUS_DRIVER_OK) != 0));
	}
	/* Read-only bits stayed so (the status byte with its INTx bit aside). */
	for (i = 0; i < PCI_CFG_SPACE_SIZE; i++)
		if (i != PCI_STATUS)
			FUZZ_CHECK((d->cfg[i] & ~d->wmask[i] & ~d->w1c[i]) == h->ro[i]);
	/* A BAR is on its bus exactly while it decodes. */
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		const struct pci_bar *b = &d->bar[i];
		uint16_t decode = b->type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;

		if (!b->mapped)
			continue;
		FUZZ_CHECK(d->cfg[PCI_COMMAND] & decode);
		FUZZ_CHECK(b->addr && !(b->addr & (b->size - 1)));
		FUZZ_CHECK(bus_read(&h->mmio, b->addr + b->size - 1, 1, &v));
	}
	if (h->line)
		FUZZ_CHECK(d->intx_level);
}

/* A BAR's current address, or an address where nothing is when it is not on the bus. */
static uint64_t bar_addr(struct harness *h, unsigned int bar)
{
	const struct pci_bar *b = &h->vp.pci.bar[bar];

	return b->mapped ? b->addr : 0x1000;
}

static const struct {
	uint8_t off, width;
} common_regs[] = {
	{VIRTIO_PCI_COMMON_DFSELECT, 4},  {VIRTIO_PCI_COMMON_DF, 4},
	{VIRTIO_PCI_COMMON_GFSELECT, 4},  {VIRTIO_PCI_COMMON_GF, 4},
	{VIRTIO_PCI_COMMON_MSIX, 2},	  {VIRTIO_PCI_COMMON_NUMQ, 2},
	{VIRTIO_PCI_COMMON_STATUS, 1},	  {VIRTIO_PCI_COMMON_CFGGENERATION, 1},
	{VIRTIO_PCI_COMMON_Q_SELECT, 2},  {VIRTIO_PCI_COMMON_Q_SIZE, 2},
	{VIRTIO_PCI_COMMON_Q_MSIX, 2},	  {VIRTIO_PCI_COMMON_Q_ENABLE, 2},
	{VIRTIO_PCI_COMMON_Q_NOFF, 2},	  {VIRTIO_PCI_COMMON_Q_DESCLO, 4},
	{VIRTIO_PCI_COMMON_Q_DESCHI, 4},  {VIRTIO_PCI_COMMON_Q_AVAILLO, 4},
	{VIRTIO_PCI_COMMON_Q_AVAILHI, 4}, {VIRTIO_PCI_COMMON_Q_USEDLO, 4},
	{VIRTIO_PCI_COMMON_Q_USEDHI, 4},  {VIRTIO_PCI_COMMON_Q_DESCLO, 8},
};

static void step(struct harness *h, struct fuzz_input *in, uint8_t op)
{
	struct virtio_transport *t = &h->vp.transport;
	unsigned int size = 1U << ((op >> 3) & 3);
	bool write = op & 0x20;
	uint64_t off, v;
	uint8_t sel;

	switch (op & 7) {
	case 0:
		off = fuzz_take(in, 1) & 7;
		if (write)
			pci_conf1_io_ops.write(&h->host, off, size, fuzz_take(in, size));
		else
			pci_conf1_io_ops.read(&h->host, off, size);
		break;
	case 1:
		/* Mostly our function, sometimes anywhere in ECAM. */
		sel = fuzz_take(in, 1);
		off = (sel & 0x80) ? fuzz_take(in, 4) % PLATFORM_ECAM_SIZE
				   : ((uint64_t)SLOT << 15) | (fuzz_take(in, 2) & 0xfff);
		if (write)
			pci_ecam_io_ops.write(&h->host, off, size, fuzz_take(in, size));
		else
			pci_ecam_io_ops.read(&h->host, off, size);
		break;
	case 2:
	case 3:
		off = fuzz_take(in, 2) % (VIRTIO_PCI_BAR_SIZE + 16);
		off += bar_addr(h, (op & 7) == 2 ? VIRTIO_PCI_BAR : VIRTIO_PCI_MSIX_BAR);
		if (write)
			bus_write(&h->mmio, off, size, fuzz_take(in, size));
		else
			bus_read(&h->mmio, off, size, &v);
		break;
	case 4:
		sel = fuzz_take(in, 1) % (sizeof(common_regs) / sizeof(common_regs[0]));
		off = bar_addr(h, VIRTIO_PCI_BAR) + common_regs[sel].off;
		if (write)
			bus_write(&h->mmio, off, common_regs[sel].width,
				  fuzz_take(in, common_regs[sel].width));
		else
			bus_read(&h->mmio, off, common_regs[sel].width, &v);
		break;
	case 5:
		sel = fuzz_take(in, 1);
		if (sel % 3 == 0)
			t->ops->notify_queue(t, sel / 3 % (NQ + 1));
		else if (sel % 3 == 1)
			t->ops->notify_config(t);
		else
			t->ops->needs_reset(t);
		break;
	case 6:
		virtio_pci_kick(&h->vp, fuzz_take(in, 1) % (NQ + 2));
		break;
	default:
		bus_write(&h->mmio,
			  bar_addr(h, VIRTIO_PCI_BAR) +
				  virtio_pci_notify_offset(fuzz_take(in, 1) % (NQ + 2)),
			  2, 0);
		break;
	}
}

static void harness_init(struct harness *h)
{
	struct pci_host_config cfg = {
		.irq_ops = &fuzz_irq_ops,
		.irq_ctx = h,
		.msi_ops = &fuzz_msi_ops,
		.msi_ctx = h,
		.mmio64_base = 1ULL << 40,
		.mmio64_size = PLATFORM_PCI64_SIZE,
	};
	struct error err = {0};
	unsigned int i;

	memset(h, 0, sizeof(*h));
	bus_init(&h->mmio, "MMIO");
	bus_init(&h->pio, "port I/O");
	cfg.mmio = &h->mmio;
	cfg.pio = &h->pio;
	FUZZ_CHECK(pci_host_init(&h->host, &cfg, &err) == 0);
	FUZZ_CHECK(virtio_pci_init(&h->vp, &dev_ops, h, &err) == 0);
	FUZZ_CHECK(pci_host_add(&h->host, SLOT, &h->vp.pci, &err) == 0);
	FUZZ_CHECK(pci_host_assign_bars(&h->host, &err) == 0);
	for (i = 0; i < PCI_CFG_SPACE_SIZE; i++)
		h->ro[i] = h->vp.pci.cfg[i] & ~h->vp.pci.wmask[i] & ~h->vp.pci.w1c[i];
}

static void harness_destroy(struct harness *h)
{
	pci_host_destroy(&h->host);
	virtio_pci_destroy(&h->vp);
	bus_destroy(&h->mmio);
	bus_destroy(&h->pio);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct harness *h = fuzz_h;

	if (!h) {
		h = fuzz_h = malloc(sizeof(*h));
		FUZZ_CHECK(h);
	}
	harness_init(h);
	while (fuzz_left(&in)) {
		step(h, &in, fuzz_take(&in, 1));
		check(h);
	}
	harness_destroy(h);
	return 0;
}
