// SPDX-License-Identifier: MIT
/*
 * Touches every granule of plugged RAM: proves each one is backed, mapped at its own
 * address and distinct from every other (a granule mapped twice or at the wrong place
 * reads back another granule's value). Pass one writes v(gpa) to the first word of each
 * granule, pass two checks them and sums them. tests/guest/test_granules.py computes the
 * same count and sum from the configuration alone:
 *
 *	v(gpa) = splitmix64 output for state gpa (one step: add the golden gamma, then mix)
 */
#include "fwlib.h"

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static volatile uint64_t *word_at(uint64_t gpa)
{
	return (volatile uint64_t *)(uintptr_t)gpa;
}

int main(struct bootinfo *bi)
{
	uint64_t g = bi->granule, n = 0, sum = 0;

	if (fw_check_bootinfo(bi))
		return 1;
	if (g < 4096 || (g & (g - 1))) {
		fw_printf("granules: bad granule size 0x%lx\n", (unsigned long)g);
		return 1;
	}
	for (uint32_t i = 0; i < bi->nregions; i++) {
		const struct bootinfo_region *r = &bi->region[i];

		if (!r->plugged)
			continue;
		for (uint64_t gpa = r->base; gpa + g <= r->base + r->size; gpa += g)
			*word_at(gpa) = splitmix64(gpa);
	}
	for (uint32_t i = 0; i < bi->nregions; i++) {
		const struct bootinfo_region *r = &bi->region[i];

		if (!r->plugged)
			continue;
		for (uint64_t gpa = r->base; gpa + g <= r->base + r->size; gpa += g) {
			uint64_t v = *word_at(gpa);

			if (v != splitmix64(gpa)) {
				fw_printf("granules: at 0x%lx read 0x%lx, want 0x%lx\n",
					  (unsigned long)gpa, (unsigned long)v,
					  (unsigned long)splitmix64(gpa));
				return 1;
			}
			sum += v;
			n++;
		}
	}
	fw_printf("granules=%lu checksum=0x%016lx\n", (unsigned long)n, (unsigned long)sum);
	return 0;
}
