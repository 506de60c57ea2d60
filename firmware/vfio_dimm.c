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
#include "hostile.h"

#define EDU_ID 0x11e81234u
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 1
#define EDU_CMD_TO_RAM 2
#define EDU_BUF 0x40000ULL
#define DMA_LEN 2048u /* not the whole buffer: see firmware/vfio_edu.c */
#define PCI_COMMAND_MASTER 0x4
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
static uint64_t bar0;

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

static int edu_dma(uint64_t src, uint64_t dst, uint32_t len, uint32_t cmd)
{
	uint32_t i;

	MMIO64(bar0 + EDU_DMA_SRC) = src;
	MMIO64(bar0 + EDU_DMA_DST) = dst;
	MMIO64(bar0 + EDU_DMA_COUNT) = len;
	MMIO64(bar0 + EDU_DMA_CMD) = cmd | EDU_CMD_START;
	for (i = 0; i < 100000000u; i++)
		if (!(MMIO64(bar0 + EDU_DMA_CMD) & EDU_CMD_START))
			return 0;
	fw_printf("edu: DMA 0x%lx -> 0x%lx did not finish\n", (unsigned long)src,
		  (unsigned long)dst);
	return -1;
}

static void fill(uint64_t at, uint64_t seed)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)at;
	unsigned int i;

	for (i = 0; i < DMA_LEN / 8; i++)
		p[i] = seed * 0x9e3779b97f4a7c15ULL + i;
}

static int same(uint64_t at, uint64_t seed)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)at;
	unsigned int i;

	for (i = 0; i < DMA_LEN / 8; i++)
		if (p[i] != seed * 0x9e3779b97f4a7c15ULL + i)
			return 0;
	return 1;
}

/* RAM (SRC, filled from seed) -> edu -> dst; whether the CPU then reads it at dst. */
static int copy_through(uint64_t dst, uint64_t seed)
{
	fill(SRC, seed);
	fill(dst, ~seed);
	if (edu_dma(SRC, EDU_BUF, DMA_LEN, 0) || edu_dma(EDU_BUF, dst, DMA_LEN, EDU_CMD_TO_RAM))
		return 0;
	return same(dst, seed);
}

static int open_edu(void)
{
	int slot = hv_find(EDU_ID);
	uint32_t cmd;

	if (slot < 0) {
		fw_puts("edu: FAIL no edu device on bus 0\n");
		return -1;
	}
	bar0 = hv_cfg_read32((unsigned int)slot, 0x10) & ~0xfULL;
	cmd = hv_cfg_read32((unsigned int)slot, HV_PCI_COMMAND) & 0xffff;
	hv_cfg_write32((unsigned int)slot, HV_PCI_COMMAND,
		       cmd | HV_PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fw_printf("edu: slot %d, BAR0 at 0x%lx\n", slot, (unsigned long)bar0);
	return bar0 ? 0 : -1;
}

int main(struct bootinfo *bi)
{
	uint64_t kept = 0, seed = 0;
	unsigned int s;
	char c;

	if (fw_check_bootinfo(bi))
		return 100;
	if (open_edu())
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
