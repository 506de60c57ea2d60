/* SPDX-License-Identifier: MIT */
/*
 * A 16550A-compatible UART: the serial console. Transmission is instantaneous, so THR and
 * the transmitter are always empty and there is no TX FIFO to model; the 16-byte RX FIFO is
 * real because host input arrives faster than the guest drains it.
 *
 * Locking and callback context: every entry point takes u->lock. irq_line_set() is called
 * with the lock held (levels must reach the interrupt controller in the order they were
 * computed), so irq_ops must not call back into this uart. be->tx and be->rx_ready are
 * called after the lock is dropped, from whichever thread made the access (a vCPU), so they
 * may call uart_receive(). tx gets the one byte of each THR write, in the guest's order as
 * long as the guest serialises its own writes (Linux does).
 */
#ifndef SLABVM_UART_H
#define SLABVM_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/irq.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define UART_WINDOW 8 /* bytes of port space */
#define UART_RX_FIFO 16

/* Register offsets; with LCR.DLAB set, offsets 0 and 1 are the divisor latch instead. */
#define UART_RBR 0 /* read; THR on write */
#define UART_THR 0
#define UART_IER 1
#define UART_IIR 2 /* read; FCR on write */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define UART_DLL 0
#define UART_DLM 1

#define UART_IER_ERBFI 0x01 /* received data available */
#define UART_IER_ETBEI 0x02 /* THR empty */
#define UART_IER_ELSI 0x04  /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRE 0x02
#define UART_IIR_RDA 0x04
#define UART_IIR_RLS 0x06
#define UART_IIR_CTI 0x0c  /* character timeout */
#define UART_IIR_FIFO 0xc0 /* FIFOs enabled: what makes Linux call it a 16550A */

#define UART_FCR_FE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_FCR_TRIGGER 0xc0 /* RX trigger level: 1, 4, 8 or 14 bytes */

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

struct uart_backend {
	void (*tx)(void *ctx, const uint8_t *buf, size_t len); /* guest output */
	/* The RX FIFO has room again after uart_receive() filled it: push more (may be NULL). */
	void (*rx_ready)(void *ctx);
	void *ctx;
};

/* Fields are private to uart.c; tests and the fuzz harness only read them. */
struct uart {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct uart_backend be;
	uint8_t rx_fifo[UART_RX_FIFO];
	unsigned int rx_head;
	unsigned int rx_count; /* at most 16, or 1 with FIFOs disabled (a 16450) */
	uint8_t ier;
	uint8_t fcr; /* only the FIFO enable and trigger level bits are kept */
	uint8_t lcr;
	uint8_t mcr;
	uint8_t lsr_err;   /* LSR error bits, cleared by reading LSR */
	uint8_t msr_delta; /* MSR delta bits, cleared by reading MSR */
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	bool thr_pending; /* THRE interrupt not yet acknowledged */
	bool rx_waiting;  /* the host filled the FIFO or was refused: owed an rx_ready */
	bool irq_level;	  /* last level sent to the irq line */
};

/* irq and be are copied; either may be NULL (no interrupt line, output dropped). */
void uart_init(struct uart *u, const struct irq_line *irq, const struct uart_backend *be);
void uart_destroy(struct uart *u);

/*
 * opaque = struct uart *; offsets 0..7 of the window. A wider access acts on the low byte of
 * the register at its offset; beyond the window reads are all ones and writes are dropped.
 */
extern const struct io_ops uart_io_ops;

/*
 * Host input into the RX FIFO. Returns the bytes accepted: 0 when the FIFO is full or the
 * UART is in loopback (the receiver is disconnected then). After a short count or a fill,
 * be->rx_ready tells when to try again: once the guest reads, resets the FIFO or leaves
 * loopback.
 */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

#endif
