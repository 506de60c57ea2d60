// SPDX-License-Identifier: MIT
/*
 * A guest with free rein over the ACPI fixed hardware: the PM1a event block, the PM1a
 * control register and the reset register, at any offset (inside, past and near the wrap
 * of each window) and width, plus presses of the power button. A shadow of the registers,
 * written here from the ACPI 6.3 register descriptions (4.8.3) and not from acpi_pm.c,
 * predicts every read, the SCI line and each callback:
 *   - PM1_STS bits are write-1-to-clear, and only the power button ever sets one;
 *   - PM1_EN keeps the fixed events' enable bits and drops the rest;
 *   - PM1_CNT reads SCI_EN as 1, keeps BM_RLD and SLP_TYP, never reads back SLP_EN;
 *   - poweroff is called once for each write that sets SLP_EN while SLP_TYP (as written by
 *     that same access) is the DSDT's S5, and at no other time; reset once for each write of
 *     the reset value to the reset register, and at no other time; both without the lock;
 *   - the SCI is high exactly while an event's status and enable bits are both set, and
 *     only its changes reach the interrupt controller, with the device lock held.
 *
 * Input: byte 0 bit 0 drops the callbacks, bit 1 the SCI line (both may be NULL). Then
 * operations, each one byte:
 *   bits 1:0  0 read, 1 write (then as many value bytes as the access is wide), 2 press the
 *             power button, 3 read the window byte by byte and as one 8-byte access
 *   bits 3:2  window: 0 PM1 event block, 1 PM1 control, 2 reset register, 3 event block
 *   bits 5:4  log2 of the access size
 *   bits 7:6  offset: 0 and 1 the next byte's low 3 bits, 2 that below UINT64_MAX, 3 that
 *             plus 2^63
 * Missing bytes read as zero.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/acpi_pm.h"
#include "fuzz_input.h"
#include "x86/platform.h"

/* ACPI 6.3, table 4-16 and 4-17: the bits each PM1 register defines. */
#define PM1_PWRBTN 0x0100     /* PWRBTN_STS and PWRBTN_EN */
#define PM1_EN_DEFINED 0x4721 /* TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN, PCIEXP_WAKE_DIS */
#define PM1_SCI_EVENTS 0x0721 /* enables that signal an SCI (PCIEXP_WAKE_DIS does not) */
/* Table 4-18. */
#define PM1_CNT_SCI_EN 0x0001
#define PM1_CNT_KEPT 0x1c02 /* BM_RLD and SLP_TYP; GBL_RLS and SLP_EN are write-only */
#define PM1_CNT_SLP_EN 0x2000
#define PM1_CNT_SLP_TYP(cnt) (((cnt) >> 10) & 7)

enum window { WIN_EVT, WIN_CNT, WIN_RESET };

struct shadow {
	uint16_t sts, en, cnt;
	uint8_t reset;
};

struct harness {
	struct acpi_pm pm;
	struct shadow s;
	bool has_cb, has_sci;
	bool level; /* the SCI as the fake interrupt controller sees it */
	unsigned int poweroffs, resets;
	unsigned int want_poweroffs, want_resets;
};

static bool fuzz_lock_free(struct acpi_pm *pm)
{
	if (pthread_mutex_trylock(&pm->lock) != 0)
		return false;
	pthread_mutex_unlock(&pm->lock);
	return true;
}

static void fuzz_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct harness *h = ctx;

	FUZZ_CHECK(h->has_sci);
	FUZZ_CHECK(gsi == PLATFORM_ACPI_SCI_IRQ);
	FUZZ_CHECK(level != h->level); /* only changes reach the controller */
	FUZZ_CHECK(!fuzz_lock_free(&h->pm));
	h->level = level;
}

static const struct irq_ops fuzz_irq_ops = {
	.set_level = fuzz_set_level,
};

/* A callback may read the registers back: the lock is not held. */
static void fuzz_poweroff(void *ctx)
{
	struct harness *h = ctx;

	FUZZ_CHECK(h->has_cb);
	FUZZ_CHECK(fuzz_lock_free(&h->pm));
	h->poweroffs++;
	FUZZ_CHECK(h->poweroffs == h->want_poweroffs);
}

static void fuzz_reset(void *ctx)
{
	struct harness *h = ctx;

	FUZZ_CHECK(h->has_cb);
	FUZZ_CHECK(fuzz_lock_free(&h->pm));
	h->resets++;
	FUZZ_CHECK(h->resets == h->want_resets);
}

static const struct io_ops *const fuzz_ops[] = {
	[WIN_EVT] = &acpi_pm_evt_io_ops,
	[WIN_CNT] = &acpi_pm_cnt_io_ops,
	[WIN_RESET] = &acpi_pm_reset_io_ops,
};

static const unsigned int fuzz_window_len[] = {
	[WIN_EVT] = ACPI_PM_EVT_WINDOW,
	[WIN_CNT] = ACPI_PM_CNT_WINDOW,
	[WIN_RESET] = ACPI_PM_RESET_WINDOW,
};

/* The guest-visible bytes of a window, as the shadow says they read. */
static void fuzz_expected_bytes(const struct shadow *s, enum window w, uint8_t *bytes)
{
	uint16_t cnt = s->cnt | PM1_CNT_SCI_EN;

	switch (w) {
	case WIN_EVT:
		bytes[0] = (uint8_t)s->sts;
		bytes[1] = (uint8_t)(s->sts >> 8);
		bytes[2] = (uint8_t)s->en;
		bytes[3] = (uint8_t)(s->en >> 8);
		break;
	case WIN_CNT:
		bytes[0] = (uint8_t)cnt;
		bytes[1] = (uint8_t)(cnt >> 8);
		break;
	case WIN_RESET:
		bytes[0] = s->reset;
		break;
	}
}

/* Which window byte access byte i lands on, or -1 if it falls outside (or would wrap). */
static int fuzz_byte_at(enum window w, uint64_t offset, unsigned int i)
{
	uint64_t n = fuzz_window_len[w];

	if (offset >= n || i >= n - offset)
		return -1;
	return (int)(offset + i);
}

static uint64_t fuzz_expected_read(const struct shadow *s, enum window w, uint64_t offset,
				   unsigned int size)
{
	uint8_t bytes[ACPI_PM_EVT_WINDOW];
	uint64_t v = 0;
	unsigned int i;

	fuzz_expected_bytes(s, w, bytes);
	for (i = 0; i < size; i++) {
		int k = fuzz_byte_at(w, offset, i);

		v |= (uint64_t)(k < 0 ? 0xff : bytes[k]) << (8 * i);
	}
	return v;
}

static bool fuzz_sci(const struct shadow *s)
{
	return (s->sts & s->en & PM1_SCI_EVENTS) != 0;
}

/* The shadow after a write; counts the callbacks that write must make. */
static void fuzz_shadow_write(struct harness *h, enum window w, uint64_t offset, unsigned int size,
			      uint64_t value)
{
	struct shadow *s = &h->s;
	bool slp_en = false;
	unsigned int i;

	for (i = 0; i < size; i++) {
		uint16_t b = (uint8_t)(value >> (8 * i));
		int k = fuzz_byte_at(w, offset, i);

		if (k < 0)
			continue;
		if (w == WIN_EVT && k < 2) {
			s->sts &= (uint16_t) ~(b << (8 * k));
		} else if (w == WIN_EVT) {
			uint16_t bit_mask = (uint16_t)(0xff << (8 * (k - 2)));

			s->en = (uint16_t)((s->en & ~bit_mask) |
					   ((b << (8 * (k - 2))) & PM1_EN_DEFINED));
		} else if (w == WIN_CNT) {
			uint16_t bit_mask = (uint16_t)(0xff << (8 * k));

			s->cnt = (uint16_t)((s->cnt & ~bit_mask) | ((b << (8 * k)) & PM1_CNT_KEPT));
			if ((b << (8 * k)) & PM1_CNT_SLP_EN)
				slp_en = true;
		} else {
			s->reset = (uint8_t)b;
			if (b == PLATFORM_RESET_VALUE && h->has_cb)
				h->want_resets++;
		}
	}
	if (slp_en && PM1_CNT_SLP_TYP(s->cnt) == PLATFORM_ACPI_S5_TYP && h->has_cb)
		h->want_poweroffs++;
}

static void fuzz_check_state(struct harness *h)
{
	const struct shadow *s = &h->s;

	FUZZ_CHECK(h->pm.sts == s->sts && h->pm.en == s->en);
	FUZZ_CHECK(h->pm.cnt == s->cnt && h->pm.reset == s->reset);
	/* Nothing but the power button raises a status bit. */
	FUZZ_CHECK(!(s->sts & ~PM1_PWRBTN));
	FUZZ_CHECK(h->pm.sci_level == fuzz_sci(s));
	FUZZ_CHECK(h->level == (h->has_sci && fuzz_sci(s)));
	FUZZ_CHECK(h->poweroffs == h->want_poweroffs && h->resets == h->want_resets);
	FUZZ_CHECK(fuzz_lock_free(&h->pm));
}

/* Byte reads and one wide read of the whole window agree with each other and the shadow. */
static void fuzz_sweep(struct harness *h, enum window w)
{
	const struct io_ops *ops = fuzz_ops[w];
	uint64_t wide = ops->read(&h->pm, 0, 8), bytes = 0;
	unsigned int i;

	for (i = 0; i < 8; i++)
		bytes |= ops->read(&h->pm, i, 1) << (8 * i);
	FUZZ_CHECK(wide == bytes);
	FUZZ_CHECK(wide == fuzz_expected_read(&h->s, w, 0, 8));
}

static uint64_t fuzz_offset(struct fuzz_input *in, unsigned int kind)
{
	uint64_t low = fuzz_take(in, 1) & 7;

	switch (kind) {
	case 2:
		return UINT64_MAX - low;
	case 3:
		return (UINT64_C(1) << 63) + low;
	default:
		return low;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct harness h = {0};
	struct irq_line sci = {&fuzz_irq_ops, &h, PLATFORM_ACPI_SCI_IRQ};
	struct acpi_pm_callbacks cb = {fuzz_poweroff, fuzz_reset, &h};
	uint8_t setup = fuzz_take(&in, 1);

	h.has_cb = !(setup & 1);
	h.has_sci = !(setup & 2);
	acpi_pm_init(&h.pm, h.has_sci ? &sci : NULL, h.has_cb ? &cb : NULL);
	fuzz_check_state(&h);
	while (fuzz_left(&in)) {
		uint8_t op = fuzz_take(&in, 1);
		enum window w = ((op >> 2) & 3) == 3 ? WIN_EVT : (enum window)((op >> 2) & 3);
		unsigned int access = 1u << ((op >> 4) & 3);
		uint64_t offset, value;
		bool enabled;

		switch (op & 3) {
		case 0:
			offset = fuzz_offset(&in, op >> 6);
			value = fuzz_ops[w]->read(&h.pm, offset, access);
			FUZZ_CHECK(value == fuzz_expected_read(&h.s, w, offset, access));
			break;
		case 1:
			offset = fuzz_offset(&in, op >> 6);
			value = fuzz_take(&in, access);
			fuzz_shadow_write(&h, w, offset, access, value);
			fuzz_ops[w]->write(&h.pm, offset, access, value);
			break;
		case 2:
			enabled = acpi_pm_power_button(&h.pm);
			FUZZ_CHECK(enabled == !!(h.s.en & PM1_PWRBTN));
			h.s.sts |= PM1_PWRBTN;
			break;
		default:
			fuzz_sweep(&h, w);
			break;
		}
		fuzz_check_state(&h);
	}
	acpi_pm_destroy(&h.pm);
	return 0;
}
