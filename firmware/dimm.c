// SPDX-License-Identifier: MIT
/*
 * Drives the memory hotplug controller (src/devices/memhp.h) by polling, as the DSDT's
 * methods would, on commands from COM1, so that a test decides when each step happens:
 *   p  every slot with INSERT: clear it, read BASE and SIZE, write a pattern to every
 *      4 KiB page of the DIMM and read it back ("plugged SLOT BASE SIZE ok|bad")
 *   c  every ENABLED slot: the same write and check ("checked SLOT ok|bad")
 *   e  every slot with REMOVE: clear it, _EJ0 (STATUS EJECT) ("ejected SLOT")
 *   r  every slot with REMOVE: clear it, _OST (eject request, device busy) ("refused SLOT")
 *   q  exit 0
 * The firmware page tables map the whole hotplug window, so the DIMM is addressable.
 */
#include "fwlib.h"

#define MEMHP_PORT 0x620 /* PLATFORM_MEMHP_PORT */
#define MEMHP_SLOTS 64
#define SEL 0x00
#define STATUS 0x04
#define BASE_LO 0x08
#define BASE_HI 0x0c
#define SIZE_LO 0x10
#define SIZE_HI 0x14
#define OST_EVENT 0x18
#define OST_STATUS 0x1c
#define ENABLED (1u << 0)
#define INSERT (1u << 1)
#define REMOVE (1u << 2)
#define EJECT (1u << 3)
#define OST_EJECT_REQUEST 0x03
#define OST_DEVICE_BUSY 0x82
#define PAGE 4096

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

/* Writes a value unique to each page and round, then reads every one back. */
static int touch(unsigned int slot, uint32_t round)
{
	uint64_t base = reg(slot, BASE_LO) | (uint64_t)reg(slot, BASE_HI) << 32;
	uint64_t size = reg(slot, SIZE_LO) | (uint64_t)reg(slot, SIZE_HI) << 32;
	uint64_t a;

	if (!size)
		return -1;
	for (a = base; a < base + size; a += PAGE)
		*(volatile uint64_t *)a = a ^ ((uint64_t)round << 48);
	for (a = base; a < base + size; a += PAGE)
		if (*(volatile uint64_t *)a != (a ^ ((uint64_t)round << 48)))
			return -1;
	return 0;
}

int main(struct bootinfo *bi)
{
	uint32_t round = 0;
	unsigned int s;
	char c;

	if (fw_check_bootinfo(bi))
		return 1;
	fw_puts("dimm: ready\n");
	while ((c = fw_getc()) != 'q') {
		round++;
		for (s = 0; s < MEMHP_SLOTS; s++) {
			uint32_t st = reg(s, STATUS);

			if (c == 'p' && (st & INSERT)) {
				set(s, STATUS, INSERT);
				fw_printf("plugged %u 0x%llx 0x%llx %s\n", s,
					  (unsigned long long)(reg(s, BASE_LO) |
							       (uint64_t)reg(s, BASE_HI) << 32),
					  (unsigned long long)(reg(s, SIZE_LO) |
							       (uint64_t)reg(s, SIZE_HI) << 32),
					  touch(s, round) ? "bad" : "ok");
			} else if (c == 'c' && (st & ENABLED)) {
				fw_printf("checked %u %s\n", s, touch(s, round) ? "bad" : "ok");
			} else if (c == 'e' && (st & REMOVE)) {
				set(s, STATUS, REMOVE);
				set(s, STATUS, EJECT);
				fw_printf("ejected %u\n", s);
			} else if (c == 'r' && (st & REMOVE)) {
				set(s, STATUS, REMOVE);
				set(s, OST_EVENT, OST_EJECT_REQUEST);
				set(s, OST_STATUS, OST_DEVICE_BUSY);
				fw_printf("refused %u\n", s);
			}
		}
		fw_printf("done %c\n", c);
	}
	return 0;
}
