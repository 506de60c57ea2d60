/* SPDX-License-Identifier: MIT */
/*
 * The 16550A model against the datasheet and against what Linux's 8250 driver probes.
 * Expected register values are written as literals on purpose: they come from the
 * datasheet, not from the header the model itself uses.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/uart.h"

#define TEST_GSI 4
#define TEST_MAX_EVENTS 64

struct fixture {
	struct uart u;
	/* irq line recorder */
	unsigned int nlevels;
	bool levels[TEST_MAX_EVENTS];
	bool irq_without_lock; /* an irq change made outside the uart lock */
	/* backend recorder */
	uint8_t tx[4096];
	size_t ntx;
	unsigned int rx_ready_calls;
	bool callback_under_lock; /* tx or rx_ready called with the uart lock held */
	bool threaded;		  /* other threads may hold the lock: skip the lock checks */
	const uint8_t *refill;	  /* what rx_ready pushes back in, like a console would */
	size_t refill_len;
	size_t refilled;
	pthread_mutex_t tx_lock; /* only for the threaded test */
};

static bool lock_is_free(struct uart *u)
{
	if (pthread_mutex_trylock(&u->lock) != 0)
		return false;
	pthread_mutex_unlock(&u->lock);
	return true;
}

static void rec_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct fixture *f = ctx;

	assert_int_equal(gsi, TEST_GSI);
	if (lock_is_free(&f->u))
		f->irq_without_lock = true;
	assert_true(f->nlevels < TEST_MAX_EVENTS);
	f->levels[f->nlevels++] = level;
}

static const struct irq_ops rec_irq_ops = {
	.set_level = rec_set_level,
};

static void rec_tx(void *ctx, const uint8_t *buf, size_t len)
{
	struct fixture *f = ctx;

	if (!f->threaded && !lock_is_free(&f->u))
		f->callback_under_lock = true;
	pthread_mutex_lock(&f->tx_lock);
	assert_true(f->ntx + len <= sizeof(f->tx));
	memcpy(f->tx + f->ntx, buf, len);
	f->ntx += len;
	pthread_mutex_unlock(&f->tx_lock);
}

static void rec_rx_ready(void *ctx)
{
	struct fixture *f = ctx;

	if (f->threaded)
		return;
	if (!lock_is_free(&f->u))
		f->callback_under_lock = true;
	f->rx_ready_calls++;
	if (f->refill)
		f->refilled = uart_receive(&f->u, f->refill, f->refill_len);
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct irq_line irq = {.ops = &rec_irq_ops, .ctx = f, .gsi = TEST_GSI};
	struct uart_backend be = {.tx = rec_tx, .rx_ready = rec_rx_ready, .ctx = f};

	if (!f)
		return -1;
	pthread_mutex_init(&f->tx_lock, NULL);
	uart_init(&f->u, &irq, &be);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	/* Every test also checks the callback contract documented in uart.h. */
	assert_false(f->irq_without_lock);
	assert_false(f->callback_under_lock);
	uart_destroy(&f->u);
	pthread_mutex_destroy(&f->tx_lock);
	test_free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, unsigned int reg)
{
	return (uint8_t)uart_io_ops.read(&f->u, reg, 1);
}

static void wr(struct fixture *f, unsigned int reg, uint8_t val)
{
	uart_io_ops.write(&f->u, reg, 1, val);
}

/* The irq line's current level as last driven, low if never driven. */
static bool irq_level(const struct fixture *f)
{
	return f->nlevels && f->levels[f->nlevels - 1];
}

static void test_reset_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, 1), 0x00); /* IER */
	assert_int_equal(rd(f, 2), 0x01); /* IIR: no interrupt, no FIFOs */
	assert_int_equal(rd(f, 3), 0x00); /* LCR */
	assert_int_equal(rd(f, 4), 0x00); /* MCR */
	assert_int_equal(rd(f, 5), 0x60); /* LSR: THRE | TEMT */
	assert_int_equal(rd(f, 6), 0xb0); /* MSR: DCD | DSR | CTS, no deltas */
	assert_int_equal(rd(f, 0), 0x00); /* RBR, empty */
	assert_int_equal(f->nlevels, 0);
}

static void test_register_masks_and_scratch(void **state)
{
	struct fixture *f = *state;

	for (unsigned int v = 0; v < 256; v++) {
		wr(f, 7, v);
		assert_int_equal(rd(f, 7), v);
	}
	wr(f, 3, 0x5b);
	assert_int_equal(rd(f, 3), 0x5b);
	wr(f, 1, 0xf0); /* IER bits 7:4 are reserved */
	assert_int_equal(rd(f, 1), 0x00);
	wr(f, 4, 0xe3); /* MCR bits 7:5 are reserved */
	assert_int_equal(rd(f, 4), 0x03);
	wr(f, 5, 0x00); /* LSR and MSR writes are ignored */
	wr(f, 6, 0x00);
	assert_int_equal(rd(f, 5), 0x60);
	assert_int_equal(rd(f, 6), 0xb0);
	assert_int_equal(f->ntx, 0);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;

	wr(f, 3, 0x83); /* DLAB, 8N1 */
	assert_int_equal(rd(f, 0), 12);
	wr(f, 0, 0x01);
	wr(f, 1, 0x02);
	assert_int_equal(rd(f, 0), 0x01);
	assert_int_equal(rd(f, 1), 0x02);
	assert_int_equal(f->ntx, 0); /* a DLL write is not a THR write */
	wr(f, 3, 0x03);
	assert_int_equal(rd(f, 1), 0x00); /* IER again, untouched by the DLM write */
	wr(f, 1, 0x05);
	wr(f, 0, 'x');
	assert_int_equal(f->ntx, 1);
	assert_int_equal(f->tx[0], 'x');
	wr(f, 3, 0x83);
	assert_int_equal(rd(f, 0), 0x01);
	assert_int_equal(rd(f, 1), 0x02);
	assert_int_equal(rd(f, 2) & 0x01, 0x01); /* IIR is not banked */
	wr(f, 3, 0x03);
	assert_int_equal(rd(f, 1), 0x05);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, 1, 0x02); /* ETBEI with THR empty */
	assert_int_equal(f->nlevels, 1);
	assert_true(f->levels[0]);
	assert_int_equal(rd(f, 2), 0x02);
	/* Reading IIR acknowledged it. */
	assert_int_equal(f->nlevels, 2);
	assert_false(f->levels[1]);
	assert_int_equal(rd(f, 2), 0x01);

	/* A THR write sends at once and THR is empty again: THRE is back. */
	wr(f, 0, 'a');
	assert_int_equal(f->nlevels, 3);
	assert_true(f->levels[2]);
	/* Writes while it is pending keep the level: no redundant irq calls. */
	wr(f, 0, 'b');
	wr(f, 0, 'c');
	assert_int_equal(f->nlevels, 3);
	assert_int_equal(f->ntx, 3);
	assert_memory_equal(f->tx, "abc", 3);
	assert_int_equal(rd(f, 5) & 0x60, 0x60);

	/* Masking it drops the line; unmasking re-raises it (Linux's UART_BUG_THRE test). */
	wr(f, 1, 0x00);
	assert_int_equal(f->nlevels, 4);
	assert_false(f->levels[3]);
	assert_int_equal(rd(f, 2), 0x01);
	wr(f, 1, 0x02);
	assert_int_equal(f->nlevels, 5);
	assert_true(f->levels[4]);
	rd(f, 2);
	assert_false(irq_level(f));
	/* Rewriting IER with ETBEI still set is no rising edge and raises nothing. */
	wr(f, 1, 0x02);
	assert_int_equal(rd(f, 2), 0x01);
	assert_false(irq_level(f));
}

static void test_rx_interrupt_and_dr(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"k", 1), 1);
	assert_int_equal(rd(f, 5), 0x61); /* DR */
	assert_int_equal(f->nlevels, 0);  /* masked */
	assert_int_equal(rd(f, 2), 0x01);
	wr(f, 1, 0x01);
	assert_int_equal(f->nlevels, 1);
	assert_true(f->levels[0]);
	assert_int_equal(rd(f, 2), 0x04);
	assert_int_equal(rd(f, 2), 0x04); /* reading IIR does not acknowledge data */
	assert_int_equal(rd(f, 0), 'k');
	assert_int_equal(rd(f, 5), 0x60);
	assert_int_equal(rd(f, 2), 0x01);
	assert_int_equal(f->nlevels, 2);
	assert_false(f->levels[1]);
}

static void test_fifo_trigger_and_timeout(void **state)
{
	struct fixture *f = *state;

	wr(f, 2, 0x41); /* FIFOs on, trigger at 4 */
	assert_int_equal(rd(f, 2), 0xc1);
	wr(f, 1, 0x01);
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(rd(f, 2), 0xcc); /* below the trigger: character timeout */
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"cd", 2), 2);
	assert_int_equal(rd(f, 2), 0xc4); /* at the trigger: data available */
	assert_true(irq_level(f));
	assert_int_equal(rd(f, 0), 'a');
	assert_int_equal(rd(f, 2), 0xcc);
	assert_int_equal(rd(f, 0), 'b');
	assert_int_equal(rd(f, 0), 'c');
	assert_int_equal(rd(f, 0), 'd');
	assert_int_equal(rd(f, 2), 0xc1);
	assert_false(irq_level(f));

	/* Clearing RX through FCR empties the FIFO; FIFOs stay on. */
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"xyz", 3), 3);
	wr(f, 2, 0x43);
	assert_int_equal(rd(f, 5), 0x60);
	assert_int_equal(rd(f, 2), 0xc1);
	/* Turning FIFOs off empties them too, and IIR bits 7:6 go back to 00. */
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"xyz", 3), 3);
	wr(f, 2, 0x00);
	assert_int_equal(rd(f, 5), 0x60);
	assert_int_equal(rd(f, 2), 0x01);
}

static void test_fifo_full(void **state)
{
	struct fixture *f = *state;
	uint8_t in[20];

	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = 'A' + i;
	wr(f, 2, 0x01);
	assert_int_equal(uart_receive(&f->u, in, sizeof(in)), 16);
	assert_int_equal(uart_receive(&f->u, in + 16, 4), 0);
	assert_int_equal(rd(f, 5), 0x61); /* full but no overrun: the host was refused */
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(rd(f, 0), 'A' + i);
	assert_int_equal(rd(f, 5), 0x60);

	/* Without FIFOs the holding register takes a single byte. */
	wr(f, 2, 0x00);
	assert_int_equal(uart_receive(&f->u, in, 3), 1);
	assert_int_equal(uart_receive(&f->u, in + 1, 2), 0);
	assert_int_equal(rd(f, 0), 'A');
	assert_int_equal(uart_receive(&f->u, in + 1, 2), 1);
	assert_int_equal(rd(f, 0), 'B');
}

static void test_rx_ready(void **state)
{
	struct fixture *f = *state;
	uint8_t in[24];

	memset(in, 'q', sizeof(in));
	wr(f, 2, 0x01);
	/* Input that fits owes no callback. */
	assert_int_equal(uart_receive(&f->u, in, 3), 3);
	for (int i = 0; i < 3; i++)
		rd(f, 0);
	assert_int_equal(f->rx_ready_calls, 0);

	assert_int_equal(uart_receive(&f->u, in, sizeof(in)), 16);
	assert_int_equal(f->rx_ready_calls, 0);
	/* Reading from the full FIFO makes room: the console hears of it once, and may push
	 * from inside the callback because the lock is not held. */
	f->refill = in;
	f->refill_len = 8;
	assert_int_equal(rd(f, 0), 'q');
	assert_int_equal(f->rx_ready_calls, 1);
	assert_int_equal(f->refilled, 1);
	/* The refill filled it again, so the next read calls again. */
	f->refill = NULL;
	rd(f, 0);
	assert_int_equal(f->rx_ready_calls, 2);
	rd(f, 0);
	assert_int_equal(f->rx_ready_calls, 2);

	/* A FIFO reset makes room too. */
	assert_int_equal(uart_receive(&f->u, in, sizeof(in)), 2);
	wr(f, 2, 0x03);
	assert_int_equal(f->rx_ready_calls, 3);

	/* Loopback refuses host input; leaving it owes a callback. */
	wr(f, 4, 0x10);
	assert_int_equal(uart_receive(&f->u, in, 1), 0);
	assert_int_equal(f->rx_ready_calls, 3);
	wr(f, 4, 0x00);
	assert_int_equal(f->rx_ready_calls, 4);
	assert_int_equal(uart_receive(&f->u, in, 1), 1);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;

	/* Linux 8250 autoconfig: MCR = LOOP | OUT2 | RTS must read back DCD | CTS. */
	wr(f, 4, 0x1a);
	assert_int_equal(rd(f, 6) & 0xf0, 0x90);
	wr(f, 4, 0x15); /* LOOP | OUT1 | DTR */
	assert_int_equal(rd(f, 6) & 0xf0, 0x60);
	wr(f, 4, 0x1f);
	assert_int_equal(rd(f, 6) & 0xf0, 0xf0);

	wr(f, 0, 'L');
	assert_int_equal(f->ntx, 0);
	assert_int_equal(rd(f, 5), 0x61);
	assert_int_equal(rd(f, 0), 'L');

	/* Overrun: a 16450 overwrites its holding register. */
	wr(f, 0, '1');
	wr(f, 0, '2');
	assert_int_equal(rd(f, 5), 0x63); /* DR | OE */
	assert_int_equal(rd(f, 5), 0x61); /* reading LSR clears OE */
	assert_int_equal(rd(f, 0), '2');

	/* With FIFOs a 17th byte is lost and the FIFO kept. */
	wr(f, 2, 0x01);
	for (int i = 0; i < 17; i++)
		wr(f, 0, 'a' + i);
	assert_int_equal(rd(f, 5), 0x63);
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(f, 0), 'a' + i);
	assert_int_equal(rd(f, 5), 0x60);

	wr(f, 4, 0x00);
	assert_int_equal(rd(f, 6), 0xb4); /* back to the console's lines; RI fell: TERI */
	wr(f, 0, 'o');
	assert_int_equal(f->ntx, 1);
	assert_int_equal(f->tx[0], 'o');
	assert_int_equal(rd(f, 5), 0x60);
}

static void test_modem_status(void **state)
{
	struct fixture *f = *state;

	wr(f, 1, 0x08); /* EDSSI */
	assert_int_equal(f->nlevels, 0);
	wr(f, 4, 0x10); /* loopback, all outputs off: CTS, DSR and DCD fall */
	assert_true(irq_level(f));
	assert_int_equal(rd(f, 2), 0x00);
	assert_int_equal(rd(f, 6), 0x0b);
	assert_false(irq_level(f));
	assert_int_equal(rd(f, 6), 0x00);

	wr(f, 4, 0x14); /* OUT1 -> RI rising: no TERI */
	assert_int_equal(rd(f, 6), 0x40);
	assert_false(irq_level(f));
	wr(f, 4, 0x10); /* RI falling: TERI */
	assert_true(irq_level(f));
	assert_int_equal(rd(f, 6), 0x04);
	assert_false(irq_level(f));
}

static void test_iir_priority(void **state)
{
	struct fixture *f = *state;

	/* Loopback with all outputs off sets modem deltas; two bytes overrun the 16450. */
	wr(f, 4, 0x10);
	wr(f, 0, 'x');
	wr(f, 0, 'y');
	wr(f, 1, 0x0f);
	assert_true(irq_level(f));
	assert_int_equal(rd(f, 2), 0x06); /* receiver line status */
	assert_int_equal(rd(f, 2), 0x06);
	rd(f, 5);
	assert_int_equal(rd(f, 2), 0x04); /* data */
	rd(f, 0);
	assert_int_equal(rd(f, 2), 0x02); /* THRE, acknowledged by this read */
	assert_int_equal(rd(f, 2), 0x00); /* modem status */
	assert_true(irq_level(f));
	rd(f, 6);
	assert_int_equal(rd(f, 2), 0x01);
	assert_false(irq_level(f));

	/* Masked sources are not reported even when pending. */
	wr(f, 0, 'z');
	wr(f, 1, 0x00);
	assert_int_equal(rd(f, 2), 0x01);
	assert_false(irq_level(f));
	wr(f, 1, 0x01);
	assert_int_equal(rd(f, 2), 0x04);
}

static void test_odd_accesses(void **state)
{
	struct fixture *f = *state;

	wr(f, 7, 0x5a);
	/* Wider accesses act on the low byte of the register at the offset. */
	assert_int_equal(uart_io_ops.read(&f->u, 7, 2), 0x5a);
	assert_int_equal(uart_io_ops.read(&f->u, 7, 8), 0x5a);
	uart_io_ops.write(&f->u, 7, 4, 0x12345678);
	assert_int_equal(rd(f, 7), 0x78);
	uart_io_ops.write(&f->u, 0, 2, 0x4142);
	assert_int_equal(f->ntx, 1);
	assert_int_equal(f->tx[0], 0x42);

	/* Outside the window: reads float high, writes vanish. */
	assert_int_equal(uart_io_ops.read(&f->u, 8, 1), 0xff);
	assert_int_equal(uart_io_ops.read(&f->u, 8, 2), 0xffff);
	assert_int_equal(uart_io_ops.read(&f->u, 0x10007, 4), 0xffffffff);
	assert_true(uart_io_ops.read(&f->u, UINT64_MAX, 8) == UINT64_MAX);
	uart_io_ops.write(&f->u, 8, 1, 'n');
	uart_io_ops.write(&f->u, 15, 1, 0);
	uart_io_ops.write(&f->u, UINT64_MAX, 8, 0);
	assert_int_equal(f->ntx, 1);
	assert_int_equal(rd(f, 7), 0x78);
}

/* The register sequence Linux's 8250 autoconfig() uses to call a port a 16550A. */
static void test_linux_probe(void **state)
{
	struct fixture *f = *state;
	uint8_t save_ier = rd(f, 1);

	wr(f, 1, 0x00);
	assert_int_equal(rd(f, 1) & 0x0f, 0x00);
	wr(f, 1, 0x0f);
	assert_int_equal(rd(f, 1) & 0x0f, 0x0f);
	wr(f, 1, save_ier);

	wr(f, 4, 0x1a);
	assert_int_equal(rd(f, 6) & 0xf0, 0x90);
	wr(f, 4, 0x00);

	wr(f, 3, 0xbf);
	wr(f, 2, 0x00); /* EFR on the chips that have one: here FCR */
	wr(f, 3, 0x00);
	wr(f, 2, 0x01);
	assert_int_equal(rd(f, 2) >> 6, 3);
	/* No EFR behind DLAB, no 64-byte FIFO (IIR bit 5), no XScale UUE (IER bit 6). */
	wr(f, 3, 0x80);
	assert_int_not_equal(rd(f, 2), 0);
	wr(f, 3, 0x00);
	wr(f, 2, 0x21);
	assert_int_equal(rd(f, 2) & 0xe0, 0xc0);
	wr(f, 1, 0x40);
	assert_int_equal(rd(f, 1), 0x00);
}

static void test_instances_are_independent(void **state)
{
	struct fixture *f = *state;
	struct uart other;

	uart_init(&other, NULL, NULL);
	uart_io_ops.write(&other, 7, 1, 0x11);
	uart_io_ops.write(&other, 1, 1, 0x02); /* no irq line: nothing to call */
	uart_io_ops.write(&other, 0, 1, 'z');  /* no backend: dropped */
	assert_int_equal(uart_receive(&other, (const uint8_t *)"r", 1), 1);
	assert_int_equal(rd(f, 7), 0x00);
	assert_int_equal(rd(f, 5), 0x60);
	assert_int_equal(f->ntx, 0);
	assert_int_equal(f->nlevels, 0);
	assert_int_equal(uart_io_ops.read(&other, 0, 1), 'r');
	uart_destroy(&other);
}

#define TEST_THREADS 4
#define TEST_WRITES 1000

static void *writer(void *arg)
{
	struct fixture *f = arg;

	for (int i = 0; i < TEST_WRITES; i++) {
		wr(f, 0, 'w');
		rd(f, 2);
		uart_receive(&f->u, (const uint8_t *)"i", 1);
		rd(f, 0);
	}
	return NULL;
}

static void test_concurrent_access(void **state)
{
	struct fixture *f = *state;
	pthread_t t[TEST_THREADS];

	f->threaded = true;
	wr(f, 2, 0x01);
	for (int i = 0; i < TEST_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, f), 0);
	for (int i = 0; i < TEST_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(f->ntx, TEST_THREADS * TEST_WRITES);
	assert_int_equal(rd(f, 5), 0x60); /* each thread read as many bytes as it pushed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_masks_and_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_interrupt_and_dr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_trigger_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_instances_are_independent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_access, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
