// SPDX-License-Identifier: MIT
/*
 * Descriptor chains that loop, on virtio-rng and on both balloon queues: a descriptor whose
 * next is itself, two that point at each other, a ring-sized cycle, indirect tables whose
 * entries cycle (short, and over 1024 entries), and an indirect descriptor inside the
 * indirect table it names. src/devices/virtqueue.h bounds every walk and calls such a chain
 * a broken queue: the device sets DEVICE_NEEDS_RESET, returns nothing, serves nothing more
 * until the driver resets it, and works again after the reset. Each case checks all of that;
 * the balloon's statistics and reporting queues get a loop each too. For the balloon the
 * test also checks from outside (query-balloon at each sync) that no PFN of a looping chain
 * was inflated or deflated.
 */
#include "hostile.h"

#define RNG_BAR 0xd0000000ULL
#define BLN_BAR 0xd0010000ULL
#define RNG_RING 0x100000ULL
#define INFL_RING 0x110000ULL
#define DEFL_RING 0x120000ULL
#define STATS_RING 0x160000ULL
#define REPORT_RING 0x170000ULL
#define F_STATS (1ULL << 1)
#define F_REPORTING (1ULL << 5)
#define TABLE 0x130000ULL
#define PFNS 0x140000ULL  /* the PFN array every balloon chain here points at */
#define BUF 0x200000ULL	  /* rng buffers */
#define PAGES 0x800000ULL /* the pages the balloon gets: 8 MiB, 4 of them */
#define NPFNS 4
#define QSIZE 16
#define RNG_LEN 64

static struct hv_dev rng, bln;
static struct hv_vq rq, iq, dq, sq, pq;

static int rng_up(void)
{
	if (!hv_negotiate(&rng, HV_F_VERSION_1 | HV_F_INDIRECT))
		return -1;
	if (hv_queue(&rng, &rq, 0, QSIZE, RNG_RING))
		return -1;
	return hv_driver_ok(&rng);
}

static int bln_up(void)
{
	if (!hv_negotiate(&bln, HV_F_VERSION_1 | HV_F_INDIRECT))
		return -1;
	if (hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) || hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING))
		return -1;
	return hv_driver_ok(&bln);
}

/* One good request on a fresh queue: the device must fill exactly RNG_LEN bytes. */
static int rng_works(void)
{
	uint32_t len = 0;

	hv_desc(rq.desc, 0, BUF, RNG_LEN, HV_D_WRITE, 0);
	hv_avail(&rq, 0);
	hv_kick(&rng, &rq);
	if (!hv_wait_used(&rq, 1, HV_POLL))
		return 0;
	return hv_take_used(&rq, &len) == 0 && len == RNG_LEN;
}

/*
 * The chain at head is posted and notified: the device must flag NEEDS_RESET, return
 * nothing, refuse a good chain after it, then work again after a reset.
 */
static void rng_broken(const char *what, uint16_t head)
{
	int flagged;

	hv_avail(&rq, head);
	hv_kick(&rng, &rq);
	flagged = hv_wait_status(&rng, HV_S_NEEDS_RESET, HV_POLL);
	hv_check(flagged, "rng %s: NEEDS_RESET (status 0x%x)", what, hv_status(&rng));
	hv_check(hv_used_idx(&rq) == rq.last_used, "rng %s: nothing returned (used idx %u)", what,
		 hv_used_idx(&rq));
	hv_desc(rq.desc, QSIZE - 1, BUF, RNG_LEN, HV_D_WRITE, 0);
	hv_avail(&rq, QSIZE - 1);
	hv_kick(&rng, &rq);
	hv_check(!hv_wait_used(&rq, 1, HV_QUIET), "rng %s: a good chain after it is not served",
		 what);
	hv_check(rng_up() == 0 && rng_works(), "rng %s: usable after a reset", what);
}

static void rng_cases(void)
{
	volatile uint64_t *t = hv_table(TABLE);
	unsigned int i;

	hv_check(rng_up() == 0 && rng_works(), "rng: a good request");

	hv_desc(rq.desc, 0, BUF, RNG_LEN, HV_D_WRITE | HV_D_NEXT, 0);
	rng_broken("next points at itself", 0);

	hv_desc(rq.desc, 3, BUF, RNG_LEN, HV_D_WRITE | HV_D_NEXT, 5);
	hv_desc(rq.desc, 5, BUF + RNG_LEN, RNG_LEN, HV_D_WRITE | HV_D_NEXT, 3);
	rng_broken("two descriptors point at each other", 3);

	for (i = 0; i < QSIZE; i++)
		hv_desc(rq.desc, i, BUF + 16 * i, 16, HV_D_WRITE | HV_D_NEXT, (i + 1) % QSIZE);
	rng_broken("a cycle through the whole ring", 7);

	hv_desc(t, 0, BUF, RNG_LEN, HV_D_WRITE | HV_D_NEXT, 1);
	hv_desc(t, 1, BUF + RNG_LEN, RNG_LEN, HV_D_WRITE | HV_D_NEXT, 0);
	hv_desc(rq.desc, 2, TABLE, 32, HV_D_INDIRECT, 0);
	rng_broken("an indirect table that loops", 2);

	for (i = 0; i < 1024; i++)
		hv_desc(t, i, BUF + 8 * i, 8, HV_D_WRITE | HV_D_NEXT, (i + 1) % 1024);
	hv_desc(rq.desc, 4, TABLE, 16 * 1024, HV_D_INDIRECT, 0);
	rng_broken("a 1024-entry indirect table that loops", 4);

	hv_desc(t, 0, TABLE, 16, HV_D_INDIRECT, 0);
	hv_desc(rq.desc, 1, TABLE, 16, HV_D_INDIRECT, 0);
	rng_broken("an indirect table that names itself", 1);

	hv_desc(rq.desc, 6, BUF, RNG_LEN, HV_D_WRITE | HV_D_NEXT, QSIZE);
	rng_broken("next past the ring", 6);
}

static void bln_pfns(void)
{
	volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)PFNS;

	for (unsigned int i = 0; i < NPFNS; i++)
		p[i] = (uint32_t)(PAGES / HV_PAGE) + i;
}

/* As rng_broken, on balloon queue q; then a sync for the test to read query-balloon. */
static void bln_broken(const char *what, struct hv_vq *q, uint16_t head, const char *sync)
{
	int flagged;

	hv_avail(q, head);
	hv_kick(&bln, q);
	flagged = hv_wait_status(&bln, HV_S_NEEDS_RESET, HV_POLL);
	hv_check(flagged, "balloon %s: NEEDS_RESET (status 0x%x)", what, hv_status(&bln));
	hv_check(hv_used_idx(q) == q->last_used, "balloon %s: nothing returned", what);
	hv_sync(sync);
	hv_check(bln_up() == 0, "balloon %s: comes back after a reset", what);
}

static void bln_cases(void)
{
	volatile uint64_t *t = hv_table(TABLE);

	bln_pfns();
	hv_check(bln_up() == 0, "balloon: set up");

	/* Inflate: a self loop, then a loop in an indirect table, over valid PFNs. */
	hv_desc(iq.desc, 0, PFNS, 4 * NPFNS, HV_D_NEXT, 0);
	bln_broken("inflate: next points at itself", &iq, 0, "loops-inflate-self");
	hv_desc(t, 0, PFNS, 4 * NPFNS, HV_D_NEXT, 1);
	hv_desc(t, 1, PFNS, 4 * NPFNS, HV_D_NEXT, 0);
	hv_desc(iq.desc, 1, TABLE, 32, HV_D_INDIRECT, 0);
	bln_broken("inflate: an indirect table that loops", &iq, 1, "loops-inflate-indirect");

	/* A good inflate: the test sees NPFNS pages inflated. */
	hv_desc(iq.desc, 0, PFNS, 4 * NPFNS, 0, 0);
	hv_check(hv_roundtrip(&bln, &iq, 0), "balloon: a good inflate after the resets");
	hv_sync("loops-inflated");

	/* Deflate chains that loop must not give the pages back. */
	hv_desc(dq.desc, 2, PFNS, 4 * NPFNS, HV_D_NEXT, 3);
	hv_desc(dq.desc, 3, PFNS, 4 * NPFNS, HV_D_NEXT, 2);
	bln_broken("deflate: two descriptors point at each other", &dq, 2, "loops-deflate-pair");
	hv_desc(t, 0, TABLE, 16, HV_D_INDIRECT, 0);
	hv_desc(dq.desc, 0, TABLE, 16, HV_D_INDIRECT, 0);
	bln_broken("deflate: an indirect table that names itself", &dq, 0, "loops-deflate-nested");

	hv_desc(dq.desc, 0, PFNS, 4 * NPFNS, 0, 0);
	hv_check(hv_roundtrip(&bln, &dq, 0), "balloon: a good deflate after the resets");
	hv_sync("loops-deflated");
}

/* The statistics and free page reporting queues loop too. */
static void bln_other_queues(void)
{
	uint64_t want = HV_F_VERSION_1 | HV_F_INDIRECT | F_STATS | F_REPORTING;
	volatile uint64_t *t = hv_table(TABLE);
	int up;

	up = hv_negotiate(&bln, want) == want && !hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) &&
	     !hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) &&
	     !hv_queue(&bln, &sq, 2, QSIZE, STATS_RING) &&
	     !hv_queue(&bln, &pq, 3, QSIZE, REPORT_RING) && !hv_driver_ok(&bln);
	hv_check(up, "balloon: set up with statistics and reporting");
	hv_desc(sq.desc, 0, PFNS, 10, HV_D_NEXT, 0);
	bln_broken("stats: next points at itself", &sq, 0, "loops-stats");
	hv_check(hv_negotiate(&bln, want) == want && !hv_queue(&bln, &pq, 3, QSIZE, REPORT_RING) &&
			 !hv_driver_ok(&bln),
		 "balloon: reporting set up again");
	hv_desc(t, 0, PAGES, HV_PAGE, HV_D_WRITE | HV_D_NEXT, 1);
	hv_desc(t, 1, PAGES + HV_PAGE, HV_PAGE, HV_D_WRITE | HV_D_NEXT, 0);
	hv_desc(pq.desc, 0, TABLE, 32, HV_D_INDIRECT, 0);
	bln_broken("report: an indirect table that loops", &pq, 0, "loops-report");
}

int main(struct bootinfo *bi)
{
	if (fw_check_bootinfo(bi))
		return 1;
	if (hv_open(&rng, "virtio-rng", HV_PCI_ID_RNG, RNG_BAR) ||
	    hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR))
		return 1;
	rng_cases();
	bln_cases();
	bln_other_queues();
	hv_finish();
}
