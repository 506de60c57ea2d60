/* SPDX-License-Identifier: MIT */
/*
 * The main thread's event loop: file descriptors (signals, console input, ioeventfds
 * of virtio queues) and the callback to run when one becomes readable. Sources are added
 * at setup and live as long as the loop; a source can be paused and resumed from the
 * loop's own callbacks.
 */
#ifndef SLABVM_EVLOOP_H
#define SLABVM_EVLOOP_H

#include <stdbool.h>

#include "error.h"

struct evloop_source {
	int fd;
	void (*ready)(void *ctx);
	void *ctx;
	bool active;
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
/* Stops or resumes watching fd (e.g. console input while the UART is full). */
void evloop_set_active(struct evloop *e, int fd, bool active);
/* Waits for events (timeout in ms, -1 forever) and runs their callbacks. */
void evloop_run_once(struct evloop *e, int timeout);

#endif
