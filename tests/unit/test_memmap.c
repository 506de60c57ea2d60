// SPDX-License-Identifier: MIT
/*
 * The memory map and its granule state machine, against the fakes in fake_iommu.c, which
 * assert the ordering rules as calls happen. fake_env_check() runs after every step.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_iommu.h"
#include "mem/guestmem.h"
#include "mem/memmap.h"

#define K ((uint64_t)1024)
#define M (1024 * K)
#define G (1024 * M)
#define PAGE ((uint64_t)MEMMAP_PAGE_SIZE)

static struct memmap_config config(uint64_t mem, uint64_t maxmem, uint64_t granule, uint64_t dimm)
{
	return (struct memmap_config){
		.mem = mem, .maxmem = maxmem, .granule = granule, .dimm_size = dimm};
}

static struct memmap_config config_slots(uint64_t mem, uint64_t maxmem, uint64_t granule,
					 uint32_t slots)
{
	return (struct memmap_config){
		.mem = mem, .maxmem = maxmem, .granule = granule, .slots = slots};
}

static void expect_msg(const struct error *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("message \"%s\" does not contain \"%s\"", err->msg, want);
	if (strchr(err->msg, '\n'))
		fail_msg("message \"%s\" is not one line", err->msg);
}

static void env_start(struct fake_env *e, struct memmap_config c, bool iommu)
{
	struct error err = {0};

	if (fake_env_init(e, &c, iommu, &err))
		fail_msg("init: %s", err.msg);
	if (memmap_start(&e->mm, &err))
		fail_msg("start: %s", err.msg);
	fake_env_check(e);
}

/* A started map with an iommu and extra, one more listener (name, pins), added before start. */
static void env_start_with(struct fake_env *e, struct memmap_config c, struct fake_listener *extra,
			   const char *name, bool pins)
{
	struct error err = {0};

	assert_int_equal(fake_env_init(e, &c, true, &err), 0);
	fake_listener_init(extra, name, pins, true, &e->mm, &e->log, &e->backing);
	assert_int_equal(memmap_add_listener(&e->mm, &extra->l, &err), 0);
	e->ls[e->nls++] = extra;
	assert_int_equal(memmap_start(&e->mm, &err), 0);
}

static uint8_t *host(struct memmap *mm, uint64_t gpa)
{
	struct memmap_region *r = memmap_find(mm, gpa);

	assert_non_null(r);
	assert_non_null(r->hva);
	return r->hva + (gpa - r->gpa);
}

static bool all_bytes(const uint8_t *p, uint64_t len, uint8_t v)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Granule sizes */

static void test_granule_check(void **state)
{
	static const uint64_t bad[] = {0,	1,     2048,  4095,	  4097,	      6 * K,
				       3145728, 3 * G, 2 * G, 1ULL << 31, 1ULL << 40, UINT64_MAX};
	struct error err = {0};
	uint64_t g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(memmap_check_granule(bad[i], &err), -EINVAL);
		assert_int_equal(err.code, -EINVAL);
		assert_true(err.usage); /* the user's --granule was refused */
		expect_msg(&err, "must be a power of two from 4K to 1G");
	}
	memmap_check_granule(3145728, &err);
	assert_string_equal(err.msg, "--granule 3M: must be a power of two from 4K to 1G");
	for (g = 4 * K; g <= G; g *= 2) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(memmap_check_granule(g, &err), 0);
		assert_int_equal(err.code, 0);
	}
	assert_int_equal(memmap_check_granule(MEMMAP_GRANULE_DEFAULT, NULL), 0);
}

/* Layout */

static void expect_region(struct memmap *mm, unsigned int i, enum memmap_kind kind, uint64_t gpa,
			  uint64_t size, bool plugged)
{
	struct memmap_region *r = &mm->region[i];
	enum granule_state s = plugged ? GRANULE_MAPPED : GRANULE_UNPLUGGED;
	uint64_t g;

	assert_true(i < mm->nregions);
	assert_int_equal(r->kind, kind);
	assert_int_equal(r->index, i);
	assert_int_equal(r->gpa, gpa);
	assert_int_equal(r->size, size);
	assert_int_equal(r->plugged, plugged);
	assert_int_equal(r->hva != NULL, plugged);
	assert_int_equal(r->ngranules, size / mm->granule);
	for (g = 0; g < r->ngranules; g++)
		assert_int_equal(r->state[g], s);
	assert_ptr_equal(memmap_find(mm, gpa), r);
	assert_ptr_equal(memmap_find(mm, gpa + size - 1), r);
	assert_int_equal(memmap_granule_state(mm, gpa + size - 1), s);
}

static void test_layout_small(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(512 * M, 0, 0, 0);
	struct memmap_stats st;

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_int_equal(e.mm.granule, MEMMAP_GRANULE_DEFAULT);
	assert_int_equal(e.mm.granule_shift, 21);
	assert_int_equal(e.mm.pages_per_granule, 512);
	assert_int_equal(e.mm.nregions, 1);
	expect_region(&e.mm, 0, MEMMAP_RAM_LOW, 0, 512 * M, true);
	assert_int_equal(e.mm.dimm_base, e.mm.dimm_end);
	assert_int_equal(memmap_ram_end(&e.mm), 512 * M);
	assert_int_equal(memmap_pluggable_bytes(&e.mm), 512 * M);
	assert_null(memmap_find(&e.mm, 512 * M));
	assert_int_equal(memmap_granule_state(&e.mm, 512 * M), GRANULE_UNPLUGGED);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.plugged_bytes, 512 * M);
	assert_int_equal(st.granules[GRANULE_MAPPED], 256);
	assert_int_equal(st.granules[GRANULE_UNPLUGGED], 0);
	/* Backing exists, but nobody is told before start. */
	assert_int_equal(fake_log_count(&e.log, FAKE_CREATE, NULL), 1);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, NULL), 0);
	assert_int_equal(fake_log_count(&e.log, FAKE_POPULATE, NULL), 0);
	fake_env_check(&e);
	fake_env_free(&e);
}

static void test_layout_exactly_3g(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(3 * G, 0, G, 0);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_int_equal(e.mm.nregions, 1);
	expect_region(&e.mm, 0, MEMMAP_RAM_LOW, 0, 3 * G, true);
	assert_int_equal(memmap_ram_end(&e.mm), 3 * G);
	fake_env_free(&e);
}

static void test_layout_spans_hole(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(4 * G, 0, 64 * M, 0);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_int_equal(e.mm.nregions, 2);
	expect_region(&e.mm, 0, MEMMAP_RAM_LOW, 0, 3 * G, true);
	expect_region(&e.mm, 1, MEMMAP_RAM_HIGH, 4 * G, G, true);
	assert_null(memmap_find(&e.mm, 3 * G));
	assert_null(memmap_find(&e.mm, 4 * G - 1));
	assert_int_equal(memmap_ram_end(&e.mm), 5 * G);
	assert_int_equal(memmap_pluggable_bytes(&e.mm), 4 * G);
	fake_env_check(&e);
	fake_env_free(&e);
}

static void test_layout_dimms_low(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(G, 5 * G, 2 * M, G);
	struct memmap_stats st;
	unsigned int i;

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_int_equal(e.mm.nregions, 5);
	expect_region(&e.mm, 0, MEMMAP_RAM_LOW, 0, G, true);
	/* No high RAM: the window starts at 4 GiB. */
	for (i = 1; i < 5; i++) {
		expect_region(&e.mm, i, MEMMAP_DIMM, 4 * G + (i - 1) * G, G, false);
		assert_int_equal(e.mm.region[i].fd, -1);
	}
	assert_int_equal(e.mm.dimm_base, 4 * G);
	assert_int_equal(e.mm.dimm_end, 8 * G);
	assert_int_equal(memmap_ram_end(&e.mm), 8 * G);
	assert_int_equal(memmap_pluggable_bytes(&e.mm), 5 * G);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.plugged_bytes, G);
	assert_int_equal(st.granules[GRANULE_MAPPED], 512);
	assert_int_equal(st.granules[GRANULE_UNPLUGGED], 4 * 512);
	assert_int_equal(fake_log_count(&e.log, FAKE_CREATE, NULL), 1);
	fake_env_check(&e);
	fake_env_free(&e);
}

static void test_layout_dimms_high(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(4 * G + 512 * M, 8 * G + 512 * M, 2 * M, 2 * G);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_int_equal(e.mm.nregions, 4);
	expect_region(&e.mm, 0, MEMMAP_RAM_LOW, 0, 3 * G, true);
	expect_region(&e.mm, 1, MEMMAP_RAM_HIGH, 4 * G, G + 512 * M, true);
	/* High RAM ends at 5.5G; the window starts at the next 1 GiB boundary. */
	expect_region(&e.mm, 2, MEMMAP_DIMM, 6 * G, 2 * G, false);
	expect_region(&e.mm, 3, MEMMAP_DIMM, 8 * G, 2 * G, false);
	assert_null(memmap_find(&e.mm, 5 * G + 512 * M));
	assert_int_equal(memmap_ram_end(&e.mm), 10 * G);
	assert_int_equal(memmap_pluggable_bytes(&e.mm), 8 * G + 512 * M);
	fake_env_free(&e);
}

static void test_layout_one_slot(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(2 * G, 5 * G, 0, 0);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_int_equal(e.mm.nregions, 2);
	expect_region(&e.mm, 1, MEMMAP_DIMM, 4 * G, 3 * G, false);
	fake_env_free(&e);
}

static void test_layout_adjacent_high_and_dimm(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(4 * G, 6 * G, G, G);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_int_equal(e.mm.nregions, 4);
	expect_region(&e.mm, 1, MEMMAP_RAM_HIGH, 4 * G, G, true);
	expect_region(&e.mm, 2, MEMMAP_DIMM, 5 * G, G, false);
	expect_region(&e.mm, 3, MEMMAP_DIMM, 6 * G, G, false);
	fake_env_free(&e);
}

static void test_layout_4k_granules(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(16 * M, 0, 4 * K, 0);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, true, &err), 0);
	assert_int_equal(e.mm.pages_per_granule, 1);
	assert_int_equal(e.mm.region[0].ngranules, 4096);
	assert_int_equal(memmap_start(&e.mm, &err), 0);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "iommu"), 4096);
	assert_int_equal(e.iommu.nlive, 4096);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* Refusals */

static void expect_refused(struct memmap_config c, const char *want)
{
	struct fake_env e;
	struct error err = {0};
	int ret = fake_env_init(&e, &c, false, &err);

	if (ret != -EINVAL)
		fail_msg("config mem %" PRIu64 " maxmem %" PRIu64 " granule %" PRIu64
			 " dimm %" PRIu64 ": got %d, \"%s\"",
			 c.mem, c.maxmem, c.granule, c.dimm_size, ret, err.msg);
	assert_int_equal(err.code, -EINVAL);
	assert_true(err.usage);
	expect_msg(&err, want);
	/* Refused before any backing exists, and the map is left zeroed. */
	assert_int_equal(e.mm.nregions, 0);
	assert_int_equal(fake_log_count(&e.log, FAKE_CREATE, NULL), 0);
	fake_env_free(&e);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused(config(16 * M, 0, 3145728, 0),
		       "--granule 3M: must be a power of two from 4K to 1G");
	expect_refused(config(16 * M, 0, 2 * G, 0), "--granule 2G");
	expect_refused(config(8 * M, 0, 0, 0), "--mem 8M: too small, the guest needs at least 16M");
	expect_refused(config(0, 0, 0, 0), "--mem 0: too small");
	expect_refused(config(100 * M, 0, 64 * M, 0),
		       "--mem 100M is not a multiple of --granule 64M; try --mem 64M or 128M");
	expect_refused(config(16 * M + 4 * K, 0, 2 * M, 0),
		       "--mem 16388K is not a multiple of --granule 2M; try --mem 16M or 18M");
	expect_refused(config(17 * M, 0, 16 * M, 0),
		       "--mem 17M is not a multiple of --granule 16M; try --mem 16M or 32M");
	expect_refused(config(16 * M, 0, G, 0),
		       "--mem 16M is not a multiple of --granule 1G; try --mem 1G");
	expect_refused(config(2 * G, G, 0, 0), "--maxmem 1G: smaller than --mem 2G");
	expect_refused(config(G, G + M, 2 * M, 0),
		       "--maxmem 1025M is not a multiple of --granule 2M");
	expect_refused(config(G, 2 * G, 2 * M, 3 * M),
		       "DIMM size 3M is not a multiple of --granule 2M");
	expect_refused(config(G, 4 * G, 2 * M, 2 * G),
		       "DIMM size 2G does not divide the 3G hotplug window (--maxmem 4G minus "
		       "--mem 1G)");
	expect_refused(config(G, G, 2 * M, G), "DIMM size 1G: there is no hotplug window");
	/* 8G in 128M slots is 64 slots; one region is boot RAM, so 63 fit. */
	expect_refused(config(G, 9 * G, 2 * M, 128 * M),
		       "DIMM size 128M cuts the 8G hotplug window into 64 slots, more than the "
		       "63 that fit; a DIMM size of 256M or larger works");
	/*
	 * With high RAM, 62 fit. The window is 63 granules, so the slot counts that work are
	 * the divisors of 63: at most 62 slots means 21 slots of 3 granules.
	 */
	expect_refused(config(4 * G, 4 * G + 63 * 64 * M, 64 * M, 64 * M),
		       "DIMM size 64M cuts the 4032M hotplug window into 63 slots, more than the "
		       "62 that fit; a DIMM size of 192M or larger works");
	expect_refused(config(2ULL << 40, 0, 0, 0), "--mem 2T: more than the 1T this machine");
	expect_refused(config(G, 2ULL << 40, 0, 0), "--maxmem 2T: more than the 1T this machine");
	expect_refused(
		config(1ULL << 40, 0, G, 0),
		"--mem 1T puts the end of RAM at 1025G, above the 1T this machine addresses");
	expect_refused(config(G, 1ULL << 40, G, 0),
		       "--maxmem 1T puts the end of RAM at 1027G, above the 1T");
	expect_refused(config(UINT64_MAX, 0, 0, 0), "--mem 18446744073709551615: more than");
}

static struct memmap_config hugetlb(struct memmap_config c, uint64_t size)
{
	c.hugepages = (struct hugepages_config){HUGEPAGES_HUGETLB, size, NULL};
	return c;
}

/* hugetlb needs granules of whole huge pages; the refusal names the granule to use. */
static void test_hugetlb_refusals(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = hugetlb(config(16 * M, 0, 4 * K, 0), 2 * M);

	(void)state;
	expect_refused(c, "--hugepages hugetlb: --granule 4K is smaller than a huge page; use "
			  "--granule 2M or larger");
	expect_refused(hugetlb(config(16 * M, 0, M, 0), 2 * M), "--granule 1M is smaller");
	expect_refused(hugetlb(config(G, 0, 0, 0), G),
		       "--hugepages hugetlb:1G: --granule 2M is smaller than a huge page; use "
		       "--granule 1G or larger");
	/* Sizes follow from the granule: the usual message, before the huge page one. */
	expect_refused(hugetlb(config(G + 2 * M, 0, G, 0), G),
		       "--mem 1026M is not a multiple of --granule 1G");
	/* What fits is laid out, the DIMMs in whole huge pages too. */
	c = hugetlb(config_slots(G, 2 * G, G, 1), G);
	env_start(&e, c, false);
	assert_int_equal(memmap_dimm_align(&e.mm), G);
	assert_true(memmap_whole_granules(&e.mm));
	fake_env_free(&e);
	c = hugetlb(config(16 * M, 0, 4 * M, 0), 2 * M);
	env_start(&e, c, false);
	fake_env_free(&e);
	(void)err;
}

static void test_refusal_leaves_no_backing(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(4 * G, 0, G, 0);

	(void)state;
	memset(&e, 0, sizeof(e));
	fake_backing_init(&e.backing, &e.mm, &e.log);
	e.backing.fail_create = 2; /* the high RAM region */
	e.backing.fail_errno = ENOMEM;
	assert_int_equal(memmap_init(&e.mm, &c, &fake_backing_ops, &e.backing, &err), -ENOMEM);
	expect_msg(&err, "--mem 4G: cannot create 1G of guest RAM at 0x100000000");
	/* The low region's backing was created and then destroyed again. */
	assert_int_equal(fake_log_count(&e.log, FAKE_CREATE, NULL), 1);
	assert_int_equal(fake_log_count(&e.log, FAKE_DESTROY, NULL), 1);
	assert_int_equal(fake_backing_nlive(&e.backing), 0);
	assert_int_equal(e.mm.nregions, 0);
	memmap_destroy(&e.mm);
	memmap_destroy(&e.mm);
	fake_log_free(&e.log);
}

static void test_destroy_zeroed(void **state)
{
	struct memmap mm;

	(void)state;
	memset(&mm, 0, sizeof(mm));
	memmap_destroy(&mm);
	memmap_destroy(&mm);
	assert_int_equal(mm.nregions, 0);
}

/* The IOMMU entry limit */

static void expect_limit(struct memmap_config c, uint64_t limit, uint64_t reserved,
			 const char *want)
{
	struct fake_env e;
	struct error err = {0};
	int ret;

	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	ret = memmap_check_entry_limit(&e.mm, limit, reserved, &err);
	if (!want) {
		if (ret)
			fail_msg("refused: %s", err.msg);
	} else {
		assert_int_equal(ret, -ENOSPC);
		expect_msg(&err, want);
	}
	fake_env_free(&e);
}

static void test_entry_limit(void **state)
{
	(void)state;
	expect_limit(config(G, 0, 4 * K, 0), 65535, 0,
		     "--granule 4K needs 262144 IOMMU mappings for 1G of RAM, but the IOMMU "
		     "allows 65535 (dma_entry_limit); use --granule 32K or larger");
	expect_limit(config(G, 0, 32 * K, 0), 65535, 0, NULL);
	expect_limit(config(G, 0, 16 * K, 0), 65535, 0, "use --granule 32K or larger");
	/* 256M at 4K is 65536 granules: exactly at a limit of 65536, one over with a BAR. */
	expect_limit(config(256 * M, 0, 4 * K, 0), 65536, 0, NULL);
	expect_limit(config(256 * M, 0, 4 * K, 0), 65536, 1,
		     "--granule 4K needs 65536 IOMMU mappings for 256M of RAM (and 1 for "
		     "devices), but the IOMMU allows 65536 (dma_entry_limit); use --granule 8K");
	/* DIMM slots count although they are unplugged: they can be plugged later. */
	expect_limit(config(G, 2 * G, 2 * M, 0), 1024, 0, NULL);
	expect_limit(config(G, 2 * G, 2 * M, 0), 1000, 0,
		     "--granule 2M needs 1024 IOMMU mappings for 2G of RAM, but the IOMMU allows "
		     "1000 (dma_entry_limit); use --granule 4M or larger");
	expect_limit(config(G, 0, 2 * M, 0), 10, 10,
		     "--granule 2M needs 512 IOMMU mappings for 1G of RAM (and 10 for devices), "
		     "but the IOMMU allows 10 (dma_entry_limit) and no granule size fits; raise "
		     "the dma_entry_limit parameter of vfio_iommu_type1");
	expect_limit(config(G, 0, 2 * M, 0), 10, 11, "(and 11 for devices)");
	/* 3G + 1G at a limit of 3: not even 1G granules fit. */
	expect_limit(config(4 * G, 0, G, 0), 3, 0, "no granule size fits");
	/* Placed DIMMs: the whole window counts, with no DIMM in it yet. */
	expect_limit(config_slots(G, 2 * G, 2 * M, 4), 1024, 0, NULL);
	expect_limit(config_slots(G, 2 * G, 2 * M, 4), 1023, 0,
		     "--granule 2M needs 1024 IOMMU mappings for 2G of RAM, but the IOMMU allows "
		     "1023 (dma_entry_limit); use --granule 4M or larger");
}

/* Placed DIMMs (--slots) */

static void test_slots_layout(void **state)
{
	struct fake_env e;
	struct memmap_stats st;
	unsigned int i;

	(void)state;
	env_start(&e, config_slots(4 * G, 8 * G, 2 * M, 3), true);
	/* Boot RAM below and above the hole, then three empty slots at fixed indices. */
	assert_int_equal(e.mm.nregions, 5);
	assert_int_equal(e.mm.dimm_first, 2);
	assert_int_equal(e.mm.nslots, 3);
	assert_int_equal(e.mm.dimm_base, 5 * G);
	assert_int_equal(e.mm.dimm_end, 9 * G);
	for (i = 2; i < 5; i++) {
		assert_int_equal(e.mm.region[i].kind, MEMMAP_DIMM);
		assert_int_equal(e.mm.region[i].size, 0);
	}
	/* The window counts whole although nothing is in it. */
	assert_int_equal(memmap_ram_end(&e.mm), 9 * G);
	assert_int_equal(memmap_pluggable_bytes(&e.mm), 8 * G);
	assert_null(memmap_find(&e.mm, 5 * G));
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.granules[GRANULE_UNPLUGGED], 0);
	assert_int_equal(st.plugged_bytes, 4 * G);
	assert_int_equal(memmap_dimm_align(&e.mm), 128 * M);
	fake_env_free(&e);

	env_start(&e, config_slots(G, 3 * G, G, 2), false);
	assert_int_equal(memmap_dimm_align(&e.mm), G);
	fake_env_free(&e);
}

static void test_slots_refusals(void **state)
{
	struct memmap_config c = config_slots(G, 2 * G, 2 * M, 2);

	(void)state;
	expect_refused(config_slots(G, G, 2 * M, 2),
		       "--slots 2: there is no hotplug window (--maxmem is not larger than --mem)");
	expect_refused(config_slots(G, 0, 2 * M, 1), "--slots 1: there is no hotplug window");
	expect_refused(config_slots(G, 2 * G, 2 * M, 64), "--slots 64: more than the 63 that fit");
	expect_refused(config_slots(4 * G, 8 * G, 2 * M, 63),
		       "--slots 63: more than the 62 that fit");
	expect_refused(config_slots(G, G + 64 * M, 2 * M, 1),
		       "--maxmem 1088M: the 64M hotplug window (--maxmem minus --mem 1G) is not "
		       "a multiple of 128M, the DIMM alignment");
	expect_refused(config_slots(G, 2 * G + 512 * M, G, 1),
		       "--maxmem 2560M is not a multiple of --granule 1G");
	c.dimm_size = 128 * M;
	expect_refused(c, "--slots 2 and a fixed DIMM size 128M exclude each other");
}

static void expect_place(struct memmap *mm, uint64_t size, uint64_t addr, uint64_t want)
{
	struct error err = {0};
	uint64_t gpa = 0;

	if (memmap_dimm_place(mm, size, addr, &gpa, &err))
		fail_msg("place %" PRIu64 " at 0x%" PRIx64 ": %s", size, addr, err.msg);
	assert_int_equal(gpa, want);
}

static void expect_place_refused(struct memmap *mm, uint64_t size, uint64_t addr, int code,
				 const char *want)
{
	struct error err = {0};
	uint64_t gpa = 0x1234;

	assert_int_equal(memmap_dimm_place(mm, size, addr, &gpa, &err), code);
	assert_int_equal(gpa, 0x1234);
	expect_msg(&err, want);
}

static unsigned int add_dimm(struct memmap *mm, uint32_t slot, uint64_t gpa, uint64_t size)
{
	struct error err = {0};
	unsigned int index = UINT_MAX;

	if (memmap_dimm_add(mm, slot, gpa, size, &index, &err))
		fail_msg("add %" PRIu64 " at 0x%" PRIx64 ": %s", size, gpa, err.msg);
	return index;
}

static void test_dimm_place(void **state)
{
	const uint64_t base = 4 * G; /* 1G of boot RAM: the window starts at 4G */
	struct fake_env e;
	struct error err = {0};
	unsigned int index;

	(void)state;
	env_start(&e, config_slots(G, 2 * G, 2 * M, 4), true);
	expect_place(&e.mm, 128 * M, 0, base);
	expect_place(&e.mm, G, 0, base);
	expect_place(&e.mm, 256 * M, base + 768 * M, base + 768 * M);
	expect_place_refused(&e.mm, 0, 0, -EINVAL, "DIMM size 0 is not a multiple of 128M");
	expect_place_refused(&e.mm, 64 * M, 0, -EINVAL,
			     "DIMM size 64M is not a multiple of 128M (the granule and Linux's "
			     "128M memory block)");
	expect_place_refused(&e.mm, 2 * G, 0, -EINVAL,
			     "DIMM size 2G: larger than the 1G hotplug window");
	expect_place_refused(&e.mm, 128 * M, base + 2 * M, -EINVAL,
			     "DIMM address 0x100200000 is not aligned to 128M");
	expect_place_refused(&e.mm, 256 * M, base + 896 * M, -EINVAL,
			     "DIMM address 0x138000000: 256M there does not fit in the hotplug "
			     "window [0x100000000, 0x140000000)");
	expect_place_refused(&e.mm, 128 * M, base - 128 * M, -EINVAL, "does not fit");
	/* addr + size would wrap. */
	expect_place_refused(&e.mm, 128 * M, UINT64_MAX - 128 * M + 1, -EINVAL,
			     "DIMM address 0xfffffffff8000000: 128M there does not fit");
	expect_place_refused(&e.mm, 128 * M, 1ULL << 63, -EINVAL, "does not fit");

	/* A hole between two DIMMs: first fit takes it if it is large enough. */
	assert_int_equal(add_dimm(&e.mm, MEMMAP_SLOT_ANY, 0, 256 * M), 1);
	assert_int_equal(add_dimm(&e.mm, MEMMAP_SLOT_ANY, base + 512 * M, 128 * M), 2);
	fake_env_check(&e);
	expect_place(&e.mm, 256 * M, 0, base + 256 * M);
	expect_place(&e.mm, 384 * M, 0, base + 640 * M);
	expect_place_refused(&e.mm, 512 * M, 0, -ENOSPC,
			     "DIMM size 512M: no free range that large in the 1G hotplug window");
	expect_place_refused(&e.mm, 256 * M, base + 384 * M, -EINVAL,
			     "DIMM address 0x118000000: 256M there overlaps the DIMM in slot 1 "
			     "at [0x120000000, 0x128000000)");
	expect_place_refused(&e.mm, 128 * M, base + 128 * M, -EINVAL,
			     "overlaps the DIMM in slot 0");

	/* Slots: explicit, taken, out of range, all in use. */
	assert_int_equal(memmap_dimm_add(&e.mm, 1, 0, 128 * M, &index, &err), -EBUSY);
	expect_msg(&err, "DIMM slot 1: in use");
	assert_int_equal(memmap_dimm_add(&e.mm, 4, 0, 128 * M, &index, &err), -EINVAL);
	expect_msg(&err, "DIMM slot 4: no such slot (--slots 4)");
	assert_int_equal(memmap_dimm_add(&e.mm, 3, base + 256 * M, 256 * M, &index, &err), 0);
	assert_int_equal(index, 4);
	assert_int_equal(add_dimm(&e.mm, MEMMAP_SLOT_ANY, 0, 128 * M), 3);
	assert_int_equal(e.mm.region[3].gpa, base + 640 * M);
	assert_int_equal(memmap_dimm_add(&e.mm, MEMMAP_SLOT_ANY, 0, 128 * M, &index, &err),
			 -ENOSPC);
	expect_msg(&err, "DIMM of 128M: all 4 slots are in use");
	fake_env_check(&e);
	assert_ptr_equal(memmap_find(&e.mm, base + 300 * M), &e.mm.region[4]);

	/* Removing one frees its range and its slot. */
	assert_int_equal(memmap_dimm_remove(&e.mm, 1, &err), 0);
	fake_env_check(&e);
	assert_null(memmap_find(&e.mm, base));
	expect_place(&e.mm, 256 * M, 0, base);
	assert_int_equal(add_dimm(&e.mm, MEMMAP_SLOT_ANY, 0, 128 * M), 1);
	fake_env_free(&e);
}

/* Fixed-slot maps and boot RAM have no placed DIMMs; nothing changes on a refusal. */
static void test_dimm_refusals(void **state)
{
	struct fake_env e;
	struct error err = {0};
	unsigned int index = 77;
	uint64_t gpa = 0;
	size_t n;

	(void)state;
	env_start(&e, config(64 * M, 96 * M, 2 * M, 16 * M), true);
	assert_int_equal(memmap_dimm_place(&e.mm, 128 * M, 0, &gpa, &err), -EINVAL);
	expect_msg(&err, "DIMM of 128M: the memory map has no DIMM slots (--slots)");
	assert_int_equal(memmap_dimm_remove(&e.mm, 1, &err), -EINVAL);
	expect_msg(&err, "region 1: not a DIMM slot");
	fake_env_free(&e);

	env_start(&e, config_slots(G, 2 * G, 2 * M, 2), true);
	n = e.log.n;
	assert_int_equal(memmap_dimm_remove(&e.mm, 0, &err), -EINVAL);
	expect_msg(&err, "region 0: not a DIMM slot");
	assert_int_equal(memmap_dimm_remove(&e.mm, 1, &err), -EINVAL);
	expect_msg(&err, "DIMM slot 0: empty");
	assert_int_equal(memmap_plug(&e.mm, 1, &err), -EINVAL);
	expect_msg(&err, "DIMM slot 1: empty (no DIMM added)");
	assert_int_equal(memmap_dimm_add(&e.mm, MEMMAP_SLOT_ANY, 4 * G + M, 128 * M, &index, &err),
			 -EINVAL);
	assert_int_equal(index, 77);
	assert_int_equal(e.log.n, n);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* Add, plug, balloon in it, unplug, remove; the listeners see what a fixed slot gets. */
static void test_dimm_cycle(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_stats st;
	unsigned int index, round;
	uint64_t gpa;

	(void)state;
	env_start(&e, config_slots(G, 2 * G, 2 * M, 2), true);
	for (round = 0; round < 3; round++) {
		index = add_dimm(&e.mm, MEMMAP_SLOT_ANY, round ? 0 : 4 * G + 512 * M, 256 * M);
		gpa = e.mm.region[index].gpa;
		fake_env_check(&e);
		assert_int_equal(memmap_dimm_remove(&e.mm, index, &err), 0);
		index = add_dimm(&e.mm, 1, gpa, 256 * M);
		assert_int_equal(index, 2);
		assert_int_equal(memmap_plug(&e.mm, index, &err), 0);
		fake_env_check(&e);
		assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "iommu"),
				 512 + 128 * (round + 1));
		assert_int_equal(memmap_dimm_remove(&e.mm, index, &err), -EBUSY);
		expect_msg(&err, "DIMM slot 1: still plugged");
		assert_int_equal(memmap_inflate_page(&e.mm, gpa + 5 * PAGE), 0);
		memmap_get_stats(&e.mm, &st);
		assert_int_equal(st.plugged_bytes, G + 256 * M);
		fake_env_check(&e);
		assert_int_equal(memmap_unplug(&e.mm, index, &err), 0);
		fake_env_check(&e);
		assert_int_equal(memmap_dimm_remove(&e.mm, index, &err), 0);
		fake_env_check(&e);
		memmap_get_stats(&e.mm, &st);
		assert_int_equal(st.plugged_bytes, G);
		assert_int_equal(st.inflated_bytes, 0);
		assert_int_equal(st.granules[GRANULE_UNPLUGGED], 0);
	}
	fake_env_free(&e);
}

/* Listeners: start, plug, unplug, in order */

static void expect_before(const struct fake_log *log, long a, long b)
{
	if (a < 0 || b < 0 || a >= b) {
		fake_log_print(log);
		fail_msg("expected event %ld before event %ld", a, b);
	}
}

static void test_start_order(void **state)
{
	struct fake_env e;
	struct fake_listener late;
	struct error err = {0};
	struct memmap_config c = config(64 * M, 96 * M, 2 * M, 16 * M);
	long add, prev, m;
	uint64_t g;

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, true, &err), 0);
	assert_int_equal(e.mm.nregions, 3);
	/* Nothing in the listeners before start, and no balloon or hotplug either. */
	assert_int_equal(e.iommu.nlive, 0);
	assert_int_equal(memmap_inflate_page(&e.mm, 0), -EINVAL);
	assert_int_equal(memmap_plug(&e.mm, 1, &err), -EBUSY);
	expect_msg(&err, "before the memory map started");
	fake_env_check(&e);
	fake_log_clear(&e.log);

	assert_int_equal(memmap_start(&e.mm, &err), 0);
	/* 32 granule maps in address order, all before the region becomes visible. */
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "iommu"), 32);
	add = fake_log_find(&e.log, 0, FAKE_REGION_ADD, NULL, 0);
	assert_true(add >= 0);
	for (g = 0, prev = -1; g < 32; g++) {
		m = fake_log_find(&e.log, 0, FAKE_MAP, "iommu", g * 2 * M);
		assert_true(m > prev);
		expect_before(&e.log, m, add);
		prev = m;
	}
	/* Every listener gets region_add, the iommu too (after all its maps). */
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, "slots"), 1);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, "iommu"), 1);
	assert_int_equal(e.log.n, 34);
	fake_env_check(&e);

	assert_int_equal(memmap_start(&e.mm, &err), -EBUSY);
	expect_msg(&err, "already started");
	/* A late listener is told the same story, in the same order. */
	fake_log_clear(&e.log);
	fake_listener_init(&late, "late", true, true, &e.mm, &e.log, &e.backing);
	assert_int_equal(memmap_add_listener(&e.mm, &late.l, &err), 0);
	e.ls[e.nls++] = &late;
	add = fake_log_find(&e.log, 0, FAKE_REGION_ADD, "late", 0);
	for (g = 0, prev = -1; g < 32; g++) {
		m = fake_log_find(&e.log, 0, FAKE_MAP, "late", g * 2 * M);
		assert_true(m > prev);
		expect_before(&e.log, m, add);
		prev = m;
	}
	assert_int_equal(e.log.n, 33);
	assert_int_equal(memmap_add_listener(&e.mm, &late.l, &err), -EEXIST);
	fake_env_check(&e);
	fake_env_free(&e);
}

static int map_nothing(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		       uint64_t size, void *hva)
{
	(void)l, (void)r, (void)gpa, (void)size, (void)hva;
	return 0;
}

static void test_listener_refusals(void **state)
{
	struct fake_env e;
	struct memmap_listener half = {.name = "half", .pins = true, .granule_map = map_nothing};
	struct error err = {0};
	struct memmap_config c = config(16 * M, 0, 0, 0);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	assert_false(memmap_has_pinning_listener(&e.mm));
	/* Without granule_unmap, a failed change could not be undone on it. */
	assert_int_equal(memmap_add_listener(&e.mm, &half, &err), -EINVAL);
	expect_msg(&err, "memory listener half: granule_map without granule_unmap");
	assert_int_equal(memmap_add_listener(&e.mm, &e.slots.l, &err), -EEXIST);
	expect_msg(&err, "memory listener slots added twice");
	assert_false(memmap_has_pinning_listener(&e.mm));
	assert_ptr_equal(e.mm.listeners, &e.slots.l);
	assert_null(e.slots.l.next);
	fake_env_free(&e);
}

static void test_plug_unplug_order(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(64 * M, 96 * M, 2 * M, 16 * M);
	const uint64_t base = 4 * G + 16 * M; /* slot 2 */
	struct memmap_stats st;
	long create, populate, add, del, destroy, m;
	uint64_t g;

	(void)state;
	env_start(&e, c, true);
	fake_log_clear(&e.log);

	assert_int_equal(memmap_plug(&e.mm, 2, &err), 0);
	fake_env_check(&e);
	create = fake_log_find(&e.log, 0, FAKE_CREATE, "backing", base);
	populate = fake_log_find(&e.log, 0, FAKE_POPULATE, "backing", base);
	add = fake_log_find(&e.log, 0, FAKE_REGION_ADD, NULL, base);
	expect_before(&e.log, create, populate);
	assert_int_equal(e.log.ev[populate].size, 16 * M);
	for (g = 0; g < 8; g++) {
		m = fake_log_find(&e.log, 0, FAKE_MAP, "iommu", base + g * 2 * M);
		expect_before(&e.log, populate, m);
		expect_before(&e.log, m, add);
	}
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, NULL), 2);
	assert_int_equal(e.log.n, 12);
	expect_region(&e.mm, 2, MEMMAP_DIMM, base, 16 * M, true);
	expect_region(&e.mm, 1, MEMMAP_DIMM, 4 * G, 16 * M, false);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.plugged_bytes, 80 * M);
	assert_int_equal(st.granules[GRANULE_UNPLUGGED], 8);

	fake_log_clear(&e.log);
	assert_int_equal(memmap_unplug(&e.mm, 2, &err), 0);
	fake_env_check(&e);
	del = fake_log_find_last(&e.log, FAKE_REGION_DEL, NULL);
	destroy = fake_log_find(&e.log, 0, FAKE_DESTROY, "backing", base);
	for (g = 0; g < 8; g++) {
		m = fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", base + g * 2 * M);
		expect_before(&e.log, del, m);
		expect_before(&e.log, m, destroy);
	}
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_DEL, NULL), 2);
	assert_int_equal(e.log.n, 11);
	expect_region(&e.mm, 2, MEMMAP_DIMM, base, 16 * M, false);
	assert_int_equal(e.mm.region[2].fd, -1);

	/* And again, with both slots, which are adjacent. */
	assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
	assert_int_equal(memmap_plug(&e.mm, 2, &err), 0);
	fake_env_check(&e);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.plugged_bytes, 96 * M);
	assert_int_equal(st.granules[GRANULE_MAPPED], 48);
	fake_env_free(&e);
}

static void test_plug_refusals(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(64 * M, 96 * M, 2 * M, 16 * M);
	size_t n;

	(void)state;
	env_start(&e, c, true);
	n = e.log.n;
	assert_int_equal(memmap_plug(&e.mm, 0, &err), -EINVAL);
	expect_msg(&err, "DIMM slot 0: region 0 is boot RAM, not a DIMM slot");
	assert_int_equal(memmap_unplug(&e.mm, 0, &err), -EINVAL);
	expect_msg(&err, "region 0 is boot RAM");
	assert_int_equal(memmap_plug(&e.mm, 3, &err), -EINVAL);
	expect_msg(&err, "DIMM slot 3: no such slot (the map has 3 regions)");
	assert_int_equal(memmap_plug(&e.mm, UINT_MAX, &err), -EINVAL);
	assert_int_equal(memmap_unplug(&e.mm, 1, &err), -EBUSY);
	expect_msg(&err, "DIMM slot 1: not plugged");
	assert_int_equal(e.log.n, n);
	assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
	n = e.log.n;
	assert_int_equal(memmap_plug(&e.mm, 1, &err), -EBUSY);
	expect_msg(&err, "DIMM slot 1: already plugged");
	assert_int_equal(e.log.n, n);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* Balloon */

struct balloon_case {
	uint64_t granule;
	bool pin;
	bool hugetlb; /* hugetlb backing of 2M pages: whole granules, as with a pin */
};

static void test_balloon_cycle(void **state)
{
	const struct balloon_case *bc = *state;
	const uint64_t gs = bc->granule, ppg = gs / PAGE;
	const uint64_t base = 4 * M; /* a granule-aligned address in low RAM for every case */
	const bool whole = bc->pin || bc->hugetlb;
	struct memmap_config c = config(16 * M, 0, gs, 0);
	struct fake_env e;
	struct memmap_stats st;
	long unmap, release, populate, map;
	size_t n;
	uint64_t p;

	if (bc->hugetlb)
		c.hugepages = (struct hugepages_config){HUGEPAGES_HUGETLB, 2 * M, NULL};
	env_start(&e, c, bc->pin);
	assert_int_equal(memmap_whole_granules(&e.mm), whole);
	memset(host(&e.mm, base), 0xa5, gs);
	fake_log_clear(&e.log);

	/* All but the last page of the granule. */
	for (p = 0; p + 1 < ppg; p++) {
		assert_int_equal(memmap_inflate_page(&e.mm, base + p * PAGE), 0);
		assert_int_equal(memmap_granule_state(&e.mm, base), GRANULE_PARTIAL);
		if (p < 8 || p + 2 == ppg)
			fake_env_check(&e);
	}
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_bytes, (ppg - 1) * PAGE);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, NULL), 0);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, NULL), 0);
	if (whole) {
		/* Inflated but pinned (or in one huge page): the backing stays, with its content.
		 */
		assert_int_equal(st.released_bytes, 0);
		assert_int_equal(st.inflated_pinned_bytes, (ppg - 1) * PAGE);
		assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 0);
		assert_true(all_bytes(host(&e.mm, base), gs, 0xa5));
	} else {
		/* Freed one page at a time. */
		assert_int_equal(st.released_bytes, (ppg - 1) * PAGE);
		assert_int_equal(st.inflated_pinned_bytes, 0);
		assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), ppg - 1);
		if (ppg > 1)
			assert_int_equal(e.log.ev[0].size, PAGE);
		assert_true(all_bytes(host(&e.mm, base), (ppg - 1) * PAGE, 0));
		assert_true(all_bytes(host(&e.mm, base + gs - PAGE), PAGE, 0xa5));
	}

	/* The last page discards the granule. */
	fake_log_clear(&e.log);
	assert_int_equal(memmap_inflate_page(&e.mm, base + gs - PAGE), 0);
	fake_env_check(&e);
	assert_int_equal(memmap_granule_state(&e.mm, base), GRANULE_DISCARDED);
	assert_int_equal(memmap_granule_state(&e.mm, base + gs - 1), GRANULE_DISCARDED);
	assert_int_equal(memmap_granule_state(&e.mm, base + gs), GRANULE_MAPPED);
	if (bc->pin) {
		unmap = fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", base);
		release = fake_log_find(&e.log, 0, FAKE_RELEASE, "backing", base);
		expect_before(&e.log, unmap, release);
		assert_int_equal(e.log.ev[release].size, gs);
		assert_int_equal(e.log.n, 2);
		assert_false(fake_listener_mapped(&e.iommu, base));
	} else if (whole) {
		/* One release of the whole granule, and nothing to unmap. */
		assert_int_equal(e.log.n, 1);
		assert_int_equal(e.log.ev[0].op, FAKE_RELEASE);
		assert_int_equal(e.log.ev[0].gpa, base);
		assert_int_equal(e.log.ev[0].size, gs);
	} else {
		assert_int_equal(e.log.n, 1);
		assert_int_equal(e.log.ev[0].op, FAKE_RELEASE);
		assert_int_equal(e.log.ev[0].gpa, base + gs - PAGE);
	}
	assert_true(all_bytes(host(&e.mm, base), gs, 0));
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_bytes, gs);
	assert_int_equal(st.released_bytes, gs);
	assert_int_equal(st.inflated_pinned_bytes, 0);
	assert_int_equal(st.granules[GRANULE_DISCARDED], 1);
	assert_int_equal(st.granules[GRANULE_MAPPED], 16 * M / gs - 1);

	/* Twice is refused and changes nothing. */
	n = e.log.n;
	assert_int_equal(memmap_inflate_page(&e.mm, base), -EINVAL);
	assert_int_equal(e.log.n, n);

	/* Deflate one page: it comes back empty. */
	fake_log_clear(&e.log);
	assert_int_equal(memmap_deflate_page(&e.mm, base), 0);
	fake_env_check(&e);
	assert_int_equal(memmap_granule_state(&e.mm, base),
			 ppg == 1 ? GRANULE_MAPPED : GRANULE_PARTIAL);
	assert_true(all_bytes(host(&e.mm, base), PAGE, 0));
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_bytes, (ppg - 1) * PAGE);
	if (whole) {
		/* Populated (and mapped) before the call returns, i.e. before the guest hears:
		 * a hugetlb pool that ran dry fails here, not in a guest access later. */
		populate = fake_log_find(&e.log, 0, FAKE_POPULATE, "backing", base);
		assert_true(populate >= 0);
		assert_int_equal(e.log.ev[populate].size, gs);
		if (bc->pin) {
			map = fake_log_find(&e.log, 0, FAKE_MAP, "iommu", base);
			expect_before(&e.log, populate, map);
		}
		assert_int_equal(e.log.n, bc->pin ? 2 : 1);
		assert_int_equal(st.released_bytes, 0);
		assert_int_equal(st.inflated_pinned_bytes, (ppg - 1) * PAGE);
	} else {
		assert_int_equal(e.log.n, 0);
		assert_int_equal(st.released_bytes, (ppg - 1) * PAGE);
		assert_int_equal(st.inflated_pinned_bytes, 0);
	}
	assert_int_equal(memmap_deflate_page(&e.mm, base), -EINVAL);

	for (p = 1; p < ppg; p++)
		assert_int_equal(memmap_deflate_page(&e.mm, base + p * PAGE), 0);
	fake_env_check(&e);
	assert_int_equal(memmap_granule_state(&e.mm, base), GRANULE_MAPPED);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_bytes, 0);
	assert_int_equal(st.released_bytes, 0);
	assert_int_equal(st.granules[GRANULE_MAPPED], 16 * M / gs);
	/* KVM's memslot never hears of the balloon. */
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_DEL, NULL), 0);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, NULL), 0);
	fake_env_free(&e);
}

/*
 * hugetlb without a pinning listener: a batch releases only the granules it fills, in one
 * call per run of them; pages of a granule it does not fill stay backed, counted as held.
 * Deflate populates a discarded granule whole before it returns.
 */
static void test_hugetlb_batch(void **state)
{
	struct memmap_config c = hugetlb(config(16 * M, 0, 2 * M, 0), 2 * M);
	struct memmap_batch_result res = {0};
	uint64_t gpas[1024 + 7], back[2];
	struct memmap_stats st;
	struct fake_env e;
	size_t n = 0, i;

	(void)state;
	env_start(&e, c, false);
	for (i = 0; i < 1024; i++) /* granules 2 and 3, in reverse order */
		gpas[n++] = 8 * M - (i + 1) * PAGE;
	for (i = 0; i < 7; i++) /* 7 pages of granule 5 */
		gpas[n++] = 10 * M + i * PAGE;
	fake_log_clear(&e.log);
	assert_int_equal(memmap_inflate_pages(&e.mm, gpas, n, &res), 0);
	fake_env_check(&e);
	assert_int_equal(res.count[MEMMAP_PAGE_DONE], n);
	assert_int_equal(e.log.n, 1);
	assert_int_equal(e.log.ev[0].op, FAKE_RELEASE);
	assert_int_equal(e.log.ev[0].gpa, 4 * M);
	assert_int_equal(e.log.ev[0].size, 4 * M);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.released_bytes, 4 * M);
	assert_int_equal(st.inflated_pinned_bytes, 7 * PAGE);
	assert_int_equal(st.granules[GRANULE_DISCARDED], 2);
	assert_int_equal(st.granules[GRANULE_PARTIAL], 1);

	/* One page back from granule 3 and one from 5: granule 3 comes back whole. */
	back[0] = 6 * M + 5 * PAGE;
	back[1] = 10 * M;
	fake_log_clear(&e.log);
	memset(&res, 0, sizeof(res));
	assert_int_equal(memmap_deflate_pages(&e.mm, back, 2, &res), 0);
	fake_env_check(&e);
	assert_int_equal(res.count[MEMMAP_PAGE_DONE], 2);
	assert_int_equal(e.log.n, 1);
	assert_int_equal(e.log.ev[0].op, FAKE_POPULATE);
	assert_int_equal(e.log.ev[0].gpa, 6 * M);
	assert_int_equal(e.log.ev[0].size, 2 * M);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.released_bytes, 2 * M);
	assert_int_equal(st.inflated_pinned_bytes, (511 + 6) * PAGE);
	assert_int_equal(memmap_granule_state(&e.mm, 6 * M), GRANULE_PARTIAL);

	/* A populate that fails (the pool ran dry) leaves the page inflated, the granule
	 * discarded, and says so. */
	e.backing.fail_populate = 1;
	e.backing.fail_errno = ENOSPC;
	fake_log_clear(&e.log);
	assert_int_equal(memmap_deflate_page(&e.mm, 4 * M), -ENOSPC);
	fake_env_check(&e);
	assert_int_equal(memmap_granule_state(&e.mm, 4 * M), GRANULE_DISCARDED);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.released_bytes, 2 * M);
	fake_env_free(&e);
}

static void test_balloon_invalid(void **state)
{
	struct fake_env e;
	size_t n;

	(void)state;
	env_start(&e, config(16 * M, 32 * M, 2 * M, 0), true);
	n = e.log.n;
	assert_int_equal(memmap_inflate_page(&e.mm, 4 * K + 1), -EINVAL);
	assert_int_equal(memmap_inflate_page(&e.mm, 4 * K + 2048), -EINVAL);
	assert_int_equal(memmap_inflate_page(&e.mm, 16 * M), -EINVAL);	       /* past low RAM */
	assert_int_equal(memmap_inflate_page(&e.mm, 3 * G + 4 * K), -EINVAL);  /* the hole */
	assert_int_equal(memmap_inflate_page(&e.mm, 4 * G), -EINVAL);	       /* unplugged */
	assert_int_equal(memmap_inflate_page(&e.mm, 4 * G + 16 * M), -EINVAL); /* past it */
	assert_int_equal(memmap_inflate_page(&e.mm, UINT64_MAX & ~0xfffULL), -EINVAL);
	assert_int_equal(memmap_deflate_page(&e.mm, 0), -EINVAL);
	assert_int_equal(memmap_deflate_page(&e.mm, 4 * G), -EINVAL);
	assert_int_equal(memmap_deflate_page(&e.mm, UINT64_MAX), -EINVAL);
	assert_int_equal(e.log.n, n);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* A non-pinning listener with granule callbacks follows regions, never the balloon. */
static void test_balloon_nonpinning_granule_listener(void **state)
{
	struct fake_env e;
	struct fake_listener dirty;
	struct error err = {0};
	const uint64_t dimm = 4 * G;
	uint64_t p;

	(void)state;
	env_start_with(&e, config(16 * M, 32 * M, 64 * K, 16 * M), &dirty, "dirty", false);
	assert_int_equal(dirty.nlive, 256);
	assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
	assert_int_equal(dirty.nlive, 512);
	fake_log_clear(&e.log);
	for (p = 0; p < 16; p++) {
		assert_int_equal(memmap_inflate_page(&e.mm, dimm + p * PAGE), 0);
		fake_env_check(&e);
	}
	assert_int_equal(memmap_granule_state(&e.mm, dimm), GRANULE_DISCARDED);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "iommu"), 1);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "dirty"), 0);
	assert_true(fake_listener_mapped(&dirty, dimm));

	/* Unplug takes the discarded granule out of "dirty", not out of the iommu again. */
	fake_log_clear(&e.log);
	assert_int_equal(memmap_unplug(&e.mm, 1, &err), 0);
	fake_env_check(&e);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "iommu"), 255);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "dirty"), 256);
	assert_int_equal(fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", dimm), -1);
	fake_env_free(&e);
}

/* Unplugging a DIMM forgets the balloon's pages in it, and its stats. */
static void test_unplug_with_inflated_pages(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_stats st;
	uint64_t p;

	(void)state;
	env_start(&e, config(16 * M, 32 * M, 64 * K, 0), true);
	assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
	for (p = 0; p < 20; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, 4 * G + p * PAGE), 0);
	assert_int_equal(memmap_inflate_page(&e.mm, 0), 0);
	fake_env_check(&e);
	assert_int_equal(memmap_unplug(&e.mm, 1, &err), 0);
	fake_env_check(&e);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_bytes, PAGE);
	assert_int_equal(st.released_bytes, 0);
	assert_int_equal(st.granules[GRANULE_UNPLUGGED], 256);
	/* Plugged again, it is fresh. */
	assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
	assert_int_equal(memmap_deflate_page(&e.mm, 4 * G), -EINVAL);
	assert_int_equal(memmap_granule_state(&e.mm, 4 * G), GRANULE_MAPPED);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* 1 GiB granules: inflating a whole one costs 262144 calls but touches no memory. */
static void test_balloon_1g_granule(void **state)
{
	struct fake_env e;
	struct memmap_stats st;
	long unmap, release;
	uint64_t p;

	(void)state;
	env_start(&e, config(2 * G, 0, G, 0), true);
	assert_int_equal(e.iommu.nlive, 2);
	fake_log_clear(&e.log);
	for (p = 0; p < G / PAGE; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, G + p * PAGE), 0);
	unmap = fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", G);
	release = fake_log_find(&e.log, 0, FAKE_RELEASE, "backing", G);
	expect_before(&e.log, unmap, release);
	assert_int_equal(e.log.ev[release].size, G);
	assert_int_equal(e.log.n, 2);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.released_bytes, G);
	assert_int_equal(st.granules[GRANULE_DISCARDED], 1);
	fake_env_check(&e);
	assert_int_equal(memmap_deflate_page(&e.mm, 2 * G - PAGE), 0);
	assert_int_equal(memmap_granule_state(&e.mm, G), GRANULE_PARTIAL);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_pinned_bytes, G - PAGE);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* Failure injection: every failure leaves the map as it was. */

struct snapshot {
	struct memmap_stats st;
	uint8_t *state[MEMMAP_MAX_REGIONS];
	unsigned long *inflated[MEMMAP_MAX_REGIONS];
	bool plugged[MEMMAP_MAX_REGIONS];
	uint64_t live[4];
};

static void snap_take(struct snapshot *s, struct fake_env *e)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	memmap_get_stats(&e->mm, &s->st);
	for (i = 0; i < e->mm.nregions; i++) {
		struct memmap_region *r = &e->mm.region[i];
		size_t bytes = (r->size / PAGE + 63) / 64 * 8;

		s->plugged[i] = r->plugged;
		s->state[i] = malloc(r->ngranules);
		s->inflated[i] = malloc(bytes);
		memcpy(s->state[i], r->state, r->ngranules);
		memcpy(s->inflated[i], r->inflated, bytes);
	}
	for (i = 0; i < e->nls; i++)
		s->live[i] = e->ls[i]->nlive;
}

static void snap_expect_same(struct snapshot *s, struct fake_env *e)
{
	struct memmap_stats st;
	unsigned int i;

	memmap_get_stats(&e->mm, &st);
	assert_memory_equal(&st, &s->st, sizeof(st));
	for (i = 0; i < e->mm.nregions; i++) {
		struct memmap_region *r = &e->mm.region[i];
		size_t bytes = (r->size / PAGE + 63) / 64 * 8;

		assert_int_equal(r->plugged, s->plugged[i]);
		assert_memory_equal(r->state, s->state[i], r->ngranules);
		assert_memory_equal(r->inflated, s->inflated[i], bytes);
		free(s->state[i]);
		free(s->inflated[i]);
	}
	for (i = 0; i < e->nls; i++)
		assert_int_equal(e->ls[i]->nlive, s->live[i]);
	fake_env_check(e);
}

/* Listeners that join and leave a started map (a vfio device added at run time). */

static bool listening(const struct memmap *mm, const struct memmap_listener *l)
{
	const struct memmap_listener *k;

	for (k = mm->listeners; k; k = k->next)
		if (k == l)
			return true;
	return false;
}

/*
 * A started 16M + 16M DIMM map (64K granules) with every granule state: low granule 1
 * partial (3 pages), low granule 2 discarded, a page of low granule 3 inflated and
 * deflated again (a hole without a pinning listener), DIMM granule 0 partial (1 page).
 */
#define LOW_PARTIAL (64 * K)
#define LOW_DISCARDED (128 * K)
#define LOW_HOLE (192 * K)
#define DIMM_PARTIAL (4 * G)

static void env_shaped(struct fake_env *e, bool iommu)
{
	struct error err = {0};
	uint64_t p;

	env_start(e, config(16 * M, 32 * M, 64 * K, 0), iommu);
	assert_int_equal(memmap_plug(&e->mm, 1, &err), 0);
	for (p = 0; p < 3; p++)
		assert_int_equal(memmap_inflate_page(&e->mm, LOW_PARTIAL + p * PAGE), 0);
	for (p = 0; p < 16; p++)
		assert_int_equal(memmap_inflate_page(&e->mm, LOW_DISCARDED + p * PAGE), 0);
	assert_int_equal(memmap_inflate_page(&e->mm, LOW_HOLE), 0);
	assert_int_equal(memmap_deflate_page(&e->mm, LOW_HOLE), 0);
	assert_int_equal(memmap_inflate_page(&e->mm, DIMM_PARTIAL + PAGE), 0);
	assert_int_equal(memmap_granule_state(&e->mm, LOW_PARTIAL), GRANULE_PARTIAL);
	assert_int_equal(memmap_granule_state(&e->mm, LOW_DISCARDED), GRANULE_DISCARDED);
	assert_int_equal(memmap_granule_state(&e->mm, DIMM_PARTIAL), GRANULE_PARTIAL);
	fake_env_check(e);
	fake_log_clear(&e->log);
}

/* Each region's region_add comes after all the maps of that region, for listener who. */
static void expect_maps_before_add(const struct fake_log *log, const char *who,
				   const struct memmap_region *r, uint64_t gs)
{
	long add = fake_log_find(log, 0, FAKE_REGION_ADD, who, r->gpa);
	uint64_t g;
	long m;

	assert_true(add >= 0);
	for (g = 0; g < r->size / gs; g++) {
		m = fake_log_find(log, 0, FAKE_MAP, who, r->gpa + g * gs);
		if (m >= 0)
			expect_before(log, m, add);
	}
}

/* A second container joins a map that already pins: no populate, discarded stays out. */
static void test_late_listener(void **state)
{
	struct fake_env e;
	struct fake_listener late, dirty;
	struct error err = {0};
	struct memmap_stats st;
	uint64_t p;

	(void)state;
	env_shaped(&e, true);
	fake_listener_init(&late, "late", true, true, &e.mm, &e.log, &e.backing);
	assert_int_equal(memmap_add_listener(&e.mm, &late.l, &err), 0);
	e.ls[e.nls++] = &late;
	fake_env_check(&e);
	/* Mapped and partial granules, not the discarded one; nothing else happened. */
	assert_int_equal(late.nlive, 2 * 256 - 1);
	assert_true(fake_listener_mapped(&late, LOW_PARTIAL));
	assert_true(fake_listener_mapped(&late, DIMM_PARTIAL));
	assert_false(fake_listener_mapped(&late, LOW_DISCARDED));
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, NULL), 2 * 256 - 1);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, NULL), 2);
	assert_int_equal(fake_log_count(&e.log, FAKE_POPULATE, NULL), 0);
	assert_int_equal(e.log.n, 2 * 256 - 1 + 2);
	expect_maps_before_add(&e.log, "late", &e.mm.region[0], 64 * K);
	expect_maps_before_add(&e.log, "late", &e.mm.region[1], 64 * K);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_pinned_bytes, 4 * PAGE);

	/* A non-pinning one with granule callbacks maps the discarded granule too. */
	fake_log_clear(&e.log);
	fake_listener_init(&dirty, "dirty", false, true, &e.mm, &e.log, NULL);
	assert_int_equal(memmap_add_listener(&e.mm, &dirty.l, &err), 0);
	e.ls[e.nls++] = &dirty;
	fake_env_check(&e);
	assert_int_equal(dirty.nlive, 2 * 256);
	assert_int_equal(fake_log_count(&e.log, FAKE_POPULATE, NULL), 0);

	/* From now on the balloon tells it as it tells the first: the granule fills up. */
	fake_log_clear(&e.log);
	for (p = 3; p < 16; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, LOW_PARTIAL + p * PAGE), 0);
	fake_env_check(&e);
	assert_true(fake_log_find(&e.log, 0, FAKE_UNMAP, "late", LOW_PARTIAL) <
		    fake_log_find(&e.log, 0, FAKE_RELEASE, NULL, LOW_PARTIAL));
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "dirty"), 0);

	/* And it leaves: region_del first, then each granule it holds, nothing released. */
	fake_log_clear(&e.log);
	assert_int_equal(memmap_remove_listener(&e.mm, &late.l, &err), 0);
	e.nls--;
	assert_false(listening(&e.mm, &late.l));
	assert_int_equal(late.nlive, 0);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "late"), 2 * 256 - 2);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_DEL, "late"), 2);
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 0);
	expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_REGION_DEL, "late", 0),
		      fake_log_find(&e.log, 0, FAKE_UNMAP, "late", 0));
	e.ls[e.nls - 1] = &dirty;
	fake_env_check(&e);
	assert_int_equal(memmap_remove_listener(&e.mm, &late.l, &err), -ENOENT);
	expect_msg(&err, "memory listener late is not listening");

	/* Unplug and plug again: the two that are left follow, the one that left does not. */
	fake_log_clear(&e.log);
	assert_int_equal(memmap_unplug(&e.mm, 1, &err), 0);
	assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "late"), 0);
	fake_env_check(&e);
	fake_listener_free(&late);
	fake_env_free(&e);
}

/*
 * The first pinning listener joins a map whose balloon released pages one by one: each
 * granule is populated before it is mapped, and inflated pages of partial granules are
 * held for the pin. When it leaves, they are released again.
 */
static void test_late_first_pinning_listener(void **state)
{
	struct fake_env e;
	struct fake_listener vfio;
	struct error err = {0};
	struct memmap_stats st;
	uint64_t g;
	long pop, m;

	(void)state;
	env_shaped(&e, false);
	assert_true(fake_backing_released(&e.backing, LOW_PARTIAL));
	assert_true(fake_backing_released(&e.backing, LOW_HOLE));
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.released_bytes, 20 * PAGE);

	fake_listener_init(&vfio, "vfio", true, true, &e.mm, &e.log, &e.backing);
	assert_int_equal(memmap_add_listener(&e.mm, &vfio.l, &err), 0);
	e.ls[e.nls++] = &vfio;
	fake_env_check(&e);
	assert_true(memmap_has_pinning_listener(&e.mm));
	assert_int_equal(vfio.nlive, 2 * 256 - 1);
	/* Every granule it maps is populated right before; the discarded one is neither. */
	for (g = 0; g < 256; g++) {
		pop = fake_log_find(&e.log, 0, FAKE_POPULATE, NULL, g * 64 * K);
		m = fake_log_find(&e.log, 0, FAKE_MAP, "vfio", g * 64 * K);
		if (g * 64 * K == LOW_DISCARDED) {
			assert_int_equal(pop, -1);
			assert_int_equal(m, -1);
			continue;
		}
		assert_true(pop >= 0 && m == pop + 1);
		assert_int_equal(e.log.ev[pop].size, 64 * K);
	}
	assert_false(fake_backing_released(&e.backing, LOW_PARTIAL));
	assert_false(fake_backing_released(&e.backing, LOW_HOLE));
	assert_true(fake_backing_released(&e.backing, LOW_DISCARDED));
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_bytes, 20 * PAGE);
	assert_int_equal(st.released_bytes, 16 * PAGE);
	assert_int_equal(st.inflated_pinned_bytes, 4 * PAGE);

	/* Deflating the discarded granule now maps it into the container again. */
	assert_int_equal(memmap_deflate_page(&e.mm, LOW_DISCARDED), 0);
	assert_true(fake_listener_mapped(&vfio, LOW_DISCARDED));
	fake_env_check(&e);
	assert_int_equal(memmap_inflate_page(&e.mm, LOW_DISCARDED), 0);
	assert_false(fake_listener_mapped(&vfio, LOW_DISCARDED));
	fake_env_check(&e);

	/* The last pin leaves: the held pages go, after the unmaps of their granules. */
	fake_log_clear(&e.log);
	assert_int_equal(memmap_remove_listener(&e.mm, &vfio.l, &err), 0);
	e.nls--;
	fake_env_check(&e);
	assert_false(memmap_has_pinning_listener(&e.mm));
	assert_true(fake_log_find_last(&e.log, FAKE_UNMAP, "vfio") <
		    fake_log_find(&e.log, 0, FAKE_RELEASE, NULL, LOW_PARTIAL));
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 2);
	assert_int_equal(e.log.ev[fake_log_find(&e.log, 0, FAKE_RELEASE, NULL, LOW_PARTIAL)].size,
			 3 * PAGE);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.released_bytes, 20 * PAGE);
	assert_int_equal(st.inflated_pinned_bytes, 0);
	fake_listener_free(&vfio);
	fake_env_free(&e);
}

/* A granule whose discard failed is whole; when the last pin leaves, it is discarded. */
static void test_leave_after_failed_discard(void **state)
{
	struct fake_env e;
	struct error err = {0};
	uint64_t p;

	(void)state;
	env_start(&e, config(16 * M, 0, 64 * K, 0), true);
	for (p = 0; p < 15; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, p * PAGE), 0);
	e.iommu.fail_unmap = 1;
	assert_int_equal(memmap_inflate_page(&e.mm, 15 * PAGE), -EIO);
	assert_int_equal(memmap_granule_state(&e.mm, 0), GRANULE_PARTIAL);
	assert_int_equal(e.mm.region[0].ninflated[0], 16);
	assert_int_equal(memmap_remove_listener(&e.mm, &e.iommu.l, &err), 0);
	e.nls--;
	assert_int_equal(memmap_granule_state(&e.mm, 0), GRANULE_DISCARDED);
	assert_true(fake_backing_released(&e.backing, 15 * PAGE));
	fake_env_check(&e);
	fake_listener_free(&e.iommu);
	fake_env_free(&e);
}

/* Before start, adding and removing only records. */
static void test_listener_before_start(void **state)
{
	struct fake_env e;
	struct fake_listener vfio;
	struct error err = {0};
	struct memmap_config c = config(16 * M, 0, 0, 0);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, false, &err), 0);
	fake_log_clear(&e.log);
	fake_listener_init(&vfio, "vfio", true, true, &e.mm, &e.log, &e.backing);
	assert_int_equal(memmap_add_listener(&e.mm, &vfio.l, &err), 0);
	assert_int_equal(memmap_remove_listener(&e.mm, &vfio.l, &err), 0);
	assert_int_equal(e.log.n, 0);
	assert_false(memmap_has_pinning_listener(&e.mm));
	assert_int_equal(memmap_start(&e.mm, &err), 0);
	assert_int_equal(vfio.nlive, 0);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* A failed join undoes everything it replayed and leaves the listener out. */
static void fail_join(struct fake_env *e, struct fake_listener *f, const char *msg)
{
	struct error err = {0};
	struct snapshot s;
	unsigned int i;

	snap_take(&s, e);
	assert_int_not_equal(memmap_add_listener(&e->mm, &f->l, &err), 0);
	expect_msg(&err, msg);
	assert_false(listening(&e->mm, &f->l));
	assert_int_equal(f->nlive, 0);
	for (i = 0; i < e->mm.nregions; i++)
		assert_false(f->present[i]);
	/* Also checks that pages populated for the pin were given back. */
	snap_expect_same(&s, e);
}

static void test_fail_late_join(void **state)
{
	struct fake_env e;
	struct fake_listener vfio;
	struct error err = {0};
	unsigned int round;
	bool first;

	(void)state;
	/* With a container already pinning, and as the first pinning listener. */
	for (round = 0; round < 2; round++) {
		first = round == 1;
		env_shaped(&e, !first);
		fake_listener_init(&vfio, "vfio", true, true, &e.mm, &e.log, &e.backing);

		/* A map in the DIMM fails: the 255 low granules come out again. */
		fake_log_clear(&e.log);
		vfio.fail_map = 255 + 3;
		fail_join(&e, &vfio,
			  "memory listener vfio: cannot bring in 16M of dimm RAM at 0x100000000: "
			  "Input/output error");
		assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "vfio"), 255 + 2);
		assert_int_equal(fake_log_count(&e.log, FAKE_REGION_DEL, "vfio"), 1);

		/* Its region_add of the DIMM fails. */
		vfio.fail_region_add = 2;
		vfio.fail_errno = ENOSPC;
		fail_join(&e, &vfio, "cannot bring in 16M of dimm RAM");

		/* Its region_add of low RAM fails. */
		vfio.fail_region_add = 1;
		fail_join(&e, &vfio, "cannot bring in 16M of ram-low RAM at 0x0");

		if (first) {
			/* Populating the partial granule fails, after one map. */
			fake_log_clear(&e.log);
			e.backing.fail_populate = 2;
			fail_join(&e, &vfio, "cannot bring in 16M of ram-low RAM");
			assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "vfio"), 1);
			/* A populate that fails in the DIMM, after low RAM is all held. */
			e.backing.fail_populate = 255 + 1;
			fail_join(&e, &vfio, "cannot bring in 16M of dimm RAM");
		}

		/* Then it joins. */
		assert_int_equal(memmap_add_listener(&e.mm, &vfio.l, &err), 0);
		e.ls[e.nls++] = &vfio;
		fake_env_check(&e);
		fake_listener_free(&vfio);
		e.nls--;
		fake_env_free(&e);
	}
}

static void test_fail_remove_listener(void **state)
{
	struct fake_env e;
	struct fake_listener vfio;
	struct error err = {0};
	struct memmap_stats st;
	struct snapshot s;
	uint64_t p;

	(void)state;
	env_shaped(&e, false);
	fake_listener_init(&vfio, "vfio", true, true, &e.mm, &e.log, &e.backing);
	assert_int_equal(memmap_add_listener(&e.mm, &vfio.l, &err), 0);
	e.ls[e.nls++] = &vfio;

	/* It refuses an unmap in the DIMM: it keeps everything and stays. */
	snap_take(&s, &e);
	fake_log_clear(&e.log);
	vfio.fail_unmap = 255 + 10;
	assert_int_equal(memmap_remove_listener(&e.mm, &vfio.l, &err), -EIO);
	expect_msg(&err, "memory listener vfio refused to let go of 16M of dimm RAM at "
			 "0x100000000");
	assert_true(listening(&e.mm, &vfio.l));
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, "vfio"), 2);
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 0);
	snap_expect_same(&s, &e);

	/*
	 * It leaves, but a held page cannot be released: it stays allocated and counted as
	 * held; deflating it is all it takes to get back in line.
	 */
	e.backing.fail_release = 1;
	assert_int_equal(memmap_remove_listener(&e.mm, &vfio.l, &err), 0);
	e.nls--;
	assert_false(listening(&e.mm, &vfio.l));
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_pinned_bytes, 3 * PAGE);
	for (p = 0; p < 3; p++)
		assert_int_equal(memmap_deflate_page(&e.mm, LOW_PARTIAL + p * PAGE), 0);
	fake_env_check(&e);
	fake_listener_free(&vfio);
	fake_env_free(&e);
}

static void test_fail_start(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct memmap_config c = config(4 * G, 0, 64 * M, 0);

	(void)state;
	assert_int_equal(fake_env_init(&e, &c, true, &err), 0);

	/* The 5th map fails: the 4 before it are unmapped again, nothing was added. */
	e.iommu.fail_map = 5;
	e.iommu.fail_errno = ENOSPC;
	assert_int_equal(memmap_start(&e.mm, &err), -ENOSPC);
	expect_msg(&err, "3G of ram-low RAM at 0x0: iommu refused it");
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "iommu"), 4);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "iommu"), 4);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, NULL), 0);
	assert_false(e.mm.started);
	fake_env_check(&e);

	/* The high region's region_add fails: the low region is taken out again. */
	fake_log_clear(&e.log);
	e.slots.fail_region_add = 2;
	assert_int_equal(memmap_start(&e.mm, &err), -EIO);
	expect_msg(&err, "1G of ram-high RAM at 0x100000000: slots refused it");
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "iommu"), 64);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "iommu"), 64);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_DEL, "slots"), 1);
	assert_int_equal(e.iommu.nlive, 0);
	fake_env_check(&e);

	/* Then it works. */
	assert_int_equal(memmap_start(&e.mm, &err), 0);
	assert_int_equal(e.iommu.nlive, 64);
	fake_env_check(&e);
	fake_env_free(&e);
}

static void test_fail_plug(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct snapshot s;

	(void)state;
	env_start(&e, config(16 * M, 48 * M, 2 * M, 16 * M), true);

	snap_take(&s, &e);
	e.backing.fail_create = 1;
	assert_int_equal(memmap_plug(&e.mm, 1, &err), -EIO);
	expect_msg(&err, "DIMM slot 1: cannot create 16M of backing");
	snap_expect_same(&s, &e);

	snap_take(&s, &e);
	e.backing.fail_populate = 1;
	e.backing.fail_errno = ENOSPC;
	assert_int_equal(memmap_plug(&e.mm, 1, &err), -ENOSPC);
	expect_msg(&err, "DIMM slot 1: cannot allocate 16M");
	assert_int_equal(fake_backing_nlive(&e.backing), 1);
	snap_expect_same(&s, &e);

	snap_take(&s, &e);
	e.iommu.fail_map = 3;
	assert_int_equal(memmap_plug(&e.mm, 2, &err), -EIO);
	expect_msg(&err, "DIMM slot 2: iommu refused it");
	snap_expect_same(&s, &e);

	snap_take(&s, &e);
	fake_log_clear(&e.log);
	e.slots.fail_region_add = 1;
	assert_int_equal(memmap_plug(&e.mm, 2, &err), -EIO);
	expect_msg(&err, "DIMM slot 2: slots refused it");
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "iommu"), 8);
	assert_true(fake_log_find_last(&e.log, FAKE_UNMAP, "iommu") <
		    fake_log_find_last(&e.log, FAKE_DESTROY, NULL));
	snap_expect_same(&s, &e);

	assert_int_equal(memmap_plug(&e.mm, 2, &err), 0);
	fake_env_check(&e);
	fake_env_free(&e);
}

static void test_fail_unplug(void **state)
{
	struct fake_env e;
	struct error err = {0};
	struct snapshot s;
	uint64_t p;

	(void)state;
	env_start(&e, config(16 * M, 32 * M, 2 * M, 0), true);
	assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
	/* A discarded granule in the DIMM, which the iommu no longer maps. */
	for (p = 0; p < 512; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, 4 * G + 2 * M + p * PAGE), 0);
	assert_int_equal(memmap_inflate_page(&e.mm, 4 * G + 8 * M), 0);

	snap_take(&s, &e);
	fake_log_clear(&e.log);
	e.iommu.fail_unmap = 4;
	assert_int_equal(memmap_unplug(&e.mm, 1, &err), -EIO);
	expect_msg(&err, "DIMM slot 1: iommu refused to let it go");
	/* It stays plugged: the three unmapped granules are mapped again, the slot re-added. */
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "iommu"), 3);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "iommu"), 3);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_DEL, "slots"), 1);
	assert_int_equal(fake_log_count(&e.log, FAKE_REGION_ADD, "slots"), 1);
	assert_int_equal(fake_log_count(&e.log, FAKE_DESTROY, NULL), 0);
	snap_expect_same(&s, &e);

	assert_int_equal(memmap_unplug(&e.mm, 1, &err), 0);
	fake_env_check(&e);
	fake_env_free(&e);
}

static void test_fail_inflate_pinned(void **state)
{
	struct fake_env e;
	struct fake_listener second;
	struct memmap_stats st;
	uint64_t p;

	(void)state;
	env_start_with(&e, config(16 * M, 0, 64 * K, 0), &second, "iommu2", true);
	for (p = 0; p < 15; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, p * PAGE), 0);

	/* The second container refuses to unmap: the first maps it again. */
	fake_log_clear(&e.log);
	second.fail_unmap = 1;
	assert_int_equal(memmap_inflate_page(&e.mm, 15 * PAGE), -EIO);
	fake_env_check(&e);
	expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", 0),
		      fake_log_find(&e.log, 0, FAKE_MAP, "iommu", 0));
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 0);
	/* The guest gave the page up, so it stays inflated; its granule stays pinned. */
	assert_int_equal(memmap_granule_state(&e.mm, 0), GRANULE_PARTIAL);
	assert_int_equal(e.mm.region[0].ninflated[0], 16);
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_pinned_bytes, 64 * K);
	assert_int_equal(memmap_inflate_page(&e.mm, 15 * PAGE), -EINVAL);

	/* The release fails: both containers map it again. */
	assert_int_equal(memmap_deflate_page(&e.mm, 15 * PAGE), 0);
	fake_env_check(&e);
	fake_log_clear(&e.log);
	e.backing.fail_release = 1;
	assert_int_equal(memmap_inflate_page(&e.mm, 15 * PAGE), -EIO);
	fake_env_check(&e);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, NULL), 2);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, NULL), 2);
	assert_int_equal(memmap_granule_state(&e.mm, 0), GRANULE_PARTIAL);

	/* And once nothing fails, the granule goes. */
	assert_int_equal(memmap_deflate_page(&e.mm, 0), 0);
	assert_int_equal(memmap_inflate_page(&e.mm, 0), 0);
	assert_int_equal(memmap_granule_state(&e.mm, 0), GRANULE_DISCARDED);
	fake_env_check(&e);
	fake_env_free(&e);
}

static void test_fail_inflate_unpinned(void **state)
{
	struct fake_env e;
	struct snapshot s;

	(void)state;
	env_start(&e, config(16 * M, 0, 64 * K, 0), false);
	snap_take(&s, &e);
	e.backing.fail_release = 1;
	assert_int_equal(memmap_inflate_page(&e.mm, 0), -EIO);
	snap_expect_same(&s, &e);
	assert_int_equal(memmap_deflate_page(&e.mm, 0), -EINVAL);
	fake_env_free(&e);
}

static void test_fail_deflate(void **state)
{
	struct fake_env e;
	struct fake_listener second;
	struct snapshot s;
	uint64_t p;

	(void)state;
	env_start_with(&e, config(16 * M, 0, 64 * K, 0), &second, "iommu2", true);
	for (p = 0; p < 16; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, 64 * K + p * PAGE), 0);
	assert_int_equal(memmap_granule_state(&e.mm, 64 * K), GRANULE_DISCARDED);

	snap_take(&s, &e);
	e.backing.fail_populate = 1;
	e.backing.fail_errno = ENOMEM;
	assert_int_equal(memmap_deflate_page(&e.mm, 64 * K), -ENOMEM);
	snap_expect_same(&s, &e);

	/* The second container fails to map: the first unmaps, the memory goes again. */
	snap_take(&s, &e);
	fake_log_clear(&e.log);
	second.fail_map = 1;
	assert_int_equal(memmap_deflate_page(&e.mm, 64 * K), -EIO);
	expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_POPULATE, NULL, 64 * K),
		      fake_log_find(&e.log, 0, FAKE_MAP, "iommu", 64 * K));
	expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", 64 * K),
		      fake_log_find(&e.log, 0, FAKE_RELEASE, NULL, 64 * K));
	snap_expect_same(&s, &e);

	assert_int_equal(memmap_deflate_page(&e.mm, 64 * K), 0);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* Batches */

/* Runs a batch, checks that its result adds up, then the whole map. */
static struct memmap_batch_result run_batch(struct fake_env *e, bool inflate, const uint64_t *gpas,
					    size_t n, uint8_t *out)
{
	struct memmap_batch_result res = {.outcome = out};
	size_t seen[MEMMAP_PAGE_OUTCOMES] = {0}, sum = 0, i;
	int ret;

	ret = inflate ? memmap_inflate_pages(&e->mm, gpas, n, &res)
		      : memmap_deflate_pages(&e->mm, gpas, n, &res);
	assert_int_equal(ret, res.error);
	for (i = 0; i < MEMMAP_PAGE_OUTCOMES; i++)
		sum += res.count[i];
	assert_int_equal(sum, n);
	for (i = 0; out && i < n; i++) {
		assert_true(out[i] < MEMMAP_PAGE_OUTCOMES);
		seen[out[i]]++;
	}
	if (out)
		assert_memory_equal(seen, res.count, sizeof(seen));
	/* An error is reported exactly when some page failed or is held because of it. */
	assert_int_equal(!!res.error,
			 res.count[MEMMAP_PAGE_FAILED] + res.count[MEMMAP_PAGE_HELD] > 0);
	fake_env_check(e);
	return res;
}

/* Appends the n pages from gpa on. */
static size_t add_pages(uint64_t *v, size_t at, uint64_t gpa, uint64_t n)
{
	uint64_t p;

	for (p = 0; p < n; p++)
		v[at++] = gpa + p * PAGE;
	return at;
}

/* Shuffles v, with a fixed sequence so that a failure repeats. */
static void shuffle(uint64_t *v, size_t n, uint64_t seed)
{
	uint64_t t, x = seed;
	size_t i, k;

	for (i = n; i > 1; i--) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		k = (x >> 33) % i;
		t = v[i - 1];
		v[i - 1] = v[k];
		v[k] = t;
	}
}

static void expect_outcomes(const uint8_t *out, size_t from, size_t to, enum memmap_page_outcome o)
{
	size_t i;

	for (i = from; i < to; i++)
		if (out[i] != o)
			fail_msg("page %zu of the batch: %s, expected %s", i,
				 memmap_outcome_name(out[i]), memmap_outcome_name(o));
}

/* The one successful release at gpa, of size bytes. */
static long expect_release(const struct fake_log *log, uint64_t gpa, uint64_t size)
{
	long i = fake_log_find(log, 0, FAKE_RELEASE, "backing", gpa);

	if (i < 0)
		fail_msg("no release at 0x%" PRIx64, gpa);
	assert_int_equal(log->ev[i].size, size);
	return i;
}

/* The same map, page by page and in its stats, whatever calls made it. */
static void expect_same_map(struct fake_env *a, struct fake_env *b)
{
	struct memmap_stats sa, sb;
	unsigned int i;

	memmap_get_stats(&a->mm, &sa);
	memmap_get_stats(&b->mm, &sb);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	for (i = 0; i < a->mm.nregions; i++) {
		struct memmap_region *ra = &a->mm.region[i], *rb = &b->mm.region[i];
		size_t bytes = (ra->size / PAGE + 63) / 64 * 8;

		assert_memory_equal(ra->state, rb->state, ra->ngranules);
		assert_memory_equal(ra->inflated, rb->inflated, bytes);
		assert_memory_equal(ra->released, rb->released, bytes);
	}
}

/*
 * Without a pinning listener: one release per run of adjacent pages, however the batch
 * is ordered, and runs cross granules. The map ends as page-by-page calls leave it.
 */
static void test_batch_runs_unpinned(void **state)
{
	const size_t npages = 16 * M / PAGE;
	struct fake_env e, one;
	uint64_t v[160], *all;
	uint8_t out[160], *o;
	size_t n = 0, i;

	(void)state;
	env_start(&e, config(16 * M, 0, 64 * K, 0), false);
	env_start(&one, config(16 * M, 0, 64 * K, 0), false);
	n = add_pages(v, n, 40 * K, 40); /* pages 10..49: granules 0 to 3 */
	n = add_pages(v, n, 400 * K, 1);
	n = add_pages(v, n, M, 64); /* four whole granules */
	shuffle(v, n, 1);
	fake_log_clear(&e.log);
	run_batch(&e, true, v, n, out);
	expect_outcomes(out, 0, n, MEMMAP_PAGE_DONE);
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 3);
	assert_int_equal(e.log.n, 3);
	expect_release(&e.log, 40 * K, 40 * PAGE);
	expect_release(&e.log, 400 * K, PAGE);
	expect_release(&e.log, M, 64 * PAGE);
	assert_int_equal(memmap_granule_state(&e.mm, 0), GRANULE_PARTIAL);
	assert_int_equal(memmap_granule_state(&e.mm, 64 * K), GRANULE_DISCARDED);
	assert_int_equal(memmap_granule_state(&e.mm, M + 3 * 64 * K), GRANULE_DISCARDED);
	for (i = 0; i < n; i++)
		assert_int_equal(memmap_inflate_page(&one.mm, v[i]), 0);
	expect_same_map(&e, &one);

	/* Deflate calls nothing without a pinning listener: the holes fill on touch. */
	fake_log_clear(&e.log);
	shuffle(v, n, 2);
	run_batch(&e, false, v, n / 2, out);
	expect_outcomes(out, 0, n / 2, MEMMAP_PAGE_DONE);
	assert_int_equal(e.log.n, 0);
	for (i = 0; i < n / 2; i++)
		assert_int_equal(memmap_deflate_page(&one.mm, v[i]), 0);
	expect_same_map(&e, &one);
	fake_env_free(&one);

	/* The rest back; then all of RAM in one batch, backwards: one release. */
	run_batch(&e, false, v + n / 2, n - n / 2, out);
	all = malloc(npages * sizeof(*all));
	o = malloc(npages);
	assert_non_null(all);
	assert_non_null(o);
	for (i = 0; i < npages; i++)
		all[i] = 16 * M - (i + 1) * PAGE;
	fake_log_clear(&e.log);
	run_batch(&e, true, all, npages, o);
	expect_outcomes(o, 0, npages, MEMMAP_PAGE_DONE);
	assert_int_equal(e.log.n, 1);
	expect_release(&e.log, 0, 16 * M);
	free(all);
	free(o);
	fake_env_free(&e);
}

/*
 * With a pinning listener: granules the batch fills are unmapped, then released with
 * one call per run of adjacent ones; a granule it does not fill keeps its backing.
 */
static void test_batch_runs_pinned(void **state)
{
	struct fake_env e, one;
	uint64_t v[128];
	uint8_t out[128];
	size_t n = 0, i;
	long rel;

	(void)state;
	env_start(&e, config(16 * M, 0, 64 * K, 0), true);
	env_start(&one, config(16 * M, 0, 64 * K, 0), true);
	/* Granule 1 is half inflated already; the batch fills it, 2, 3 and 5, half of 7. */
	for (i = 0; i < 8; i++) {
		assert_int_equal(memmap_inflate_page(&e.mm, 64 * K + i * PAGE), 0);
		assert_int_equal(memmap_inflate_page(&one.mm, 64 * K + i * PAGE), 0);
	}
	n = add_pages(v, n, 64 * K + 8 * PAGE, 8 + 32);
	n = add_pages(v, n, 5 * 64 * K, 16);
	n = add_pages(v, n, 7 * 64 * K, 8);
	shuffle(v, n, 3);
	fake_log_clear(&e.log);
	run_batch(&e, true, v, n, out);
	expect_outcomes(out, 0, n, MEMMAP_PAGE_DONE);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, "iommu"), 4);
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 2);
	assert_int_equal(e.log.n, 6);
	rel = expect_release(&e.log, 64 * K, 3 * 64 * K);
	for (i = 1; i <= 3; i++)
		expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", i * 64 * K),
			      rel);
	expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", 5 * 64 * K),
		      expect_release(&e.log, 5 * 64 * K, 64 * K));
	assert_int_equal(memmap_granule_state(&e.mm, 7 * 64 * K), GRANULE_PARTIAL);
	for (i = 0; i < n; i++)
		assert_int_equal(memmap_inflate_page(&one.mm, v[i]), 0);
	expect_same_map(&e, &one);

	/* Deflate one page of each: one populate per run, each granule mapped after it. */
	n = 0;
	for (i = 1; i <= 7; i++)
		v[n++] = i * 64 * K + (i % 16) * PAGE;
	fake_log_clear(&e.log);
	run_batch(&e, false, v, n, out);
	expect_outcomes(out, 0, 3, MEMMAP_PAGE_DONE);
	expect_outcomes(out, 3, 4, MEMMAP_PAGE_BAD_STATE); /* granule 4: nothing inflated */
	expect_outcomes(out, 4, 5, MEMMAP_PAGE_DONE);
	expect_outcomes(out, 5, 6, MEMMAP_PAGE_BAD_STATE);
	expect_outcomes(out, 6, 7, MEMMAP_PAGE_DONE);
	assert_int_equal(fake_log_count(&e.log, FAKE_POPULATE, NULL), 2);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, "iommu"), 4);
	assert_int_equal(e.log.n, 6);
	rel = fake_log_find(&e.log, 0, FAKE_POPULATE, "backing", 64 * K);
	assert_int_equal(e.log.ev[rel].size, 3 * 64 * K);
	for (i = 1; i <= 3; i++)
		expect_before(&e.log, rel, fake_log_find(&e.log, 0, FAKE_MAP, "iommu", i * 64 * K));
	for (i = 0; i < n; i++)
		(void)memmap_deflate_page(&one.mm, v[i]);
	expect_same_map(&e, &one);
	fake_env_free(&one);
	fake_env_free(&e);
}

/* A 1 GiB granule in one batch, backwards: one unmap, one release, and back in one go. */
static void test_batch_1g_granule(void **state)
{
	const size_t npages = G / PAGE;
	struct memmap_batch_result res;
	struct fake_env e;
	uint64_t *v;
	size_t i;

	(void)state;
	env_start(&e, config(2 * G, 0, G, 0), true);
	v = malloc(npages * sizeof(*v));
	assert_non_null(v);
	for (i = 0; i < npages; i++)
		v[i] = 2 * G - (i + 1) * PAGE;
	fake_log_clear(&e.log);
	res = run_batch(&e, true, v, npages, NULL);
	assert_int_equal(res.count[MEMMAP_PAGE_DONE], npages);
	assert_int_equal(e.log.n, 2);
	expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", G),
		      expect_release(&e.log, G, G));
	fake_log_clear(&e.log);
	res = run_batch(&e, false, v, npages, NULL);
	assert_int_equal(res.count[MEMMAP_PAGE_DONE], npages);
	assert_int_equal(e.log.n, 2);
	expect_before(&e.log, fake_log_find(&e.log, 0, FAKE_POPULATE, "backing", G),
		      fake_log_find(&e.log, 0, FAKE_MAP, "iommu", G));
	assert_int_equal(memmap_granule_state(&e.mm, G), GRANULE_MAPPED);
	free(v);
	fake_env_free(&e);
}

/* Refusals per reason, mixed with good pages, duplicates and disorder; they change nothing. */
static void test_batch_refusals(void **state)
{
	struct fake_env e;
	struct memmap_batch_result res;
	struct error err = {0};
	const uint64_t in[] = {
		8 * PAGE,		/* 0: fine */
		4 * K + 1,		/* 1: unaligned */
		3 * PAGE,		/* 2: fine */
		16 * M,			/* 3: past low RAM */
		8 * PAGE,		/* 4: duplicate of 0 */
		5 * PAGE,		/* 5: inflated before */
		4 * G,			/* 6: an unplugged DIMM */
		3 * G + 4 * K,		/* 7: the PCI hole */
		UINT64_MAX & ~0xfffULL, /* 8: far away */
		3 * PAGE,		/* 9: duplicate of 2 */
		5 * PAGE,		/* 10: inflated before, twice: not a duplicate */
		UINT64_MAX,		/* 11: unaligned */
		4 * PAGE,		/* 12: fine */
	};
	const uint8_t want[] = {
		MEMMAP_PAGE_DONE,      MEMMAP_PAGE_UNALIGNED, MEMMAP_PAGE_DONE,
		MEMMAP_PAGE_NOT_RAM,   MEMMAP_PAGE_DUPLICATE, MEMMAP_PAGE_BAD_STATE,
		MEMMAP_PAGE_NOT_RAM,   MEMMAP_PAGE_NOT_RAM,   MEMMAP_PAGE_NOT_RAM,
		MEMMAP_PAGE_DUPLICATE, MEMMAP_PAGE_BAD_STATE, MEMMAP_PAGE_UNALIGNED,
		MEMMAP_PAGE_DONE,
	};
	const size_t n = sizeof(in) / sizeof(in[0]);
	uint8_t out[sizeof(in) / sizeof(in[0])];
	struct memmap mm;
	struct memmap_config c = config(16 * M, 0, 64 * K, 0);

	(void)state;
	env_start(&e, config(16 * M, 32 * M, 64 * K, 0), false);
	assert_int_equal(memmap_inflate_page(&e.mm, 5 * PAGE), 0);
	fake_log_clear(&e.log);
	res = run_batch(&e, true, in, n, out);
	assert_memory_equal(out, want, n);
	assert_int_equal(res.count[MEMMAP_PAGE_DONE], 3);
	assert_int_equal(res.count[MEMMAP_PAGE_NOT_RAM], 4);
	assert_int_equal(res.count[MEMMAP_PAGE_UNALIGNED], 2);
	assert_int_equal(res.count[MEMMAP_PAGE_DUPLICATE], 2);
	assert_int_equal(res.count[MEMMAP_PAGE_BAD_STATE], 2);
	assert_int_equal(res.error, 0);
	/* Pages 3 and 4 are one run, 8 another; 5 was released before. */
	assert_int_equal(e.log.n, 2);
	expect_release(&e.log, 3 * PAGE, 2 * PAGE);
	expect_release(&e.log, 8 * PAGE, PAGE);

	/* Deflate: now 3, 4, 5 and 8 are inflated, 0 is not. */
	{
		const uint64_t d[] = {4 * PAGE, 0, 4 * PAGE, 5 * PAGE, 4 * K + 2048, 16 * M};
		const uint8_t dw[] = {MEMMAP_PAGE_DONE,	     MEMMAP_PAGE_BAD_STATE,
				      MEMMAP_PAGE_DUPLICATE, MEMMAP_PAGE_DONE,
				      MEMMAP_PAGE_UNALIGNED, MEMMAP_PAGE_NOT_RAM};

		run_batch(&e, false, d, 6, out);
		assert_memory_equal(out, dw, 6);
	}

	/* An empty batch does nothing. */
	fake_log_clear(&e.log);
	res = run_batch(&e, true, in, 0, NULL);
	assert_int_equal(e.log.n, 0);
	fake_env_free(&e);

	/* Before the map starts every page is refused. */
	assert_int_equal(memmap_init(&mm, &c, NULL, NULL, &err), 0);
	res = (struct memmap_batch_result){.outcome = out};
	assert_int_equal(memmap_inflate_pages(&mm, in, 1, &res), 0);
	assert_int_equal(out[0], MEMMAP_PAGE_NOT_RAM);
	assert_int_equal(memmap_deflate_pages(&mm, in, 1, &res), 0);
	assert_int_equal(res.count[MEMMAP_PAGE_NOT_RAM], 1);
	memmap_destroy(&mm);
}

/* A run never crosses from one region into the next, even where they touch. */
static void test_batch_region_boundary(void **state)
{
	const uint64_t slot2 = 4 * G + 4 * M; /* DIMM slot 2 starts where slot 1 ends */
	struct fake_env e;
	struct error err = {0};
	uint64_t v[64];
	uint8_t out[64];
	size_t n;
	int pin;

	(void)state;
	for (pin = 0; pin < 2; pin++) {
		env_start(&e, config(16 * M, 28 * M, 64 * K, 4 * M), pin);
		assert_int_equal(memmap_plug(&e.mm, 1, &err), 0);
		assert_int_equal(memmap_plug(&e.mm, 2, &err), 0);
		assert_int_equal(e.mm.region[1].gpa + e.mm.region[1].size, slot2);
		/* The last granule of slot 1 and the first of slot 2, in one address run. */
		n = add_pages(v, 0, slot2 - 64 * K, 32);
		fake_log_clear(&e.log);
		run_batch(&e, true, v, n, out);
		expect_outcomes(out, 0, n, MEMMAP_PAGE_DONE);
		assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 2);
		expect_release(&e.log, slot2 - 64 * K, 64 * K);
		expect_release(&e.log, slot2, 64 * K);
		assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, NULL), pin ? 2 : 0);
		fake_log_clear(&e.log);
		run_batch(&e, false, v, n, out);
		expect_outcomes(out, 0, n, MEMMAP_PAGE_DONE);
		assert_int_equal(fake_log_count(&e.log, FAKE_POPULATE, NULL), pin ? 2 : 0);
		fake_env_free(&e);
	}
}

/* A failed release fails its own run only; the others go on. */
static void test_batch_fail_release_unpinned(void **state)
{
	struct memmap_batch_result res;
	struct fake_env e;
	uint64_t v[48];
	uint8_t out[48];
	size_t n;

	(void)state;
	env_start(&e, config(16 * M, 0, 64 * K, 0), false);
	n = add_pages(v, 0, 0, 16);
	n = add_pages(v, n, 128 * K, 16);
	n = add_pages(v, n, 512 * K, 16);
	fake_log_clear(&e.log);
	e.backing.fail_release = 2;
	res = run_batch(&e, true, v, n, out);
	assert_int_equal(res.error, -EIO);
	expect_outcomes(out, 0, 16, MEMMAP_PAGE_DONE);
	expect_outcomes(out, 16, 32, MEMMAP_PAGE_FAILED);
	expect_outcomes(out, 32, 48, MEMMAP_PAGE_DONE);
	assert_int_equal(memmap_granule_state(&e.mm, 128 * K), GRANULE_MAPPED);
	assert_int_equal(memmap_granule_state(&e.mm, 512 * K), GRANULE_DISCARDED);
	/* The failed pages can come again. */
	res = run_batch(&e, true, v, n, out);
	expect_outcomes(out, 0, 16, MEMMAP_PAGE_BAD_STATE);
	expect_outcomes(out, 16, 32, MEMMAP_PAGE_DONE);
	fake_env_free(&e);
}

/*
 * Three adjacent granules filled with two containers. The second refuses to unmap the
 * middle one: it is held (both map it, its pages inflated and backed), the others are
 * released without it. Then a failed release keeps a whole run mapped and held.
 */
static void test_batch_fail_discard(void **state)
{
	struct memmap_batch_result res;
	struct fake_listener second;
	struct memmap_stats st;
	struct fake_env e;
	uint64_t v[64];
	uint8_t out[64];
	size_t n;

	(void)state;
	env_start_with(&e, config(16 * M, 0, 64 * K, 0), &second, "iommu2", true);
	n = add_pages(v, 0, 64 * K, 48);
	fake_log_clear(&e.log);
	second.fail_unmap = 2;
	res = run_batch(&e, true, v, n, out);
	assert_int_equal(res.error, -EIO);
	expect_outcomes(out, 0, 16, MEMMAP_PAGE_DONE);
	expect_outcomes(out, 16, 32, MEMMAP_PAGE_HELD);
	expect_outcomes(out, 32, 48, MEMMAP_PAGE_DONE);
	expect_release(&e.log, 64 * K, 64 * K);
	expect_release(&e.log, 3 * 64 * K, 64 * K);
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 2);
	assert_int_equal(memmap_granule_state(&e.mm, 2 * 64 * K), GRANULE_PARTIAL);
	assert_true(fake_listener_mapped(&e.iommu, 2 * 64 * K));
	assert_true(fake_listener_mapped(&second, 2 * 64 * K));
	memmap_get_stats(&e.mm, &st);
	assert_int_equal(st.inflated_pinned_bytes, 64 * K);
	assert_int_equal(st.inflated_bytes, 3 * 64 * K);

	/* The release of a run of two fails: both are mapped again and held. */
	n = add_pages(v, 0, 8 * 64 * K, 32);
	fake_log_clear(&e.log);
	e.backing.fail_release = 1;
	e.backing.fail_errno = EINTR;
	res = run_batch(&e, true, v, n, out);
	assert_int_equal(res.error, -EINTR);
	expect_outcomes(out, 0, n, MEMMAP_PAGE_HELD);
	assert_int_equal(fake_log_count(&e.log, FAKE_UNMAP, NULL), 4);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, NULL), 4);
	assert_int_equal(fake_log_count(&e.log, FAKE_RELEASE, NULL), 0);
	assert_int_equal(memmap_granule_state(&e.mm, 9 * 64 * K), GRANULE_PARTIAL);
	/* As with single pages: discarded once it fills again. */
	assert_int_equal(memmap_deflate_page(&e.mm, 9 * 64 * K), 0);
	assert_int_equal(memmap_inflate_page(&e.mm, 9 * 64 * K), 0);
	assert_int_equal(memmap_granule_state(&e.mm, 9 * 64 * K), GRANULE_DISCARDED);
	fake_env_check(&e);
	fake_env_free(&e);
}

/*
 * Deflate of discarded granules 1, 2, 3 (one run) and 5, plus a page of partial granule
 * 7. A failed populate fails its run and nothing else; a map the second container
 * refuses fails that granule only, which is given back.
 */
static void test_batch_fail_restore(void **state)
{
	struct memmap_batch_result res;
	struct fake_listener second;
	struct snapshot s;
	struct fake_env e;
	uint64_t v[128], d[5];
	uint8_t out[128];
	size_t n, i;
	long unmap;

	(void)state;
	env_start_with(&e, config(16 * M, 0, 64 * K, 0), &second, "iommu2", true);
	n = add_pages(v, 0, 64 * K, 48);
	n = add_pages(v, n, 5 * 64 * K, 16);
	n = add_pages(v, n, 7 * 64 * K, 4);
	run_batch(&e, true, v, n, out);
	expect_outcomes(out, 0, n, MEMMAP_PAGE_DONE);
	for (i = 0; i < 4; i++)
		d[i] = (i < 3 ? (i + 1) : 5) * 64 * K + i * PAGE;
	d[4] = 7 * 64 * K + PAGE;

	snap_take(&s, &e);
	fake_log_clear(&e.log);
	e.backing.fail_populate = 1;
	e.backing.fail_errno = ENOMEM;
	res = run_batch(&e, false, d, 3, out);
	assert_int_equal(res.error, -ENOMEM);
	expect_outcomes(out, 0, 3, MEMMAP_PAGE_FAILED);
	assert_int_equal(fake_log_count(&e.log, FAKE_MAP, NULL), 0);
	snap_expect_same(&s, &e);

	fake_log_clear(&e.log);
	second.fail_map = 2;
	res = run_batch(&e, false, d, 5, out);
	assert_int_equal(res.error, -EIO);
	expect_outcomes(out, 0, 1, MEMMAP_PAGE_DONE);
	expect_outcomes(out, 1, 2, MEMMAP_PAGE_FAILED);
	expect_outcomes(out, 2, 5, MEMMAP_PAGE_DONE);
	assert_int_equal(fake_log_count(&e.log, FAKE_POPULATE, NULL), 2);
	assert_int_equal(memmap_granule_state(&e.mm, 2 * 64 * K), GRANULE_DISCARDED);
	assert_false(fake_listener_mapped(&e.iommu, 2 * 64 * K));
	/* Its memory went back after the first container let go of it. */
	unmap = fake_log_find(&e.log, 0, FAKE_UNMAP, "iommu", 2 * 64 * K);
	expect_before(&e.log, unmap, expect_release(&e.log, 2 * 64 * K, 64 * K));
	assert_true(fake_backing_released(&e.backing, 2 * 64 * K));
	for (i = 0; i < 5; i++)
		assert_int_equal(memmap_deflate_page(&e.mm, d[i]), i == 1 ? 0 : -EINVAL);
	fake_env_check(&e);
	fake_env_free(&e);
}

/* Random sequences */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: small, and the same everywhere for a given seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t rng_below(uint64_t n)
{
	return rng() % n;
}

/* What the map must look like, kept independently of it. */
struct model {
	bool plugged[MEMMAP_MAX_REGIONS];
	uint8_t *inflated[MEMMAP_MAX_REGIONS]; /* per page */
};

static uint64_t random_gpa(struct memmap *mm, const uint64_t *hot, unsigned int nhot)
{
	const struct memmap_region *r;
	uint64_t gpa;

	switch (rng_below(20)) {
	case 0: /* anywhere, mostly not RAM */
		return rng() & (rng_below(2) ? ~0ULL : (8 * G - 1));
	case 1: /* unaligned */
		r = &mm->region[rng_below(mm->nregions)];
		return (r->gpa + rng_below(r->size)) | (1 + rng_below(PAGE - 1));
	case 2: /* just past a region */
		r = &mm->region[rng_below(mm->nregions)];
		return r->gpa + r->size;
	case 3:
	case 4:
	case 5:
	case 6: /* any page */
		r = &mm->region[rng_below(mm->nregions)];
		return r->gpa + rng_below(r->size / PAGE) * PAGE;
	default: /* a page of a few hot granules, so that granules fill up */
		gpa = hot[rng_below(nhot)];
		return gpa + rng_below(mm->granule / PAGE) * PAGE;
	}
}

static bool model_page(struct model *md, struct memmap *mm, uint64_t gpa, uint8_t **bit)
{
	struct memmap_region *r = memmap_find(mm, gpa);

	if (!r || gpa % PAGE || !md->plugged[r->index])
		return false;
	*bit = &md->inflated[r->index][(gpa - r->gpa) / PAGE];
	return true;
}

static void model_check(struct model *md, struct memmap *mm)
{
	unsigned int i;
	uint64_t p;

	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		assert_int_equal(r->plugged, md->plugged[i]);
		for (p = 0; p < r->size / PAGE; p++)
			if (md->inflated[i][p] != !!(r->inflated[p / (8 * sizeof(long))] &
						     (1UL << (p % (8 * sizeof(long))))))
				fail_msg("page 0x%" PRIx64 ": model says %sinflated",
					 r->gpa + p * PAGE, md->inflated[i][p] ? "" : "not ");
	}
}

enum random_op { OP_INFLATE, OP_DEFLATE, OP_PLUG, OP_UNPLUG, OP_JOIN, OP_LEAVE };

/*
 * Arms one failure that the operation can hit. One at a time: a second failure while
 * undoing the first is the case the map gives up on (it aborts), by design.
 */
static void arm_failure(struct fake_env *e, bool pin, enum random_op op, unsigned int n)
{
	unsigned int pick = rng_below(4);

	switch (op) {
	case OP_INFLATE:
		if (pin && pick < 2)
			e->iommu.fail_unmap = n;
		else
			e->backing.fail_release = n;
		break;
	case OP_DEFLATE:
		if (pin && pick < 2)
			e->iommu.fail_map = n;
		else
			e->backing.fail_populate = n;
		break;
	case OP_PLUG:
		if (pick == 0)
			e->backing.fail_create = n;
		else if (pick == 1)
			e->backing.fail_populate = n;
		else if (pick == 2)
			e->slots.fail_region_add = n;
		else if (pin)
			e->iommu.fail_map = n;
		break;
	case OP_UNPLUG:
	case OP_LEAVE:
		if (pin)
			e->iommu.fail_unmap = n;
		break;
	case OP_JOIN:
		if (pick == 0)
			e->backing.fail_populate = n;
		else if (pick == 1)
			e->iommu.fail_region_add = n;
		else
			e->iommu.fail_map = n;
		break;
	}
}

static void disarm(struct fake_env *e)
{
	e->backing.fail_release = e->backing.fail_populate = e->backing.fail_create = 0;
	e->slots.fail_region_add = 0;
	e->iommu.fail_map = e->iommu.fail_unmap = e->iommu.fail_region_add = 0;
}

/*
 * A random batch: strays, runs, whole hot granules, duplicates, in or out of order.
 * Each page's outcome is checked against the model as it was before the batch, and the
 * model then follows the outcomes. Returns the batch's error.
 */
#define RANDOM_BATCH_MAX 640

static int random_batch(struct fake_env *e, struct model *md, const uint64_t *hot, bool inflate,
			bool pin, unsigned int *ndone)
{
	static uint64_t v[RANDOM_BATCH_MAX];
	static uint8_t out[RANDOM_BATCH_MAX], want[RANDOM_BATCH_MAX];
	const uint64_t ppg = e->mm.pages_per_granule;
	size_t target = 1 + rng_below(96), n = 0, i, len;
	struct memmap_batch_result res;
	uint8_t *bit = NULL;

	while (n < target) {
		switch (rng_below(5)) {
		case 0:
			v[n++] = random_gpa(&e->mm, hot, 6);
			break;
		case 1:
		case 2:
			v[n] = random_gpa(&e->mm, hot, 6);
			for (len = 1 + rng_below(40), n++; --len && n < RANDOM_BATCH_MAX; n++)
				v[n] = v[n - 1] + PAGE;
			break;
		case 3:
			if (n + ppg <= RANDOM_BATCH_MAX)
				n = add_pages(v, n, hot[rng_below(6)], ppg);
			break;
		default:
			if (n)
				v[n] = v[rng_below(n)], n++;
		}
	}
	if (rng_below(2))
		shuffle(v, n, rng());

	/* Accepted pages are marked 2 in the model while the batch is judged. */
	for (i = 0; i < n; i++) {
		if (v[i] % PAGE)
			want[i] = MEMMAP_PAGE_UNALIGNED;
		else if (!model_page(md, &e->mm, v[i], &bit))
			want[i] = MEMMAP_PAGE_NOT_RAM;
		else if (*bit & 2)
			want[i] = MEMMAP_PAGE_DUPLICATE;
		else if (*bit == inflate)
			want[i] = MEMMAP_PAGE_BAD_STATE;
		else
			want[i] = MEMMAP_PAGE_OUTCOMES, *bit |= 2;
	}
	res = run_batch(e, inflate, v, n, out);
	for (i = 0; i < n; i++) {
		if (want[i] != MEMMAP_PAGE_OUTCOMES) {
			if (out[i] != want[i])
				fail_msg("page 0x%" PRIx64 ": %s, the model says %s", v[i],
					 memmap_outcome_name(out[i]), memmap_outcome_name(want[i]));
			continue;
		}
		assert_true(model_page(md, &e->mm, v[i], &bit));
		*bit &= 1;
		switch (out[i]) {
		case MEMMAP_PAGE_HELD:
			assert_true(inflate && pin);
			*bit = 1;
			break;
		case MEMMAP_PAGE_DONE:
			*bit = inflate;
			break;
		case MEMMAP_PAGE_FAILED:
			break;
		default:
			fail_msg("page 0x%" PRIx64 ": %s, the model says it can be %sflated", v[i],
				 memmap_outcome_name(out[i]), inflate ? "in" : "de");
		}
	}
	*ndone += res.count[MEMMAP_PAGE_DONE];
	return res.error;
}

/*
 * Random balloon, hotplug and failure sequences against a model of the inflated pages.
 * The container ("iommu") also leaves and joins again at run time, so the map moves
 * between pinning and not; pin says whether it starts in.
 */
static void random_run(uint64_t granule, bool pin, uint64_t seed, unsigned int steps)
{
	struct fake_env e;
	struct error err = {0};
	struct model md;
	uint64_t hot[6], gpa, p;
	unsigned int i, step;
	/* What the run reached, so that a run that reaches nothing fails. */
	unsigned int ninflate = 0, ndeflate = 0, nplug = 0, nunplug = 0, ninjected = 0;
	unsigned int ndiscarded = 0, njoin = 0, nleave = 0, nbatched = 0;
	const bool pin_at_start = pin;
	uint8_t *bit;
	int ret;

	rng_state = seed;
	/* Low RAM and three adjacent 4M DIMM slots. */
	env_start(&e, config(16 * M, 28 * M, granule, 4 * M), pin);
	if (!pin)
		fake_listener_init(&e.iommu, "iommu", true, true, &e.mm, &e.log, &e.backing);
	memset(&md, 0, sizeof(md));
	for (i = 0; i < e.mm.nregions; i++) {
		md.plugged[i] = e.mm.region[i].plugged;
		md.inflated[i] = calloc(e.mm.region[i].size / PAGE, 1);
	}
	for (i = 0; i < 6; i++) {
		struct memmap_region *r = &e.mm.region[i % e.mm.nregions];

		hot[i] = r->gpa + rng_below(r->ngranules) * granule;
	}

	for (step = 0; step < steps; step++) {
		unsigned int op = rng_below(124);
		bool armed = rng_below(4) == 0;

		fake_log_clear(&e.log);
		if (op < 45) {
			if (armed)
				arm_failure(&e, pin, OP_INFLATE, 1);
			gpa = random_gpa(&e.mm, hot, 6);
			ret = memmap_inflate_page(&e.mm, gpa);
			ninflate += !ret;
			if (!model_page(&md, &e.mm, gpa, &bit) || *bit) {
				assert_int_equal(ret, -EINVAL);
			} else {
				assert_int_not_equal(ret, -EINVAL);
				/* With a pinning listener a failed discard keeps the page inflated.
				 */
				if (!ret || pin)
					*bit = 1;
			}
		} else if (op < 85) {
			if (armed)
				arm_failure(&e, pin, OP_DEFLATE, 1);
			gpa = random_gpa(&e.mm, hot, 6);
			ret = memmap_deflate_page(&e.mm, gpa);
			ndeflate += !ret;
			if (!model_page(&md, &e.mm, gpa, &bit) || !*bit) {
				assert_int_equal(ret, -EINVAL);
			} else {
				assert_int_not_equal(ret, -EINVAL);
				if (!ret)
					*bit = 0;
			}
		} else if (op < 90) {
			/* A whole hot granule, to reach DISCARDED often. */
			if (armed)
				arm_failure(&e, pin, OP_INFLATE, 1 + rng_below(granule / PAGE));
			gpa = hot[rng_below(6)];
			ret = 0;
			for (p = 0; p < granule / PAGE; p++) {
				int r1 = memmap_inflate_page(&e.mm, gpa + p * PAGE);

				if (model_page(&md, &e.mm, gpa + p * PAGE, &bit) && !*bit) {
					assert_int_not_equal(r1, -EINVAL);
					if (!r1 || pin)
						*bit = 1;
				}
				ret = ret ? ret : r1;
			}
		} else if (op < 93) {
			if (armed)
				arm_failure(&e, pin, OP_DEFLATE, 1);
			gpa = hot[rng_below(6)];
			ret = 0;
			for (p = 0; p < granule / PAGE; p++) {
				int r1 = memmap_deflate_page(&e.mm, gpa + p * PAGE);

				if (!r1 && model_page(&md, &e.mm, gpa + p * PAGE, &bit))
					*bit = 0;
				ret = ret ? ret : r1;
			}
		} else if (op >= 104) {
			if (armed)
				arm_failure(&e, pin, op < 114 ? OP_INFLATE : OP_DEFLATE,
					    1 + rng_below(3));
			ret = random_batch(&e, &md, hot, op < 114, pin, &nbatched);
		} else if (op >= 100) {
			/* The container leaves, or joins again. */
			if (armed)
				arm_failure(&e, pin, pin ? OP_LEAVE : OP_JOIN, 1 + rng_below(8));
			if (pin)
				ret = memmap_remove_listener(&e.mm, &e.iommu.l, &err);
			else
				ret = memmap_add_listener(&e.mm, &e.iommu.l, &err);
			if (!ret && pin)
				e.nls--;
			else if (!ret)
				e.ls[e.nls++] = &e.iommu;
			njoin += !ret && !pin;
			nleave += !ret && pin;
			if (!ret)
				pin = !pin;
		} else {
			unsigned int idx = rng_below(e.mm.nregions + 1);

			if (armed)
				arm_failure(&e, pin, op < 97 ? OP_PLUG : OP_UNPLUG,
					    1 + rng_below(4));
			if (op < 97)
				ret = memmap_plug(&e.mm, idx, &err);
			else
				ret = memmap_unplug(&e.mm, idx, &err);
			nplug += !ret && op < 97;
			nunplug += !ret && op >= 97;
			if (!ret) {
				md.plugged[idx] = op < 97;
				memset(md.inflated[idx], 0, e.mm.region[idx].size / PAGE);
			}
		}
		disarm(&e);
		ninjected += ret && ret != -EINVAL && ret != -EBUSY;
		ndiscarded += e.mm.nr_granules[GRANULE_DISCARDED] > 0;
		model_check(&md, &e.mm);
		fake_env_check(&e);
	}
	print_message("granule %" PRIu64 "K %s: %u steps; inflated %u, deflated %u, plugged %u, "
		      "unplugged %u, joined %u, left %u, %u pages done in batches, %u injected "
		      "failures, %u steps with a discarded granule\n",
		      granule / K, pin_at_start ? "pinned" : "unpinned", steps, ninflate, ndeflate,
		      nplug, nunplug, njoin, nleave, nbatched, ninjected, ndiscarded);
	/*
	 * The walk did both, often. Deflates can only follow inflates, so they run lower:
	 * SLABVM_SEED=21953374256453 gives 117 of 2500 at 64K unpinned, below the 5% once
	 * asked here; 2.5% still fails a walk that stopped doing either.
	 */
	assert_true(ninflate > steps / 40 && ndeflate > steps / 40);
	assert_true(nplug > 0 && nunplug > 0 && ninjected > 0 && ndiscarded > 0);
	assert_true(njoin > 0 && nleave > 0 && nbatched > steps / 20);
	for (i = 0; i < e.mm.nregions; i++)
		free(md.inflated[i]);
	/* Out of the map, it still holds its bookkeeping. */
	fake_listener_free(&e.iommu);
	fake_env_free(&e);
}

static uint64_t test_seed(void)
{
	const char *s = getenv("SLABVM_SEED");
	uint64_t seed =
		s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	if (!seed)
		seed = 1;
	print_message("random sequences: seed %" PRIu64 " (SLABVM_SEED=%" PRIu64 " repeats it)\n",
		      seed, seed);
	return seed;
}

static void test_random_sequences(void **state)
{
	static const uint64_t granules[] = {4 * K, 64 * K, 2 * M};
	uint64_t seed = test_seed();
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		random_run(granules[i], true, seed + i, 2500);
		random_run(granules[i], false, seed + i + 100, 2500);
	}
}

/*
 * Placed DIMMs at random against a model of the window as 128M blocks: first fit finds the
 * lowest free run, an explicit address is taken exactly when it is free and inside, the
 * lowest free slot is used, and nothing changes on a refusal. Some DIMMs are plugged, and
 * a plugged one cannot be removed until it is unplugged.
 */
static void test_dimm_random(void **state)
{
	enum { NBLK = 32, NSLOT = 8 };
	const uint64_t blk = 128 * M, base = 4 * G;
	uint64_t seed = test_seed() + 7, gpa;
	int owner[NBLK]; /* slot holding the block, or -1 */
	uint64_t at[NSLOT], len[NSLOT];
	bool used[NSLOT] = {false}, plugged[NSLOT] = {false};
	struct fake_env e;
	struct error err = {0};
	unsigned int step, i, index;

	(void)state;
	rng_state = seed;
	for (i = 0; i < NBLK; i++)
		owner[i] = -1;
	env_start(&e, config_slots(G, G + NBLK * blk, 2 * M, NSLOT), true);
	for (step = 0; step < 3000; step++) {
		unsigned int op = (unsigned int)rng_below(10), n = 1 + (unsigned int)rng_below(6);
		unsigned int s = (unsigned int)rng_below(NSLOT), want_slot, b, k;
		int want_blk = -1, ret;
		uint64_t addr = 0;

		if (op < 5) {
			/* Add: first fit, or an address that may be outside or overlap. */
			if (op >= 3)
				addr = base + (rng_below(NBLK + 4) - 2) * blk +
				       (op == 4 && rng_below(4) == 0 ? 2 * M : 0);
			if (!addr) {
				for (b = 0; b + n <= NBLK && want_blk < 0; b++) {
					for (k = 0; k < n && owner[b + k] < 0; k++)
						;
					if (k == n)
						want_blk = (int)b;
				}
			} else if ((addr - base) % blk == 0 && addr >= base &&
				   (addr - base) / blk + n <= NBLK) {
				b = (unsigned int)((addr - base) / blk);
				for (k = 0; k < n && owner[b + k] < 0; k++)
					;
				if (k == n)
					want_blk = (int)b;
			}
			for (want_slot = 0; want_slot < NSLOT && used[want_slot]; want_slot++)
				;
			ret = memmap_dimm_add(&e.mm, MEMMAP_SLOT_ANY, addr, n * blk, &index, &err);
			if (want_blk < 0 || want_slot == NSLOT) {
				if (!ret)
					fail_msg("seed %" PRIu64
						 " step %u: add %u blocks at 0x%" PRIx64
						 " accepted at 0x%" PRIx64,
						 seed, step, n, addr, e.mm.region[index].gpa);
				/* A bad address first; no room and no slot are both ENOSPC. */
				assert_int_equal(ret, want_blk < 0 && addr ? -EINVAL : -ENOSPC);
				continue;
			}
			if (ret)
				fail_msg("seed %" PRIu64 " step %u: %s", seed, step, err.msg);
			assert_int_equal(index, e.mm.dimm_first + want_slot);
			gpa = e.mm.region[index].gpa;
			assert_int_equal(gpa, base + (uint64_t)want_blk * blk);
			used[want_slot] = true;
			at[want_slot] = (uint64_t)want_blk;
			len[want_slot] = n;
			for (k = 0; k < n; k++)
				owner[want_blk + k] = (int)want_slot;
		} else if (op < 7) {
			/* Plug or unplug a DIMM. */
			if (!used[s])
				continue;
			index = e.mm.dimm_first + s;
			if (plugged[s])
				assert_int_equal(memmap_unplug(&e.mm, index, &err), 0);
			else
				assert_int_equal(memmap_plug(&e.mm, index, &err), 0);
			plugged[s] = !plugged[s];
		} else {
			index = e.mm.dimm_first + s;
			ret = memmap_dimm_remove(&e.mm, index, &err);
			assert_int_equal(ret, !used[s] ? -EINVAL : plugged[s] ? -EBUSY : 0);
			if (ret)
				continue;
			used[s] = false;
			for (k = 0; k < len[s]; k++)
				owner[at[s] + k] = -1;
		}
		if (step % 50 == 0)
			fake_env_check(&e);
	}
	fake_env_check(&e);
	fake_env_free(&e);
}

/* The real memfd backing */

static uint64_t blocks(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void test_memfd_release_pinned(void **state)
{
	struct memmap mm;
	struct fake_log log = {0};
	struct fake_listener iommu;
	struct error err = {0};
	struct memmap_config c = config(16 * M, 24 * M, 2 * M, 0);
	const uint64_t base = 4 * M;
	char path[64], link[128];
	uint8_t buf[PAGE];
	uint64_t before, p;
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(memmap_init(&mm, &c, NULL, NULL, &err), 0);
	fake_listener_init(&iommu, "iommu", true, true, &mm, &log, NULL);
	assert_int_equal(memmap_add_listener(&mm, &iommu.l, &err), 0);
	assert_int_equal(memmap_start(&mm, &err), 0);
	fd = mm.region[0].fd;
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_non_null(strstr(link, "memfd:slabvm-ram-low"));
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	/* The guest wrote the granule, so it is allocated. */
	memset(mm.region[0].hva + base, 0x77, 2 * M);
	before = blocks(fd);
	assert_true(before >= 2 * M);
	for (p = 0; p < 511; p++)
		assert_int_equal(memmap_inflate_page(&mm, base + p * PAGE), 0);
	/* Pinned: nothing comes back yet. */
	assert_int_equal(blocks(fd), before);
	assert_int_equal(memmap_inflate_page(&mm, base + 511 * PAGE), 0);
	assert_int_equal(blocks(fd), before - 2 * M);
	assert_false(fake_listener_mapped(&iommu, base));

	/* Deflate populates the granule again (and maps it); it reads as zero. */
	assert_int_equal(memmap_deflate_page(&mm, base + 7 * PAGE), 0);
	assert_int_equal(blocks(fd), before);
	assert_true(fake_listener_mapped(&iommu, base));
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(guestmem_read(&mm, base + 7 * PAGE, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));

	/* A plugged DIMM is allocated up front; unplugging it frees it. */
	assert_int_equal(memmap_plug(&mm, 1, &err), 0);
	fd = mm.region[1].fd;
	assert_int_equal(blocks(fd), 8 * M);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_non_null(strstr(link, "memfd:slabvm-dimm-1"));
	assert_int_equal(memmap_unplug(&mm, 1, &err), 0);
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	fake_listener_free(&iommu);
	memmap_destroy(&mm);
	fake_log_free(&log);
}

/* With shmem forced onto huge pages, punching one 4 KiB page may free nothing. */
static bool shmem_thp_forced(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[always]") || strstr(buf, "[force]") || strstr(buf, "[within_size]");
}

static void test_memfd_release_unpinned(void **state)
{
	struct memmap mm;
	struct error err = {0};
	struct memmap_config c = config(16 * M, 0, 2 * M, 0);
	const uint64_t gpa = 6 * M + 3 * PAGE;
	uint8_t buf[PAGE];
	uint64_t before;
	int fd;

	(void)state;
	if (shmem_thp_forced()) {
		print_message("shmem huge pages are forced on this host: skipped\n");
		skip();
	}
	assert_int_equal(memmap_init(&mm, &c, &memmap_memfd_backing, NULL, &err), 0);
	assert_int_equal(memmap_start(&mm, &err), 0);
	fd = mm.region[0].fd;
	memset(mm.region[0].hva + 6 * M, 0x42, 64 * K);
	before = blocks(fd);
	assert_int_equal(memmap_inflate_page(&mm, gpa), 0);
	/* One page comes back at once. */
	assert_int_equal(blocks(fd), before - PAGE);
	assert_int_equal(memmap_deflate_page(&mm, gpa), 0);
	assert_int_equal(guestmem_read(&mm, gpa, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));
	assert_int_equal(guestmem_read(&mm, gpa + PAGE, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, sizeof(buf), 0x42));
	memmap_destroy(&mm);
}

static const struct balloon_case cases[] = {
	{4 * K, true},	      {4 * K, false},	   {64 * K, true},
	{64 * K, false},      {2 * M, true},	   {2 * M, false},
	{2 * M, false, true}, {2 * M, true, true}, {4 * M, false, true},
};

#define BALLOON(i) cmocka_unit_test_prestate(test_balloon_cycle, (void *)&cases[i])

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_granule_check),
		cmocka_unit_test(test_layout_small),
		cmocka_unit_test(test_layout_exactly_3g),
		cmocka_unit_test(test_layout_spans_hole),
		cmocka_unit_test(test_layout_dimms_low),
		cmocka_unit_test(test_layout_dimms_high),
		cmocka_unit_test(test_layout_one_slot),
		cmocka_unit_test(test_layout_adjacent_high_and_dimm),
		cmocka_unit_test(test_layout_4k_granules),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refusal_leaves_no_backing),
		cmocka_unit_test(test_destroy_zeroed),
		cmocka_unit_test(test_entry_limit),
		cmocka_unit_test(test_start_order),
		cmocka_unit_test(test_listener_refusals),
		cmocka_unit_test(test_slots_layout),
		cmocka_unit_test(test_slots_refusals),
		cmocka_unit_test(test_dimm_place),
		cmocka_unit_test(test_dimm_refusals),
		cmocka_unit_test(test_dimm_cycle),
		cmocka_unit_test(test_dimm_random),
		cmocka_unit_test(test_plug_unplug_order),
		cmocka_unit_test(test_plug_refusals),
		BALLOON(0),
		BALLOON(1),
		BALLOON(2),
		BALLOON(3),
		BALLOON(4),
		BALLOON(5),
		BALLOON(6),
		BALLOON(7),
		BALLOON(8),
		cmocka_unit_test(test_balloon_invalid),
		cmocka_unit_test(test_hugetlb_refusals),
		cmocka_unit_test(test_hugetlb_batch),
		cmocka_unit_test(test_balloon_nonpinning_granule_listener),
		cmocka_unit_test(test_unplug_with_inflated_pages),
		cmocka_unit_test(test_balloon_1g_granule),
		cmocka_unit_test(test_late_listener),
		cmocka_unit_test(test_late_first_pinning_listener),
		cmocka_unit_test(test_leave_after_failed_discard),
		cmocka_unit_test(test_listener_before_start),
		cmocka_unit_test(test_fail_late_join),
		cmocka_unit_test(test_fail_remove_listener),
		cmocka_unit_test(test_fail_start),
		cmocka_unit_test(test_fail_plug),
		cmocka_unit_test(test_fail_unplug),
		cmocka_unit_test(test_fail_inflate_pinned),
		cmocka_unit_test(test_fail_inflate_unpinned),
		cmocka_unit_test(test_fail_deflate),
		cmocka_unit_test(test_batch_runs_unpinned),
		cmocka_unit_test(test_batch_runs_pinned),
		cmocka_unit_test(test_batch_1g_granule),
		cmocka_unit_test(test_batch_refusals),
		cmocka_unit_test(test_batch_region_boundary),
		cmocka_unit_test(test_batch_fail_release_unpinned),
		cmocka_unit_test(test_batch_fail_discard),
		cmocka_unit_test(test_batch_fail_restore),
		cmocka_unit_test(test_random_sequences),
		cmocka_unit_test(test_memfd_release_pinned),
		cmocka_unit_test(test_memfd_release_unpinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
