// SPDX-License-Identifier: MIT
/*
 * Region info parsing (sparse-mmap and MSI-X-mappable capabilities) and the BAR layout
 * that decides which pages are mmapped and which are trapped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <linux/vfio.h>

#include "vfio/region.h"

#define PAGE 4096

static void expect_msg(const struct error *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("message \"%s\" does not contain \"%s\"", err->msg, want);
}

/* A region info answer: flags, size, and optionally sparse areas and MSIX_MAPPABLE. */
static size_t build(uint8_t *buf, uint32_t flags, uint64_t size, const struct vfio_area *areas,
		    unsigned int nareas, bool msix_mappable)
{
	struct vfio_region_info hdr = {
		.flags = flags, .index = 0, .size = size, .offset = 0x10000000000ULL};
	struct vfio_region_info_cap_sparse_mmap sp = {0};
	struct vfio_info_cap_header mx = {0};
	size_t off = sizeof(hdr);
	unsigned int i;

	if (msix_mappable) {
		hdr.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		hdr.cap_offset = off;
		mx.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE;
		mx.version = 1;
		mx.next = areas ? off + sizeof(mx) : 0;
		memcpy(buf + off, &mx, sizeof(mx));
		off += sizeof(mx);
	}
	if (areas) {
		hdr.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (!hdr.cap_offset)
			hdr.cap_offset = off;
		sp.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		sp.header.version = 1;
		sp.nr_areas = nareas;
		memcpy(buf + off, &sp, sizeof(sp));
		off += sizeof(sp);
		for (i = 0; i < nareas; i++) {
			struct vfio_region_sparse_mmap_area a = {areas[i].offset, areas[i].size};

			memcpy(buf + off, &a, sizeof(a));
			off += sizeof(a);
		}
	}
	hdr.argsz = off;
	memcpy(buf, &hdr, sizeof(hdr));
	return off;
}

static void test_parse(void **state)
{
	static const struct vfio_area areas[] = {{0, 0x2000}, {0x3000, 0x1000}};
	uint8_t buf[512];
	struct vfio_region r;
	struct error err = {0};
	size_t n;

	(void)state;
	n = build(buf, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, 1 << 20, NULL, 0,
		  false);
	assert_int_equal(vfio_parse_region_info(buf, n, &r, &err), 0);
	assert_int_equal(r.size, 1 << 20);
	assert_int_equal(r.offset, 0x10000000000ULL);
	assert_false(r.sparse);
	assert_false(r.msix_mappable);

	n = build(buf, VFIO_REGION_INFO_FLAG_MMAP, 0x4000, areas, 2, true);
	assert_int_equal(vfio_parse_region_info(buf, n, &r, &err), 0);
	assert_true(r.sparse);
	assert_true(r.msix_mappable);
	assert_int_equal(r.nareas, 2);
	assert_int_equal(r.area[1].offset, 0x3000);
	assert_int_equal(r.area[1].size, 0x1000);
	/* Cut anywhere, it is refused. */
	for (size_t cut = 0; cut < n; cut++) {
		struct vfio_region_info hdr;

		build(buf, VFIO_REGION_INFO_FLAG_MMAP, 0x4000, areas, 2, true);
		memcpy(&hdr, buf, sizeof(hdr));
		if (cut >= sizeof(hdr)) {
			hdr.argsz = cut;
			memcpy(buf, &hdr, sizeof(hdr));
		}
		assert_int_equal(vfio_parse_region_info(buf, cut, &r, &err), -EINVAL);
	}
	/* An area past the region's end. */
	n = build(buf, VFIO_REGION_INFO_FLAG_MMAP, 0x3000, areas, 2, false);
	assert_int_equal(vfio_parse_region_info(buf, n, &r, &err), -EINVAL);
	expect_msg(&err, "sparse area [0x3000, +0x1000) outside the region's 0x3000 bytes");
}

static void expect_pieces(const struct vfio_bar_layout *l, const struct vfio_bar_piece *want,
			  unsigned int n)
{
	unsigned int i;

	assert_int_equal(l->npieces, n);
	for (i = 0; i < n; i++) {
		if (l->piece[i].offset != want[i].offset || l->piece[i].size != want[i].size ||
		    l->piece[i].mmap != want[i].mmap)
			fail_msg("piece %u: [0x%llx, +0x%llx) %s", i,
				 (unsigned long long)l->piece[i].offset,
				 (unsigned long long)l->piece[i].size,
				 l->piece[i].mmap ? "mmap" : "trap");
	}
}

static struct vfio_region region(uint32_t flags, uint64_t size)
{
	return (struct vfio_region){.flags = flags, .size = size};
}

static void test_layout(void **state)
{
	struct vfio_region r;
	struct vfio_bar_layout l;
	struct error err = {0};
	/* NVMe: 65 vectors' table at 0x2000, the PBA at 0x3000. */
	const struct vfio_area msix[] = {{0x2000, 65 * 16}, {0x3000, 16}};

	(void)state;
	/* edu's BAR 0: all of it mmapped. */
	r = region(VFIO_REGION_INFO_FLAG_MMAP, 1 << 20);
	assert_int_equal(vfio_bar_layout(&r, PAGE, NULL, 0, &l, &err), 0);
	expect_pieces(&l, (struct vfio_bar_piece[]){{0, 1 << 20, true}}, 1);
	assert_int_equal(l.nmmap, 1);

	/* The MSI-X pages are trapped even where mmap is allowed. */
	r = region(VFIO_REGION_INFO_FLAG_MMAP, 0x4000);
	assert_int_equal(vfio_bar_layout(&r, PAGE, msix, 2, &l, &err), 0);
	expect_pieces(&l, (struct vfio_bar_piece[]){{0, 0x2000, true}, {0x2000, 0x2000, false}}, 2);
	/* A table in the middle of a 64K BAR with 64K pages traps all of it. */
	assert_int_equal(vfio_bar_layout(&r, 0x10000, msix, 2, &l, &err), 0);
	expect_pieces(&l, (struct vfio_bar_piece[]){{0, 0x4000, false}}, 1);
	assert_int_equal(l.nmmap, 0);

	/* The kernel's sparse areas around the table, not page aligned at the end. */
	r = region(VFIO_REGION_INFO_FLAG_MMAP, 0x10000);
	r.sparse = true;
	r.nareas = 2;
	r.area[0] = (struct vfio_area){0, 0x2000};
	r.area[1] = (struct vfio_area){0x4000, 0xb800};
	assert_int_equal(vfio_bar_layout(&r, PAGE, msix, 2, &l, &err), 0);
	expect_pieces(&l,
		      (struct vfio_bar_piece[]){{0, 0x2000, true},
						{0x2000, 0x2000, false},
						{0x4000, 0xb000, true},
						{0xf000, 0x1000, false}},
		      4);
	assert_int_equal(l.nmmap, 2);
	/* A sparse region with no areas mmaps nothing. */
	r.nareas = 0;
	assert_int_equal(vfio_bar_layout(&r, PAGE, NULL, 0, &l, &err), 0);
	expect_pieces(&l, (struct vfio_bar_piece[]){{0, 0x10000, false}}, 1);

	/* No MMAP flag, or a BAR smaller than a page: trapped. */
	r = region(VFIO_REGION_INFO_FLAG_READ, 0x4000);
	assert_int_equal(vfio_bar_layout(&r, PAGE, NULL, 0, &l, &err), 0);
	expect_pieces(&l, (struct vfio_bar_piece[]){{0, 0x4000, false}}, 1);
	r = region(VFIO_REGION_INFO_FLAG_MMAP, 256);
	assert_int_equal(vfio_bar_layout(&r, PAGE, NULL, 0, &l, &err), 0);
	expect_pieces(&l, (struct vfio_bar_piece[]){{0, 256, false}}, 1);
	/* An absent BAR has no pieces. */
	r = region(VFIO_REGION_INFO_FLAG_MMAP, 0);
	assert_int_equal(vfio_bar_layout(&r, PAGE, NULL, 0, &l, &err), 0);
	assert_int_equal(l.npieces, 0);

	/* A trap outside the BAR, a bad page size. */
	r = region(VFIO_REGION_INFO_FLAG_MMAP, 0x2000);
	assert_int_equal(vfio_bar_layout(&r, PAGE, msix, 2, &l, &err), -EINVAL);
	expect_msg(&err, "trapped range [0x2000, +0x410) outside its 0x2000 bytes");
	assert_int_equal(vfio_bar_layout(&r, 3000, NULL, 0, &l, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
