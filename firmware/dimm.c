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
#include "memhp_fw.h"

#define OST_EJECT_REQUEST 0x03
#define OST_DEVICE_BUSY 0x82
#define PAGE 4096

/* Writes a value unique to each page and round, then reads every one back. */
static int touch(unsigned int slot, uint32_t round)
{
	uint64_t base = mhp_base(slot);
	uint64_t size = mhp_size(slot);
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
		for (s = 0; s < MHP_SLOTS; s++) {
			uint32_t st = mhp_get(s, MHP_STATUS);

			if (c == 'p' && (st & MHP_INSERT)) {
				mhp_set(s, MHP_STATUS, MHP_INSERT);
				fw_printf("plugged %u 0x%llx 0x%llx %s\n", s,
					  (unsigned long long)mhp_base(s),
					  (unsigned long long)mhp_size(s),
					  touch(s, round) ? "bad" : "ok");
			} else if (c == 'c' && (st & MHP_ENABLED)) {
				fw_printf("checked %u %s\n", s, touch(s, round) ? "bad" : "ok");
			} else if (c == 'e' && (st & MHP_REMOVE)) {
				mhp_set(s, MHP_STATUS, MHP_REMOVE);
				mhp_set(s, MHP_STATUS, MHP_EJECT);
				fw_printf("ejected %u\n", s);
			} else if (c == 'r' && (st & MHP_REMOVE)) {
				mhp_set(s, MHP_STATUS, MHP_REMOVE);
				mhp_set(s, MHP_OST_EVENT, OST_EJECT_REQUEST);
				mhp_set(s, MHP_OST_STATUS, OST_DEVICE_BUSY);
				fw_printf("refused %u\n", s);
			}
		}
		fw_printf("done %c\n", c);
	}
	return 0;
}
