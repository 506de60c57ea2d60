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
#include "memhp_fw.h"

#define DMA_LEN EDU_DMA_LEN
#define SRC 0x180000ULL

static unsigned int failures;

static void check(int ok, const char *what, uint64_t where)
{
	fw_printf("edu: %s %s at 0x%lx\n", ok ? "ok" : "FAIL", what, (unsigned long)where);
	failures += !ok;
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
		for (s = 0; s < MHP_SLOTS; s++) {
			uint32_t st = mhp_get(s, MHP_STATUS);
			uint64_t base, size;

			if (c == 'p' && (st & MHP_INSERT)) {
				mhp_set(s, MHP_STATUS, MHP_INSERT);
				base = mhp_base(s);
				size = mhp_size(s);
				fw_printf("plugged %u 0x%lx 0x%lx\n", s, (unsigned long)base,
					  (unsigned long)size);
				check(size >= DMA_LEN && copy_through(base, ++seed),
				      "DMA into the fresh DIMM", base);
				check(size >= DMA_LEN &&
					      copy_through(base + size - DMA_LEN, ++seed),
				      "DMA into the fresh DIMM's end", base + size - DMA_LEN);
				kept = base;
			} else if (c == 'e' && (st & MHP_REMOVE)) {
				mhp_set(s, MHP_STATUS, MHP_REMOVE);
				mhp_set(s, MHP_STATUS, MHP_EJECT);
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
