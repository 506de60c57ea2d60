/* SPDX-License-Identifier: MIT */
/*
 * The guest memory map: the one place that owns guest RAM and every mapping of it.
 *
 * Guest RAM is a list of regions (boot RAM below the PCI hole, boot RAM above 4 GiB, DIMM
 * slots in the hotplug window), each cut into granules of one power-of-two size G
 * (4 KiB <= G <= 1 GiB), every region aligned to G. Each granule has a state:
 *
 *   UNPLUGGED  its region (a DIMM) is absent: no backing, no mapping
 *   MAPPED     backed, mapped by every listener (once started), no page inflated
 *   PARTIAL    some pages inflated; still mapped (and pinned if a pinning listener exists);
 *              with hugetlb backing the inflated pages stay backed (memmap_whole_granules)
 *   DISCARDED  every page inflated: unmapped from pinning listeners, backing released
 *
 * Subsystems that care about guest memory (KVM memslots, the vfio IOMMU container) are
 * listeners; nobody else maps or unmaps guest memory. The ordering rules:
 *   - a granule is unmapped from every listener before its backing is released;
 *   - backing is populated and the granule mapped before the guest may use it again
 *     (the functions below return only after that, so the caller tells the guest after);
 *   - no listener mapping ever spans two granules: granule_map/unmap cover exactly one.
 * A failure leaves the map as it was before the call (a balloon batch: as it was before
 * the failed run or granule, see memmap_inflate_pages). If undoing a half-done change fails
 * too (a listener refuses to restore a mapping it just held), the process aborts: the
 * IOMMU would no longer match guest memory and no later call could repair that.
 *
 * Balloon transitions (inflate/deflate) only ever call pinning listeners. Non-pinning
 * listeners (KVM memslots) see whole regions at start, plug and unplug and keep mapping
 * inflated and discarded memory: the host kernel's page tables follow the released
 * backing, and a guest touching a released page gets a fresh zero page.
 *
 * Locking: functions that change the map take mm->lock for writing; guestmem readers hold
 * it shared. Do not call a map-changing function while holding guestmem_lock. Listener
 * callbacks and backing ops run with the lock held for writing (a DIMM's populate: for
 * reading, see memmap_plug): they must not call back into the map or guestmem.
 */
#ifndef SLABVM_MEMMAP_H
#define SLABVM_MEMMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "mem/hugepages.h"

#define MEMMAP_PAGE_SIZE 4096ULL
#define MEMMAP_GRANULE_MIN MEMMAP_PAGE_SIZE
#define MEMMAP_GRANULE_MAX (1ULL << 30)
#define MEMMAP_GRANULE_DEFAULT (2ULL << 20)

/* The x86 physical layout. RAM below the hole ends at MEMMAP_LOW_END at most. */
#define MEMMAP_LOW_END 0xC0000000ULL	/* 3 GiB: start of the PCI hole */
#define MEMMAP_HIGH_BASE 0x100000000ULL /* 4 GiB */
#define MEMMAP_DIMM_ALIGN (1ULL << 30)	/* the hotplug window starts on a 1 GiB boundary */
#define MEMMAP_MAX_REGIONS 64
#define MEMMAP_DIMM_BLOCK (128ULL << 20) /* Linux's x86_64 memory block: DIMMs are whole ones */
#define MEMMAP_SLOT_ANY UINT32_MAX	 /* memmap_dimm_add: the first free slot */
#define MEMMAP_MEM_MIN (16ULL << 20)	 /* smallest boot RAM we lay out */
#define MEMMAP_RAM_END_MAX (1ULL << 40)	 /* RAM ends below 1 TiB: 40 physical address bits */

enum memmap_kind {
	MEMMAP_RAM_LOW,
	MEMMAP_RAM_HIGH,
	MEMMAP_DIMM,
};

enum granule_state {
	GRANULE_UNPLUGGED,
	GRANULE_MAPPED,
	GRANULE_PARTIAL,
	GRANULE_DISCARDED,
};

struct memmap_region {
	enum memmap_kind kind;
	unsigned int index; /* position in the map; also the KVM memslot number */
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva; /* NULL while unplugged */
	int fd;	      /* memfd backing, -1 while unplugged or anonymous */
	bool anon;    /* private anonymous memory (thp, hugepages.h), no fd */
	bool plugged;
	uint64_t ngranules;
	uint8_t *state;		 /* per granule: enum granule_state */
	uint32_t *ninflated;	 /* per granule: pages inflated */
	unsigned long *inflated; /* per page: inflated */
	unsigned long *released; /* per page: backing released (pages freed one by one) */
};

struct memmap;

/*
 * A listener follows the map. Every callback is optional, but granule_map and
 * granule_unmap come as a pair. granule_map/granule_unmap cover exactly one granule. A
 * listener that pins (an IOMMU container) makes partially inflated granules keep their
 * backing until the whole granule is inflated, and is the only kind told about balloon
 * transitions.
 */
struct memmap_listener {
	const char *name;
	bool pins;
	int (*region_add)(struct memmap_listener *l, const struct memmap_region *r);
	void (*region_del)(struct memmap_listener *l, const struct memmap_region *r);
	int (*granule_map)(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
			   uint64_t size, void *hva);
	int (*granule_unmap)(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
			     uint64_t size);
	struct memmap_listener *next;
};

/*
 * How backing memory is created, populated and released. The default works on memfds
 * (shmem, or hugetlbfs with --hugepages hugetlb: its opaque is the map's struct
 * hugepages_config, NULL meaning off); tests replace it to observe the ordering rules.
 * Freshly created backing reads as zero and is usable without populate; released memory
 * reads as zero afterwards.
 */
struct memmap_backing_ops {
	/* Create backing for a region: set r->hva and r->fd. */
	int (*create)(void *opaque, struct memmap_region *r);
	void (*destroy)(void *opaque, struct memmap_region *r);
	int (*populate)(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len);
	int (*release)(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len);
};

extern const struct memmap_backing_ops memmap_memfd_backing;

/* What the user asked for. */
struct memmap_config {
	uint64_t mem;	  /* boot RAM */
	uint64_t maxmem;  /* boot RAM plus the hotplug window; 0 means mem */
	uint64_t granule; /* 0 means MEMMAP_GRANULE_DEFAULT */
	/*
	 * DIMM slots (--slots). 0: the window is cut into fixed slots of dimm_size (0 means one
	 * slot for the whole window), laid out unplugged; only tests use that. N > 0: N empty
	 * slots, each filled at run time by memmap_dimm_add with a DIMM of any size that is a
	 * multiple of memmap_dimm_align(), placed anywhere in the window; dimm_size must be 0.
	 */
	uint32_t slots;
	uint64_t dimm_size;
	/* What backs RAM and DIMMs; hugetlb releases whole granules only (see below). */
	struct hugepages_config hugepages;
};

struct memmap_stats {
	uint64_t plugged_bytes;
	uint64_t inflated_bytes;	/* pages the balloon holds */
	uint64_t released_bytes;	/* of those, backing returned to the host */
	uint64_t inflated_pinned_bytes; /* inflated but backed: pinned, in a hugetlb granule
					 * not yet whole, or see remove_listener */
	uint64_t granules[4];		/* count per enum granule_state */
	uint64_t pinned_granules; /* mapped by the pinning listeners (IOMMU-mapped); 0 without */
};

struct memmap {
	uint64_t granule;
	unsigned int granule_shift;
	uint64_t pages_per_granule;
	unsigned int nregions;
	struct memmap_region region[MEMMAP_MAX_REGIONS];
	uint64_t dimm_base, dimm_end; /* the hotplug window, empty if equal */
	/* With --slots: regions dimm_first .. dimm_first + nslots - 1 are the slots, in slot
	 * order (so a slot keeps its region index, which is its memslot); an empty slot has
	 * size 0. Placed DIMMs are not in address order. nslots is 0 in a fixed-slot map. */
	unsigned int dimm_first, nslots;
	struct memmap_listener *listeners;
	const struct memmap_backing_ops *backing;
	void *backing_opaque;
	struct hugepages_config hugepages;
	bool whole_granules;   /* hugetlb: backing is released a whole granule at a time */
	pthread_rwlock_t lock; /* writers change the map; guest memory readers hold it shared */
	bool lock_ready;       /* lock was initialised (memmap_destroy may see a zeroed map) */
	bool started;	       /* listeners know the boot RAM; later ones join by replay */
	/* Kept as the map changes so stats cost nothing; the unit tests recount them. */
	uint64_t nr_inflated;	 /* pages */
	uint64_t nr_released;	 /* pages */
	uint64_t nr_granules[4]; /* per enum granule_state */
};

/* Checks a granule size; the message names the value. */
int memmap_check_granule(uint64_t granule, struct error *err);

/*
 * Lays out regions for cfg (validated: sizes are multiples of G, maxmem >= mem, ...) and
 * creates backing for the boot RAM. DIMM slots are created unplugged. Nothing is told to
 * listeners before memmap_start. backing NULL means memmap_memfd_backing. mm is zeroed
 * first, and left zeroed on failure. A configuration it refuses is a usage error
 * (error_usage), and so is hugetlb on a host without the huge pages for the boot RAM
 * (hugepages_check_host, with the default backing only); a host that cannot back it
 * otherwise is not.
 */
int memmap_init(struct memmap *mm, const struct memmap_config *cfg,
		const struct memmap_backing_ops *backing, void *backing_opaque, struct error *err);
/*
 * Frees all backing and the map's own memory; safe on a zeroed map and twice in a row.
 * Listeners are not called: tear down their owners (the VM, the vfio container) before or
 * after; the kernel keeps pinned pages alive until their mapping goes away.
 */
void memmap_destroy(struct memmap *mm);

/*
 * The type1 IOMMU allows at most `limit` mappings per container; `reserved` of them are
 * taken by other mappings (BARs). Refuses a map whose pluggable RAM could exceed it and
 * names the smallest granule that would fit.
 */
int memmap_check_entry_limit(const struct memmap *mm, uint64_t limit, uint64_t reserved,
			     struct error *err);

/*
 * Adds a listener. Before memmap_start it is only recorded. After, the map replays itself
 * to it under the write lock, in plug order: every granule it holds (plugged regions;
 * a pinning listener skips DISCARDED granules), then region_add per region. The first
 * pinning listener to join finds pages the balloon released one by one: each granule is
 * populated before it is mapped, and the inflated pages of PARTIAL granules are then held
 * for the pin. On a failure everything replayed is undone and the listener is left out.
 */
int memmap_add_listener(struct memmap *mm, struct memmap_listener *l, struct error *err);
/*
 * Removes a listener: in a started map, region_del and then granule_unmap of everything it
 * holds, region by region. If it refuses an unmap, what it gave up is given back and it
 * stays (-errno, message). When the last pinning listener leaves, the inflated pages held
 * for pins are released; one whose release fails stays allocated, counted as held.
 */
int memmap_remove_listener(struct memmap *mm, struct memmap_listener *l, struct error *err);
bool memmap_has_pinning_listener(const struct memmap *mm);
/*
 * Whether inflated pages stay backed until their whole granule is inflated: with a
 * pinning listener (it cannot let go of one page), with hugetlb backing, where a hole
 * punched into part of a huge page frees nothing (the kernel only zeroes that part), and
 * with anonymous RAM (thp, hugepages.h), where releasing part of a transparent huge page
 * splits it and frees nothing until the kernel gets round to the split. Balloon
 * transitions then run as with a pinning listener: a granule is released when its last
 * page is inflated.
 */
bool memmap_whole_granules(const struct memmap *mm);
/*
 * Whether a released granule is populated (and mapped into the pinning listeners) again
 * as soon as the guest takes a page of it back: with a pinning listener and with hugetlb
 * backing. Otherwise a deflated page stays a hole until the guest touches it.
 */
bool memmap_deflate_restores(const struct memmap *mm);

/* Brings boot RAM into every listener: map granules, then region_add. Once only. */
int memmap_start(struct memmap *mm, struct error *err);

/*
 * DIMM plug: create and populate backing, map every granule, region_add. index is the
 * region index of a DIMM slot; the map must be started. The populate runs with the lock
 * held only for reading, so that device I/O does not stall behind a large DIMM; plug,
 * unplug and memmap_dimm_add/remove must all be called from one thread.
 */
int memmap_plug(struct memmap *mm, unsigned int index, struct error *err);
/*
 * DIMM unplug: region_del, unmap every granule that is mapped, destroy the backing (which
 * frees it). Pages the balloon still held in the DIMM are forgotten with it.
 */
int memmap_unplug(struct memmap *mm, unsigned int index, struct error *err);

/*
 * Placed DIMMs (a map made with cfg->slots > 0). A DIMM's size and address are multiples
 * of memmap_dimm_align(): the granule, and Linux's 128 MiB memory block, so that the guest
 * can online and offline it whole.
 *
 * memmap_dimm_place finds where a DIMM of size would go: at addr if addr is not 0 (checked:
 * aligned, inside the window, overlapping no DIMM), else at the lowest aligned address
 * where it fits (first fit). Changes nothing; the message names the value refused.
 *
 * memmap_dimm_add puts a DIMM of size at gpa (checked as memmap_dimm_place checks addr;
 * 0 places it first fit) into slot (MEMMAP_SLOT_ANY: the lowest free one) and returns its
 * region index, unplugged: memmap_plug brings it in. memmap_dimm_remove empties the slot of an
 * unplugged DIMM (after memmap_unplug). Neither calls listeners or the backing. -EINVAL for a value
 * that does not fit, -EBUSY for a slot in use or a DIMM still plugged, -ENOSPC when every slot is
 * taken, -ENOMEM; on any error nothing changes.
 */
uint64_t memmap_dimm_align(const struct memmap *mm);
int memmap_dimm_place(struct memmap *mm, uint64_t size, uint64_t addr, uint64_t *gpa,
		      struct error *err);
int memmap_dimm_add(struct memmap *mm, uint32_t slot, uint64_t gpa, uint64_t size,
		    unsigned int *index, struct error *err);
int memmap_dimm_remove(struct memmap *mm, unsigned int index, struct error *err);

/*
 * Balloon operations on one 4 KiB page. Inflate: the guest gives the page up; its backing
 * is released now or, if memmap_whole_granules, when its whole granule is inflated (after
 * the granule is unmapped from pinning listeners). Deflate: the guest takes it back; a discarded
 * granule is populated and mapped again before this returns. -EINVAL for a page that is not plugged
 * guest RAM, not page aligned, not in the right state, or a map not started yet (nothing
 * changes). Another negative errno if a listener or the backing failed: for deflate, and
 * for inflate without a pinning listener, nothing changes; for inflate with one, the page
 * stays inflated (the guest has given it up) but its granule keeps its mapping and
 * backing (PARTIAL, counted as pinned) and is discarded once it fills up again.
 */
int memmap_inflate_page(struct memmap *mm, uint64_t gpa);
int memmap_deflate_page(struct memmap *mm, uint64_t gpa);

/* What became of one page of a batch. */
enum memmap_page_outcome {
	MEMMAP_PAGE_DONE,      /* inflated (released or held as above) / deflated, backed, mapped */
	MEMMAP_PAGE_HELD,      /* inflate with a pinning listener: inflated, but its granule,
				* which this batch filled, could not be discarded (error): it
				* stays mapped and backed, as memmap_inflate_page leaves it */
	MEMMAP_PAGE_FAILED,    /* a listener or the backing failed (error): page untouched */
	MEMMAP_PAGE_NOT_RAM,   /* refused: not plugged guest RAM, or the map is not started */
	MEMMAP_PAGE_UNALIGNED, /* refused: not 4 KiB aligned */
	MEMMAP_PAGE_BAD_STATE, /* refused: inflating an inflated page, deflating one that is not */
	MEMMAP_PAGE_DUPLICATE, /* refused: the same page comes earlier in the batch */
	MEMMAP_PAGE_OUTCOMES,
};

struct memmap_batch_result {
	uint8_t *outcome; /* in: NULL, or n entries to get each page's enum memmap_page_outcome */
	size_t count[MEMMAP_PAGE_OUTCOMES]; /* out: pages per outcome; they sum to n */
	int error; /* out: the first error of a listener or the backing, or -ENOMEM; else 0 */
};

/*
 * Balloon operations on a batch of n guest-physical page addresses, in any order. One
 * write lock for the whole batch. Every page is checked as the single-page calls check it
 * (refusals change nothing and are counted per reason), then the accepted pages go
 * through the same state machine with the same ordering rules, in address order, with
 * the backing called once per contiguous run instead of once per page or granule
 * ("with one" below: with a pinning listener, or hugetlb backing: memmap_whole_granules):
 *   inflate, no pinning listener: one release per run of accepted pages;
 *   inflate, with one: every granule the batch fills is unmapped from pinning listeners,
 *     then one release per run of such adjacent granules (a run stops at one whose unmap
 *     fails: that granule is HELD, the ones before are released);
 *   deflate, with one: one populate per run of adjacent discarded granules the batch
 *     touches, then each granule is mapped before the call returns. Without one, deflate
 *     makes no backing call.
 * Runs cross granules but never regions. A failure fails only its own run (or granule),
 * whose pages stay as they were (FAILED) or, for a failed discard, HELD; the rest of the
 * batch goes on. Listener mappings stay one granule each. Sorting takes 32 bytes per page
 * of scratch memory; without it nothing changes and every page that was not refused is
 * FAILED with -ENOMEM. The single-page calls are this with n = 1. Returns res->error.
 */
int memmap_inflate_pages(struct memmap *mm, const uint64_t *gpas, size_t n,
			 struct memmap_batch_result *res);
int memmap_deflate_pages(struct memmap *mm, const uint64_t *gpas, size_t n,
			 struct memmap_batch_result *res);
const char *memmap_outcome_name(enum memmap_page_outcome o);

/*
 * Lookups. memmap_find returns the region containing gpa, plugged or not, or NULL.
 * memmap_find and memmap_granule_state do not lock: call them from the thread that
 * changes the map or under guestmem_lock. An address outside every region reads as
 * GRANULE_UNPLUGGED.
 */
struct memmap_region *memmap_find(struct memmap *mm, uint64_t gpa);
enum granule_state memmap_granule_state(const struct memmap *mm, uint64_t gpa);
void memmap_get_stats(struct memmap *mm, struct memmap_stats *st);
const char *memmap_state_name(enum granule_state s);
const char *memmap_kind_name(enum memmap_kind k);

/* Highest guest-physical address of RAM that can ever be plugged, plus one. */
uint64_t memmap_ram_end(const struct memmap *mm);
/* All RAM that can ever be plugged, in bytes (what must be lockable for re-pinning). */
uint64_t memmap_pluggable_bytes(const struct memmap *mm);

#endif
