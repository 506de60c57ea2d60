/* SPDX-License-Identifier: MIT */
/*
 * A watchdog for slow work that must end (tearing a VM down): a thread of its own prints
 * "slabvm: NAME: waiting for WHAT (N s)" on stderr every period_s seconds until stopped, WHAT
 * being what the work last said it waits for. It never interrupts the work: it only says
 * where the work hangs. It can also watch one file descriptor for the work's owner (the
 * signalfd, so that a signal still ends a teardown that hangs): the owner's callback runs
 * on the watchdog's thread whenever the descriptor is readable. The thread filters itself
 * first (host/sandbox.h): ready may only make the watchdog kind's system calls.
 */
#ifndef SLABVM_WATCHDOG_H
#define SLABVM_WATCHDOG_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "base/error.h"

struct watchdog {
	pthread_mutex_t lock;
	pthread_t thread;
	bool started;
	int wake_fd; /* eventfd: watchdog_stop */
	int watch_fd;
	void (*ready)(void *ctx);
	void *ctx;
	const char *name;
	unsigned int period_s;
	struct timespec since;
	char what[160];
};

/* Starts watching; fd < 0 for no descriptor, else ready(ctx) runs on the watchdog's thread
 * when fd is readable (it must read it). The thread blocks every signal. */
int watchdog_start(struct watchdog *w, const char *name, unsigned int period_s, int fd,
		   void (*ready)(void *ctx), void *ctx, struct error *err);
/* What the work waits for from now on (printf-style). Safe when the watchdog is not
 * started: then nothing happens. */
void watchdog_set(struct watchdog *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the thread; safe to call when it was never started. */
void watchdog_stop(struct watchdog *w);

#endif
