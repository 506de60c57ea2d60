/* SPDX-License-Identifier: MIT */
/*
 * Test doubles for the memory map: listeners that record every call and keep the set of
 * live mappings (a pinning "IOMMU" and a non-pinning "memslots" listener are the same
 * code with different flags), and a backing over anonymous memory that records every
 * call and knows which pages are released.
 *
 * They assert the ordering rules at the moment a call happens: a map covers only
 * populated memory, a release or destroy overlaps no live pinning mapping, a mapping is
 * exactly one granule. fake_check() then compares the whole map with what the fakes saw.
 * Any failure ends the running cmocka test.
 */
#ifndef SLABVM_TEST_FAKE_IOMMU_H
#define SLABVM_TEST_FAKE_IOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/memmap.h"

enum fake_op {
	FAKE_CREATE,
	FAKE_DESTROY,
	FAKE_POPULATE,
	FAKE_RELEASE,
	FAKE_REGION_ADD,
	FAKE_REGION_DEL,
	FAKE_MAP,
	FAKE_UNMAP,
};

struct fake_event {
	enum fake_op op;
	const char *who; /* listener name, or "backing" */
	unsigned int region;
	uint64_t gpa; /* guest-physical start (backing offsets are turned into addresses) */
	uint64_t size;
	int ret; /* what the fake returned: nonzero for an injected failure */
};

/* One log shared by all fakes of a test, so orderings across them can be asserted. */
struct fake_log {
	struct fake_event *ev;
	size_t n, cap;
};

struct fake_backing;

/*
 * Failure injection: set fail_X to N and the Nth X call from now fails with -fail_errno
 * (-EIO if 0); then it is disarmed. fail_all_maps: every map fails until it is cleared.
 */
struct fake_listener {
	struct memmap_listener l; /* first: callbacks find the fake from it */
	struct memmap *mm;
	struct fake_log *log;
	struct fake_backing *backing; /* to check that maps cover populated memory; may be NULL */
	bool present[MEMMAP_MAX_REGIONS];
	uint8_t *mapped[MEMMAP_MAX_REGIONS]; /* per granule */
	uint64_t nmapped[MEMMAP_MAX_REGIONS]; /* granules mapped[] has room for */
	uint64_t nlive;
	unsigned int fail_map, fail_unmap, fail_region_add;
	bool fail_all_maps;
	int fail_errno;
};

struct fake_backing {
	struct memmap *mm;
	struct fake_log *log;
	struct fake_listener *listeners[4]; /* checked at release and destroy */
	unsigned int nlisteners;
	bool live[MEMMAP_MAX_REGIONS];
	uint64_t size[MEMMAP_MAX_REGIONS];
	unsigned long *released[MEMMAP_MAX_REGIONS]; /* per page, the backing's own view */
	unsigned int fail_create, fail_populate, fail_release;
	int fail_errno;
};

extern const struct memmap_backing_ops fake_backing_ops;

void fake_log_clear(struct fake_log *log);
void fake_log_free(struct fake_log *log);
/* Successful events only (failed attempts are logged with ret != 0 but not counted). */
size_t fake_log_count(const struct fake_log *log, enum fake_op op, const char *who);
/* Index of the first successful matching event at or after from, or -1. who NULL: any. */
long fake_log_find(const struct fake_log *log, size_t from, enum fake_op op, const char *who,
		   uint64_t gpa);
/* Index of the last successful matching event, or -1. */
long fake_log_find_last(const struct fake_log *log, enum fake_op op, const char *who);
void fake_log_print(const struct fake_log *log);

/*
 * granules: give the listener granule_map/unmap (an IOMMU); without, only region
 * callbacks (KVM memslots). Call before memmap_add_listener.
 */
void fake_listener_init(struct fake_listener *f, const char *name, bool pins, bool granules,
			struct memmap *mm, struct fake_log *log, struct fake_backing *b);
/* Forgets every mapping, as closing a vfio container would; then frees. */
void fake_listener_free(struct fake_listener *f);
bool fake_listener_mapped(const struct fake_listener *f, uint64_t gpa);

void fake_backing_init(struct fake_backing *b, struct memmap *mm, struct fake_log *log);
void fake_backing_watch(struct fake_backing *b, struct fake_listener *f);
bool fake_backing_released(const struct fake_backing *b, uint64_t gpa);
unsigned int fake_backing_nlive(const struct fake_backing *b);

/*
 * Checks the whole map against the fakes: granule states against counts, bitmaps, live
 * mappings of every listener and the backing's released pages; stats against a recount.
 */
void fake_check(struct memmap *mm, struct fake_backing *b, struct fake_listener **ls,
		unsigned int nls);

/* The usual setup: fake backing, a "memslots" listener, optionally a pinning "iommu". */
struct fake_env {
	struct fake_log log;
	struct fake_backing backing;
	struct fake_listener slots;
	struct fake_listener iommu;
	struct fake_listener *ls[4]; /* fake_check looks at these; tests may add more */
	unsigned int nls;
	struct memmap mm;
};

int fake_env_init(struct fake_env *e, const struct memmap_config *cfg, bool iommu,
		  struct error *err);
void fake_env_check(struct fake_env *e);
void fake_env_free(struct fake_env *e);

#endif
