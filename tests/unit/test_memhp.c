// SPDX-License-Identifier: MIT
/*
 * The memory hotplug controller's register protocol, as the DSDT drives it: plug and
 * notify, request and eject, refusal through _OST, and what a hostile guest may not do.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/memhp.h"

#define GSI 20

struct rec {
	bool level;
	unsigned int edges;
	unsigned int ejects, last_eject;
	unsigned int osts, ost_slot;
	uint32_t ost_event, ost_status;
};

static void set_level(void *ctx, unsigned int gsi, bool level)
{
	struct rec *r = ctx;

	assert_int_equal(gsi, GSI);
	assert_true(level != r->level);
	r->level = level;
	r->edges++;
}

static void on_eject(void *ctx, unsigned int slot)
{
	struct rec *r = ctx;

	r->ejects++;
	r->last_eject = slot;
}

static void on_ost(void *ctx, unsigned int slot, uint32_t event, uint32_t status)
{
	struct rec *r = ctx;

	r->osts++;
	r->ost_slot = slot;
	r->ost_event = event;
	r->ost_status = status;
}

static const struct irq_ops rec_irq = {.set_level = set_level};
static const struct memhp_ops rec_ops = {.eject = on_eject, .ost = on_ost};

struct env {
	struct memhp hp;
	struct rec rec;
};

static void env_init(struct env *e, unsigned int nslots)
{
	struct irq_line line = {.ops = &rec_irq, .ctx = &e->rec, .gsi = GSI};

	memset(e, 0, sizeof(*e));
	assert_int_equal(memhp_init(&e->hp, nslots, &line, &rec_ops, &e->rec), 0);
}

static uint32_t rd(struct env *e, unsigned int reg)
{
	return (uint32_t)memhp_io_ops.read(&e->hp, reg, 4);
}

static void wr(struct env *e, unsigned int reg, uint32_t v)
{
	memhp_io_ops.write(&e->hp, reg, 4, v);
}

static void test_plug_notify(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, 4);
	assert_false(e.rec.level);
	wr(&e, MEMHP_SEL, 2);
	assert_int_equal(rd(&e, MEMHP_STATUS), 0);
	assert_int_equal(memhp_plug(&e.hp, 2, 0x140000000ULL, 0x10000000ULL), 0);
	assert_true(e.rec.level);
	assert_int_equal(rd(&e, MEMHP_SEL), 2);
	assert_int_equal(rd(&e, MEMHP_STATUS), MEMHP_STATUS_ENABLED | MEMHP_STATUS_INSERT);
	assert_int_equal(rd(&e, MEMHP_BASE_LO), 0x40000000);
	assert_int_equal(rd(&e, MEMHP_BASE_HI), 1);
	assert_int_equal(rd(&e, MEMHP_SIZE_LO), 0x10000000);
	assert_int_equal(rd(&e, MEMHP_SIZE_HI), 0);
	/* The DSDT's scan: other slots have nothing; clearing INSERT drops the line. */
	wr(&e, MEMHP_SEL, 1);
	assert_int_equal(rd(&e, MEMHP_STATUS), 0);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_INSERT); /* w1c on a slot without it: no effect */
	assert_true(e.rec.level);
	wr(&e, MEMHP_SEL, 2);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_INSERT);
	assert_false(e.rec.level);
	assert_int_equal(rd(&e, MEMHP_STATUS), MEMHP_STATUS_ENABLED);
	assert_int_equal(e.rec.edges, 2);
	/* _OST for the insertion. */
	wr(&e, MEMHP_OST_EVENT, MEMHP_OST_DEVICE_CHECK);
	assert_int_equal(rd(&e, MEMHP_OST_EVENT), MEMHP_OST_DEVICE_CHECK);
	wr(&e, MEMHP_OST_STATUS, MEMHP_OST_SUCCESS);
	assert_int_equal(e.rec.osts, 1);
	assert_int_equal(e.rec.ost_slot, 2);
	assert_int_equal(e.rec.ost_event, MEMHP_OST_DEVICE_CHECK);
	/* A present slot cannot be plugged again; bad slots and sizes are refused. */
	assert_int_equal(memhp_plug(&e.hp, 2, 0x150000000ULL, 0x10000000ULL), -EBUSY);
	assert_int_equal(memhp_plug(&e.hp, 4, 0x150000000ULL, 0x10000000ULL), -EINVAL);
	assert_int_equal(memhp_plug(&e.hp, 0, 0x150000000ULL, 0), -EINVAL);
	assert_int_equal(rd(&e, MEMHP_BASE_LO), 0x40000000);
	memhp_destroy(&e.hp);
}

static void test_unplug_eject(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, 2);
	assert_int_equal(memhp_request_unplug(&e.hp, 0), -EBUSY);
	assert_int_equal(memhp_plug(&e.hp, 0, 0x100000000ULL, 0x8000000ULL), 0);
	wr(&e, MEMHP_SEL, 0);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_INSERT);
	assert_int_equal(memhp_request_unplug(&e.hp, 0), 0);
	assert_true(e.rec.level);
	assert_int_equal(rd(&e, MEMHP_STATUS), MEMHP_STATUS_ENABLED | MEMHP_STATUS_REMOVE);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_REMOVE);
	assert_false(e.rec.level);
	/* The guest offlined it: _EJ0. ENABLED reads 0 at once, the VM is called once. */
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_EJECT);
	assert_int_equal(e.rec.ejects, 1);
	assert_int_equal(e.rec.last_eject, 0);
	assert_int_equal(rd(&e, MEMHP_STATUS), 0);
	assert_int_equal(memhp_slot_state(&e.hp, 0), MEMHP_EJECTED);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_EJECT);
	assert_int_equal(e.rec.ejects, 1);
	/* Until the monitor has removed the memory, the slot takes no new DIMM. */
	assert_int_equal(memhp_plug(&e.hp, 0, 0x100000000ULL, 0x8000000ULL), -EBUSY);
	assert_int_equal(memhp_request_unplug(&e.hp, 0), -EBUSY);
	assert_int_equal(memhp_unplugged(&e.hp, 1), -EBUSY);
	assert_int_equal(memhp_unplugged(&e.hp, 0), 0);
	assert_int_equal(memhp_slot_state(&e.hp, 0), MEMHP_EMPTY);
	assert_int_equal(rd(&e, MEMHP_BASE_LO), 0);
	assert_int_equal(memhp_plug(&e.hp, 0, 0x100000000ULL, 0x8000000ULL), 0);
	memhp_destroy(&e.hp);
}

/* A guest that cannot offline the memory says so through _OST; the DIMM stays. */
static void test_unplug_refused(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, 2);
	assert_int_equal(memhp_plug(&e.hp, 1, 0x100000000ULL, 0x8000000ULL), 0);
	assert_int_equal(memhp_request_unplug(&e.hp, 1), 0);
	wr(&e, MEMHP_SEL, 1);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_INSERT | MEMHP_STATUS_REMOVE);
	assert_false(e.rec.level);
	wr(&e, MEMHP_OST_EVENT, MEMHP_OST_EJECT_REQUEST);
	wr(&e, MEMHP_OST_STATUS, MEMHP_OST_DEVICE_BUSY);
	assert_int_equal(e.rec.osts, 1);
	assert_int_equal(e.rec.ost_slot, 1);
	assert_int_equal(e.rec.ost_event, MEMHP_OST_EJECT_REQUEST);
	assert_int_equal(e.rec.ost_status, MEMHP_OST_DEVICE_BUSY);
	assert_int_equal(e.rec.ejects, 0);
	assert_int_equal(rd(&e, MEMHP_STATUS), MEMHP_STATUS_ENABLED);
	/* Asked again, it may say yes this time. */
	assert_int_equal(memhp_request_unplug(&e.hp, 1), 0);
	assert_true(e.rec.level);
	memhp_destroy(&e.hp);
}

/* Out-of-range selectors, odd widths and offsets, read-only registers. */
static void test_hostile(void **state)
{
	struct env e;

	(void)state;
	assert_int_equal(memhp_init(&e.hp, MEMHP_MAX_SLOTS + 1, NULL, NULL, NULL), -EINVAL);
	env_init(&e, 2);
	assert_int_equal(memhp_plug(&e.hp, 1, 0x123456789000ULL, 0x8000000ULL), 0);
	wr(&e, MEMHP_SEL, 0xffffffff);
	assert_int_equal(rd(&e, MEMHP_SEL), 0xffffffff);
	assert_int_equal(rd(&e, MEMHP_STATUS), 0);
	assert_int_equal(rd(&e, MEMHP_BASE_LO), 0);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_EJECT | MEMHP_STATUS_INSERT);
	wr(&e, MEMHP_OST_STATUS, 0);
	assert_int_equal(e.rec.ejects + e.rec.osts, 0);
	assert_true(e.rec.level);
	wr(&e, MEMHP_SEL, 1);
	/* Partial and unaligned writes do nothing. */
	memhp_io_ops.write(&e.hp, MEMHP_STATUS, 1, MEMHP_STATUS_EJECT);
	memhp_io_ops.write(&e.hp, MEMHP_STATUS, 8, MEMHP_STATUS_EJECT);
	memhp_io_ops.write(&e.hp, MEMHP_STATUS + 1, 4, 0xffffffff);
	memhp_io_ops.write(&e.hp, UINT64_MAX - 1, 4, 0xffffffff);
	wr(&e, MEMHP_BASE_LO, 0);
	wr(&e, MEMHP_WINDOW, MEMHP_STATUS_EJECT);
	assert_int_equal(e.rec.ejects, 0);
	assert_int_equal(rd(&e, MEMHP_BASE_LO), 0x56789000);
	/* Reads of any width see the bytes they cover; past the window, ones. */
	assert_int_equal(memhp_io_ops.read(&e.hp, MEMHP_BASE_LO + 1, 1), 0x90);
	assert_int_equal(memhp_io_ops.read(&e.hp, MEMHP_BASE_LO, 8), 0x0000123456789000ULL);
	assert_int_equal(memhp_io_ops.read(&e.hp, MEMHP_WINDOW - 2, 4), 0xffff0000);
	assert_int_equal(memhp_io_ops.read(&e.hp, UINT64_MAX, 2), 0xffff);
	assert_int_equal(memhp_io_ops.read(&e.hp, MEMHP_OST_STATUS, 4), 0);
	memhp_destroy(&e.hp);

	/* No callbacks and no line: nothing to call, nothing breaks. */
	assert_int_equal(memhp_init(&e.hp, 1, NULL, NULL, NULL), 0);
	assert_int_equal(memhp_plug(&e.hp, 0, 0x100000000ULL, 0x8000000ULL), 0);
	wr(&e, MEMHP_STATUS, MEMHP_STATUS_EJECT);
	wr(&e, MEMHP_OST_STATUS, 0);
	assert_int_equal(memhp_slot_state(&e.hp, 0), MEMHP_EJECTED);
	memhp_destroy(&e.hp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plug_notify),
		cmocka_unit_test(test_unplug_eject),
		cmocka_unit_test(test_unplug_refused),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
