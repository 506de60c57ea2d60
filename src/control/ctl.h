/* SPDX-License-Identifier: MIT */
/*
 * `slabvm ctl [--wait EVENT [--match PATH=VALUE]... [--timeout SECONDS]] SOCKET COMMAND
 * [NAME=VALUE ...]`: a one-shot QMP client for people who have none. It negotiates
 * capabilities, sends one command whose arguments are JSON scalars (NAME=268435456,
 * NAME=true, NAME="text" or bare text) and prints the reply's JSON. With --wait it then
 * prints the first EVENT that arrives after the command was sent (before or after its
 * reply) and whose data matches every --match, waiting up to --timeout seconds (30).
 * Exit status: 0 for a return (and the event), 1 for an error reply (nothing is waited
 * for), 2 for bad usage, 3 when the socket fails or closes, 4 when no matching event came
 * in time.
 */
#ifndef SLABVM_CTL_H
#define SLABVM_CTL_H

#include <json-c/json.h>
#include <stdbool.h>

#include "base/error.h"

#define CTL_STATUS_OK 0
#define CTL_STATUS_ERROR_REPLY 1
#define CTL_STATUS_USAGE 2
#define CTL_STATUS_SOCKET 3
#define CTL_STATUS_TIMEOUT 4

#define CTL_MAX_MATCHES 8

/*
 * A --match: PATH names a member of the event's "data", dot-separated into nested objects
 * (info.status); VALUE is read as the command's values are. The member must exist and be
 * equal to VALUE (PATH=VALUE) or differ from it (PATH!=VALUE); a number never equals a
 * string.
 */
struct ctl_match {
	char path[128];
	bool differ;
	struct json_object *value; /* NULL: JSON null */
};

struct ctl_options {
	const char *wait; /* the event's name, NULL when not waiting */
	struct ctl_match match[CTL_MAX_MATCHES];
	unsigned int nmatch;
	int timeout_ms;
};

/* Reads the options before SOCKET into o; returns how many arguments they took, or a
 * negative errno with err naming the option (o then holds nothing to release). */
int ctl_parse_options(int argc, char **argv, struct ctl_options *o, struct error *err);
void ctl_options_release(struct ctl_options *o);
/* Whether event (a whole QMP event object) is the one o waits for. */
bool ctl_event_matches(const struct ctl_options *o, struct json_object *event);
/* Builds {"execute": COMMAND, "arguments": {...}} from argv (COMMAND NAME=VALUE ...). */
int ctl_build_request(int argc, char **argv, struct json_object **req, struct error *err);
int ctl_main(int argc, char **argv);

#endif
