// SPDX-License-Identifier: MIT
/*
 * BARs moved under running queues. With a request posted and not yet notified, virtio-rng's
 * BAR 4 goes to another address, back to where slabvm had put it, to garbage (all ones, the
 * sizing value; over the balloon's BAR 4; over guest RAM; far above any RAM), and memory
 * decoding goes off and on; after each, the guest notifies at the old address, where nothing
 * may happen (src/devices/pci.h: a BAR decodes only where its registers and COMMAND say,
 * one placed over another range stays off; src/kvm/virtio_kvm.c: the ioeventfds follow),
 * and at the new one, where the waiting request must be served: the queue lives in the
 * transport, not at an address. Also moved half by half with decoding on. Then 1200 moves
 * in a row with a request each (a leaked ioeventfd per move would run KVM out of them and
 * slabvm would say so on stderr), and the balloon's BAR moved while an inflate buffer waits.
 */
#include "hostile.h"

#define RNG_A 0xd0000000ULL
#define RNG_B 0xd0100000ULL
#define BLN_BAR 0xd0010000ULL
#define BLN_MOVED 0xd0200000ULL
#define RAM_SPOT 0x00c00000ULL	     /* guest RAM at 12 MiB */
#define FAR_AWAY 0x00007f0000000000ULL /* above any RAM, unmapped by the page tables */
#define RNG_RING 0x100000ULL
#define INFL_RING 0x110000ULL
#define DEFL_RING 0x120000ULL
#define PFNS 0x140000ULL
#define BUF 0x200000ULL
#define QSIZE 16
#define RNG_LEN 32
#define MOVES 1200
#define NUMQ 0x12

static struct hv_dev rng, bln;
static struct hv_vq rq, iq, dq;

/* Posts one rng request (no notify); its descriptor is the next free one. */
static uint16_t post(void)
{
	uint16_t head = rq.next_avail % QSIZE;

	hv_desc(rq.desc, head, BUF + RNG_LEN * head, RNG_LEN, HV_D_WRITE, 0);
	hv_avail(&rq, head);
	return head;
}

/* Not served after a notify at old; served after one where BAR 4 is now. */
static void served_only_here(const char *what, uint64_t old, uint16_t head)
{
	uint32_t len = 0;

	if (old) {
		hv_kick_at(old, &rq);
		hv_check(!hv_wait_used(&rq, 1, HV_QUIET),
			 "%s: a notify at the old address 0x%lx does nothing", what,
			 (unsigned long)old);
	}
	hv_kick(&rng, &rq);
	hv_check(hv_wait_used(&rq, 1, HV_POLL) && hv_take_used(&rq, &len) == head &&
			 len == RNG_LEN,
		 "%s: the waiting request is served at 0x%lx", what, (unsigned long)rng.bar4);
	hv_check(!(hv_status(&rng) & HV_S_NEEDS_RESET), "%s: no reset needed", what);
}

static uint64_t bar4_regs(const struct hv_dev *d)
{
	return (hv_cfg_read32(d->slot, HV_PCI_BAR4) & ~0xfULL) |
	       (uint64_t)hv_cfg_read32(d->slot, HV_PCI_BAR4 + 4) << 32;
}

/* BAR 4's registers say garbage that cannot decode: nothing answers at the old place. */
static void garbage(const char *what, uint64_t value, uint64_t old)
{
	uint16_t head = post();

	hv_move_bar4(&rng, value);
	rng.bar4 = old;
	hv_check(hv_status(&rng) == 0xff, "%s: the old address reads as all ones", what);
	hv_kick_at(old, &rq);
	hv_check(!hv_wait_used(&rq, 1, HV_QUIET), "%s: a notify at the old address does nothing",
		 what);
	hv_move_bar4(&rng, RNG_A);
	served_only_here(what, 0, head);
}

static void rng_cases(void)
{
	volatile uint64_t *ram = hv_table(RAM_SPOT);
	uint64_t balloon_bar = bln.bar4;
	uint16_t head;
	unsigned int i, served;

	hv_check(hv_negotiate(&rng, HV_F_VERSION_1) && !hv_queue(&rng, &rq, 0, QSIZE, RNG_RING) &&
			 !hv_driver_ok(&rng),
		 "rng: set up");

	head = post();
	hv_move_bar4(&rng, RNG_B);
	served_only_here("moved in the 32-bit window", RNG_A, head);

	head = post();
	hv_move_bar4(&rng, rng.home);
	served_only_here("moved back where slabvm put it", RNG_B, head);

	head = post();
	hv_move_bar4(&rng, RNG_A);
	served_only_here("moved from there", rng.home, head);

	/* Half by half with decoding on: in between, BAR 4 is at a mix of both addresses. */
	head = post();
	hv_cfg_write32(rng.slot, HV_PCI_BAR4, (uint32_t)rng.home);
	hv_cfg_write32(rng.slot, HV_PCI_BAR4 + 4, (uint32_t)(rng.home >> 32));
	rng.bar4 = rng.home;
	served_only_here("moved half by half, decoding on", RNG_A, head);
	head = post();
	hv_cfg_write32(rng.slot, HV_PCI_BAR4 + 4, 0);
	hv_cfg_write32(rng.slot, HV_PCI_BAR4, (uint32_t)RNG_A);
	rng.bar4 = RNG_A;
	served_only_here("and back, high half first", rng.home, head);

	hv_move_bar4(&rng, RNG_A | 0x2ff0);
	hv_check(bar4_regs(&rng) == RNG_A, "an unaligned address reads back aligned (0x%lx)",
		 (unsigned long)bar4_regs(&rng));
	rng.bar4 = RNG_A;

	garbage("all ones", ~0ULL, RNG_A);
	garbage("all ones in the low half", 0xffffffffULL, RNG_A);

	/* Over the balloon's BAR 4: the balloon keeps it, the rng does not decode. */
	head = post();
	hv_move_bar4(&rng, balloon_bar);
	hv_check(MMIO16(balloon_bar + HV_COMMON + NUMQ) == 4,
		 "over the balloon's BAR: the balloon still answers there");
	hv_move_bar4(&rng, RNG_A);
	served_only_here("after a move over the balloon's BAR", 0, head);

	/* Over guest RAM: RAM stays RAM. */
	ram[0] = 0x1122334455667788ULL;
	head = post();
	hv_move_bar4(&rng, RAM_SPOT);
	hv_check(ram[0] == 0x1122334455667788ULL, "over RAM: RAM reads what the guest wrote");
	hv_kick_at(RAM_SPOT, &rq);
	hv_move_bar4(&rng, RNG_A);
	served_only_here("after a move over RAM", 0, head);

	/* Far above RAM, where the guest cannot even reach it; then the last place that fits. */
	head = post();
	hv_move_bar4(&rng, FAR_AWAY);
	hv_move_bar4(&rng, RNG_A);
	served_only_here("after a move far above RAM", 0, head);
	head = post();
	hv_move_bar4(&rng, 0ULL - 2 * HV_BAR4_SIZE);
	hv_move_bar4(&rng, RNG_A);
	served_only_here("after a move to the top of the address space", 0, head);

	/* Decoding off with a request waiting, notify, decoding on. */
	head = post();
	hv_set_decode(&rng, 0);
	hv_check(hv_status(&rng) == 0xff, "decoding off: the BAR reads as all ones");
	hv_kick(&rng, &rq);
	hv_check(!hv_wait_used(&rq, 1, HV_QUIET), "decoding off: a notify does nothing");
	hv_set_decode(&rng, 1);
	served_only_here("decoding back on", 0, head);

	/* Decoding flipped while the device works through a full ring. */
	for (i = 0; i < QSIZE; i++)
		post();
	hv_kick(&rng, &rq);
	for (i = 0; i < 100; i++)
		hv_set_decode(&rng, i & 1);
	hv_kick(&rng, &rq);
	served = hv_wait_used(&rq, QSIZE, HV_POLL);
	for (i = 0; served && i < QSIZE; i++)
		hv_take_used(&rq, NULL);
	hv_check(served, "decoding flipped 100 times under a full ring: all served");

	for (i = 0, served = 0; i < MOVES; i++) {
		head = post();
		hv_move_bar4(&rng, i & 1 ? RNG_A : RNG_B);
		hv_kick(&rng, &rq);
		if (hv_wait_used(&rq, 1, HV_POLL) && hv_take_used(&rq, NULL) == head)
			served++;
	}
	hv_check(served == MOVES, "%u moves with a request each: %u served", MOVES, served);
}

static void balloon_case(void)
{
	volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)PFNS;
	uint64_t old = bln.bar4;

	hv_check(hv_negotiate(&bln, HV_F_VERSION_1) && !hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) &&
			 !hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) && !hv_driver_ok(&bln),
		 "balloon: set up");
	p[0] = 0x800;
	p[1] = 0x801;
	hv_desc(iq.desc, 0, PFNS, 8, 0, 0);
	hv_avail(&iq, 0);
	hv_move_bar4(&bln, BLN_MOVED);
	hv_kick_at(old, &iq);
	hv_check(!hv_wait_used(&iq, 1, HV_QUIET), "balloon: a notify at the old BAR does nothing");
	hv_kick(&bln, &iq);
	hv_check(hv_wait_used(&iq, 1, HV_POLL) && hv_take_used(&iq, NULL) == 0,
		 "balloon: the inflate buffer is served at the new BAR");
	hv_sync("bars-balloon");
}

int main(struct bootinfo *bi)
{
	if (fw_check_bootinfo(bi))
		return 1;
	if (hv_open(&rng, "virtio-rng", HV_PCI_ID_RNG, RNG_A) ||
	    hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR))
		return 1;
	rng_cases();
	balloon_case();
	hv_finish();
}
