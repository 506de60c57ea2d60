// SPDX-License-Identifier: MIT
/*
 * virtio-rng through its struct virtio_device_ops, as a transport drives it, with a fake
 * transport that records notify_queue and needs_reset and a counting entropy source, so
 * every byte that lands in guest memory is known. The test plays the driver with rings in a
 * 16 MiB guest, laid out from the spec (2.7) in little-endian bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vring_test.h"

#include "devices/virtio_rng.h"
#include "mem/guestmem.h"
#include "mem/memmap.h"

#define MIB (1024ULL * 1024)
#define RAM_END (16 * MIB)
#define PCI_HOLE 0xC0000000ULL

#define DESC 0x10000ULL
#define AVAIL 0x20000ULL
#define USED 0x30000ULL
#define TABLE 0x40000ULL
#define BUF 0x100000ULL

struct fixture {
	struct memmap mm;
	struct virtio_rng rng;
	struct virtio_transport transport;
	uint16_t size;
	uint16_t avail_idx;
	/* transport recorder */
	unsigned int notifies;
	unsigned int resets;
	unsigned int reschedules;
	bool callback_under_lock;
	bool repost; /* the guest offers descriptor 0 again on every fill, for ever */
	/* entropy: the byte sequence 0, 1, 2, ... (mod 251, so it does not repeat per page) */
	uint64_t entropy_pos;
	bool entropy_fails;
	pthread_mutex_t entropy_lock;
};

static bool lock_is_free(struct virtio_rng *rng)
{
	if (pthread_mutex_trylock(&rng->lock) != 0)
		return false;
	pthread_mutex_unlock(&rng->lock);
	return true;
}

static void rec_notify_queue(struct virtio_transport *t, unsigned int q)
{
	struct fixture *f = t->opaque;

	assert_int_equal(q, 0);
	if (!lock_is_free(&f->rng))
		f->callback_under_lock = true;
	__atomic_fetch_add(&f->notifies, 1, __ATOMIC_RELAXED);
}

static void rec_notify_config(struct virtio_transport *t)
{
	(void)t;
	fail_msg("virtio-rng has no configuration to change");
}

static void rec_needs_reset(struct virtio_transport *t)
{
	struct fixture *f = t->opaque;

	if (!lock_is_free(&f->rng))
		f->callback_under_lock = true;
	__atomic_fetch_add(&f->resets, 1, __ATOMIC_RELAXED);
}

static void rec_reschedule(struct virtio_transport *t, unsigned int q)
{
	struct fixture *f = t->opaque;

	assert_int_equal(q, 0);
	if (!lock_is_free(&f->rng))
		f->callback_under_lock = true;
	__atomic_fetch_add(&f->reschedules, 1, __ATOMIC_RELAXED);
}

static const struct virtio_transport_ops rec_ops = {
	.notify_queue = rec_notify_queue,
	.notify_config = rec_notify_config,
	.needs_reset = rec_needs_reset,
	.reschedule = rec_reschedule,
};

static void avail_add(struct fixture *f, uint16_t head);

static uint8_t entropy_byte(uint64_t pos)
{
	return pos % 251;
}

static int counting_entropy(void *ctx, void *buf, size_t len)
{
	struct fixture *f = ctx;
	uint8_t *p = buf;
	size_t i;

	if (f->entropy_fails)
		return -EIO;
	if (f->repost)
		avail_add(f, 0);
	pthread_mutex_lock(&f->entropy_lock);
	for (i = 0; i < len; i++)
		p[i] = entropy_byte(f->entropy_pos++);
	pthread_mutex_unlock(&f->entropy_lock);
	return 0;
}

static uint16_t used_idx(struct fixture *f)
{
	return vring_read32(&f->mm, USED) >> 16;
}

static void put_desc(struct fixture *f, uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	vring_put_desc(&f->mm, table, i, addr, len, flags, next);
}

static void avail_add(struct fixture *f, uint16_t head)
{
	vring_avail_add(&f->mm, AVAIL, f->size, &f->avail_idx, head);
}

static void expect_used(struct fixture *f, uint16_t i, uint32_t id, uint32_t len)
{
	vring_expect_used(&f->mm, USED, f->size, i, id, len);
}

/* The guest bytes at gpa are entropy bytes first, first + 1, ... */
static void expect_entropy(struct fixture *f, uint64_t gpa, size_t len, uint64_t first)
{
	uint8_t *buf = malloc(len);
	size_t i;

	assert_non_null(buf);
	assert_int_equal(guestmem_read(&f->mm, gpa, buf, len), 0);
	for (i = 0; i < len; i++)
		if (buf[i] != entropy_byte(first + i))
			fail_msg("byte %zu at 0x%llx is %u, want %u", i,
				 (unsigned long long)(gpa + i), buf[i], entropy_byte(first + i));
	free(buf);
}

static void expect_bytes(struct fixture *f, uint64_t gpa, size_t len, uint8_t v)
{
	uint8_t *buf = malloc(len);
	size_t i;

	assert_non_null(buf);
	assert_int_equal(guestmem_read(&f->mm, gpa, buf, len), 0);
	for (i = 0; i < len; i++)
		if (buf[i] != v)
			fail_msg("byte %zu at 0x%llx is %u, want %u", i,
				 (unsigned long long)(gpa + i), buf[i], v);
	free(buf);
}

/* Features negotiated and queue 0 live at DESC/AVAIL/USED, rings zeroed, as a driver does. */
static void bring_up(struct fixture *f, uint16_t size, uint64_t features)
{
	struct virtio_queue_config c = vring_qcfg(size, DESC, AVAIL, USED);

	vring_zero(&f->mm, DESC, AVAIL, USED);
	f->size = size;
	f->avail_idx = 0;
	assert_true(virtio_rng_ops.set_features(&f->rng, features));
	virtio_rng_ops.queue_ready(&f->rng, 0, &c);
}

static void notify(struct fixture *f)
{
	virtio_rng_ops.queue_notify(&f->rng, 0);
	assert_false(f->callback_under_lock);
}

static int setup(void **state)
{
	struct memmap_config c = {.mem = RAM_END};
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_rng_entropy src = {counting_entropy, f};
	struct error err = {0};

	assert_non_null(f);
	if (memmap_init(&f->mm, &c, NULL, NULL, &err))
		fail_msg("memmap_init: %s", err.msg);
	pthread_mutex_init(&f->entropy_lock, NULL);
	f->transport.ops = &rec_ops;
	f->transport.opaque = f;
	assert_int_equal(virtio_rng_init(&f->rng, &f->mm, &f->transport, &src), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_rng_destroy(&f->rng);
	pthread_mutex_destroy(&f->entropy_lock);
	memmap_destroy(&f->mm);
	free(f);
	return 0;
}

static void test_identity(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(virtio_rng_ops.device_id, 4);
	assert_int_equal(virtio_rng_ops.num_queues, 1);
	assert_int_equal(virtio_rng_ops.queue_max_size, 256);
	assert_int_equal(virtio_rng_ops.config_size, 0);
	assert_int_equal(virtio_rng_ops.features(&f->rng),
			 FEAT_VERSION_1 | FEAT_INDIRECT | FEAT_EVENT_IDX);
	/* Modern only, and nothing that was not offered. */
	assert_true(virtio_rng_ops.set_features(&f->rng, FEAT_VERSION_1));
	assert_true(virtio_rng_ops.set_features(&f->rng,
						FEAT_VERSION_1 | FEAT_INDIRECT | FEAT_EVENT_IDX));
	assert_false(virtio_rng_ops.set_features(&f->rng, FEAT_INDIRECT));
	assert_false(virtio_rng_ops.set_features(&f->rng, FEAT_VERSION_1 | (1ULL << 33)));
	assert_false(virtio_rng_ops.set_features(&f->rng, FEAT_VERSION_1 | 1));
	assert_int_equal(virtio_rng_ops.config_read(&f->rng, 0, 4), 0);
	virtio_rng_ops.config_write(&f->rng, 0, 4, 0xffffffff);
}

static void test_fill(void **state)
{
	struct fixture *f = *state;

	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 3, BUF, 100, F_WRITE, 0);
	avail_add(f, 3);
	notify(f);
	expect_entropy(f, BUF, 100, 0);
	expect_bytes(f, BUF + 100, 16, 0);
	assert_int_equal(used_idx(f), 1);
	expect_used(f, 0, 3, 100);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->resets, 0);
	/* A spurious notify changes nothing and interrupts nobody. */
	notify(f);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->notifies, 1);
}

static void test_several_chains(void **state)
{
	struct fixture *f = *state;

	bring_up(f, 16, FEAT_VERSION_1 | FEAT_INDIRECT);
	/* Small; bigger than one internal chunk and split over two buffers; indirect. */
	put_desc(f, DESC, 0, BUF, 10, F_WRITE, 0);
	put_desc(f, DESC, 1, BUF + 0x1000, 3000, F_WRITE | F_NEXT, 2);
	put_desc(f, DESC, 2, BUF + 0x3000, 7000, F_WRITE, 0);
	put_desc(f, DESC, 5, TABLE, 32, F_INDIRECT, 0);
	put_desc(f, TABLE, 0, BUF + 0x6000, 5, F_WRITE | F_NEXT, 1);
	put_desc(f, TABLE, 1, BUF + 0x7000, 6, F_WRITE, 0);
	avail_add(f, 0);
	avail_add(f, 1);
	avail_add(f, 5);
	notify(f);

	assert_int_equal(used_idx(f), 3);
	expect_used(f, 0, 0, 10);
	expect_used(f, 1, 1, 10000);
	expect_used(f, 2, 5, 11);
	expect_entropy(f, BUF, 10, 0);
	expect_entropy(f, BUF + 0x1000, 3000, 10);
	expect_entropy(f, BUF + 0x3000, 7000, 3010);
	expect_entropy(f, BUF + 0x6000, 5, 10010);
	expect_entropy(f, BUF + 0x7000, 6, 10015);
	/* One interrupt for the batch. */
	assert_int_equal(f->notifies, 1);
}

static void test_readable_parts(void **state)
{
	struct fixture *f = *state;
	uint8_t pattern[64];

	bring_up(f, 16, FEAT_VERSION_1);
	memset(pattern, 0x5a, sizeof(pattern));
	vring_write(&f->mm, BUF, pattern, sizeof(pattern));
	vring_write(&f->mm, BUF + 0x100, pattern, sizeof(pattern));
	/* Read-only: completed with length 0, nothing written. */
	put_desc(f, DESC, 0, BUF, 64, 0, 0);
	/* A readable header then a writable part: only the latter is filled. */
	put_desc(f, DESC, 1, BUF + 0x100, 64, F_NEXT, 2);
	put_desc(f, DESC, 2, BUF + 0x200, 32, F_WRITE, 0);
	/* Nothing at all but a zero-length writable descriptor. */
	put_desc(f, DESC, 3, 0, 0, F_WRITE, 0);
	avail_add(f, 0);
	avail_add(f, 1);
	avail_add(f, 3);
	notify(f);

	assert_int_equal(used_idx(f), 3);
	expect_used(f, 0, 0, 0);
	expect_used(f, 1, 1, 32);
	expect_used(f, 2, 3, 0);
	expect_bytes(f, BUF, 64, 0x5a);
	expect_bytes(f, BUF + 0x100, 64, 0x5a);
	expect_entropy(f, BUF + 0x200, 32, 0);
	assert_int_equal(f->resets, 0);
}

static void test_chain_cap(void **state)
{
	struct fixture *f = *state;

	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 100 * 1024, F_WRITE, 0);
	avail_add(f, 0);
	notify(f);
	expect_used(f, 0, 0, VIRTIO_RNG_MAX_CHAIN_BYTES);
	assert_int_equal(VIRTIO_RNG_MAX_CHAIN_BYTES, 65536);
	expect_entropy(f, BUF, 65536, 0);
	expect_bytes(f, BUF + 65536, 100 * 1024 - 65536, 0);
}

static void test_entropy_failure(void **state)
{
	struct fixture *f = *state;

	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 16, F_WRITE, 0);
	avail_add(f, 0);
	f->entropy_fails = true;
	notify(f);
	/* The driver gets its buffer back, empty, rather than never. */
	assert_int_equal(used_idx(f), 1);
	expect_used(f, 0, 0, 0);
	expect_bytes(f, BUF, 16, 0);
	assert_int_equal(f->resets, 0);
}

/* A bad chain: needs_reset once, the chains after it stay untouched, until a reset. */
static void test_bad_chain(void **state)
{
	struct fixture *f = *state;

	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 8, F_WRITE, 0);
	put_desc(f, DESC, 1, PCI_HOLE, 8, F_WRITE, 0);
	put_desc(f, DESC, 2, BUF + 0x100, 8, F_WRITE, 0);
	avail_add(f, 0);
	avail_add(f, 1);
	avail_add(f, 2);
	notify(f);
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->rng.error, VIRTQUEUE_ERR_BUF_ADDR);
	assert_int_equal(used_idx(f), 1);
	expect_used(f, 0, 0, 8);
	expect_bytes(f, BUF + 0x100, 8, 0);

	/* Even once the guest fixes it, nothing moves and nothing more is said. */
	put_desc(f, DESC, 1, BUF + 0x200, 8, F_WRITE, 0);
	notify(f);
	notify(f);
	assert_int_equal(f->resets, 1);
	assert_int_equal(used_idx(f), 1);
	expect_bytes(f, BUF + 0x100, 8, 0);

	/* Reset forgets the queue: notifies are ignored until the driver sets it up again. */
	virtio_rng_ops.reset(&f->rng);
	assert_int_equal(f->rng.error, 0);
	notify(f);
	assert_int_equal(used_idx(f), 1);
	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 2, BUF + 0x100, 8, F_WRITE, 0);
	avail_add(f, 2);
	notify(f);
	assert_int_equal(used_idx(f), 1);
	expect_used(f, 0, 2, 8);
	expect_entropy(f, BUF + 0x100, 8, 8);
	assert_int_equal(f->resets, 1);
}

static void test_bad_loop(void **state)
{
	struct fixture *f = *state;

	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 8, F_WRITE | F_NEXT, 0);
	avail_add(f, 0);
	notify(f);
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->rng.error, VIRTQUEUE_ERR_LOOP);
	assert_int_equal(used_idx(f), 0);
	assert_int_equal(f->notifies, 0);
}

/* A queue laid out outside RAM is refused and reported at once, and only once. */
static void test_bad_layout(void **state)
{
	struct fixture *f = *state;
	struct virtio_queue_config c = vring_qcfg(16, DESC, PCI_HOLE, USED);

	assert_true(virtio_rng_ops.set_features(&f->rng, FEAT_VERSION_1));
	virtio_rng_ops.queue_ready(&f->rng, 0, &c);
	assert_false(f->callback_under_lock);
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->rng.error, VIRTQUEUE_ERR_RING_ADDR);
	notify(f);
	assert_int_equal(f->resets, 1);

	/* Bigger than the device's maximum: a transport bug, still never trusted. */
	virtio_rng_ops.reset(&f->rng);
	c = vring_qcfg(512, DESC, AVAIL, USED);
	assert_true(virtio_rng_ops.set_features(&f->rng, FEAT_VERSION_1));
	virtio_rng_ops.queue_ready(&f->rng, 0, &c);
	assert_int_equal(f->resets, 2);
	assert_int_equal(f->rng.error, VIRTQUEUE_ERR_SIZE);

	/* A good layout after a reset works again. */
	virtio_rng_ops.reset(&f->rng);
	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 8, F_WRITE, 0);
	avail_add(f, 0);
	notify(f);
	expect_used(f, 0, 0, 8);
	assert_int_equal(f->resets, 2);
}

/* Only queue 0 exists; other indices from a confused transport are ignored. */
static void test_other_queue(void **state)
{
	struct fixture *f = *state;
	struct virtio_queue_config c = vring_qcfg(16, PCI_HOLE, PCI_HOLE, PCI_HOLE);

	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 8, F_WRITE, 0);
	avail_add(f, 0);
	virtio_rng_ops.queue_ready(&f->rng, 1, &c);
	virtio_rng_ops.queue_notify(&f->rng, 1);
	assert_int_equal(used_idx(f), 0);
	notify(f);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->resets, 0);
}

static void test_interrupt_suppression(void **state)
{
	struct fixture *f = *state;

	/* VIRTQ_AVAIL_F_NO_INTERRUPT. */
	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 8, F_WRITE, 0);
	vring_write16(&f->mm, AVAIL, 1);
	avail_add(f, 0);
	notify(f);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->notifies, 0);

	/* EVENT_IDX: used_event 1 means "after the second buffer". */
	virtio_rng_ops.reset(&f->rng);
	bring_up(f, 16, FEAT_VERSION_1 | FEAT_EVENT_IDX);
	put_desc(f, DESC, 0, BUF, 8, F_WRITE, 0);
	vring_write16(&f->mm, AVAIL + 4 + 2 * 16, 1);
	avail_add(f, 0);
	notify(f);
	assert_int_equal(f->notifies, 0);
	avail_add(f, 0);
	notify(f);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(used_idx(f), 2);
	/* And the device asks to be notified about the next entry (avail_event). */
	assert_int_equal(vring_read32(&f->mm, USED + 4 + 8 * 16) & 0xffff, 2);
}

/* Two devices on one guest keep apart. */
static void test_two_instances(void **state)
{
	struct fixture *f = *state;
	struct virtio_rng *other = calloc(1, sizeof(*other));
	struct virtio_queue_config c = vring_qcfg(16, DESC + 0x1000, AVAIL + 0x1000, USED + 0x1000);
	struct virtio_rng_entropy src = {counting_entropy, f};

	assert_non_null(other);
	assert_int_equal(virtio_rng_init(other, &f->mm, &f->transport, &src), 0);
	bring_up(f, 16, FEAT_VERSION_1);
	assert_true(virtio_rng_ops.set_features(other, FEAT_VERSION_1));
	virtio_rng_ops.queue_ready(other, 0, &c);

	put_desc(f, DESC, 0, BUF, 8, F_WRITE, 0);
	avail_add(f, 0);
	virtio_rng_ops.queue_notify(other, 0);
	assert_int_equal(used_idx(f), 0);
	notify(f);
	assert_int_equal(used_idx(f), 1);
	/* Breaking one leaves the other working. */
	put_desc(f, DESC + 0x1000, 0, PCI_HOLE, 8, F_WRITE, 0);
	vring_write16(&f->mm, AVAIL + 0x1000 + 2, 1);
	virtio_rng_ops.queue_notify(other, 0);
	assert_int_equal(other->error, VIRTQUEUE_ERR_BUF_ADDR);
	assert_int_equal(f->rng.error, 0);
	avail_add(f, 0);
	notify(f);
	assert_int_equal(used_idx(f), 2);
	virtio_rng_destroy(other);
	free(other);
}

struct notifier {
	struct fixture *f;
	unsigned int rounds;
};

static void *notifier_thread(void *arg)
{
	struct notifier *n = arg;
	unsigned int i;

	for (i = 0; i < n->rounds; i++)
		virtio_rng_ops.queue_notify(&n->f->rng, 0);
	return NULL;
}

/* vCPUs notifying at once: every chain is completed exactly once. */
static void test_concurrent_notify(void **state)
{
	struct fixture *f = *state;
	struct notifier n = {f, 200};
	pthread_t th[4];
	bool seen[256] = {false};
	unsigned int i;

	bring_up(f, 256, FEAT_VERSION_1 | FEAT_EVENT_IDX);
	for (i = 0; i < 256; i++) {
		put_desc(f, DESC, i, BUF + 64 * i, 64, F_WRITE, 0);
		avail_add(f, i);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, notifier_thread, &n), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(used_idx(f), 256);
	for (i = 0; i < 256; i++) {
		uint32_t id = vring_read32(&f->mm, USED + 4 + 8 * i);

		assert_true(id < 256);
		assert_false(seen[id]);
		seen[id] = true;
		assert_int_equal(vring_read32(&f->mm, USED + 8 + 8 * i), 64);
	}
	assert_int_equal(f->entropy_pos, 256 * 64);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->resets, 0);
}

/*
 * A guest that reposts a buffer for every one it gets back: one notification serves the
 * budget and asks to be called again, instead of serving the guest for ever.
 */
static void test_budget(void **state)
{
	struct fixture *f = *state;
	unsigned int round;

	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 8, F_WRITE, 0);
	avail_add(f, 0);
	f->repost = true;
	for (round = 1; round <= 3; round++) {
		notify(f);
		assert_int_equal(used_idx(f), round * VIRTIO_RNG_BUDGET_CHAINS);
		assert_int_equal(f->reschedules, round);
		assert_int_equal(f->notifies, round);
	}
	assert_int_equal(f->resets, 0);

	/* Big buffers meet the byte budget first. */
	f->repost = false;
	f->reschedules = 0;
	bring_up(f, 16, FEAT_VERSION_1);
	for (round = 0; round < 16; round++) {
		put_desc(f, DESC, round, BUF, VIRTIO_RNG_MAX_CHAIN_BYTES, F_WRITE, 0);
		avail_add(f, round);
	}
	notify(f);
	assert_int_equal(used_idx(f), VIRTIO_RNG_BUDGET_BYTES / VIRTIO_RNG_MAX_CHAIN_BYTES);
	assert_int_equal(f->reschedules, 1);
	/* The rescheduled calls finish the ring and then stop asking. */
	while (f->reschedules && used_idx(f) < 16) {
		f->reschedules = 0;
		notify(f);
	}
	assert_int_equal(used_idx(f), 16);
	f->reschedules = 0;
	notify(f);
	assert_int_equal(f->reschedules, 0);
}

/* The default source is getrandom(2): 512 bits of zeros would mean it never ran. */
static void test_getrandom(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64], zero[64] = {0};

	virtio_rng_destroy(&f->rng);
	assert_int_equal(virtio_rng_init(&f->rng, &f->mm, &f->transport, NULL), 0);
	bring_up(f, 16, FEAT_VERSION_1);
	put_desc(f, DESC, 0, BUF, 64, F_WRITE, 0);
	avail_add(f, 0);
	notify(f);
	expect_used(f, 0, 0, 64);
	assert_int_equal(guestmem_read(&f->mm, BUF, buf, sizeof(buf)), 0);
	assert_memory_not_equal(buf, zero, sizeof(buf));
	assert_int_equal(f->entropy_pos, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_fill),
		T(test_several_chains),
		T(test_readable_parts),
		T(test_chain_cap),
		T(test_entropy_failure),
		T(test_bad_chain),
		T(test_bad_loop),
		T(test_bad_layout),
		T(test_other_queue),
		T(test_interrupt_suppression),
		T(test_two_instances),
		T(test_concurrent_notify),
		T(test_budget),
		T(test_getrandom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
