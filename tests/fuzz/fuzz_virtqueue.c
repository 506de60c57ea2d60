// SPDX-License-Identifier: MIT
/*
 * A hostile driver against the split virtqueue, alone or behind virtio-rng. The guest is
 * 16 MiB of RAM and nothing else, so "in RAM" is simply [0, 16 MiB). Input:
 *
 *   byte 0      bit 0 VIRTIO_F_INDIRECT_DESC, bit 1 VIRTIO_F_EVENT_IDX, bit 2 drive it
 *               through virtio-rng, bits 4:3 layout: 0 packed at 0, 1 the raw addresses
 *               below, 2 packed against the end of RAM, 3 raw addresses mod 32 MiB
 *   byte 1      queue size: 1 << (b & 15), or the raw size below if bit 7 is set
 *   bytes 2-3   raw size (le16)
 *   bytes 4-27  raw desc, avail, used addresses (le64)
 *   bytes 28-29 length L (le16) of what follows, copied into guest memory at 0
 *   then        operations, each starting with a byte whose low two bits select it:
 *                 0 patch: le24 address, a length byte, that many bytes written there
 *                 1 nothing more
 *                 2 reset and set the queue up again (the driver's bytes stay)
 *                 3 the byte the device writes into buffers becomes bits 7:2
 *               and each is followed by a notify: pop and push until empty or an error.
 *
 * Checked whatever the input: init accepts exactly the layouts the spec allows in RAM, a
 * popped chain has at most VIRTQUEUE_MAX_SEGS segments, every segment non-empty and inside
 * RAM, readable ones first, lengths adding up below 4 GiB; errors stick; used elements and
 * indices land where the spec puts them; the interrupt decision follows the spec's rule;
 * virtio-rng reports needs_reset once, never under its lock, and stops after it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_rng.h"
#include "devices/virtqueue.h"
#include "fuzz_input.h"
#include "mem/guestmem.h"
#include "mem/memmap.h"

#define RAM_END (16ULL << 20)
/* Enough for a notify whose buffers keep rewriting avail->idx to a constant: one lap. */
#define MAX_POPS_PER_NOTIFY (65536 + 32768)

struct harness {
	struct memmap mm;
	bool mm_ready;
	struct virtqueue vq;
	struct virtqueue_chain chain;
	struct virtio_rng rng;
	struct virtio_transport transport;
	struct virtio_queue_config cfg;
	uint64_t features;
	bool use_rng;
	uint8_t fill; /* what the device writes */
	/* virtio-rng recorder */
	unsigned int resets;
	uint64_t entropy_bytes;
};

static struct harness h;

static bool in_ram(uint64_t gpa, uint64_t len)
{
	return len <= RAM_END && gpa <= RAM_END - len;
}

static uint16_t rd16(uint64_t gpa)
{
	uint8_t b[2];

	FUZZ_CHECK(!guestmem_read(&h.mm, gpa, b, 2));
	return b[0] | b[1] << 8;
}

static uint32_t rd32(uint64_t gpa)
{
	uint8_t b[4];

	FUZZ_CHECK(!guestmem_read(&h.mm, gpa, b, 4));
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

/* What the spec allows (2.7): a power of two up to 32768, aligned parts in RAM. */
static bool layout_valid(const struct virtio_queue_config *c)
{
	uint64_t n = c->size;

	if (!n || n > 32768 || (n & (n - 1)))
		return false;
	return !(c->desc % 16) && !(c->avail % 2) && !(c->used % 4) && in_ram(c->desc, 16 * n) &&
	       in_ram(c->avail, 6 + 2 * n) && in_ram(c->used, 6 + 8 * n);
}

static void check_chain(const struct virtqueue *vq, const struct virtqueue_chain *c)
{
	uint64_t read = 0, write = 0;
	unsigned int i;

	FUZZ_CHECK(c->head < vq->size);
	FUZZ_CHECK(c->nsegs <= VIRTQUEUE_MAX_SEGS);
	FUZZ_CHECK(c->nread <= c->nsegs);
	for (i = 0; i < c->nsegs; i++) {
		const struct virtqueue_seg *s = &c->seg[i];

		FUZZ_CHECK(s->len > 0);
		FUZZ_CHECK(in_ram(s->gpa, s->len));
		FUZZ_CHECK(s->write == (i >= c->nread));
		if (s->write)
			write += s->len;
		else
			read += s->len;
	}
	FUZZ_CHECK(read == c->read_len && write == c->write_len);
	FUZZ_CHECK(read + write <= UINT32_MAX);
}

/* The spec's rule for one decision, computed from guest memory before the model looks. */
static int expected_notify(const struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx, ev;

	if (!vq->unsignalled)
		return 0;
	if (!vq->event_idx)
		return !(rd16(vq->avail) & 1);
	if (vq->unsignalled > UINT16_MAX)
		return 1;
	ev = rd16(vq->avail + 4 + 2 * (uint64_t)vq->size);
	return (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
}

static void check_sticky(struct virtqueue *vq, int err)
{
	uint16_t used = vq->used_idx;

	FUZZ_CHECK(err < 0 && vq->error == err);
	FUZZ_CHECK(virtqueue_pop(vq, &h.chain) == err);
	FUZZ_CHECK(virtqueue_push(vq, 0, 0) == err);
	FUZZ_CHECK(virtqueue_notify_needed(vq) == err);
	FUZZ_CHECK(virtqueue_chain_write(vq, &h.chain, 0, "", 1) == err);
	FUZZ_CHECK(vq->used_idx == used);
	FUZZ_CHECK(strncmp(virtqueue_strerror(err), "VIRTQUEUE_ERR_", 14) == 0);
}

/* Fills a chain's writable bytes (and reads its readable ones) in odd-sized pieces. */
static int use_chain(struct virtqueue *vq, const struct virtqueue_chain *c, uint32_t *written)
{
	uint8_t buf[1000];
	size_t off = 0;
	ssize_t n;

	do {
		n = virtqueue_chain_read(vq, c, off, buf, sizeof(buf));
		if (n < 0)
			return n;
		FUZZ_CHECK((size_t)n <= sizeof(buf) && off + n <= c->read_len);
		off += n;
	} while (n > 0 && off < (1 << 20));
	memset(buf, h.fill, sizeof(buf));
	for (off = 0; off < c->write_len && off < (1 << 20); off += n) {
		n = virtqueue_chain_write(vq, c, off, buf, sizeof(buf));
		if (n < 0)
			return n;
		FUZZ_CHECK(n > 0 && (size_t)n <= sizeof(buf) && off + n <= c->write_len);
	}
	*written = off < c->write_len ? off : c->write_len;
	return 0;
}

static void notify_queue_direct(void)
{
	struct virtqueue *vq = &h.vq;
	unsigned int pops = 0;
	int ret, want;

	if (!vq->ready)
		return;
	for (;;) {
		uint16_t last = vq->last_avail;
		uint32_t written = 0;

		ret = virtqueue_pop(vq, &h.chain);
		if (ret < 0)
			break;
		if (vq->event_idx)
			FUZZ_CHECK(rd16(vq->used + 4 + 8 * (uint64_t)vq->size) == vq->last_avail);
		if (!ret) {
			FUZZ_CHECK(vq->last_avail == last);
			break;
		}
		FUZZ_CHECK(vq->last_avail == (uint16_t)(last + 1));
		FUZZ_CHECK(++pops <= MAX_POPS_PER_NOTIFY);
		check_chain(vq, &h.chain);
		ret = use_chain(vq, &h.chain, &written);
		if (ret < 0)
			break;
		ret = virtqueue_push(vq, h.chain.head, written);
		if (ret < 0)
			break;
		FUZZ_CHECK(rd16(vq->used + 2) == vq->used_idx);
		FUZZ_CHECK(
			rd32(vq->used + 4 + 8 * (uint64_t)((vq->used_idx - 1) & (vq->size - 1))) ==
			h.chain.head);
	}
	if (ret >= 0) {
		want = expected_notify(vq);
		ret = virtqueue_notify_needed(vq);
		if (ret >= 0) {
			FUZZ_CHECK(ret == want);
			FUZZ_CHECK(vq->unsignalled == 0);
		}
	}
	if (ret < 0)
		check_sticky(vq, ret);
}

static void fuzz_notify_queue(struct virtio_transport *t, unsigned int q)
{
	(void)t;
	FUZZ_CHECK(q == 0);
	FUZZ_CHECK(pthread_mutex_trylock(&h.rng.lock) == 0);
	pthread_mutex_unlock(&h.rng.lock);
	FUZZ_CHECK(!h.rng.error);
}

static void fuzz_notify_config(struct virtio_transport *t)
{
	(void)t;
	FUZZ_CHECK(!"virtio-rng has no configuration");
}

static void fuzz_needs_reset(struct virtio_transport *t)
{
	(void)t;
	FUZZ_CHECK(pthread_mutex_trylock(&h.rng.lock) == 0);
	pthread_mutex_unlock(&h.rng.lock);
	FUZZ_CHECK(h.rng.error < 0);
	h.resets++;
}

/* The harness's next notify plays the rescheduled one. */
static void fuzz_reschedule(struct virtio_transport *t, unsigned int q)
{
	(void)t;
	FUZZ_CHECK(q == 0);
	FUZZ_CHECK(pthread_mutex_trylock(&h.rng.lock) == 0);
	pthread_mutex_unlock(&h.rng.lock);
	FUZZ_CHECK(!h.rng.error);
}

static const struct virtio_transport_ops fuzz_transport_ops = {
	.notify_queue = fuzz_notify_queue,
	.notify_config = fuzz_notify_config,
	.needs_reset = fuzz_needs_reset,
	.reschedule = fuzz_reschedule,
};

static int fuzz_entropy(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	/* A constant, so buffers over the rings cannot keep a notify going for ever. */
	memset(buf, h.fill, len);
	h.entropy_bytes += len;
	return 0;
}

static void notify_queue_rng(void)
{
	uint16_t used = h.rng.vq.used_idx;
	unsigned int resets = h.resets;
	int error = h.rng.error;

	h.entropy_bytes = 0;
	virtio_rng_ops.queue_notify(&h.rng, 0);
	/* Once broken: no more chains, no second report. */
	if (error) {
		FUZZ_CHECK(h.rng.vq.used_idx == used && h.resets == resets);
		FUZZ_CHECK(h.rng.error == error && !h.entropy_bytes);
		return;
	}
	FUZZ_CHECK(h.resets == resets + (h.rng.error ? 1 : 0));
	FUZZ_CHECK(h.entropy_bytes <=
		   (uint64_t)(uint16_t)(h.rng.vq.used_idx - used) * VIRTIO_RNG_MAX_CHAIN_BYTES +
			   (h.rng.error ? VIRTIO_RNG_MAX_CHAIN_BYTES : 0));
}

static void queue_up(void)
{
	if (h.use_rng) {
		int ret;

		unsigned int resets = h.resets;

		virtio_rng_ops.reset(&h.rng);
		FUZZ_CHECK(virtio_rng_ops.set_features(&h.rng, h.features));
		virtio_rng_ops.queue_ready(&h.rng, 0, &h.cfg);
		ret = h.rng.error;
		FUZZ_CHECK(h.resets == resets + (ret ? 1 : 0));
		FUZZ_CHECK(h.rng.live == !ret);
		if (h.cfg.size <= VIRTIO_RNG_QUEUE_SIZE)
			FUZZ_CHECK(!ret == layout_valid(&h.cfg));
		else
			FUZZ_CHECK(ret);
		return;
	}
	FUZZ_CHECK(!virtqueue_init(&h.vq, &h.mm, &h.cfg, h.features) == layout_valid(&h.cfg));
	if (h.vq.error)
		check_sticky(&h.vq, h.vq.error);
}

static void notify(void)
{
	if (h.use_rng)
		notify_queue_rng();
	else
		notify_queue_direct();
}

static void setup_once(void)
{
	struct memmap_config c = {.mem = RAM_END};
	struct virtio_rng_entropy src = {fuzz_entropy, NULL};
	struct error err = {0};

	if (h.mm_ready)
		return;
	if (memmap_init(&h.mm, &c, NULL, NULL, &err)) {
		fprintf(stderr, "memmap_init: %s\n", err.msg);
		abort();
	}
	h.transport.ops = &fuzz_transport_ops;
	FUZZ_CHECK(!virtio_rng_init(&h.rng, &h.mm, &h.transport, &src));
	h.mm_ready = true;
}

/* Zero all of guest RAM cheaply: give the memfd's pages back. */
static void wipe_ram(void)
{
	struct memmap_region *r = &h.mm.region[0];

	FUZZ_CHECK(!h.mm.backing->release(h.mm.backing_opaque, r, 0, r->size));
}

static void parse_config(struct fuzz_input *in)
{
	uint8_t mode = fuzz_take(in, 1), sz = fuzz_take(in, 1);
	uint16_t raw_size = fuzz_take(in, 2);
	uint64_t raw[3], n;
	unsigned int layout = (mode >> 3) & 3;
	int i;

	for (i = 0; i < 3; i++)
		raw[i] = fuzz_take(in, 8);
	h.features = 1ULL << VIRTIO_F_VERSION_1;
	if (mode & 1)
		h.features |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	if (mode & 2)
		h.features |= 1ULL << VIRTIO_F_EVENT_IDX;
	h.use_rng = mode & 4;
	h.cfg.size = (sz & 0x80) ? raw_size : 1u << (sz & 15);
	n = h.cfg.size;
	switch (layout) {
	case 0:
	case 2:
		h.cfg.desc = 0;
		h.cfg.avail = 16 * n;
		h.cfg.used = (h.cfg.avail + 6 + 2 * n + 3) & ~3ULL;
		if (layout == 2) {
			uint64_t shift = RAM_END - ((h.cfg.used + 6 + 8 * n + 15) & ~15ULL);

			h.cfg.desc += shift;
			h.cfg.avail += shift;
			h.cfg.used += shift;
		}
		break;
	case 1:
		h.cfg.desc = raw[0];
		h.cfg.avail = raw[1];
		h.cfg.used = raw[2];
		break;
	default:
		h.cfg.desc = raw[0] % (2 * RAM_END);
		h.cfg.avail = raw[1] % (2 * RAM_END);
		h.cfg.used = raw[2] % (2 * RAM_END);
		break;
	}
	h.cfg.msix_vector = VIRTIO_MSI_NO_VECTOR;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	const uint8_t *buf;
	size_t len;

	setup_once();
	wipe_ram();
	h.resets = 0;
	h.fill = 0xa5;
	parse_config(&in);
	len = fuzz_take(&in, 2);
	if (fuzz_left(&in)) {
		buf = fuzz_take_bytes(&in, &len);
		FUZZ_CHECK(!guestmem_write(&h.mm, 0, buf, len));
	}
	queue_up();
	notify();
	while (fuzz_left(&in)) {
		uint8_t op = fuzz_take(&in, 1);
		uint64_t gpa;

		switch (op & 3) {
		case 0:
			gpa = fuzz_take(&in, 3);
			len = fuzz_take(&in, 1);
			if (!fuzz_left(&in))
				break;
			buf = fuzz_take_bytes(&in, &len);
			if (in_ram(gpa, len))
				FUZZ_CHECK(!guestmem_write(&h.mm, gpa, buf, len));
			break;
		case 2:
			queue_up();
			break;
		case 3:
			h.fill = op >> 2;
			break;
		}
		notify();
	}
	virtio_rng_ops.reset(&h.rng);
	virtqueue_reset(&h.vq);
	return 0;
}
