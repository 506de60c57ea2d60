// SPDX-License-Identifier: MIT
/*
 * What per-granule IOMMU mapping costs on a real type1 container (issue 8, item 5):
 *
 *     vfio_map BDF [MIB]
 *
 * BDF is a PCI function bound to vfio-pci whose group is viable (the testbed's edu); MIB
 * (default 1024) is the guest RAM mapped, in MiB, one region at guest-physical 0. For granules of
 * 4K, 64K, 2M and 1G (those that divide it), with the RAM written first so that pinning
 * is measured rather than page allocation:
 *
 *   whole    one VFIO_IOMMU_MAP_DMA of all of it and one UNMAP_DMA, the baseline;
 *   map      the container joining the memory map as its pinning listener, which maps
 *            every granule with its own MAP_DMA (what slabvm does before the guest runs);
 *   inflate  every page inflated through the balloon's batched call (16384 PFNs per call,
 *            the most slabvm's balloon reads from one buffer), which unmaps and releases
 *            each granule as it fills;
 *   deflate  every page deflated the same way: each granule populated and mapped again;
 *   unmap    the listener leaving: one UNMAP_DMA per granule;
 *   whole    again at the end, on the same pages.
 *
 * Then the same at granules of 2M and 1G with hugetlb backing (--hugepages hugetlb, 2M
 * pages): as root it raises /proc/sys/vm/nr_hugepages by the pages missing for the RAM and
 * puts the old value back after; it says so, or why it skipped them.
 *
 * The calls are the container's own counts (struct vfio_container). A granule count above
 * type1's dma_entry_limit is refused by the kernel; as root the benchmark raises the module
 * parameter for its own containers when it must and puts the old value back, and says so.
 * A benchmark, not a test: it prints figures and fails only when a call fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "base/size.h"
#include "mem/memmap.h"
#include "vfio/container.h"

#define BATCH 16384

static const char *bdf;

static void die(const char *what, uint64_t granule, const char *why)
{
	fprintf(stderr, "vfio_map: granule %s: %s: %s\n", size_str(granule).s, what, why);
	exit(1);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int read_limit(uint64_t *limit)
{
	struct error err = {0};

	return vfio_read_entry_limit(VFIO_DMA_ENTRY_LIMIT_PATH, limit, &err);
}

static int write_limit(uint64_t limit)
{
	FILE *f = fopen(VFIO_DMA_ENTRY_LIMIT_PATH, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%" PRIu64 "\n", limit) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = ret ? ret : -errno;
	return ret;
}

/* Inflates or deflates every page of the region, BATCH PFNs per call, in address order. */
static void balloon_all(struct memmap *mm, const struct memmap_region *r, bool inflate,
			uint64_t *gpas)
{
	struct memmap_batch_result res;
	uint64_t npages = r->size / MEMMAP_PAGE_SIZE, i, n, k;
	int ret;

	for (i = 0; i < npages; i += n) {
		n = npages - i < BATCH ? npages - i : BATCH;
		for (k = 0; k < n; k++)
			gpas[k] = r->gpa + (i + k) * MEMMAP_PAGE_SIZE;
		memset(&res, 0, sizeof(res));
		ret = inflate ? memmap_inflate_pages(mm, gpas, n, &res)
			      : memmap_deflate_pages(mm, gpas, n, &res);
		if (ret || res.count[MEMMAP_PAGE_DONE] != n)
			die(inflate ? "inflate" : "deflate", mm->granule,
			    ret ? strerror(-ret) : "pages refused");
	}
}

/* One MAP_DMA of the whole region and one UNMAP_DMA, on the container's fd. */
static void whole(struct vfio_container *c, const struct memmap_region *r, double *tmap,
		  double *tunmap)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)r->hva,
		.iova = r->gpa,
		.size = r->size,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = r->gpa,
		.size = r->size,
	};
	double t0 = now(), t1, t2;

	if (ioctl(c->fd, VFIO_IOMMU_MAP_DMA, &map) < 0)
		die("one MAP_DMA of the whole region", 0, strerror(errno));
	t1 = now();
	if (ioctl(c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0 || unmap.size != r->size)
		die("one UNMAP_DMA of the whole region", 0, strerror(errno));
	t2 = now();
	*tmap = t1 - t0;
	*tunmap = t2 - t1;
}

static void run(uint64_t ram, uint64_t granule, uint64_t *gpas, enum hugepages_mode mode)
{
	struct memmap_config cfg = {.mem = ram, .granule = granule, .hugepages = {.mode = mode}};
	struct error err = {0};
	struct vfio_container c;
	struct memmap_region *r;
	struct memmap mm;
	uint64_t old_limit = 0, need = ram / granule, off, maps[4], unmaps[4];
	double t[6], wmap, wunmap, wmap2, wunmap2, gib = (double)ram / (double)(1ULL << 30);
	bool raised = false;
	int ret;

	if (memmap_init(&mm, &cfg, NULL, NULL, &err))
		die("memmap_init", granule, err.msg);
	if (memmap_start(&mm, &err))
		die("memmap_start", granule, err.msg);
	r = &mm.region[0];
	if (mm.nregions != 1 || r->size != ram)
		die("layout", granule, "expected one region of all RAM");
	for (off = 0; off < r->size; off += MEMMAP_PAGE_SIZE)
		r->hva[off] = 1;

	/* type1 reads dma_entry_limit when a container is opened. */
	if (read_limit(&old_limit) == 0 && old_limit < need + 1) {
		ret = write_limit(need + 1);
		if (ret)
			die("raising dma_entry_limit", granule, strerror(-ret));
		raised = true;
	}
	vfio_container_init(&c, &vfio_host_ops, NULL, NULL, NULL);
	if (vfio_container_add_device(&c, bdf, NULL, &err))
		die("opening the device", granule, err.msg);
	if (raised && (ret = write_limit(old_limit)))
		die("restoring dma_entry_limit", granule, strerror(-ret));

	whole(&c, r, &wmap, &wunmap);
	t[0] = now();
	if (memmap_add_listener(&mm, &c.listener, &err))
		die("the container joining the map", granule, err.msg);
	t[1] = now();
	maps[0] = c.nmap_calls, unmaps[0] = c.nunmap_calls;
	balloon_all(&mm, r, true, gpas);
	t[2] = now();
	maps[1] = c.nmap_calls, unmaps[1] = c.nunmap_calls;
	balloon_all(&mm, r, false, gpas);
	t[3] = now();
	maps[2] = c.nmap_calls, unmaps[2] = c.nunmap_calls;
	if (memmap_remove_listener(&mm, &c.listener, &err))
		die("the container leaving the map", granule, err.msg);
	t[4] = now();
	maps[3] = c.nmap_calls, unmaps[3] = c.nunmap_calls;
	if (c.nmapped)
		die("after leaving", granule, "mappings left in the container");
	whole(&c, r, &wmap2, &wunmap2);

	printf("vfio_map: %s of RAM (%s), granule %s%s: whole: 1 MAP_DMA %.4f s, 1 UNMAP_DMA %.4f "
	       "s "
	       "(again at the end: %.4f s, %.4f s) | "
	       "map: %" PRIu64 " MAP_DMA %.3f s (%.3f s/GiB, %.2f us each) | "
	       "inflate all: %" PRIu64 " UNMAP_DMA %.3f s | deflate all: %" PRIu64
	       " MAP_DMA %.3f s | unmap: %" PRIu64 " UNMAP_DMA %.3f s\n",
	       size_str(ram).s, mode == HUGEPAGES_HUGETLB ? "hugetlb 2M" : "shmem",
	       size_str(granule).s, raised ? " (dma_entry_limit raised for this run)" : "", wmap,
	       wunmap, wmap2, wunmap2, maps[0], t[1] - t[0], (t[1] - t[0]) / gib,
	       1e6 * (t[1] - t[0]) / (double)maps[0], unmaps[1] - unmaps[0], t[2] - t[1],
	       maps[2] - maps[1], t[3] - t[2], unmaps[3] - unmaps[2], t[4] - t[3]);
	fflush(stdout);
	vfio_container_destroy(&c);
	memmap_destroy(&mm);
}

static int read_nr(uint64_t *v)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%" SCNu64, v) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

static int write_nr(uint64_t v)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%" PRIu64 "\n", v) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = ret ? ret : -errno;
	return ret;
}

/* The hugetlb runs, with the pool raised for them if it must be (and put back). */
static void run_hugetlb(uint64_t ram, uint64_t *gpas)
{
	static const uint64_t granules[] = {2ULL << 20, 1ULL << 30};
	struct hugepages_config hp = {.mode = HUGEPAGES_HUGETLB};
	uint64_t avail = 0, need = ram >> 21, nr = 0, add;
	bool raised = false;
	size_t i;

	if (hugepages_available(&hp, &avail)) {
		printf("vfio_map: hugetlb skipped: no 2M huge page pool\n");
		return;
	}
	if (avail < need) {
		if (read_nr(&nr)) {
			printf("vfio_map: hugetlb skipped: cannot read nr_hugepages\n");
			return;
		}
		raised = true;
		add = need - avail;
		if (write_nr(nr + add) || hugepages_available(&hp, &avail) || avail < need) {
			printf("vfio_map: hugetlb skipped: %" PRIu64 " free 2M huge pages, %" PRIu64
			       " needed, and the pool could not be raised\n",
			       avail, need);
			(void)write_nr(nr);
			return;
		}
		printf("vfio_map: nr_hugepages raised from %" PRIu64 " by the %" PRIu64
		       " pages missing for the hugetlb runs\n",
		       nr, add);
	}
	for (i = 0; i < sizeof(granules) / sizeof(granules[0]); i++)
		if (ram % granules[i] == 0)
			run(ram, granules[i], gpas, HUGEPAGES_HUGETLB);
	if (raised && write_nr(nr))
		fprintf(stderr, "vfio_map: could not put nr_hugepages back to %" PRIu64 "\n", nr);
}

int main(int argc, char **argv)
{
	static const uint64_t granules[] = {4ULL << 10, 64ULL << 10, 2ULL << 20, 1ULL << 30};
	struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
	uint64_t ram = 1ULL << 30, *gpas;
	char *end;
	size_t i;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: vfio_map BDF [MIB]\n");
		return 2;
	}
	bdf = argv[1];
	if (argc == 3) {
		errno = 0;
		ram = strtoull(argv[2], &end, 10);
		if (errno || *end || ram == 0 || ram > (1ULL << 20)) {
			fprintf(stderr, "vfio_map: %s is not a size in MiB (1-1048576)\n", argv[2]);
			return 2;
		}
		ram <<= 20;
	}
	/* type1 accounts pinned pages against RLIMIT_MEMLOCK unless the caller may lock. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		fprintf(stderr, "vfio_map: RLIMIT_MEMLOCK stays as it is: %s\n", strerror(errno));
	gpas = malloc(BATCH * sizeof(*gpas));
	if (!gpas)
		return 1;
	for (i = 0; i < sizeof(granules) / sizeof(granules[0]); i++) {
		if (ram % granules[i] == 0)
			run(ram, granules[i], gpas, HUGEPAGES_OFF);
		else
			printf("vfio_map: granule %s skipped: it does not divide %s\n",
			       size_str(granules[i]).s, size_str(ram).s);
	}
	run_hugetlb(ram, gpas);
	free(gpas);
	return 0;
}
