// SPDX-License-Identifier: MIT
/* QEMU's edu device for the firmware guests: see edu.h. */
#include "edu.h"

#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 1
#define PCI_COMMAND_MASTER 0x4
#define PATTERN 0x9e3779b97f4a7c15ULL

static uint64_t bar0;

uint64_t edu_open(void)
{
	int slot = hv_find(EDU_ID);
	uint32_t cmd;

	if (slot < 0) {
		fw_puts("edu: FAIL no edu device on bus 0\n");
		return 0;
	}
	bar0 = hv_cfg_read32((unsigned int)slot, 0x10) & ~0xfULL;
	cmd = hv_cfg_read32((unsigned int)slot, HV_PCI_COMMAND) & 0xffff;
	hv_cfg_write32((unsigned int)slot, HV_PCI_COMMAND,
		       cmd | HV_PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fw_printf("edu: slot %d, BAR0 at 0x%lx\n", slot, (unsigned long)bar0);
	if (!bar0)
		fw_puts("edu: FAIL BAR0 not placed\n");
	return bar0;
}

int edu_dma(uint64_t src, uint64_t dst, uint32_t len, uint32_t cmd)
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

void edu_fill(uint64_t at, uint64_t seed)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)at;
	unsigned int i;

	for (i = 0; i < EDU_DMA_LEN / 8; i++)
		p[i] = seed * PATTERN + i;
}

int edu_same(uint64_t at, uint64_t seed)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)at;
	unsigned int i;

	for (i = 0; i < EDU_DMA_LEN / 8; i++)
		if (p[i] != seed * PATTERN + i)
			return 0;
	return 1;
}

int edu_zero(uint64_t at)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)at;
	unsigned int i;

	for (i = 0; i < EDU_DMA_LEN / 8; i++)
		if (p[i])
			return 0;
	return 1;
}

int edu_copy_through(uint64_t src, uint64_t dst, uint64_t seed)
{
	edu_fill(src, seed);
	edu_fill(dst, ~seed);
	if (edu_dma(src, EDU_BUF, EDU_DMA_LEN, 0) ||
	    edu_dma(EDU_BUF, dst, EDU_DMA_LEN, EDU_CMD_TO_RAM))
		return 0;
	return edu_same(dst, seed);
}
