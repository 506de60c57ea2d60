// SPDX-License-Identifier: MIT
/*
 * The emulated MSI-X table and PBA of an assigned function: what the guest reads and
 * writes, and what the monitor is told (vectors going live and quiet, held messages
 * delivered on unmask).
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vfio/msix.h"

struct event {
	char kind; /* 'v' vector_changed, 'd' deliver */
	unsigned int vector;
	bool live;
	uint64_t addr;
	uint32_t data;
};

struct recorder {
	struct event ev[64];
	unsigned int n;
};

static void on_vector(void *ctx, unsigned int v, bool live, uint64_t addr, uint32_t data)
{
	struct recorder *r = ctx;

	assert_true(r->n < 64);
	r->ev[r->n++] = (struct event){'v', v, live, addr, data};
}

static void on_deliver(void *ctx, unsigned int v, uint64_t addr, uint32_t data)
{
	struct recorder *r = ctx;

	assert_true(r->n < 64);
	r->ev[r->n++] = (struct event){'d', v, true, addr, data};
}

static void setup(struct vfio_msix *m, unsigned int nvec, struct recorder *r)
{
	struct vfio_msix_listener l = {on_vector, on_deliver, r};
	struct error err = {0};

	memset(r, 0, sizeof(*r));
	assert_int_equal(vfio_msix_init(m, nvec, &l, &err), 0);
}

static void program(struct vfio_msix *m, unsigned int v, uint64_t addr, uint32_t data)
{
	vfio_msix_table_write(m, v * 16 + PCI_MSIX_ENTRY_LOWER_ADDR, 8, addr);
	vfio_msix_table_write(m, v * 16 + PCI_MSIX_ENTRY_DATA, 4, data);
}

static void unmask(struct vfio_msix *m, unsigned int v, bool on)
{
	vfio_msix_table_write(m, v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, !on);
}

static void test_table(void **state)
{
	struct vfio_msix m;
	struct recorder r;

	(void)state;
	setup(&m, 65, &r);
	/* Every vector starts masked with a zero message. */
	assert_int_equal(vfio_msix_table_read(&m, 12, 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	assert_int_equal(vfio_msix_table_read(&m, 64 * 16 + 12, 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	assert_int_equal(vfio_msix_table_read(&m, 0, 8), 0);
	/* Address bits 1:0 and vector control's reserved bits are read-only. */
	program(&m, 3, 0x1fee01003ULL, 0xdeadbeef);
	assert_int_equal(vfio_msix_table_read(&m, 3 * 16, 8), 0x1fee01000ULL);
	assert_int_equal(vfio_msix_table_read(&m, 3 * 16 + 8, 4), 0xdeadbeef);
	vfio_msix_table_write(&m, 3 * 16 + 12, 4, 0xfffffffe);
	assert_int_equal(vfio_msix_table_read(&m, 3 * 16 + 12, 4), 0);
	/* Byte and odd-sized accesses work; outside the table reads zero, writes are lost. */
	vfio_msix_table_write(&m, 3 * 16 + 9, 1, 0x11);
	assert_int_equal(vfio_msix_table_read(&m, 3 * 16 + 8, 2), 0x11ef);
	assert_int_equal(vfio_msix_table_read(&m, 65 * 16, 4), 0);
	vfio_msix_table_write(&m, 65 * 16, 4, 0xffffffff);
	vfio_msix_table_write(&m, 65 * 16 - 4, 8, 0xffffffffffffffffULL);
	assert_int_equal(vfio_msix_table_read(&m, 65 * 16 - 4, 8), 1);
	assert_int_equal(vfio_msix_table_read(&m, 0, 16), 0);
	/* Nothing was live: MSI-X is off. */
	assert_int_equal(r.n, 0);
	vfio_msix_destroy(&m);
}

static void test_live_and_pending(void **state)
{
	struct vfio_msix m;
	struct recorder r;

	(void)state;
	setup(&m, 65, &r);
	program(&m, 0, 0xfee00000, 0x4021);
	program(&m, 64, 0xfee01000, 0x4022);
	unmask(&m, 0, true);
	assert_int_equal(r.n, 0);
	/* Enabled with the function masked: nothing live yet, a signal is held. */
	vfio_msix_control(&m, true, true);
	assert_int_equal(r.n, 0);
	vfio_msix_notify(&m, 0);
	assert_int_equal(vfio_msix_pba_read(&m, 0, 8), 1);
	vfio_msix_control(&m, true, false);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].kind, 'v');
	assert_true(r.ev[0].live);
	assert_int_equal(r.ev[0].addr, 0xfee00000);
	assert_int_equal(r.ev[0].data, 0x4021);
	assert_int_equal(r.ev[1].kind, 'd');
	assert_int_equal(r.ev[1].vector, 0);
	assert_int_equal(vfio_msix_pba_read(&m, 0, 8), 0);
	/* Vector 64 is still masked: its signal waits in the second PBA word. */
	vfio_msix_notify(&m, 64);
	assert_int_equal(vfio_msix_pba_read(&m, 8, 8), 1);
	assert_int_equal(vfio_msix_pba_read(&m, 8, 1), 1);
	assert_int_equal(vfio_msix_pba_read(&m, 16, 8), 0);
	unmask(&m, 64, true);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ev[2].vector, 64);
	assert_int_equal(r.ev[3].kind, 'd');
	assert_int_equal(r.ev[3].data, 0x4022);
	assert_int_equal(vfio_msix_pba_read(&m, 8, 8), 0);
	/* A live vector signalled through the monitor is delivered at once. */
	vfio_msix_notify(&m, 64);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.ev[4].kind, 'd');
	/* A new message while live is a new route; rewriting the same is not. */
	program(&m, 0, 0xfee00000, 0x4031);
	program(&m, 0, 0xfee00000, 0x4031);
	assert_int_equal(r.n, 6);
	assert_true(r.ev[5].live);
	assert_int_equal(r.ev[5].data, 0x4031);
	/* Masking and unmasking one vector, then the whole function going off. */
	unmask(&m, 0, false);
	assert_int_equal(r.n, 7);
	assert_false(r.ev[6].live);
	vfio_msix_control(&m, false, false);
	assert_int_equal(r.n, 8);
	assert_int_equal(r.ev[7].vector, 64);
	assert_false(r.ev[7].live);
	/* Disabled, a signal is neither sent nor held; PBA writes are dropped. */
	vfio_msix_notify(&m, 0);
	vfio_msix_notify(&m, 65);
	assert_int_equal(vfio_msix_pba_read(&m, 0, 8), 0);
	assert_int_equal(r.n, 8);
	vfio_msix_destroy(&m);
}

static void test_reset(void **state)
{
	struct vfio_msix m;
	struct recorder r;
	struct error err = {0};

	(void)state;
	setup(&m, 4, &r);
	program(&m, 1, 0xfee00000, 0x30);
	unmask(&m, 1, true);
	vfio_msix_control(&m, true, false);
	unmask(&m, 2, true);
	vfio_msix_control(&m, true, true);
	vfio_msix_notify(&m, 2);
	vfio_msix_control(&m, true, false);
	r.n = 0;
	vfio_msix_reset(&m);
	assert_int_equal(r.n, 2);
	assert_false(r.ev[0].live);
	assert_false(r.ev[1].live);
	assert_int_equal(vfio_msix_table_read(&m, 16, 8), 0);
	assert_int_equal(vfio_msix_table_read(&m, 16 + 12, 4), 1);
	assert_int_equal(vfio_msix_pba_read(&m, 0, 8), 0);
	vfio_msix_destroy(&m);

	assert_int_equal(vfio_msix_init(&m, 0, NULL, &err), -EINVAL);
	assert_int_equal(vfio_msix_init(&m, 2049, NULL, &err), -EINVAL);
	assert_int_equal(vfio_msix_init(&m, 2048, NULL, &err), 0);
	vfio_msix_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_live_and_pending),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
