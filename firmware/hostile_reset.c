// SPDX-License-Identifier: MIT
/*
 * Devices reset in the middle of requests (virtio status 0 while buffers are posted), then
 * the queue used again.
 *
 * virtio-rng: requests posted and not notified, then a reset: the queue's registers read as
 * after power-on, DRIVER_OK without FEATURES_OK is refused, and after a proper setup on
 * other ring memory the old requests are never served. Then 200 rounds of notify-and-reset
 * racing the main loop, on alternating rings; and a queue enabled again over its old ring
 * memory, which the device takes over from index 0 (src/devices/virtqueue.h): three stale
 * chains are served again, and a stale avail index more than a ring ahead is a broken
 * queue (NEEDS_RESET) until the next reset. And 20 requests whose buffer is their own ring,
 * which the device fills with random bytes before it reads it again: whatever follows, a
 * reset mends it.
 *
 * The balloon: 50 inflate buffers of 4 new pages each, every one notified and at once
 * reset under. A buffer goes to the memory map as one batch, so each is applied whole or
 * not at all; pages the balloon holds stay inflated across a reset (src/balloon/balloon.h).
 * Deflating all 200 pages afterwards must empty the balloon, and the test checks that the
 * PFNs refused then are a multiple of 4 (no buffer half applied).
 */
#include "hostile.h"

#define RNG_BAR 0xd0000000ULL
#define BLN_BAR 0xd0010000ULL
#define RING_A 0x100000ULL
#define RING_B 0x108000ULL
#define INFL_RING 0x110000ULL
#define DEFL_RING 0x120000ULL
#define PFNS 0x140000ULL /* 4 PFNs per inflate buffer, 64 bytes apart */
#define ALL_PFNS 0x150000ULL
#define BUF 0x200000ULL
#define PAGES 0x800000ULL
#define QSIZE 16
#define RNG_LEN 32
#define ROUNDS 200
#define BUFFERS 50
#define RNG_QMAX 256 /* VIRTIO_RNG_QUEUE_SIZE */

static struct hv_dev rng, bln;
static struct hv_vq rq, iq, dq;

/* A delay that varies with round, so the main loop wins some races and loses others. */
static void spin(unsigned int round)
{
	for (unsigned int i = 0; i < (round % 8) * 4000; i++)
		hv_relax();
}

static int rng_up(uint64_t ring)
{
	return !(hv_negotiate(&rng, HV_F_VERSION_1) && !hv_queue(&rng, &rq, 0, QSIZE, ring) &&
		 !hv_driver_ok(&rng));
}

static uint16_t post(void)
{
	uint16_t head = rq.next_avail % QSIZE;

	hv_desc(rq.desc, head, BUF + RNG_LEN * head, RNG_LEN, HV_D_WRITE, 0);
	hv_avail(&rq, head);
	return head;
}

static int request(void)
{
	uint16_t head = post();
	uint32_t len = 0;

	hv_kick(&rng, &rq);
	return hv_wait_used(&rq, 1, HV_POLL) && hv_take_used(&rq, &len) == head && len == RNG_LEN;
}

static void rng_posted_then_reset(void)
{
	volatile uint16_t *old_used;
	unsigned int i;
	uint8_t st;

	hv_check(rng_up(RING_A) == 0 && request(), "rng: set up");
	old_used = rq.used;
	for (i = 0; i < 4; i++)
		post();
	hv_check(hv_reset(&rng) == 0, "reset with 4 requests posted");
	MMIO16(hv_cc(&rng, HV_CC_Q_SELECT)) = 0;
	hv_check(MMIO16(hv_cc(&rng, HV_CC_Q_ENABLE)) == 0 &&
			 MMIO16(hv_cc(&rng, HV_CC_Q_SIZE)) == RNG_QMAX &&
			 MMIO64(hv_cc(&rng, HV_CC_Q_DESC)) == 0,
		 "the queue reads as after power-on");
	hv_kick(&rng, &rq);
	MMIO8(hv_cc(&rng, HV_CC_STATUS)) = HV_S_ACKNOWLEDGE | HV_S_DRIVER | HV_S_DRIVER_OK;
	st = hv_status(&rng);
	hv_check(!(st & HV_S_DRIVER_OK), "DRIVER_OK without FEATURES_OK is refused (0x%x)", st);
	hv_check(old_used[1] == 1, "nothing posted before the reset was served");
	hv_check(rng_up(RING_B) == 0 && request(), "set up again on other ring memory: works");
	hv_check(old_used[1] == 1, "the old ring stays untouched");
}

static void rng_race(void)
{
	unsigned int i, clean = 0;

	for (i = 0; i < ROUNDS; i++) {
		post();
		post();
		hv_kick(&rng, &rq);
		spin(i);
		clean += hv_reset(&rng) == 0;
		if (rng_up(i & 1 ? RING_A : RING_B))
			break;
	}
	hv_check(clean == ROUNDS && i == ROUNDS, "%u rounds of notify and reset: %u clean resets",
		 ROUNDS, clean);
	hv_check(request() && !(hv_status(&rng) & HV_S_NEEDS_RESET), "rng works after the race");
}

/* The queue enabled again over ring memory whose avail index says stale. */
static void rng_stale_ring(void)
{
	unsigned int i;

	hv_check(rng_up(RING_A) == 0, "rng: set up for the stale ring");
	for (i = 0; i < 3; i++)
		post();
	hv_reset(&rng);
	/* As hv_queue, without clearing the ring: avail idx 3, used idx 0. */
	hv_negotiate(&rng, HV_F_VERSION_1);
	MMIO16(hv_cc(&rng, HV_CC_Q_SELECT)) = 0;
	MMIO16(hv_cc(&rng, HV_CC_Q_SIZE)) = QSIZE;
	MMIO64(hv_cc(&rng, HV_CC_Q_DESC)) = RING_A;
	MMIO64(hv_cc(&rng, HV_CC_Q_AVAIL)) = RING_A + 0x1000;
	MMIO64(hv_cc(&rng, HV_CC_Q_USED)) = RING_A + 0x2000;
	MMIO16(hv_cc(&rng, HV_CC_Q_ENABLE)) = 1;
	hv_check(hv_driver_ok(&rng) == 0, "the stale ring is accepted");
	hv_kick(&rng, &rq);
	for (i = 0; i < HV_POLL && hv_used_idx(&rq) != 3; i++)
		hv_relax();
	hv_check(hv_used_idx(&rq) == 3, "the three stale chains are served (used idx %u)",
		 hv_used_idx(&rq));

	/* Now a stale avail index 40 ahead of a fresh start: more than the ring holds. */
	rq.avail[1] = 40;
	hv_reset(&rng);
	hv_negotiate(&rng, HV_F_VERSION_1);
	MMIO16(hv_cc(&rng, HV_CC_Q_SELECT)) = 0;
	MMIO16(hv_cc(&rng, HV_CC_Q_SIZE)) = QSIZE;
	MMIO64(hv_cc(&rng, HV_CC_Q_DESC)) = RING_A;
	MMIO64(hv_cc(&rng, HV_CC_Q_AVAIL)) = RING_A + 0x1000;
	MMIO64(hv_cc(&rng, HV_CC_Q_USED)) = RING_A + 0x2000;
	MMIO16(hv_cc(&rng, HV_CC_Q_ENABLE)) = 1;
	hv_driver_ok(&rng);
	hv_kick(&rng, &rq);
	hv_check(hv_wait_status(&rng, HV_S_NEEDS_RESET, HV_POLL),
		 "an avail index 40 ahead breaks the queue (NEEDS_RESET)");
	hv_check(rng_up(RING_A) == 0 && request(), "and a reset mends it");
}

/*
 * A request whose buffer is its own ring: the device fills descriptors, avail and used ring
 * with random bytes, then pushes into them. What it does next depends on the dice (more
 * chains, or a broken queue); it must survive, and a reset must mend it.
 */
static void rng_eats_its_ring(void)
{
	unsigned int round, mended = 0;

	for (round = 0; round < 20; round++) {
		if (rng_up(RING_A))
			break;
		hv_desc(rq.desc, 0, RING_A, 0x3000, HV_D_WRITE, 0);
		hv_avail(&rq, 0);
		hv_kick(&rng, &rq);
		hv_wait_status(&rng, HV_S_NEEDS_RESET, HV_QUIET);
		mended += rng_up(RING_B) == 0 && request();
	}
	hv_check(mended == 20, "20 requests that overwrite their own ring: %u mended by a reset",
		 mended);
}

static void balloon_race(void)
{
	volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)PFNS;
	volatile uint32_t *all = (volatile uint32_t *)(uintptr_t)ALL_PFNS;
	unsigned int b, i, up = 0;

	for (b = 0; b < BUFFERS; b++) {
		up += hv_negotiate(&bln, HV_F_VERSION_1) &&
		      !hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) &&
		      !hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) && !hv_driver_ok(&bln);
		for (i = 0; i < 4; i++)
			p[i] = (uint32_t)(PAGES / HV_PAGE) + 4 * b + i;
		hv_desc(iq.desc, 0, PFNS, 16, 0, 0);
		hv_avail(&iq, 0);
		hv_kick(&bln, &iq);
		spin(b);
		hv_reset(&bln);
	}
	hv_check(up == BUFFERS, "balloon: %u inflates, each reset under", BUFFERS);
	hv_sync("reset-balloon-race");
	for (i = 0; i < 4 * BUFFERS; i++)
		all[i] = (uint32_t)(PAGES / HV_PAGE) + i;
	hv_check(hv_negotiate(&bln, HV_F_VERSION_1) && !hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) &&
			 !hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) && !hv_driver_ok(&bln),
		 "balloon: set up after the race");
	hv_desc(dq.desc, 0, ALL_PFNS, 16 * BUFFERS, 0, 0);
	hv_check(hv_roundtrip(&bln, &dq, 0), "balloon: deflate every page the race may have given");
	hv_sync("reset-balloon-empty");
}

int main(struct bootinfo *bi)
{
	if (fw_check_bootinfo(bi))
		return 1;
	if (hv_open(&rng, "virtio-rng", HV_PCI_ID_RNG, RNG_BAR) ||
	    hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR))
		return 1;
	rng_posted_then_reset();
	rng_race();
	rng_stale_ring();
	rng_eats_its_ring();
	balloon_race();
	hv_finish();
}
