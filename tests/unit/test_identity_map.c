// SPDX-License-Identifier: MIT
/* x86_identity_map: a 4-level page walk, as the CPU does it, finds every address below the
 * map's end at itself, writable, with 2 MiB or 1 GiB pages, and nothing above it; the table
 * count is what x86_identity_map_pages said and stays within the pages given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "x86/identity_map.h"
#include "x86/x86.h"

#define TABLE_GPA 0xff010000ULL
#define ADDR_MASK 0x000ffffffffff000ULL
#define POISON 0xa5a5a5a5a5a5a5a5ULL

struct walk {
	bool present;
	uint64_t pa;
	unsigned int page_shift; /* 30 or 21 */
};

/* The entry at index idx of the table at gpa, which must be one of the map's pages. */
static uint64_t entry(const uint64_t *tables, uint64_t npages, uint64_t gpa, unsigned int idx)
{
	assert_true(gpa >= TABLE_GPA && !(gpa & 0xfff));
	assert_true((gpa - TABLE_GPA) / 4096 < npages);
	return tables[(gpa - TABLE_GPA) / 8 + idx];
}

static struct walk walk(const uint64_t *tables, uint64_t npages, uint64_t va)
{
	uint64_t e = entry(tables, npages, TABLE_GPA, (va >> 39) & 511);
	struct walk w = {0};

	if (!(e & X86_PTE_PRESENT))
		return w;
	assert_true(e & X86_PTE_WRITE);
	assert_false(e & X86_PTE_HUGE); /* reserved in a PML4 entry */
	e = entry(tables, npages, e & ADDR_MASK, (va >> 30) & 511);
	if (!(e & X86_PTE_PRESENT))
		return w;
	assert_true(e & X86_PTE_WRITE);
	if (e & X86_PTE_HUGE) {
		assert_int_equal(e & ADDR_MASK & ((1ULL << 30) - 1), 0);
		return (struct walk){true, (e & ADDR_MASK) | (va & ((1ULL << 30) - 1)), 30};
	}
	e = entry(tables, npages, e & ADDR_MASK, (va >> 21) & 511);
	if (!(e & X86_PTE_PRESENT))
		return w;
	assert_true(e & X86_PTE_WRITE);
	assert_true(e & X86_PTE_HUGE); /* no 4 KiB pages */
	return (struct walk){true, (e & ADDR_MASK) | (va & ((1ULL << 21) - 1)), 21};
}

static void check_map(uint64_t end, bool gib, uint64_t want_pages)
{
	uint64_t pages = x86_identity_map_pages(end, gib),
		 top = (end + (1ULL << 30) - 1) >> 30 << 30;
	const uint64_t probe[] = {0,	      4095,	  2ULL << 20,  (3ULL << 30) + 12345,
				  0xfee00000, 0xff010000, top / 2 + 7, top - 1};
	uint64_t *t;
	unsigned int i;

	assert_int_equal(pages, want_pages);
	/* One page more than needed, poisoned: the map writes all of its pages and no more. */
	t = malloc((pages + 1) * 4096);
	assert_non_null(t);
	for (i = 0; i < (pages + 1) * 512; i++)
		t[i] = POISON;
	x86_identity_map(t, TABLE_GPA, end, gib);
	for (i = 0; i < pages * 512; i++)
		assert_int_not_equal(t[i], POISON);
	for (i = pages * 512; i < (pages + 1) * 512; i++)
		assert_int_equal(t[i], POISON);
	for (i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
		struct walk w;

		if (probe[i] >= top)
			continue;
		w = walk(t, pages, probe[i]);
		assert_true(w.present);
		assert_int_equal(w.pa, probe[i]);
		assert_int_equal(w.page_shift, gib ? 30 : 21);
	}
	if (top < 1ULL << 39) {
		assert_false(walk(t, pages, top).present);
		assert_false(walk(t, pages, top + (5ULL << 21) + 3).present);
	}
	assert_false(walk(t, pages, 1ULL << 46).present);
	free(t);
}

/* What vm.c asks for: RAM, the PCI hole and a 64-bit PCI window ending at 72 GiB. */
static void test_two_mib(void **state)
{
	(void)state;
	check_map(72ULL << 30, false, 1 + 1 + 72);
	check_map(1, false, 3);
	check_map((1ULL << 30) + 1, false, 4);
}

static void test_one_gib(void **state)
{
	(void)state;
	check_map(72ULL << 30, true, 2);
	check_map(1, true, 2);
	/* Past 512 GiB a second PDPT. */
	check_map((512ULL << 30) + 1, true, 3);
}

static void test_too_large(void **state)
{
	(void)state;
	assert_int_equal(x86_identity_map_pages(1ULL << 48, true), 1 + 512);
	assert_int_equal(x86_identity_map_pages((1ULL << 48) + 1, true), 0);
	assert_int_equal(x86_identity_map_pages(UINT64_MAX, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_mib),
		cmocka_unit_test(test_one_gib),
		cmocka_unit_test(test_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
