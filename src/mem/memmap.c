// SPDX-License-Identifier: MIT
/*
 * The memory map and its granule state machine: the reference implementation of the
 * design in memmap.h. Everything that maps, unmaps, populates or releases guest RAM
 * happens here, in an order that keeps one promise: no device DMA and no guest access can
 * ever reach memory the host has freed.
 */
#include "mem/memmap.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/size.h"
#include "mem/hugepages.h"

#define BITS_PER_LONG (8 * sizeof(unsigned long))

static bool bit_test(const unsigned long *map, uint64_t n)
{
	return map[n / BITS_PER_LONG] & (1UL << (n % BITS_PER_LONG));
}

static void bit_set(unsigned long *map, uint64_t n)
{
	map[n / BITS_PER_LONG] |= 1UL << (n % BITS_PER_LONG);
}

static void bit_clear(unsigned long *map, uint64_t n)
{
	map[n / BITS_PER_LONG] &= ~(1UL << (n % BITS_PER_LONG));
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

const char *memmap_state_name(enum granule_state s)
{
	switch (s) {
	case GRANULE_UNPLUGGED:
		return "unplugged";
	case GRANULE_MAPPED:
		return "mapped";
	case GRANULE_PARTIAL:
		return "partial";
	case GRANULE_DISCARDED:
		return "discarded";
	}
	return "?";
}

const char *memmap_kind_name(enum memmap_kind k)
{
	switch (k) {
	case MEMMAP_RAM_LOW:
		return "ram-low";
	case MEMMAP_RAM_HIGH:
		return "ram-high";
	case MEMMAP_DIMM:
		return "dimm";
	}
	return "?";
}

/*
 * The default backing: one memfd per region, so that memory can be punched out of it; or,
 * for boot RAM under thp where the host gives huge pages to anonymous memory but not to
 * shmem (hugepages_thp_anon), private anonymous memory.
 */

/*
 * Anonymous boot RAM, aligned to 2 MiB so that a huge page of the host lines up with a
 * 2 MiB range of guest-physical memory (what lets KVM and the IOMMU map it whole; kernels
 * before 6.7 do not align large anonymous mappings themselves).
 */
static int anon_backing_create(struct memmap_region *r)
{
	const uint64_t align = HUGEPAGES_SIZE_2M;
	uint8_t *base, *hva;
	uint64_t head;

	base = mmap(NULL, r->size + align, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	hva = (uint8_t *)(((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1));
	head = (uint64_t)(hva - base);
	if (head)
		munmap(base, head);
	munmap(hva + r->size, align - head);
	(void)madvise(hva, r->size, MADV_HUGEPAGE);
	/* No child may share these pages copy-on-write: the guest's and a device's view of
	 * a page written after a fork would part. slabvm makes none; a library might. */
	(void)madvise(hva, r->size, MADV_DONTFORK);
	r->hva = hva;
	r->fd = -1;
	r->anon = true;
	return 0;
}

static int memfd_backing_create(void *opaque, struct memmap_region *r)
{
	static const struct hugepages_config off = {0};
	const struct hugepages_config *hp = opaque ? opaque : &off;
	char name[32];
	void *hva;
	int fd, ret;

	if (hp->anon_ram && r->kind != MEMMAP_DIMM)
		return anon_backing_create(r);
	if (r->kind == MEMMAP_DIMM)
		snprintf(name, sizeof(name), "slabvm-dimm-%u", r->index);
	else
		snprintf(name, sizeof(name), "slabvm-%s", memmap_kind_name(r->kind));
	fd = memfd_create(name, hugepages_memfd_flags(hp));
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, r->size) < 0) {
		ret = -errno;
		goto err_close;
	}
	/*
	 * The memfd is sparse; allocation happens on touch, populate or IOMMU pinning. A
	 * hugetlb mapping reserves its huge pages here instead (no MAP_NORESERVE), so that a
	 * pool that runs short fails this call rather than a guest access later.
	 */
	hva = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | (hp->mode == HUGEPAGES_HUGETLB ? 0 : MAP_NORESERVE), fd, 0);
	if (hva == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	/* A request only: a kernel without THP or with shmem THP off ignores or refuses it,
	 * and the memory works the same, in 4 KiB pages. */
	if (hp->mode == HUGEPAGES_THP)
		(void)madvise(hva, r->size, MADV_HUGEPAGE);
	r->hva = hva;
	r->fd = fd;
	return 0;

err_close:
	close(fd);
	return ret;
}

static void memfd_backing_destroy(void *opaque, struct memmap_region *r)
{
	(void)opaque;
	munmap(r->hva, r->size);
	if (!r->anon)
		close(r->fd);
	r->anon = false;
}

/*
 * fallocate on a memfd (shmem) stops with EINTR when a signal arrives, SA_RESTART or not;
 * a vCPU thread can get the kick signal while it deflates. Both calls can simply be
 * repeated: what was allocated or punched already stays so.
 */
static int memfd_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	while (fallocate(fd, mode, off, len) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/*
 * Anonymous memory: populate faults the pages in writable (MADV_POPULATE_WRITE, Linux
 * 5.14), so that a shortage shows here as with fallocate; an older kernel leaves it to the
 * guest's or the IOMMU's first touch. It stops with EINTR on a signal, like fallocate.
 */
static int anon_madvise(struct memmap_region *r, uint64_t off, uint64_t len, int advice)
{
	while (madvise(r->hva + off, len, advice) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EINVAL && advice == MADV_POPULATE_WRITE)
			return 0;
		return -errno;
	}
	return 0;
}

static int memfd_backing_populate(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	(void)opaque;
	if (r->anon)
		return anon_madvise(r, off, len, MADV_POPULATE_WRITE);
	return memfd_fallocate(r->fd, 0, off, len);
}

/*
 * Punch a hole rather than madvise(MADV_DONTNEED): for shared memory, DONTNEED only drops
 * this process's page table entries and the pages stay in the memfd, still allocated. For
 * private anonymous memory DONTNEED is what frees the pages (a part of a huge page is
 * split off and freed when the kernel splits it, at once or under memory pressure).
 */
static int memfd_backing_release(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	(void)opaque;
	if (r->anon)
		return anon_madvise(r, off, len, MADV_DONTNEED);
	return memfd_fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

const struct memmap_backing_ops memmap_memfd_backing = {
	.create = memfd_backing_create,
	.destroy = memfd_backing_destroy,
	.populate = memfd_backing_populate,
	.release = memfd_backing_release,
};

int memmap_check_granule(uint64_t granule, struct error *err)
{
	if (granule < MEMMAP_GRANULE_MIN || granule > MEMMAP_GRANULE_MAX ||
	    (granule & (granule - 1)))
		return error_usage(err, -EINVAL,
				   "--granule %s: must be a power of two from 4K to 1G",
				   size_str(granule).s);
	return 0;
}

static void set_state(struct memmap *mm, struct memmap_region *r, uint64_t g, enum granule_state s)
{
	mm->nr_granules[r->state[g]]--;
	mm->nr_granules[s]++;
	r->state[g] = s;
}

static void set_region_state(struct memmap *mm, struct memmap_region *r, enum granule_state s)
{
	uint64_t g;

	for (g = 0; g < r->ngranules; g++)
		set_state(mm, r, g, s);
}

/* Frees what region_alloc gave; the region is empty after (a --slots slot with no DIMM). */
static void region_free(struct memmap *mm, struct memmap_region *r)
{
	if (r->state && r->ninflated && r->inflated && r->released)
		mm->nr_granules[GRANULE_UNPLUGGED] -= r->ngranules;
	free(r->state);
	free(r->ninflated);
	free(r->inflated);
	free(r->released);
	r->state = NULL;
	r->ninflated = NULL;
	r->inflated = NULL;
	r->released = NULL;
	r->gpa = 0;
	r->size = 0;
	r->ngranules = 0;
}

/* Gives region r its granule and page maps, all granules GRANULE_UNPLUGGED. */
static int region_alloc(struct memmap *mm, struct memmap_region *r, uint64_t gpa, uint64_t size)
{
	uint64_t npages = size / MEMMAP_PAGE_SIZE;
	uint64_t nlongs = (npages + BITS_PER_LONG - 1) / BITS_PER_LONG;

	r->gpa = gpa;
	r->size = size;
	r->ngranules = size >> mm->granule_shift;
	r->state = calloc(r->ngranules, sizeof(*r->state));
	r->ninflated = calloc(r->ngranules, sizeof(*r->ninflated));
	r->inflated = calloc(nlongs, sizeof(*r->inflated));
	r->released = calloc(nlongs, sizeof(*r->released));
	if (!r->state || !r->ninflated || !r->inflated || !r->released) {
		region_free(mm, r);
		return -ENOMEM;
	}
	mm->nr_granules[GRANULE_UNPLUGGED] += r->ngranules;
	return 0;
}

/* Appends a region; size 0 makes an empty --slots slot. */
static int layout_region(struct memmap *mm, enum memmap_kind kind, uint64_t gpa, uint64_t size)
{
	struct memmap_region *r = &mm->region[mm->nregions];

	r->kind = kind;
	r->index = mm->nregions;
	r->fd = -1;
	/* Counted as soon as it exists so memmap_destroy can free a half-built region. */
	mm->nregions++;
	return size ? region_alloc(mm, r, gpa, size) : 0;
}

/*
 * The most DIMM slots that fit next to the boot regions, and the smallest slot size that
 * needs no more than that: a whole number of granules that divides the window.
 */
static uint64_t smallest_dimm_size(uint64_t window, uint64_t granule, uint64_t max_slots)
{
	uint64_t n;

	for (n = max_slots; n > 1; n--)
		if (window % n == 0 && (window / n) % granule == 0)
			return window / n;
	return window;
}

static int layout(struct memmap *mm, const struct memmap_config *cfg, struct error *err)
{
	uint64_t g = cfg->granule ? cfg->granule : MEMMAP_GRANULE_DEFAULT;
	uint64_t mem = cfg->mem;
	uint64_t maxmem = cfg->maxmem ? cfg->maxmem : cfg->mem;
	uint64_t low, high, window, dimm, base, end, nslots, max_slots, i;
	int ret;

	ret = memmap_check_granule(g, err);
	if (ret)
		return ret;
	if (mem < MEMMAP_MEM_MIN)
		return error_usage(err, -EINVAL, "--mem %s: too small, the guest needs at least %s",
				   size_str(mem).s, size_str(MEMMAP_MEM_MIN).s);
	/* Checked first so the sums below cannot overflow. */
	if (mem > MEMMAP_RAM_END_MAX || maxmem > MEMMAP_RAM_END_MAX)
		return error_usage(err, -EINVAL, "--%s %s: more than the %s this machine addresses",
				   mem > MEMMAP_RAM_END_MAX ? "mem" : "maxmem",
				   size_str(mem > MEMMAP_RAM_END_MAX ? mem : maxmem).s,
				   size_str(MEMMAP_RAM_END_MAX).s);
	if (mem % g) {
		uint64_t down = mem - mem % g;

		/* Every region must be whole granules, or a granule would straddle its end. */
		if (down < MEMMAP_MEM_MIN)
			return error_usage(
				err, -EINVAL,
				"--mem %s is not a multiple of --granule %s; try --mem %s",
				size_str(mem).s, size_str(g).s, size_str(down + g).s);
		return error_usage(err, -EINVAL,
				   "--mem %s is not a multiple of --granule %s; try --mem %s or %s",
				   size_str(mem).s, size_str(g).s, size_str(down).s,
				   size_str(down + g).s);
	}
	if (maxmem < mem)
		return error_usage(err, -EINVAL, "--maxmem %s: smaller than --mem %s",
				   size_str(maxmem).s, size_str(mem).s);
	if (maxmem % g)
		return error_usage(err, -EINVAL, "--maxmem %s is not a multiple of --granule %s",
				   size_str(maxmem).s, size_str(g).s);
	if (cfg->slots && cfg->dimm_size)
		return error_usage(err, -EINVAL,
				   "--slots %" PRIu32
				   " and a fixed DIMM size %s exclude each other",
				   cfg->slots, size_str(cfg->dimm_size).s);
	if (cfg->dimm_size && maxmem == mem)
		return error_usage(err, -EINVAL,
				   "DIMM size %s: there is no hotplug window (--maxmem is not "
				   "larger than --mem)",
				   size_str(cfg->dimm_size).s);
	if (cfg->dimm_size % g)
		return error_usage(err, -EINVAL, "DIMM size %s is not a multiple of --granule %s",
				   size_str(cfg->dimm_size).s, size_str(g).s);

	low = mem < MEMMAP_LOW_END ? mem : MEMMAP_LOW_END;
	high = mem - low;
	window = maxmem - mem;
	base = align_up(high ? MEMMAP_HIGH_BASE + high : MEMMAP_HIGH_BASE, MEMMAP_DIMM_ALIGN);
	end = window ? base + window : high ? MEMMAP_HIGH_BASE + high : low;
	if (end > MEMMAP_RAM_END_MAX)
		return error_usage(err, -EINVAL,
				   "--%s %s puts the end of RAM at %s, above the %s this machine "
				   "addresses",
				   window ? "maxmem" : "mem", size_str(window ? maxmem : mem).s,
				   size_str(end).s, size_str(MEMMAP_RAM_END_MAX).s);

	max_slots = MEMMAP_MAX_REGIONS - (high ? 2 : 1);
	dimm = cfg->dimm_size ? cfg->dimm_size : window;
	nslots = 0;
	if (cfg->slots) {
		uint64_t align = g > MEMMAP_DIMM_BLOCK ? g : MEMMAP_DIMM_BLOCK;

		if (!window)
			return error_usage(err, -EINVAL,
					   "--slots %" PRIu32 ": there is no hotplug window "
					   "(--maxmem is not larger than --mem)",
					   cfg->slots);
		if (cfg->slots > max_slots)
			return error_usage(err, -EINVAL,
					   "--slots %" PRIu32 ": more than the %" PRIu64
					   " that fit",
					   cfg->slots, max_slots);
		/* DIMMs are whole blocks: a window's tail smaller than one would be unusable. */
		if (window % align)
			return error_usage(err, -EINVAL,
					   "--maxmem %s: the %s hotplug window (--maxmem minus "
					   "--mem %s) is not a multiple of %s, the DIMM alignment",
					   size_str(maxmem).s, size_str(window).s, size_str(mem).s,
					   size_str(align).s);
	} else if (window) {
		if (window % dimm)
			return error_usage(err, -EINVAL,
					   "DIMM size %s does not divide the %s hotplug window "
					   "(--maxmem %s minus --mem %s)",
					   size_str(dimm).s, size_str(window).s, size_str(maxmem).s,
					   size_str(mem).s);
		nslots = window / dimm;
		if (nslots > max_slots)
			return error_usage(err, -EINVAL,
					   "DIMM size %s cuts the %s hotplug window into %" PRIu64
					   " slots, more than the %" PRIu64
					   " that fit; a DIMM size of %s or larger works",
					   size_str(dimm).s, size_str(window).s, nslots, max_slots,
					   size_str(smallest_dimm_size(window, g, max_slots)).s);
	}

	mm->granule = g;
	mm->granule_shift = __builtin_ctzll(g);
	mm->pages_per_granule = g / MEMMAP_PAGE_SIZE;
	ret = layout_region(mm, MEMMAP_RAM_LOW, 0, low);
	if (!ret && high)
		ret = layout_region(mm, MEMMAP_RAM_HIGH, MEMMAP_HIGH_BASE, high);
	mm->dimm_first = mm->nregions;
	mm->nslots = cfg->slots;
	for (i = 0; !ret && i < nslots; i++)
		ret = layout_region(mm, MEMMAP_DIMM, base + i * dimm, dimm);
	for (i = 0; !ret && i < cfg->slots; i++)
		ret = layout_region(mm, MEMMAP_DIMM, 0, 0);
	if (ret)
		return error_set(err, ret, "--mem %s: no memory for the granule map",
				 size_str(mem).s);
	mm->dimm_base = base;
	mm->dimm_end = base + window;
	return 0;
}

int memmap_init(struct memmap *mm, const struct memmap_config *cfg,
		const struct memmap_backing_ops *backing, void *backing_opaque, struct error *err)
{
	unsigned int i;
	int ret;

	memset(mm, 0, sizeof(*mm));
	ret = -pthread_rwlock_init(&mm->lock, NULL);
	if (ret)
		return error_set(err, ret, "memory map lock: %s", strerror(-ret));
	mm->lock_ready = true;
	mm->backing = backing ? backing : &memmap_memfd_backing;
	mm->backing_opaque = backing ? backing_opaque : &mm->hugepages;
	mm->hugepages = cfg->hugepages;
	mm->hugepages.anon_ram = !backing && hugepages_thp_anon(&cfg->hugepages);
	/* Anonymous RAM in transparent huge pages: releasing part of one splits it (and every
	 * huge mapping of it, KVM's too) and frees nothing until the kernel splits the page. */
	mm->whole_granules = cfg->hugepages.mode == HUGEPAGES_HUGETLB || mm->hugepages.anon_ram;

	ret = layout(mm, cfg, err);
	if (ret)
		goto fail;
	ret = hugepages_check_granule(&cfg->hugepages, mm->granule, err);
	if (!ret && !backing)
		ret = hugepages_check_host(&cfg->hugepages, cfg->mem, err);
	if (ret)
		goto fail;
	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		if (r->kind == MEMMAP_DIMM)
			continue;
		ret = mm->backing->create(mm->backing_opaque, r);
		if (ret) {
			error_set(err, ret,
				  "--mem %s: cannot create %s of guest RAM at 0x%" PRIx64 ": %s",
				  size_str(cfg->mem).s, size_str(r->size).s, r->gpa,
				  strerror(-ret));
			goto fail;
		}
		r->plugged = true;
		set_region_state(mm, r, GRANULE_MAPPED);
	}
	return 0;

fail:
	memmap_destroy(mm);
	return ret;
}

void memmap_destroy(struct memmap *mm)
{
	unsigned int i;

	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		if (r->plugged)
			mm->backing->destroy(mm->backing_opaque, r);
		region_free(mm, r);
	}
	if (mm->lock_ready)
		pthread_rwlock_destroy(&mm->lock);
	memset(mm, 0, sizeof(*mm));
}

/* Boot RAM regions come first; DIMM slots (fixed or placed) tile the window after them. */
uint64_t memmap_ram_end(const struct memmap *mm)
{
	unsigned int i;

	if (mm->dimm_end > mm->dimm_base)
		return mm->dimm_end;
	for (i = mm->nregions; i > 0; i--)
		if (mm->region[i - 1].kind != MEMMAP_DIMM)
			return mm->region[i - 1].gpa + mm->region[i - 1].size;
	return 0;
}

uint64_t memmap_pluggable_bytes(const struct memmap *mm)
{
	uint64_t sum = mm->dimm_end - mm->dimm_base;
	unsigned int i;

	for (i = 0; i < mm->nregions; i++)
		if (mm->region[i].kind != MEMMAP_DIMM)
			sum += mm->region[i].size;
	return sum;
}

/*
 * Granules needed for all pluggable RAM at granule size g, or 0 if g does not cut it.
 * Placed DIMMs count as the whole window, whatever is plugged now.
 */
static uint64_t granules_at(const struct memmap *mm, uint64_t g)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];

		if (mm->nslots && r->kind == MEMMAP_DIMM)
			continue;
		if (r->gpa % g || r->size % g)
			return 0;
		n += r->size / g;
	}
	if (mm->nslots) {
		if (mm->dimm_base % g || (mm->dimm_end - mm->dimm_base) % g)
			return 0;
		n += (mm->dimm_end - mm->dimm_base) / g;
	}
	return n;
}

int memmap_check_entry_limit(const struct memmap *mm, uint64_t limit, uint64_t reserved,
			     struct error *err)
{
	uint64_t need = granules_at(mm, mm->granule);
	char devices[48] = "";
	uint64_t g, n;

	if (reserved <= limit && need <= limit - reserved)
		return 0;
	if (reserved)
		snprintf(devices, sizeof(devices), " (and %" PRIu64 " for devices)", reserved);
	/* The smallest granule that fits is the one with the least cost per balloon page. */
	for (g = mm->granule * 2; reserved < limit && g <= MEMMAP_GRANULE_MAX; g *= 2) {
		n = granules_at(mm, g);
		if (n && n <= limit - reserved)
			return error_set(err, -ENOSPC,
					 "--granule %s needs %" PRIu64 " IOMMU mappings for %s of "
					 "RAM%s, but the IOMMU allows %" PRIu64
					 " (dma_entry_limit); "
					 "use --granule %s or larger",
					 size_str(mm->granule).s, need,
					 size_str(memmap_pluggable_bytes(mm)).s, devices, limit,
					 size_str(g).s);
	}
	return error_set(err, -ENOSPC,
			 "--granule %s needs %" PRIu64 " IOMMU mappings for %s of RAM%s, but the "
			 "IOMMU allows %" PRIu64 " (dma_entry_limit) and no granule size fits; "
			 "raise the dma_entry_limit parameter of vfio_iommu_type1",
			 size_str(mm->granule).s, need, size_str(memmap_pluggable_bytes(mm)).s,
			 devices, limit);
}

bool memmap_whole_granules(const struct memmap *mm)
{
	return mm->whole_granules || memmap_has_pinning_listener(mm);
}

bool memmap_deflate_restores(const struct memmap *mm)
{
	return mm->hugepages.mode == HUGEPAGES_HUGETLB || memmap_has_pinning_listener(mm);
}

bool memmap_has_pinning_listener(const struct memmap *mm)
{
	const struct memmap_listener *l;

	for (l = mm->listeners; l; l = l->next)
		if (l->pins)
			return true;
	return false;
}

/*
 * Calling listeners. The *_or_die variants undo a half-done change: if a listener refuses
 * to restore a mapping it held a moment ago, the IOMMU and guest memory disagree and
 * nothing we could do next would be safe (see memmap.h).
 */

static uint64_t granule_gpa(const struct memmap *mm, const struct memmap_region *r, uint64_t g)
{
	return r->gpa + (g << mm->granule_shift);
}

static void *granule_hva(const struct memmap *mm, const struct memmap_region *r, uint64_t g)
{
	return r->hva + (g << mm->granule_shift);
}

static void die(const char *what, const struct memmap_listener *l, uint64_t gpa, int ret)
{
	fprintf(stderr,
		"slabvm: undoing a failed memory map change, %s 0x%" PRIx64 " on %s failed: %s; "
		"guest memory and %s no longer agree\n",
		what, gpa, l->name, strerror(-ret), l->name);
	abort();
}

static int call_map(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r,
		    uint64_t g)
{
	return l->granule_map(l, r, granule_gpa(mm, r, g), mm->granule, granule_hva(mm, r, g));
}

static int call_unmap(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r,
		      uint64_t g)
{
	return l->granule_unmap(l, r, granule_gpa(mm, r, g), mm->granule);
}

static void map_or_die(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r,
		       uint64_t g)
{
	int ret = call_map(mm, l, r, g);

	if (ret)
		die("map of granule", l, granule_gpa(mm, r, g), ret);
}

static void unmap_or_die(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r,
			 uint64_t g)
{
	int ret = call_unmap(mm, l, r, g);

	if (ret)
		die("unmap of granule", l, granule_gpa(mm, r, g), ret);
}

/*
 * Which granules a listener maps: a pinning listener drops discarded granules, whose
 * backing is gone; a non-pinning one follows whole regions and never hears of the balloon.
 */
static bool listener_holds(const struct memmap_listener *l, enum granule_state s)
{
	if (s == GRANULE_UNPLUGGED)
		return false;
	return !l->pins || s != GRANULE_DISCARDED;
}

/* Maps every granule of r that l holds; on failure unmaps what it mapped. */
static int map_region(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r)
{
	uint64_t g, k;
	int ret;

	if (!l->granule_map)
		return 0;
	for (g = 0; g < r->ngranules; g++) {
		if (!listener_holds(l, r->state[g]))
			continue;
		ret = call_map(mm, l, r, g);
		if (ret) {
			for (k = 0; k < g; k++)
				if (listener_holds(l, r->state[k]))
					unmap_or_die(mm, l, r, k);
			return ret;
		}
	}
	return 0;
}

static void unmap_region_or_die(struct memmap *mm, struct memmap_listener *l,
				struct memmap_region *r)
{
	uint64_t g;

	if (!l->granule_unmap)
		return;
	for (g = 0; g < r->ngranules; g++)
		if (listener_holds(l, r->state[g]))
			unmap_or_die(mm, l, r, g);
}

static void map_region_or_die(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r)
{
	uint64_t g;

	if (!l->granule_map)
		return;
	for (g = 0; g < r->ngranules; g++)
		if (listener_holds(l, r->state[g]))
			map_or_die(mm, l, r, g);
}

/* Unmaps every granule of r that l holds; on failure maps back what it unmapped. */
static int unmap_region(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r)
{
	uint64_t g, k;
	int ret;

	if (!l->granule_unmap)
		return 0;
	for (g = 0; g < r->ngranules; g++) {
		if (!listener_holds(l, r->state[g]))
			continue;
		ret = call_unmap(mm, l, r, g);
		if (ret) {
			for (k = 0; k < g; k++)
				if (listener_holds(l, r->state[k]))
					map_or_die(mm, l, r, k);
			return ret;
		}
	}
	return 0;
}

static void region_add_or_die(struct memmap_listener *l, struct memmap_region *r)
{
	int ret;

	if (!l->region_add)
		return;
	ret = l->region_add(l, r);
	if (ret)
		die("region_add of region", l, r->gpa, ret);
}

/*
 * Brings a backed region into every listener. Granules go into the IOMMU before any
 * region_add: region_add is what lets the guest see the memory (a KVM memslot), and the
 * guest may hand an address to a device as soon as it sees it.
 */
static int region_attach(struct memmap *mm, struct memmap_region *r,
			 struct memmap_listener **failed)
{
	struct memmap_listener *l, *k;
	int ret;

	for (l = mm->listeners; l; l = l->next) {
		ret = map_region(mm, l, r);
		if (ret) {
			*failed = l;
			for (k = mm->listeners; k != l; k = k->next)
				unmap_region_or_die(mm, k, r);
			return ret;
		}
	}
	for (l = mm->listeners; l; l = l->next) {
		if (!l->region_add)
			continue;
		ret = l->region_add(l, r);
		if (ret) {
			*failed = l;
			for (k = mm->listeners; k != l; k = k->next)
				if (k->region_del)
					k->region_del(k, r);
			for (k = mm->listeners; k; k = k->next)
				unmap_region_or_die(mm, k, r);
			return ret;
		}
	}
	return 0;
}

/*
 * The reverse of region_attach, in the reverse order: the guest loses sight of the region
 * first, then the IOMMU mappings go. The caller frees the backing only after this.
 */
static int region_detach(struct memmap *mm, struct memmap_region *r,
			 struct memmap_listener **failed)
{
	struct memmap_listener *l, *k;
	int ret;

	for (l = mm->listeners; l; l = l->next)
		if (l->region_del)
			l->region_del(l, r);
	for (l = mm->listeners; l; l = l->next) {
		ret = unmap_region(mm, l, r);
		if (ret) {
			*failed = l;
			for (k = mm->listeners; k != l; k = k->next)
				map_region_or_die(mm, k, r);
			for (k = mm->listeners; k; k = k->next)
				region_add_or_die(k, r);
			return ret;
		}
	}
	return 0;
}

/* Takes a region out of every listener while undoing memmap_start. */
static void region_detach_or_die(struct memmap *mm, struct memmap_region *r)
{
	struct memmap_listener *l;

	for (l = mm->listeners; l; l = l->next)
		if (l->region_del)
			l->region_del(l, r);
	for (l = mm->listeners; l; l = l->next)
		unmap_region_or_die(mm, l, r);
}

int memmap_start(struct memmap *mm, struct error *err)
{
	struct memmap_listener *failed = NULL;
	unsigned int i, k;
	int ret = 0;

	pthread_rwlock_wrlock(&mm->lock);
	if (mm->started) {
		ret = error_set(err, -EBUSY, "memory map already started");
		goto out;
	}
	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		if (!r->plugged)
			continue;
		ret = region_attach(mm, r, &failed);
		if (ret) {
			error_set(err, ret, "%s of %s RAM at 0x%" PRIx64 ": %s refused it: %s",
				  size_str(r->size).s, memmap_kind_name(r->kind), r->gpa,
				  failed->name, strerror(-ret));
			for (k = 0; k < i; k++)
				if (mm->region[k].plugged)
					region_detach_or_die(mm, &mm->region[k]);
			goto out;
		}
	}
	mm->started = true;
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

/*
 * Listeners joining and leaving a started map.
 *
 * A pinning listener must only ever map backed memory. While no listener pinned, the
 * balloon released pages one by one and a deflated page stays a hole until the guest
 * touches it, so the first pinning listener to join finds holes in granules it must map.
 * Each such granule is populated just before it is mapped (what the pin would allocate
 * anyway; a hole and a fresh page both read as zero), and its inflated pages then count
 * as held for the pin, as every inflated page of a PARTIAL granule does under one.
 */

/*
 * Releases the pages of granule g that are inflated and, if released_only, already
 * counted as released (to undo a populate), else not yet released (which are then
 * counted). Works in runs of pages; returns the first error and carries on past it.
 */
static int release_inflated(struct memmap *mm, struct memmap_region *r, uint64_t g,
			    bool released_only)
{
	uint64_t first = g * mm->pages_per_granule, end = first + mm->pages_per_granule;
	uint64_t p = first, run;
	int ret, first_err = 0;

	while (p < end) {
		if (!bit_test(r->inflated, p) || bit_test(r->released, p) != released_only) {
			p++;
			continue;
		}
		for (run = p; run < end && bit_test(r->inflated, run) &&
			      bit_test(r->released, run) == released_only;
		     run++)
			;
		ret = mm->backing->release(mm->backing_opaque, r, p * MEMMAP_PAGE_SIZE,
					   (run - p) * MEMMAP_PAGE_SIZE);
		if (ret && !first_err)
			first_err = ret;
		for (; !ret && !released_only && p < run; p++) {
			bit_set(r->released, p);
			mm->nr_released++;
		}
		p = run;
	}
	return first_err;
}

/*
 * Undoes join_region for granules [0, end) of r: unmaps what l holds and, if fill, gives
 * back the pages of them that were released before the populate. A failed release there
 * only leaves host memory allocated: the page reads as zero either way.
 */
static void unjoin_granules(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r,
			    uint64_t end, bool fill)
{
	uint64_t g;

	for (g = 0; g < end; g++) {
		if (!listener_holds(l, r->state[g]))
			continue;
		if (l->granule_unmap)
			unmap_or_die(mm, l, r, g);
		if (fill)
			(void)release_inflated(mm, r, g, true);
	}
}

/*
 * Brings plugged region r into listener l joining a started map, in region_attach's
 * order: every granule l holds, then region_add. fill: l is the first pinning listener,
 * so populate each granule before mapping it (see above). On failure undoes its own part.
 */
static int join_region(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r,
		       bool fill)
{
	uint64_t g;
	int ret;

	for (g = 0; g < r->ngranules; g++) {
		if (!listener_holds(l, r->state[g]))
			continue;
		ret = 0;
		if (fill)
			ret = mm->backing->populate(mm->backing_opaque, r, g << mm->granule_shift,
						    mm->granule);
		if (!ret && l->granule_map)
			ret = call_map(mm, l, r, g);
		if (ret) {
			/* populate may have allocated part of the granule before failing. */
			if (fill)
				(void)release_inflated(mm, r, g, true);
			goto err;
		}
	}
	if (l->region_add) {
		ret = l->region_add(l, r);
		if (ret)
			goto err;
	}
	return 0;

err:
	unjoin_granules(mm, l, r, g, fill);
	return ret;
}

/* Takes region r out of l again after a later region failed to join. */
static void unjoin_region(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r,
			  bool fill)
{
	if (l->region_del)
		l->region_del(l, r);
	unjoin_granules(mm, l, r, r->ngranules, fill);
}

/* The populated PARTIAL granules now hold their inflated pages for l's pins. */
static void hold_for_pins(struct memmap *mm)
{
	unsigned int i;
	uint64_t g, p;

	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		for (g = 0; r->plugged && g < r->ngranules; g++) {
			if (r->state[g] != GRANULE_PARTIAL)
				continue;
			for (p = g * mm->pages_per_granule; p < (g + 1) * mm->pages_per_granule;
			     p++) {
				if (!bit_test(r->released, p))
					continue;
				bit_clear(r->released, p);
				mm->nr_released--;
			}
		}
	}
}

static int join(struct memmap *mm, struct memmap_listener *l, struct error *err)
{
	bool fill = l->pins && !memmap_whole_granules(mm);
	unsigned int i, k;
	int ret;

	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		if (!r->plugged)
			continue;
		ret = join_region(mm, l, r, fill);
		if (ret) {
			for (k = 0; k < i; k++)
				if (mm->region[k].plugged)
					unjoin_region(mm, l, &mm->region[k], fill);
			return error_set(err, ret,
					 "memory listener %s: cannot bring in %s of %s RAM at "
					 "0x%" PRIx64 ": %s",
					 l->name, size_str(r->size).s, memmap_kind_name(r->kind),
					 r->gpa, strerror(-ret));
		}
	}
	if (fill)
		hold_for_pins(mm);
	return 0;
}

int memmap_add_listener(struct memmap *mm, struct memmap_listener *l, struct error *err)
{
	struct memmap_listener **tail;
	int ret = 0;

	/* Without both, a failed change could not be undone on this listener. */
	if (!l->granule_map != !l->granule_unmap)
		return error_set(err, -EINVAL,
				 "memory listener %s: granule_map without granule_unmap or the "
				 "other way round",
				 l->name);
	pthread_rwlock_wrlock(&mm->lock);
	for (tail = &mm->listeners; *tail; tail = &(*tail)->next) {
		if (*tail == l) {
			ret = error_set(err, -EEXIST, "memory listener %s added twice", l->name);
			goto out;
		}
	}
	/* Before start there is nothing to tell; memmap_start tells everyone. */
	if (mm->started) {
		ret = join(mm, l, err);
		if (ret)
			goto out;
	}
	l->next = NULL;
	*tail = l;
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

/* Takes region r out of l, which is leaving: region_del, then its granules. */
static int leave_region(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r)
{
	int ret;

	if (l->region_del)
		l->region_del(l, r);
	ret = unmap_region(mm, l, r);
	if (ret)
		region_add_or_die(l, r);
	return ret;
}

/* Puts region r back into l after a later region refused to leave. */
static void rejoin_region(struct memmap *mm, struct memmap_listener *l, struct memmap_region *r)
{
	map_region_or_die(mm, l, r);
	region_add_or_die(l, r);
}

int memmap_remove_listener(struct memmap *mm, struct memmap_listener *l, struct error *err)
{
	struct memmap_listener **link;
	unsigned int i, k;
	uint64_t g;
	int ret = 0;

	pthread_rwlock_wrlock(&mm->lock);
	for (link = &mm->listeners; *link && *link != l; link = &(*link)->next)
		;
	if (!*link) {
		ret = error_set(err, -ENOENT, "memory listener %s is not listening", l->name);
		goto out;
	}
	for (i = 0; mm->started && i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		if (!r->plugged)
			continue;
		ret = leave_region(mm, l, r);
		if (ret) {
			for (k = 0; k < i; k++)
				if (mm->region[k].plugged)
					rejoin_region(mm, l, &mm->region[k]);
			error_set(err, ret,
				  "memory listener %s refused to let go of %s of %s RAM at "
				  "0x%" PRIx64 ": %s",
				  l->name, size_str(r->size).s, memmap_kind_name(r->kind), r->gpa,
				  strerror(-ret));
			goto out;
		}
	}
	*link = l->next;
	l->next = NULL;
	if (!mm->started || !l->pins || memmap_whole_granules(mm))
		goto out;
	/*
	 * The last pin is gone: inflated pages that were kept for it go now, as they would
	 * have gone at inflate without one. One that cannot be released stays allocated and
	 * counted as held (memmap_stats); the listener has left all the same.
	 */
	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		for (g = 0; r->plugged && g < r->ngranules; g++) {
			if (r->state[g] != GRANULE_PARTIAL || release_inflated(mm, r, g, false))
				continue;
			/* Whole, it was kept only because its discard had failed. */
			if (r->ninflated[g] == mm->pages_per_granule)
				set_state(mm, r, g, GRANULE_DISCARDED);
		}
	}
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

/* The DIMM slot at index, in the state plug or unplug expects, or an error. */
static int dimm_slot(struct memmap *mm, unsigned int index, bool plugged, struct memmap_region **rp,
		     struct error *err)
{
	struct memmap_region *r;

	if (!mm->started)
		return error_set(err, -EBUSY, "memory hotplug before the memory map started");
	if (index >= mm->nregions)
		return error_set(err, -EINVAL,
				 "DIMM slot %u: no such slot (the map has %u regions)", index,
				 mm->nregions);
	r = &mm->region[index];
	if (r->kind != MEMMAP_DIMM)
		return error_set(err, -EINVAL,
				 "DIMM slot %u: region %u is boot RAM, not a DIMM slot", index,
				 index);
	if (!r->size)
		return error_set(err, -EINVAL, "DIMM slot %u: empty (no DIMM added)", index);
	if (r->plugged != plugged)
		return error_set(err, -EBUSY, "DIMM slot %u: %s", index,
				 plugged ? "not plugged" : "already plugged");
	*rp = r;
	return 0;
}

/* Placed DIMMs */

uint64_t memmap_dimm_align(const struct memmap *mm)
{
	return mm->granule > MEMMAP_DIMM_BLOCK ? mm->granule : MEMMAP_DIMM_BLOCK;
}

/* The placed DIMM overlapping [gpa, gpa + size), or NULL. */
static const struct memmap_region *dimm_overlap(const struct memmap *mm, uint64_t gpa,
						uint64_t size)
{
	unsigned int i;

	for (i = mm->dimm_first; i < mm->dimm_first + mm->nslots; i++) {
		const struct memmap_region *r = &mm->region[i];

		if (r->size && gpa < r->gpa + r->size && r->gpa < gpa + size)
			return r;
	}
	return NULL;
}

static int dimm_place(const struct memmap *mm, uint64_t size, uint64_t addr, uint64_t *gpa,
		      struct error *err)
{
	uint64_t align = memmap_dimm_align(mm), window = mm->dimm_end - mm->dimm_base, at;
	const struct memmap_region *r;

	if (!mm->nslots)
		return error_set(err, -EINVAL,
				 "DIMM of %s: the memory map has no DIMM slots (--slots)",
				 size_str(size).s);
	if (!size || size % align)
		return error_set(err, -EINVAL,
				 "DIMM size %s is not a multiple of %s (the granule and Linux's "
				 "128M memory block)",
				 size_str(size).s, size_str(align).s);
	if (size > window)
		return error_set(err, -EINVAL, "DIMM size %s: larger than the %s hotplug window",
				 size_str(size).s, size_str(window).s);
	if (addr) {
		if (addr % align)
			return error_set(err, -EINVAL,
					 "DIMM address 0x%" PRIx64 " is not aligned to %s", addr,
					 size_str(align).s);
		if (addr < mm->dimm_base || addr > mm->dimm_end || size > mm->dimm_end - addr)
			return error_set(err, -EINVAL,
					 "DIMM address 0x%" PRIx64 ": %s there does not fit in the "
					 "hotplug window [0x%" PRIx64 ", 0x%" PRIx64 ")",
					 addr, size_str(size).s, mm->dimm_base, mm->dimm_end);
		r = dimm_overlap(mm, addr, size);
		if (r)
			return error_set(err, -EINVAL,
					 "DIMM address 0x%" PRIx64
					 ": %s there overlaps the DIMM in "
					 "slot %u at [0x%" PRIx64 ", 0x%" PRIx64 ")",
					 addr, size_str(size).s, r->index - mm->dimm_first, r->gpa,
					 r->gpa + r->size);
		*gpa = addr;
		return 0;
	}
	/* DIMM ends are aligned, so jumping past the one in the way keeps at aligned. */
	for (at = mm->dimm_base; size <= mm->dimm_end - at; at = r->gpa + r->size) {
		r = dimm_overlap(mm, at, size);
		if (!r) {
			*gpa = at;
			return 0;
		}
	}
	return error_set(err, -ENOSPC,
			 "DIMM size %s: no free range that large in the %s hotplug window",
			 size_str(size).s, size_str(window).s);
}

int memmap_dimm_place(struct memmap *mm, uint64_t size, uint64_t addr, uint64_t *gpa,
		      struct error *err)
{
	int ret;

	pthread_rwlock_rdlock(&mm->lock);
	ret = dimm_place(mm, size, addr, gpa, err);
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

int memmap_dimm_add(struct memmap *mm, uint32_t slot, uint64_t gpa, uint64_t size,
		    unsigned int *index, struct error *err)
{
	struct memmap_region *r = NULL;
	uint64_t at;
	uint32_t s;
	int ret;

	pthread_rwlock_wrlock(&mm->lock);
	ret = dimm_place(mm, size, gpa, &at, err);
	if (ret)
		goto out;
	if (slot == MEMMAP_SLOT_ANY) {
		for (s = 0; s < mm->nslots && mm->region[mm->dimm_first + s].size; s++)
			;
		if (s == mm->nslots) {
			ret = error_set(err, -ENOSPC, "DIMM of %s: all %u slots are in use",
					size_str(size).s, mm->nslots);
			goto out;
		}
	} else if (slot >= mm->nslots) {
		ret = error_set(err, -EINVAL, "DIMM slot %" PRIu32 ": no such slot (--slots %u)",
				slot, mm->nslots);
		goto out;
	} else if (mm->region[mm->dimm_first + slot].size) {
		ret = error_set(err, -EBUSY, "DIMM slot %" PRIu32 ": in use", slot);
		goto out;
	} else {
		s = slot;
	}
	r = &mm->region[mm->dimm_first + s];
	ret = region_alloc(mm, r, at, size);
	if (ret) {
		error_set(err, ret, "DIMM of %s: no memory for its granule map", size_str(size).s);
		goto out;
	}
	*index = r->index;
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

int memmap_dimm_remove(struct memmap *mm, unsigned int index, struct error *err)
{
	struct memmap_region *r;
	int ret = 0;

	pthread_rwlock_wrlock(&mm->lock);
	if (index < mm->dimm_first || index - mm->dimm_first >= mm->nslots) {
		ret = error_set(err, -EINVAL, "region %u: not a DIMM slot", index);
		goto out;
	}
	r = &mm->region[index];
	if (!r->size)
		ret = error_set(err, -EINVAL, "DIMM slot %u: empty", index - mm->dimm_first);
	else if (r->plugged)
		ret = error_set(err, -EBUSY, "DIMM slot %u: still plugged", index - mm->dimm_first);
	else
		region_free(mm, r);
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

int memmap_plug(struct memmap *mm, unsigned int index, struct error *err)
{
	struct memmap_listener *failed = NULL;
	struct memmap_region *r;
	int ret;

	pthread_rwlock_wrlock(&mm->lock);
	ret = dimm_slot(mm, index, false, &r, err);
	if (ret)
		goto out;
	ret = mm->backing->create(mm->backing_opaque, r);
	/* A hugetlb mapping reserves its pages: ENOMEM means the pool is short. (The pool's
	 * counts are in sysfs, which the sandboxed main loop cannot open.) */
	if (ret == -ENOMEM && mm->hugepages.mode == HUGEPAGES_HUGETLB) {
		error_set(err, ret,
			  "DIMM slot %u: %s needs %" PRIu64 " free %s huge pages, the pool has "
			  "fewer; as root, add them to /proc/sys/vm/nr_hugepages (2M) or "
			  "hugepages-1048576kB/nr_hugepages (1G)",
			  index, size_str(r->size).s, r->size / hugepages_page_size(&mm->hugepages),
			  size_str(hugepages_page_size(&mm->hugepages)).s);
		goto out;
	}
	if (ret) {
		error_set(err, ret, "DIMM slot %u: cannot create %s of backing: %s", index,
			  size_str(r->size).s, strerror(-ret));
		goto out;
	}
	/*
	 * Allocate it all now: the guest is about to be told the memory exists, and running
	 * out of host memory is better reported here than as a fault in the guest later.
	 * That takes long for a large DIMM, so it runs under the read lock: device I/O goes
	 * on meanwhile. The region is not plugged, so no other writer touches it in between
	 * (plug, unplug and DIMM placement come from one thread, the main loop).
	 */
	pthread_rwlock_unlock(&mm->lock);
	pthread_rwlock_rdlock(&mm->lock);
	ret = mm->backing->populate(mm->backing_opaque, r, 0, r->size);
	pthread_rwlock_unlock(&mm->lock);
	pthread_rwlock_wrlock(&mm->lock);
	if (ret) {
		error_set(err, ret, "DIMM slot %u: cannot allocate %s: %s", index,
			  size_str(r->size).s, strerror(-ret));
		goto err_destroy;
	}
	r->plugged = true;
	set_region_state(mm, r, GRANULE_MAPPED);
	ret = region_attach(mm, r, &failed);
	if (ret) {
		error_set(err, ret, "DIMM slot %u: %s refused it: %s", index, failed->name,
			  strerror(-ret));
		set_region_state(mm, r, GRANULE_UNPLUGGED);
		r->plugged = false;
		goto err_destroy;
	}
	goto out;

err_destroy:
	mm->backing->destroy(mm->backing_opaque, r);
	r->hva = NULL;
	r->fd = -1;
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

int memmap_unplug(struct memmap *mm, unsigned int index, struct error *err)
{
	struct memmap_listener *failed = NULL;
	struct memmap_region *r;
	uint64_t npages, nlongs, p, g;
	int ret;

	pthread_rwlock_wrlock(&mm->lock);
	ret = dimm_slot(mm, index, true, &r, err);
	if (ret)
		goto out;
	ret = region_detach(mm, r, &failed);
	if (ret) {
		error_set(err, ret, "DIMM slot %u: %s refused to let it go: %s", index,
			  failed->name, strerror(-ret));
		goto out;
	}
	/*
	 * Nothing maps the region any more, so its memory can go. Destroying the backing
	 * frees it (the memfd's last reference is gone); no punch hole needed.
	 */
	mm->backing->destroy(mm->backing_opaque, r);
	r->hva = NULL;
	r->fd = -1;
	r->plugged = false;
	npages = r->size / MEMMAP_PAGE_SIZE;
	for (p = 0; p < npages; p++) {
		mm->nr_inflated -= bit_test(r->inflated, p);
		mm->nr_released -= bit_test(r->released, p);
	}
	nlongs = (npages + BITS_PER_LONG - 1) / BITS_PER_LONG;
	memset(r->inflated, 0, nlongs * sizeof(*r->inflated));
	memset(r->released, 0, nlongs * sizeof(*r->released));
	for (g = 0; g < r->ngranules; g++)
		r->ninflated[g] = 0;
	set_region_state(mm, r, GRANULE_UNPLUGGED);
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

/* Balloon transitions touch pinning listeners only (see memmap.h). */
static int pinned_map_granule(struct memmap *mm, struct memmap_region *r, uint64_t g)
{
	struct memmap_listener *l, *k;
	int ret;

	for (l = mm->listeners; l; l = l->next) {
		if (!l->pins || !l->granule_map)
			continue;
		ret = call_map(mm, l, r, g);
		if (ret) {
			for (k = mm->listeners; k != l; k = k->next)
				if (k->pins && k->granule_unmap)
					unmap_or_die(mm, k, r, g);
			return ret;
		}
	}
	return 0;
}

static int pinned_unmap_granule(struct memmap *mm, struct memmap_region *r, uint64_t g)
{
	struct memmap_listener *l, *k;
	int ret;

	for (l = mm->listeners; l; l = l->next) {
		if (!l->pins || !l->granule_unmap)
			continue;
		ret = call_unmap(mm, l, r, g);
		if (ret) {
			for (k = mm->listeners; k != l; k = k->next)
				if (k->pins && k->granule_map)
					map_or_die(mm, k, r, g);
			return ret;
		}
	}
	return 0;
}

static void pinned_map_granule_or_die(struct memmap *mm, struct memmap_region *r, uint64_t g)
{
	struct memmap_listener *l;

	for (l = mm->listeners; l; l = l->next)
		if (l->pins && l->granule_map)
			map_or_die(mm, l, r, g);
}

/*
 * Batches. The accepted pages of a batch are sorted by address and made unique first, so
 * that runs of adjacent pages and granules are neighbours in one array; every transition
 * then walks that array once.
 */
struct batch_page {
	uint64_t gpa;
	size_t idx; /* position in the caller's array */
	struct memmap_region *r;
	uint64_t page; /* index in r */
};

struct batch {
	struct memmap *mm;
	struct memmap_batch_result *res;
	struct batch_page *p;
	size_t n;
};

const char *memmap_outcome_name(enum memmap_page_outcome o)
{
	static const char *const names[MEMMAP_PAGE_OUTCOMES] = {
		"done", "held", "failed", "not-ram", "unaligned", "bad-state", "duplicate"};

	return o < MEMMAP_PAGE_OUTCOMES ? names[o] : "?";
}

static void set_outcome(struct memmap_batch_result *res, size_t idx, enum memmap_page_outcome o)
{
	if (res->outcome)
		res->outcome[idx] = o;
	res->count[o]++;
}

static void batch_error(struct batch *b, int ret)
{
	if (!b->res->error)
		b->res->error = ret;
}

/* Why a page cannot be inflated (or deflated), or MEMMAP_PAGE_DONE if it can. */
static enum memmap_page_outcome check_page(struct memmap *mm, uint64_t gpa, bool inflate,
					   struct memmap_region **rp, uint64_t *page)
{
	struct memmap_region *r;

	if (gpa % MEMMAP_PAGE_SIZE)
		return MEMMAP_PAGE_UNALIGNED;
	r = mm->started ? memmap_find(mm, gpa) : NULL;
	if (!r || !r->plugged)
		return MEMMAP_PAGE_NOT_RAM;
	*page = (gpa - r->gpa) / MEMMAP_PAGE_SIZE;
	if (bit_test(r->inflated, *page) == inflate)
		return MEMMAP_PAGE_BAD_STATE;
	*rp = r;
	return MEMMAP_PAGE_DONE;
}

static int cmp_batch_page(const void *a, const void *b)
{
	const struct batch_page *x = a, *y = b;

	if (x->gpa != y->gpa)
		return x->gpa < y->gpa ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Checks every page, sets the outcome of the refused ones, and leaves the accepted ones in
 * b->p, sorted and unique (a later copy of a page is a duplicate). -ENOMEM if there is no
 * room to sort: then every page that would have been accepted has failed.
 */
static int batch_begin(struct batch *b, struct memmap *mm, const uint64_t *gpas, size_t n,
		       bool inflate, struct memmap_batch_result *res)
{
	struct memmap_region *r = NULL;
	enum memmap_page_outcome o;
	bool sorted = true;
	uint64_t page = 0;
	size_t i, k;

	memset(res->count, 0, sizeof(res->count));
	res->error = 0;
	b->mm = mm;
	b->res = res;
	b->n = 0;
	b->p = n && n <= SIZE_MAX / sizeof(*b->p) ? malloc(n * sizeof(*b->p)) : NULL;
	for (i = 0; i < n; i++) {
		o = check_page(mm, gpas[i], inflate, &r, &page);
		if (o == MEMMAP_PAGE_DONE && !b->p)
			o = MEMMAP_PAGE_FAILED;
		if (o != MEMMAP_PAGE_DONE) {
			set_outcome(res, i, o);
			continue;
		}
		if (b->n && gpas[i] <= b->p[b->n - 1].gpa)
			sorted = false;
		b->p[b->n++] = (struct batch_page){gpas[i], i, r, page};
	}
	if (n && !b->p) {
		res->error = -ENOMEM;
		return -ENOMEM;
	}
	if (!sorted)
		qsort(b->p, b->n, sizeof(*b->p), cmp_batch_page);
	for (i = 0, k = 0; i < b->n; i++) {
		if (k && b->p[i].gpa == b->p[k - 1].gpa)
			set_outcome(res, b->p[i].idx, MEMMAP_PAGE_DUPLICATE);
		else
			b->p[k++] = b->p[i];
	}
	b->n = k;
	return 0;
}

static uint64_t batch_granule(const struct batch *b, size_t i)
{
	return b->p[i].page / b->mm->pages_per_granule;
}

/* The end of the run of adjacent pages (same region) that starts at b->p[i]. */
static size_t page_run_end(const struct batch *b, size_t i)
{
	size_t e;

	for (e = i + 1; e < b->n && b->p[e].r == b->p[i].r && b->p[e].page == b->p[e - 1].page + 1;
	     e++)
		;
	return e;
}

/* The end of the pages of b->p[i]'s granule. */
static size_t granule_end(const struct batch *b, size_t i)
{
	size_t e;

	for (e = i + 1;
	     e < b->n && b->p[e].r == b->p[i].r && batch_granule(b, e) == batch_granule(b, i); e++)
		;
	return e;
}

static void inflate_one(struct memmap *mm, struct memmap_region *r, uint64_t page, bool released)
{
	uint64_t g = page / mm->pages_per_granule;

	bit_set(r->inflated, page);
	mm->nr_inflated++;
	if (released) {
		bit_set(r->released, page);
		mm->nr_released++;
	}
	r->ninflated[g]++;
	set_state(mm, r, g,
		  released && r->ninflated[g] == mm->pages_per_granule ? GRANULE_DISCARDED
								       : GRANULE_PARTIAL);
}

/*
 * No pinning listener: nothing pins the pages, so each run goes now, in one release. KVM
 * keeps its memslot: the host page tables follow the punched hole, and a guest touching
 * a page again gets a fresh zero page.
 */
static void inflate_unpinned(struct batch *b)
{
	struct memmap *mm = b->mm;
	size_t i, e, k;
	int ret;

	for (i = 0; i < b->n; i = e) {
		struct memmap_region *r = b->p[i].r;

		e = page_run_end(b, i);
		ret = mm->backing->release(mm->backing_opaque, r, b->p[i].page * MEMMAP_PAGE_SIZE,
					   (e - i) * MEMMAP_PAGE_SIZE);
		if (ret)
			batch_error(b, ret);
		for (k = i; k < e; k++) {
			if (!ret)
				inflate_one(mm, r, b->p[k].page, true);
			set_outcome(b->res, b->p[k].idx,
				    ret ? MEMMAP_PAGE_FAILED : MEMMAP_PAGE_DONE);
		}
	}
}

/*
 * Granules [g0, g1) of r are full and unmapped from every pinning listener: give their
 * memory back in one release. Released in the other order, a device could DMA into
 * pages the host already handed to someone else. If the release fails, they are mapped
 * again and stay PARTIAL, full, and held.
 */
static void discard_run(struct batch *b, struct memmap_region *r, uint64_t g0, uint64_t g1)
{
	struct memmap *mm = b->mm;
	uint64_t g, p;
	int ret;

	if (g0 == g1)
		return;
	ret = mm->backing->release(mm->backing_opaque, r, g0 << mm->granule_shift,
				   (g1 - g0) << mm->granule_shift);
	if (ret) {
		batch_error(b, ret);
		for (g = g0; g < g1; g++)
			pinned_map_granule_or_die(mm, r, g);
		return;
	}
	/* Counted page by page: some may be released already (see memmap_remove_listener). */
	for (p = g0 * mm->pages_per_granule; p < g1 * mm->pages_per_granule; p++) {
		mm->nr_released += !bit_test(r->released, p);
		bit_set(r->released, p);
	}
	for (g = g0; g < g1; g++)
		set_state(mm, r, g, GRANULE_DISCARDED);
}

/*
 * A pinning listener holds whole granules and cannot let go of one page: each page stays
 * backed ("inflated but pinned") until the last page of its granule comes. Granules this
 * batch fills are discarded, adjacent ones with one release.
 */
static void inflate_pinned(struct batch *b)
{
	struct memmap *mm = b->mm;
	struct memmap_region *run_r = NULL;
	uint64_t g, run_g0 = 0, run_g1 = 0;
	size_t i, e;
	int ret;

	for (i = 0; i < b->n; i++)
		inflate_one(mm, b->p[i].r, b->p[i].page, false);
	for (i = 0; i < b->n; i = e) {
		struct memmap_region *r = b->p[i].r;

		e = granule_end(b, i);
		g = batch_granule(b, i);
		if (r->ninflated[g] != mm->pages_per_granule)
			continue;
		if (r != run_r || g != run_g1) {
			discard_run(b, run_r, run_g0, run_g1);
			run_r = r;
			run_g0 = run_g1 = g;
		}
		ret = pinned_unmap_granule(mm, r, g);
		if (ret) {
			/* Held; the granules unmapped before it go without it. */
			batch_error(b, ret);
			discard_run(b, run_r, run_g0, run_g1);
			run_g0 = run_g1 = g + 1;
			continue;
		}
		run_g1 = g + 1;
	}
	discard_run(b, run_r, run_g0, run_g1);
	for (i = 0; i < b->n; i++) {
		struct memmap_region *r = b->p[i].r;
		bool held;

		g = batch_granule(b, i);
		held = r->state[g] == GRANULE_PARTIAL && r->ninflated[g] == mm->pages_per_granule;
		set_outcome(b->res, b->p[i].idx, held ? MEMMAP_PAGE_HELD : MEMMAP_PAGE_DONE);
	}
}

int memmap_inflate_pages(struct memmap *mm, const uint64_t *gpas, size_t n,
			 struct memmap_batch_result *res)
{
	struct batch b;

	pthread_rwlock_wrlock(&mm->lock);
	if (!batch_begin(&b, mm, gpas, n, true, res)) {
		if (memmap_whole_granules(mm))
			inflate_pinned(&b);
		else
			inflate_unpinned(&b);
	}
	pthread_rwlock_unlock(&mm->lock);
	free(b.p);
	return res->error;
}

/*
 * The guest takes pages of discarded granules [g0, g1) back: allocate them in one go and
 * map each into every pinning listener before returning, because the caller tells the
 * guest the pages are usable right after, and the guest may hand them to a device at
 * once. A restored granule is PARTIAL (full) until its pages are deflated; one that
 * cannot be restored stays DISCARDED.
 */
static void restore_run(struct batch *b, struct memmap_region *r, uint64_t g0, uint64_t g1)
{
	struct memmap *mm = b->mm;
	uint64_t off = g0 << mm->granule_shift, g, p;
	int ret;

	if (g0 == g1)
		return;
	ret = mm->backing->populate(mm->backing_opaque, r, off, (g1 - g0) << mm->granule_shift);
	if (ret) {
		/*
		 * populate may have allocated part of the run before failing. Nothing maps it,
		 * so give that back; if even that fails, the pages wait for the next populate.
		 */
		batch_error(b, ret);
		(void)mm->backing->release(mm->backing_opaque, r, off,
					   (g1 - g0) << mm->granule_shift);
		return;
	}
	for (g = g0; g < g1; g++) {
		ret = pinned_map_granule(mm, r, g);
		if (ret) {
			batch_error(b, ret);
			(void)mm->backing->release(mm->backing_opaque, r, g << mm->granule_shift,
						   mm->granule);
			continue;
		}
		/* Counted page by page: a page kept after the last pin left was never released. */
		for (p = g * mm->pages_per_granule; p < (g + 1) * mm->pages_per_granule; p++) {
			mm->nr_released -= bit_test(r->released, p);
			bit_clear(r->released, p);
		}
		set_state(mm, r, g, GRANULE_PARTIAL);
	}
}

int memmap_deflate_pages(struct memmap *mm, const uint64_t *gpas, size_t n,
			 struct memmap_batch_result *res)
{
	struct memmap_region *run_r = NULL;
	uint64_t g, page, run_g0 = 0, run_g1 = 0;
	bool pin;
	struct batch b;
	size_t i, e;

	pthread_rwlock_wrlock(&mm->lock);
	if (batch_begin(&b, mm, gpas, n, false, res))
		goto out;
	pin = memmap_deflate_restores(mm);
	for (i = 0; pin && i < b.n; i = e) {
		struct memmap_region *r = b.p[i].r;

		e = granule_end(&b, i);
		g = batch_granule(&b, i);
		if (r->state[g] != GRANULE_DISCARDED)
			continue;
		if (r != run_r || g != run_g1) {
			restore_run(&b, run_r, run_g0, run_g1);
			run_r = r;
			run_g0 = g;
		}
		run_g1 = g + 1;
	}
	restore_run(&b, run_r, run_g0, run_g1);
	for (i = 0; i < b.n; i++) {
		struct memmap_region *r = b.p[i].r;

		page = b.p[i].page;
		g = page / mm->pages_per_granule;
		if (pin && r->state[g] == GRANULE_DISCARDED) {
			set_outcome(res, b.p[i].idx, MEMMAP_PAGE_FAILED);
			continue;
		}
		/*
		 * Without a pinning listener a released page stays a hole: nothing maps it but
		 * KVM, which faults in a fresh page when the guest touches it.
		 */
		if (bit_test(r->released, page)) {
			bit_clear(r->released, page);
			mm->nr_released--;
		}
		bit_clear(r->inflated, page);
		mm->nr_inflated--;
		r->ninflated[g]--;
		set_state(mm, r, g, r->ninflated[g] ? GRANULE_PARTIAL : GRANULE_MAPPED);
		set_outcome(res, b.p[i].idx, MEMMAP_PAGE_DONE);
	}
out:
	pthread_rwlock_unlock(&mm->lock);
	free(b.p);
	return res->error;
}

/* The single-page calls: a batch of one, with the errors they always had. */
static int page_result(int ret, const struct memmap_batch_result *res)
{
	if (res->count[MEMMAP_PAGE_DONE])
		return 0;
	return ret ? ret : -EINVAL;
}

int memmap_inflate_page(struct memmap *mm, uint64_t gpa)
{
	struct memmap_batch_result res = {0};

	return page_result(memmap_inflate_pages(mm, &gpa, 1, &res), &res);
}

int memmap_deflate_page(struct memmap *mm, uint64_t gpa)
{
	struct memmap_batch_result res = {0};

	return page_result(memmap_deflate_pages(mm, &gpa, 1, &res), &res);
}

struct memmap_region *memmap_find(struct memmap *mm, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < mm->nregions; i++) {
		struct memmap_region *r = &mm->region[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

enum granule_state memmap_granule_state(const struct memmap *mm, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->state[(gpa - r->gpa) >> mm->granule_shift];
	}
	return GRANULE_UNPLUGGED;
}

void memmap_get_stats(struct memmap *mm, struct memmap_stats *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&mm->lock);
	for (i = 0; i < mm->nregions; i++)
		if (mm->region[i].plugged)
			st->plugged_bytes += mm->region[i].size;
	st->inflated_bytes = mm->nr_inflated * MEMMAP_PAGE_SIZE;
	st->released_bytes = mm->nr_released * MEMMAP_PAGE_SIZE;
	/*
	 * Inflated pages are released either one by one or with their granule; the rest are
	 * held for a pinning listener.
	 */
	st->inflated_pinned_bytes = (mm->nr_inflated - mm->nr_released) * MEMMAP_PAGE_SIZE;
	for (i = 0; i < 4; i++)
		st->granules[i] = mm->nr_granules[i];
	/* Once started, a pinning listener holds every MAPPED and PARTIAL granule. */
	if (mm->started && memmap_has_pinning_listener(mm))
		st->pinned_granules =
			mm->nr_granules[GRANULE_MAPPED] + mm->nr_granules[GRANULE_PARTIAL];
	pthread_rwlock_unlock(&mm->lock);
}
