/* SPDX-License-Identifier: MIT */
/*
 * QEMU's edu device (PCI 1234:11e8) as the testbed's firmware guests drive it when it is
 * assigned with --vfio (firmware/vfio_edu.c, firmware/vfio_dimm.c): it copies between
 * guest memory and its own 4 KiB buffer by DMA, at IOVAs, which slabvm makes equal to
 * guest-physical addresses. The buffers are EDU_DMA_LEN bytes of a pattern made from a
 * seed, so that a copy is checked byte for byte and a stale one is told from a fresh one.
 */
#ifndef SLABVM_FW_EDU_H
#define SLABVM_FW_EDU_H

#include "hostile.h"

#define EDU_ID 0x11e81234u
#define EDU_REG_ID 0x00
#define EDU_REG_LIVE 0x04
#define EDU_CMD_TO_RAM 2
#define EDU_BUF 0x40000ULL /* the device's own buffer, in its address space */
/* Less than the whole buffer: QEMU 7.2's edu refuses a DMA that ends exactly at its end
 * (an off-by-one in its range check, which stops QEMU with a hardware error). */
#define EDU_DMA_LEN 2048u

/* Finds edu on bus 0, turns memory decoding and bus mastering on and says where BAR 0
 * is ("edu: slot S, BAR0 at A"). Returns BAR 0's address, 0 when there is no edu. */
uint64_t edu_open(void);
/* One DMA of len bytes, src to dst, cmd 0 (RAM to the device) or EDU_CMD_TO_RAM; waits
 * for the device to finish. -1 (and a line saying so) if it never does. */
int edu_dma(uint64_t src, uint64_t dst, uint32_t len, uint32_t cmd);
/* EDU_DMA_LEN bytes at at: filled from seed; equal to that; all zero. */
void edu_fill(uint64_t at, uint64_t seed);
int edu_same(uint64_t at, uint64_t seed);
int edu_zero(uint64_t at);
/* RAM at src (filled from seed) -> edu -> RAM at dst (filled from ~seed first): whether the
 * CPU then reads seed's pattern at dst. */
int edu_copy_through(uint64_t src, uint64_t dst, uint64_t seed);

#endif
