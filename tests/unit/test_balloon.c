// SPDX-License-Identifier: MIT
/*
 * virtio-balloon through its struct virtio_device_ops, as a transport drives it, on a map
 * made of fake_iommu's backing and listeners, so every map, unmap, populate and release the
 * balloon causes is checked against the ordering rules as it happens and the whole map is
 * recounted (fake_env_check) after every notify. The test plays the driver, laying rings
 * out from the spec (2.7) in little-endian bytes; the transport is a recorder.
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
#include <time.h>

#include <cmocka.h>

#include "vring_test.h"

#include "balloon/balloon.h"
#include "fake_iommu.h"
#include "mem/guestmem.h"
#include "mem/memmap.h"

#define K ((uint64_t)1024)
#define M (1024 * K)
#define G (1024 * M)
#define PAGE ((uint64_t)4096)

#define RING(q) (0x100000ULL + 0x20000ULL * (q)) /* desc; avail +0x8000, used +0x10000 */
#define BUF 0x800000ULL				 /* driver buffers: granule 4 with 2 MiB */
#define QSIZE 64

#define FEAT(b) (1ULL << (b))
#define V1 FEAT(VIRTIO_F_VERSION_1)
#define BASE (V1 | FEAT(28) | FEAT(29) | FEAT(VIRTIO_BALLOON_F_MUST_TELL_HOST))

struct fixture {
	struct fake_env e;
	struct balloon b;
	struct virtio_transport t;
	uint16_t avail_idx[BALLOON_MAX_QUEUES];
	uint16_t next_desc[BALLOON_MAX_QUEUES];
	unsigned int notifies[BALLOON_MAX_QUEUES];
	unsigned int config_notifies;
	unsigned int resets;
	unsigned int reschedules[BALLOON_MAX_QUEUES];
	bool callback_under_lock;
	bool threaded; /* other threads may hold the lock: trylock proves nothing */
	/* deflate pages that must be mapped in the fake IOMMU when the driver is told */
	uint64_t must_be_mapped[8];
	unsigned int nmust;
};

static bool lock_is_free(struct balloon *b)
{
	if (pthread_mutex_trylock(&b->lock) != 0)
		return false;
	pthread_mutex_unlock(&b->lock);
	return true;
}

static void rec_notify_queue(struct virtio_transport *t, unsigned int q)
{
	struct fixture *f = t->opaque;
	unsigned int i;

	assert_true(q < BALLOON_MAX_QUEUES);
	if (!f->threaded && !lock_is_free(&f->b))
		f->callback_under_lock = true;
	/* MUST_TELL_HOST: by the time the guest hears of a deflate, the IOMMU maps the page. */
	for (i = 0; i < f->nmust; i++)
		assert_true(fake_listener_mapped(&f->e.iommu, f->must_be_mapped[i]));
	__atomic_fetch_add(&f->notifies[q], 1, __ATOMIC_RELAXED);
}

static void rec_notify_config(struct virtio_transport *t)
{
	struct fixture *f = t->opaque;

	if (!lock_is_free(&f->b))
		f->callback_under_lock = true;
	f->config_notifies++;
}

static void rec_needs_reset(struct virtio_transport *t)
{
	struct fixture *f = t->opaque;

	if (!lock_is_free(&f->b))
		f->callback_under_lock = true;
	f->resets++;
}

static void rec_reschedule(struct virtio_transport *t, unsigned int q)
{
	struct fixture *f = t->opaque;

	assert_true(q < BALLOON_MAX_QUEUES);
	if (!f->threaded && !lock_is_free(&f->b))
		f->callback_under_lock = true;
	__atomic_fetch_add(&f->reschedules[q], 1, __ATOMIC_RELAXED);
}

static const struct virtio_transport_ops rec_ops = {
	.notify_queue = rec_notify_queue,
	.notify_config = rec_notify_config,
	.needs_reset = rec_needs_reset,
	.reschedule = rec_reschedule,
};

/* A map of c's boot RAM and hotplug window (started), and a balloon on it. */
static struct fixture *fixture_map(struct memmap_config c, bool iommu,
				   const struct balloon_config *bc)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error err = {0};

	assert_non_null(f);
	if (fake_env_init(&f->e, &c, iommu, &err))
		fail_msg("init: %s", err.msg);
	if (memmap_start(&f->e.mm, &err))
		fail_msg("start: %s", err.msg);
	f->t.ops = &rec_ops;
	f->t.opaque = f;
	assert_int_equal(balloon_init(&f->b, &f->e.mm, &f->t, bc), 0);
	return f;
}

static struct fixture *fixture_new(uint64_t mem, uint64_t granule, bool iommu,
				   const struct balloon_config *bc)
{
	return fixture_map((struct memmap_config){.mem = mem, .granule = granule}, iommu, bc);
}

static void fixture_free(struct fixture *f)
{
	assert_false(f->callback_under_lock);
	balloon_destroy(&f->b);
	fake_env_free(&f->e);
	free(f);
}

static uint16_t used_idx(struct fixture *f, unsigned int q)
{
	return vring_read32(&f->e.mm, RING(q) + 0x10000) >> 16;
}

static void expect_used(struct fixture *f, unsigned int q, uint16_t i, uint32_t id, uint32_t len)
{
	vring_expect_used(&f->e.mm, RING(q) + 0x10000, QSIZE, i, id, len);
}

static void put_desc(struct fixture *f, unsigned int q, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	vring_put_desc(&f->e.mm, RING(q), i, addr, len, flags, next);
}

static void avail_add(struct fixture *f, unsigned int q, uint16_t head)
{
	vring_avail_add(&f->e.mm, RING(q) + 0x8000, QSIZE, &f->avail_idx[q], head);
}

/* One-descriptor buffer on queue q; returns its head. */
static uint16_t send(struct fixture *f, unsigned int q, uint64_t gpa, uint32_t len, uint16_t flags)
{
	uint16_t head = f->next_desc[q]++ % QSIZE;

	put_desc(f, q, head, gpa, len, flags, 0);
	avail_add(f, q, head);
	return head;
}

static void notify(struct fixture *f, unsigned int q)
{
	balloon_ops.queue_notify(&f->b, q);
	assert_false(f->callback_under_lock);
	fake_env_check(&f->e);
}

/* Features negotiated and queues 0..nq-1 live with zeroed rings, as a driver does. */
static void bring_up(struct fixture *f, uint64_t features, unsigned int nq)
{
	static const uint8_t zero[0x20000];
	unsigned int q;

	assert_true(balloon_ops.set_features(&f->b, features));
	for (q = 0; q < nq; q++) {
		struct virtio_queue_config c =
			vring_qcfg(QSIZE, RING(q), RING(q) + 0x8000, RING(q) + 0x10000);

		vring_write(&f->e.mm, RING(q), zero, sizeof(zero));
		f->avail_idx[q] = 0;
		f->next_desc[q] = 0;
		balloon_ops.queue_ready(&f->b, q, &c);
	}
	assert_int_equal(f->resets, 0);
}

/* Writes PFNs for pages at gpa[0..n) as the driver's buffer at dst. */
static void put_pfns(struct fixture *f, uint64_t dst, const uint64_t *gpa, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t pfn = gpa[i] / PAGE;
		uint8_t b[4] = {pfn, pfn >> 8, pfn >> 16, pfn >> 24};

		vring_write(&f->e.mm, dst + 4 * i, b, sizeof(b));
	}
}

static void put_range(struct fixture *f, uint64_t dst, uint64_t gpa, size_t npages)
{
	uint64_t *p = malloc(npages * sizeof(*p));
	size_t i;

	assert_non_null(p);
	for (i = 0; i < npages; i++)
		p[i] = gpa + i * PAGE;
	put_pfns(f, dst, p, npages);
	free(p);
}

/*
 * Spies on the fake IOMMU's granule_map to see whether the deflate queue's used index had
 * already moved (the guest told) when a granule was mapped again. It runs under the map's
 * write lock, so it reads the ring from host memory instead of through guestmem.
 */
static int (*spied_map)(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
			uint64_t size, void *hva);
static int map_used_idx = -1;

static int spy_map(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		   uint64_t size, void *hva)
{
	struct memmap *mm = ((struct fake_listener *)l)->mm;
	uint64_t used = RING(1) + 0x10000 + 2;
	struct memmap_region *ring = memmap_find(mm, used);
	const uint8_t *u = ring->hva + (used - ring->gpa);

	map_used_idx = u[0] | u[1] << 8;
	return spied_map(l, r, gpa, size, hva);
}

static struct balloon_info info(struct fixture *f)
{
	struct balloon_info i;

	balloon_get_info(&f->b, &i);
	return i;
}

static void test_identity_features(void **state)
{
	struct balloon_config none = {0};
	struct balloon_config all = {
		.stats = true, .deflate_on_oom = true, .free_page_reporting = true};
	uint64_t full = BASE | FEAT(VIRTIO_BALLOON_F_STATS_VQ) |
			FEAT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | FEAT(VIRTIO_BALLOON_F_REPORTING);
	struct fixture *f;

	(void)state;
	assert_int_equal(balloon_ops.device_id, 5);
	assert_int_equal(balloon_ops.config_size, 8);
	assert_true(balloon_ops.num_queues >= 4);

	f = fixture_new(16 * M, 2 * M, false, &none);
	assert_int_equal(balloon_ops.features(&f->b), BASE);
	assert_false(balloon_ops.set_features(&f->b, BASE | FEAT(VIRTIO_BALLOON_F_STATS_VQ)));
	assert_false(balloon_ops.set_features(&f->b, FEAT(VIRTIO_BALLOON_F_MUST_TELL_HOST)));
	assert_true(balloon_ops.set_features(&f->b, V1));
	fixture_free(f);

	f = fixture_new(16 * M, 2 * M, false, &all);
	assert_int_equal(balloon_ops.features(&f->b), full);
	assert_true(balloon_ops.set_features(&f->b, full));
	assert_false(balloon_ops.set_features(&f->b, full | FEAT(VIRTIO_BALLOON_F_FREE_PAGE_HINT)));
	assert_false(balloon_ops.set_features(&f->b, full | FEAT(VIRTIO_BALLOON_F_PAGE_POISON)));
	fixture_free(f);

	/* A pinning listener: reporting would release nothing or churn IOMMU mappings. */
	f = fixture_new(16 * M, 2 * M, true, &all);
	assert_int_equal(balloon_ops.features(&f->b), full & ~FEAT(VIRTIO_BALLOON_F_REPORTING));
	assert_false(balloon_ops.set_features(&f->b, full));
	fixture_free(f);
}

static void test_config(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, false, NULL);
	struct error err = {0};

	(void)state;
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 4), 0);
	assert_int_equal(balloon_set_target(&f->b, 5 * PAGE + 100, &err), 0);
	assert_int_equal(f->config_notifies, 1);
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 4), 5);
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 1), 5);
	assert_int_equal(balloon_ops.config_read(&f->b, 1, 1), 0);
	/* The same target again changes nothing and says nothing. */
	assert_int_equal(balloon_set_target(&f->b, 5 * PAGE, &err), 0);
	assert_int_equal(f->config_notifies, 1);
	assert_int_equal(balloon_set_target(&f->b, 0x0f12 * PAGE, &err), 0);
	assert_int_equal(f->config_notifies, 2);
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 2), 0x0f12);
	assert_int_equal(balloon_ops.config_read(&f->b, 1, 1), 0x0f);
	/* More than the guest has is refused, with a message naming the value. */
	assert_int_equal(balloon_set_target(&f->b, 16 * M + PAGE, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "16781312"));
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 4), 0x0f12);
	assert_int_equal(f->config_notifies, 2);

	/* actual is the driver's, num_pages is not. */
	balloon_ops.config_write(&f->b, 4, 4, 0xa0b0c0d);
	assert_int_equal(balloon_ops.config_read(&f->b, 4, 4), 0xa0b0c0d);
	balloon_ops.config_write(&f->b, 6, 2, 0x0102);
	assert_int_equal(balloon_ops.config_read(&f->b, 4, 4), 0x01020c0d);
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 8), 0x01020c0d00000f12ULL);
	balloon_ops.config_write(&f->b, 0, 4, 99);
	balloon_ops.config_write(&f->b, 0, 8, 0x0000000700000063ULL);
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 4), 0x0f12);
	assert_int_equal(balloon_ops.config_read(&f->b, 4, 4), 7);
	assert_int_equal(info(f).target_bytes, 0x0f12 * PAGE);
	assert_int_equal(info(f).actual_bytes, 7 * PAGE);
	/* A device reset leaves the target alone: the host still wants it. */
	balloon_ops.reset(&f->b);
	assert_int_equal(balloon_ops.config_read(&f->b, 0, 4), 0x0f12);
	fixture_free(f);
}

/* Inflates a whole granule and part of another, checks states, deflates them back. */
static void run_inflate_deflate(uint64_t granule, bool iommu)
{
	struct fixture *f = fixture_new(16 * M, granule, iommu, NULL);
	uint64_t whole = 2 * M; /* granule 1 with 2 MiB; pages 512.. with 4 KiB */
	uint64_t part = 6 * M;
	size_t nwhole = granule / PAGE;
	struct balloon_info i;
	uint16_t h;

	bring_up(f, BASE, 2);
	/* Whole granule in 256-PFN buffers (as Linux sends), then 3 pages of another. */
	for (size_t done = 0; done < nwhole; done += 256) {
		size_t n = nwhole - done < 256 ? nwhole - done : 256;

		put_range(f, BUF + done * 4, whole + done * PAGE, n);
		h = send(f, 0, BUF + done * 4, n * 4, 0);
	}
	put_range(f, BUF + 0x10000, part, 3);
	h = send(f, 0, BUF + 0x10000, 12, 0);
	notify(f, 0);
	assert_int_equal(used_idx(f, 0), (nwhole + 255) / 256 + 1);
	expect_used(f, 0, used_idx(f, 0) - 1, h, 0);
	assert_int_equal(f->notifies[0], 1);

	assert_int_equal(memmap_granule_state(&f->e.mm, whole), GRANULE_DISCARDED);
	if (granule == PAGE) {
		assert_int_equal(memmap_granule_state(&f->e.mm, part), GRANULE_DISCARDED);
		assert_int_equal(memmap_granule_state(&f->e.mm, part + 3 * PAGE), GRANULE_MAPPED);
	} else {
		assert_int_equal(memmap_granule_state(&f->e.mm, part), GRANULE_PARTIAL);
	}
	if (iommu)
		assert_false(fake_listener_mapped(&f->e.iommu, whole));
	assert_true(fake_backing_released(&f->e.backing, whole));
	i = info(f);
	assert_int_equal(i.stats.inflated_pages, nwhole + 3);
	assert_int_equal(i.stats.invalid_pfns, 0);
	assert_int_equal(i.inflated_bytes, (nwhole + 3) * PAGE);
	if (iommu && granule > PAGE) {
		/* The part granule keeps its backing while the IOMMU pins it. */
		assert_int_equal(i.inflated_pinned_bytes, 3 * PAGE);
		assert_int_equal(i.released_bytes, nwhole * PAGE);
		assert_false(fake_backing_released(&f->e.backing, part));
	} else {
		assert_int_equal(i.inflated_pinned_bytes, 0);
		assert_int_equal(i.released_bytes, (nwhole + 3) * PAGE);
		assert_true(fake_backing_released(&f->e.backing, part));
	}

	/* Deflate one page of the discarded granule: mapped again before the guest hears. */
	if (iommu) {
		f->must_be_mapped[f->nmust++] = whole;
		f->must_be_mapped[f->nmust++] = whole + granule - PAGE;
		spied_map = f->e.iommu.l.granule_map;
		f->e.iommu.l.granule_map = spy_map;
		map_used_idx = -1;
	}
	put_range(f, BUF + 0x20000, whole + granule - PAGE, 1);
	h = send(f, 1, BUF + 0x20000, 4, 0);
	notify(f, 1);
	if (iommu) {
		/* Mapped while the used ring still said nothing. */
		assert_int_equal(map_used_idx, 0);
		f->e.iommu.l.granule_map = spied_map;
	}
	assert_int_equal(used_idx(f, 1), 1);
	expect_used(f, 1, 0, h, 0);
	assert_int_equal(f->notifies[1], 1);
	if (granule == PAGE) {
		assert_int_equal(memmap_granule_state(&f->e.mm, whole + granule - PAGE),
				 GRANULE_MAPPED);
	} else {
		assert_int_equal(memmap_granule_state(&f->e.mm, whole), GRANULE_PARTIAL);
		if (iommu)
			assert_true(fake_listener_mapped(&f->e.iommu, whole));
	}
	/* The rest, and the part granule, in one buffer. */
	put_range(f, BUF + 0x30000, whole, nwhole - 1);
	put_range(f, BUF + 0x30000 + (nwhole - 1) * 4, part, 3);
	send(f, 1, BUF + 0x30000, (nwhole + 2) * 4, 0);
	notify(f, 1);
	assert_int_equal(memmap_granule_state(&f->e.mm, whole), GRANULE_MAPPED);
	assert_int_equal(memmap_granule_state(&f->e.mm, part), GRANULE_MAPPED);
	if (iommu) {
		assert_true(fake_listener_mapped(&f->e.iommu, whole));
		assert_true(fake_listener_mapped(&f->e.iommu, part));
	}
	i = info(f);
	assert_int_equal(i.stats.deflated_pages, nwhole + 3);
	assert_int_equal(i.stats.invalid_pfns, 0);
	assert_int_equal(i.stats.failed_pfns, 0);
	assert_int_equal(i.inflated_bytes, 0);
	assert_int_equal(i.released_bytes, 0);
	assert_int_equal(f->resets, 0);
	f->nmust = 0;
	fixture_free(f);
}

static void test_inflate_deflate_4k(void **state)
{
	(void)state;
	run_inflate_deflate(4 * K, false);
}

static void test_inflate_deflate_4k_iommu(void **state)
{
	(void)state;
	run_inflate_deflate(4 * K, true);
}

static void test_inflate_deflate_2m(void **state)
{
	(void)state;
	run_inflate_deflate(2 * M, false);
}

static void test_inflate_deflate_2m_iommu(void **state)
{
	(void)state;
	run_inflate_deflate(2 * M, true);
}

/* Nothing the guest writes into a PFN list changes anything it should not. */
static void run_malicious(uint64_t granule, bool iommu)
{
	/* Boot RAM below the hole and 32 MiB above 4 GiB, so the hole lies between RAM. */
	struct fixture *f = fixture_new(3 * G + 32 * M, granule, iommu, NULL);
	uint64_t bad[] = {
		16 * G,		      /* beyond RAM */
		3 * G,		      /* the PCI hole */
		4 * G - PAGE,	      /* its last page */
		4 * G + 32 * M,	      /* just past high RAM */
		0xffffffffULL * PAGE, /* the largest PFN */
	};
	uint64_t dup[] = {2 * M, 2 * M + PAGE, 2 * M};
	size_t before, nbig = BALLOON_MAX_CHAIN_BYTES / 4 + 1000;
	struct balloon_info i;

	bring_up(f, BASE, 2);
	before = f->e.log.n;
	put_pfns(f, BUF, bad, 5);
	send(f, 0, BUF, sizeof(bad) / sizeof(bad[0]) * 4, 0);
	send(f, 1, BUF, sizeof(bad) / sizeof(bad[0]) * 4, 0);
	/* Deflate of pages never inflated, in low and high RAM. */
	put_pfns(f, BUF + 0x1000, (uint64_t[]){2 * M, 4 * G + PAGE}, 2);
	send(f, 1, BUF + 0x1000, 8, 0);
	notify(f, 0);
	notify(f, 1);
	i = info(f);
	assert_int_equal(i.stats.invalid_pfns, 5 + 5 + 2);
	assert_int_equal(i.stats.inflated_pages + i.stats.deflated_pages, 0);
	assert_int_equal(f->e.log.n, before);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_idx(f, 1), 2);

	/* Duplicates in one buffer: the second is refused. An odd tail counts once. */
	put_pfns(f, BUF + 0x2000, dup, 3);
	send(f, 0, BUF + 0x2000, 3 * 4 + 3, 0);
	notify(f, 0);
	i = info(f);
	assert_int_equal(i.stats.inflated_pages, 2);
	assert_int_equal(i.stats.invalid_pfns, 12 + 2);
	assert_int_equal(i.inflated_bytes, 2 * PAGE);
	/* High RAM works like low RAM. */
	put_pfns(f, BUF + 0x3000, (uint64_t[]){4 * G, 4 * G}, 2);
	send(f, 0, BUF + 0x3000, 8, 0);
	notify(f, 0);
	assert_int_equal(info(f).stats.inflated_pages, 3);
	assert_int_equal(info(f).stats.invalid_pfns, 15);
	assert_int_equal(memmap_granule_state(&f->e.mm, 4 * G),
			 granule == PAGE ? GRANULE_DISCARDED : GRANULE_PARTIAL);
	/* Lengths 1..3: nothing but one invalid entry each. */
	send(f, 1, BUF + 0x2000, 1, 0);
	send(f, 1, BUF + 0x2000, 3, 0);
	notify(f, 1);
	assert_int_equal(info(f).stats.invalid_pfns, 17);
	assert_int_equal(info(f).stats.deflated_pages, 0);

	/* A huge list: only the cap is read, the rest is counted and ignored. */
	{
		uint8_t *junk = malloc(nbig * 4);

		assert_non_null(junk);
		memset(junk, 0xff, nbig * 4);
		vring_write(&f->e.mm, BUF + 0x10000, junk, nbig * 4);
		free(junk);
	}
	put_pfns(f, BUF + 0x10000, (uint64_t[]){2 * M + 2 * PAGE}, 1);
	put_pfns(f, BUF + 0x10000 + BALLOON_MAX_CHAIN_BYTES, (uint64_t[]){2 * M + 3 * PAGE}, 1);
	send(f, 0, BUF + 0x10000, nbig * 4, 0);
	notify(f, 0);
	i = info(f);
	assert_int_equal(i.stats.inflated_pages, 4); /* the first, never the one past the cap */
	assert_int_equal(i.stats.invalid_pfns, 17 + nbig - 1);
	assert_int_equal(i.inflated_bytes, 4 * PAGE);
	assert_int_equal(f->resets, 0);
	fixture_free(f);
}

static void test_malicious_2m(void **state)
{
	(void)state;
	run_malicious(2 * M, false);
}

static void test_malicious_2m_iommu(void **state)
{
	(void)state;
	run_malicious(2 * M, true);
}

static void test_malicious_4k_iommu(void **state)
{
	(void)state;
	run_malicious(4 * K, true);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	int k;

	p[0] = tag;
	p[1] = tag >> 8;
	for (k = 0; k < 8; k++)
		p[2 + k] = val >> (8 * k);
}

static void test_stats(void **state)
{
	struct balloon_config bc = {.stats = true};
	struct fixture *f = fixture_new(16 * M, 2 * M, false, &bc);
	uint8_t s[4 * 10 + 3];
	struct balloon_info i;
	struct timespec before, after;
	uint16_t h1, h2, h3;

	(void)state;
	bring_up(f, BASE | FEAT(VIRTIO_BALLOON_F_STATS_VQ), 3);
	assert_int_equal(balloon_request_stats(&f->b), -EAGAIN);
	assert_int_equal(info(f).guest.last_update, 0); /* never updated */
	put_stat(s, BALLOON_S_MEMFREE, 1000);
	put_stat(s + 10, BALLOON_S_MEMTOT, 4000);
	put_stat(s + 20, 999, 1); /* unknown: ignored */
	put_stat(s + 30, BALLOON_S_AVAIL, 2000);
	memset(s + 40, 0xee, 3); /* a torn entry: ignored */
	vring_write(&f->e.mm, BUF, s, sizeof(s));
	h1 = send(f, 2, BUF, sizeof(s), 0);
	clock_gettime(CLOCK_REALTIME, &before);
	notify(f, 2);
	clock_gettime(CLOCK_REALTIME, &after);
	/* The host's time of arrival, which the guest cannot influence. */
	assert_in_range(info(f).guest.last_update, before.tv_sec, after.tv_sec);
	/* Kept, not returned. */
	assert_int_equal(used_idx(f, 2), 0);
	assert_int_equal(f->notifies[2], 0);
	i = info(f);
	assert_int_equal(i.guest.updates, 1);
	assert_int_equal(i.guest.valid, (1U << BALLOON_S_MEMFREE) | (1U << BALLOON_S_MEMTOT) |
						(1U << BALLOON_S_AVAIL));
	assert_int_equal(i.guest.val[BALLOON_S_MEMFREE], 1000);
	assert_int_equal(i.guest.val[BALLOON_S_MEMTOT], 4000);
	assert_int_equal(i.guest.val[BALLOON_S_AVAIL], 2000);

	/* The host asks: the buffer goes back, once. */
	assert_int_equal(balloon_request_stats(&f->b), 0);
	assert_int_equal(used_idx(f, 2), 1);
	expect_used(f, 2, 0, h1, 0);
	assert_int_equal(f->notifies[2], 1);
	assert_int_equal(balloon_request_stats(&f->b), -EAGAIN);

	/* The driver answers with fresh numbers; old tags keep their last value. */
	put_stat(s, BALLOON_S_MEMFREE, 1500);
	vring_write(&f->e.mm, BUF + 0x1000, s, 10);
	h2 = send(f, 2, BUF + 0x1000, 10, 0);
	notify(f, 2);
	i = info(f);
	assert_int_equal(i.guest.updates, 2);
	assert_int_equal(i.guest.val[BALLOON_S_MEMFREE], 1500);
	assert_int_equal(i.guest.val[BALLOON_S_MEMTOT], 4000);
	assert_int_equal(used_idx(f, 2), 1);

	/* A driver that sends another buffer while one is held gets the old one back. */
	put_stat(s, BALLOON_S_MEMFREE, 1700);
	vring_write(&f->e.mm, BUF + 0x2000, s, 10);
	h3 = send(f, 2, BUF + 0x2000, 10, 0);
	notify(f, 2);
	assert_int_equal(used_idx(f, 2), 2);
	expect_used(f, 2, 1, h2, 0);
	assert_int_equal(info(f).guest.val[BALLOON_S_MEMFREE], 1700);
	assert_int_equal(balloon_request_stats(&f->b), 0);
	expect_used(f, 2, 2, h3, 0);

	/* After a reset the device holds nothing. */
	put_stat(s, BALLOON_S_MEMFREE, 1);
	vring_write(&f->e.mm, BUF + 0x3000, s, 10);
	send(f, 2, BUF + 0x3000, 10, 0);
	notify(f, 2);
	balloon_ops.reset(&f->b);
	assert_int_equal(balloon_request_stats(&f->b), -EAGAIN);
	assert_int_equal(f->resets, 0);
	fixture_free(f);
}

static void test_stats_not_negotiated(void **state)
{
	struct balloon_config bc = {.stats = true, .free_page_reporting = true};
	struct fixture *f = fixture_new(16 * M, 2 * M, false, &bc);
	uint8_t s[10];

	(void)state;
	/* Without STATS_VQ, queue 2 is the reporting queue: a stats buffer there is a report. */
	bring_up(f, BASE | FEAT(VIRTIO_BALLOON_F_REPORTING), 3);
	put_stat(s, BALLOON_S_MEMFREE, 1);
	vring_write(&f->e.mm, BUF, s, sizeof(s));
	send(f, 2, BUF, sizeof(s), F_WRITE);
	notify(f, 2);
	assert_int_equal(used_idx(f, 2), 1);
	assert_int_equal(info(f).guest.updates, 0);
	assert_int_equal(balloon_request_stats(&f->b), -EAGAIN);
	fixture_free(f);
}

static void run_reporting(bool with_stats)
{
	struct balloon_config bc = {.stats = true, .free_page_reporting = true};
	struct fixture *f = fixture_new(16 * M, 2 * M, false, &bc);
	unsigned int q = with_stats ? 3 : 2;
	uint64_t feat = BASE | FEAT(VIRTIO_BALLOON_F_REPORTING) |
			(with_stats ? FEAT(VIRTIO_BALLOON_F_STATS_VQ) : 0);
	struct balloon_info i;
	uint16_t head;
	size_t rel;

	bring_up(f, feat, q + 1);
	/* Two ranges: 2 whole pages plus a partial one, and one page; writable, as Linux. */
	head = f->next_desc[q]++;
	put_desc(f, q, head, 10 * M, 2 * PAGE + 100, F_WRITE | F_NEXT, head + 1);
	put_desc(f, q, head + 1, 12 * M + 4 * PAGE, PAGE, F_WRITE, 0);
	f->next_desc[q]++;
	avail_add(f, q, head);
	/* A range of pages already in the balloon: refused, left as it is. */
	put_pfns(f, BUF, (uint64_t[]){14 * M}, 1);
	send(f, 0, BUF, 4, 0);
	notify(f, 0);
	send(f, q, 14 * M, PAGE, F_WRITE);
	rel = fake_log_count(&f->e.log, FAKE_RELEASE, "backing");
	notify(f, q);
	assert_int_equal(fake_log_count(&f->e.log, FAKE_RELEASE, "backing"), rel + 2); /* a range */
	assert_int_equal(used_idx(f, q), 2);
	expect_used(f, q, 0, head, 0);
	assert_int_equal(f->notifies[q], 1);
	assert_true(fake_backing_released(&f->e.backing, 10 * M));
	assert_true(fake_backing_released(&f->e.backing, 10 * M + PAGE));
	assert_false(fake_backing_released(&f->e.backing, 10 * M + 2 * PAGE));
	assert_true(fake_backing_released(&f->e.backing, 12 * M + 4 * PAGE));
	assert_int_equal(memmap_granule_state(&f->e.mm, 10 * M), GRANULE_MAPPED);
	assert_int_equal(memmap_granule_state(&f->e.mm, 14 * M), GRANULE_PARTIAL);
	i = info(f);
	assert_int_equal(i.stats.reported_pages, 3);
	assert_int_equal(i.stats.invalid_pfns, 1);
	assert_int_equal(i.inflated_bytes, PAGE);
	/* The guest may use a reported page again at once. */
	assert_int_equal(guestmem_write(&f->e.mm, 10 * M, "x", 1), 0);
	assert_int_equal(f->resets, 0);
	fixture_free(f);
}

static void test_reporting(void **state)
{
	(void)state;
	run_reporting(false);
}

static void test_reporting_after_stats(void **state)
{
	(void)state;
	run_reporting(true);
}

static void test_queue_errors(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, false, NULL);
	struct virtio_queue_config bad = {.size = QSIZE,
					  .desc = RING(0) + 8, /* misaligned */
					  .avail = RING(0) + 0x8000,
					  .used = RING(0) + 0x10000,
					  .msix_vector = VIRTIO_MSI_NO_VECTOR};

	(void)state;
	bring_up(f, BASE, 2);
	/* A head outside the ring breaks the device: reported once, then ignored. */
	avail_add(f, 0, QSIZE + 1);
	put_range(f, BUF, 2 * M, 1);
	send(f, 1, BUF, 4, 0);
	notify(f, 0);
	assert_int_equal(f->resets, 1);
	assert_true(info(f).broken);
	notify(f, 0);
	notify(f, 1);
	assert_int_equal(f->resets, 1);
	assert_int_equal(used_idx(f, 1), 0);

	/* The driver resets and starts over. */
	balloon_ops.reset(&f->b);
	f->resets = 0;
	bring_up(f, BASE, 2);
	assert_false(info(f).broken);
	put_range(f, BUF, 2 * M, 1);
	send(f, 0, BUF, 4, 0);
	notify(f, 0);
	assert_int_equal(info(f).stats.inflated_pages, 1);

	/* A ring layout the device refuses. */
	balloon_ops.queue_ready(&f->b, 1, &bad);
	assert_int_equal(f->resets, 1);
	/* Queues outside the negotiated layout are ignored. */
	balloon_ops.reset(&f->b);
	f->resets = 0;
	bring_up(f, BASE, 2);
	balloon_ops.queue_ready(&f->b, 2, &bad);
	balloon_ops.queue_notify(&f->b, 2);
	balloon_ops.queue_notify(&f->b, 3);
	balloon_ops.queue_notify(&f->b, 100);
	assert_int_equal(f->resets, 0);
	/* A buffer outside RAM. */
	send(f, 0, 64 * M, 4, 0);
	notify(f, 0);
	assert_int_equal(f->resets, 1);
	fixture_free(f);
}

static void *notifier(void *arg)
{
	struct fixture *f = arg;
	struct balloon_info i;
	int k;

	for (k = 0; k < 50; k++) {
		balloon_ops.queue_notify(&f->b, 0);
		balloon_get_info(&f->b, &i);
		(void)balloon_ops.config_read(&f->b, 4, 4);
	}
	return NULL;
}

/* vCPU threads notifying at once: every buffer is processed and pushed exactly once. */
static void test_concurrent_notify(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, true, NULL);
	pthread_t th[4];
	int k;

	(void)state;
	bring_up(f, BASE, 2);
	f->threaded = true;
	for (k = 0; k < QSIZE; k++) {
		put_range(f, BUF + 0x1000 * k, 2 * M + 8 * PAGE * k, 8);
		send(f, 0, BUF + 0x1000 * k, 32, 0);
	}
	for (k = 0; k < 4; k++)
		assert_int_equal(pthread_create(&th[k], NULL, notifier, f), 0);
	for (k = 0; k < 4; k++)
		pthread_join(th[k], NULL);
	fake_env_check(&f->e);
	assert_int_equal(used_idx(f, 0), QSIZE);
	assert_int_equal(info(f).stats.inflated_pages, 8 * QSIZE);
	assert_int_equal(info(f).stats.invalid_pfns, 0);
	assert_int_equal(memmap_granule_state(&f->e.mm, 2 * M), GRANULE_DISCARDED);
	assert_int_equal(f->resets, 0);
	fixture_free(f);
}

/*
 * A guest that reposts every buffer it gets back: each notification serves the page budget
 * (half the ring of 512-PFN buffers here) and asks to be called again.
 */
static void test_budget(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, false, NULL);
	unsigned int per = BALLOON_BUDGET_PAGES / 512;
	unsigned int round, k;

	(void)state;
	assert_true(per < QSIZE);
	bring_up(f, BASE, 2);
	put_range(f, BUF, 2 * M, 512);
	for (k = 0; k < QSIZE; k++)
		send(f, 0, BUF, 512 * 4, 0);
	for (round = 1; round <= 6; round++) {
		notify(f, 0);
		assert_int_equal(used_idx(f, 0), round * per);
		assert_int_equal(f->reschedules[0], round);
		for (k = 0; k < per; k++)
			send(f, 0, BUF, 512 * 4, 0);
	}
	/* The first buffer inflated the pages; the others found them inflated already. */
	assert_int_equal(info(f).stats.inflated_pages, 512);
	assert_int_equal(info(f).stats.invalid_pfns, 512 * (6 * per - 1));
	assert_int_equal(f->resets, 0);
	fixture_free(f);
}

/* Two devices on one map keep their own state. */
static void test_two_instances(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, true, NULL);
	struct balloon *b2 = calloc(1, sizeof(*b2));
	struct balloon_info i2;
	struct error err = {0};

	(void)state;
	assert_non_null(b2);
	assert_int_equal(balloon_init(b2, &f->e.mm, &f->t, NULL), 0);
	assert_int_equal(balloon_set_target(b2, 8 * PAGE, &err), 0);
	bring_up(f, BASE, 2);
	put_range(f, BUF, 2 * M, 4);
	send(f, 0, BUF, 16, 0);
	notify(f, 0);
	balloon_get_info(b2, &i2);
	assert_int_equal(i2.stats.inflated_pages, 0);
	assert_int_equal(i2.target_bytes, 8 * PAGE);
	assert_int_equal(info(f).target_bytes, 0);
	assert_int_equal(info(f).stats.inflated_pages, 4);
	assert_int_equal(info(f).inflated_pinned_bytes, 4 * PAGE);
	balloon_destroy(b2);
	free(b2);
	fixture_free(f);
}

static size_t nops(struct fixture *f, enum fake_op op, const char *who)
{
	return fake_log_count(&f->e.log, op, who);
}

/* Writes the PFNs of npages pages from gpa at dst, highest first, and sends them on q. */
static void send_range_reversed(struct fixture *f, unsigned int q, uint64_t dst, uint64_t gpa,
				size_t npages)
{
	size_t i;

	for (i = 0; i < npages; i++)
		put_pfns(f, dst + 4 * i, (uint64_t[]){gpa + (npages - 1 - i) * PAGE}, 1);
	send(f, q, dst, npages * 4, 0);
}

/* A buffer of contiguous PFNs, in any order, costs one release (issue 11). */
static void test_batch_one_release(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, false, NULL);
	size_t rel, pop;
	uint64_t p;

	(void)state;
	bring_up(f, BASE, 2);
	rel = nops(f, FAKE_RELEASE, "backing");
	pop = nops(f, FAKE_POPULATE, "backing");
	/* 1 MiB that crosses from granule 1 into granule 2. */
	send_range_reversed(f, 0, BUF, 3 * M + M / 2, 256);
	notify(f, 0);
	assert_int_equal(nops(f, FAKE_RELEASE, "backing"), rel + 1);
	for (p = 0; p < 256; p++)
		assert_true(fake_backing_released(&f->e.backing, 3 * M + M / 2 + p * PAGE));
	assert_int_equal(info(f).stats.inflated_pages, 256);
	assert_int_equal(info(f).released_bytes, 256 * PAGE);
	/* Without a pinning listener deflate needs no backing call at all. */
	send_range_reversed(f, 1, BUF + 0x1000, 3 * M + M / 2, 256);
	notify(f, 1);
	assert_int_equal(nops(f, FAKE_RELEASE, "backing"), rel + 1);
	assert_int_equal(nops(f, FAKE_POPULATE, "backing"), pop);
	assert_int_equal(info(f).stats.deflated_pages, 256);
	assert_int_equal(info(f).inflated_bytes, 0);
	fixture_free(f);
}

/*
 * The device's own time (query-balloon's inflate-ns and deflate-ns) and the buffers it took
 * from each queue: counted per queue, not for an empty notification's buffers.
 */
static void test_handling_time(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, false, NULL);
	struct balloon_info i;

	(void)state;
	bring_up(f, BASE, 2);
	i = info(f);
	assert_int_equal(i.stats.inflate_buffers + i.stats.deflate_buffers, 0);
	assert_int_equal(i.stats.inflate_ns + i.stats.deflate_ns, 0);
	send_range_reversed(f, 0, BUF, 3 * M, 256);
	notify(f, 0);
	send_range_reversed(f, 0, BUF + 0x1000, 4 * M, 256);
	notify(f, 0);
	i = info(f);
	assert_int_equal(i.stats.inflated_pages, 512);
	assert_int_equal(i.stats.inflate_buffers, 2);
	assert_true(i.stats.inflate_ns > 0);
	assert_int_equal(i.stats.deflate_buffers, 0);
	assert_int_equal(i.stats.deflate_ns, 0);
	/* A notification with nothing new takes no buffer. */
	notify(f, 0);
	assert_int_equal(info(f).stats.inflate_buffers, 2);
	send_range_reversed(f, 1, BUF + 0x2000, 3 * M, 256);
	notify(f, 1);
	i = info(f);
	assert_int_equal(i.stats.deflated_pages, 256);
	assert_int_equal(i.stats.deflate_buffers, 1);
	assert_true(i.stats.deflate_ns > 0);
	assert_int_equal(i.stats.inflate_buffers, 2);
	fixture_free(f);
}

/*
 * With an IOMMU: two whole granules in one buffer are two unmaps and one release; deflating
 * them is one populate and two maps, done before the guest is told (MUST_TELL_HOST).
 */
static void test_batch_one_release_iommu(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, true, NULL);
	size_t rel, pop, unmaps, maps;

	(void)state;
	bring_up(f, BASE, 2);
	rel = nops(f, FAKE_RELEASE, "backing");
	pop = nops(f, FAKE_POPULATE, "backing");
	unmaps = nops(f, FAKE_UNMAP, "iommu");
	maps = nops(f, FAKE_MAP, "iommu");
	send_range_reversed(f, 0, BUF, 4 * M, 1024);
	notify(f, 0);
	assert_int_equal(nops(f, FAKE_RELEASE, "backing"), rel + 1);
	assert_int_equal(nops(f, FAKE_UNMAP, "iommu"), unmaps + 2);
	assert_int_equal(memmap_granule_state(&f->e.mm, 4 * M), GRANULE_DISCARDED);
	assert_int_equal(memmap_granule_state(&f->e.mm, 6 * M), GRANULE_DISCARDED);
	f->must_be_mapped[0] = 4 * M;
	f->must_be_mapped[1] = 6 * M + 2 * M - PAGE;
	f->nmust = 2;
	send_range_reversed(f, 1, BUF + 0x1000, 4 * M, 1024);
	notify(f, 1);
	assert_int_equal(f->notifies[1], 1);
	assert_int_equal(nops(f, FAKE_POPULATE, "backing"), pop + 1);
	assert_int_equal(nops(f, FAKE_MAP, "iommu"), maps + 2);
	assert_int_equal(info(f).stats.inflated_pages, 1024);
	assert_int_equal(info(f).stats.deflated_pages, 1024);
	fixture_free(f);
}

/* Refusals of every kind in one buffer are counted per page; the rest goes through. */
static void test_batch_mixed(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, true, NULL);
	uint64_t in[] = {
		2 * M + PAGE,	  /* done */
		2 * M + PAGE,	  /* duplicate */
		2 * M,		  /* already inflated */
		64 * M,		  /* not RAM */
		2 * M + 2 * PAGE, /* done */
		2 * M + PAGE,	  /* duplicate again */
	};
	uint64_t out[] = {
		2 * M,	      /* done */
		2 * M,	      /* duplicate */
		3 * M,	      /* never inflated */
		2 * M + PAGE, /* done */
		16 * M,	      /* just past RAM */
	};
	struct balloon_info i;

	(void)state;
	bring_up(f, BASE, 2);
	put_pfns(f, BUF, (uint64_t[]){2 * M}, 1);
	send(f, 0, BUF, 4, 0);
	put_pfns(f, BUF + 0x1000, in, 6);
	send(f, 0, BUF + 0x1000, sizeof(in) / sizeof(in[0]) * 4, 0);
	notify(f, 0);
	i = info(f);
	assert_int_equal(i.stats.inflated_pages, 3);
	assert_int_equal(i.stats.invalid_pfns, 4);
	assert_int_equal(i.inflated_bytes, 3 * PAGE);
	put_pfns(f, BUF + 0x2000, out, 5);
	send(f, 1, BUF + 0x2000, sizeof(out) / sizeof(out[0]) * 4, 0);
	notify(f, 1);
	i = info(f);
	assert_int_equal(i.stats.deflated_pages, 2);
	assert_int_equal(i.stats.invalid_pfns, 4 + 3);
	assert_int_equal(i.stats.failed_pfns + i.stats.held_pages, 0);
	assert_int_equal(i.inflated_bytes, PAGE);
	assert_int_equal(used_idx(f, 0), 2);
	assert_int_equal(used_idx(f, 1), 1);
	fixture_free(f);
}

/* A failed release fails only its own run: those pages stay as they were, counted failed. */
static void test_batch_release_failure(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, false, NULL);
	uint64_t pfns[] = {8 * M + PAGE, 4 * M + 2 * PAGE, 8 * M, 4 * M, 4 * M + PAGE};
	struct balloon_info i;

	(void)state;
	bring_up(f, BASE, 2);
	f->e.backing.fail_release = 1; /* the first run, in address order: 4 MiB */
	put_pfns(f, BUF, pfns, 5);
	send(f, 0, BUF, sizeof(pfns) / sizeof(pfns[0]) * 4, 0);
	notify(f, 0);
	i = info(f);
	assert_int_equal(i.stats.failed_pfns, 3);
	assert_int_equal(i.stats.inflated_pages, 2);
	assert_int_equal(i.stats.invalid_pfns, 0);
	assert_int_equal(i.inflated_bytes, 2 * PAGE);
	assert_false(fake_backing_released(&f->e.backing, 4 * M));
	assert_true(fake_backing_released(&f->e.backing, 8 * M));
	assert_int_equal(used_idx(f, 0), 1);
	fixture_free(f);
}

/*
 * With an IOMMU: a filled granule whose unmap fails stays inflated, mapped and backed
 * (held); a failed populate on deflate leaves the page in the balloon and the buffer with
 * the device until a retry restores the page.
 */
static void test_batch_held_and_failed_iommu(void **state)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, true, NULL);
	struct balloon_info i;

	(void)state;
	bring_up(f, BASE, 2);
	f->e.iommu.fail_unmap = 1;
	send_range_reversed(f, 0, BUF, 4 * M, 512);
	notify(f, 0);
	i = info(f);
	assert_int_equal(i.stats.inflated_pages, 512);
	assert_int_equal(i.stats.held_pages, 512);
	assert_int_equal(i.stats.failed_pfns, 0);
	assert_int_equal(i.inflated_bytes, 2 * M);
	assert_int_equal(i.inflated_pinned_bytes, 2 * M);
	assert_int_equal(i.released_bytes, 0);
	assert_true(fake_listener_mapped(&f->e.iommu, 4 * M));
	assert_false(fake_backing_released(&f->e.backing, 4 * M));

	send_range_reversed(f, 0, BUF + 0x1000, 8 * M, 512);
	notify(f, 0);
	assert_int_equal(memmap_granule_state(&f->e.mm, 8 * M), GRANULE_DISCARDED);
	f->e.backing.fail_populate = 1;
	put_pfns(f, BUF + 0x2000, (uint64_t[]){8 * M + PAGE}, 1);
	send(f, 1, BUF + 0x2000, 4, 0);
	notify(f, 1);
	i = info(f);
	assert_int_equal(i.stats.failed_pfns, 0);
	assert_true(i.deflate_held);
	assert_int_equal(i.deflate_waiting_pages, 1);
	assert_int_equal(i.stats.deflate_last_error, -EIO);
	assert_int_equal(i.stats.deflated_pages, 0);
	assert_int_equal(i.inflated_bytes, 2 * M + 2 * M);
	assert_int_equal(memmap_granule_state(&f->e.mm, 8 * M), GRANULE_DISCARDED);
	assert_int_equal(used_idx(f, 1), 0);
	f->must_be_mapped[f->nmust++] = 8 * M + PAGE;
	assert_int_equal(balloon_retry_deflate(&f->b), 0);
	fake_env_check(&f->e);
	i = info(f);
	assert_false(i.deflate_held);
	assert_int_equal(i.stats.deflated_pages, 1);
	assert_int_equal(i.stats.deflate_returned, 1);
	assert_int_equal(used_idx(f, 1), 1);
	assert_int_equal(f->resets, 0);
	fixture_free(f);
}

static unsigned int stall_calls;
static bool stall_under_lock;

static void stall_hook(void *opaque)
{
	struct fixture *f = opaque;

	if (!lock_is_free(&f->b))
		stall_under_lock = true;
	stall_calls++;
}

/* Successful IOMMU maps of the granule at gpa so far. */
static size_t maps_of(struct fixture *f, uint64_t gpa)
{
	size_t i, n = 0;

	for (i = 0; i < f->e.log.n; i++) {
		const struct fake_event *ev = &f->e.log.ev[i];

		n += ev->op == FAKE_MAP && !ev->ret && !strcmp(ev->who, "iommu") && ev->gpa == gpa;
	}
	return n;
}

/*
 * A 16 MiB guest with 2 MiB granules and an IOMMU whose MAP_DMA now fails with ENOMEM:
 * the granule at 10 MiB wholly inflated, one page at 4 MiB inflated, and a deflate buffer
 * of a page of each sent and notified. The 4 MiB page comes back, the other cannot: the
 * buffer is held.
 */
static struct fixture *held_fixture(uint16_t *head)
{
	struct fixture *f = fixture_new(16 * M, 2 * M, true, NULL);
	struct balloon_info i;

	balloon_set_stall_hook(&f->b, stall_hook, f);
	stall_calls = 0;
	stall_under_lock = false;
	bring_up(f, BASE, 2);
	send_range_reversed(f, 0, BUF, 10 * M, 512);
	put_pfns(f, BUF + 0x1000, (uint64_t[]){4 * M}, 1);
	send(f, 0, BUF + 0x1000, 4, 0);
	notify(f, 0);
	assert_int_equal(memmap_granule_state(&f->e.mm, 10 * M), GRANULE_DISCARDED);
	assert_int_equal(maps_of(f, 10 * M), 1);

	f->e.iommu.fail_all_maps = true;
	f->e.iommu.fail_errno = ENOMEM;
	put_pfns(f, BUF + 0x2000, (uint64_t[]){10 * M + PAGE, 4 * M}, 2);
	*head = send(f, 1, BUF + 0x2000, 8, 0);
	notify(f, 1);
	i = info(f);
	assert_true(i.deflate_held);
	assert_int_equal(i.deflate_waiting_pages, 1);
	assert_int_equal(i.deflate_retries, 0);
	assert_int_equal(i.stats.deflate_stalls, 1);
	assert_int_equal(i.stats.deflate_restore_failures, 1);
	assert_int_equal(i.stats.deflate_last_error, -ENOMEM);
	assert_int_equal(i.stats.deflated_pages, 1);
	assert_int_equal(i.stats.failed_pfns, 0);
	assert_int_equal(i.stats.invalid_pfns, 0);
	assert_int_equal(i.inflated_bytes, 2 * M);
	assert_int_equal(i.iommu_mapped_granules, 7);
	assert_int_equal(memmap_granule_state(&f->e.mm, 10 * M), GRANULE_DISCARDED);
	assert_false(fake_listener_mapped(&f->e.iommu, 10 * M));
	assert_int_equal(used_idx(f, 1), 0);
	assert_int_equal(f->notifies[1], 0);
	assert_int_equal(stall_calls, 1);
	assert_false(stall_under_lock);
	/* From here on the driver may hear of no deflate unless the page is mapped. */
	f->must_be_mapped[f->nmust++] = 10 * M + PAGE;
	return f;
}

/*
 * A deflate whose MAP_DMA fails never tells the guest: the buffer is held, later deflate
 * buffers wait, inflate goes on; retries fail while the IOMMU refuses, and once it
 * accepts, the granule is mapped once, the buffer returned and the queue rescheduled.
 */
static void test_deflate_held_until_mapped(void **state)
{
	struct fixture *f;
	struct balloon_info i;
	uint16_t head, next;

	(void)state;
	f = held_fixture(&head);
	/* The deflate queue waits behind the held buffer; the inflate queue does not. */
	put_pfns(f, BUF + 0x3000, (uint64_t[]){10 * M + 2 * PAGE}, 1);
	next = send(f, 1, BUF + 0x3000, 4, 0);
	notify(f, 1);
	assert_int_equal(used_idx(f, 1), 0);
	assert_int_equal(info(f).stats.deflated_pages, 1);
	put_pfns(f, BUF + 0x4000, (uint64_t[]){6 * M}, 1);
	send(f, 0, BUF + 0x4000, 4, 0);
	notify(f, 0);
	assert_int_equal(used_idx(f, 0), 3);
	assert_int_equal(stall_calls, 1);

	/* Still refused: nothing returned, one more failure counted. */
	assert_int_equal(balloon_retry_deflate(&f->b), 1);
	fake_env_check(&f->e);
	i = info(f);
	assert_true(i.deflate_held);
	assert_int_equal(i.deflate_retries, 1);
	assert_int_equal(i.stats.deflate_restore_failures, 2);
	assert_int_equal(used_idx(f, 1), 0);
	assert_int_equal(f->reschedules[1], 0);

	/* The IOMMU takes mappings again. */
	f->e.iommu.fail_all_maps = false;
	assert_int_equal(balloon_retry_deflate(&f->b), 0);
	fake_env_check(&f->e);
	assert_false(f->callback_under_lock);
	i = info(f);
	assert_false(i.deflate_held);
	assert_int_equal(i.deflate_waiting_pages, 0);
	assert_int_equal(i.stats.deflate_returned, 1);
	assert_int_equal(i.stats.deflate_dropped, 0);
	assert_int_equal(i.stats.deflate_restore_failures, 2);
	assert_int_equal(i.stats.deflated_pages, 2);
	assert_int_equal(i.iommu_mapped_granules, 8);
	assert_int_equal(maps_of(f, 10 * M), 2);
	assert_true(fake_listener_mapped(&f->e.iommu, 10 * M));
	assert_int_equal(used_idx(f, 1), 1);
	expect_used(f, 1, 0, head, 0);
	assert_int_equal(f->notifies[1], 1);
	assert_int_equal(f->reschedules[1], 1);
	/* Nothing is held: a retry does nothing. */
	assert_int_equal(balloon_retry_deflate(&f->b), 0);
	assert_int_equal(used_idx(f, 1), 1);

	/* The rescheduled notify takes the buffer that waited; no map again. */
	notify(f, 1);
	assert_int_equal(used_idx(f, 1), 2);
	expect_used(f, 1, 1, next, 0);
	assert_int_equal(info(f).stats.deflated_pages, 3);
	assert_int_equal(maps_of(f, 10 * M), 2);
	fixture_free(f);
}

/* A reset drops the held buffer: its page stays inflated and unmapped, nothing is pushed. */
static void test_deflate_held_reset(void **state)
{
	struct fixture *f;
	struct balloon_info i;
	uint16_t head;

	(void)state;
	f = held_fixture(&head);
	balloon_ops.reset(&f->b);
	i = info(f);
	assert_false(i.deflate_held);
	assert_int_equal(i.deflate_waiting_pages, 0);
	assert_int_equal(i.stats.deflate_dropped, 1);
	assert_int_equal(i.stats.deflate_returned, 0);
	assert_int_equal(i.inflated_bytes, 2 * M);
	f->e.iommu.fail_all_maps = false;
	assert_int_equal(balloon_retry_deflate(&f->b), 0);
	assert_int_equal(used_idx(f, 1), 0);
	assert_int_equal(maps_of(f, 10 * M), 1);
	assert_int_equal(memmap_granule_state(&f->e.mm, 10 * M), GRANULE_DISCARDED);
	fake_env_check(&f->e);

	/* The new driver deflates the page itself. */
	bring_up(f, BASE, 2);
	put_pfns(f, BUF + 0x3000, (uint64_t[]){10 * M + PAGE}, 1);
	send(f, 1, BUF + 0x3000, 4, 0);
	notify(f, 1);
	assert_int_equal(used_idx(f, 1), 1);
	assert_int_equal(maps_of(f, 10 * M), 2);
	assert_int_equal(info(f).stats.deflate_stalls, 1);
	fixture_free(f);
}

/* A queue error drops it too; so does a device destroyed while it waits (ASan: no leak). */
static void test_deflate_held_break_and_destroy(void **state)
{
	struct fixture *f;
	uint16_t head;

	(void)state;
	f = held_fixture(&head);
	avail_add(f, 0, QSIZE + 1);
	notify(f, 0);
	assert_int_equal(f->resets, 1);
	assert_false(info(f).deflate_held);
	assert_int_equal(info(f).stats.deflate_dropped, 1);
	f->e.iommu.fail_all_maps = false;
	assert_int_equal(balloon_retry_deflate(&f->b), 0);
	assert_int_equal(used_idx(f, 1), 0);
	fixture_free(f);

	f = held_fixture(&head);
	fixture_free(f);
}

/*
 * A DIMM unplugged while the balloon holds pages in it, with an IOMMU: a whole granule
 * (discarded, unmapped) and one page of the next (pinned) go with it, and so does the
 * page a held deflate buffer waits for. The retry then refuses that page (final, counted
 * invalid) and returns the buffer; the host's num_pages and the driver's actual stay what
 * they were set to, and the balloon goes on working in boot RAM.
 */
static void test_deflate_held_dimm_unplugged(void **state)
{
	const uint64_t dimm = 4 * G;
	struct fixture *f = fixture_map(
		(struct memmap_config){.mem = 16 * M, .maxmem = 48 * M, .granule = 2 * M}, true,
		NULL);
	struct error err = {0};
	struct balloon_info i;
	uint16_t head;

	(void)state;
	assert_int_equal(memmap_plug(&f->e.mm, 1, &err), 0);
	bring_up(f, BASE, 2);
	assert_int_equal(balloon_set_target(&f->b, 514 * PAGE, &err), 0);
	send_range_reversed(f, 0, BUF, dimm, 512);
	put_pfns(f, BUF + 0x1000, (uint64_t[]){dimm + 2 * M, 4 * M}, 2);
	send(f, 0, BUF + 0x1000, 8, 0);
	notify(f, 0);
	balloon_ops.config_write(&f->b, 4, 4, 514);
	i = info(f);
	assert_int_equal(i.inflated_bytes, 514 * PAGE);
	assert_int_equal(i.released_bytes, 512 * PAGE);
	assert_int_equal(i.inflated_pinned_bytes, 2 * PAGE);
	assert_int_equal(memmap_granule_state(&f->e.mm, dimm), GRANULE_DISCARDED);
	assert_int_equal(memmap_granule_state(&f->e.mm, dimm + 2 * M), GRANULE_PARTIAL);

	/* The DIMM's discarded granule cannot be mapped again: the buffer is held. */
	f->e.iommu.fail_all_maps = true;
	f->e.iommu.fail_errno = ENOMEM;
	put_pfns(f, BUF + 0x2000, (uint64_t[]){dimm + PAGE, 4 * M}, 2);
	head = send(f, 1, BUF + 0x2000, 8, 0);
	notify(f, 1);
	assert_true(info(f).deflate_held);
	assert_int_equal(info(f).deflate_waiting_pages, 1);

	assert_int_equal(memmap_unplug(&f->e.mm, 1, &err), 0);
	fake_env_check(&f->e);
	i = info(f);
	assert_int_equal(i.inflated_bytes, 0);
	assert_int_equal(i.released_bytes, 0);
	assert_int_equal(i.inflated_pinned_bytes, 0);
	assert_int_equal(i.iommu_mapped_granules, 8);
	assert_true(i.deflate_held);

	/* Refused, not failed: the buffer goes back although the IOMMU still fails maps. */
	assert_int_equal(balloon_retry_deflate(&f->b), 0);
	fake_env_check(&f->e);
	i = info(f);
	assert_false(i.deflate_held);
	assert_int_equal(i.stats.deflate_returned, 1);
	assert_int_equal(i.stats.invalid_pfns, 1);
	assert_int_equal(i.stats.deflated_pages, 1);
	assert_int_equal(i.target_bytes, 514 * PAGE);
	assert_int_equal(i.actual_bytes, 514 * PAGE);
	assert_int_equal(used_idx(f, 1), 1);
	expect_used(f, 1, 0, head, 0);
	assert_int_equal(maps_of(f, dimm), 1);

	/* The balloon goes on in boot RAM, and the driver says what it holds now. */
	f->e.iommu.fail_all_maps = false;
	send_range_reversed(f, 0, BUF + 0x3000, 10 * M, 512);
	notify(f, 0);
	put_pfns(f, BUF + 0x4000, (uint64_t[]){10 * M}, 1);
	send(f, 1, BUF + 0x4000, 4, 0);
	notify(f, 1);
	balloon_ops.config_write(&f->b, 4, 4, 511);
	i = info(f);
	assert_int_equal(used_idx(f, 1), 2);
	assert_int_equal(i.inflated_bytes, 511 * PAGE);
	assert_int_equal(i.inflated_pinned_bytes, 511 * PAGE);
	assert_int_equal(i.actual_bytes, 511 * PAGE);
	assert_int_equal(i.stats.inflated_pages, 514 + 512);
	assert_int_equal(i.stats.deflated_pages, 2);
	assert_int_equal(memmap_granule_state(&f->e.mm, 10 * M), GRANULE_PARTIAL);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_features),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_inflate_deflate_4k),
		cmocka_unit_test(test_inflate_deflate_4k_iommu),
		cmocka_unit_test(test_inflate_deflate_2m),
		cmocka_unit_test(test_inflate_deflate_2m_iommu),
		cmocka_unit_test(test_malicious_2m),
		cmocka_unit_test(test_malicious_2m_iommu),
		cmocka_unit_test(test_malicious_4k_iommu),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_stats_not_negotiated),
		cmocka_unit_test(test_reporting),
		cmocka_unit_test(test_reporting_after_stats),
		cmocka_unit_test(test_queue_errors),
		cmocka_unit_test(test_concurrent_notify),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_two_instances),
		cmocka_unit_test(test_batch_one_release),
		cmocka_unit_test(test_handling_time),
		cmocka_unit_test(test_batch_one_release_iommu),
		cmocka_unit_test(test_batch_mixed),
		cmocka_unit_test(test_batch_release_failure),
		cmocka_unit_test(test_batch_held_and_failed_iommu),
		cmocka_unit_test(test_deflate_held_until_mapped),
		cmocka_unit_test(test_deflate_held_reset),
		cmocka_unit_test(test_deflate_held_break_and_destroy),
		cmocka_unit_test(test_deflate_held_dimm_unplugged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
