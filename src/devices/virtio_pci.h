/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci modern transport (virtio 1.2, 4.1), no legacy interface: a PCI function
 * 0x1af4:0x1040+ID whose registers all live in one 64-bit memory BAR, with MSI-X (one
 * vector per queue plus one for configuration changes) in a BAR of its own.
 *
 * BAR 4 (16 KiB), one page per structure:
 *   0x0000 common configuration      0x2000 device-specific configuration
 *   0x1000 ISR status                0x3000 notifications: queue q at 0x3000 + 4 * q
 * notify_off_multiplier is 4 and queue_notify_off is q, so each queue has an address of its
 * own: a KVM ioeventfd per queue needs no data match. BAR 1 holds the MSI-X table and PBA.
 *
 * The transport offers split virtqueues only: it takes from the device's features the
 * transport bits it does not implement (packed rings, notification data, queue reset,
 * SR-IOV, notification config data).
 *
 * Locking and callback context. vp->lock serialises the driver's register accesses and is
 * held while the transport calls the device's reset, set_features, config_read,
 * config_write and queue_ready. queue_notify is called with no transport lock held. The
 * struct virtio_transport_ops the device calls (from any thread, also from inside those
 * callbacks) take only vp->irq_lock, which is never held while calling the device: a device
 * may hold its own lock while raising an interrupt.
 */
#ifndef SLABVM_VIRTIO_PCI_H
#define SLABVM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/virtio.h"
#include "base/error.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + the virtio device ID */
#define VIRTIO_PCI_REVISION 1

#define VIRTIO_PCI_BAR 4
#define VIRTIO_PCI_BAR_SIZE 0x4000
#define VIRTIO_PCI_COMMON_OFFSET 0x0000
#define VIRTIO_PCI_COMMON_LEN 0x38 /* up to queue_device; no queue_reset */
#define VIRTIO_PCI_ISR_OFFSET 0x1000
#define VIRTIO_PCI_DEVICE_OFFSET 0x2000
#define VIRTIO_PCI_DEVICE_MAX 0x1000 /* the most device-specific configuration there can be */
#define VIRTIO_PCI_NOTIFY_OFFSET 0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_MSIX_BAR 1
#define VIRTIO_PCI_MAX_QUEUES 64

/* Fields are private to virtio_pci.c; tests and the fuzz harness only read them. */
struct virtio_pci_queue {
	uint16_t size;
	uint16_t msix_vector; /* under irq_lock too */
	bool enabled;
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
};

struct virtio_pci {
	struct pci_dev pci;
	struct virtio_transport transport; /* what the device model gets */
	const struct virtio_device_ops *ops;
	void *dev;
	char name[24];
	pthread_mutex_t lock;
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint64_t driver_features;
	uint8_t status; /* as the driver set it; NEEDS_RESET is kept apart */
	uint16_t queue_select;
	struct virtio_pci_queue queue[VIRTIO_PCI_MAX_QUEUES];
	uint8_t cfg_data[4]; /* pci_cfg_data of the VIRTIO_PCI_CAP_PCI_CFG capability */
	unsigned int cfg_cap;
	/* Below: under irq_lock, which nests inside lock. */
	pthread_mutex_t irq_lock;
	bool driver_ok;
	bool needs_reset;
	uint8_t isr;
	uint8_t generation;
	uint16_t config_vector;
	/* Set once before the guest runs: how reschedule reaches the main loop. */
	void (*kick_later)(void *ctx, unsigned int q);
	void *kick_later_ctx;
};

/*
 * Sets up the function for a device model: ops and dev are the device's, and ops->features
 * is called already; vp->transport is what the device raises interrupts through. Then
 * pci_host_add(host, slot, &vp->pci, err).
 */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_device_ops *ops, void *dev,
		    struct error *err);
void virtio_pci_destroy(struct virtio_pci *vp);

/*
 * Where the guest notifies queue q now (false while BAR 4 does not decode): for a KVM
 * ioeventfd, which then calls virtio_pci_kick(). Inside a pci_bar_listener, where this
 * would take the device lock, use the BAR address + virtio_pci_notify_offset(q) instead.
 */
bool virtio_pci_notify_addr(struct virtio_pci *vp, unsigned int q, uint64_t *addr);
static inline uint64_t virtio_pci_notify_offset(unsigned int q)
{
	return VIRTIO_PCI_NOTIFY_OFFSET + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
}
/* The driver notified queue q: passed to the device if the queue is live. */
void virtio_pci_kick(struct virtio_pci *vp, unsigned int q);
/*
 * Where the device's reschedule goes: fn(ctx, q) must call virtio_pci_kick(vp, q) later
 * from the main loop (e.g. by signalling q's ioeventfd). Set before the guest runs; without
 * it a rescheduled queue waits for the driver's next notification.
 */
void virtio_pci_set_kick_later(struct virtio_pci *vp, void (*fn)(void *ctx, unsigned int q),
			       void *ctx);

#endif
