// SPDX-License-Identifier: MIT
/*
 * Fuzzes guest memory access together with the balloon and DIMM hotplug that change the
 * memory under it. Each input builds a small map on real memfds (16M of low RAM, two
 * adjacent 4M DIMM slots at 4G) and runs a program of guestmem_read/write/ptr,
 * inflate/deflate and plug/unplug calls with arbitrary addresses. An independent model
 * predicts every result and a shadow copy of guest memory predicts every byte read:
 * released pages read as zero, everything else as last written.
 *
 * Input: one byte of setup (granule size, whether a pinning listener is present), then
 * operations of one opcode byte and their arguments (an address is a base selector and a
 * signed offset; a length has a mode byte); missing bytes read as zero.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "mem/guestmem.h"
#include "mem/memmap.h"

#define PAGE MEMMAP_PAGE_SIZE
#define LOW_SIZE (16ULL << 20)
#define DIMM_BASE 0x100000000ULL
#define DIMM_SIZE (4ULL << 20)
#define NPAGES ((LOW_SIZE + 2 * DIMM_SIZE) / PAGE)
#define MAX_LEN 16384
#define MAX_OPS 256

/* A pinning listener that keeps the set of mapped granules and checks each call. */
struct pinner {
	struct memmap_listener l;
	struct memmap *mm;
	uint8_t mapped[NPAGES]; /* per granule, indexed like pages (granule index * ppg) */
};

static struct pinner pinner;

/* The model's page index for a guest-physical address, or -1 if it is not RAM. */
static long page_index(uint64_t gpa)
{
	if (gpa < LOW_SIZE)
		return (long)(gpa / PAGE);
	if (gpa >= DIMM_BASE && gpa - DIMM_BASE < 2 * DIMM_SIZE)
		return (long)((LOW_SIZE + gpa - DIMM_BASE) / PAGE);
	return -1;
}

static long granule_slot(struct memmap *mm, uint64_t gpa)
{
	long p = page_index(gpa);

	FUZZ_CHECK(p >= 0 && gpa % mm->granule == 0);
	return p;
}

static int pin_map(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		   uint64_t size, void *hva)
{
	struct pinner *pn = (struct pinner *)l;
	long s = granule_slot(pn->mm, gpa);

	FUZZ_CHECK(size == pn->mm->granule && hva == r->hva + (gpa - r->gpa));
	FUZZ_CHECK(gpa >= r->gpa && gpa + size <= r->gpa + r->size);
	FUZZ_CHECK(!pn->mapped[s]);
	pn->mapped[s] = 1;
	return 0;
}

static int pin_unmap(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
		     uint64_t size)
{
	struct pinner *pn = (struct pinner *)l;
	long s = granule_slot(pn->mm, gpa);

	(void)r;
	FUZZ_CHECK(size == pn->mm->granule && pn->mapped[s]);
	pn->mapped[s] = 0;
	return 0;
}

/* The memfd backing, with a check that nothing pinned is ever released. */
static void expect_unpinned(struct memmap_region *r, uint64_t off, uint64_t len)
{
	uint64_t g;

	for (g = off & ~(pinner.mm->granule - 1); g < off + len; g += pinner.mm->granule)
		FUZZ_CHECK(!pinner.mapped[page_index(r->gpa + g)]);
}

static int fz_create(void *opaque, struct memmap_region *r)
{
	return memmap_memfd_backing.create(opaque, r);
}

static void fz_destroy(void *opaque, struct memmap_region *r)
{
	expect_unpinned(r, 0, r->size);
	memmap_memfd_backing.destroy(opaque, r);
}

static int fz_populate(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	return memmap_memfd_backing.populate(opaque, r, off, len);
}

static int fz_release(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	expect_unpinned(r, off, len);
	return memmap_memfd_backing.release(opaque, r, off, len);
}

static const struct memmap_backing_ops fz_backing = {
	.create = fz_create,
	.destroy = fz_destroy,
	.populate = fz_populate,
	.release = fz_release,
};

/* The model. */
static uint8_t *shadow[NPAGES]; /* NULL: the page reads as zero */
static uint8_t inflated[NPAGES], released[NPAGES];
static bool plugged[3];

static void shadow_zero(long p)
{
	free(shadow[p]);
	shadow[p] = NULL;
}

static uint8_t shadow_byte(uint64_t gpa)
{
	long p = page_index(gpa);

	return shadow[p] ? shadow[p][gpa % PAGE] : 0;
}

static void shadow_set(uint64_t gpa, uint8_t v)
{
	long p = page_index(gpa);

	if (!shadow[p]) {
		shadow[p] = calloc(1, PAGE);
		FUZZ_CHECK(shadow[p]);
	}
	shadow[p][gpa % PAGE] = v;
}

static int region_of(uint64_t gpa)
{
	if (gpa < LOW_SIZE)
		return 0;
	if (gpa >= DIMM_BASE && gpa - DIMM_BASE < 2 * DIMM_SIZE)
		return 1 + (int)((gpa - DIMM_BASE) / DIMM_SIZE);
	return -1;
}

static bool model_plugged(uint64_t gpa)
{
	int r = region_of(gpa);

	return r >= 0 && plugged[r];
}

/* Whether every byte of [gpa, gpa + len) is plugged RAM (adjacent regions are fine). */
static bool model_range(uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (!len)
		return true;
	if (len > UINT64_MAX - gpa)
		return false;
	end = gpa + len - 1;
	if (!model_plugged(gpa) || !model_plugged(end))
		return false;
	/* Both ends are RAM; the only gap between plugged bytes is the one below 4G. */
	return (gpa < LOW_SIZE) == (end < LOW_SIZE);
}

static bool model_ptr(uint64_t gpa, uint64_t len)
{
	if (!model_plugged(gpa))
		return false;
	if (len && (len > UINT64_MAX - gpa || region_of(gpa + len - 1) != region_of(gpa)))
		return false;
	return model_range(gpa, len);
}

/* Follows the map's released bits over one granule: newly released pages read zero. */
static void sync_granule(struct memmap *mm, uint64_t gpa)
{
	struct memmap_region *r = memmap_find(mm, gpa);
	uint64_t first, p;

	if (!r || !r->plugged)
		return;
	first = (gpa - r->gpa) / mm->granule * mm->pages_per_granule;
	for (p = first; p < first + mm->pages_per_granule; p++) {
		long i = page_index(r->gpa + p * PAGE);
		bool now = r->released[p / (8 * sizeof(long))] & (1UL << (p % (8 * sizeof(long))));

		if (now && !released[i])
			shadow_zero(i);
		released[i] = now;
	}
}

/* Per granule: state, count, bitmap and the pinner's mappings agree. */
static void check_granule(struct memmap *mm, uint64_t gpa, bool pin)
{
	struct memmap_region *r = memmap_find(mm, gpa);
	uint64_t g, p, n = 0;
	long first;

	if (!r || !r->plugged)
		return;
	g = (gpa - r->gpa) / mm->granule;
	first = page_index(r->gpa + g * mm->granule);
	for (p = 0; p < mm->pages_per_granule; p++)
		n += inflated[first + p];
	FUZZ_CHECK(n == r->ninflated[g]);
	switch (r->state[g]) {
	case GRANULE_MAPPED:
		FUZZ_CHECK(n == 0);
		break;
	case GRANULE_PARTIAL:
		FUZZ_CHECK(n > 0);
		break;
	case GRANULE_DISCARDED:
		FUZZ_CHECK(n == mm->pages_per_granule);
		break;
	default:
		FUZZ_CHECK(false);
	}
	if (pin)
		FUZZ_CHECK(pinner.mapped[first] == (r->state[g] != GRANULE_DISCARDED));
}

/* Bytes from gpa to the end of its region, so lengths can hit region ends exactly. */
static uint64_t to_region_end(uint64_t gpa)
{
	switch (region_of(gpa)) {
	case 0:
		return LOW_SIZE - gpa;
	case 1:
		return DIMM_BASE + DIMM_SIZE - gpa;
	case 2:
		return DIMM_BASE + 2 * DIMM_SIZE - gpa;
	}
	return 0;
}

/* A length: small, huge, or the distance to the region's end give or take a little. */
static uint64_t random_len(struct fuzz_input *in, uint64_t gpa, uint64_t max)
{
	unsigned int mode = fuzz_take(in, 1);
	uint64_t len;

	if (mode % 4 == 0)
		len = to_region_end(gpa) + (int8_t)fuzz_take(in, 1);
	else if (mode % 4 == 1)
		len = fuzz_take(in, 8);
	else
		len = fuzz_take(in, 2);
	return max && len > max ? len % (max + 1) : len;
}

static uint64_t random_gpa(struct fuzz_input *in)
{
	static const uint64_t bases[] = {
		0,
		LOW_SIZE,
		DIMM_BASE,
		DIMM_BASE + DIMM_SIZE,
		DIMM_BASE + 2 * DIMM_SIZE,
		0xC0000000ULL,
		UINT64_MAX,
	};
	unsigned int sel = fuzz_take(in, 1);
	int32_t off = (int32_t)fuzz_take(in, 4);

	if (sel % 8 == 7)
		return fuzz_take(in, 8);
	return bases[sel % 8] + (int64_t)off;
}

static uint8_t buf[MAX_LEN];

static void run(struct memmap *mm, struct fuzz_input *in, bool pin)
{
	struct error err;
	unsigned int ops, discards = 0;

	for (ops = 0; ops < MAX_OPS && fuzz_left(in); ops++) {
		unsigned int op = fuzz_take(in, 1) % 8;
		uint64_t gpa = op <= 4 || op == 7 ? random_gpa(in) : 0;
		uint64_t len, i;
		long p;
		int ret;
		void *ptr;

		switch (op) {
		case 0: /* write a pattern */
			len = random_len(in, gpa, MAX_LEN);
			for (i = 0; i < len; i++)
				buf[i] = (uint8_t)(gpa + i * 131 + ops);
			ret = guestmem_write(mm, gpa, buf, len);
			FUZZ_CHECK((ret == 0) == model_range(gpa, len));
			FUZZ_CHECK(ret == 0 || ret == -EFAULT);
			for (i = 0; !ret && i < len; i++)
				shadow_set(gpa + i, buf[i]);
			break;
		case 1: /* read */
			len = random_len(in, gpa, MAX_LEN);
			memset(buf, 0xa5, len);
			ret = guestmem_read(mm, gpa, buf, len);
			FUZZ_CHECK((ret == 0) == model_range(gpa, len));
			for (i = 0; i < len; i++)
				FUZZ_CHECK(ret ? buf[i] == 0xa5 : buf[i] == shadow_byte(gpa + i));
			break;
		case 2: /* pointer */
			len = random_len(in, gpa, 0);
			guestmem_lock(mm);
			ptr = guestmem_ptr(mm, gpa, len);
			FUZZ_CHECK((ptr != NULL) == model_ptr(gpa, len));
			if (ptr) {
				struct memmap_region *r = memmap_find(mm, gpa);

				FUZZ_CHECK((uint8_t *)ptr == r->hva + (gpa - r->gpa));
				for (i = 0; i < len && i < 256; i++)
					FUZZ_CHECK(((uint8_t *)ptr)[i] == shadow_byte(gpa + i));
			}
			guestmem_unlock(mm);
			break;
		case 3: /* inflate */
		case 4: /* deflate */
			p = page_index(gpa);
			ret = op == 3 ? memmap_inflate_page(mm, gpa) : memmap_deflate_page(mm, gpa);
			if (p < 0 || gpa % PAGE || !model_plugged(gpa) ||
			    inflated[p] != (op == 4)) {
				FUZZ_CHECK(ret == -EINVAL);
				break;
			}
			FUZZ_CHECK(ret == 0);
			inflated[p] = op == 3;
			sync_granule(mm, gpa);
			check_granule(mm, gpa, pin);
			break;
		case 5: /* plug */
		case 6: /* unplug */
			i = fuzz_take(in, 1) % 4;
			ret = op == 5 ? memmap_plug(mm, i, &err) : memmap_unplug(mm, i, &err);
			if (i == 0 || i == 3 || plugged[i] != (op == 6)) {
				FUZZ_CHECK(ret < 0);
				break;
			}
			FUZZ_CHECK(ret == 0);
			plugged[i] = op == 5;
			for (p = page_index(DIMM_BASE + (i - 1) * DIMM_SIZE), len = 0;
			     len < DIMM_SIZE / PAGE; p++, len++) {
				shadow_zero(p);
				inflated[p] = released[p] = 0;
			}
			break;
		case 7: /* inflate a whole granule, to reach the discarded state */
			if (discards++ >= 4 || gpa >= UINT64_MAX - mm->granule)
				break;
			gpa &= ~(mm->granule - 1);
			for (i = 0; i < mm->pages_per_granule; i++) {
				p = page_index(gpa + i * PAGE);
				ret = memmap_inflate_page(mm, gpa + i * PAGE);
				if (p < 0 || !model_plugged(gpa) || inflated[p]) {
					FUZZ_CHECK(ret == -EINVAL);
					continue;
				}
				FUZZ_CHECK(ret == 0);
				inflated[p] = 1;
			}
			sync_granule(mm, gpa);
			check_granule(mm, gpa, pin);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t granules[] = {4096, 65536, 2ULL << 20, 4ULL << 20};
	struct fuzz_input in = {data, size, 0};
	struct memmap_config cfg = {0};
	struct memmap mm;
	struct error err = {0};
	unsigned int setup = fuzz_take(&in, 1);
	bool pin = setup & 4;
	long p;

	cfg.mem = LOW_SIZE;
	cfg.maxmem = LOW_SIZE + 2 * DIMM_SIZE;
	cfg.granule = granules[setup % 4];
	cfg.dimm_size = DIMM_SIZE;
	FUZZ_CHECK(memmap_init(&mm, &cfg, &fz_backing, NULL, &err) == 0);
	memset(&pinner, 0, sizeof(pinner));
	pinner.l = (struct memmap_listener){
		.name = "pinner", .pins = true, .granule_map = pin_map, .granule_unmap = pin_unmap};
	pinner.mm = &mm;
	if (pin)
		FUZZ_CHECK(memmap_add_listener(&mm, &pinner.l, &err) == 0);
	FUZZ_CHECK(memmap_start(&mm, &err) == 0);
	plugged[0] = true;
	plugged[1] = plugged[2] = false;

	run(&mm, &in, pin);

	/* Whatever happened, the stats add up. */
	{
		struct memmap_stats st;
		uint64_t ninf = 0, nrel = 0;

		memmap_get_stats(&mm, &st);
		for (p = 0; p < (long)NPAGES; p++) {
			ninf += inflated[p];
			nrel += inflated[p] && released[p];
		}
		FUZZ_CHECK(st.inflated_bytes == ninf * PAGE);
		FUZZ_CHECK(st.released_bytes == nrel * PAGE);
		FUZZ_CHECK(st.plugged_bytes == LOW_SIZE + (plugged[1] + plugged[2]) * DIMM_SIZE);
	}

	/* The pinner's owner goes away first, as a vfio container would. */
	memset(pinner.mapped, 0, sizeof(pinner.mapped));
	memmap_destroy(&mm);
	for (p = 0; p < (long)NPAGES; p++) {
		shadow_zero(p);
		inflated[p] = released[p] = 0;
	}
	return 0;
}
