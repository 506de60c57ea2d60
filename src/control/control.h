/* SPDX-License-Identifier: MIT */
/*
 * The control socket (--qmp PATH): a Unix socket, mode 0600, that speaks the QMP subset
 * in qmp.c to any number of clients from the main loop, with slabvm's commands (balloon,
 * query-balloon, query-granules, query-status, query-version, system_powerdown, quit,
 * and for debugging human-monitor-command with info registers, info lapic and info cpus)
 * and events (BALLOON_CHANGE, SHUTDOWN).
 */
#ifndef SLABVM_CONTROL_H
#define SLABVM_CONTROL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/stop.h"

#define CONTROL_MAX_CLIENTS 16

struct vm;
struct control;

struct control_client {
	struct control *c;
	int fd;
	struct qmp_session *session;
};

struct control {
	struct vm *vm;
	char *path;
	int listen_fd;
	int timer_fd; /* polls the balloon's actual size for BALLOON_CHANGE */
	uint64_t last_actual;
	struct control_client client[CONTROL_MAX_CLIENTS];
};

/* Creates the socket (refusing a path that exists and is not a stale socket) and starts
 * serving it from vm's main loop. */
int control_init(struct control *c, struct vm *vm, const char *path, struct error *err);
/* Sends an event to every client past capabilities negotiation; data is consumed. */
void control_event(struct control *c, const char *name, struct json_object *data);
/* SHUTDOWN, with QMP's reason for the stop and whether the guest asked for it. */
void control_shutdown_event(struct control *c, enum stop_reason reason);
/* Closes every client and removes the socket file. */
void control_destroy(struct control *c);

#endif
