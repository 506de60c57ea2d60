// SPDX-License-Identifier: MIT
/*
 * virtio-balloon. The device itself decides nothing about memory: it turns each guest
 * buffer (and each reported range) into one memmap_inflate_pages / memmap_deflate_pages
 * batch, which validates every page and keeps the IOMMU ordering rules, and counts what
 * became of each page.
 */
#include "balloon/balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BALLOON_BASE_FEATURES                                                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |                         \
	 (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_BALLOON_F_MUST_TELL_HOST))

#define BALLOON_Q_INFLATE 0
#define BALLOON_Q_DEFLATE 1
#define BALLOON_Q_STATS 2
#define BALLOON_STAT_ENTRY 10 /* packed: le16 tag, le64 val */

/* b->gpas holds one buffer's PFNs as well as one reported range. */
_Static_assert(BALLOON_MAX_CHAIN_BYTES / 4 <= BALLOON_MAX_REPORT_PAGES, "gpas too small");

enum balloon_role {
	BALLOON_ROLE_NONE,
	BALLOON_ROLE_INFLATE,
	BALLOON_ROLE_DEFLATE,
	BALLOON_ROLE_STATS,
	BALLOON_ROLE_REPORT,
};

static bool has(uint64_t features, unsigned int bit)
{
	return features & (1ULL << bit);
}

static uint64_t le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* Linux numbers the queues it finds by the negotiated features, skipping absent ones. */
static enum balloon_role balloon_role(const struct balloon *b, unsigned int q)
{
	unsigned int next = BALLOON_Q_STATS;

	if (q == BALLOON_Q_INFLATE)
		return BALLOON_ROLE_INFLATE;
	if (q == BALLOON_Q_DEFLATE)
		return BALLOON_ROLE_DEFLATE;
	if (has(b->features, VIRTIO_BALLOON_F_STATS_VQ) && q == next++)
		return BALLOON_ROLE_STATS;
	if (has(b->features, VIRTIO_BALLOON_F_REPORTING) && q == next)
		return BALLOON_ROLE_REPORT;
	return BALLOON_ROLE_NONE;
}

int balloon_init(struct balloon *b, struct memmap *mm, struct virtio_transport *transport,
		 const struct balloon_config *cfg)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->gpas = malloc(BALLOON_MAX_REPORT_PAGES * sizeof(*b->gpas));
	b->outcome = malloc(BALLOON_MAX_REPORT_PAGES * sizeof(*b->outcome));
	b->held_gpas = malloc(BALLOON_MAX_CHAIN_BYTES / 4 * sizeof(*b->held_gpas));
	ret = b->gpas && b->outcome && b->held_gpas ? -pthread_mutex_init(&b->lock, NULL) : -ENOMEM;
	if (ret) {
		free(b->gpas);
		free(b->outcome);
		free(b->held_gpas);
		return ret;
	}
	b->mm = mm;
	b->transport = transport;
	if (cfg)
		b->cfg = *cfg;
	return 0;
}

void balloon_destroy(struct balloon *b)
{
	pthread_mutex_destroy(&b->lock);
	free(b->gpas);
	free(b->outcome);
	free(b->held_gpas);
}

/*
 * Listeners are added before the map starts and never removed, so asking the map each
 * time gives the same answer the driver saw when it read the features.
 */
static uint64_t balloon_features(void *dev)
{
	struct balloon *b = dev;
	uint64_t f = BALLOON_BASE_FEATURES;

	if (b->cfg.stats)
		f |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	if (b->cfg.deflate_on_oom)
		f |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->cfg.free_page_reporting && !memmap_deflate_restores(b->mm))
		f |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
	return f;
}

static bool balloon_set_features(void *dev, uint64_t features)
{
	struct balloon *b = dev;

	if ((features & ~balloon_features(b)) || !has(features, VIRTIO_F_VERSION_1))
		return false;
	pthread_mutex_lock(&b->lock);
	b->features = features;
	pthread_mutex_unlock(&b->lock);
	return true;
}

static void balloon_config_bytes(struct balloon *b, uint8_t c[BALLOON_CONFIG_SIZE])
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		c[i] = b->num_pages >> (8 * i);
		c[4 + i] = b->actual >> (8 * i);
	}
}

static uint64_t balloon_config_read(void *dev, uint32_t offset, unsigned int size)
{
	struct balloon *b = dev;
	uint8_t c[BALLOON_CONFIG_SIZE];
	uint64_t v = 0;
	unsigned int i;

	pthread_mutex_lock(&b->lock);
	balloon_config_bytes(b, c);
	pthread_mutex_unlock(&b->lock);
	for (i = 0; i < size && i < 8; i++)
		if (offset < BALLOON_CONFIG_SIZE && i < BALLOON_CONFIG_SIZE - offset)
			v |= (uint64_t)c[offset + i] << (8 * i);
	return v;
}

/* Only 'actual' belongs to the driver; num_pages is the host's. */
static void balloon_config_write(void *dev, uint32_t offset, unsigned int size, uint64_t value)
{
	struct balloon *b = dev;
	uint8_t c[BALLOON_CONFIG_SIZE];
	unsigned int i;

	pthread_mutex_lock(&b->lock);
	balloon_config_bytes(b, c);
	for (i = 0; i < size && i < 8; i++)
		if (offset < BALLOON_CONFIG_SIZE && i < BALLOON_CONFIG_SIZE - offset &&
		    offset + i >= 4)
			c[offset + i] = value >> (8 * i);
	b->actual = le(c + 4, 4);
	pthread_mutex_unlock(&b->lock);
}

static void balloon_queue_ready(void *dev, unsigned int q, const struct virtio_queue_config *cfg)
{
	struct balloon *b = dev;
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	if (q >= BALLOON_MAX_QUEUES || balloon_role(b, q) == BALLOON_ROLE_NONE || b->error) {
		pthread_mutex_unlock(&b->lock);
		return;
	}
	if (cfg->size > BALLOON_QUEUE_SIZE)
		ret = VIRTQUEUE_ERR_SIZE;
	else
		ret = virtqueue_init(&b->vq[q], b->mm, cfg, b->features);
	b->live[q] = !ret;
	if (ret) {
		b->error = ret;
		memset(b->live, 0, sizeof(b->live));
	}
	pthread_mutex_unlock(&b->lock);
	if (ret)
		b->transport->ops->needs_reset(b->transport);
}

/*
 * Adds a batch's outcomes to the stats; returns the pages inflated or deflated. A failed
 * page of a guest's deflate buffer is not final (it waits in the held buffer): the caller
 * counts it.
 */
static uint64_t balloon_count(struct balloon *b, const struct memmap_batch_result *res,
			      bool count_failed)
{
	b->stats.invalid_pfns +=
		res->count[MEMMAP_PAGE_NOT_RAM] + res->count[MEMMAP_PAGE_UNALIGNED] +
		res->count[MEMMAP_PAGE_BAD_STATE] + res->count[MEMMAP_PAGE_DUPLICATE];
	if (count_failed)
		b->stats.failed_pfns += res->count[MEMMAP_PAGE_FAILED];
	b->stats.held_pages += res->count[MEMMAP_PAGE_HELD];
	/* A held page is inflated all the same: the guest gave it up, the map pins it. */
	return res->count[MEMMAP_PAGE_DONE] + res->count[MEMMAP_PAGE_HELD];
}

/*
 * Deflates the n pages at b->held_gpas and keeps there the ones that failed; returns how
 * many did. A refused page (unplugged since, say) is final: only a failure waits.
 */
static size_t balloon_deflate_held(struct balloon *b, size_t n)
{
	struct memmap_batch_result res = {.outcome = b->outcome};
	size_t i, m = 0;

	memmap_deflate_pages(b->mm, b->held_gpas, n, &res);
	b->stats.deflated_pages += balloon_count(b, &res, false);
	for (i = 0; i < n; i++)
		if (b->outcome[i] == MEMMAP_PAGE_FAILED)
			b->held_gpas[m++] = b->held_gpas[i];
	if (m) {
		b->stats.deflate_restore_failures++;
		b->stats.deflate_last_error = res.error ? res.error : -EIO;
	}
	return m;
}

/* Called with b->lock held when a held buffer goes away unreturned. */
static void balloon_drop_held(struct balloon *b)
{
	if (!b->held)
		return;
	b->held = false;
	b->held_n = 0;
	b->stats.deflate_dropped++;
}

/*
 * One inflate or deflate buffer, as one batch. A PFN is le32, so its address (below
 * 2^44) never overflows. 0, or a negative enum virtqueue_error. A deflate buffer with a
 * page that could not be restored becomes the held one (*held).
 */
static int balloon_pfns(struct balloon *b, unsigned int q, bool inflate, bool *held)
{
	struct memmap_batch_result res = {0};
	uint64_t len = b->chain.read_len;
	uint64_t n = len < BALLOON_MAX_CHAIN_BYTES ? len : BALLOON_MAX_CHAIN_BYTES;
	ssize_t got;
	size_t i;

	n -= n % 4;
	got = virtqueue_chain_read(&b->vq[q], &b->chain, 0, b->buf, n);
	if (got < 0)
		return got;
	/* An odd tail and everything past the cap are refused, a PFN per started 4 bytes. */
	b->stats.invalid_pfns += (len - got + 3) / 4;
	n = got / 4;
	if (inflate) {
		for (i = 0; i < n; i++)
			b->gpas[i] = le(b->buf + 4 * i, 4) * BALLOON_PAGE_SIZE;
		memmap_inflate_pages(b->mm, b->gpas, n, &res);
		b->stats.inflated_pages += balloon_count(b, &res, true);
		return 0;
	}
	for (i = 0; i < n; i++)
		b->held_gpas[i] = le(b->buf + 4 * i, 4) * BALLOON_PAGE_SIZE;
	b->held_n = balloon_deflate_held(b, n);
	if (b->held_n) {
		b->held = *held = true;
		b->held_head = b->chain.head;
		b->held_retries = 0;
		b->stats.deflate_stalls++;
	}
	return 0;
}

/*
 * One stats buffer: keep the values and hold the buffer. A driver that sends another
 * while we hold one gets the old one back, so no buffer is ever lost.
 */
static int balloon_stats_buf(struct balloon *b, unsigned int q, bool *pushed)
{
	uint8_t e[BALLOON_MAX_STATS * BALLOON_STAT_ENTRY];
	size_t len = b->chain.read_len < sizeof(e) ? b->chain.read_len : sizeof(e);
	struct timespec now;
	ssize_t got;
	size_t i;
	int ret;

	got = virtqueue_chain_read(&b->vq[q], &b->chain, 0, e, len);
	if (got < 0)
		return got;
	for (i = 0; i + BALLOON_STAT_ENTRY <= (size_t)got; i += BALLOON_STAT_ENTRY) {
		uint64_t tag = le(e + i, 2);

		if (tag >= BALLOON_S_NR)
			continue;
		b->guest.val[tag] = le(e + i + 2, 8);
		b->guest.valid |= 1U << tag;
	}
	b->guest.updates++;
	clock_gettime(CLOCK_REALTIME, &now);
	b->guest.last_update = now.tv_sec;
	if (b->stats_held) {
		ret = virtqueue_push(&b->vq[q], b->stats_head, 0);
		if (ret < 0)
			return ret;
		*pushed = true;
	}
	b->stats_held = true;
	b->stats_head = b->chain.head;
	return 0;
}

/*
 * One reported range of n pages from gpa: one batch inflates it, which punches its backing
 * once per run (no pinning listener), and one deflates the pages that went in, so the
 * guest may use them again. A page refused on inflate (one the balloon holds, say) is
 * left as it is.
 */
static void balloon_report_range(struct balloon *b, uint64_t gpa, size_t n)
{
	struct memmap_batch_result res = {.outcome = b->outcome};
	size_t i, m = 0;

	for (i = 0; i < n; i++)
		b->gpas[i] = gpa + i * BALLOON_PAGE_SIZE;
	memmap_inflate_pages(b->mm, b->gpas, n, &res);
	balloon_count(b, &res, true);
	for (i = 0; i < n; i++)
		if (b->outcome[i] == MEMMAP_PAGE_DONE || b->outcome[i] == MEMMAP_PAGE_HELD)
			b->gpas[m++] = b->gpas[i];
	memset(&res, 0, sizeof(res));
	memmap_deflate_pages(b->mm, b->gpas, m, &res);
	b->stats.reported_pages += balloon_count(b, &res, true);
}

/*
 * One free page report: every whole page of every range, a batch per range. Refused with
 * a pinning listener: see balloon.h.
 */
static void balloon_report(struct balloon *b)
{
	uint64_t budget = BALLOON_MAX_REPORT_PAGES;
	unsigned int s;

	if (memmap_deflate_restores(b->mm))
		return;
	for (s = 0; s < b->chain.nsegs; s++) {
		const struct virtqueue_seg *seg = &b->chain.seg[s];
		uint64_t start = (seg->gpa + BALLOON_PAGE_SIZE - 1) & ~(BALLOON_PAGE_SIZE - 1);
		uint64_t end = (seg->gpa + seg->len) & ~(BALLOON_PAGE_SIZE - 1);
		uint64_t n = end > start ? (end - start) / BALLOON_PAGE_SIZE : 0;

		if (n > budget) {
			b->stats.invalid_pfns += n - budget;
			n = budget;
		}
		budget -= n;
		if (n)
			balloon_report_range(b, start, n);
	}
}

/* The pages one popped buffer costs, as the budget counts them (an upper bound). */
static uint64_t balloon_chain_pages(const struct balloon *b, enum balloon_role role)
{
	uint64_t pages = 0;
	unsigned int s;

	switch (role) {
	case BALLOON_ROLE_INFLATE:
	case BALLOON_ROLE_DEFLATE:
		return b->chain.read_len < BALLOON_MAX_CHAIN_BYTES ? b->chain.read_len / 4
								   : BALLOON_MAX_CHAIN_BYTES / 4;
	case BALLOON_ROLE_REPORT:
		for (s = 0; s < b->chain.nsegs; s++)
			pages += b->chain.seg[s].len / BALLOON_PAGE_SIZE + 1;
		return pages < BALLOON_MAX_REPORT_PAGES ? pages : BALLOON_MAX_REPORT_PAGES;
	default:
		return 1;
	}
}

/*
 * Returns 1 if the driver must be interrupted, 0 if not, or a negative virtqueue error;
 * *more says the budget ran out first, *held that a deflate buffer became held.
 */
static int balloon_process(struct balloon *b, unsigned int q, enum balloon_role role, bool *more,
			   bool *held)
{
	unsigned int chains = 0;
	uint64_t pages = 0;
	bool pushed = false;
	int ret;

	/* While a deflate buffer waits, later ones wait on the ring behind it. */
	if (role == BALLOON_ROLE_DEFLATE && b->held)
		return 0;
	for (;;) {
		if (chains == BALLOON_BUDGET_CHAINS || pages >= BALLOON_BUDGET_PAGES) {
			*more = true;
			ret = 0;
			break;
		}
		ret = virtqueue_pop(&b->vq[q], &b->chain);
		if (ret <= 0)
			break;
		chains++;
		pages += balloon_chain_pages(b, role);
		switch (role) {
		case BALLOON_ROLE_INFLATE:
		case BALLOON_ROLE_DEFLATE:
			ret = balloon_pfns(b, q, role == BALLOON_ROLE_INFLATE, held);
			break;
		case BALLOON_ROLE_REPORT:
			balloon_report(b);
			ret = 0;
			break;
		default:
			ret = balloon_stats_buf(b, q, &pushed);
			break;
		}
		/* Nothing more of this queue until the held buffer goes back. */
		if (ret >= 0 && *held)
			break;
		/* Deflated pages are mapped by now: pushing tells the guest it may use them. */
		if (ret >= 0 && role != BALLOON_ROLE_STATS) {
			ret = virtqueue_push(&b->vq[q], b->chain.head, 0);
			pushed = true;
		}
		if (ret < 0)
			return ret;
	}
	if (role == BALLOON_ROLE_INFLATE)
		b->stats.inflate_buffers += chains;
	else if (role == BALLOON_ROLE_DEFLATE)
		b->stats.deflate_buffers += chains;
	if (ret < 0 || !pushed)
		return ret;
	return virtqueue_notify_needed(&b->vq[q]);
}

static uint64_t balloon_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Called with b->lock held after a queue error: every queue stops until reset. */
static void balloon_break(struct balloon *b, int err)
{
	b->error = err;
	memset(b->live, 0, sizeof(b->live));
	b->stats_held = false;
	balloon_drop_held(b);
}

static void balloon_queue_notify(void *dev, unsigned int q)
{
	struct balloon *b = dev;
	struct virtio_transport *t = b->transport;
	enum balloon_role role;
	bool more = false, held = false;
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	role = q < BALLOON_MAX_QUEUES ? balloon_role(b, q) : BALLOON_ROLE_NONE;
	if (role != BALLOON_ROLE_NONE && b->live[q] && !b->error) {
		uint64_t t0 = balloon_now_ns();

		ret = balloon_process(b, q, role, &more, &held);
		if (role == BALLOON_ROLE_INFLATE)
			b->stats.inflate_ns += balloon_now_ns() - t0;
		else if (role == BALLOON_ROLE_DEFLATE)
			b->stats.deflate_ns += balloon_now_ns() - t0;
		if (ret < 0)
			balloon_break(b, ret);
	}
	pthread_mutex_unlock(&b->lock);
	/* Even if the queue broke after it: a retry then finds nothing, which is harmless. */
	if (held && b->stall_hook)
		b->stall_hook(b->stall_opaque);
	if (ret > 0)
		t->ops->notify_queue(t, q);
	if (ret >= 0 && more)
		t->ops->reschedule(t, q);
	if (ret < 0)
		t->ops->needs_reset(t);
}

static void balloon_reset(void *dev)
{
	struct balloon *b = dev;
	unsigned int q;

	pthread_mutex_lock(&b->lock);
	for (q = 0; q < BALLOON_MAX_QUEUES; q++)
		virtqueue_reset(&b->vq[q]);
	memset(b->live, 0, sizeof(b->live));
	b->features = 0;
	b->error = 0;
	b->stats_held = false;
	balloon_drop_held(b);
	pthread_mutex_unlock(&b->lock);
}

int balloon_set_target(struct balloon *b, uint64_t bytes, struct error *err)
{
	uint64_t max = memmap_pluggable_bytes(b->mm);
	bool changed;

	if (bytes > max)
		return error_set(
			err, -EINVAL,
			"balloon: target %llu bytes is more than the guest's %llu bytes of RAM",
			(unsigned long long)bytes, (unsigned long long)max);
	pthread_mutex_lock(&b->lock);
	changed = b->num_pages != bytes / BALLOON_PAGE_SIZE;
	b->num_pages = bytes / BALLOON_PAGE_SIZE;
	pthread_mutex_unlock(&b->lock);
	if (changed)
		b->transport->ops->notify_config(b->transport);
	return 0;
}

int balloon_request_stats(struct balloon *b)
{
	struct virtio_transport *t = b->transport;
	int ret;

	pthread_mutex_lock(&b->lock);
	if (b->error || !b->stats_held || !b->live[BALLOON_Q_STATS] ||
	    balloon_role(b, BALLOON_Q_STATS) != BALLOON_ROLE_STATS) {
		pthread_mutex_unlock(&b->lock);
		return -EAGAIN;
	}
	b->stats_held = false;
	ret = virtqueue_push(&b->vq[BALLOON_Q_STATS], b->stats_head, 0);
	if (ret >= 0)
		ret = virtqueue_notify_needed(&b->vq[BALLOON_Q_STATS]);
	if (ret < 0)
		balloon_break(b, ret);
	pthread_mutex_unlock(&b->lock);
	if (ret > 0)
		t->ops->notify_queue(t, BALLOON_Q_STATS);
	if (ret < 0) {
		t->ops->needs_reset(t);
		return -EIO;
	}
	return 0;
}

void balloon_get_info(struct balloon *b, struct balloon_info *info)
{
	struct memmap_stats st;

	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&b->lock);
	memmap_get_stats(b->mm, &st);
	info->target_bytes = b->num_pages * BALLOON_PAGE_SIZE;
	info->actual_bytes = b->actual * BALLOON_PAGE_SIZE;
	info->features = b->features;
	info->broken = b->error != 0;
	info->deflate_held = b->held;
	info->deflate_waiting_pages = b->held_n;
	info->deflate_retries = b->held_retries;
	info->stats = b->stats;
	info->guest = b->guest;
	pthread_mutex_unlock(&b->lock);
	info->iommu_mapped_granules = st.pinned_granules;
	info->inflated_bytes = st.inflated_bytes;
	info->released_bytes = st.released_bytes;
	info->inflated_pinned_bytes = st.inflated_pinned_bytes;
}

void balloon_set_stall_hook(struct balloon *b, void (*fn)(void *opaque), void *opaque)
{
	pthread_mutex_lock(&b->lock);
	b->stall_hook = fn;
	b->stall_opaque = opaque;
	pthread_mutex_unlock(&b->lock);
}

size_t balloon_retry_deflate(struct balloon *b)
{
	struct virtio_transport *t = b->transport;
	struct virtqueue *vq = &b->vq[BALLOON_Q_DEFLATE];
	size_t left;
	int ret;

	pthread_mutex_lock(&b->lock);
	if (!b->held) {
		pthread_mutex_unlock(&b->lock);
		return 0;
	}
	b->held_retries++;
	b->held_n = balloon_deflate_held(b, b->held_n);
	left = b->held_n;
	if (left) {
		pthread_mutex_unlock(&b->lock);
		return left;
	}
	/* Every page is backed and mapped now: the guest may have them. */
	ret = virtqueue_push(vq, b->held_head, 0);
	if (ret >= 0) {
		b->held = false;
		b->stats.deflate_returned++;
		ret = virtqueue_notify_needed(vq);
	}
	if (ret < 0)
		balloon_break(b, ret);
	pthread_mutex_unlock(&b->lock);
	if (ret > 0)
		t->ops->notify_queue(t, BALLOON_Q_DEFLATE);
	/* The driver's notifications for buffers behind the held one went unanswered. */
	if (ret >= 0)
		t->ops->reschedule(t, BALLOON_Q_DEFLATE);
	else
		t->ops->needs_reset(t);
	return 0;
}

const struct virtio_device_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = BALLOON_MAX_QUEUES,
	.queue_max_size = BALLOON_QUEUE_SIZE,
	.features = balloon_features,
	.set_features = balloon_set_features,
	.config_size = BALLOON_CONFIG_SIZE,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.queue_ready = balloon_queue_ready,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
};
