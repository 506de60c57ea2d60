// SPDX-License-Identifier: MIT
#include "vfio/region.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <linux/vfio.h>

#include "vfio/info.h"

static int parse_region_cap(void *ctx, const uint8_t *b, size_t len, size_t off, uint16_t id,
			    struct error *err)
{
	struct vfio_region *r = ctx;
	struct vfio_region_info_cap_sparse_mmap sp;
	struct vfio_region_sparse_mmap_area a;
	unsigned int i;

	if (id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
		r->msix_mappable = true;
		return 0;
	}
	if (id != VFIO_REGION_INFO_CAP_SPARSE_MMAP)
		return 0;
	if (r->sparse || off > len - sizeof(sp))
		return error_set(err, -EINVAL,
				 "VFIO_DEVICE_GET_REGION_INFO %u: sparse-mmap capability at %zu "
				 "repeated or cut short",
				 r->index, off);
	memcpy(&sp, b + off, sizeof(sp));
	if (sp.nr_areas > VFIO_REGION_MAX_AREAS || sp.nr_areas * sizeof(a) > len - off - sizeof(sp))
		return error_set(err, -EINVAL,
				 "VFIO_DEVICE_GET_REGION_INFO %u: %" PRIu32
				 " sparse areas, more than its buffer or slabvm's %u",
				 r->index, sp.nr_areas, VFIO_REGION_MAX_AREAS);
	for (i = 0; i < sp.nr_areas; i++) {
		memcpy(&a, b + off + sizeof(sp) + i * sizeof(a), sizeof(a));
		if (a.offset > r->size || a.size > r->size - a.offset)
			return error_set(err, -EINVAL,
					 "VFIO_DEVICE_GET_REGION_INFO %u: sparse area [0x%" PRIx64
					 ", +0x%" PRIx64 ") outside the region's 0x%" PRIx64
					 " bytes",
					 r->index, (uint64_t)a.offset, (uint64_t)a.size, r->size);
		r->area[i] = (struct vfio_area){a.offset, a.size};
	}
	r->nareas = sp.nr_areas;
	r->sparse = true;
	return 0;
}

int vfio_parse_region_info(const void *buf, size_t len, struct vfio_region *r, struct error *err)
{
	struct vfio_region_info hdr;

	memset(r, 0, sizeof(*r));
	if (len < sizeof(hdr))
		return error_set(err, -EINVAL,
				 "VFIO_DEVICE_GET_REGION_INFO: %zu bytes, less than its header",
				 len);
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.argsz < sizeof(hdr) || hdr.argsz > len)
		return error_set(err, -EINVAL,
				 "VFIO_DEVICE_GET_REGION_INFO %" PRIu32 ": argsz %" PRIu32
				 " does not fit %zu bytes",
				 hdr.index, hdr.argsz, len);
	r->index = hdr.index;
	r->flags = hdr.flags;
	r->size = hdr.size;
	r->offset = hdr.offset;
	if (!(hdr.flags & VFIO_REGION_INFO_FLAG_CAPS))
		return 0;
	return vfio_info_caps_walk(buf, hdr.argsz, sizeof(hdr), hdr.cap_offset, parse_region_cap, r,
				   "VFIO_DEVICE_GET_REGION_INFO", err);
}

/* Is [a, b) inside one of the n page-rounded ranges (inward for mmap, outward for traps)? */
static bool covered(const struct vfio_area *v, unsigned int n, uint64_t page, bool inward,
		    uint64_t a, uint64_t b)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t lo = v[i].offset, hi = v[i].offset + v[i].size;

		if (inward) {
			lo = (lo + page - 1) & ~(page - 1);
			hi &= ~(page - 1);
		} else {
			lo &= ~(page - 1);
			hi = (hi + page - 1) & ~(page - 1);
		}
		if (a >= lo && b <= hi)
			return true;
	}
	return false;
}

static void add_point(uint64_t *pt, unsigned int *n, uint64_t v, uint64_t page, uint64_t size)
{
	uint64_t d = v & ~(page - 1), u = (v + page - 1) & ~(page - 1);

	pt[(*n)++] = d < size ? d : size;
	pt[(*n)++] = u < size ? u : size;
}

int vfio_bar_layout(const struct vfio_region *r, uint64_t page, const struct vfio_area *trap,
		    unsigned int ntrap, struct vfio_bar_layout *out, struct error *err)
{
	uint64_t pt[2 * (2 * VFIO_REGION_MAX_AREAS + 2 * 2) + 2], t;
	struct vfio_area whole = {0, r->size};
	const struct vfio_area *mm = r->sparse ? r->area : &whole;
	unsigned int nmm = r->sparse ? r->nareas : 1, n = 0, i, j;

	memset(out, 0, sizeof(*out));
	if (!page || page & (page - 1) || ntrap > 2)
		return error_set(err, -EINVAL, "BAR layout: page size %" PRIu64 ", %u traps", page,
				 ntrap);
	for (i = 0; i < ntrap; i++)
		if (trap[i].offset > r->size || trap[i].size > r->size - trap[i].offset)
			return error_set(err, -EINVAL,
					 "region %u: trapped range [0x%" PRIx64 ", +0x%" PRIx64
					 ") outside its 0x%" PRIx64 " bytes",
					 r->index, trap[i].offset, trap[i].size, r->size);
	if (!r->size)
		return 0;
	if (!(r->flags & VFIO_REGION_INFO_FLAG_MMAP))
		nmm = 0;
	/* Cut the BAR at every page boundary around an area's or trap's ends. */
	pt[n++] = 0;
	pt[n++] = r->size;
	for (i = 0; i < nmm; i++) {
		add_point(pt, &n, mm[i].offset, page, r->size);
		add_point(pt, &n, mm[i].offset + mm[i].size, page, r->size);
	}
	for (i = 0; i < ntrap; i++) {
		add_point(pt, &n, trap[i].offset, page, r->size);
		add_point(pt, &n, trap[i].offset + trap[i].size, page, r->size);
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && pt[j - 1] > pt[j]; j--) {
			t = pt[j];
			pt[j] = pt[j - 1];
			pt[j - 1] = t;
		}
	for (i = 0; i + 1 < n; i++) {
		uint64_t a = pt[i], b = pt[i + 1];
		bool mmap;
		struct vfio_bar_piece *last;

		if (a == b)
			continue;
		mmap = covered(mm, nmm, page, true, a, b) &&
		       !covered(trap, ntrap, page, false, a, b);
		last = out->npieces ? &out->piece[out->npieces - 1] : NULL;
		if (last && last->mmap == mmap) {
			last->size += b - a;
			continue;
		}
		/* Cannot happen with the limits above; checked so that no input overruns. */
		if (out->npieces == VFIO_BAR_MAX_PIECES)
			return error_set(err, -EINVAL, "region %u: more than %u pieces", r->index,
					 VFIO_BAR_MAX_PIECES);
		out->piece[out->npieces++] = (struct vfio_bar_piece){a, b - a, mmap};
		out->nmmap += mmap;
	}
	return 0;
}
