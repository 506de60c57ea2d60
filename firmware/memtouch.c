// SPDX-License-Identifier: MIT
/*
 * Writes one word to every 4 KiB page of plugged RAM, twice: the first pass is the guest's
 * first touch of its memory (each page faults into the host's page tables and KVM's), the
 * second writes memory that is already there. A line before and after each pass lets the
 * host time them as they arrive (bench/guest_touch). "passes=N" changes the count.
 */
#include "fwlib.h"

#define PAGE 4096ULL

static uint64_t touch(const struct bootinfo *bi, uint64_t v)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < bi->nregions; i++) {
		const struct bootinfo_region *r = &bi->region[i];

		if (!r->plugged)
			continue;
		for (uint64_t gpa = r->base; gpa < r->base + r->size; gpa += PAGE, n++)
			*(volatile uint64_t *)(uintptr_t)gpa = v + gpa;
	}
	return n;
}

int main(struct bootinfo *bi)
{
	uint64_t passes = 2, n = 0;

	if (fw_check_bootinfo(bi))
		return 1;
	if (fw_cmdline_u64(bi->cmdline, "passes", &passes))
		passes = 2;
	for (uint64_t p = 1; p <= passes; p++) {
		fw_printf("memtouch: pass %lu start\n", (unsigned long)p);
		n = touch(bi, p);
		fw_printf("memtouch: pass %lu done\n", (unsigned long)p);
	}
	fw_printf("memtouch: %lu pages\n", (unsigned long)n);
	return 0;
}
