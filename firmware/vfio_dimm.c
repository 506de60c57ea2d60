// SPDX-License-Identifier: MIT
/*
 * QEMU's edu device assigned with --vfio and a DIMM plugged and unplugged over QMP, in the
 * testbed (guests/scenarios/dimm-vfio.sh; edu's dma_mask raised so that it reaches the
 * hotplug window above 4 GiB). The memory hotplug controller (src/devices/memhp.h) is
 * polled as firmware/dimm.c does, on commands from COM1:
 *   p  every slot with INSERT: clear it, then DMA RAM -> edu -> the DIMM at its first and
 *      last bytes: the CPU must read what the device wrote ("edu: ok|FAIL ...");
 *      the last DIMM's base is kept
 *   e  every slot with REMOVE: clear it, _EJ0 ("ejected SLOT")
 *   x  DMA edu -> the kept base, after the eject: the DMA completes for edu, but the
 *      granules are gone from the IOMMU, so level 1 logs a DMAR fault (the scenario counts)
 *   q  exit with the number of failures
 * Each command ends with "done C".
 */
#include "edu.h"

#define DMA_LEN EDU_DMA_LEN
#define SRC 0x180000ULL

#define MEMHP_PORT 0x620 /* PLATFORM_MEMHP_PORT */
#define MEMHP_SLOTS 64
#define SEL 0x00
#define STATUS 0x04
#define BASE_LO 0x08
#define BASE_HI 0x0c
#define SIZE_LO 0x10
#define SIZE_HI 0x14
#define INSERT (1u << 1)
#define REMOVE (1u << 2)
#define EJECT (1u << 3)

static unsigned int failures;

static void check(int ok, const char *what, uint64_t where)
{
	fw_printf("edu: %s %s at 0x%lx\n", ok ? "ok" : "FAIL", what, (unsigned long)where);
	failures += !ok;
}

static uint32_t reg(unsigned int slot, unsigned int off)
{
	outl(MEMHP_PORT + SEL, slot);
	return inl(MEMHP_PORT + off);
}

static void set(unsigned int slot, unsigned int off, uint32_t v)
{
	outl(MEMHP_PORT + SEL, slot);
	outl(MEMHP_PORT + off, v);
}

/* RAM (SRC, filled from seed) -> edu -> dst; whether the CPU then reads it at dst. */
static int copy_through(uint64_t dst, uint64_t seed)
{
	return edu_copy_through(SRC, dst, seed);
}

int main(struct bootinfo *bi)
{
	uint64_t kept = 0, seed = 0;
	unsigned int s;
	char c;

	if (fw_check_bootinfo(bi))
		return 100;
	if (!edu_open())
		return 102;
	check(copy_through(0x200000ULL, ++seed), "DMA RAM->edu->RAM", 0x200000ULL);
	fw_puts("dimm: ready\n");
	while ((c = fw_getc()) != 'q') {
		for (s = 0; s < MEMHP_SLOTS; s++) {
			uint32_t st = reg(s, STATUS);
			uint64_t base, size;

			if (c == 'p' && (st & INSERT)) {
				set(s, STATUS, INSERT);
				base = reg(s, BASE_LO) | (uint64_t)reg(s, BASE_HI) << 32;
				size = reg(s, SIZE_LO) | (uint64_t)reg(s, SIZE_HI) << 32;
				fw_printf("plugged %u 0x%lx 0x%lx\n", s, (unsigned long)base,
					  (unsigned long)size);
				check(size >= DMA_LEN && copy_through(base, ++seed),
				      "DMA into the fresh DIMM", base);
				check(size >= DMA_LEN &&
					      copy_through(base + size - DMA_LEN, ++seed),
				      "DMA into the fresh DIMM's end", base + size - DMA_LEN);
				kept = base;
			} else if (c == 'e' && (st & REMOVE)) {
				set(s, STATUS, REMOVE);
				set(s, STATUS, EJECT);
				fw_printf("ejected %u\n", s);
			}
		}
		if (c == 'x' && kept) {
			fw_puts("edu: DMA into the ejected DIMM (a DMAR fault in level 1 is "
				"expected)\n");
			check(!edu_dma(EDU_BUF, kept, DMA_LEN, EDU_CMD_TO_RAM),
			      "DMA into the ejected DIMM completes", kept);
		}
		fw_printf("done %c\n", c);
	}
	fw_printf("edu: %s, %u failures\n", failures ? "FAIL" : "PASS", failures);
	return (int)failures;
}
