// SPDX-License-Identifier: MIT
/*
 * virtio-rng. The only guest input is the request queue, so the device is the virtqueue
 * library plus a loop: pop, fill the writable bytes, push, and interrupt when the driver
 * asked to be.
 */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define VIRTIO_RNG_FEATURES                                                                        \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |                         \
	 (1ULL << VIRTIO_F_EVENT_IDX))

/* Entropy is made in pieces this big and copied into the chain. */
#define VIRTIO_RNG_CHUNK 4096

static int virtio_rng_getrandom(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;

	(void)ctx;
	while (len) {
		/* Short reads happen above 256 bytes when a signal arrives. */
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int virtio_rng_init(struct virtio_rng *rng, struct memmap *mm, struct virtio_transport *transport,
		    const struct virtio_rng_entropy *entropy)
{
	int ret;

	memset(rng, 0, sizeof(*rng));
	ret = -pthread_mutex_init(&rng->lock, NULL);
	if (ret)
		return ret;
	rng->mm = mm;
	rng->transport = transport;
	if (entropy)
		rng->entropy = *entropy;
	else
		rng->entropy.fill = virtio_rng_getrandom;
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	pthread_mutex_destroy(&rng->lock);
}

static uint64_t virtio_rng_features(void *dev)
{
	(void)dev;
	return VIRTIO_RNG_FEATURES;
}

static bool virtio_rng_set_features(void *dev, uint64_t features)
{
	struct virtio_rng *rng = dev;

	/* Modern only: the rings are little-endian and laid out as 1.x says. */
	if ((features & ~VIRTIO_RNG_FEATURES) || !(features & (1ULL << VIRTIO_F_VERSION_1)))
		return false;
	pthread_mutex_lock(&rng->lock);
	rng->features = features;
	pthread_mutex_unlock(&rng->lock);
	return true;
}

static uint64_t virtio_rng_config_read(void *dev, uint32_t offset, unsigned int size)
{
	(void)dev;
	(void)offset;
	(void)size;
	return 0;
}

static void virtio_rng_config_write(void *dev, uint32_t offset, unsigned int size, uint64_t value)
{
	(void)dev;
	(void)offset;
	(void)size;
	(void)value;
}

static void virtio_rng_queue_ready(void *dev, unsigned int q, const struct virtio_queue_config *cfg)
{
	struct virtio_rng *rng = dev;
	int ret;

	if (q != 0)
		return;
	pthread_mutex_lock(&rng->lock);
	if (cfg->size > VIRTIO_RNG_QUEUE_SIZE)
		ret = VIRTQUEUE_ERR_SIZE;
	else
		ret = virtqueue_init(&rng->vq, rng->mm, cfg, rng->features);
	rng->live = !ret;
	rng->error = ret;
	pthread_mutex_unlock(&rng->lock);
	/* A layout outside RAM or misaligned: the driver must reset before using the queue. */
	if (ret)
		rng->transport->ops->needs_reset(rng->transport);
}

/*
 * Fills up to VIRTIO_RNG_MAX_CHAIN_BYTES of the chain's writable bytes. Returns the bytes
 * written, or a negative enum virtqueue_error. An entropy failure ends the fill early: the
 * driver gets what was written, which the spec allows.
 */
static ssize_t virtio_rng_fill(struct virtio_rng *rng)
{
	uint32_t want = rng->chain.write_len;
	uint8_t buf[VIRTIO_RNG_CHUNK];
	uint32_t done = 0;

	if (want > VIRTIO_RNG_MAX_CHAIN_BYTES)
		want = VIRTIO_RNG_MAX_CHAIN_BYTES;
	while (done < want) {
		size_t n = want - done < sizeof(buf) ? want - done : sizeof(buf);
		ssize_t ret;

		if (rng->entropy.fill(rng->entropy.ctx, buf, n))
			break;
		ret = virtqueue_chain_write(&rng->vq, &rng->chain, done, buf, n);
		if (ret < 0)
			return ret;
		done += ret;
	}
	return done;
}

static void virtio_rng_queue_notify(void *dev, unsigned int q)
{
	struct virtio_rng *rng = dev;
	struct virtio_transport *t = rng->transport;
	bool notify = false, report = false, more = false;
	unsigned int chains = 0;
	uint64_t bytes = 0;
	ssize_t ret = 0;

	if (q != 0)
		return;
	pthread_mutex_lock(&rng->lock);
	while (rng->live) {
		if (chains == VIRTIO_RNG_BUDGET_CHAINS || bytes >= VIRTIO_RNG_BUDGET_BYTES) {
			more = true;
			break;
		}
		ret = virtqueue_pop(&rng->vq, &rng->chain);
		if (ret <= 0)
			break;
		ret = virtio_rng_fill(rng);
		if (ret >= 0) {
			chains++;
			bytes += ret;
			ret = virtqueue_push(&rng->vq, rng->chain.head, ret);
		}
		if (ret < 0)
			break;
	}
	if (rng->live && ret >= 0) {
		ret = virtqueue_notify_needed(&rng->vq);
		notify = ret > 0;
	}
	/* Only the call that breaks the queue reports it: later ones find it dead. */
	if (rng->live && ret < 0) {
		rng->live = false;
		rng->error = ret;
		report = true;
	}
	pthread_mutex_unlock(&rng->lock);
	if (notify)
		t->ops->notify_queue(t, 0);
	if (more && !report)
		t->ops->reschedule(t, 0);
	if (report)
		t->ops->needs_reset(t);
}

static void virtio_rng_reset(void *dev)
{
	struct virtio_rng *rng = dev;

	pthread_mutex_lock(&rng->lock);
	virtqueue_reset(&rng->vq);
	rng->features = 0;
	rng->live = false;
	rng->error = 0;
	pthread_mutex_unlock(&rng->lock);
}

const struct virtio_device_ops virtio_rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.features = virtio_rng_features,
	.set_features = virtio_rng_set_features,
	.config_size = 0,
	.config_read = virtio_rng_config_read,
	.config_write = virtio_rng_config_write,
	.queue_ready = virtio_rng_queue_ready,
	.queue_notify = virtio_rng_queue_notify,
	.reset = virtio_rng_reset,
};
