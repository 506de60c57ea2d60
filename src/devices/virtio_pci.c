// SPDX-License-Identifier: MIT
/*
 * Drivers must access each field of the common configuration at its natural width (virtio
 * 1.2, 4.1.3.1), so an access of any other width or offset reads as zero and is dropped: a
 * guest cannot set half a register, and no width has to be guessed. The 64-bit queue
 * addresses take the two 32-bit halves drivers write, or one 8-byte access.
 */
#define VIRTIO_PCI_NO_LEGACY
#include "devices/virtio_pci.h"

#include <linux/virtio_pci.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define VIRTIO_PCI_ISR_QUEUE 0x1

/* Transport features this transport does not implement (virtio 1.2, 6). */
#define VIRTIO_PCI_UNSUPPORTED                                                                     \
	((1ULL << 34) /* RING_PACKED */ | (1ULL << 37) /* SR_IOV */ |                              \
	 (1ULL << 38) /* NOTIFICATION_DATA */ | (1ULL << 39) /* NOTIF_CONFIG_DATA */ |             \
	 (1ULL << 40) /* RING_RESET */ | (1ULL << 41) /* ADMIN_VQ */)

#define VIRTIO_PCI_CFG_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

/* Split virtqueue part sizes for a queue of n entries (virtio 1.2, 2.7), with event fields. */
#define VIRTIO_PCI_DESC_BYTES(n) (16ULL * (n))
#define VIRTIO_PCI_AVAIL_BYTES(n) (6ULL + 2ULL * (n))
#define VIRTIO_PCI_USED_BYTES(n) (6ULL + 8ULL * (n))

static uint64_t virtio_pci_ones(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static bool virtio_pci_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static unsigned int virtio_pci_nqueues(const struct virtio_pci *vp)
{
	return vp->ops->num_queues;
}

static uint16_t virtio_pci_vector(const struct virtio_pci *vp, uint16_t v)
{
	return v < virtio_pci_nqueues(vp) + 1 ? v : VIRTIO_MSI_NO_VECTOR;
}

static uint64_t virtio_pci_offered(const struct virtio_pci *vp)
{
	return vp->ops->features(vp->dev) & ~VIRTIO_PCI_UNSUPPORTED;
}

static struct virtio_pci_queue *virtio_pci_selected(struct virtio_pci *vp)
{
	return vp->queue_select < virtio_pci_nqueues(vp) ? &vp->queue[vp->queue_select] : NULL;
}

/* ---- interrupts: irq_lock held ---- */

/* MSI-X when the driver enabled it (no vector: no interrupt), else INTx and the ISR. */
static void virtio_pci_interrupt(struct virtio_pci *vp, uint16_t vector, uint8_t isr)
{
	if (!pci_msix_enabled(&vp->pci))
		vp->isr |= isr;
	else if (vector != VIRTIO_MSI_NO_VECTOR)
		pci_msix_notify(&vp->pci, vector);
	/* INTx is the OR of the ISR bits (4.1.4.5.1); pci.c holds it off while MSI-X is on. */
	pci_intx_set(&vp->pci, vp->isr != 0);
}

static void virtio_pci_config_interrupt(struct virtio_pci *vp)
{
	/* Set even with MSI-X (4.1.4.5.1), where no one reads it. */
	vp->isr |= VIRTIO_PCI_ISR_CONFIG;
	virtio_pci_interrupt(vp, vp->config_vector, VIRTIO_PCI_ISR_CONFIG);
}

static void virtio_pci_notify_queue(struct virtio_transport *t, unsigned int q)
{
	struct virtio_pci *vp = t->opaque;

	if (q >= virtio_pci_nqueues(vp))
		return;
	pthread_mutex_lock(&vp->irq_lock);
	if (vp->driver_ok)
		virtio_pci_interrupt(vp, vp->queue[q].msix_vector, VIRTIO_PCI_ISR_QUEUE);
	pthread_mutex_unlock(&vp->irq_lock);
}

static void virtio_pci_notify_config(struct virtio_transport *t)
{
	struct virtio_pci *vp = t->opaque;

	pthread_mutex_lock(&vp->irq_lock);
	vp->generation++;
	if (vp->driver_ok)
		virtio_pci_config_interrupt(vp);
	pthread_mutex_unlock(&vp->irq_lock);
}

static void virtio_pci_needs_reset(struct virtio_transport *t)
{
	struct virtio_pci *vp = t->opaque;

	pthread_mutex_lock(&vp->irq_lock);
	if (!vp->needs_reset) {
		vp->needs_reset = true;
		if (vp->driver_ok)
			virtio_pci_config_interrupt(vp);
	}
	pthread_mutex_unlock(&vp->irq_lock);
}

static void virtio_pci_reschedule(struct virtio_transport *t, unsigned int q)
{
	struct virtio_pci *vp = t->opaque;

	if (vp->kick_later)
		vp->kick_later(vp->kick_later_ctx, q);
}

static const struct virtio_transport_ops virtio_pci_transport_ops = {
	.notify_queue = virtio_pci_notify_queue,
	.notify_config = virtio_pci_notify_config,
	.needs_reset = virtio_pci_needs_reset,
	.reschedule = virtio_pci_reschedule,
};

static uint8_t virtio_pci_isr_read(struct virtio_pci *vp)
{
	uint8_t isr;

	pthread_mutex_lock(&vp->irq_lock);
	isr = vp->isr;
	vp->isr = 0;
	pci_intx_set(&vp->pci, false);
	pthread_mutex_unlock(&vp->irq_lock);
	return isr;
}

/* ---- device status and queues: vp->lock held ---- */

/* Everything the driver set up, as after power-on (config_generation only ever grows). */
static void virtio_pci_clear(struct virtio_pci *vp)
{
	unsigned int q;

	vp->device_feature_select = 0;
	vp->driver_feature_select = 0;
	vp->driver_features = 0;
	vp->status = 0;
	vp->queue_select = 0;
	pthread_mutex_lock(&vp->irq_lock);
	for (q = 0; q < virtio_pci_nqueues(vp); q++)
		vp->queue[q] = (struct virtio_pci_queue){
			.size = vp->ops->queue_max_size,
			.msix_vector = VIRTIO_MSI_NO_VECTOR,
		};
	vp->driver_ok = false;
	vp->needs_reset = false;
	vp->isr = 0;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	pci_intx_set(&vp->pci, false);
	pci_msix_clear_pending(&vp->pci);
	pthread_mutex_unlock(&vp->irq_lock);
}

static void virtio_pci_queue_ready(struct virtio_pci *vp, unsigned int q)
{
	const struct virtio_pci_queue *vq = &vp->queue[q];
	const struct virtio_queue_config cfg = {
		.size = vq->size,
		.desc = vq->desc,
		.avail = vq->avail,
		.used = vq->used,
		.msix_vector = vq->msix_vector,
	};

	vp->ops->queue_ready(vp->dev, q, &cfg);
}

static bool virtio_pci_fits(uint64_t addr, uint64_t len)
{
	return addr + (len - 1) >= addr;
}

/* The alignment rules of a split virtqueue, and parts that do not wrap around. */
static bool virtio_pci_queue_valid(const struct virtio_pci_queue *vq)
{
	return !(vq->desc & 15) && !(vq->avail & 1) && !(vq->used & 3) &&
	       virtio_pci_fits(vq->desc, VIRTIO_PCI_DESC_BYTES(vq->size)) &&
	       virtio_pci_fits(vq->avail, VIRTIO_PCI_AVAIL_BYTES(vq->size)) &&
	       virtio_pci_fits(vq->used, VIRTIO_PCI_USED_BYTES(vq->size));
}

static void virtio_pci_queue_enable(struct virtio_pci *vp)
{
	struct virtio_pci_queue *vq = virtio_pci_selected(vp);

	if (!vq || vq->enabled || !(vp->status & VIRTIO_STATUS_FEATURES_OK) ||
	    !virtio_pci_queue_valid(vq))
		return;
	vq->enabled = true;
	if (vp->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_pci_queue_ready(vp, vp->queue_select);
}

static bool virtio_pci_features_ok(struct virtio_pci *vp)
{
	uint64_t f = vp->driver_features;

	return !(f & ~virtio_pci_offered(vp)) && (f & (1ULL << VIRTIO_F_VERSION_1)) &&
	       vp->ops->set_features(vp->dev, f);
}

/*
 * Only a reset (0) clears bits. FEATURES_OK sticks only for an acceptable feature set and
 * DRIVER_OK only after FEATURES_OK; the driver reads the status back to learn (3.1.1).
 */
static void virtio_pci_set_status(struct virtio_pci *vp, uint8_t val)
{
	uint8_t old = vp->status, added;
	unsigned int q;

	if (!val) {
		vp->ops->reset(vp->dev);
		virtio_pci_clear(vp);
		return;
	}
	val &= ~VIRTIO_STATUS_NEEDS_RESET; /* the device's to set */
	if ((val & old) != old)
		return;
	added = val & ~old;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !virtio_pci_features_ok(vp))
		val &= ~VIRTIO_STATUS_FEATURES_OK;
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FEATURES_OK))
		val &= ~VIRTIO_STATUS_DRIVER_OK;
	vp->status = val;
	if (!(val & ~old & VIRTIO_STATUS_DRIVER_OK))
		return;
	pthread_mutex_lock(&vp->irq_lock);
	vp->driver_ok = true;
	pthread_mutex_unlock(&vp->irq_lock);
	for (q = 0; q < virtio_pci_nqueues(vp); q++)
		if (vp->queue[q].enabled)
			virtio_pci_queue_ready(vp, q);
}

/* ---- common configuration: vp->lock held ---- */

/* The width of the register at off, 0 where none starts. */
static unsigned int virtio_pci_common_width(uint64_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return 1;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return 2;
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return 4;
	}
	return 0;
}

static bool virtio_pci_common_is_64(uint64_t off)
{
	return off == VIRTIO_PCI_COMMON_Q_DESCLO || off == VIRTIO_PCI_COMMON_Q_AVAILLO ||
	       off == VIRTIO_PCI_COMMON_Q_USEDLO;
}

static uint64_t *virtio_pci_queue_addr(struct virtio_pci_queue *vq, uint64_t off)
{
	if (off < VIRTIO_PCI_COMMON_Q_AVAILLO)
		return &vq->desc;
	if (off < VIRTIO_PCI_COMMON_Q_USEDLO)
		return &vq->avail;
	return &vq->used;
}

static uint32_t virtio_pci_common_get(struct virtio_pci *vp, uint64_t off)
{
	struct virtio_pci_queue *vq = virtio_pci_selected(vp);
	uint32_t v = 0;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return vp->device_feature_select;
	case VIRTIO_PCI_COMMON_DF:
		if (vp->device_feature_select < 2)
			v = virtio_pci_offered(vp) >> (32 * vp->device_feature_select);
		return v;
	case VIRTIO_PCI_COMMON_GFSELECT:
		return vp->driver_feature_select;
	case VIRTIO_PCI_COMMON_GF:
		if (vp->driver_feature_select < 2)
			v = vp->driver_features >> (32 * vp->driver_feature_select);
		return v;
	case VIRTIO_PCI_COMMON_NUMQ:
		return virtio_pci_nqueues(vp);
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return vp->queue_select;
	}
	pthread_mutex_lock(&vp->irq_lock);
	switch (off) {
	case VIRTIO_PCI_COMMON_MSIX:
		v = vp->config_vector;
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		v = vp->status | (vp->needs_reset ? VIRTIO_STATUS_NEEDS_RESET : 0);
		break;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		v = vp->generation;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		v = vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
		break;
	}
	pthread_mutex_unlock(&vp->irq_lock);
	if (!vq)
		return v;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		v = vq->size;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		v = vq->enabled;
		break;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		v = vp->queue_select;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO ... VIRTIO_PCI_COMMON_Q_USEDHI:
		v = *virtio_pci_queue_addr(vq, off) >> (off & 4 ? 32 : 0);
		break;
	}
	return v;
}

static void virtio_pci_common_set(struct virtio_pci *vp, uint64_t off, uint32_t v)
{
	struct virtio_pci_queue *vq = virtio_pci_selected(vp);
	uint64_t *addr;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->device_feature_select = v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->driver_feature_select = v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		/* Frozen once accepted (3.1.1); selects past 1 reach nothing. */
		if (vp->driver_feature_select >= 2 || (vp->status & VIRTIO_STATUS_FEATURES_OK))
			break;
		if (vp->driver_feature_select)
			vp->driver_features = (vp->driver_features & 0xffffffffULL) | (uint64_t)v
											      << 32;
		else
			vp->driver_features = (vp->driver_features & ~0xffffffffULL) | v;
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		pthread_mutex_lock(&vp->irq_lock);
		vp->config_vector = virtio_pci_vector(vp, v);
		pthread_mutex_unlock(&vp->irq_lock);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		virtio_pci_set_status(vp, v);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = v;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (!vq)
			break;
		pthread_mutex_lock(&vp->irq_lock);
		vq->msix_vector = virtio_pci_vector(vp, v);
		pthread_mutex_unlock(&vp->irq_lock);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Writing 0 is not how a queue stops (4.1.4.3.2); only a reset does that. */
		if (v == 1)
			virtio_pci_queue_enable(vp);
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (vq && !vq->enabled && virtio_pci_pow2(v) && v <= vp->ops->queue_max_size)
			vq->size = v;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO ... VIRTIO_PCI_COMMON_Q_USEDHI:
		if (!vq || vq->enabled)
			break;
		addr = virtio_pci_queue_addr(vq, off);
		if (off & 4)
			*addr = (*addr & 0xffffffffULL) | (uint64_t)v << 32;
		else
			*addr = (*addr & ~0xffffffffULL) | v;
		break;
	}
}

static uint64_t virtio_pci_common_read(struct virtio_pci *vp, uint64_t off, unsigned int size)
{
	if (size == 8 && virtio_pci_common_is_64(off))
		return virtio_pci_common_get(vp, off) | (uint64_t)virtio_pci_common_get(vp, off + 4)
								<< 32;
	if (size != virtio_pci_common_width(off))
		return 0;
	return virtio_pci_common_get(vp, off);
}

static void virtio_pci_common_write(struct virtio_pci *vp, uint64_t off, unsigned int size,
				    uint64_t value)
{
	if (size == 8 && virtio_pci_common_is_64(off)) {
		virtio_pci_common_set(vp, off, value);
		virtio_pci_common_set(vp, off + 4, value >> 32);
	} else if (size == virtio_pci_common_width(off)) {
		virtio_pci_common_set(vp, off, value & virtio_pci_ones(size));
	}
}

/* ---- BAR 4 ---- */

void virtio_pci_kick(struct virtio_pci *vp, unsigned int q)
{
	bool live;

	pthread_mutex_lock(&vp->lock);
	live = q < virtio_pci_nqueues(vp) && vp->queue[q].enabled &&
	       (vp->status & VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_lock(&vp->irq_lock);
	live = live && !vp->needs_reset;
	pthread_mutex_unlock(&vp->irq_lock);
	pthread_mutex_unlock(&vp->lock);
	if (live)
		vp->ops->queue_notify(vp->dev, q);
}

void virtio_pci_set_kick_later(struct virtio_pci *vp, void (*fn)(void *ctx, unsigned int q),
			       void *ctx)
{
	vp->kick_later = fn;
	vp->kick_later_ctx = ctx;
}

static bool virtio_pci_in_device_cfg(const struct virtio_pci *vp, uint64_t off, unsigned int size)
{
	uint64_t o = off - VIRTIO_PCI_DEVICE_OFFSET;

	return off >= VIRTIO_PCI_DEVICE_OFFSET && o < vp->ops->config_size &&
	       size <= vp->ops->config_size - o;
}

static uint64_t virtio_pci_bar_read(void *opaque, uint64_t off, unsigned int size)
{
	struct virtio_pci *vp = opaque;
	uint64_t v = 0;

	if (size < 1 || size > 8 || off >= VIRTIO_PCI_BAR_SIZE || size > VIRTIO_PCI_BAR_SIZE - off)
		return 0;
	if (off == VIRTIO_PCI_ISR_OFFSET)
		return virtio_pci_isr_read(vp);
	pthread_mutex_lock(&vp->lock);
	if (off < VIRTIO_PCI_COMMON_OFFSET + VIRTIO_PCI_COMMON_LEN)
		v = virtio_pci_common_read(vp, off - VIRTIO_PCI_COMMON_OFFSET, size);
	else if (virtio_pci_in_device_cfg(vp, off, size))
		v = vp->ops->config_read(vp->dev, off - VIRTIO_PCI_DEVICE_OFFSET, size) &
		    virtio_pci_ones(size);
	pthread_mutex_unlock(&vp->lock);
	return v;
}

static void virtio_pci_bar_write(void *opaque, uint64_t off, unsigned int size, uint64_t value)
{
	struct virtio_pci *vp = opaque;
	uint64_t o = off - VIRTIO_PCI_NOTIFY_OFFSET;

	if (size < 1 || size > 8 || off >= VIRTIO_PCI_BAR_SIZE || size > VIRTIO_PCI_BAR_SIZE - off)
		return;
	/* The address names the queue; the value (its index) adds nothing. */
	if (off >= VIRTIO_PCI_NOTIFY_OFFSET) {
		if (o % VIRTIO_PCI_NOTIFY_MULTIPLIER == 0)
			virtio_pci_kick(vp, o / VIRTIO_PCI_NOTIFY_MULTIPLIER);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	if (off < VIRTIO_PCI_COMMON_OFFSET + VIRTIO_PCI_COMMON_LEN)
		virtio_pci_common_write(vp, off - VIRTIO_PCI_COMMON_OFFSET, size, value);
	else if (virtio_pci_in_device_cfg(vp, off, size))
		vp->ops->config_write(vp->dev, off - VIRTIO_PCI_DEVICE_OFFSET, size,
				      value & virtio_pci_ones(size));
	pthread_mutex_unlock(&vp->lock);
}

static const struct io_ops virtio_pci_bar_io_ops = {virtio_pci_bar_read, virtio_pci_bar_write};

bool virtio_pci_notify_addr(struct virtio_pci *vp, unsigned int q, uint64_t *addr)
{
	uint64_t bar;

	if (q >= virtio_pci_nqueues(vp) || !pci_bar_address(&vp->pci, VIRTIO_PCI_BAR, &bar))
		return false;
	*addr = bar + virtio_pci_notify_offset(q);
	return true;
}

/* ---- the VIRTIO_PCI_CAP_PCI_CFG window into BAR 4 (4.1.4.9) ---- */

/* The BAR 4 access the capability's fields describe, if they describe a valid one. */
static bool virtio_pci_cfg_target(struct virtio_pci *vp, uint32_t *off, unsigned int *len)
{
	unsigned int c = vp->cfg_cap;
	uint8_t bar = pci_cfg_get(&vp->pci, c + VIRTIO_PCI_CAP_BAR, 1);

	*off = pci_cfg_get(&vp->pci, c + VIRTIO_PCI_CAP_OFFSET, 4);
	*len = pci_cfg_get(&vp->pci, c + VIRTIO_PCI_CAP_LENGTH, 4);
	return bar == VIRTIO_PCI_BAR && (*len == 1 || *len == 2 || *len == 4) && !(*off % *len) &&
	       *off < VIRTIO_PCI_BAR_SIZE;
}

static uint64_t virtio_pci_cfg_read(void *opaque, uint64_t off, unsigned int size)
{
	struct virtio_pci *vp = opaque;
	uint32_t boff, v = 0;
	unsigned int len, i;

	bool valid;

	if (off >= sizeof(vp->cfg_data) || size > sizeof(vp->cfg_data) - off)
		return 0;
	valid = virtio_pci_cfg_target(vp, &boff, &len);
	if (valid)
		v = virtio_pci_bar_read(vp, boff, len);
	pthread_mutex_lock(&vp->lock);
	for (i = 0; valid && i < len; i++)
		vp->cfg_data[i] = v >> (8 * i);
	for (v = 0, i = 0; i < size; i++)
		v |= (uint32_t)vp->cfg_data[off + i] << (8 * i);
	pthread_mutex_unlock(&vp->lock);
	return v;
}

static void virtio_pci_cfg_write(void *opaque, uint64_t off, unsigned int size, uint64_t value)
{
	struct virtio_pci *vp = opaque;
	uint32_t boff, v = 0;
	unsigned int len, i;

	if (off >= sizeof(vp->cfg_data) || size > sizeof(vp->cfg_data) - off)
		return;
	pthread_mutex_lock(&vp->lock);
	for (i = 0; i < size; i++)
		vp->cfg_data[off + i] = value >> (8 * i);
	for (i = 0; i < sizeof(vp->cfg_data); i++)
		v |= (uint32_t)vp->cfg_data[i] << (8 * i);
	pthread_mutex_unlock(&vp->lock);
	if (virtio_pci_cfg_target(vp, &boff, &len))
		virtio_pci_bar_write(vp, boff, len, v & virtio_pci_ones(len));
}

static const struct io_ops virtio_pci_cfg_io_ops = {virtio_pci_cfg_read, virtio_pci_cfg_write};

/* ---- setup ---- */

static int virtio_pci_add_cap(struct virtio_pci *vp, uint8_t type, unsigned int len, uint8_t bar,
			      uint32_t offset, uint32_t length, struct error *err)
{
	int c = pci_cap_add(&vp->pci, PCI_CAP_ID_VNDR, len, err);

	if (c < 0)
		return c;
	pci_cfg_set(&vp->pci, c + VIRTIO_PCI_CAP_LEN, 1, len);
	pci_cfg_set(&vp->pci, c + VIRTIO_PCI_CAP_CFG_TYPE, 1, type);
	pci_cfg_set(&vp->pci, c + VIRTIO_PCI_CAP_BAR, 1, bar);
	pci_cfg_set(&vp->pci, c + VIRTIO_PCI_CAP_OFFSET, 4, offset);
	pci_cfg_set(&vp->pci, c + VIRTIO_PCI_CAP_LENGTH, 4, length);
	return c;
}

static int virtio_pci_add_caps(struct virtio_pci *vp, struct error *err)
{
	const struct virtio_device_ops *ops = vp->ops;
	uint32_t notify_len = virtio_pci_nqueues(vp) * VIRTIO_PCI_NOTIFY_MULTIPLIER;
	int c;

	c = virtio_pci_add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, sizeof(struct virtio_pci_cap),
			       VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFFSET, VIRTIO_PCI_COMMON_LEN,
			       err);
	if (c >= 0)
		c = virtio_pci_add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, sizeof(struct virtio_pci_cap),
				       VIRTIO_PCI_BAR, VIRTIO_PCI_ISR_OFFSET, 1, err);
	if (c >= 0 && ops->config_size)
		c = virtio_pci_add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, sizeof(struct virtio_pci_cap),
				       VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFFSET, ops->config_size,
				       err);
	if (c >= 0)
		c = virtio_pci_add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG,
				       sizeof(struct virtio_pci_notify_cap), VIRTIO_PCI_BAR,
				       VIRTIO_PCI_NOTIFY_OFFSET, notify_len, err);
	if (c < 0)
		return c;
	pci_cfg_set(&vp->pci, c + VIRTIO_PCI_NOTIFY_CAP_MULT, 4, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	/* Mandatory (4.1.4.9) though Linux does not use it; bar, offset, length are the driver's.
	 */
	c = virtio_pci_add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, sizeof(struct virtio_pci_cfg_cap), 0, 0,
			       0, err);
	if (c < 0)
		return c;
	vp->cfg_cap = c;
	pci_cfg_set_wmask(&vp->pci, c + VIRTIO_PCI_CAP_BAR, 1, 0xff);
	pci_cfg_set_wmask(&vp->pci, c + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
	pci_cfg_set_wmask(&vp->pci, c + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
	pci_cfg_hook(&vp->pci, c + VIRTIO_PCI_CFG_DATA, sizeof(vp->cfg_data),
		     &virtio_pci_cfg_io_ops, vp);
	return 0;
}

/* Class codes as QEMU gives them, so guests sort the functions as they are used to. */
static uint32_t virtio_pci_class(uint32_t device_id)
{
	switch (device_id) {
	case 1:
		return 0x020000; /* network: Ethernet */
	case 2:
		return 0x010000; /* storage: SCSI */
	case 3:
		return 0x078000; /* communication: other */
	default:
		return 0x00ff00; /* unclassified: other */
	}
}

static int virtio_pci_check(const struct virtio_device_ops *ops, void *dev, struct error *err)
{
	if (ops->device_id == 0 || ops->device_id >= 0x40)
		return error_set(err, -EINVAL, "virtio-pci: device ID %u is not in 1..63",
				 ops->device_id);
	if (!ops->num_queues || ops->num_queues > VIRTIO_PCI_MAX_QUEUES)
		return error_set(err, -EINVAL, "virtio-pci: %u queues (1..%u)", ops->num_queues,
				 VIRTIO_PCI_MAX_QUEUES);
	if (!virtio_pci_pow2(ops->queue_max_size) || ops->queue_max_size > VIRTIO_QUEUE_MAX_SIZE)
		return error_set(err, -EINVAL,
				 "virtio-pci: queue size %u is not a power of two "
				 "up to %u",
				 ops->queue_max_size, VIRTIO_QUEUE_MAX_SIZE);
	if (ops->config_size > VIRTIO_PCI_DEVICE_MAX)
		return error_set(err, -EINVAL, "virtio-pci: %u bytes of configuration (at most %u)",
				 ops->config_size, VIRTIO_PCI_DEVICE_MAX);
	if (!ops->features || !ops->set_features || !ops->queue_ready || !ops->queue_notify ||
	    !ops->reset || (ops->config_size && (!ops->config_read || !ops->config_write)))
		return error_set(err, -EINVAL, "virtio-pci: device %u lacks a callback",
				 ops->device_id);
	if (!(ops->features(dev) & (1ULL << VIRTIO_F_VERSION_1)))
		return error_set(err, -EINVAL, "virtio-pci: device %u does not offer VERSION_1",
				 ops->device_id);
	return 0;
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_device_ops *ops, void *dev,
		    struct error *err)
{
	struct pci_dev_id id = {
		.vendor = VIRTIO_PCI_VENDOR,
		.device = VIRTIO_PCI_DEVICE_BASE + ops->device_id,
		.subsys_vendor = VIRTIO_PCI_VENDOR,
		.subsys = VIRTIO_PCI_DEVICE_BASE + ops->device_id,
		.class_code = virtio_pci_class(ops->device_id),
		.revision = VIRTIO_PCI_REVISION,
		.intx = true,
	};
	int ret = virtio_pci_check(ops, dev, err);

	if (ret)
		return ret;
	memset(vp, 0, sizeof(*vp));
	vp->ops = ops;
	vp->dev = dev;
	vp->transport = (struct virtio_transport){&virtio_pci_transport_ops, vp};
	snprintf(vp->name, sizeof(vp->name), "virtio-pci-%u", ops->device_id);
	pthread_mutex_init(&vp->lock, NULL);
	pthread_mutex_init(&vp->irq_lock, NULL);
	pci_dev_init(&vp->pci, vp->name, &id);
	ret = pci_dev_add_bar(&vp->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE,
			      &virtio_pci_bar_io_ops, vp, err);
	if (!ret)
		ret = virtio_pci_add_caps(vp, err);
	if (!ret)
		ret = pci_msix_init(&vp->pci, VIRTIO_PCI_MSIX_BAR, ops->num_queues + 1, err);
	if (ret) {
		virtio_pci_destroy(vp);
		return ret;
	}
	virtio_pci_clear(vp);
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	pci_dev_destroy(&vp->pci);
	pthread_mutex_destroy(&vp->irq_lock);
	pthread_mutex_destroy(&vp->lock);
}
