/* SPDX-License-Identifier: MIT */
/*
 * The memory hotplug controller as a guest sees it through its port window (what the
 * DSDT's methods do), for the firmware guests that plug and unplug DIMMs (dimm.c,
 * vfio_dimm.c, dimm_balloon.c). Written apart from the device's own header
 * (src/devices/memhp.h) on purpose: these guests check the register protocol, so they do
 * not share its definitions.
 */
#ifndef SLABVM_FW_MEMHP_H
#define SLABVM_FW_MEMHP_H

#include "fwlib.h"

#define MHP_PORT 0x620 /* PLATFORM_MEMHP_PORT */
#define MHP_SLOTS 64
#define MHP_SEL 0x00
#define MHP_STATUS 0x04
#define MHP_BASE_LO 0x08
#define MHP_BASE_HI 0x0c
#define MHP_SIZE_LO 0x10
#define MHP_SIZE_HI 0x14
#define MHP_OST_EVENT 0x18
#define MHP_OST_STATUS 0x1c
#define MHP_ENABLED (1u << 0)
#define MHP_INSERT (1u << 1)
#define MHP_REMOVE (1u << 2)
#define MHP_EJECT (1u << 3)

/* A register of one slot: SEL first, then the register. */
static inline uint32_t mhp_get(unsigned int slot, unsigned int off)
{
	outl(MHP_PORT + MHP_SEL, slot);
	return inl(MHP_PORT + off);
}

static inline void mhp_set(unsigned int slot, unsigned int off, uint32_t v)
{
	outl(MHP_PORT + MHP_SEL, slot);
	outl(MHP_PORT + off, v);
}

static inline uint64_t mhp_base(unsigned int slot)
{
	return mhp_get(slot, MHP_BASE_LO) | (uint64_t)mhp_get(slot, MHP_BASE_HI) << 32;
}

static inline uint64_t mhp_size(unsigned int slot)
{
	return mhp_get(slot, MHP_SIZE_LO) | (uint64_t)mhp_get(slot, MHP_SIZE_HI) << 32;
}

#endif
