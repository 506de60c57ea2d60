// SPDX-License-Identifier: MIT
/*
 * Wild and repeated PFNs on the balloon's inflate and deflate queues: past the end of RAM,
 * in the PCI hole (the 32-bit window, ECAM, the LAPIC), in the firmware area that holds this
 * very guest, 0xffffffff; a PFN repeated in one buffer and inflated twice; pages deflated
 * that were never inflated or deflated twice; a buffer whose length is not a multiple of 4,
 * one longer than the 64 KiB a buffer may carry, one the device may only write; and a
 * wild 'actual'. Two PFNs lie where the DIMM hotplug window starts, empty with --maxmem.
 * src/balloon/balloon.h: a refused PFN changes nothing and is counted invalid, and none of
 * this is a queue error, so every buffer comes back and the device never asks for a reset.
 * The guest checks that; at each sync the test checks the exact inflated and invalid counts
 * through query-balloon (tests/guest/test_hostile.py).
 *
 * Then the statistics and free page reporting queues: a stats buffer with unknown tags and
 * a ragged tail (the known values must arrive, the rest be ignored); reported ranges that
 * repeat, that hold a page the balloon has (refused, counted), that start mid-page (whole
 * pages only); a reported page reads as zero afterwards, its backing released. A reported
 * range outside RAM breaks the queue (NEEDS_RESET, src/devices/virtqueue.h).
 */
#include "hostile.h"

#define BLN_BAR 0xd0010000ULL
#define INFL_RING 0x110000ULL
#define DEFL_RING 0x120000ULL
#define PFNS 0x140000ULL /* 64 KiB + 8 bytes of PFNs at most */
#define P ((uint32_t)(0x800000ULL / HV_PAGE))
#define QSIZE 16
#define BCFG_ACTUAL 4
#define MAX_BYTES 65536 /* BALLOON_MAX_CHAIN_BYTES */
#define STATS_RING 0x160000ULL
#define REPORT_RING 0x170000ULL
#define STATS_A 0x180000ULL
#define STATS_B 0x181000ULL
#define F_STATS (1ULL << 1)
#define F_REPORTING (1ULL << 5)
#define MARKER 0x5a5a5a5a5a5a5a5aULL

static struct hv_dev bln;
static struct hv_vq iq, dq, sq, rq;
static volatile uint32_t *const pfns = (volatile uint32_t *)(uintptr_t)PFNS;

/* Sends pfns[0..len/4) (len bytes, device-readable) on q; checks it comes back clean. */
static void send(struct hv_vq *q, const char *what, uint32_t len, uint16_t flags)
{
	hv_desc(q->desc, 0, PFNS, len, flags, 0);
	hv_check(hv_roundtrip(&bln, q, 0), "%s: the buffer comes back", what);
	hv_check(!(hv_status(&bln) & HV_S_NEEDS_RESET), "%s: no reset needed", what);
}

static uint32_t put(uint32_t n, const uint32_t *v, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		pfns[n++] = v[i];
	return n;
}

/*
 * Where the DIMM hotplug window starts: the first 1 GiB boundary at or above 4 GiB and the
 * end of RAM (src/mem/memmap.c). With --maxmem and no DIMM plugged, nothing is there.
 */
static uint32_t dimm_window_pfn(const struct bootinfo *bi)
{
	uint64_t end = hv_ram_end(bi), g = 1ULL << 30;

	if (end < 4 * g)
		end = 4 * g;
	return (uint32_t)(((end + g - 1) & ~(g - 1)) / HV_PAGE);
}

static void put_stat(uint64_t at, uint16_t tag, uint64_t val)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)at;

	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	for (unsigned int k = 0; k < 8; k++)
		p[2 + k] = (uint8_t)(val >> (8 * k));
}

static int setup_all(void)
{
	uint64_t want = HV_F_VERSION_1 | F_STATS | F_REPORTING;

	return hv_negotiate(&bln, want) == want && !hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) &&
	       !hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) &&
	       !hv_queue(&bln, &sq, 2, QSIZE, STATS_RING) &&
	       !hv_queue(&bln, &rq, 3, QSIZE, REPORT_RING) && !hv_driver_ok(&bln);
}

static void stats_and_reports(void)
{
	volatile uint64_t *page = hv_table(0x800000ULL);
	unsigned int i, zero = 0;

	hv_check(setup_all(), "balloon: set up again with statistics and reporting");
	/* A is held until B arrives; when A comes back, B's values have been read. */
	put_stat(STATS_A, 4, 0x1000);
	hv_desc(sq.desc, 0, STATS_A, 10, 0, 0);
	hv_avail(&sq, 0);
	hv_kick(&bln, &sq);
	put_stat(STATS_B, 4, 0xdeadbeef000ULL);
	put_stat(STATS_B + 10, 999, 1);
	put_stat(STATS_B + 20, 0xffff, 2);
	put_stat(STATS_B + 30, 5, 0x4000000);
	memset((void *)(uintptr_t)(STATS_B + 40), 0xff, 7);
	hv_desc(sq.desc, 1, STATS_B, 47, 0, 0);
	hv_avail(&sq, 1);
	hv_kick(&bln, &sq);
	hv_check(hv_wait_used(&sq, 1, HV_POLL) && hv_take_used(&sq, NULL) == 0,
		 "stats: the first buffer comes back when the second arrives");
	hv_sync("pfns-stats");

	pfns[0] = P + 200;
	send(&iq, "inflate a page that a report will name", 4, 0);
	for (i = 0; i < 4; i++)
		page[(100 + i) * HV_PAGE / 8] = MARKER;
	hv_desc(rq.desc, 0, 0x800000ULL + 100 * HV_PAGE, 4 * HV_PAGE, HV_D_WRITE | HV_D_NEXT, 1);
	hv_desc(rq.desc, 1, 0x800000ULL + 100 * HV_PAGE, 4 * HV_PAGE, HV_D_WRITE | HV_D_NEXT, 2);
	hv_desc(rq.desc, 2, 0x800000ULL + 199 * HV_PAGE, 2 * HV_PAGE, HV_D_WRITE | HV_D_NEXT, 3);
	hv_desc(rq.desc, 3, 0x800000ULL + 300 * HV_PAGE + 100, 2 * HV_PAGE, HV_D_WRITE, 0);
	hv_check(hv_roundtrip(&bln, &rq, 0), "report: ranges repeated, held, mid-page");
	for (i = 0; i < 4; i++)
		zero += page[(100 + i) * HV_PAGE / 8] == 0;
	hv_check(zero == 4, "report: %u of 4 reported pages read as zero", zero);
	hv_sync("pfns-report");

	hv_desc(rq.desc, 4, 0xff000000ULL, HV_PAGE, HV_D_WRITE, 0);
	hv_avail(&rq, 4);
	hv_kick(&bln, &rq);
	hv_check(hv_wait_status(&bln, HV_S_NEEDS_RESET, HV_POLL),
		 "report: a range outside RAM breaks the queue");
	hv_sync("pfns-report-broken");

	hv_check(setup_all(), "balloon: set up after the broken report");
	pfns[0] = P + 200;
	send(&dq, "deflate the page the report named", 4, 0);
	hv_sync("pfns-final");
}

int main(struct bootinfo *bi)
{
	uint32_t end_pfn, dimm_pfn, n, i;

	if (fw_check_bootinfo(bi))
		return 1;
	end_pfn = (uint32_t)(hv_ram_end(bi) / HV_PAGE);
	dimm_pfn = dimm_window_pfn(bi);
	if (hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR))
		return 1;
	hv_check(hv_negotiate(&bln, HV_F_VERSION_1) && !hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) &&
			 !hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) && !hv_driver_ok(&bln),
		 "balloon: set up");

	{
		/* 15 PFNs no balloon may touch. */
		const uint32_t wild[] = {
			end_pfn, end_pfn + 1000, 0x100000, 0x10000000,	/* past RAM */
			dimm_pfn + 1, dimm_pfn + 513,			/* DIMM window */
			0xc0000, 0xd0010, 0xe0000, 0xfee00,		/* PCI hole */
			0xff000, 0xff200, 0xff3ff,			/* firmware area */
			0xffffffff, 0xfffffffe,
		};

		n = put(0, wild, sizeof(wild) / sizeof(wild[0]));
		send(&iq, "inflate wild PFNs", 4 * n, 0);
		hv_check(fw_check_bootinfo(bi) == 0, "the firmware area kept its contents");
		hv_sync("pfns-wild-inflate");
	}
	{
		const uint32_t dup[] = {P, P, P + 1, P, P + 1, P + 2};

		n = put(0, dup, 6);
		send(&iq, "inflate, each PFN repeated", 4 * n, 0);
		hv_sync("pfns-dup-inflate");
	}
	{
		const uint32_t again[] = {P, P + 1, P + 2, P + 3};

		n = put(0, again, 4);
		send(&iq, "inflate inflated pages again", 4 * n, 0);
		hv_sync("pfns-reinflate");
	}
	{
		const uint32_t never[] = {P + 10, P + 11, 0xffffffff, 0xff000, 0xc0000};

		n = put(0, never, 5);
		send(&dq, "deflate pages never inflated, and wild ones", 4 * n, 0);
		hv_sync("pfns-deflate-never");
	}
	{
		const uint32_t dup[] = {P, P, P + 1, P + 1};

		n = put(0, dup, 4);
		send(&dq, "deflate, each PFN repeated", 4 * n, 0);
		hv_sync("pfns-deflate-dup");
	}
	{
		const uint32_t twice[] = {P, P + 1, P + 2};

		n = put(0, twice, 3);
		send(&dq, "deflate deflated pages again", 4 * n, 0);
		hv_sync("pfns-deflate-twice");
	}
	{
		const uint32_t odd[] = {P + 20, P + 21, 0x00abcdef};

		n = put(0, odd, 3);
		send(&iq, "inflate a buffer of 11 bytes", 4 * 2 + 3, 0);
		hv_sync("pfns-odd-length");
	}
	/* One more PFN than a buffer may carry, twice: P + 30 once, the rest repeats of it. */
	for (i = 0; i < MAX_BYTES / 4 + 2; i++)
		pfns[i] = P + 30;
	send(&iq, "inflate a buffer past 64 KiB", MAX_BYTES + 8, 0);
	hv_sync("pfns-oversized");
	{
		const uint32_t w[] = {P + 40, P + 41};

		n = put(0, w, 2);
		send(&iq, "inflate a buffer the device may only write", 4 * n, HV_D_WRITE);
		hv_sync("pfns-writable");
	}
	{
		const uint32_t rest[] = {P + 3, P + 20, P + 21, P + 30};

		n = put(0, rest, 4);
		send(&dq, "deflate what is left", 4 * n, 0);
		hv_sync("pfns-empty");
	}
	MMIO32(bln.bar4 + HV_DEVCFG + BCFG_ACTUAL) = 0xffffffff;
	hv_check(MMIO32(bln.bar4 + HV_DEVCFG + BCFG_ACTUAL) == 0xffffffff,
		 "actual reads back what the driver wrote");
	hv_sync("pfns-actual-wild");
	MMIO32(bln.bar4 + HV_DEVCFG + BCFG_ACTUAL) = 0;
	hv_sync("pfns-actual-zero");
	stats_and_reports();
	hv_finish();
}
