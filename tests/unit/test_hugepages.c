// SPDX-License-Identifier: MIT
/*
 * What the host allows for --hugepages, read from a sysfs tree the test writes itself, and
 * (where this machine has free 2 MiB huge pages) the memory map on real hugetlb memfds: a
 * balloon that fills a granule gives its huge page back to the pool, one that does not
 * gives nothing, and a deflate takes one again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem/hugepages.h"
#include "mem/memmap.h"

#define M (1024ULL * 1024)
#define PAGE 4096ULL

struct tree {
	char dir[64];
};

static void put(const struct tree *t, const char *name, const char *text)
{
	char path[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	for (slash = strchr(path + strlen(t->dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void pool(const struct tree *t, const char *size, unsigned int nr, unsigned int free_p,
		 unsigned int resv, unsigned int over, unsigned int surplus)
{
	char name[96], v[16];
	const char *files[] = {"nr_hugepages", "free_hugepages", "resv_hugepages",
			       "nr_overcommit_hugepages", "surplus_hugepages"};
	unsigned int vals[] = {nr, free_p, resv, over, surplus}, i;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "hugepages/hugepages-%s/%s", size, files[i]);
		snprintf(v, sizeof(v), "%u\n", vals[i]);
		put(t, name, v);
	}
}

static void tree_make(struct tree *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/slabvm-hugepages-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

static void tree_free(struct tree *t)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static void expect_msg(const struct error *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("message \"%s\" does not contain \"%s\"", err->msg, want);
	assert_null(strchr(err->msg, '\n'));
}

/* Whether this kernel creates hugetlb memfds at all (the host check probes it first). */
static bool kernel_has_hugetlb_memfd(void)
{
	int fd = memfd_create("probe", MFD_CLOEXEC | MFD_HUGETLB);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void test_available(void **state)
{
	struct tree t;
	struct hugepages_config c = {HUGEPAGES_HUGETLB, 0, NULL};
	uint64_t avail = 0;

	(void)state;
	tree_make(&t);
	c.sysfs = t.dir;
	assert_int_equal(hugepages_available(&c, &avail), -ENOENT);
	pool(&t, "2048kB", 10, 10, 4, 0, 0);
	assert_int_equal(hugepages_available(&c, &avail), 0);
	assert_int_equal(avail, 6);
	/* The pool may grow by the overcommit not yet used. */
	pool(&t, "2048kB", 10, 10, 4, 3, 1);
	assert_int_equal(hugepages_available(&c, &avail), 0);
	assert_int_equal(avail, 8);
	/* More reserved than free cannot happen, but must not wrap. */
	pool(&t, "2048kB", 10, 2, 4, 0, 0);
	assert_int_equal(hugepages_available(&c, &avail), 0);
	assert_int_equal(avail, 0);
	c.size = HUGEPAGES_SIZE_1G;
	assert_int_equal(hugepages_available(&c, &avail), -ENOENT);
	tree_free(&t);
}

static void test_check_host(void **state)
{
	struct tree t;
	struct hugepages_config c = {HUGEPAGES_HUGETLB, 0, NULL};
	struct error err = {0};

	(void)state;
	if (!kernel_has_hugetlb_memfd())
		skip();
	tree_make(&t);
	c.sysfs = t.dir;
	/* No pool of that size in this kernel. */
	assert_int_equal(hugepages_check_host(&c, 16 * M, &err), -ENOENT);
	assert_true(err.usage);
	expect_msg(&err, "--hugepages hugetlb: this kernel has no pool of 2M huge pages");
	/* 16M is 8 pages; 10 free less 4 reserved by others leaves 6: 2 more to reserve. */
	pool(&t, "2048kB", 10, 10, 4, 0, 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(hugepages_check_host(&c, 16 * M, &err), -ENOMEM);
	assert_true(err.usage);
	expect_msg(&err, "--hugepages hugetlb: 16M of RAM needs 8 free 2M huge pages, 6 are free; "
			 "as root: echo 12 > /proc/sys/vm/nr_hugepages");
	assert_int_equal(hugepages_check_host(&c, 12 * M, &err), 0);
	/* thp and off have nothing to check. */
	c.mode = HUGEPAGES_THP;
	assert_int_equal(hugepages_check_host(&c, 1ULL << 40, &err), 0);
	c.mode = HUGEPAGES_HUGETLB;
	c.size = HUGEPAGES_SIZE_1G;
	pool(&t, "1048576kB", 1, 1, 0, 0, 0);
	memset(&err, 0, sizeof(err));
	if (hugepages_check_host(&c, 4096 * M, &err) == -ENOMEM) {
		expect_msg(&err, "--hugepages hugetlb:1G: 4G of RAM needs 4 free 1G huge pages, 1 "
				 "are free; as root: echo 4 > ");
		expect_msg(&err, "/hugepages/hugepages-1048576kB/nr_hugepages");
	} else {
		/* A kernel without 1G pages refuses the probe instead. */
		expect_msg(&err, "cannot create hugetlb memfds of 1G pages");
	}
	tree_free(&t);
}

/* The memory map makes the host check before it creates any backing. */
static void test_map_refuses_short_pool(void **state)
{
	struct tree t;
	struct memmap mm;
	struct error err = {0};
	struct memmap_config c = {.mem = 16 * M};

	(void)state;
	if (!kernel_has_hugetlb_memfd())
		skip();
	tree_make(&t);
	pool(&t, "2048kB", 0, 0, 0, 0, 0);
	c.hugepages = (struct hugepages_config){HUGEPAGES_HUGETLB, 0, t.dir};
	assert_int_equal(memmap_init(&mm, &c, NULL, NULL, &err), -ENOMEM);
	assert_true(err.usage);
	expect_msg(&err, "16M of RAM needs 8 free 2M huge pages, 0 are free");
	assert_int_equal(mm.nregions, 0);
	tree_free(&t);
}

static void expect_thp(const struct tree *t, bool want, const char *word)
{
	struct hugepages_config c = {HUGEPAGES_THP, 0, t->dir};
	const char *setting = NULL;

	if (hugepages_thp_honoured(&c, &setting) != want)
		fail_msg("honoured: want %d for %s", want, word);
	assert_string_equal(setting, word);
}

static void test_thp(void **state)
{
	struct tree t;

	(void)state;
	tree_make(&t);
	expect_thp(&t, false, "unknown");
	/* Debian 12's default, before Linux 6.11: no per-size file. */
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always within_size advise [never] deny force\n");
	expect_thp(&t, false, "never");
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always within_size [advise] never deny force\n");
	expect_thp(&t, true, "advise");
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always [within_size] advise never deny force\n");
	expect_thp(&t, true, "within_size");
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always within_size advise never [deny] force\n");
	expect_thp(&t, false, "deny");
	/* Since 6.11 the 2M size's own setting decides, unless it inherits. */
	put(&t, "transparent_hugepage/hugepages-2048kB/shmem_enabled",
	    "always [inherit] within_size advise never\n");
	expect_thp(&t, false, "deny");
	put(&t, "transparent_hugepage/hugepages-2048kB/shmem_enabled",
	    "always inherit within_size [advise] never\n");
	expect_thp(&t, true, "advise");
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always within_size [advise] never deny force\n");
	put(&t, "transparent_hugepage/hugepages-2048kB/shmem_enabled",
	    "always inherit within_size advise [never]\n");
	expect_thp(&t, false, "never");
	put(&t, "transparent_hugepage/hugepages-2048kB/shmem_enabled", "garbage\n");
	expect_thp(&t, true, "advise");
	tree_free(&t);
}

/* Anonymous memory's word (transparent_hugepage/enabled), and thp's choice of anonymous
 * boot RAM: only where anonymous memory gets huge pages and shmem does not. */
static void test_thp_anon(void **state)
{
	struct tree t;
	struct hugepages_config c;
	const char *w = NULL;

	(void)state;
	tree_make(&t);
	c = (struct hugepages_config){HUGEPAGES_THP, 0, t.dir};
	assert_false(hugepages_thp_anon_honoured(&c, &w));
	assert_string_equal(w, "unknown");
	assert_false(hugepages_thp_anon(&c));
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always within_size advise [never] deny force\n");
	put(&t, "transparent_hugepage/enabled", "always [madvise] never\n");
	assert_true(hugepages_thp_anon_honoured(&c, &w));
	assert_string_equal(w, "madvise");
	assert_true(hugepages_thp_anon(&c));
	/* Only thp chooses it. */
	c.mode = HUGEPAGES_OFF;
	assert_false(hugepages_thp_anon(&c));
	c.mode = HUGEPAGES_HUGETLB;
	assert_false(hugepages_thp_anon(&c));
	c.mode = HUGEPAGES_THP;
	put(&t, "transparent_hugepage/enabled", "[always] madvise never\n");
	assert_true(hugepages_thp_anon_honoured(&c, &w));
	assert_string_equal(w, "always");
	put(&t, "transparent_hugepage/enabled", "always madvise [never]\n");
	assert_false(hugepages_thp_anon_honoured(&c, &w));
	assert_string_equal(w, "never");
	assert_false(hugepages_thp_anon(&c));
	/* The 2M size's own file decides unless it inherits (Linux 6.8 and later). */
	put(&t, "transparent_hugepage/hugepages-2048kB/enabled",
	    "always inherit [madvise] never\n");
	assert_true(hugepages_thp_anon(&c));
	put(&t, "transparent_hugepage/hugepages-2048kB/enabled",
	    "always [inherit] madvise never\n");
	assert_false(hugepages_thp_anon(&c));
	/* Shmem's THP on: boot RAM stays a memfd, which then gets huge pages itself. */
	put(&t, "transparent_hugepage/enabled", "[always] madvise never\n");
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always within_size [advise] never deny force\n");
	assert_false(hugepages_thp_anon(&c));
	tree_free(&t);
}

/* Pages of [hva, hva + len) resident in this process (mincore). */
static uint64_t resident(const uint8_t *hva, uint64_t len)
{
	unsigned char vec[512];
	uint64_t n = 0, i;

	assert_true(len / PAGE <= sizeof(vec));
	assert_int_equal(mincore((void *)hva, len, vec), 0);
	for (i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

/*
 * thp where only anonymous memory gets huge pages: boot RAM is private anonymous memory,
 * 2M-aligned, with no fd. The balloon releases whole granules only: a granule short of one
 * page keeps its memory and contents, the last page frees the granule (zero when read
 * again); a deflate does not populate it again (it stays a hole until touched), and free
 * page reporting is allowed. DIMMs stay memfds.
 */
static void test_anon_ram(void **state)
{
	struct memmap_config c = {.mem = 16 * M, .granule = 2 * M, .maxmem = 144 * M,
				  .slots = 1};
	struct memmap_stats st;
	struct error err = {0};
	struct memmap mm;
	struct tree t;
	unsigned int idx;
	uint8_t *hva;
	uint64_t p;

	(void)state;
	tree_make(&t);
	put(&t, "transparent_hugepage/shmem_enabled",
	    "always within_size advise [never] deny force\n");
	put(&t, "transparent_hugepage/enabled", "always [madvise] never\n");
	c.hugepages = (struct hugepages_config){HUGEPAGES_THP, 0, t.dir};
	if (memmap_init(&mm, &c, NULL, NULL, &err))
		fail_msg("init: %s", err.msg);
	assert_true(mm.hugepages.anon_ram);
	assert_true(mm.region[0].anon);
	assert_int_equal(mm.region[0].fd, -1);
	assert_int_equal((uintptr_t)mm.region[0].hva % (2 * M), 0);
	assert_true(memmap_whole_granules(&mm));
	assert_false(memmap_deflate_restores(&mm));
	if (memmap_start(&mm, &err))
		fail_msg("start: %s", err.msg);
	hva = mm.region[0].hva;
	memset(hva, 0x5a, 16 * M);
	for (p = 0; p + 1 < 512; p++)
		assert_int_equal(memmap_inflate_page(&mm, 4 * M + p * PAGE), 0);
	memmap_get_stats(&mm, &st);
	assert_int_equal(st.released_bytes, 0);
	assert_int_equal(st.inflated_pinned_bytes, 511 * PAGE);
	assert_int_equal(resident(hva + 4 * M, 2 * M), 512);
	assert_int_equal(hva[4 * M], 0x5a);
	assert_int_equal(memmap_inflate_page(&mm, 6 * M - PAGE), 0);
	memmap_get_stats(&mm, &st);
	assert_int_equal(st.released_bytes, 2 * M);
	assert_int_equal(st.inflated_pinned_bytes, 0);
	assert_int_equal(resident(hva + 4 * M, 2 * M), 0);
	assert_int_equal(memmap_deflate_page(&mm, 4 * M), 0);
	assert_int_equal(resident(hva + 4 * M, 2 * M), 0); /* no populate */
	assert_int_equal(hva[4 * M], 0);
	assert_int_equal(hva[6 * M - 1], 0);
	assert_int_equal(hva[6 * M], 0x5a);
	/* A DIMM is a memfd still. */
	if (memmap_dimm_add(&mm, 0, mm.dimm_base, 128 * M, &idx, &err))
		fail_msg("dimm: %s", err.msg);
	if (memmap_plug(&mm, idx, &err))
		fail_msg("plug: %s", err.msg);
	assert_false(mm.region[idx].anon);
	assert_true(mm.region[idx].fd >= 0);
	memmap_destroy(&mm);
	tree_free(&t);
}

static uint64_t free_2m(void)
{
	struct hugepages_config c = {HUGEPAGES_HUGETLB, 0, NULL};
	uint64_t avail = 0;

	if (hugepages_available(&c, &avail))
		return 0;
	return avail;
}

/* Huge pages this process's mappings hold from the pool: free ones less reservations. */
static uint64_t used_2m(uint64_t before)
{
	return before - free_2m();
}

/*
 * The real thing: 16M of hugetlb RAM in 2M granules reserves 8 pages at once. A balloon
 * that inflates all but one page of a granule gives nothing back (a partial huge page
 * cannot be freed); the last page gives the huge page back; a deflate takes one again.
 */
static void test_real_hugetlb(void **state)
{
	struct memmap_config c = {.mem = 16 * M, .granule = 2 * M};
	struct memmap_stats st;
	struct error err = {0};
	struct memmap mm;
	uint64_t before, p;
	uint8_t *hva;

	(void)state;
	before = free_2m();
	if (before < 8) {
		print_message("skipped: fewer than 8 free 2M huge pages (echo 8 > "
			      "/proc/sys/vm/nr_hugepages to run it)\n");
		skip();
	}
	c.hugepages = (struct hugepages_config){HUGEPAGES_HUGETLB, 0, NULL};
	if (memmap_init(&mm, &c, NULL, NULL, &err))
		fail_msg("init: %s", err.msg);
	assert_int_equal(used_2m(before), 8);
	if (memmap_start(&mm, &err))
		fail_msg("start: %s", err.msg);
	hva = mm.region[0].hva;
	memset(hva, 0x5a, 16 * M);
	for (p = 0; p + 1 < 512; p++)
		assert_int_equal(memmap_inflate_page(&mm, 4 * M + p * PAGE), 0);
	assert_int_equal(used_2m(before), 8);
	memmap_get_stats(&mm, &st);
	assert_int_equal(st.released_bytes, 0);
	assert_int_equal(st.inflated_pinned_bytes, 511 * PAGE);
	assert_int_equal(hva[4 * M], 0x5a); /* not even zeroed: nothing was punched */
	assert_int_equal(memmap_inflate_page(&mm, 6 * M - PAGE), 0);
	assert_int_equal(used_2m(before), 7);
	memmap_get_stats(&mm, &st);
	assert_int_equal(st.released_bytes, 2 * M);
	assert_int_equal(st.inflated_pinned_bytes, 0);
	assert_int_equal(memmap_deflate_page(&mm, 4 * M), 0);
	assert_int_equal(used_2m(before), 8);
	assert_int_equal(hva[4 * M], 0);
	memmap_destroy(&mm);
	assert_int_equal(used_2m(before), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thp_anon),
		cmocka_unit_test(test_anon_ram),
		cmocka_unit_test(test_available),
		cmocka_unit_test(test_check_host),
		cmocka_unit_test(test_map_refuses_short_pool),
		cmocka_unit_test(test_thp),
		cmocka_unit_test(test_real_hugetlb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
