// SPDX-License-Identifier: MIT
/* The ACPI PM1a event and control registers and the reset register, as the guest sees them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/acpi_pm.h"
#include "x86/platform.h"

struct rec {
	int poweroffs;
	int resets;
	int sci_calls;
	bool sci;
	unsigned int gsi;
};

static void rec_poweroff(void *ctx)
{
	((struct rec *)ctx)->poweroffs++;
}

static void rec_reset(void *ctx)
{
	((struct rec *)ctx)->resets++;
}

static void rec_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct rec *r = ctx;

	r->sci_calls++;
	r->sci = level;
	r->gsi = gsi;
}

static const struct irq_ops rec_irq_ops = {rec_set_level};

struct fixture {
	struct acpi_pm pm;
	struct rec rec;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct irq_line sci = {&rec_irq_ops, NULL, PLATFORM_ACPI_SCI_IRQ};
	struct acpi_pm_callbacks cb = {rec_poweroff, rec_reset, NULL};

	if (!f)
		return -1;
	sci.ctx = &f->rec;
	cb.ctx = &f->rec;
	acpi_pm_init(&f->pm, &sci, &cb);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	acpi_pm_destroy(&f->pm);
	free(f);
	return 0;
}

static uint64_t evt_rd(struct fixture *f, uint64_t off, unsigned int size)
{
	return acpi_pm_evt_io_ops.read(&f->pm, off, size);
}

static void evt_wr(struct fixture *f, uint64_t off, unsigned int size, uint64_t v)
{
	acpi_pm_evt_io_ops.write(&f->pm, off, size, v);
}

static uint64_t cnt_rd(struct fixture *f, uint64_t off, unsigned int size)
{
	return acpi_pm_cnt_io_ops.read(&f->pm, off, size);
}

static void cnt_wr(struct fixture *f, uint64_t off, unsigned int size, uint64_t v)
{
	acpi_pm_cnt_io_ops.write(&f->pm, off, size, v);
}

static uint16_t slp(unsigned int typ)
{
	return (uint16_t)(typ << ACPI_PM1_CNT_SLP_TYP_SHIFT);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), 0);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN, 2), 0);
	assert_int_equal(evt_rd(f, 0, 4), 0);
	/* ACPI is always on: SCI_EN is set from the start. */
	assert_int_equal(cnt_rd(f, 0, 2), ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(acpi_pm_reset_io_ops.read(&f->pm, 0, 1), 0);
	assert_int_equal(f->rec.sci_calls, 0);
}

static void test_enable_bits(void **state)
{
	struct fixture *f = *state;
	uint64_t all = ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN |
		       ACPI_PM1_RTC | ACPI_PM1_PCIEXP_WAKE;

	evt_wr(f, ACPI_PM1_EN, 2, 0xffff);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN, 2), all);
	/* ACPICA's check that GBL_EN sticks, bit by bit. */
	evt_wr(f, ACPI_PM1_EN, 2, 0);
	evt_wr(f, ACPI_PM1_EN, 2, ACPI_PM1_GBL);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN, 2), ACPI_PM1_GBL);
	/* Writing the enable register leaves the status register alone, and vice versa. */
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), 0);
	evt_wr(f, ACPI_PM1_STS, 2, 0xffff);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN, 2), ACPI_PM1_GBL);
	/* High byte alone. */
	evt_wr(f, ACPI_PM1_EN + 1, 1, ACPI_PM1_PWRBTN >> 8);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN, 2), ACPI_PM1_GBL | ACPI_PM1_PWRBTN);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN + 1, 1), ACPI_PM1_PWRBTN >> 8);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN, 1), ACPI_PM1_GBL);
}

static void test_power_button_w1c(void **state)
{
	struct fixture *f = *state;

	/* Not enabled: the status is latched but no SCI. */
	assert_false(acpi_pm_power_button(&f->pm));
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), ACPI_PM1_PWRBTN);
	assert_false(f->rec.sci);
	assert_int_equal(f->rec.sci_calls, 0);

	/* Writing zeros or other bits clears nothing; writing the bit clears it. */
	evt_wr(f, ACPI_PM1_STS, 2, 0);
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), ACPI_PM1_PWRBTN);
	evt_wr(f, ACPI_PM1_STS, 2, (uint16_t)~ACPI_PM1_PWRBTN);
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), ACPI_PM1_PWRBTN);
	evt_wr(f, ACPI_PM1_STS, 1, 0xff); /* the low byte does not hold it */
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), ACPI_PM1_PWRBTN);
	evt_wr(f, ACPI_PM1_STS, 2, ACPI_PM1_PWRBTN);
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), 0);
	/* Writing 1 to a clear status bit does not set it. */
	evt_wr(f, ACPI_PM1_STS, 2, 0xffff);
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), 0);
	assert_int_equal(f->rec.sci_calls, 0);
}

static void test_sci(void **state)
{
	struct fixture *f = *state;

	evt_wr(f, ACPI_PM1_EN, 2, ACPI_PM1_PWRBTN);
	assert_int_equal(f->rec.sci_calls, 0);
	assert_true(acpi_pm_power_button(&f->pm));
	assert_true(f->rec.sci);
	assert_int_equal(f->rec.gsi, PLATFORM_ACPI_SCI_IRQ);
	assert_int_equal(f->rec.sci_calls, 1);
	/* A second press while pending changes nothing the line can see. */
	assert_true(acpi_pm_power_button(&f->pm));
	assert_int_equal(f->rec.sci_calls, 1);
	/* Clearing the status drops the line (one 32-bit write, EN kept). */
	evt_wr(f, 0, 4, (uint32_t)ACPI_PM1_PWRBTN << 16 | ACPI_PM1_PWRBTN);
	assert_false(f->rec.sci);
	assert_int_equal(f->rec.sci_calls, 2);
	assert_int_equal(evt_rd(f, 0, 4), (uint32_t)ACPI_PM1_PWRBTN << 16);

	/* Disabling with the status set drops it, enabling raises it again. */
	acpi_pm_power_button(&f->pm);
	assert_true(f->rec.sci);
	evt_wr(f, ACPI_PM1_EN, 2, 0);
	assert_false(f->rec.sci);
	evt_wr(f, ACPI_PM1_EN, 2, ACPI_PM1_PWRBTN);
	assert_true(f->rec.sci);
	assert_int_equal(f->rec.sci_calls, 5);
}

static void test_sci_en_fixed(void **state)
{
	struct fixture *f = *state;

	cnt_wr(f, 0, 2, 0);
	assert_int_equal(cnt_rd(f, 0, 2), ACPI_PM1_CNT_SCI_EN);
	cnt_wr(f, 0, 2, ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_GBL_RLS);
	/* BM_RLD is kept, GBL_RLS is write-only. */
	assert_int_equal(cnt_rd(f, 0, 2), ACPI_PM1_CNT_SCI_EN | ACPI_PM1_CNT_BM_RLD);
	assert_int_equal(f->rec.poweroffs, 0);
}

static void test_s5(void **state)
{
	struct fixture *f = *state;

	/* ACPICA: SLP_TYP first, then SLP_TYP | SLP_EN (read-modify-write both times). */
	cnt_wr(f, 0, 2, cnt_rd(f, 0, 2) | slp(PLATFORM_ACPI_S5_TYP));
	assert_int_equal(f->rec.poweroffs, 0);
	assert_int_equal(cnt_rd(f, 0, 2), ACPI_PM1_CNT_SCI_EN | slp(PLATFORM_ACPI_S5_TYP));
	cnt_wr(f, 0, 2, cnt_rd(f, 0, 2) | ACPI_PM1_CNT_SLP_EN);
	assert_int_equal(f->rec.poweroffs, 1);
	/* SLP_EN reads as zero. */
	assert_false(cnt_rd(f, 0, 2) & ACPI_PM1_CNT_SLP_EN);
	/* Every such write calls again (a guest retries when it is still running). */
	cnt_wr(f, 0, 2, slp(PLATFORM_ACPI_S5_TYP) | ACPI_PM1_CNT_SLP_EN);
	assert_int_equal(f->rec.poweroffs, 2);
	assert_int_equal(f->rec.resets, 0);
}

static void test_other_sleep_types(void **state)
{
	struct fixture *f = *state;
	unsigned int typ;

	for (typ = 0; typ < 8; typ++) {
		if (typ == PLATFORM_ACPI_S5_TYP)
			continue;
		cnt_wr(f, 0, 2, slp(typ) | ACPI_PM1_CNT_SLP_EN);
		assert_int_equal(cnt_rd(f, 0, 2), ACPI_PM1_CNT_SCI_EN | slp(typ));
	}
	/* SLP_TYP = S5 stored earlier, then SLP_EN with another type: not S5. */
	cnt_wr(f, 0, 2, slp(PLATFORM_ACPI_S5_TYP));
	cnt_wr(f, 0, 2, slp(PLATFORM_ACPI_S5_TYP ^ 1) | ACPI_PM1_CNT_SLP_EN);
	assert_int_equal(f->rec.poweroffs, 0);
}

static void test_s5_byte_writes(void **state)
{
	struct fixture *f = *state;
	uint16_t v = slp(PLATFORM_ACPI_S5_TYP) | ACPI_PM1_CNT_SLP_EN;

	/* The low byte holds neither SLP_TYP nor SLP_EN. */
	cnt_wr(f, 0, 1, 0xff);
	assert_int_equal(f->rec.poweroffs, 0);
	assert_int_equal(cnt_rd(f, 0, 2), ACPI_PM1_CNT_SCI_EN | ACPI_PM1_CNT_BM_RLD);
	/* SLP_TYP and SLP_EN together in the high byte. */
	cnt_wr(f, 1, 1, v >> 8);
	assert_int_equal(f->rec.poweroffs, 1);
	assert_int_equal(cnt_rd(f, 0, 2),
			 ACPI_PM1_CNT_SCI_EN | ACPI_PM1_CNT_BM_RLD | slp(PLATFORM_ACPI_S5_TYP));
	assert_int_equal(cnt_rd(f, 1, 1), slp(PLATFORM_ACPI_S5_TYP) >> 8);
	/* A 4-byte write at offset 0: the upper two bytes fall outside and are dropped. */
	cnt_wr(f, 0, 4, 0xffff0000u | v);
	assert_int_equal(f->rec.poweroffs, 2);
	/* A write starting past the register reaches nothing. */
	cnt_wr(f, 2, 2, v);
	cnt_wr(f, 2, 1, v >> 8);
	assert_int_equal(f->rec.poweroffs, 2);
}

static void test_reset_register(void **state)
{
	struct fixture *f = *state;
	const struct io_ops *ops = &acpi_pm_reset_io_ops;

	ops->write(&f->pm, 0, 1, 0x02);
	assert_int_equal(f->rec.resets, 0);
	assert_int_equal(ops->read(&f->pm, 0, 1), 0x02);
	ops->write(&f->pm, 0, 1, 0x0e);
	assert_int_equal(f->rec.resets, 0);
	assert_int_equal(ops->read(&f->pm, 0, 1), 0x0e);
	ops->write(&f->pm, 0, 1, PLATFORM_RESET_VALUE);
	assert_int_equal(f->rec.resets, 1);
	assert_int_equal(ops->read(&f->pm, 0, 1), PLATFORM_RESET_VALUE);
	/* Only the low byte of a wider access lands on the register. */
	ops->write(&f->pm, 0, 2, 0x0100 | PLATFORM_RESET_VALUE);
	assert_int_equal(f->rec.resets, 2);
	ops->write(&f->pm, 0, 4, 0x06060600);
	assert_int_equal(f->rec.resets, 2);
	assert_int_equal(ops->read(&f->pm, 0, 1), 0);
	assert_int_equal(ops->read(&f->pm, 0, 2), 0xff00);
	/* Beyond the one-byte window: nothing stored, nothing reset. */
	ops->write(&f->pm, 1, 1, PLATFORM_RESET_VALUE);
	assert_int_equal(f->rec.resets, 2);
	assert_int_equal(ops->read(&f->pm, 0, 1), 0);
	assert_int_equal(f->rec.poweroffs, 0);
}

static void test_odd_accesses(void **state)
{
	struct fixture *f = *state;
	static const uint64_t offsets[] = {
		0, 1, 2, 3, 4, 5, 7, 8, 0xff, UINT32_MAX, UINT64_MAX - 1, UINT64_MAX};
	static const unsigned int sizes[] = {0, 1, 2, 3, 4, 5, 8, 9, 16, UINT32_MAX};
	size_t i, j;

	evt_wr(f, ACPI_PM1_EN, 2, ACPI_PM1_PWRBTN);
	acpi_pm_power_button(&f->pm);
	/* Reads past the window are ones; an 8-byte read sees both registers then ones. */
	assert_int_equal(evt_rd(f, 0, 8),
			 0xffffffff00000000ull | (uint64_t)ACPI_PM1_PWRBTN << 16 | ACPI_PM1_PWRBTN);
	assert_int_equal(evt_rd(f, 3, 2), 0xff00 | ACPI_PM1_PWRBTN >> 8);
	assert_int_equal(evt_rd(f, 1, 2), 0x0000 | ACPI_PM1_PWRBTN >> 8);
	assert_int_equal(evt_rd(f, 4, 1), 0xff);
	assert_int_equal(evt_rd(f, UINT64_MAX, 4), 0xffffffff);
	assert_int_equal(evt_rd(f, 0, 0), 0);
	assert_int_equal(cnt_rd(f, 1, 4), 0xffffff00);

	/* A write straddling STS and EN: clears the status byte it covers, sets the EN byte. */
	evt_wr(f, 1, 2, ACPI_PM1_GBL << 8 | ACPI_PM1_PWRBTN >> 8);
	assert_int_equal(evt_rd(f, ACPI_PM1_STS, 2), 0);
	assert_int_equal(evt_rd(f, ACPI_PM1_EN, 2), ACPI_PM1_PWRBTN | ACPI_PM1_GBL);
	assert_false(f->rec.sci);

	/* Any offset and size: no crash, nothing fires. */
	for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			evt_rd(f, offsets[i], sizes[j]);
			cnt_rd(f, offsets[i], sizes[j]);
			acpi_pm_reset_io_ops.read(&f->pm, offsets[i], sizes[j]);
			evt_wr(f, offsets[i], sizes[j], 0);
			cnt_wr(f, offsets[i], sizes[j], 0);
			acpi_pm_reset_io_ops.write(&f->pm, offsets[i], sizes[j], 0);
		}
	}
	assert_int_equal(f->rec.poweroffs, 0);
	assert_int_equal(f->rec.resets, 0);
}

/* Without callbacks or an SCI line everything still works, silently. */
static void test_no_callbacks(void **state)
{
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, NULL, NULL);
	acpi_pm_evt_io_ops.write(&pm, ACPI_PM1_EN, 2, ACPI_PM1_PWRBTN);
	assert_true(acpi_pm_power_button(&pm));
	acpi_pm_cnt_io_ops.write(&pm, 0, 2, slp(PLATFORM_ACPI_S5_TYP) | ACPI_PM1_CNT_SLP_EN);
	acpi_pm_reset_io_ops.write(&pm, 0, 1, PLATFORM_RESET_VALUE);
	assert_int_equal(acpi_pm_reset_io_ops.read(&pm, 0, 1), PLATFORM_RESET_VALUE);
	acpi_pm_destroy(&pm);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_enable_bits),
		T(test_power_button_w1c),
		T(test_sci),
		T(test_sci_en_fixed),
		T(test_s5),
		T(test_other_sleep_types),
		T(test_s5_byte_writes),
		T(test_reset_register),
		T(test_odd_accesses),
		cmocka_unit_test(test_no_callbacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
