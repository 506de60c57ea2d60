/* SPDX-License-Identifier: MIT */
/*
 * The host side of the serial console: guest output to stdout (or a file, or nowhere),
 * stdin to the UART. A terminal on stdin is put in raw mode and restored on every exit
 * path, including fatal signals. Ctrl-A x quits, Ctrl-A Ctrl-A sends a Ctrl-A.
 */
#ifndef SLABVM_CONSOLE_H
#define SLABVM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct uart;

enum console_kind {
	CONSOLE_STDIO, /* guest output to stdout, stdin to the guest */
	CONSOLE_NONE,  /* output discarded, no input */
	CONSOLE_FILE,  /* output appended to a file (path), no input */
};

struct console {
	int out_fd;  /* -1: output discarded */
	int in_fd;   /* -1: no input */
	bool raw;    /* in_fd is a terminal we put in raw mode */
	bool escape; /* saw Ctrl-A */
	struct uart *uart;
	void (*quit)(void *ctx); /* Ctrl-A x */
	void *quit_ctx;
	pthread_t reader;
	bool started;
	bool filtered; /* the reader has installed its filter (or failed to), under lock */
	bool stopping;
	pthread_mutex_t lock;
	pthread_cond_t room; /* the UART took bytes out of its RX FIFO */
	unsigned long room_gen;
	int drop_fd; /* eventfd, readable once output that would block is dropped */
	int stop_fd; /* eventfd, readable once the reader must end (console_stop) */
};

int console_init(struct console *c, enum console_kind kind, const char *path, struct error *err);
/* Starts feeding input to u from a thread of its own, which waits in poll() (any kind of
 * stdin: terminal, pipe, regular file) for input or for console_stop. The thread filters
 * itself first (host/sandbox.h); console_start returns once it has, so that no thread of
 * a started VM runs unfiltered. */
int console_start(struct console *c, struct uart *u, void (*quit)(void *ctx), void *ctx,
		  struct error *err);
/* Ends the input thread (woken from poll(), or from waiting for UART room). */
void console_stop(struct console *c);
void console_destroy(struct console *c);
/* Guest output (called from vCPU threads). Waits while the reader is slow, until
 * console_drop_output. */
void console_write(struct console *c, const uint8_t *buf, size_t len);
/* From now on output that cannot be written at once is dropped: called when the VM stops,
 * so that a vCPU blocked writing to a reader that stopped reading can be joined. */
void console_drop_output(struct console *c);
/* The UART has room again (called from a vCPU thread). */
void console_wake(struct console *c);
/* Puts the terminal back as it was; safe to call more than once. */
void console_restore(struct console *c);
/* The same from any thread, for a process about to _exit while another thread may still
 * use the console: touches only the terminal settings saved at start. */
void console_restore_for_exit(void);

#endif
