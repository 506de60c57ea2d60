/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART. Only what a guest can observe is kept as state: LSR.THRE/TEMT are always set
 * because a THR write reaches the backend at once, LSR.DR is "the FIFO is not empty", and
 * the MSR status bits follow from MCR (loopback) or a console that is always connected.
 */
#include "devices/uart.h"

#include <string.h>

#define UART_IER_MASK 0x0f /* bits 7:4 are reserved on a 16550A and read as zero */
#define UART_MCR_MASK 0x1f

/* Backend calls owed by a locked section, made once the lock is dropped. */
struct uart_deferred {
	bool tx;
	uint8_t tx_byte;
};

static unsigned int uart_rx_capacity(const struct uart *u)
{
	/* Without FIFOs a 16550A is a 16450 with a single receive holding register. */
	return (u->fcr & UART_FCR_FE) ? UART_RX_FIFO : 1;
}

static unsigned int uart_rx_trigger(const struct uart *u)
{
	static const unsigned int level[4] = {1, 4, 8, 14};

	return level[(u->fcr & UART_FCR_TRIGGER) >> 6];
}

static void uart_rx_push(struct uart *u, uint8_t byte)
{
	u->rx_fifo[(u->rx_head + u->rx_count) % UART_RX_FIFO] = byte;
	u->rx_count++;
}

static uint8_t uart_rx_pop(struct uart *u)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx_fifo[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
	u->rx_count--;
	return byte;
}

/* The modem status inputs: the outputs wired back in loopback, else a connected console. */
static uint8_t uart_msr_lines(const struct uart *u)
{
	uint8_t mcr = u->mcr;

	if (!(mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	return (mcr & UART_MCR_DTR ? UART_MSR_DSR : 0) | (mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) |
	       (mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) | (mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0);
}

/* The highest-priority enabled interrupt, as IIR bits 3:0. */
static uint8_t uart_iir_source(const struct uart *u)
{
	if ((u->ier & UART_IER_ELSI) && u->lsr_err)
		return UART_IIR_RLS;
	if ((u->ier & UART_IER_ERBFI) && u->rx_count) {
		/*
		 * Host input arrives in bursts, so once a burst is in no further character is
		 * coming: the 4-character timeout has in effect already expired.
		 */
		if ((u->fcr & UART_FCR_FE) && u->rx_count < uart_rx_trigger(u))
			return UART_IIR_CTI;
		return UART_IIR_RDA;
	}
	if ((u->ier & UART_IER_ETBEI) && u->thr_pending)
		return UART_IIR_THRE;
	if ((u->ier & UART_IER_EDSSI) && u->msr_delta)
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void uart_lock(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
}

/*
 * Ends every locked section: brings the irq line up to date while still serialised, then
 * makes the backend calls without the lock so the backend may call uart_receive().
 */
static void uart_unlock(struct uart *u, const struct uart_deferred *d)
{
	bool level = uart_iir_source(u) != UART_IIR_NO_INT;
	bool rx_ready = false;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
	if (u->rx_waiting && u->rx_count < uart_rx_capacity(u) && !(u->mcr & UART_MCR_LOOP)) {
		u->rx_waiting = false;
		rx_ready = true;
	}
	pthread_mutex_unlock(&u->lock);

	if (d->tx && u->be.tx)
		u->be.tx(u->be.ctx, &d->tx_byte, 1);
	if (rx_ready && u->be.rx_ready)
		u->be.rx_ready(u->be.ctx);
}

static uint8_t uart_read_reg(struct uart *u, unsigned int reg)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	uint8_t val;

	switch (reg) {
	case UART_RBR:
		return dlab ? u->dll : uart_rx_pop(u);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR:
		val = uart_iir_source(u);
		/* Reading IIR acknowledges THRE, and only when THRE is what it reports. */
		if (val == UART_IIR_THRE)
			u->thr_pending = false;
		return val | ((u->fcr & UART_FCR_FE) ? UART_IIR_FIFO : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		val = u->lsr_err | UART_LSR_THRE | UART_LSR_TEMT | (u->rx_count ? UART_LSR_DR : 0);
		u->lsr_err = 0;
		return val;
	case UART_MSR:
		val = uart_msr_lines(u) | u->msr_delta;
		u->msr_delta = 0;
		return val;
	default:
		return u->scr;
	}
}

static void uart_loopback(struct uart *u, uint8_t byte)
{
	if (u->rx_count < uart_rx_capacity(u)) {
		uart_rx_push(u, byte);
		return;
	}
	u->lsr_err |= UART_LSR_OE;
	/* A full FIFO keeps its contents; a 16450's holding register is overwritten. */
	if (!(u->fcr & UART_FCR_FE))
		u->rx_fifo[u->rx_head] = byte;
}

static void uart_write_fcr(struct uart *u, uint8_t val)
{
	/* Switching the FIFOs on or off empties them. The TX FIFO is always empty already. */
	if ((val ^ u->fcr) & UART_FCR_FE)
		val |= UART_FCR_CLEAR_RX;
	if (val & UART_FCR_CLEAR_RX) {
		u->rx_head = 0;
		u->rx_count = 0;
	}
	u->fcr = (val & UART_FCR_FE) ? val & (UART_FCR_FE | UART_FCR_TRIGGER) : 0;
}

static void uart_write_mcr(struct uart *u, uint8_t val)
{
	uint8_t before = uart_msr_lines(u), after, changed;

	u->mcr = val & UART_MCR_MASK;
	after = uart_msr_lines(u);
	changed = before ^ after;
	/* Each status bit's delta sits 4 bits below it; RI reports its trailing edge only. */
	u->msr_delta |= ((changed & ~UART_MSR_RI) | (before & ~after & UART_MSR_RI)) >> 4;
}

static void uart_write_reg(struct uart *u, unsigned int reg, uint8_t val, struct uart_deferred *d)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_THR:
		if (dlab) {
			u->dll = val;
			break;
		}
		/* Sent at once, so THR is empty again and THRE is raised anew. */
		u->thr_pending = true;
		if (u->mcr & UART_MCR_LOOP) {
			uart_loopback(u, val);
		} else {
			d->tx = true;
			d->tx_byte = val;
		}
		break;
	case UART_IER:
		if (dlab) {
			u->dlm = val;
			break;
		}
		/* Enabling ETBEI with THR empty raises THRE even if IIR acknowledged it before. */
		if (val & ~u->ier & UART_IER_ETBEI)
			u->thr_pending = true;
		u->ier = val & UART_IER_MASK;
		break;
	case UART_FCR:
		uart_write_fcr(u, val);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		uart_write_mcr(u, val);
		break;
	case UART_SCR:
		u->scr = val;
		break;
	default:
		/* LSR and MSR: writing them is a factory test mode, ignored. */
		break;
	}
}

static uint64_t uart_io_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct uart *u = opaque;
	struct uart_deferred d = {0};
	uint8_t val;

	if (offset >= UART_WINDOW)
		return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
	uart_lock(u);
	val = uart_read_reg(u, offset);
	uart_unlock(u, &d);
	return val;
}

static void uart_io_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct uart *u = opaque;
	struct uart_deferred d = {0};

	(void)size;
	if (offset >= UART_WINDOW)
		return;
	uart_lock(u);
	uart_write_reg(u, offset, (uint8_t)value, &d);
	uart_unlock(u, &d);
}

const struct io_ops uart_io_ops = {
	.read = uart_io_read,
	.write = uart_io_write,
};

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	struct uart_deferred d = {0};
	size_t n = 0;

	uart_lock(u);
	/* In loopback the receiver hears only the transmitter. */
	if (!(u->mcr & UART_MCR_LOOP)) {
		while (n < len && u->rx_count < uart_rx_capacity(u))
			uart_rx_push(u, buf[n++]);
	}
	if (n < len || u->rx_count == uart_rx_capacity(u))
		u->rx_waiting = true;
	uart_unlock(u, &d);
	return n;
}

void uart_init(struct uart *u, const struct irq_line *irq, const struct uart_backend *be)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	if (irq)
		u->irq = *irq;
	if (be)
		u->be = *be;
	/* 9600 baud: the divisor's reset value is undefined, and 0 would divide by zero. */
	u->dll = 12;
}

void uart_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}
