// SPDX-License-Identifier: MIT
#include "fake_iommu.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#define BITS_PER_LONG (8 * sizeof(unsigned long))
#define PAGE ((uint64_t)MEMMAP_PAGE_SIZE)

/* Ends the running test with a message that says which rule broke. */
#define expect(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			print_error(__VA_ARGS__);                                                  \
			print_error("\n");                                                         \
			fail_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                          \
		}                                                                                  \
	} while (0)

static bool test_bit(const unsigned long *map, uint64_t n)
{
	return map[n / BITS_PER_LONG] & (1UL << (n % BITS_PER_LONG));
}

static void assign_bit(unsigned long *map, uint64_t n, bool v)
{
	if (v)
		map[n / BITS_PER_LONG] |= 1UL << (n % BITS_PER_LONG);
	else
		map[n / BITS_PER_LONG] &= ~(1UL << (n % BITS_PER_LONG));
}

/* Counts down an armed failure; true when this call is the one that fails. */
static bool inject(unsigned int *counter)
{
	if (!*counter)
		return false;
	return --*counter == 0;
}

static int fail_code(int e)
{
	return e ? -e : -EIO;
}

static void log_add(struct fake_log *log, enum fake_op op, const char *who, unsigned int region,
		    uint64_t gpa, uint64_t size, int ret)
{
	if (log->n == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 256;
		log->ev = realloc(log->ev, log->cap * sizeof(*log->ev));
		assert_non_null(log->ev);
	}
	log->ev[log->n++] = (struct fake_event){op, who, region, gpa, size, ret};
}

void fake_log_clear(struct fake_log *log)
{
	log->n = 0;
}

void fake_log_free(struct fake_log *log)
{
	free(log->ev);
	memset(log, 0, sizeof(*log));
}

static bool log_match(const struct fake_event *e, enum fake_op op, const char *who)
{
	return !e->ret && e->op == op && (!who || !strcmp(e->who, who));
}

size_t fake_log_count(const struct fake_log *log, enum fake_op op, const char *who)
{
	size_t i, n = 0;

	for (i = 0; i < log->n; i++)
		n += log_match(&log->ev[i], op, who);
	return n;
}

long fake_log_find(const struct fake_log *log, size_t from, enum fake_op op, const char *who,
		   uint64_t gpa)
{
	size_t i;

	for (i = from; i < log->n; i++)
		if (log_match(&log->ev[i], op, who) && log->ev[i].gpa == gpa)
			return (long)i;
	return -1;
}

long fake_log_find_last(const struct fake_log *log, enum fake_op op, const char *who)
{
	size_t i;

	for (i = log->n; i-- > 0;)
		if (log_match(&log->ev[i], op, who))
			return (long)i;
	return -1;
}

void fake_log_print(const struct fake_log *log)
{
	static const char *const names[] = {"create",	  "destroy",	"populate", "release",
					    "region_add", "region_del", "map",	    "unmap"};
	size_t i;

	for (i = 0; i < log->n; i++) {
		const struct fake_event *e = &log->ev[i];

		print_message("%4zu %-8s %-10s region %u gpa 0x%" PRIx64 " size 0x%" PRIx64 "%s\n",
			      i, e->who, names[e->op], e->region, e->gpa, e->size,
			      e->ret ? " FAILED" : "");
	}
}

/* The backing: anonymous memory whose released pages read as zero, like a punched memfd. */

bool fake_backing_released(const struct fake_backing *b, uint64_t gpa)
{
	struct memmap_region *r = memmap_find(b->mm, gpa);

	if (!r || !b->live[r->index])
		return false;
	return test_bit(b->released[r->index], (gpa - r->gpa) / PAGE);
}

unsigned int fake_backing_nlive(const struct fake_backing *b)
{
	unsigned int i, n = 0;

	for (i = 0; i < MEMMAP_MAX_REGIONS; i++)
		n += b->live[i];
	return n;
}

/* No pinning listener may map any byte of [gpa, gpa + size) at this moment. */
static void expect_unpinned(struct fake_backing *b, const char *op, uint64_t gpa, uint64_t size)
{
	unsigned int i;

	for (i = 0; i < b->nlisteners; i++) {
		const struct fake_listener *f = b->listeners[i];
		uint64_t g = gpa & ~(b->mm->granule - 1);

		if (!f->l.pins)
			continue;
		for (; g < gpa + size; g += b->mm->granule)
			expect(!fake_listener_mapped(f, g),
			       "%s of 0x%" PRIx64 "+0x%" PRIx64 " while %s maps granule 0x%" PRIx64,
			       op, gpa, size, f->l.name, g);
	}
}

static int fake_create(void *opaque, struct memmap_region *r)
{
	struct fake_backing *b = opaque;
	uint64_t npages = r->size / PAGE;
	void *hva;

	expect(!b->live[r->index], "create of region %u that already has backing", r->index);
	if (inject(&b->fail_create)) {
		log_add(b->log, FAKE_CREATE, "backing", r->index, r->gpa, r->size,
			fail_code(b->fail_errno));
		return fail_code(b->fail_errno);
	}
	hva = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(hva != MAP_FAILED);
	b->released[r->index] =
		calloc((npages + BITS_PER_LONG - 1) / BITS_PER_LONG, sizeof(unsigned long));
	assert_non_null(b->released[r->index]);
	b->live[r->index] = true;
	b->size[r->index] = r->size;
	r->hva = hva;
	r->fd = -1;
	log_add(b->log, FAKE_CREATE, "backing", r->index, r->gpa, r->size, 0);
	return 0;
}

static void fake_destroy(void *opaque, struct memmap_region *r)
{
	struct fake_backing *b = opaque;
	unsigned int i;

	expect(b->live[r->index], "destroy of region %u without backing", r->index);
	/* Freeing memory that any listener still maps breaks "unmap before release". */
	for (i = 0; i < b->nlisteners; i++) {
		const struct fake_listener *f = b->listeners[i];
		uint64_t g;

		expect(!f->present[r->index], "destroy of region %u still added to %s", r->index,
		       f->l.name);
		for (g = 0; f->mapped[r->index] && g < f->nmapped[r->index]; g++)
			expect(!f->mapped[r->index][g],
			       "destroy of region %u while %s maps its granule %" PRIu64, r->index,
			       f->l.name, g);
	}
	munmap(r->hva, r->size);
	free(b->released[r->index]);
	b->released[r->index] = NULL;
	b->live[r->index] = false;
	log_add(b->log, FAKE_DESTROY, "backing", r->index, r->gpa, r->size, 0);
}

static void expect_range(struct fake_backing *b, struct memmap_region *r, const char *op,
			 uint64_t off, uint64_t len)
{
	expect(b->live[r->index], "%s on region %u without backing", op, r->index);
	uint64_t unit = PAGE;

	/* hugetlb: a hole in part of a huge page frees nothing, so the map never asks for one. */
	if (b->mm->hugepages.mode == HUGEPAGES_HUGETLB)
		unit = hugepages_page_size(&b->mm->hugepages);
	expect(b->live[r->index], "%s on region %u without backing", op, r->index);
	expect(off % unit == 0 && len % unit == 0 && len && off + len <= r->size,
	       "%s of bad range 0x%" PRIx64 "+0x%" PRIx64 " in region %u", op, off, len, r->index);
}

static int fake_populate(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	struct fake_backing *b = opaque;
	uint64_t p;

	expect_range(b, r, "populate", off, len);
	if (inject(&b->fail_populate)) {
		log_add(b->log, FAKE_POPULATE, "backing", r->index, r->gpa + off, len,
			fail_code(b->fail_errno));
		return fail_code(b->fail_errno);
	}
	for (p = off / PAGE; p < (off + len) / PAGE; p++)
		assign_bit(b->released[r->index], p, false);
	log_add(b->log, FAKE_POPULATE, "backing", r->index, r->gpa + off, len, 0);
	return 0;
}

static int fake_release(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	struct fake_backing *b = opaque;
	uint64_t p;

	expect_range(b, r, "release", off, len);
	expect_unpinned(b, "release", r->gpa + off, len);
	if (inject(&b->fail_release)) {
		log_add(b->log, FAKE_RELEASE, "backing", r->index, r->gpa + off, len,
			fail_code(b->fail_errno));
		return fail_code(b->fail_errno);
	}
	/* Private anonymous memory reads back as zero after this, as a punched memfd does. */
	assert_int_equal(madvise(r->hva + off, len, MADV_DONTNEED), 0);
	for (p = off / PAGE; p < (off + len) / PAGE; p++)
		assign_bit(b->released[r->index], p, true);
	log_add(b->log, FAKE_RELEASE, "backing", r->index, r->gpa + off, len, 0);
	return 0;
}

const struct memmap_backing_ops fake_backing_ops = {
	.create = fake_create,
	.destroy = fake_destroy,
	.populate = fake_populate,
	.release = fake_release,
};

void fake_backing_init(struct fake_backing *b, struct memmap *mm, struct fake_log *log)
{
	memset(b, 0, sizeof(*b));
	b->mm = mm;
	b->log = log;
}

void fake_backing_watch(struct fake_backing *b, struct fake_listener *f)
{
	assert_true(b->nlisteners < sizeof(b->listeners) / sizeof(b->listeners[0]));
	b->listeners[b->nlisteners++] = f;
}

/* Listeners. */

static struct fake_listener *fake_of(struct memmap_listener *l)
{
	return (struct fake_listener *)l;
}

bool fake_listener_mapped(const struct fake_listener *f, uint64_t gpa)
{
	struct memmap_region *r = memmap_find(f->mm, gpa);

	uint64_t g;

	if (!r || !f->mapped[r->index])
		return false;
	g = (gpa - r->gpa) / f->mm->granule;
	return g < f->nmapped[r->index] && f->mapped[r->index][g];
}

/* Every mapping is exactly one granule, granule aligned, inside the region it names. */
static uint64_t expect_granule(struct fake_listener *f, const struct memmap_region *r,
			       const char *op, uint64_t gpa, uint64_t size)
{
	uint64_t gs = f->mm->granule;

	expect(size == gs, "%s %s of 0x%" PRIx64 " bytes, granule is 0x%" PRIx64, f->l.name, op,
	       size, gs);
	expect(gpa % gs == 0, "%s %s at unaligned 0x%" PRIx64, f->l.name, op, gpa);
	expect(gpa >= r->gpa && gpa + size <= r->gpa + r->size,
	       "%s %s at 0x%" PRIx64 " outside region %u", f->l.name, op, gpa, r->index);
	expect(memmap_find(f->mm, gpa) == r, "%s %s names the wrong region", f->l.name, op);
	return (gpa - r->gpa) / gs;
}

static int fake_map(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		    uint64_t size, void *hva)
{
	struct fake_listener *f = fake_of(l);
	uint64_t g = expect_granule(f, r, "map", gpa, size);
	uint64_t p;

	expect(r->plugged && hva == r->hva + (gpa - r->gpa),
	       "%s map of 0x%" PRIx64 " with a wrong host address", l->name, gpa);
	if (f->mapped[r->index] && f->nmapped[r->index] != r->ngranules) {
		/* A --slots slot that holds another DIMM now: nothing of the old one may be left.
		 */
		for (p = 0; p < f->nmapped[r->index]; p++)
			expect(!f->mapped[r->index][p],
			       "%s still maps a granule of region %u's "
			       "previous DIMM",
			       l->name, r->index);
		free(f->mapped[r->index]);
		f->mapped[r->index] = NULL;
	}
	if (!f->mapped[r->index]) {
		f->mapped[r->index] = calloc(r->ngranules, 1);
		assert_non_null(f->mapped[r->index]);
		f->nmapped[r->index] = r->ngranules;
	}
	expect(!f->mapped[r->index][g], "%s maps granule 0x%" PRIx64 " twice", l->name, gpa);
	/* The device may DMA as soon as this returns: the memory must be there already. */
	for (p = 0; f->backing && p < size; p += PAGE)
		expect(!fake_backing_released(f->backing, gpa + p),
		       "%s map of 0x%" PRIx64 " covers released page 0x%" PRIx64, l->name, gpa,
		       gpa + p);
	if (f->fail_all_maps || inject(&f->fail_map)) {
		log_add(f->log, FAKE_MAP, l->name, r->index, gpa, size, fail_code(f->fail_errno));
		return fail_code(f->fail_errno);
	}
	f->mapped[r->index][g] = 1;
	f->nlive++;
	log_add(f->log, FAKE_MAP, l->name, r->index, gpa, size, 0);
	return 0;
}

static int fake_unmap(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		      uint64_t size)
{
	struct fake_listener *f = fake_of(l);
	uint64_t g = expect_granule(f, r, "unmap", gpa, size);

	expect(f->mapped[r->index] && g < f->nmapped[r->index] && f->mapped[r->index][g],
	       "%s unmaps granule 0x%" PRIx64 " that it does not map", l->name, gpa);
	if (inject(&f->fail_unmap)) {
		log_add(f->log, FAKE_UNMAP, l->name, r->index, gpa, size, fail_code(f->fail_errno));
		return fail_code(f->fail_errno);
	}
	f->mapped[r->index][g] = 0;
	f->nlive--;
	log_add(f->log, FAKE_UNMAP, l->name, r->index, gpa, size, 0);
	return 0;
}

static int fake_region_add(struct memmap_listener *l, const struct memmap_region *r)
{
	struct fake_listener *f = fake_of(l);

	expect(!f->present[r->index], "%s: region %u added twice", l->name, r->index);
	expect(r->plugged && r->hva, "%s: region %u added without backing", l->name, r->index);
	if (inject(&f->fail_region_add)) {
		log_add(f->log, FAKE_REGION_ADD, l->name, r->index, r->gpa, r->size,
			fail_code(f->fail_errno));
		return fail_code(f->fail_errno);
	}
	f->present[r->index] = true;
	log_add(f->log, FAKE_REGION_ADD, l->name, r->index, r->gpa, r->size, 0);
	return 0;
}

static void fake_region_del(struct memmap_listener *l, const struct memmap_region *r)
{
	struct fake_listener *f = fake_of(l);

	expect(f->present[r->index], "%s: region %u removed but not added", l->name, r->index);
	f->present[r->index] = false;
	log_add(f->log, FAKE_REGION_DEL, l->name, r->index, r->gpa, r->size, 0);
}

void fake_listener_init(struct fake_listener *f, const char *name, bool pins, bool granules,
			struct memmap *mm, struct fake_log *log, struct fake_backing *b)
{
	memset(f, 0, sizeof(*f));
	f->l.name = name;
	f->l.pins = pins;
	f->l.region_add = fake_region_add;
	f->l.region_del = fake_region_del;
	if (granules) {
		f->l.granule_map = fake_map;
		f->l.granule_unmap = fake_unmap;
	}
	f->mm = mm;
	f->log = log;
	f->backing = b;
	if (b)
		fake_backing_watch(b, f);
}

void fake_listener_free(struct fake_listener *f)
{
	unsigned int i;

	for (i = 0; i < MEMMAP_MAX_REGIONS; i++) {
		free(f->mapped[i]);
		f->mapped[i] = NULL;
		f->present[i] = false;
	}
	f->nlive = 0;
}

/* The whole-map check. */

static void check_unplugged(const struct memmap_region *r, struct fake_backing *b,
			    struct fake_listener **ls, unsigned int nls)
{
	uint64_t g, p;
	unsigned int i;

	expect(!r->hva && r->fd == -1, "unplugged region %u has backing", r->index);
	expect(!b || !b->live[r->index], "unplugged region %u has live fake backing", r->index);
	for (g = 0; g < r->ngranules; g++)
		expect(r->state[g] == GRANULE_UNPLUGGED && r->ninflated[g] == 0,
		       "unplugged region %u granule %" PRIu64 " is %s with %u inflated", r->index,
		       g, memmap_state_name(r->state[g]), r->ninflated[g]);
	for (p = 0; p < r->size / PAGE; p++)
		expect(!test_bit(r->inflated, p) && !test_bit(r->released, p),
		       "unplugged region %u page %" PRIu64 " has bits set", r->index, p);
	for (i = 0; i < nls; i++) {
		expect(!ls[i]->present[r->index], "unplugged region %u is in %s", r->index,
		       ls[i]->l.name);
		for (g = 0; ls[i]->mapped[r->index] && g < ls[i]->nmapped[r->index]; g++)
			expect(!ls[i]->mapped[r->index][g], "%s maps unplugged region %u",
			       ls[i]->l.name, r->index);
	}
}

static void check_granule(struct memmap *mm, const struct memmap_region *r, uint64_t g,
			  bool pinning, struct fake_backing *b, struct fake_listener **ls,
			  unsigned int nls)
{
	uint64_t ppg = mm->pages_per_granule, first = g * ppg, p;
	uint64_t gpa = r->gpa + g * mm->granule;
	uint64_t ninf = 0, nrel = 0;
	uint8_t s = r->state[g];
	unsigned int i;

	for (p = first; p < first + ppg; p++) {
		bool inf = test_bit(r->inflated, p), rel = test_bit(r->released, p);

		expect(!rel || inf, "page 0x%" PRIx64 " released but not inflated",
		       r->gpa + p * PAGE);
		/*
		 * For inflated pages the map's accounting is the truth. A deflated page without
		 * a pinning listener stays a hole until the guest touches it; with one, every
		 * page the guest may use must be backed.
		 */
		if (b && (inf || pinning))
			expect(rel == test_bit(b->released[r->index], p),
			       "page 0x%" PRIx64 " (%sinflated): the map says %sreleased, the "
			       "backing disagrees",
			       r->gpa + p * PAGE, inf ? "" : "not ", rel ? "" : "not ");
		ninf += inf;
		nrel += rel;
	}
	expect(ninf == r->ninflated[g], "granule 0x%" PRIx64 ": count %u, bitmap %" PRIu64, gpa,
	       r->ninflated[g], ninf);
	switch (s) {
	case GRANULE_MAPPED:
		expect(ninf == 0, "granule 0x%" PRIx64 " mapped with %" PRIu64 " inflated", gpa,
		       ninf);
		break;
	case GRANULE_PARTIAL:
		expect(ninf > 0 && ninf <= ppg, "granule 0x%" PRIx64 " partial with %" PRIu64, gpa,
		       ninf);
		/* Pinned pages keep their backing; unpinned ones go one by one. */
		if (pinning)
			expect(nrel == 0, "pinned partial granule 0x%" PRIx64 " has released pages",
			       gpa);
		else
			expect(nrel == ninf && ninf < ppg,
			       "partial granule 0x%" PRIx64 ": %" PRIu64 " inflated, %" PRIu64
			       " released",
			       gpa, ninf, nrel);
		break;
	case GRANULE_DISCARDED:
		expect(ninf == ppg && nrel == ppg,
		       "discarded granule 0x%" PRIx64 ": %" PRIu64 " inflated, %" PRIu64
		       " released",
		       gpa, ninf, nrel);
		break;
	default:
		expect(false, "plugged granule 0x%" PRIx64 " in state %s", gpa,
		       memmap_state_name(s));
	}
	for (i = 0; i < nls; i++) {
		const struct fake_listener *f = ls[i];
		bool mapped = fake_listener_mapped(f, gpa);
		bool want;

		if (!f->l.granule_map)
			continue;
		want = mm->started && (!f->l.pins || s != GRANULE_DISCARDED);
		expect(mapped == want, "granule 0x%" PRIx64 " (%s) is %smapped in %s", gpa,
		       memmap_state_name(s), mapped ? "" : "not ", f->l.name);
		for (p = first; mapped && f->l.pins && b && p < first + ppg; p++)
			expect(!test_bit(b->released[r->index], p),
			       "%s maps released page 0x%" PRIx64, f->l.name, r->gpa + p * PAGE);
	}
}

void fake_check(struct memmap *mm, struct fake_backing *b, struct fake_listener **ls,
		unsigned int nls)
{
	/* Pinned or hugetlb: partial granules keep their backing (memmap_whole_granules). */
	bool pinning = memmap_whole_granules(mm);
	struct memmap_stats st, want = {0};
	uint64_t live[4] = {0};
	unsigned int i, k;

	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];
		uint64_t g, p;

		expect(r->index == i, "region %u has index %u", i, r->index);
		if (!r->size) {
			/* An empty --slots slot: nothing in it, nothing anywhere holds it. */
			expect(mm->nslots && r->kind == MEMMAP_DIMM && i >= mm->dimm_first &&
				       !r->plugged && !r->state && r->fd == -1,
			       "region %u is empty but not an empty DIMM slot", i);
			continue;
		}
		expect(r->gpa % mm->granule == 0 && r->size % mm->granule == 0,
		       "region %u is not whole granules", i);
		/* Boot RAM and fixed slots are in address order; placed DIMMs only must not
		 * overlap anything. */
		for (k = 0; k < i; k++)
			expect(r->gpa >= mm->region[k].gpa + mm->region[k].size ||
				       r->gpa + r->size <= mm->region[k].gpa,
			       "region %u overlaps region %u", i, k);
		expect(mm->nslots || i == 0 ||
			       r->gpa >= mm->region[i - 1].gpa + mm->region[i - 1].size,
		       "region %u is out of order", i);
		if (r->kind == MEMMAP_DIMM)
			expect(r->gpa >= mm->dimm_base && r->gpa + r->size <= mm->dimm_end,
			       "DIMM region %u is outside the window", i);
		if (!r->plugged) {
			check_unplugged(r, b, ls, nls);
			want.granules[GRANULE_UNPLUGGED] += r->ngranules;
			continue;
		}
		expect(r->hva != NULL, "plugged region %u has no memory", i);
		expect(!b || b->live[i], "plugged region %u has no fake backing", i);
		want.plugged_bytes += r->size;
		for (k = 0; k < nls; k++)
			if (ls[k]->l.region_add)
				expect(ls[k]->present[i] == mm->started, "region %u %s in %s", i,
				       ls[k]->present[i] ? "present" : "missing", ls[k]->l.name);
		for (g = 0; g < r->ngranules; g++) {
			check_granule(mm, r, g, pinning, b, ls, nls);
			want.granules[r->state[g]]++;
			for (k = 0; k < nls; k++)
				live[k] += fake_listener_mapped(ls[k], r->gpa + g * mm->granule);
		}
		for (p = 0; p < r->size / PAGE; p++) {
			want.inflated_bytes += test_bit(r->inflated, p) ? PAGE : 0;
			want.released_bytes += test_bit(r->released, p) ? PAGE : 0;
		}
	}
	for (k = 0; k < nls; k++)
		expect(live[k] == ls[k]->nlive,
		       "%s holds %" PRIu64 " mappings, the map explains %" PRIu64, ls[k]->l.name,
		       ls[k]->nlive, live[k]);
	/* What the stats call IOMMU-mapped is what every pinning fake really maps. */
	for (k = 0; k < nls; k++)
		if (ls[k]->l.pins && ls[k]->l.granule_map)
			want.pinned_granules = ls[k]->nlive;
	want.inflated_pinned_bytes = want.inflated_bytes - want.released_bytes;
	memmap_get_stats(mm, &st);
	expect(st.plugged_bytes == want.plugged_bytes,
	       "stats: plugged %" PRIu64 ", recount %" PRIu64, st.plugged_bytes,
	       want.plugged_bytes);
	expect(st.inflated_bytes == want.inflated_bytes,
	       "stats: inflated %" PRIu64 ", recount %" PRIu64, st.inflated_bytes,
	       want.inflated_bytes);
	expect(st.released_bytes == want.released_bytes,
	       "stats: released %" PRIu64 ", recount %" PRIu64, st.released_bytes,
	       want.released_bytes);
	expect(st.inflated_pinned_bytes == want.inflated_pinned_bytes,
	       "stats: pinned %" PRIu64 ", recount %" PRIu64, st.inflated_pinned_bytes,
	       want.inflated_pinned_bytes);
	expect(pinning || st.inflated_pinned_bytes == 0, "pinned bytes without a pinning listener");
	expect(st.pinned_granules == want.pinned_granules,
	       "stats: %" PRIu64 " pinned granules, the pinning listener maps %" PRIu64,
	       st.pinned_granules, want.pinned_granules);
	for (i = 0; i < 4; i++)
		expect(st.granules[i] == want.granules[i],
		       "stats: %" PRIu64 " %s, recount %" PRIu64, st.granules[i],
		       memmap_state_name(i), want.granules[i]);
}

int fake_env_init(struct fake_env *e, const struct memmap_config *cfg, bool iommu,
		  struct error *err)
{
	int ret;

	memset(e, 0, sizeof(*e));
	fake_backing_init(&e->backing, &e->mm, &e->log);
	ret = memmap_init(&e->mm, cfg, &fake_backing_ops, &e->backing, err);
	if (ret)
		return ret;
	fake_listener_init(&e->slots, "slots", false, false, &e->mm, &e->log, &e->backing);
	e->ls[e->nls++] = &e->slots;
	assert_int_equal(memmap_add_listener(&e->mm, &e->slots.l, err), 0);
	if (iommu) {
		fake_listener_init(&e->iommu, "iommu", true, true, &e->mm, &e->log, &e->backing);
		e->ls[e->nls++] = &e->iommu;
		assert_int_equal(memmap_add_listener(&e->mm, &e->iommu.l, err), 0);
	}
	return 0;
}

void fake_env_check(struct fake_env *e)
{
	fake_check(&e->mm, &e->backing, e->ls, e->nls);
}

void fake_env_free(struct fake_env *e)
{
	unsigned int i;

	/* The listeners' owners go first (as closing the VM and container would). */
	for (i = 0; i < e->nls; i++)
		fake_listener_free(e->ls[i]);
	memmap_destroy(&e->mm);
	assert_int_equal(fake_backing_nlive(&e->backing), 0);
	fake_log_free(&e->log);
}
