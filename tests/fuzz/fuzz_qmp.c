// SPDX-License-Identifier: MIT
/*
 * Fuzzes the QMP engine with what a client may send. Each input is a byte stream cut into
 * reads of varying sizes, fed to one session with a few commands (echo its arguments,
 * fail, raise an event, quit). Every message the session writes must be one JSON object
 * on a line of its own, valid UTF-8, with no bare control character and no NaN or
 * Infinity, holding exactly one of "QMP" (first message only), "return", "error" (with a
 * string class and desc) or "event"; and a session that asked to close writes nothing
 * more.
 *
 * Input: one byte of read-size pattern, then the stream.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz_input.h"
#include "control/qmp.h"

struct harness {
	struct qmp_session *s;
	unsigned int msgs;
	bool closed;
};

static bool finite_numbers(struct json_object *v)
{
	size_t i;

	switch (json_object_get_type(v)) {
	case json_type_double:
		return strspn(json_object_get_string(v), "+-0123456789.eE") ==
		       strlen(json_object_get_string(v));
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			if (!finite_numbers(json_object_array_get_idx(v, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			if (!finite_numbers(val))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

static void check_write(void *opaque, const char *buf, size_t len)
{
	struct harness *h = opaque;
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *msg, *e;
	int kinds;
	size_t i;

	FUZZ_CHECK(!h->closed);
	FUZZ_CHECK(tok && len >= 3 && len < (1 << 20));
	FUZZ_CHECK(buf[len - 2] == '\r' && buf[len - 1] == '\n');
	for (i = 0; i < len - 2; i++)
		FUZZ_CHECK((unsigned char)buf[i] >= 0x20);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	msg = json_tokener_parse_ex(tok, buf, (int)(len - 2));
	FUZZ_CHECK(json_tokener_get_error(tok) == json_tokener_success);
	FUZZ_CHECK(json_tokener_get_parse_end(tok) == len - 2);
	FUZZ_CHECK(json_object_is_type(msg, json_type_object));
	FUZZ_CHECK(finite_numbers(msg));
	kinds = json_object_object_get_ex(msg, "QMP", NULL) +
		json_object_object_get_ex(msg, "return", NULL) +
		json_object_object_get_ex(msg, "error", &e) +
		json_object_object_get_ex(msg, "event", NULL);
	FUZZ_CHECK(kinds == 1);
	FUZZ_CHECK(json_object_object_get_ex(msg, "QMP", NULL) == (h->msgs == 0));
	if (json_object_object_get_ex(msg, "error", &e)) {
		struct json_object *cls, *desc;

		FUZZ_CHECK(json_object_object_get_ex(e, "class", &cls) &&
			   json_object_is_type(cls, json_type_string));
		FUZZ_CHECK(json_object_object_get_ex(e, "desc", &desc) &&
			   json_object_is_type(desc, json_type_string));
	}
	h->msgs++;
	json_object_put(msg);
	json_tokener_free(tok);
}

static int cmd_echo(void *ctx, struct json_object *args, struct json_object **ret,
		    struct error *err)
{
	int64_t n;
	int rc;

	(void)ctx;
	rc = qmp_arg_int(args, "n", false, &n, err);
	if (rc < 0)
		return rc;
	*ret = json_object_get(args);
	return 0;
}

static int cmd_fail(void *ctx, struct json_object *args, struct json_object **ret,
		    struct error *err)
{
	static const char *const known[] = {"s", "b", "u", NULL};
	const char *s = "x";
	uint64_t u;
	bool b;
	int rc;

	(void)ctx;
	(void)ret;
	if ((rc = qmp_args_check(args, known, err)) < 0 ||
	    (rc = qmp_arg_string(args, "s", true, &s, err)) < 0 ||
	    (rc = qmp_arg_bool(args, "b", false, &b, err)) < 0 ||
	    (rc = qmp_arg_u64(args, "u", false, &u, err)) < 0)
		return rc;
	return error_set(err, -ENOTCONN, "Device '%s' has not been activated", s);
}

static int cmd_event(void *ctx, struct json_object *args, struct json_object **ret,
		     struct error *err)
{
	struct harness *h = ctx;

	(void)ret;
	(void)err;
	qmp_session_event(h->s, "FUZZ", json_object_get(args));
	return 0;
}

static int cmd_quit(void *ctx, struct json_object *args, struct json_object **ret,
		    struct error *err)
{
	(void)ctx;
	(void)args;
	(void)ret;
	(void)err;
	return QMP_CLOSE;
}

static const struct qmp_command cmds[] = {
	{"echo", cmd_echo}, {"fail", cmd_fail}, {"event", cmd_event},
	{"quit", cmd_quit}, {NULL, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct harness h = {0};
	struct error err = {0};
	unsigned int pattern;
	const uint8_t *buf;
	size_t n;

	if (!size)
		return 0;
	pattern = fuzz_take(&in, 1);
	h.s = qmp_session_new(cmds, &h, check_write, &h, &err);
	FUZZ_CHECK(h.s && h.msgs == 1);
	while (fuzz_left(&in) && !h.closed) {
		/* Whole stream, single bytes, or reads of 1..16 bytes. */
		if (pattern < 0x40)
			n = fuzz_left(&in);
		else if (pattern < 0x80)
			n = 1;
		else
			n = 1 + (in.pos * 7 + pattern) % 16;
		buf = fuzz_take_bytes(&in, &n);
		if (qmp_session_input(h.s, buf, n) == QMP_CLOSE) {
			FUZZ_CHECK(qmp_session_closing(h.s));
			h.closed = true;
		}
	}
	/* An event reaches a session in command mode only, and never a closing one. */
	n = h.msgs;
	qmp_session_event(h.s, "END", NULL);
	FUZZ_CHECK(h.msgs == n + (qmp_session_command_mode(h.s) && !h.closed));
	qmp_session_free(h.s);
	return 0;
}
