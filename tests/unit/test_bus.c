// SPDX-License-Identifier: MIT
/* The I/O bus: registration rules and access routing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/bus.h"

struct rec {
	uint64_t last_off;
	unsigned int last_size;
	uint64_t last_val;
	int reads, writes;
};

static uint64_t rec_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct rec *r = opaque;

	r->reads++;
	r->last_off = offset;
	r->last_size = size;
	return 0x1100 + offset;
}

static void rec_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct rec *r = opaque;

	r->writes++;
	r->last_off = offset;
	r->last_size = size;
	r->last_val = value;
}

static const struct io_ops rec_ops = {rec_read, rec_write};

static void test_routing(void **state)
{
	struct bus b;
	struct rec a = {0}, c = {0};
	struct error err = {0};
	uint64_t v;

	(void)state;
	bus_init(&b, "test");
	assert_int_equal(bus_register(&b, 0x3f8, 8, &rec_ops, &a, "a", &err), 0);
	assert_int_equal(bus_register(&b, 0x100, 0x10, &rec_ops, &c, "c", &err), 0);
	assert_true(bus_read(&b, 0x3fd, 1, &v));
	assert_int_equal(v, 0x1105);
	assert_int_equal(a.last_off, 5);
	assert_true(bus_write(&b, 0x10c, 4, 0xdeadbeef));
	assert_int_equal(c.last_off, 0xc);
	assert_int_equal(c.last_size, 4);
	assert_int_equal(c.last_val, 0xdeadbeef);
	/* Misses read as all ones of the access size and reach no device. */
	assert_false(bus_read(&b, 0x200, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_false(bus_read(&b, 0x200, 8, &v));
	assert_int_equal(v, ~0ULL);
	/* An access straddling the end of a range does not reach it. */
	assert_false(bus_read(&b, 0x3fe, 4, &v));
	assert_false(bus_write(&b, 0x10e, 4, 1));
	assert_int_equal(c.writes, 1);
	/* Just below and just past a range. */
	assert_false(bus_read(&b, 0x3f7, 1, &v));
	assert_false(bus_read(&b, 0x400, 1, &v));
	assert_int_equal(a.reads, 1);
	bus_destroy(&b);
}

static void test_register_rules(void **state)
{
	struct bus b;
	struct rec a = {0};
	struct error err = {0};
	uint64_t v;

	(void)state;
	bus_init(&b, "test");
	assert_int_equal(bus_register(&b, 0x1000, 0x100, &rec_ops, &a, "first", &err), 0);
	assert_int_equal(bus_register(&b, 0x10ff, 1, &rec_ops, &a, "tail", &err), -EBUSY);
	assert_non_null(strstr(err.msg, "overlaps first"));
	assert_int_equal(bus_register(&b, 0xf00, 0x101, &rec_ops, &a, "head", &err), -EBUSY);
	assert_int_equal(bus_register(&b, 0x1010, 0x10, &rec_ops, &a, "inside", &err), -EBUSY);
	assert_int_equal(bus_register(&b, 0xf00, 0x1000, &rec_ops, &a, "around", &err), -EBUSY);
	assert_int_equal(bus_register(&b, 0x2000, 0, &rec_ops, &a, "empty", &err), -EINVAL);
	assert_int_equal(bus_register(&b, ~0ULL - 1, 4, &rec_ops, &a, "wrap", &err), -EINVAL);
	/* Adjacent on both sides is fine, and so is the very top of the space. */
	assert_int_equal(bus_register(&b, 0xf00, 0x100, &rec_ops, &a, "below", &err), 0);
	assert_int_equal(bus_register(&b, 0x1100, 0x100, &rec_ops, &a, "above", &err), 0);
	assert_int_equal(bus_register(&b, ~0ULL - 0xff, 0x100, &rec_ops, &a, "top", &err), 0);
	assert_true(bus_read(&b, ~0ULL - 7, 8, &v));
	assert_int_equal(b.nranges, 4);
	assert_int_equal(bus_unregister(&b, 0x1000), 0);
	assert_int_equal(bus_unregister(&b, 0x1000), -ENOENT);
	assert_false(bus_read(&b, 0x1050, 1, &v));
	assert_int_equal(bus_register(&b, 0x1000, 0x100, &rec_ops, &a, "again", &err), 0);
	bus_destroy(&b);
}

static void test_full(void **state)
{
	struct bus b;
	struct rec a = {0};
	struct error err = {0};
	unsigned int i;

	(void)state;
	bus_init(&b, "test");
	for (i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&b, (uint64_t)(BUS_MAX_RANGES - i) * 16, 16, &rec_ops,
					      &a, "r", &err),
				 0);
	assert_int_equal(bus_register(&b, 0x100000, 16, &rec_ops, &a, "one too many", &err),
			 -ENOSPC);
	/* Registered in descending order, the ranges must still be sorted. */
	for (i = 1; i < b.nranges; i++)
		assert_true(b.range[i - 1].base < b.range[i].base);
	bus_destroy(&b);
}

/* A handler that changes the bus it was called from (as a PCI BAR move does). */
struct mover {
	struct bus *b;
	uint64_t at;
};

static void mover_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct mover *m = opaque;
	static const struct io_ops ops = {rec_read, rec_write};
	static struct rec target;

	(void)offset;
	(void)size;
	bus_unregister(m->b, m->at);
	m->at = value;
	bus_register(m->b, value, 0x10, &ops, &target, "moved", NULL);
}

static const struct io_ops mover_ops = {NULL, mover_write};

static void test_handler_changes_bus(void **state)
{
	struct bus b;
	struct mover m = {&b, 0x100};
	struct rec a = {0};
	struct error err = {0};
	uint64_t v;

	(void)state;
	bus_init(&b, "test");
	assert_int_equal(bus_register(&b, 0x10, 4, &mover_ops, &m, "mover", &err), 0);
	assert_int_equal(bus_register(&b, 0x100, 0x10, &rec_ops, &a, "bar", &err), 0);
	assert_true(bus_write(&b, 0x10, 4, 0x200));
	assert_false(bus_read(&b, 0x100, 1, &v));
	assert_true(bus_read(&b, 0x205, 1, &v));
	assert_int_equal(v, 0x1105);
	bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_register_rules),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_handler_changes_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
