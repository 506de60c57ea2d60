/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose device-writable buffers the device
 * fills with entropy. No configuration space, no device-specific features.
 *
 * Each chain gets at most VIRTIO_RNG_MAX_CHAIN_BYTES (the used length says how many), so one
 * notify costs little per chain; a chain with no writable byte is returned with length 0.
 * One notification serves at most VIRTIO_RNG_BUDGET_CHAINS chains or about
 * VIRTIO_RNG_BUDGET_BYTES bytes; with work perhaps left the device asks the transport to
 * reschedule the queue, so a guest that reposts buffers forever cannot hold the caller.
 *
 * Any virtqueue error means the guest broke the queue: the device stops processing it,
 * reports needs_reset once, and ignores the queue until the driver resets the device.
 *
 * Locking and callback context: every entry point takes rng->lock; queue_notify may come
 * from several vCPU threads at once. The transport's ops are called after rng->lock is
 * dropped: notify_queue, reschedule and needs_reset from queue_notify, and needs_reset from queue_ready
 * when the guest's ring layout is refused (misaligned, outside RAM, too big). So the
 * transport must not hold a lock around queue_ready that its needs_reset takes, nor one
 * around queue_notify that its notify_queue or needs_reset takes.
 */
#ifndef SLABVM_VIRTIO_RNG_H
#define SLABVM_VIRTIO_RNG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "devices/virtqueue.h"
#include "mem/memmap.h"

#define VIRTIO_RNG_QUEUE_SIZE 256
#define VIRTIO_RNG_MAX_CHAIN_BYTES (64 * 1024)
/* Work done for one notification at most, whichever comes first: then it reschedules. */
#define VIRTIO_RNG_BUDGET_CHAINS 64
#define VIRTIO_RNG_BUDGET_BYTES (256 * 1024)

/* Fills buf with len bytes of entropy: 0, or a negative errno and then nothing is used. */
struct virtio_rng_entropy {
	int (*fill)(void *ctx, void *buf, size_t len);
	void *ctx;
};

/* Fields are private to virtio_rng.c; tests and the fuzz harness only read them. */
struct virtio_rng {
	pthread_mutex_t lock;
	struct memmap *mm;
	struct virtio_transport *transport;
	struct virtio_rng_entropy entropy;
	uint64_t features; /* negotiated */
	bool live;	   /* the queue is ready and usable */
	int error;	   /* the enum virtqueue_error that broke the queue: ignored until reset */
	struct virtqueue vq;
	struct virtqueue_chain chain;
};

/*
 * transport is the one this device is plugged into; entropy NULL means getrandom(2). The
 * device starts reset. Returns 0 or a negative errno.
 */
int virtio_rng_init(struct virtio_rng *rng, struct memmap *mm, struct virtio_transport *transport,
		    const struct virtio_rng_entropy *entropy);
void virtio_rng_destroy(struct virtio_rng *rng);

/* dev = struct virtio_rng *. */
extern const struct virtio_device_ops virtio_rng_ops;

#endif
