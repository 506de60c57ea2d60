// SPDX-License-Identifier: MIT
/*
 * Garbage in MSI-X tables and configuration space.
 *
 * MSI-X (virtio-rng's table, src/devices/pci.h): every byte offset of the table, the PBA
 * and what follows up to 0x60 written with random values and with all ones, at every width
 * (1, 2, 4, 8 bytes) and alignment, across entries, and at and across the end of the BAR;
 * then only the bits PCI lets software write have changed (the address's two low bits and
 * all of vector control but the mask bit read zero), the PBA and the space after it read
 * zero. Then with MSI-X on and vectors unmasked, 80 requests each interrupt through a
 * different wild message (address 0, all ones, in the firmware area, in the PCI hole, with
 * garbage destination bits), so slabvm makes and recycles KVM routes for all of them;
 * delivery modes stay fixed, lowest priority or ExtINT, because an NMI or INIT the guest
 * sent itself would stop it, not slabvm. A masked vector's interrupt waits in the PBA and
 * leaves it when unmasked; queue and config vector numbers past the table read back as
 * NO_VECTOR.
 *
 * The virtio configuration-space window into BAR 4: a notify and a reset through it with a
 * request waiting, reads with decoding off, and windows the spec forbids, which do nothing.
 *
 * Configuration space (src/devices/pci.h): through 0xCF8/0xCFC, every byte offset of every
 * function of every slot of buses 0 and 1 gets a random value at a random width, host
 * bridge and absent functions included; through ECAM, every dword of the 4 KiB of the
 * present functions and of some absent ones gets one random access of 1, 2, 4 or 8 bytes at
 * a random, possibly dword-crossing, offset, and random reads go everywhere. Afterwards the
 * read-only identity of each present function is what it was, absent functions read all
 * ones, and both devices, their BARs placed again and reset, work.
 */
#include "hostile.h"

#define RNG_BAR 0xd0000000ULL
#define BLN_BAR 0xd0010000ULL
#define MSIX_BAR 0xd0300000ULL
#define RNG_RING 0x100000ULL
#define INFL_RING 0x110000ULL
#define DEFL_RING 0x120000ULL
#define PFNS 0x140000ULL
#define BUF 0x200000ULL
#define QSIZE 16
#define RNG_LEN 32
#define NVEC 2		 /* virtio-rng: one queue and the configuration vector */
#define PBA (16 * NVEC) /* the PBA follows the table */
#define MSIX_BAR_SIZE 4096
#define MESSAGES 80
#define MSIX_ENABLE 0x8000
#define MSIX_MASKALL 0x4000
#define NO_VECTOR 0xffff

static struct hv_dev rng, bln;
static struct hv_vq rq, iq, dq;
static unsigned int msix_cap;

static int rng_up(void)
{
	return !(hv_negotiate(&rng, HV_F_VERSION_1) && !hv_queue(&rng, &rq, 0, QSIZE, RNG_RING) &&
		 !hv_driver_ok(&rng));
}

static int rng_request(void)
{
	uint16_t head = rq.next_avail % QSIZE;
	uint32_t len = 0;

	hv_desc(rq.desc, head, BUF, RNG_LEN, HV_D_WRITE, 0);
	hv_avail(&rq, head);
	hv_kick(&rng, &rq);
	return hv_wait_used(&rq, 1, HV_POLL) && hv_take_used(&rq, &len) == head && len == RNG_LEN;
}

static unsigned int find_msix(unsigned int slot)
{
	unsigned int c = hv_conf1_read(0, slot, 0, HV_PCI_CAP_PTR, 1) & 0xfc;

	for (unsigned int n = 0; c && n < 48; n++, c = hv_conf1_read(0, slot, 0, c + 1, 1) & 0xfc)
		if (hv_conf1_read(0, slot, 0, c, 1) == HV_PCI_CAP_ID_MSIX)
			return c;
	return 0;
}

static void msix_flags(uint16_t v)
{
	hv_conf1_write(0, rng.slot, 0, msix_cap + 2, 2, v);
}

static void mmio_write(uint64_t a, unsigned int size, uint64_t v)
{
	switch (size) {
	case 1:
		MMIO8(a) = (uint8_t)v;
		break;
	case 2:
		MMIO16(a) = (uint16_t)v;
		break;
	case 4:
		MMIO32(a) = (uint32_t)v;
		break;
	default:
		MMIO64(a) = v;
	}
}

static uint64_t mmio_read(uint64_t a, unsigned int size)
{
	switch (size) {
	case 1:
		return MMIO8(a);
	case 2:
		return MMIO16(a);
	case 4:
		return MMIO32(a);
	default:
		return MMIO64(a);
	}
}

/* Only the bits software may write can have changed, whatever was written. */
static int table_sane(void)
{
	unsigned int v, off;

	for (v = 0; v < NVEC; v++) {
		if ((MMIO32(MSIX_BAR + 16 * v) & 3) || (MMIO32(MSIX_BAR + 16 * v + 12) & ~1u))
			return 0;
	}
	for (off = PBA; off < MSIX_BAR_SIZE; off += 4)
		if (MMIO32(MSIX_BAR + off))
			return 0;
	return 1;
}

static void msix_garbage(void)
{
	static const unsigned int sizes[] = {1, 2, 4, 8};
	unsigned int off, s;

	for (s = 0; s < 4; s++)
		for (off = 0; off + sizes[s] <= 0x60; off++)
			mmio_write(MSIX_BAR + off, sizes[s], hv_rand());
	hv_check(table_sane(), "MSI-X: random values at every width and offset");
	for (s = 0; s < 4; s++)
		for (off = 0; off + sizes[s] <= 0x60; off++)
			mmio_write(MSIX_BAR + off, sizes[s], ~0ULL);
	hv_check(table_sane() && MMIO32(MSIX_BAR) == 0xfffffffc && MMIO32(MSIX_BAR + 12) == 1,
		 "MSI-X: all ones everywhere (address 0x%x, control 0x%x)", MMIO32(MSIX_BAR),
		 MMIO32(MSIX_BAR + 12));
	/* Near and across the end of the BAR: dropped, or split by the CPU and half dropped. */
	for (s = 0; s < 4; s++)
		for (off = MSIX_BAR_SIZE - 8; off < MSIX_BAR_SIZE; off++)
			mmio_write(MSIX_BAR + off, sizes[s], hv_rand());
	hv_check(table_sane(), "MSI-X: writes at and across the end of the BAR");
	for (off = 0; off < 0x60; off++)
		(void)mmio_read(MSIX_BAR + off, sizes[off & 3]);
	/* An 8-byte write across two entries: vector control of 0, the address of 1. */
	MMIO64(MSIX_BAR + 12) = 0x12345678ffffffffULL;
	hv_check(MMIO32(MSIX_BAR + 12) == 1 && MMIO32(MSIX_BAR + 16) == 0x12345678,
		 "MSI-X: an 8-byte write across two entries");
}

/* An address and data the guest survives receiving (see the opening comment). */
static void wild_message(unsigned int i, uint64_t *addr, uint32_t *data)
{
	static const uint64_t addrs[] = {
		0, ~0ULL, 0xff000000ULL, 0xc0000000ULL, 0xe0000000ULL, 0xfee00000ULL,
		0xfeeff00cULL, 0xdeadbeefcafe0000ULL,
	};
	static const uint32_t modes[] = {0, 1, 7};

	*addr = i < 8 ? addrs[i] : hv_rand() & ~3ULL;
	*data = (uint32_t)(hv_rand() & 0xffffc8ffu) | modes[i % 3] << 8;
	if (i == 1)
		*data = 0xffffffff; /* ExtINT: KVM drops it */
}

static void msix_messages(void)
{
	unsigned int i, served = 0;
	uint64_t addr;
	uint32_t data;

	hv_check(rng_up() == 0, "rng: set up after the table garbage");
	MMIO16(hv_cc(&rng, HV_CC_Q_SELECT)) = 0;
	MMIO16(hv_cc(&rng, HV_CC_Q_MSIX)) = 0x1234;
	MMIO16(hv_cc(&rng, HV_CC_MSIX)) = 2;
	hv_check(MMIO16(hv_cc(&rng, HV_CC_Q_MSIX)) == NO_VECTOR &&
			 MMIO16(hv_cc(&rng, HV_CC_MSIX)) == NO_VECTOR,
		 "vector numbers past the table read back as NO_VECTOR");
	MMIO16(hv_cc(&rng, HV_CC_Q_MSIX)) = 0;
	MMIO16(hv_cc(&rng, HV_CC_MSIX)) = 1;
	msix_flags(MSIX_ENABLE);
	for (i = 0; i < MESSAGES; i++) {
		wild_message(i, &addr, &data);
		MMIO32(MSIX_BAR + 12) = 1;
		MMIO64(MSIX_BAR) = addr;
		MMIO32(MSIX_BAR + 8) = data;
		MMIO32(MSIX_BAR + 12) = 0;
		served += rng_request();
	}
	hv_check(served == MESSAGES, "%u requests, each through a wild message: %u served",
		 MESSAGES, served);
	hv_check(MMIO32(MSIX_BAR + PBA) == 0, "nothing pending while unmasked");

	MMIO32(MSIX_BAR + 12) = 1;
	hv_check(rng_request(), "a request with its vector masked");
	for (i = 0; i < HV_POLL && !(MMIO32(MSIX_BAR + PBA) & 1); i++)
		hv_relax();
	hv_check(MMIO32(MSIX_BAR + PBA) == 1, "its interrupt waits in the PBA");
	MMIO32(MSIX_BAR + 12) = 0;
	hv_check(MMIO32(MSIX_BAR + PBA) == 0, "unmasked: sent, the PBA is clear");

	msix_flags(MSIX_ENABLE | MSIX_MASKALL);
	hv_check(rng_request(), "a request with the function masked");
	msix_flags(0);
	hv_check(rng_request(), "a request with MSI-X off again");
	hv_check(hv_reset(&rng) == 0 && MMIO32(MSIX_BAR + PBA) == 0,
		 "a reset forgets what was pending");
}

/* The VIRTIO_PCI_CAP_PCI_CFG capability of slot, or 0. */
static unsigned int find_cfg_window(unsigned int slot)
{
	unsigned int c = hv_conf1_read(0, slot, 0, HV_PCI_CAP_PTR, 1) & 0xfc;

	for (unsigned int n = 0; c && n < 48; n++, c = hv_conf1_read(0, slot, 0, c + 1, 1) & 0xfc)
		if (hv_conf1_read(0, slot, 0, c, 1) == 0x09 &&
		    hv_conf1_read(0, slot, 0, c + 3, 1) == 5)
			return c;
	return 0;
}

static void window_at(unsigned int c, uint8_t bar, uint32_t off, uint32_t len)
{
	hv_conf1_write(0, rng.slot, 0, c + 4, 1, bar);
	hv_conf1_write(0, rng.slot, 0, c + 8, 4, off);
	hv_conf1_write(0, rng.slot, 0, c + 12, 4, len);
}

/*
 * The configuration-space window into BAR 4 (virtio 1.2, 4.1.4.9): a notify and a reset
 * through it, with a request waiting; reads with decoding off; windows the spec does not
 * allow (bad lengths, misaligned, another BAR, past the end) do nothing.
 */
static void cfg_window(void)
{
	unsigned int c = find_cfg_window(rng.slot), i, bad_ok = 1;
	static const uint32_t bad[][3] = {
		{4, 0x14, 3}, {4, 0x15, 2}, {5, 0x14, 1}, {4, 0xffffffff, 1}, {4, 0x3ffe, 4},
		{4, 0x14, 0}, {0, 0x14, 1},
	};
	uint16_t head;
	uint32_t len = 0;

	if (!hv_check(c != 0, "rng has a PCI configuration access capability"))
		return;
	hv_check(rng_up() == 0, "rng: set up for the window");
	window_at(c, 4, HV_CC_STATUS, 1);
	hv_check(hv_conf1_read(0, rng.slot, 0, c + 16, 1) == hv_status(&rng),
		 "the window reads the device status");
	head = rq.next_avail % QSIZE;
	hv_desc(rq.desc, head, BUF, RNG_LEN, HV_D_WRITE, 0);
	hv_avail(&rq, head);
	window_at(c, 4, HV_NOTIFY, 2);
	hv_conf1_write(0, rng.slot, 0, c + 16, 2, 0);
	hv_check(hv_wait_used(&rq, 1, HV_POLL) && hv_take_used(&rq, &len) == head &&
			 len == RNG_LEN,
		 "a notify through the window serves the request");
	hv_set_decode(&rng, 0);
	window_at(c, 4, HV_CC_STATUS, 1);
	hv_check(hv_conf1_read(0, rng.slot, 0, c + 16, 1) == 0xf,
		 "decoding off: the window still reads the status");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		window_at(c, (uint8_t)bad[i][0], bad[i][1], bad[i][2]);
		hv_conf1_write(0, rng.slot, 0, c + 16, 4, 0);
		(void)hv_conf1_read(0, rng.slot, 0, c + 16, 4);
		window_at(c, 4, HV_CC_STATUS, 1);
		bad_ok &= hv_conf1_read(0, rng.slot, 0, c + 16, 1) == 0xf;
	}
	hv_check(bad_ok, "writes through windows the spec does not allow do nothing");
	head = rq.next_avail % QSIZE;
	hv_desc(rq.desc, head, BUF, RNG_LEN, HV_D_WRITE, 0);
	hv_avail(&rq, head);
	hv_conf1_write(0, rng.slot, 0, c + 16, 1, 0);
	hv_set_decode(&rng, 1);
	hv_check(hv_status(&rng) == 0, "a reset through the window, a request posted");
	hv_kick(&rng, &rq);
	hv_check(!hv_wait_used(&rq, 1, HV_QUIET), "the request posted before it is not served");
	hv_check(rng_up() == 0 && rng_request(), "and the device works after it");
}

/* Read-only header registers: IDs, class and revision, header type, subsystem, pin. */
static const unsigned int ro_regs[][2] = {{0, 4}, {8, 4}, {0x0e, 1}, {0x2c, 4}, {0x3d, 1}};
#define NRO (sizeof(ro_regs) / sizeof(ro_regs[0]))

static void identity(unsigned int slot, uint32_t *v)
{
	for (unsigned int i = 0; i < NRO; i++)
		v[i] = hv_conf1_read(0, slot, 0, ro_regs[i][0], ro_regs[i][1]);
}

static void cfg_garbage(void)
{
	static const unsigned int sizes[] = {1, 2, 4, 8};
	static const unsigned int ecam_fns[][2] = {
		{0, 0}, {1, 0}, {2, 0}, {3, 0}, {1, 1}, {31, 7},
	};
	uint32_t before[3][NRO], after[NRO];
	unsigned int bus, slot, fn, off, i, ones = 1;

	for (slot = 0; slot < 3; slot++)
		identity(slot, before[slot]);
	for (bus = 0; bus < 2; bus++)
		for (slot = 0; slot < 32; slot++)
			for (fn = 0; fn < 8; fn++)
				for (off = 0; off < 256; off++) {
					unsigned int size = sizes[hv_rand() % 3];

					if (off % size)
						size = 1;
					hv_conf1_write(bus, slot, fn, off, size, (uint32_t)hv_rand());
					if (hv_rand() % 8 == 0)
						(void)hv_conf1_read(bus, slot, fn, hv_rand() & 0xff,
								    1);
				}
	hv_check(1, "0xCF8/0xCFC: random values at every offset of buses 0 and 1");
	for (i = 0; i < sizeof(ecam_fns) / sizeof(ecam_fns[0]); i++)
		for (off = 0; off < 4096; off += 4) {
			unsigned int size = sizes[hv_rand() % 4];
			uint64_t a = hv_ecam(0, ecam_fns[i][0], ecam_fns[i][1],
					     off + (unsigned int)(hv_rand() % 4));

			if (a + size > hv_ecam(0, ecam_fns[i][0], ecam_fns[i][1], 4096))
				size = 1;
			mmio_write(a, size, hv_rand());
			(void)mmio_read(hv_ecam(0, ecam_fns[i][0], ecam_fns[i][1], off),
					sizes[hv_rand() % 4]);
		}
	hv_check(1, "ECAM: random accesses over 4 KiB of six functions");
	for (slot = 0; slot < 3; slot++) {
		identity(slot, after);
		hv_check(!memcmp(after, before[slot], sizeof(after)), "slot %u kept its identity",
			 slot);
	}
	for (slot = 3; slot < 32; slot++)
		ones &= hv_cfg_read32(slot, 0) == 0xffffffff &&
			hv_cfg_read32(slot, 0x3c) == 0xffffffff;
	ones &= hv_conf1_read(0, 1, 1, 0, 4) == 0xffffffff &&
		hv_conf1_read(1, 0, 0, 0, 4) == 0xffffffff;
	ones &= MMIO32(hv_ecam(0, 5, 0, 0)) == 0xffffffff &&
		MMIO64(hv_ecam(0, 1, 0, 0)) == ~0ULL;
	hv_check(ones, "absent functions read all ones; so does an 8-byte ECAM read");
	hv_check(hv_cfg_read32(0, 0) == 0x00081b36, "the host bridge is still there");
}

static void devices_work(void)
{
	volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)PFNS;

	/*
	 * Everything the storm moved goes back: decoding off everywhere first, so that no BAR
	 * left at a random place keeps another from its new one; then BARs, MSI-X off.
	 */
	hv_cfg_write32(1, HV_PCI_COMMAND, 0);
	hv_cfg_write32(2, HV_PCI_COMMAND, 0);
	hv_cfg_write32(2, HV_PCI_BAR1, (uint32_t)(MSIX_BAR + MSIX_BAR_SIZE));
	hv_cfg_write32(1, HV_PCI_BAR1, (uint32_t)MSIX_BAR);
	hv_check(hv_open(&rng, "virtio-rng", HV_PCI_ID_RNG, RNG_BAR) == 0 &&
			 hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR) == 0,
		 "both devices found again");
	msix_flags(0);
	hv_conf1_write(0, bln.slot, 0, find_msix(bln.slot) + 2, 2, 0);
	hv_check(rng_up() == 0 && rng_request(), "rng works after the storm");
	p[0] = 0x900;
	hv_check(hv_negotiate(&bln, HV_F_VERSION_1) && !hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) &&
			 !hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) && !hv_driver_ok(&bln),
		 "balloon: set up after the storm");
	hv_desc(iq.desc, 0, PFNS, 4, 0, 0);
	hv_check(hv_roundtrip(&bln, &iq, 0), "balloon: an inflate after the storm");
	hv_desc(dq.desc, 0, PFNS, 4, 0, 0);
	hv_check(hv_roundtrip(&bln, &dq, 0), "balloon: a deflate after the storm");
	hv_sync("garbage-after");
}

int main(struct bootinfo *bi)
{
	if (fw_check_bootinfo(bi))
		return 1;
	hv_seed(bi, 20261204);
	if (hv_open(&rng, "virtio-rng", HV_PCI_ID_RNG, RNG_BAR) ||
	    hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR))
		return 1;
	msix_cap = find_msix(rng.slot);
	if (!msix_cap) {
		fw_puts("hostile: virtio-rng has no MSI-X capability\n");
		return 1;
	}
	hv_set_decode(&rng, 0);
	hv_cfg_write32(rng.slot, HV_PCI_BAR1, (uint32_t)MSIX_BAR);
	hv_set_decode(&rng, 1);
	hv_check(MMIO32(MSIX_BAR + 12) == 1 && MMIO32(MSIX_BAR + 28) == 1,
		 "MSI-X: every vector starts masked");
	msix_garbage();
	msix_messages();
	cfg_window();
	cfg_garbage();
	devices_work();
	hv_finish();
}
