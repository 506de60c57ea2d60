// SPDX-License-Identifier: MIT
#include "host/evloop.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EVLOOP_BATCH 16

int evloop_init(struct evloop *e, struct error *err)
{
	e->sources = NULL;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		return error_set(err, -errno, "epoll_create1: %s", strerror(errno));
	return 0;
}

void evloop_destroy(struct evloop *e)
{
	while (e->sources) {
		struct evloop_source *s = e->sources;

		e->sources = s->next;
		free(s);
	}
	if (e->epfd >= 0)
		close(e->epfd);
	e->epfd = -1;
}

int evloop_add(struct evloop *e, int fd, void (*ready)(void *ctx), void *ctx, struct error *err)
{
	struct evloop_source *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!s)
		return error_set(err, -ENOMEM, "out of memory");
	*s = (struct evloop_source){fd, ready, NULL, ctx, true, false, e->sources};
	ev.data.ptr = s;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = error_set(err, -errno, "epoll_ctl(fd %d): %s", fd, strerror(errno));

		free(s);
		return ret;
	}
	e->sources = s;
	return 0;
}

void evloop_remove(struct evloop *e, int fd)
{
	struct evloop_source *s;

	for (s = e->sources; s; s = s->next) {
		if (s->fd != fd || s->removed)
			continue;
		if (s->active)
			epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
		s->active = false;
		s->removed = true;
	}
}

static uint32_t evloop_events(const struct evloop_source *s)
{
	return EPOLLIN | (s->writable ? EPOLLOUT : 0);
}

void evloop_set_writable(struct evloop *e, int fd, void (*writable)(void *ctx))
{
	struct evloop_source *s;

	for (s = e->sources; s; s = s->next) {
		struct epoll_event ev = {.data.ptr = s};

		if (s->fd != fd || s->removed || s->writable == writable)
			continue;
		s->writable = writable;
		ev.events = evloop_events(s);
		if (s->active)
			epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev);
	}
}

/* Sources removed during a batch are freed after it, when no event can point at them. */
static void evloop_reap(struct evloop *e)
{
	struct evloop_source **pp = &e->sources;

	while (*pp) {
		struct evloop_source *s = *pp;

		if (s->removed) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

void evloop_set_active(struct evloop *e, int fd, bool active)
{
	struct evloop_source *s;

	/* Removed rather than masked: epoll reports hang-ups even with no events asked for,
	 * and a paused pipe that hung up would wake the loop forever. */
	for (s = e->sources; s; s = s->next) {
		struct epoll_event ev = {.events = evloop_events(s), .data.ptr = s};

		if (s->fd != fd || s->active == active || s->removed)
			continue;
		epoll_ctl(e->epfd, active ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev);
		s->active = active;
	}
}

void evloop_run_once(struct evloop *e, int timeout)
{
	struct epoll_event ev[EVLOOP_BATCH];
	int i, n;

	n = epoll_wait(e->epfd, ev, EVLOOP_BATCH, timeout);
	for (i = 0; i < n; i++) {
		struct evloop_source *s = ev[i].data.ptr;

		/* Output first: a hang-up reported with it is then read as end of input. */
		if (s->active && s->writable && (ev[i].events & (EPOLLOUT | EPOLLERR)))
			s->writable(s->ctx);
		if (s->active && (ev[i].events & ~EPOLLOUT))
			s->ready(s->ctx);
	}
	evloop_reap(e);
}
