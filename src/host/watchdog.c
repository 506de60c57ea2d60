// SPDX-License-Identifier: MIT
#include "host/watchdog.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/thread.h"
#include "host/sandbox.h"

static long long watchdog_ms_until(const struct timespec *t)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (t->tv_sec - now.tv_sec) * 1000LL + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	struct pollfd fds[2] = {{.fd = w->wake_fd, .events = POLLIN},
				{.fd = w->watch_fd, .events = POLLIN}};
	struct timespec next = w->since, now;
	struct error err = {0};

	/* Started by a main loop that filtered itself already, the thread narrows that. */
	if (sandbox_enter(SANDBOX_WATCHDOG, "watchdog", &err)) {
		fprintf(stderr, "slabvm: %s: no %s reports\n", err.msg, w->name);
		return NULL;
	}
	next.tv_sec += w->period_s;
	for (;;) {
		int n = poll(fds, w->watch_fd >= 0 ? 2 : 1, (int)watchdog_ms_until(&next));

		if (n < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		if (n > 0 && fds[1].revents)
			w->ready(w->ctx);
		if (watchdog_ms_until(&next))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		pthread_mutex_lock(&w->lock);
		fprintf(stderr, "slabvm: %s: waiting for %s (%lld s)\n", w->name, w->what,
			(long long)(now.tv_sec - w->since.tv_sec));
		pthread_mutex_unlock(&w->lock);
		next.tv_sec += w->period_s;
	}
	return NULL;
}

int watchdog_start(struct watchdog *w, const char *name, unsigned int period_s, int fd,
		   void (*ready)(void *ctx), void *ctx, struct error *err)
{
	sigset_t all, old;
	int ret;

	memset(w, 0, sizeof(*w));
	w->name = name;
	w->period_s = period_s;
	w->watch_fd = fd;
	w->ready = ready;
	w->ctx = ctx;
	snprintf(w->what, sizeof(w->what), "nothing yet");
	w->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return error_set(err, -errno, "%s watchdog: eventfd: %s", name, strerror(errno));
	pthread_mutex_init(&w->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &w->since);
	/* The thread inherits a mask that blocks everything: a signal it is meant to see
	 * comes through the watched descriptor. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = thread_start(&w->thread, watchdog_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pthread_mutex_destroy(&w->lock);
		close(w->wake_fd);
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
	uint64_t one = 1;

	if (!w->started)
		return;
	if (write(w->wake_fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "slabvm: %s watchdog: cannot stop it: %s\n", w->name,
			strerror(errno));
	pthread_join(w->thread, NULL);
	close(w->wake_fd);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}
