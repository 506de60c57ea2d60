// SPDX-License-Identifier: MIT
#include "x86/identity_map.h"

#include <string.h>

#include "x86/x86.h"

#define GIB_SHIFT 30

static uint64_t gib_of(uint64_t end)
{
	return (end >> GIB_SHIFT) + !!(end & ((1ULL << GIB_SHIFT) - 1));
}

uint64_t x86_identity_map_pages(uint64_t end, bool gib_pages)
{
	uint64_t gib = gib_of(end), npdpt = (gib + 511) / 512;

	if (npdpt > 512)
		return 0;
	return 1 + npdpt + (gib_pages ? 0 : gib);
}

void x86_identity_map(uint64_t *tables, uint64_t table_gpa, uint64_t end, bool gib_pages)
{
	const uint64_t rw = X86_PTE_PRESENT | X86_PTE_WRITE;
	uint64_t gib = gib_of(end), npdpt = (gib + 511) / 512, i;
	uint64_t *pml4 = tables, *pdpt = tables + 512, *pd = pdpt + npdpt * 512;
	uint64_t pdpt_gpa = table_gpa + 4096, pd_gpa = pdpt_gpa + npdpt * 4096;

	memset(tables, 0, x86_identity_map_pages(end, gib_pages) * 4096);
	for (i = 0; i < npdpt; i++)
		pml4[i] = (pdpt_gpa + i * 4096) | rw;
	for (i = 0; i < gib; i++)
		pdpt[i] = gib_pages ? i << GIB_SHIFT | rw | X86_PTE_HUGE : (pd_gpa + i * 4096) | rw;
	if (!gib_pages)
		for (i = 0; i < gib * 512; i++)
			pd[i] = i << 21 | rw | X86_PTE_HUGE;
}
