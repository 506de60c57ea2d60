/* SPDX-License-Identifier: MIT */
/*
 * Drives a fresh UART with a guest's and a console's worth of operations and checks what
 * must hold whatever the guest does. The input is a sequence of operations, each starting
 * with a byte whose low two bits select it:
 *   0 read:    bits 5:2 offset (0..15, so half are out of the window), bits 7:6 log2(size)
 *   1 write:   as read, then one value byte
 *   2 receive: bits 7:2 a length, then that many bytes of host input (fewer at the end)
 *   3 toggle:  whether rx_ready pushes host input back in from inside the callback
 * The oracle for the interrupt line is written here from the datasheet, apart from the model.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/uart.h"
#include "fuzz_input.h"

struct harness {
	struct uart u;
	bool level;	  /* the line as the fake controller sees it */
	unsigned int ntx; /* bytes the backend got */
	uint8_t last_tx;
	unsigned int rx_ready_calls;
	bool refill;	   /* rx_ready pushes input back in, as a console does */
	bool thr_pending;  /* shadow of the THRE interrupt, kept from the datasheet rules */
	bool host_refused; /* the host filled the FIFO or got a short count */
};

static unsigned int fuzz_capacity(const struct uart *u)
{
	return (u->fcr & UART_FCR_FE) ? UART_RX_FIFO : 1;
}

/* IIR bits 3:0 from the registers, in the datasheet's priority order. */
static uint8_t fuzz_iir(const struct harness *h)
{
	static const unsigned int trigger[4] = {1, 4, 8, 14};
	const struct uart *u = &h->u;
	bool fifo = u->fcr & UART_FCR_FE;

	if ((u->ier & UART_IER_ELSI) && (u->lsr_err & 0x1e))
		return 0x06;
	if ((u->ier & UART_IER_ERBFI) && u->rx_count)
		return (fifo && u->rx_count < trigger[u->fcr >> 6]) ? 0x0c : 0x04;
	if ((u->ier & UART_IER_ETBEI) && h->thr_pending)
		return 0x02;
	if ((u->ier & UART_IER_EDSSI) && (u->msr_delta & 0x0f))
		return 0x00;
	return 0x01;
}

static bool fuzz_lock_free(struct uart *u)
{
	if (pthread_mutex_trylock(&u->lock) != 0)
		return false;
	pthread_mutex_unlock(&u->lock);
	return true;
}

static void fuzz_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct harness *h = ctx;

	FUZZ_CHECK(gsi == UART_COM1_IRQ);
	FUZZ_CHECK(level != h->level); /* only changes reach the controller */
	FUZZ_CHECK(!fuzz_lock_free(&h->u));
	h->level = level;
}

static const struct irq_ops fuzz_irq_ops = {
	.set_level = fuzz_set_level,
};

static void fuzz_tx(void *ctx, const uint8_t *buf, size_t len)
{
	struct harness *h = ctx;

	FUZZ_CHECK(len == 1);
	FUZZ_CHECK(fuzz_lock_free(&h->u));
	h->ntx++;
	h->last_tx = buf[0];
}

static void fuzz_rx_ready(void *ctx)
{
	struct harness *h = ctx;
	static const uint8_t more[3] = {'r', 'd', 'y'};

	FUZZ_CHECK(fuzz_lock_free(&h->u));
	FUZZ_CHECK(h->u.rx_count < fuzz_capacity(&h->u));
	FUZZ_CHECK(!(h->u.mcr & UART_MCR_LOOP));
	h->rx_ready_calls++;
	h->host_refused = false;
	if (h->refill && (uart_receive(&h->u, more, sizeof(more)) < sizeof(more) ||
			  h->u.rx_count == fuzz_capacity(&h->u)))
		h->host_refused = true;
}

static void fuzz_invariants(struct harness *h)
{
	const struct uart *u = &h->u;

	FUZZ_CHECK(u->rx_count <= fuzz_capacity(u) && u->rx_count <= UART_RX_FIFO);
	FUZZ_CHECK(u->rx_head < UART_RX_FIFO);
	FUZZ_CHECK(!(u->ier & 0xf0) && !(u->mcr & 0xe0));
	FUZZ_CHECK((u->fcr & UART_FCR_FE) ? !(u->fcr & 0x3e) : u->fcr == 0);
	FUZZ_CHECK(h->level == (fuzz_iir(h) != 0x01));
	/* A refused console hears as soon as there is room for it. */
	FUZZ_CHECK(!h->host_refused || u->rx_count == fuzz_capacity(u) || (u->mcr & UART_MCR_LOOP));
}

static void fuzz_read(struct harness *h, uint64_t offset, unsigned int size)
{
	struct uart *u = &h->u;
	bool dlab = u->lcr & UART_LCR_DLAB;
	unsigned int count = u->rx_count, calls = h->rx_ready_calls;
	uint8_t head = u->rx_fifo[u->rx_head];
	uint8_t iir = fuzz_iir(h) | ((u->fcr & UART_FCR_FE) ? 0xc0 : 0);
	uint64_t val = uart_io_ops.read(u, offset, size);

	if (offset >= UART_WINDOW) {
		FUZZ_CHECK(val == (size == 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1));
		return;
	}
	FUZZ_CHECK(val <= 0xff);
	switch (offset) {
	case UART_RBR:
		if (dlab)
			break;
		FUZZ_CHECK(!count || val == head);
		/* Unless rx_ready refilled it, one byte fewer. */
		if (h->rx_ready_calls == calls)
			FUZZ_CHECK(u->rx_count == (count ? count - 1 : 0));
		else
			FUZZ_CHECK(count == fuzz_capacity(u));
		break;
	case UART_IIR:
		FUZZ_CHECK(val == iir);
		if ((iir & 0x0f) == 0x02)
			h->thr_pending = false;
		break;
	case UART_LSR:
		FUZZ_CHECK((val & 0x60) == 0x60 && !(val & 0x9c));
		FUZZ_CHECK(!!(val & UART_LSR_DR) == (count > 0));
		break;
	case UART_MSR:
		if (!(u->mcr & UART_MCR_LOOP))
			FUZZ_CHECK((val & 0xf0) == 0xb0);
		else
			FUZZ_CHECK((val >> 4) ==
				   (((u->mcr & 1) << 1) | ((u->mcr & 2) >> 1) | (u->mcr & 0x0c)));
		break;
	}
}

static void fuzz_write(struct harness *h, uint64_t offset, unsigned int size, uint8_t val)
{
	struct uart *u = &h->u;
	bool dlab = u->lcr & UART_LCR_DLAB;
	bool loop = u->mcr & UART_MCR_LOOP;
	unsigned int count = u->rx_count, ntx = h->ntx;
	uint8_t ier = u->ier;

	uart_io_ops.write(u, offset, size, val);
	if (offset != UART_THR || dlab) {
		FUZZ_CHECK(h->ntx == ntx);
		if (offset == UART_IER && !dlab && (val & ~ier & UART_IER_ETBEI))
			h->thr_pending = true;
		return;
	}
	h->thr_pending = true;
	if (!loop) {
		FUZZ_CHECK(h->ntx == ntx + 1 && h->last_tx == val);
		return;
	}
	FUZZ_CHECK(h->ntx == ntx);
	if (count < fuzz_capacity(u))
		FUZZ_CHECK(u->rx_count == count + 1);
	else
		FUZZ_CHECK(u->rx_count == count && (u->lsr_err & UART_LSR_OE));
}

static void fuzz_receive(struct harness *h, const uint8_t *buf, size_t len)
{
	struct uart *u = &h->u;
	unsigned int room = fuzz_capacity(u) - u->rx_count;
	bool loop = u->mcr & UART_MCR_LOOP;
	size_t n = uart_receive(u, buf, len);

	FUZZ_CHECK(n == (loop ? 0 : (len < room ? len : room)));
	if (n < len || u->rx_count == fuzz_capacity(u))
		h->host_refused = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness h = {0};
	struct irq_line irq = {&fuzz_irq_ops, &h, UART_COM1_IRQ};
	struct uart_backend be = {fuzz_tx, fuzz_rx_ready, &h};
	struct fuzz_input in = {data, size, 0};

	uart_init(&h.u, &irq, &be);
	while (fuzz_left(&in)) {
		uint8_t op = fuzz_take(&in, 1);
		uint64_t offset = (op >> 2) & 0x0f;
		unsigned int access = 1u << (op >> 6);
		const uint8_t *buf;
		size_t len;

		switch (op & 3) {
		case 0:
			fuzz_read(&h, offset, access);
			break;
		case 1:
			if (fuzz_left(&in))
				fuzz_write(&h, offset, access, fuzz_take(&in, 1));
			break;
		case 2:
			len = op >> 2;
			buf = fuzz_take_bytes(&in, &len);
			fuzz_receive(&h, buf, len);
			break;
		default:
			h.refill = !h.refill;
			break;
		}
		fuzz_invariants(&h);
	}
	uart_destroy(&h.u);
	return 0;
}
