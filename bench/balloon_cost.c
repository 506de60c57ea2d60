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
 * Then the batched calls (memmap_inflate_pages / memmap_deflate_pages) on the same 1 GiB,
 * for granules of 4K and 2M, without and with the listener, with the pages in address
 * order (contiguous) and in a seeded random order (scattered), in batches of 256 PFNs
 * (what Linux's virtio_balloon driver puts in one buffer), 16384 (what slabvm's balloon
 * reads from one buffer at most) and the whole GiB. Each line is set against one
 * fallocate(PUNCH_HOLE) of a freshly written 1 GiB memfd, timed just before it.
 *
 * Last, the backings of --hugepages (off, thp, hugetlb; `balloon_cost backing` runs only
 * that part): creating 1 GiB, the host's first touch of it, and the balloon releasing it
 * all in 2 MiB granules.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/size.h"
#include "mem/memmap.h"

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

/* One punch of a whole freshly written GiB: what a batch is measured against. */
static double punch_once(void)
{
	struct timespec a, b;
	uint8_t *p;
	uint64_t off;
	int fd;

	fd = memfd_create("balloon-cost-baseline", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, BENCH_RAM) < 0) {
		perror("balloon_cost: baseline memfd");
		exit(1);
	}
	p = mmap(NULL, BENCH_RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("balloon_cost: baseline mmap");
		exit(1);
	}
	for (off = 0; off < BENCH_RAM; off += MEMMAP_PAGE_SIZE)
		p[off] = 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, BENCH_RAM) < 0) {
		perror("balloon_cost: baseline punch");
		exit(1);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	munmap(p, BENCH_RAM);
	close(fd);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Every page of the GiB at 0, in address order or shuffled with a fixed seed. */
static uint64_t *page_order(bool scattered)
{
	uint64_t npages = BENCH_RAM / MEMMAP_PAGE_SIZE, i, k, t, x = 0x9e3779b97f4a7c15ULL;
	uint64_t *v = malloc(npages * sizeof(*v));

	if (!v) {
		fprintf(stderr, "balloon_cost: no memory for the page list\n");
		exit(1);
	}
	for (i = 0; i < npages; i++)
		v[i] = i * MEMMAP_PAGE_SIZE;
	for (i = npages; scattered && i > 1; i--) {
		x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
		k = (x * 0x2545F4914F6CDD1DULL) % i;
		t = v[i - 1], v[i - 1] = v[k], v[k] = t;
	}
	return v;
}

/* Inflates (or deflates) all of v, batch pages per call. */
static void balloon_batched(struct memmap *mm, const uint64_t *v, bool inflate, size_t batch,
			    bool iommu)
{
	const size_t npages = BENCH_RAM / MEMMAP_PAGE_SIZE;
	struct memmap_batch_result res = {0};
	size_t i, n;
	int ret;

	for (i = 0; i < npages; i += n) {
		n = npages - i < batch ? npages - i : batch;
		ret = inflate ? memmap_inflate_pages(mm, v + i, n, &res)
			      : memmap_deflate_pages(mm, v + i, n, &res);
		if (ret || res.count[MEMMAP_PAGE_DONE] != n)
			fail(inflate ? "batched inflate" : "batched deflate", mm->granule, iommu,
			     ret ? strerror(-ret) : "pages refused");
	}
}

static void run_batched(uint64_t granule, bool iommu, bool scattered, size_t batch)
{
	struct memmap_config cfg = {.mem = BENCH_RAM, .granule = granule};
	struct counting_iommu io = {
		.l = {.name = "bench-iommu",
		      .pins = true,
		      .granule_map = iommu_map,
		      .granule_unmap = iommu_unmap},
	};
	uint64_t *v = page_order(scattered);
	struct sample s0, s1, s2;
	struct error err = {0};
	struct memmap_stats st;
	struct memmap_region *r;
	struct memmap mm;
	double one;

	one = punch_once();
	if (memmap_init(&mm, &cfg, NULL, NULL, &err))
		fail("memmap_init", granule, iommu, err.msg);
	if (iommu && memmap_add_listener(&mm, &io.l, &err))
		fail("memmap_add_listener", granule, iommu, err.msg);
	if (memmap_start(&mm, &err))
		fail("memmap_start", granule, iommu, err.msg);
	r = &mm.region[0];
	touch(r);
	take(&s0, &io, r);
	balloon_batched(&mm, v, true, batch, iommu);
	take(&s1, &io, r);
	memmap_get_stats(&mm, &st);
	if (st.inflated_bytes != BENCH_RAM || st.released_bytes != BENCH_RAM)
		fail("after batched inflate", granule, iommu, "not every page released");
	balloon_batched(&mm, v, false, batch, iommu);
	take(&s2, &io, r);
	memmap_get_stats(&mm, &st);
	if (st.inflated_bytes || st.released_bytes)
		fail("after batched deflate", granule, iommu, "pages still inflated or released");
	printf("batched: granule %s, %s, %s, %6zu per batch: inflate 1G %.3f s = %5.2fx one "
	       "punch of 1G (%.3f s), %6" PRIu64 " releases, %6" PRIu64 " unmaps; deflate "
	       "%.3f s, %" PRIu64 " populates, %" PRIu64 " maps; memfd %.0fM -> %.0fM -> %.0fM\n",
	       size_str(granule).s, iommu ? "iommu   " : "no iommu",
	       scattered ? "scattered " : "contiguous", batch, seconds(&s0, &s1),
	       seconds(&s0, &s1) / one, one, s1.punch - s0.punch, s1.unmap - s0.unmap,
	       seconds(&s1, &s2), s2.alloc - s1.alloc, s2.map - s1.map, mib(s0.memfd),
	       mib(s1.memfd), mib(s2.memfd));
	fflush(stdout);
	memmap_destroy(&mm);
	free(v);
}

static double since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/*
 * The backings of --hugepages, 2M granules, no IOMMU: creating 1G of RAM (hugetlb reserves
 * its pages there), the host's first touch of every page and a second pass over backed
 * memory, the balloon inflating all of it contiguously in Linux's batches of 256 PFNs
 * (released per GiB), deflating it, and the teardown.
 */
static void run_backing(enum hugepages_mode mode)
{
	struct memmap_config cfg = {.mem = BENCH_RAM, .granule = 2ULL << 20};
	struct counting_iommu io = {0};
	uint64_t *v = page_order(false), avail = 0;
	double t_init, t_touch1, t_touch2, t_destroy;
	struct sample s0, s1, s2;
	struct error err = {0};
	struct memmap_stats st;
	struct timespec t;
	struct memmap_region *r;
	struct memmap mm;
	const char *word = "";

	cfg.hugepages.mode = mode;
	if (mode == HUGEPAGES_HUGETLB &&
	    (hugepages_available(&cfg.hugepages, &avail) || avail < BENCH_RAM >> 21)) {
		printf("backing hugetlb: skipped, %" PRIu64 " free 2M huge pages, 512 needed "
		       "(as root: echo 512 > /proc/sys/vm/nr_hugepages)\n",
		       avail);
		free(v);
		return;
	}
	if (mode == HUGEPAGES_THP && !hugepages_thp_honoured(&cfg.hugepages, &word))
		printf("backing thp: shmem_enabled is %s here, so thp backs RAM as off does\n",
		       word);
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (memmap_init(&mm, &cfg, NULL, NULL, &err) || memmap_start(&mm, &err))
		fail("memmap_init", cfg.granule, false, err.msg);
	t_init = since(&t);
	r = &mm.region[0];
	clock_gettime(CLOCK_MONOTONIC, &t);
	touch(r);
	t_touch1 = since(&t);
	clock_gettime(CLOCK_MONOTONIC, &t);
	touch(r);
	t_touch2 = since(&t);
	take(&s0, &io, r);
	balloon_batched(&mm, v, true, 256, false);
	take(&s1, &io, r);
	memmap_get_stats(&mm, &st);
	if (st.inflated_bytes != BENCH_RAM || st.released_bytes != BENCH_RAM)
		fail("after inflate", cfg.granule, false, "not every page released");
	balloon_batched(&mm, v, false, 256, false);
	take(&s2, &io, r);
	clock_gettime(CLOCK_MONOTONIC, &t);
	memmap_destroy(&mm);
	t_destroy = since(&t);
	printf("backing %-7s: create 1G %.4f s, first touch 1G %.3f s, second pass %.3f s; "
	       "inflate 1G %.3f s (%" PRIu64 " releases), deflate %.3f s (%" PRIu64
	       " populates); destroy %.4f s\n",
	       hugepages_mode_name(mode), t_init, t_touch1, t_touch2, seconds(&s0, &s1),
	       s1.punch - s0.punch, seconds(&s1, &s2), s2.alloc - s1.alloc, t_destroy);
	fflush(stdout);
	free(v);
}

int main(int argc, char **argv)
{
	static const size_t batches[] = {256, 16384, BENCH_RAM / MEMMAP_PAGE_SIZE};
	static const enum hugepages_mode modes[] = {HUGEPAGES_OFF, HUGEPAGES_THP,
						    HUGEPAGES_HUGETLB};
	unsigned int b, order;
	static const uint64_t granules[] = {4ULL << 10, 2ULL << 20, 1ULL << 30};
	unsigned int i, k;

	/* "backing": only the last part, the backings of --hugepages (run 3 times). */
	if (argc > 1 && !strcmp(argv[1], "backing"))
		goto backing;
	printf("balloon_cost: 1G of guest RAM (memfd backing, every page touched first), each "
	       "4K page inflated in order, then deflated; IOMMU listener counts map/unmap, "
	       "issues no ioctl; releases/populates are fallocate calls\n");
	for (i = 0; i < sizeof(granules) / sizeof(granules[0]); i++) {
		run(granules[i], false);
		run(granules[i], true);
	}
	printf("balloon_cost: the same with memmap_inflate_pages / memmap_deflate_pages\n");
	for (order = 0; order < 2; order++)
		for (i = 0; i < 2; i++)
			for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
				run_batched(granules[i], false, order, batches[b]);
				run_batched(granules[i], true, order, batches[b]);
			}
backing:
	printf("balloon_cost: the backings of --hugepages, 1G in 2M granules, no IOMMU, "
	       "batches of 256 contiguous PFNs, three rounds\n");
	for (k = 0; k < 3; k++)
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			run_backing(modes[i]);
	if (nr_other_falloc)
		printf("other fallocate calls: %" PRIu64 "\n", nr_other_falloc);
	return 0;
}
