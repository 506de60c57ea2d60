// SPDX-License-Identifier: MIT
/*
 * Guest memory as device models see it: every byte of an access is plugged RAM or the
 * access fails with -EFAULT and copies nothing.
 *
 * The map: low RAM [0, 3G), high RAM [4G, 5G), and two 2M DIMM slots right after it, so
 * high RAM, DIMM 2 and DIMM 3 are directly adjacent. Backing is the fake's anonymous
 * memory, reserved but hardly touched.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_iommu.h"
#include "mem/guestmem.h"
#include "mem/memmap.h"

#define K ((uint64_t)1024)
#define M (1024 * K)
#define G (1024 * M)
#define PAGE ((uint64_t)MEMMAP_PAGE_SIZE)

#define HIGH (4 * G)
#define DIMM_SIZE (2 * M)
#define DIMM2 (5 * G)
#define DIMM3 (DIMM2 + DIMM_SIZE)
#define END (DIMM3 + DIMM_SIZE)

static int setup(void **state)
{
	struct memmap_config c = {.mem = 4 * G,
				  .maxmem = 4 * G + 2 * DIMM_SIZE,
				  .granule = 2 * M,
				  .dimm_size = DIMM_SIZE};
	struct fake_env *e = calloc(1, sizeof(*e));
	struct error err = {0};

	if (!e || fake_env_init(e, &c, false, &err) || memmap_start(&e->mm, &err)) {
		print_error("setup: %s\n", err.msg);
		return -1;
	}
	assert_int_equal(e->mm.nregions, 4);
	assert_int_equal(e->mm.region[2].gpa, DIMM2);
	assert_int_equal(e->mm.region[3].gpa, DIMM3);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct fake_env *e = *state;

	fake_env_free(e);
	free(e);
	return 0;
}

static uint8_t *host(struct memmap *mm, uint64_t gpa)
{
	struct memmap_region *r = memmap_find(mm, gpa);

	assert_non_null(r);
	return r->hva + (gpa - r->gpa);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* Write then read back at gpa, and check the bytes landed where the host sees them. */
static void expect_roundtrip(struct memmap *mm, uint64_t gpa, size_t len)
{
	uint8_t in[64], out[65];

	assert_true(len <= sizeof(in));
	fill(in, len, (uint8_t)gpa);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(guestmem_write(mm, gpa, in, len), 0);
	assert_int_equal(guestmem_read(mm, gpa, out, len), 0);
	assert_memory_equal(in, out, len);
	assert_int_equal(out[len], 0xee);
}

/* Both directions fail and nothing moves: the buffer and guest memory stay as they were. */
static void expect_fault(struct memmap *mm, uint64_t gpa, size_t len)
{
	uint8_t buf[64], before[64];

	assert_true(len <= sizeof(buf));
	memset(buf, 0xcc, sizeof(buf));
	assert_int_equal(guestmem_read(mm, gpa, buf, len), -EFAULT);
	assert_true(buf[0] == 0xcc && buf[len - 1] == 0xcc);
	fill(before, sizeof(before), 0x31);
	assert_int_equal(guestmem_write(mm, gpa, before, len), -EFAULT);
}

static void test_region_edges(void **state)
{
	struct fake_env *e = *state;
	struct memmap *mm = &e->mm;

	expect_roundtrip(mm, 0, 64);
	expect_roundtrip(mm, 3 * G - 64, 64);
	expect_roundtrip(mm, 3 * G - 1, 1);
	expect_roundtrip(mm, HIGH, 64);
	expect_roundtrip(mm, DIMM2 - 1, 1);
	/* One byte past the end of each region. */
	expect_fault(mm, 3 * G - 63, 64);
	expect_fault(mm, 3 * G, 1);
	expect_fault(mm, HIGH - 1, 2);
	expect_fault(mm, DIMM2 - 32, 64); /* high RAM runs into an unplugged DIMM */
	expect_fault(mm, END, 1);
	expect_fault(mm, 1ULL << 40, 8);
	fake_env_check(e);
}

static void test_pci_hole(void **state)
{
	struct fake_env *e = *state;
	struct memmap *mm = &e->mm;
	uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	memset(host(mm, 3 * G - 4), 0xab, 4);
	expect_fault(mm, 3 * G - 4, 8);
	expect_fault(mm, 3 * G + 4 * K, 8);
	expect_fault(mm, 3 * G + 512 * M, 64);
	/* The half that was RAM was not written either. */
	assert_int_equal(guestmem_write(mm, 3 * G - 4, data, 8), -EFAULT);
	assert_true(host(mm, 3 * G - 4)[0] == 0xab && host(mm, 3 * G - 1)[0] == 0xab);
	/* Even though high RAM follows the hole, no access spans it. */
	expect_fault(mm, 3 * G - 4, 64);
}

static void test_adjacent_regions(void **state)
{
	struct fake_env *e = *state;
	struct memmap *mm = &e->mm;
	struct error err = {0};
	uint8_t in[64], out[64];

	assert_int_equal(memmap_plug(mm, 2, &err), 0);
	assert_int_equal(memmap_plug(mm, 3, &err), 0);
	fake_env_check(e);

	/* High RAM into DIMM 2, DIMM 2 into DIMM 3: piecewise, and each piece lands home. */
	fill(in, sizeof(in), 9);
	assert_int_equal(guestmem_write(mm, DIMM2 - 20, in, 64), 0);
	assert_memory_equal(host(mm, DIMM2 - 20), in, 20);
	assert_memory_equal(mm->region[2].hva, in + 20, 44);
	assert_int_equal(guestmem_read(mm, DIMM2 - 20, out, 64), 0);
	assert_memory_equal(in, out, 64);
	fill(in, sizeof(in), 77);
	assert_int_equal(guestmem_write(mm, DIMM3 - 1, in, 64), 0);
	assert_int_equal(host(mm, DIMM3 - 1)[0], in[0]);
	assert_memory_equal(mm->region[3].hva, in + 1, 63);
	/* A read that spans all three regions. */
	{
		size_t len = DIMM_SIZE + 2 * 4096;
		uint8_t *big = malloc(len);

		assert_non_null(big);
		assert_int_equal(guestmem_read(mm, DIMM2 - 4096, big, len), 0);
		assert_int_equal(big[4096 - 20], 9);
		assert_int_equal(big[len - 4096 - 1], 77);
		free(big);
	}

	expect_roundtrip(mm, DIMM3 - 33, 64);
	expect_roundtrip(mm, END - 64, 64);
	expect_fault(mm, END - 63, 64);

	/* With DIMM 3 gone, the same access copies nothing at all. */
	assert_int_equal(memmap_unplug(mm, 3, &err), 0);
	memset(host(mm, DIMM3 - 4), 0x5c, 4);
	expect_fault(mm, DIMM3 - 4, 8);
	assert_true(host(mm, DIMM3 - 4)[0] == 0x5c && host(mm, DIMM3 - 1)[0] == 0x5c);
	expect_fault(mm, DIMM3, 1);
	assert_int_equal(memmap_unplug(mm, 2, &err), 0);
	expect_fault(mm, DIMM2, 1);
	expect_fault(mm, DIMM2 + DIMM_SIZE / 2, 64);
	fake_env_check(e);
}

static void test_wraparound(void **state)
{
	struct fake_env *e = *state;
	struct memmap *mm = &e->mm;
	uint8_t buf[16];

	assert_int_equal(guestmem_read(mm, UINT64_MAX, buf, 1), -EFAULT);
	assert_int_equal(guestmem_read(mm, UINT64_MAX - 3, buf, 8), -EFAULT);
	assert_int_equal(guestmem_write(mm, UINT64_MAX - 3, buf, 8), -EFAULT);
	/* A length that would wrap back into low RAM. */
	assert_int_equal(guestmem_read(mm, 16, buf, SIZE_MAX), -EFAULT);
	assert_int_equal(guestmem_read(mm, 0, buf, SIZE_MAX), -EFAULT);
	assert_int_equal(guestmem_write(mm, 4096, buf, SIZE_MAX - 4095), -EFAULT);
}

static void test_len_zero(void **state)
{
	struct fake_env *e = *state;
	struct memmap *mm = &e->mm;
	uint8_t buf[1] = {0x11};

	assert_int_equal(guestmem_read(mm, 0, buf, 0), 0);
	assert_int_equal(guestmem_read(mm, 3 * G, buf, 0), 0);
	assert_int_equal(guestmem_read(mm, UINT64_MAX, buf, 0), 0);
	assert_int_equal(guestmem_write(mm, DIMM2, buf, 0), 0);
	assert_int_equal(buf[0], 0x11);
}

static void test_ptr(void **state)
{
	struct fake_env *e = *state;
	struct memmap *mm = &e->mm;
	struct error err = {0};

	guestmem_lock(mm);
	assert_ptr_equal(guestmem_ptr(mm, 0, 4096), mm->region[0].hva);
	assert_ptr_equal(guestmem_ptr(mm, 0, 3 * G), mm->region[0].hva);
	assert_ptr_equal(guestmem_ptr(mm, 3 * G - 1, 1), mm->region[0].hva + 3 * G - 1);
	assert_ptr_equal(guestmem_ptr(mm, HIGH + 12, 100), mm->region[1].hva + 12);
	assert_null(guestmem_ptr(mm, 0, 3 * G + 1));
	assert_null(guestmem_ptr(mm, 3 * G - 1, 2));
	assert_null(guestmem_ptr(mm, 3 * G, 1));
	assert_null(guestmem_ptr(mm, DIMM2, 1));
	assert_null(guestmem_ptr(mm, DIMM2 - 1, 2));
	assert_null(guestmem_ptr(mm, 8, UINT64_MAX));
	assert_null(guestmem_ptr(mm, UINT64_MAX, 1));
	/* Length 0: a pointer if the address itself is plugged RAM. */
	assert_ptr_equal(guestmem_ptr(mm, 5, 0), mm->region[0].hva + 5);
	assert_null(guestmem_ptr(mm, 3 * G, 0));
	guestmem_unlock(mm);

	assert_int_equal(memmap_plug(mm, 2, &err), 0);
	assert_int_equal(memmap_plug(mm, 3, &err), 0);
	guestmem_lock(mm);
	assert_ptr_equal(guestmem_ptr(mm, DIMM2, DIMM_SIZE), mm->region[2].hva);
	assert_null(guestmem_ptr(mm, DIMM2, DIMM_SIZE + 1));
	/* Adjacent is not enough: the two halves live in different host mappings. */
	assert_null(guestmem_ptr(mm, DIMM3 - 1, 2));
	assert_null(guestmem_ptr(mm, DIMM2 - 1, 2));
	guestmem_unlock(mm);
	assert_int_equal(memmap_unplug(mm, 3, &err), 0);
	assert_int_equal(memmap_unplug(mm, 2, &err), 0);
}

/* Released balloon pages read as zero; the balloon does not make them faults. */
static void test_inflated_page(void **state)
{
	struct fake_env *e = *state;
	struct memmap *mm = &e->mm;
	uint8_t buf[PAGE];

	memset(host(mm, 64 * K), 0x99, PAGE);
	assert_int_equal(memmap_inflate_page(mm, 64 * K), 0);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(guestmem_read(mm, 64 * K, buf, sizeof(buf)), 0);
	assert_true(buf[0] == 0 && buf[PAGE - 1] == 0);
	assert_int_equal(memmap_deflate_page(mm, 64 * K), 0);
	fake_env_check(e);
}

/*
 * A device model reading a DIMM while it is plugged and unplugged under it: the lock
 * keeps every access either whole or -EFAULT, never a touch of unmapped memory.
 */
struct reader {
	struct memmap *mm;
	atomic_bool stop;
	atomic_ulong ok, fault;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	uint8_t buf[256];

	while (!atomic_load(&rd->stop)) {
		int ret = guestmem_read(rd->mm, DIMM2 - 128, buf, sizeof(buf));

		if (ret == 0)
			atomic_fetch_add(&rd->ok, 1);
		else if (ret == -EFAULT)
			atomic_fetch_add(&rd->fault, 1);
		else
			abort();
		guestmem_lock(rd->mm);
		if (guestmem_ptr(rd->mm, DIMM2, 64))
			memset(guestmem_ptr(rd->mm, DIMM2, 64), 0x42, 64);
		guestmem_unlock(rd->mm);
	}
	return NULL;
}

static void test_concurrent_unplug(void **state)
{
	struct fake_env *e = *state;
	struct reader rd = {.mm = &e->mm};
	struct error err = {0};
	pthread_t t;
	int i;

	assert_int_equal(pthread_create(&t, NULL, reader_main, &rd), 0);
	/* Until the reader has seen both outcomes a few times. */
	for (i = 0; i < 200 || atomic_load(&rd.ok) < 20 || atomic_load(&rd.fault) < 20; i++) {
		assert_int_equal(memmap_plug(&e->mm, 2, &err), 0);
		assert_int_equal(memmap_unplug(&e->mm, 2, &err), 0);
	}
	atomic_store(&rd.stop, true);
	pthread_join(t, NULL);
	print_message("%d plug/unplug cycles; reader: %lu whole reads, %lu faults\n", i,
		      atomic_load(&rd.ok), atomic_load(&rd.fault));
	fake_env_check(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_region_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adjacent_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wraparound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_len_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflated_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_unplug, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
