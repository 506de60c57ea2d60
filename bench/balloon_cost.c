// SPDX-License-Identifier: MIT
/*
 * What the balloon costs the host: inflate every 4 KiB page of 1 GiB of guest RAM through
 * the memory map, in order, then deflate every page, for granules of 4K, 2M and 1G, each
 * without and with a pinning IOMMU listener. A benchmark, not a test: it prints figures
 * and asserts none (it fails only if the map itself reports an error or wrong stats).
 *
 * The backing is the real one (memfd, punch hole, fallocate populate), touched first so
 * that every release frees a real page. Its system calls are counted by wrapping libc's
 * fallocate at link time (bench/meson.build): the calls still reach the kernel, and the
 * memory map issues no other system call on these paths.
 *
 * The pinning listener stands in for the vfio container. It only counts granule_map and
 * granule_unmap and returns: no ioctl, no pinning. The times are therefore the map's and
 * the backing's share; a real VFIO_IOMMU_MAP_DMA/UNMAP_DMA adds its own cost per counted
 * call.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "mem/memmap.h"
#include "base/size.h"

#define BENCH_RAM (1ULL << 30)
#define MIB (1ULL << 20)

/*
 * fallocate, counted by kind. With _FILE_OFFSET_BITS=64 glibc's header calls fallocate64;
 * both names are wrapped so the count holds either way.
 */
static uint64_t nr_punch, nr_alloc, nr_other_falloc;

int __real_fallocate64(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate64(int fd, int mode, off_t off, off_t len);
int __real_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len);

static void count_fallocate(int mode)
{
	if (mode == 0)
		nr_alloc++;
	else if (mode & FALLOC_FL_PUNCH_HOLE)
		nr_punch++;
	else
		nr_other_falloc++;
}

int __wrap_fallocate64(int fd, int mode, off_t off, off_t len)
{
	count_fallocate(mode);
	return __real_fallocate64(fd, mode, off, len);
}

int __wrap_fallocate(int fd, int mode, off_t off, off_t len)
{
	count_fallocate(mode);
	return __real_fallocate(fd, mode, off, len);
}

/* A minimal pinning listener: counts its calls, does nothing else. */
struct counting_iommu {
	struct memmap_listener l; /* first: callbacks find the counter from it */
	uint64_t nr_map, nr_unmap;
};

static int iommu_map(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		     uint64_t size, void *hva)
{
	(void)r, (void)gpa, (void)size, (void)hva;
	((struct counting_iommu *)l)->nr_map++;
	return 0;
}

static int iommu_unmap(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		       uint64_t size)
{
	(void)r, (void)gpa, (void)size;
	((struct counting_iommu *)l)->nr_unmap++;
	return 0;
}

/* Counters at one moment, so a phase reports its own calls. */
struct sample {
	struct timespec t;
	uint64_t map, unmap, punch, alloc;
	uint64_t rss;	/* resident set of the whole process */
	uint64_t memfd; /* bytes the memfd backing holds */
};

static uint64_t rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2) {
		fprintf(stderr, "balloon_cost: cannot read /proc/self/statm\n");
		exit(1);
	}
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t memfd_bytes(const struct memmap_region *r)
{
	struct stat st;

	if (fstat(r->fd, &st) < 0) {
		perror("balloon_cost: fstat of the memfd");
		exit(1);
	}
	return (uint64_t)st.st_blocks * 512;
}

static void take(struct sample *s, const struct counting_iommu *io, const struct memmap_region *r)
{
	s->map = io->nr_map;
	s->unmap = io->nr_unmap;
	s->punch = nr_punch;
	s->alloc = nr_alloc;
	s->rss = rss_bytes();
	s->memfd = memfd_bytes(r);
	clock_gettime(CLOCK_MONOTONIC, &s->t);
}

static double seconds(const struct sample *a, const struct sample *b)
{
	return (double)(b->t.tv_sec - a->t.tv_sec) + (double)(b->t.tv_nsec - a->t.tv_nsec) / 1e9;
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (double)MIB;
}

static void fail(const char *what, uint64_t granule, bool iommu, const char *why)
{
	fprintf(stderr, "balloon_cost: granule %s, %s: %s: %s\n", size_str(granule).s,
		iommu ? "iommu" : "no iommu", what, why);
	exit(1);
}

/* Writes every page, so the backing really holds all of it. */
static void touch(const struct memmap_region *r)
{
	uint64_t off;

	for (off = 0; off < r->size; off += MEMMAP_PAGE_SIZE)
		r->hva[off] = 1;
}

/* Inflates (or deflates) every stride-th page of r; stride 1 is every page, in order. */
static void balloon(struct memmap *mm, const struct memmap_region *r, bool inflate, uint64_t stride,
		    bool iommu)
{
	uint64_t off;
	int ret;

	for (off = 0; off < r->size; off += stride * MEMMAP_PAGE_SIZE) {
		ret = inflate ? memmap_inflate_page(mm, r->gpa + off)
			      : memmap_deflate_page(mm, r->gpa + off);
		if (ret)
			fail(inflate ? "inflate" : "deflate", mm->granule, iommu, strerror(-ret));
	}
}

static void run(uint64_t granule, bool iommu)
{
	struct memmap_config cfg = {.mem = BENCH_RAM, .granule = granule};
	struct counting_iommu io = {
		.l = {.name = "bench-iommu",
		      .pins = true,
		      .granule_map = iommu_map,
		      .granule_unmap = iommu_unmap},
	};
	const char *mode = iommu ? "iommu" : "no iommu";
	struct sample s0, s1, s2, p0, p1;
	struct error err = {0};
	struct memmap_stats st;
	struct memmap_region *r;
	struct memmap mm;

	if (memmap_init(&mm, &cfg, NULL, NULL, &err))
		fail("memmap_init", granule, iommu, err.msg);
	if (iommu && memmap_add_listener(&mm, &io.l, &err))
		fail("memmap_add_listener", granule, iommu, err.msg);
	if (memmap_start(&mm, &err))
		fail("memmap_start", granule, iommu, err.msg);
	/* --mem 1G is one region of low RAM at 0. */
	r = &mm.region[0];
	if (mm.nregions != 1 || r->size != BENCH_RAM)
		fail("layout", granule, iommu, "expected one 1G region");

	touch(r);
	take(&s0, &io, r);
	balloon(&mm, r, true, 1, iommu);
	take(&s1, &io, r);
	memmap_get_stats(&mm, &st);
	if (st.inflated_bytes != BENCH_RAM || st.released_bytes != BENCH_RAM)
		fail("after inflate", granule, iommu, "not every page inflated and released");
	balloon(&mm, r, false, 1, iommu);
	take(&s2, &io, r);
	memmap_get_stats(&mm, &st);
	if (st.inflated_bytes || st.released_bytes)
		fail("after deflate", granule, iommu, "pages still inflated or released");

	printf("granule %s, %s: inflate 1G %.3f s (%" PRIu64 " unmaps, %" PRIu64
	       " releases), deflate 1G %.3f s (%" PRIu64 " populates, %" PRIu64
	       " maps); RSS %.0fM -> %.0fM -> %.0fM, memfd %.0fM -> %.0fM -> %.0fM\n",
	       size_str(granule).s, mode, seconds(&s0, &s1), s1.unmap - s0.unmap,
	       s1.punch - s0.punch, seconds(&s1, &s2), s2.alloc - s1.alloc, s2.map - s1.map,
	       mib(s0.rss), mib(s1.rss), mib(s2.rss), mib(s0.memfd), mib(s1.memfd), mib(s2.memfd));

	/*
	 * The partial case: half of every granule inflated (every other page). With a pinning
	 * listener and G > 4K no granule fills up, so nothing can be released.
	 */
	touch(r);
	take(&p0, &io, r);
	balloon(&mm, r, true, 2, iommu);
	take(&p1, &io, r);
	memmap_get_stats(&mm, &st);
	printf("granule %s, %s: every other page inflated %.3f s (%" PRIu64 " unmaps, %" PRIu64
	       " releases): %.0fM inflated, %.0fM released, %.0fM inflated but pinned; "
	       "RSS %.0fM -> %.0fM, memfd %.0fM -> %.0fM\n",
	       size_str(granule).s, mode, seconds(&p0, &p1), p1.unmap - p0.unmap,
	       p1.punch - p0.punch, mib(st.inflated_bytes), mib(st.released_bytes),
	       mib(st.inflated_pinned_bytes), mib(p0.rss), mib(p1.rss), mib(p0.memfd),
	       mib(p1.memfd));
	fflush(stdout);
	memmap_destroy(&mm);
}

int main(void)
{
	static const uint64_t granules[] = {4ULL << 10, 2ULL << 20, 1ULL << 30};
	unsigned int i;

	printf("balloon_cost: 1G of guest RAM (memfd backing, every page touched first), each "
	       "4K page inflated in order, then deflated; IOMMU listener counts map/unmap, "
	       "issues no ioctl; releases/populates are fallocate calls\n");
	for (i = 0; i < sizeof(granules) / sizeof(granules[0]); i++) {
		run(granules[i], false);
		run(granules[i], true);
	}
	if (nr_other_falloc)
		printf("other fallocate calls: %" PRIu64 "\n", nr_other_falloc);
	return 0;
}
