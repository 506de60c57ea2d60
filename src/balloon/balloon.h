/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon (virtio 1.2, 5.5) on the granule model of memmap.h. The guest gives pages
 * back (inflateq) and takes them again (deflateq) as arrays of le32 4 KiB page frame
 * numbers; each buffer goes to one memmap_inflate_pages / memmap_deflate_pages batch,
 * which checks every PFN (plugged guest RAM, right state, not repeated in the buffer),
 * keeps the IOMMU ordering rules and releases backing once per contiguous run. A PFN it
 * refuses changes nothing and is counted invalid; so is the tail of a buffer that is not a
 * multiple of 4 bytes, and everything past BALLOON_MAX_CHAIN_BYTES in one buffer, which
 * bounds the work one buffer costs (Linux sends 256 PFNs, 1 KiB). A page inflated whose
 * granule could not be discarded (HELD) counts as inflated and as held.
 *
 * Queues, in the order Linux finds them for the negotiated features: inflateq 0, deflateq 1,
 * statsq 2 with STATS_VQ, then reporting_vq with REPORTING (index 2 or 3).
 * FREE_PAGE_HINT and PAGE_POISON are never offered. DEFLATE_ON_OOM (off unless chosen)
 * changes only what the driver does.
 *
 * MUST_TELL_HOST is always offered: memmap_deflate_pages populates and maps the pages
 * before it returns, and the deflate buffer is pushed only after that call returned,
 * so the guest never uses a page the IOMMU does not map.
 *
 * A deflate page the map could not restore (MEMMAP_PAGE_FAILED: the populate or a pinning
 * listener's MAP_DMA failed, ENOMEM under RLIMIT_MEMLOCK say) stays inflated, so its
 * buffer cannot go back: the device holds it, with the pages still waiting, and stops
 * taking deflate buffers (one held buffer at most); the other queues go on. The stall
 * hook (balloon_set_stall_hook) tells the owner, which calls balloon_retry_deflate later,
 * from its own timer: the guest cannot make the device retry. The buffer is pushed once
 * every page of it is restored (or refused, e.g. unplugged meanwhile), and the deflate
 * queue is rescheduled. A device reset or a queue error drops the held buffer; its pages
 * stay inflated, like every page the balloon holds.
 *
 * Statistics follow the spec's protocol: the device keeps the driver's buffer after reading
 * it and returns it only when balloon_request_stats asks for fresh numbers.
 *
 * Free page reporting is offered only without a pinning listener (no vfio container).
 * With one, a reported page cannot be returned to the host without unmapping its whole
 * granule from the IOMMU, and the guest may hand the page out again at any moment, so
 * reporting would release nothing (G > 4 KiB) or churn IOMMU mappings under live DMA
 * (G = 4 KiB). Nor with hugetlb backing (memmap_deflate_restores): a whole reported huge
 * page would be released and, deflated at once, allocated again in the same breath, so
 * the host would get nothing back for two calls. Anonymous RAM in transparent huge pages
 * releases whole granules only too, but a deflated granule stays a hole, so reporting
 * works there, for the granules a report covers whole. Otherwise the whole pages of each reported range
 * are inflated as one batch, which releases their backing in one call per run, and deflated at once
 * as another, so the guest may use them again.
 *
 * One notification serves at most BALLOON_BUDGET_CHAINS buffers, and stops after the
 * buffer that reaches BALLOON_BUDGET_PAGES pages; with work perhaps left the device asks
 * the transport to reschedule the queue, so a guest that reposts buffers forever cannot
 * hold the caller.
 *
 * Any virtqueue error means the guest broke a queue: the device stops processing every
 * queue, reports needs_reset once and waits for the driver to reset it.
 *
 * Locking: every entry point takes b->lock; memmap functions are called under it (so the
 * map's lock nests inside b->lock), never with guestmem_lock held. The transport's ops are
 * called after b->lock is dropped, as in virtio_rng.h. Pages the balloon holds stay
 * inflated across a device reset: the memory map, not the driver, owns that state. Those
 * inside a DIMM leave with it (memmap_unplug); num_pages and actual stay as the host and
 * the driver set them, so a page of a held deflate buffer that went with its DIMM is
 * refused, not waited for.
 */
#ifndef SLABVM_BALLOON_H
#define SLABVM_BALLOON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "devices/virtio.h"
#include "devices/virtqueue.h"
#include "mem/memmap.h"

/* Device feature bits (virtio 1.2, 5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_REPORTING 5

#define BALLOON_PAGE_SIZE 4096ULL
#define BALLOON_QUEUE_SIZE 256
#define BALLOON_MAX_QUEUES 4	       /* inflate, deflate, stats, reporting */
#define BALLOON_CONFIG_SIZE 8	       /* le32 num_pages, le32 actual */
#define BALLOON_MAX_CHAIN_BYTES 65536  /* PFNs read from one inflate/deflate buffer */
#define BALLOON_MAX_REPORT_PAGES 65536 /* pages released from one reporting buffer */
#define BALLOON_MAX_STATS 64	       /* entries read from one stats buffer */
/* Work done for one notification at most, whichever comes first: then it reschedules. */
#define BALLOON_BUDGET_CHAINS 64
#define BALLOON_BUDGET_PAGES 16384 /* PFNs read, or pages reported */

/* Statistics tags (virtio 1.2, 5.5.6.3, and the ones Linux adds after them). */
enum balloon_stat_tag {
	BALLOON_S_SWAP_IN,
	BALLOON_S_SWAP_OUT,
	BALLOON_S_MAJFLT,
	BALLOON_S_MINFLT,
	BALLOON_S_MEMFREE,
	BALLOON_S_MEMTOT,
	BALLOON_S_AVAIL,
	BALLOON_S_CACHES,
	BALLOON_S_HTLB_PGALLOC,
	BALLOON_S_HTLB_PGFAIL,
	BALLOON_S_OOM_KILLS,
	BALLOON_S_ALLOC_STALL,
	BALLOON_S_ASYNC_SCAN,
	BALLOON_S_DIRECT_SCAN,
	BALLOON_S_ASYNC_RECLAIM,
	BALLOON_S_DIRECT_RECLAIM,
	BALLOON_S_NR, /* unknown tags are ignored, as the spec asks */
};

/* Optional features, chosen by the user. */
struct balloon_config {
	bool stats;
	bool deflate_on_oom;
	bool free_page_reporting; /* offered only if !memmap_whole_granules (see above) */
};

/* What the guest did, in pages (4 KiB). */
struct balloon_stats {
	uint64_t inflated_pages;
	uint64_t deflated_pages;
	uint64_t reported_pages; /* released through free page reporting */
	uint64_t invalid_pfns;	 /* refused: ignored, nothing changed */
	uint64_t failed_pfns;	 /* valid, but a listener or the backing failed (a deflate waits) */
	uint64_t held_pages;	 /* of inflated_pages: their granule could not be discarded */
	/* Deflate buffers held because a page could not be restored (see above). */
	uint64_t deflate_stalls;	   /* buffers held */
	uint64_t deflate_returned;	   /* of those, returned once every page was restored */
	uint64_t deflate_dropped;	   /* of those, dropped by a reset or a queue error */
	uint64_t deflate_restore_failures; /* attempts, first and retries, that left pages */
	int deflate_last_error;		   /* negative errno of the last such attempt, 0 none */
	/*
	 * The device's own share of the balloon's work: buffers taken from the inflate and
	 * deflate queues and the wall time (CLOCK_MONOTONIC, ns) their notifications spent in
	 * the device, from taking the lock to the last buffer pushed (the memory map's checks,
	 * releases and populates included; the interrupt to the driver and the guest's exits
	 * not). Held deflate retries are not counted.
	 */
	uint64_t inflate_buffers;
	uint64_t inflate_ns;
	uint64_t deflate_buffers;
	uint64_t deflate_ns;
};

struct balloon_guest_stats {
	uint64_t updates;    /* stats buffers received */
	int64_t last_update; /* the host's time (CLOCK_REALTIME, s) of the last, 0 for none */
	uint32_t valid;	     /* bit n: val[n] was reported at least once */
	uint64_t val[BALLOON_S_NR];
};

struct balloon_info {
	uint64_t target_bytes; /* num_pages */
	uint64_t actual_bytes; /* what the driver says it holds */
	uint64_t inflated_bytes;
	uint64_t released_bytes;	/* of those, returned to the host (memmap_get_stats) */
	uint64_t inflated_pinned_bytes; /* inflated but kept by a pinning listener */
	uint64_t features;		/* negotiated */
	uint64_t iommu_mapped_granules; /* memmap_stats.pinned_granules */
	bool broken;			/* waiting for a reset after a queue error */
	bool deflate_held;		/* a deflate buffer waits for its pages */
	uint64_t deflate_waiting_pages; /* its pages not restored yet */
	uint64_t deflate_retries;	/* balloon_retry_deflate calls for it so far */
	struct balloon_stats stats;
	struct balloon_guest_stats guest;
};

/* Fields are private to balloon.c; tests and the fuzz harness only read them. */
struct balloon {
	pthread_mutex_t lock;
	struct memmap *mm;
	struct virtio_transport *transport;
	struct balloon_config cfg;
	uint64_t features; /* negotiated */
	uint32_t num_pages;
	uint32_t actual;
	int error; /* the enum virtqueue_error that broke the device: ignored until reset */
	bool live[BALLOON_MAX_QUEUES];
	struct virtqueue vq[BALLOON_MAX_QUEUES];
	bool stats_held; /* the driver's stats buffer, kept until balloon_request_stats */
	uint16_t stats_head;
	struct balloon_stats stats;
	struct balloon_guest_stats guest;
	struct virtqueue_chain chain;
	uint8_t buf[BALLOON_MAX_CHAIN_BYTES];
	/*
	 * One batch: a buffer's PFNs as addresses, or one reported range; BALLOON_MAX_REPORT_PAGES
	 * entries each, allocated apart so that only what batches use becomes resident.
	 */
	uint64_t *gpas;
	uint8_t *outcome; /* enum memmap_page_outcome, for reports and deflates */
	/* The held deflate buffer: its head and the addresses of its pages still waiting. */
	bool held;
	uint16_t held_head;
	size_t held_n;
	uint64_t held_retries;
	uint64_t *held_gpas; /* BALLOON_MAX_CHAIN_BYTES / 4 entries */
	void (*stall_hook)(void *opaque);
	void *stall_opaque;
};

/* The device starts reset with num_pages 0. Returns 0 or a negative errno (-ENOMEM). */
int balloon_init(struct balloon *b, struct memmap *mm, struct virtio_transport *transport,
		 const struct balloon_config *cfg);
void balloon_destroy(struct balloon *b);

/*
 * Asks the guest to hold bytes of memory (rounded down to 4 KiB pages) in the balloon and
 * raises a configuration change if that changed num_pages. -EINVAL (nothing changes) for
 * more than all pluggable RAM.
 */
int balloon_set_target(struct balloon *b, uint64_t bytes, struct error *err);

/*
 * Returns the driver's stats buffer so that it sends fresh numbers. -EAGAIN if the device
 * holds no buffer (STATS_VQ not negotiated, or the driver has not answered the last
 * request yet); -EIO if the queue broke meanwhile (needs_reset is raised).
 */
int balloon_request_stats(struct balloon *b);

void balloon_get_info(struct balloon *b, struct balloon_info *info);

/*
 * fn(opaque) is called, without b->lock, on the thread that notified the deflate queue,
 * each time a deflate buffer becomes held. Set it before the device goes live.
 */
void balloon_set_stall_hook(struct balloon *b, void (*fn)(void *opaque), void *opaque);
/*
 * Tries again to restore the pages of the held deflate buffer (at most one buffer's
 * work). Returns the pages still waiting: 0 when the buffer went back to the guest or
 * nothing is held.
 */
size_t balloon_retry_deflate(struct balloon *b);

/* dev = struct balloon *. */
extern const struct virtio_device_ops balloon_ops;

#endif
