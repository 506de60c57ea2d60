/* SPDX-License-Identifier: MIT */
/*
 * The line between a virtio transport (virtio_pci.c) and a virtio device model (rng,
 * balloon, ...). The transport owns feature negotiation, device status and the queue
 * registers; it hands the device each queue's guest-physical layout once the driver
 * enabled it, and calls the device when the driver notifies a queue. The device raises
 * its interrupts through the transport. Neither side calls KVM.
 */
#ifndef SLABVM_VIRTIO_H
#define SLABVM_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Transport-independent feature bits. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* Device IDs. */
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_QUEUE_MAX_SIZE 32768 /* split queues: a power of two up to 32768 */

/* What the driver configured for one queue, as the transport hands it over. */
struct virtio_queue_config {
	uint16_t size; /* power of two, <= the device's maximum */
	uint64_t desc; /* guest-physical addresses of the three parts */
	uint64_t avail;
	uint64_t used;
	uint16_t msix_vector; /* VIRTIO_MSI_NO_VECTOR for none */
};

#define VIRTIO_MSI_NO_VECTOR 0xffff

struct virtio_transport;

/* Implemented by the transport for the device. */
struct virtio_transport_ops {
	/* The device used buffers on queue q: interrupt the driver (MSI-X vector or INTx). */
	void (*notify_queue)(struct virtio_transport *t, unsigned int q);
	/* The device's configuration changed (e.g. balloon target). */
	void (*notify_config)(struct virtio_transport *t);
	/* The device met guest input it cannot process: set NEEDS_RESET and tell the driver. */
	void (*needs_reset)(struct virtio_transport *t);
	/*
	 * The device stopped at its budget for one notification with buffers perhaps left on
	 * queue q: call queue_notify(q) again after the main loop served its other events.
	 * This is what keeps one flooding queue from starving signals, the control socket and
	 * the other devices.
	 */
	void (*reschedule)(struct virtio_transport *t, unsigned int q);
};

struct virtio_transport {
	const struct virtio_transport_ops *ops;
	void *opaque;
};

/* Implemented by a device model. */
struct virtio_device_ops {
	uint32_t device_id;
	unsigned int num_queues;
	uint16_t queue_max_size;
	uint64_t (*features)(void *dev); /* offered, VERSION_1 included */
	/* The driver set FEATURES_OK with these; return false to refuse the combination. */
	bool (*set_features)(void *dev, uint64_t features);
	uint32_t config_size;
	/* Device-specific configuration space, any offset/size inside config_size. */
	uint64_t (*config_read)(void *dev, uint32_t offset, unsigned int size);
	void (*config_write)(void *dev, uint32_t offset, unsigned int size, uint64_t value);
	/* Queue q became live (DRIVER_OK, or enabled after it) with this layout. */
	void (*queue_ready)(void *dev, unsigned int q, const struct virtio_queue_config *cfg);
	/* The driver notified queue q. */
	void (*queue_notify)(void *dev, unsigned int q);
	/* The driver reset the device: forget every queue and negotiated feature. */
	void (*reset)(void *dev);
};

#endif
