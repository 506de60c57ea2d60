// SPDX-License-Identifier: MIT
#include "host/watchdog.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	struct timespec next, now;

	pthread_mutex_lock(&w->lock);
	next = w->since;
	while (!w->done) {
		next.tv_sec += w->period_s;
		while (!w->done && pthread_cond_timedwait(&w->cond, &w->lock, &next) != ETIMEDOUT)
			;
		if (w->done)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "slabvm: %s: waiting for %s (%lld s)\n", w->name, w->what,
			(long long)(now.tv_sec - w->since.tv_sec));
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int watchdog_start(struct watchdog *w, const char *name, unsigned int period_s, struct error *err)
{
	pthread_condattr_t cattr;
	sigset_t all, old;
	int ret;

	memset(w, 0, sizeof(*w));
	w->name = name;
	w->period_s = period_s;
	snprintf(w->what, sizeof(w->what), "nothing yet");
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	clock_gettime(CLOCK_MONOTONIC, &w->since);
	/* The thread inherits a mask that blocks everything: signals are the main loop's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&w->thread, NULL, watchdog_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		return error_set(err, -ret, "%s watchdog: thread: %s", name, strerror(ret));
	}
	w->started = true;
	return 0;
}

void watchdog_set(struct watchdog *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	va_start(ap, fmt);
	vsnprintf(w->what, sizeof(w->what), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&w->lock);
}

void watchdog_stop(struct watchdog *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}
