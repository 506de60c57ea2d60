/* SPDX-License-Identifier: MIT */
/*
 * The main thread's event loop: file descriptors (signals, console input, ioeventfds
 * of virtio queues, control-socket clients) and the callback to run when one becomes
 * readable, and for a source that asks for it, the callback to run when it becomes
 * writable. A source can be paused, resumed or removed from the loop's own callbacks.
 */
#ifndef SLABVM_EVLOOP_H
#define SLABVM_EVLOOP_H

#include <stdbool.h>

#include "base/error.h"

struct evloop_source {
	int fd;
	void (*ready)(void *ctx);
	void (*writable)(void *ctx); /* non-NULL: waiting for room to write */
	void *ctx;
	bool active;
	bool removed; /* freed after the current batch of events */
	struct evloop_source *next;
};

struct evloop {
	int epfd;
	struct evloop_source *sources;
};

int evloop_init(struct evloop *e, struct error *err);
void evloop_destroy(struct evloop *e);
/* Watches fd for input; ready runs on the loop's thread. */
int evloop_add(struct evloop *e, int fd, void (*ready)(void *ctx), void *ctx, struct error *err);
/* Stops watching fd for good (a client that went away); safe from its own callback.
 * The caller closes fd afterwards. */
void evloop_remove(struct evloop *e, int fd);
/* Stops or resumes watching fd (e.g. console input while the UART is full). */
void evloop_set_active(struct evloop *e, int fd, bool active);
/* Runs writable (on the loop's thread) once fd can take output, until called again with
 * NULL: for a socket whose peer reads slower than we write. */
void evloop_set_writable(struct evloop *e, int fd, void (*writable)(void *ctx));
/* Waits for events (timeout in ms, -1 forever) and runs their callbacks. */
void evloop_run_once(struct evloop *e, int timeout);

#endif
