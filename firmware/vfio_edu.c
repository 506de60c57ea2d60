// SPDX-License-Identifier: MIT
/*
 * Drives QEMU's edu device (PCI 1234:11e8) assigned with --vfio, with --balloon, in the
 * testbed (guests/scenarios/vfio-edu.sh). edu copies between guest memory and its own 4 KiB
 * buffer by DMA; addresses are IOVAs, which slabvm makes equal to guest-physical ones, one
 * IOMMU mapping per granule. Every step prints "edu: ok WHAT" or "edu: FAIL WHAT" and the
 * guest exits with the number of failures (0: all passed).
 *
 *  1. The device: found on bus 0, BAR 0 where slabvm placed it, memory decoding and bus
 *     mastering on; its ID register and liveness register (reads back ~value) answer
 *     through the BAR's memslot.
 *  2. DMA RAM -> edu -> RAM (2 KiB) at several places of RAM below edu's 28-bit DMA limit: the
 *     copy matches byte for byte.
 *  3. The seed's problem. Inflate every page of the granule holding DST; then DMA from edu
 *     into DST. The granule's IOMMU mapping is gone, so the write must not land: level 1
 *     logs a DMAR fault (the scenario checks) and slabvm keeps running. Deflate DST's page:
 *     the granule is populated and mapped again; DST reads zero (nothing reached it), and
 *     the same DMA now lands and the CPU reads what the device wrote.
 *  4. With a granule of more than one page: inflate half of another granule; a DMA into
 *     its other half still lands (the granule stays mapped while partly inflated).
 *
 * edu's default DMA mask is 28 bits: with it every buffer lies below 256 MiB. When slabvm
 * gives the guest RAM above 4 GiB, the scenario assigns an edu made with a 64-bit mask
 * (`-device edu,dma_mask=...` in level 1) and the guest uses all of RAM: DST's granule
 * is then the one at max(16 MiB, G), and step 2 also copies into the high RAM. That is how
 * 1 GiB granules are tested (--mem 4G: three granules below 3 GiB, one at 4 GiB).
 */
#include "edu.h"

#define EDU_DMA_LIMIT (1ULL << 28)
#define DMA_LEN EDU_DMA_LEN

#define BLN_BAR 0xd0010000ULL
#define INFL_RING 0x110000ULL
#define DEFL_RING 0x120000ULL
#define PFNS 0x140000ULL /* up to 64 KiB of PFNs */
#define SRC 0x180000ULL	 /* in granule 0 for granules >= 2 MiB: never inflated */
#define QSIZE 16
#define MAX_PFNS 16384u /* one 64 KiB buffer */
#define F_MUST_TELL_HOST (1ULL << 0)

static unsigned int failures;
static uint64_t bar0;
static struct hv_dev bln;
static struct hv_vq iq, dq;

static void check(int ok, const char *what, uint64_t where)
{
	fw_printf("edu: %s %s at 0x%lx\n", ok ? "ok" : "FAIL", what, (unsigned long)where);
	failures += !ok;
}

/* The device's buffer gets SRC's page, filled from seed. */
static int load_edu(uint64_t seed)
{
	edu_fill(SRC, seed);
	return edu_dma(SRC, EDU_BUF, DMA_LEN, 0);
}

/* The pages [first, first + n) on queue q: 1 when the device took them all. A buffer of
 * 16384 pages, each released or restored by a nested slabvm under TCG, takes seconds: far
 * longer than one HV_POLL, so each may take 200 of them. */
static int balloon_send(struct hv_vq *q, uint64_t first, uint64_t n)
{
	return !hv_balloon_send(&bln, q, PFNS, MAX_PFNS, first, n, 200);
}

static int copy_through(uint64_t dst, uint64_t seed)
{
	return edu_copy_through(SRC, dst, seed);
}

static int open_edu(void)
{
	uint32_t live;

	bar0 = edu_open();
	if (!bar0)
		return -1;
	check((MMIO32(bar0 + EDU_REG_ID) & 0xffff) == 0xed, "ID register", bar0);
	MMIO32(bar0 + EDU_REG_LIVE) = 0x12345678;
	live = MMIO32(bar0 + EDU_REG_LIVE);
	check(live == ~0x12345678u, "liveness register", bar0 + EDU_REG_LIVE);
	return 0;
}

static int open_balloon(void)
{
	uint64_t f;

	if (hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR))
		return -1;
	f = hv_negotiate(&bln, HV_F_VERSION_1 | F_MUST_TELL_HOST);
	check(f & F_MUST_TELL_HOST, "balloon offers MUST_TELL_HOST with a device assigned",
	      bln.bar4);
	if (!f || hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) ||
	    hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) || hv_driver_ok(&bln)) {
		fw_puts("edu: FAIL balloon set-up\n");
		return -1;
	}
	return 0;
}

int main(struct bootinfo *bi)
{
	uint64_t g, dst, half, end = 0, high = 0, high_end = 0, pages;
	unsigned int i;

	if (fw_check_bootinfo(bi))
		return 100;
	g = bi->granule;
	for (i = 0; i < bi->nregions; i++) {
		if (bi->region[i].kind == BOOTINFO_RAM_LOW)
			end = bi->region[i].base + bi->region[i].size;
		if (bi->region[i].kind == BOOTINFO_RAM_HIGH && !high) {
			high = bi->region[i].base;
			high_end = high + bi->region[i].size;
		}
	}
	if (!high && end > EDU_DMA_LIMIT)
		end = EDU_DMA_LIMIT;
	pages = g / HV_PAGE;
	/* DST's granule and the half-inflated one start at max(16 MiB, G) and after it. */
	dst = (0x1000000ULL + g - 1) & ~(g - 1);
	fw_printf("edu: granule 0x%lx, low DMA below 0x%lx, high RAM 0x%lx-0x%lx, DST 0x%lx\n",
		  (unsigned long)g, (unsigned long)end, (unsigned long)high,
		  (unsigned long)high_end, (unsigned long)dst);
	if (dst + 2 * g > end) {
		fw_puts("edu: FAIL the granule is too large for this test's RAM layout\n");
		return 101;
	}
	if (open_edu() || open_balloon())
		return 102;

	/* 2. DMA through mapped granules, here and there in RAM. */
	check(copy_through(0x200000ULL, 1), "DMA RAM->edu->RAM", 0x200000ULL);
	check(copy_through(dst, 2), "DMA RAM->edu->RAM", dst);
	check(copy_through(end - DMA_LEN, 3), "DMA RAM->edu->RAM, end of RAM", end - DMA_LEN);
	if (high) {
		check(copy_through(high, 7), "DMA RAM->edu->RAM, high RAM", high);
		check(copy_through(high + (high_end - high) / 2, 8), "DMA RAM->edu->RAM, high RAM",
		      high + (high_end - high) / 2);
		check(copy_through(high_end - DMA_LEN, 9), "DMA RAM->edu->RAM, end of high RAM",
		      high_end - DMA_LEN);
	}

	/* 3. A wholly inflated granule is unmapped from the IOMMU. */
	edu_fill(dst, 4);
	check(balloon_send(&iq, dst, pages), "inflate DST's whole granule", dst);
	fw_puts("edu: DMA into the inflated granule (a DMAR fault in level 1 is expected)\n");
	check(!load_edu(5) && !edu_dma(EDU_BUF, dst, DMA_LEN, EDU_CMD_TO_RAM),
	      "DMA into an unmapped granule completes", dst);
	check(balloon_send(&dq, dst, 1), "deflate DST's page", dst);
	check(edu_zero(dst), "nothing reached the inflated granule", dst);
	check(!edu_dma(EDU_BUF, dst, DMA_LEN, EDU_CMD_TO_RAM) && edu_same(dst, 5),
	      "DMA lands after the deflate", dst);
	if (pages > 1)
		check(balloon_send(&dq, dst + HV_PAGE, pages - 1), "deflate the rest", dst);

	/* 4. A partly inflated granule stays mapped. */
	if (pages > 1) {
		half = dst + g;
		check(balloon_send(&iq, half, pages / 2), "inflate half a granule", half);
		check(copy_through(half + g / 2, 6), "DMA into its other half", half + g / 2);
		check(balloon_send(&dq, half, pages / 2), "deflate it", half);
	}
	fw_printf("edu: %s, %u failures\n", failures ? "FAIL" : "PASS", failures);
	return (int)failures;
}
