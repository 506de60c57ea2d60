// SPDX-License-Identifier: MIT
/*
 * A hostile driver against virtio-balloon on a 16 MiB guest built from the unit tests'
 * fake IOMMU listeners and fake backing, which check the ordering rules at every map,
 * unmap, populate and release; after every operation fake_check recounts the whole map.
 * fake_iommu.c is compiled into this harness (it reports through cmocka's assertion
 * functions, which the shims below turn into an abort, so no cmocka runtime is needed).
 *
 * Input:
 *   byte 0   bits 1:0 granule (4K, 64K, 1M, 2M), bit 2 a pinning "iommu" listener, bit 3
 *            stats, bit 4 free page reporting, bit 5 deflate-on-oom (offered and
 *            negotiated), bit 6 VIRTIO_F_INDIRECT_DESC, bit 7 VIRTIO_F_EVENT_IDX
 *   then     operations, each one opcode byte (low 3 bits) and its arguments:
 *     0 patch      le24 address, length byte, that many bytes into guest memory
 *     1 chain      queue byte, head byte, count byte (1..4 descriptors), then per
 *                  descriptor le24 address, le24 length, flags byte; published in order
 *     2 notify     queue byte
 *     3 target     le32 pages (times 4 KiB; more than RAM is refused)
 *     4 host       by bits 4:3 of the opcode: 0 balloon_request_stats, 1
 *                  balloon_retry_deflate (the timer's call), 2 every IOMMU map fails
 *                  with ENOMEM from now on / no longer (toggle), 3 the next populate fails
 *     5 reset      device reset, then features and queues set up again
 *     6 config     offset byte, size byte (1, 2 or 4), le32 value
 *     7 pfns       le24 address, count byte, then count le16 PFNs (13 bits kept, so about
 *                  half land in RAM) written there
 *   Missing bytes read as zero.
 *
 * Checked whatever the input: the map's invariants (fake_check, after every operation
 * that can change the map: notify, host operations, reset); failures are injected only
 * where a deflate restores a granule, so no PFN ever counts as failed; the pages the map
 * holds inflated are exactly those inflated minus those deflated; the transport and the
 * stall hook are never called under the device lock and needs_reset comes once per
 * break. A held deflate buffer: only with a pinning listener, its waiting pages still
 * inflated, the deflate queue's used index frozen while it waits, the stall hook called
 * once per stall, every stall returned, dropped or still waiting, and a retry with no
 * failure armed returns it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * The checker is not what is fuzzed: without coverage it runs faster and does not steer
 * the fuzzer towards its own branches.
 */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)
#include "../unit/fake_iommu.c"
#pragma clang attribute pop
#include "balloon/balloon.h"
#include "fuzz_input.h"
#include "mem/guestmem.h"

#define RAM_END (16ULL << 20)
#define QSIZE 16
#define RING(q) (0x10000ULL + 0x1000ULL * (q)) /* desc; avail +0x400, used +0x800 */
#define MAX_OPS 128

/* cmocka's reporting functions, as fake_iommu.c calls them: any failure ends the run. */
void _assert_true(const LargestIntegralType result, const char *const expression,
		  const char *const file, const int line)
{
	if (!result) {
		fprintf(stderr, "%s:%d: %s\n", file, line, expression);
		abort();
	}
}

void _assert_int_equal(const LargestIntegralType a, const LargestIntegralType b,
		       const char *const file, const int line)
{
	if (a != b) {
		fprintf(stderr, "%s:%d: %llu != %llu\n", file, line, (unsigned long long)a,
			(unsigned long long)b);
		abort();
	}
}

void _fail(const char *const file, const int line)
{
	fprintf(stderr, "%s:%d: failure\n", file, line);
	abort();
}

void print_error(const char *const format, ...)
{
	va_list ap;

	va_start(ap, format);
	vfprintf(stderr, format, ap);
	va_end(ap);
}

void print_message(const char *const format, ...)
{
	va_list ap;

	va_start(ap, format);
	vfprintf(stderr, format, ap);
	va_end(ap);
}

struct harness {
	struct fake_env e;
	struct balloon b;
	struct virtio_transport t;
	uint64_t features;
	uint16_t avail_idx[BALLOON_MAX_QUEUES];
	unsigned int resets;
	bool broken_seen;
	uint64_t stall_calls;
	bool held;	    /* at the last check */
	uint16_t held_used; /* the deflate queue's used index then */
};

static struct harness h;

static void check_unlocked(void)
{
	FUZZ_CHECK(pthread_mutex_trylock(&h.b.lock) == 0);
	pthread_mutex_unlock(&h.b.lock);
}

static void t_notify_queue(struct virtio_transport *t, unsigned int q)
{
	(void)t;
	FUZZ_CHECK(q < BALLOON_MAX_QUEUES);
	check_unlocked();
}

static void t_notify_config(struct virtio_transport *t)
{
	(void)t;
	check_unlocked();
}

static void t_needs_reset(struct virtio_transport *t)
{
	(void)t;
	check_unlocked();
	h.resets++;
}

/* The harness's next notify plays the rescheduled one. */
static void t_reschedule(struct virtio_transport *t, unsigned int q)
{
	(void)t;
	FUZZ_CHECK(q < BALLOON_MAX_QUEUES);
	check_unlocked();
}

static void stall_hook(void *opaque)
{
	(void)opaque;
	check_unlocked();
	h.stall_calls++;
}

static const struct virtio_transport_ops t_ops = {
	.notify_queue = t_notify_queue,
	.notify_config = t_notify_config,
	.needs_reset = t_needs_reset,
	.reschedule = t_reschedule,
};

/* Zeroes guest memory that may not be there any more (inflated): errors are fine. */
static void put(uint64_t gpa, const void *buf, size_t len)
{
	if (gpa < RAM_END && len <= RAM_END - gpa)
		(void)guestmem_write(&h.e.mm, gpa, buf, len);
}

static void bring_up(void)
{
	static const uint8_t zero[0x1000];
	unsigned int q;

	FUZZ_CHECK(balloon_ops.set_features(&h.b, h.features));
	for (q = 0; q < BALLOON_MAX_QUEUES; q++) {
		struct virtio_queue_config c = {.size = QSIZE,
						.desc = RING(q),
						.avail = RING(q) + 0x400,
						.used = RING(q) + 0x800,
						.msix_vector = VIRTIO_MSI_NO_VECTOR};

		put(RING(q), zero, sizeof(zero));
		h.avail_idx[q] = 0;
		balloon_ops.queue_ready(&h.b, q, &c);
	}
}

static void op_chain(struct fuzz_input *in)
{
	unsigned int q = fuzz_take(in, 1) % BALLOON_MAX_QUEUES;
	uint16_t head = fuzz_take(in, 1) % QSIZE;
	unsigned int n = fuzz_take(in, 1) % 4 + 1, i;
	uint8_t b[16];

	for (i = 0; i < n; i++) {
		uint64_t addr = fuzz_take(in, 3);
		uint32_t len = fuzz_take(in, 3);
		uint16_t flags = fuzz_take(in, 1) & 7;
		uint16_t next = (head + i + 1) % QSIZE;
		int k;

		flags = i + 1 < n ? flags | 1 : flags & ~1;
		for (k = 0; k < 8; k++)
			b[k] = addr >> (8 * k);
		for (k = 0; k < 4; k++)
			b[8 + k] = len >> (8 * k);
		b[12] = flags;
		b[13] = 0;
		b[14] = next;
		b[15] = next >> 8;
		put(RING(q) + 16 * ((head + i) % QSIZE), b, sizeof(b));
	}
	b[0] = head;
	b[1] = head >> 8;
	put(RING(q) + 0x400 + 4 + 2 * (h.avail_idx[q] % QSIZE), b, 2);
	h.avail_idx[q]++;
	b[0] = h.avail_idx[q];
	b[1] = h.avail_idx[q] >> 8;
	put(RING(q) + 0x400 + 2, b, 2);
}

static void op_pfns(struct fuzz_input *in)
{
	uint64_t addr = fuzz_take(in, 3);
	unsigned int n = fuzz_take(in, 1), i;
	uint8_t b[4 * 256];

	for (i = 0; i < n; i++) {
		uint32_t pfn = fuzz_take(in, 2) & 0x1fff;

		b[4 * i] = pfn;
		b[4 * i + 1] = pfn >> 8;
		b[4 * i + 2] = 0;
		b[4 * i + 3] = 0;
	}
	put(addr, b, 4 * n);
}

static bool page_inflated(uint64_t gpa)
{
	struct memmap_region *r = memmap_find(&h.e.mm, gpa);
	uint64_t p;

	if (!r || !r->plugged)
		return false;
	p = (gpa - r->gpa) / BALLOON_PAGE_SIZE;
	return r->inflated[p / (8 * sizeof(long))] >> (p % (8 * sizeof(long))) & 1;
}

static void check_held(const struct balloon_info *info, bool was_reset)
{
	const struct balloon_stats *s = &info->stats;
	uint16_t used = h.b.vq[1].used_idx; /* the device's own count: the guest cannot touch it */
	size_t i;

	FUZZ_CHECK(h.stall_calls == s->deflate_stalls);
	FUZZ_CHECK(s->deflate_stalls ==
		   s->deflate_returned + s->deflate_dropped + (info->deflate_held ? 1 : 0));
	FUZZ_CHECK(info->deflate_held == (info->deflate_waiting_pages > 0));
	if (info->deflate_held) {
		FUZZ_CHECK(memmap_has_pinning_listener(&h.e.mm));
		FUZZ_CHECK(s->deflate_last_error < 0);
		for (i = 0; i < h.b.held_n; i++)
			FUZZ_CHECK(page_inflated(h.b.held_gpas[i]));
		/* No deflate buffer is used while one waits for its pages. */
		if (h.held && !was_reset)
			FUZZ_CHECK(used == h.held_used);
	}
	h.held = info->deflate_held;
	h.held_used = used;
}

/* map: the operation may have changed the map (the fakes' recount is the slow part). */
static void check_all(bool map, bool was_reset)
{
	struct balloon_info info;

	if (map)
		fake_env_check(&h.e);
	balloon_get_info(&h.b, &info);
	check_held(&info, was_reset);
	FUZZ_CHECK(info.stats.failed_pfns == 0);
	FUZZ_CHECK(info.inflated_bytes ==
		   (info.stats.inflated_pages - info.stats.deflated_pages) * BALLOON_PAGE_SIZE);
	FUZZ_CHECK(info.released_bytes <= info.inflated_bytes);
	FUZZ_CHECK(info.target_bytes <= RAM_END);
	/* needs_reset once per break: a broken device says so and then stays silent. */
	if (info.broken && !h.broken_seen) {
		FUZZ_CHECK(h.resets == 1);
		h.broken_seen = true;
	}
	FUZZ_CHECK(h.resets == (h.broken_seen ? 1u : 0u));
	if (!(h.features & (1ULL << VIRTIO_BALLOON_F_REPORTING)))
		FUZZ_CHECK(info.stats.reported_pages == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t granules[4] = {4096, 64 << 10, 1 << 20, 2 << 20};
	struct fuzz_input in = {data, size, 0};
	uint8_t setup = fuzz_take(&in, 1);
	struct memmap_config c = {.mem = RAM_END, .granule = granules[setup & 3]};
	struct balloon_config bc = {.stats = setup & 8,
				    .free_page_reporting = setup & 16,
				    .deflate_on_oom = setup & 32};
	struct error err = {0};
	unsigned int ops;

	memset(&h, 0, sizeof(h));
	FUZZ_CHECK(fake_env_init(&h.e, &c, setup & 4, &err) == 0);
	FUZZ_CHECK(memmap_start(&h.e.mm, &err) == 0);
	h.t.ops = &t_ops;
	FUZZ_CHECK(balloon_init(&h.b, &h.e.mm, &h.t, &bc) == 0);
	balloon_set_stall_hook(&h.b, stall_hook, NULL);
	h.e.iommu.fail_errno = ENOMEM;
	h.features = balloon_ops.features(&h.b);
	FUZZ_CHECK(h.features & (1ULL << VIRTIO_BALLOON_F_MUST_TELL_HOST));
	/* Reporting is never offered next to a pinning listener. */
	if (setup & 4)
		FUZZ_CHECK(!(h.features & (1ULL << VIRTIO_BALLOON_F_REPORTING)));
	if (!(setup & 64))
		h.features &= ~(1ULL << VIRTIO_F_INDIRECT_DESC);
	if (!(setup & 128))
		h.features &= ~(1ULL << VIRTIO_F_EVENT_IDX);
	bring_up();
	check_all(true, true);

	for (ops = 0; fuzz_left(&in) && ops < MAX_OPS; ops++) {
		uint8_t op = fuzz_take(&in, 1);

		switch (op & 7) {
		case 0: {
			uint64_t addr = fuzz_take(&in, 3);
			uint8_t buf[256];
			unsigned int n = fuzz_take(&in, 1), i;

			for (i = 0; i < n; i++)
				buf[i] = fuzz_take(&in, 1);
			put(addr, buf, n);
			break;
		}
		case 1:
			op_chain(&in);
			break;
		case 2:
			balloon_ops.queue_notify(&h.b,
						 fuzz_take(&in, 1) % (BALLOON_MAX_QUEUES + 1));
			break;
		case 3: {
			uint64_t bytes = fuzz_take(&in, 4) * BALLOON_PAGE_SIZE;
			struct balloon_info info;
			int ret = balloon_set_target(&h.b, bytes, &err);

			FUZZ_CHECK(ret == (bytes > RAM_END ? -EINVAL : 0));
			balloon_get_info(&h.b, &info);
			if (!ret)
				FUZZ_CHECK(info.target_bytes == bytes);
			break;
		}
		case 4:
			switch (op >> 3 & 3) {
			case 0:
				(void)balloon_request_stats(&h.b);
				break;
			case 1: {
				bool armed = h.e.iommu.fail_all_maps || h.e.backing.fail_populate;
				size_t left = balloon_retry_deflate(&h.b);

				FUZZ_CHECK(armed || left == 0);
				break;
			}
			case 2:
				h.e.iommu.fail_all_maps = !h.e.iommu.fail_all_maps;
				break;
			default:
				h.e.backing.fail_populate = 1;
				break;
			}
			break;
		case 5:
			balloon_ops.reset(&h.b);
			h.resets = 0;
			h.broken_seen = false;
			bring_up();
			break;
		case 6: {
			uint32_t off = fuzz_take(&in, 1) % BALLOON_CONFIG_SIZE;
			unsigned int sz = 1u << (fuzz_take(&in, 1) % 3);
			uint32_t v = fuzz_take(&in, 4);

			if (sz <= BALLOON_CONFIG_SIZE - off) {
				uint32_t before = balloon_ops.config_read(&h.b, 0, 4);

				balloon_ops.config_write(&h.b, off, sz, v);
				FUZZ_CHECK(balloon_ops.config_read(&h.b, 0, 4) == before);
			}
			break;
		}
		default:
			op_pfns(&in);
			break;
		}
		/* Patches, chains and PFN lists only write guest memory; config never maps. */
		check_all((op & 7) == 2 || (op & 7) == 4 || (op & 7) == 5, (op & 7) == 5);
	}

	balloon_destroy(&h.b);
	fake_env_free(&h.e);
	return 0;
}
