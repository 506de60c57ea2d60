/* SPDX-License-Identifier: MIT */
/*
 * The QMP protocol engine (QEMU's docs/interop/qmp-spec), with no sockets: one
 * struct qmp_session per client connection is fed the bytes the client sent and writes
 * whole messages through a callback, so it is unit-tested and fuzzed as is.
 *
 * A session greets at creation, accepts only qmp_capabilities until negotiation is done
 * (class CommandNotFound otherwise), then dispatches to the embedder's command table; the
 * built-ins qmp_capabilities and query-commands take precedence over a table entry of the
 * same name. Requests are parsed by json-c in strict mode with UTF-8 validation, nesting
 * at most QMP_MAX_DEPTH deep; json-c still takes single-quoted strings and raw control
 * characters in strings, and a request holding NaN or Infinity is refused as a parse
 * error. What the session writes is always strict JSON.
 *
 * Bad input never closes the session. After a parse error, or once a pending object grows
 * past QMP_MAX_INPUT bytes, the session replies one GenericError and discards input up to
 * and including the next newline or other ASCII control character except tab and CR (the
 * way QEMU's lexer resets, see the spec's "Forcing the JSON parser into known-good
 * state"); clients that end each command with a newline, as all do, lose nothing else.
 */
#ifndef SLABVM_QMP_H
#define SLABVM_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json_object.h>

#include "base/error.h"

/* Bytes one request may span, and how deep its JSON may nest. */
#define QMP_MAX_INPUT 65536
#define QMP_MAX_DEPTH 32

/* A handler's return value that asks to close the session after the reply is written. */
#define QMP_CLOSE 1

/*
 * A command. args is always an object (empty when the request had none) and stays owned
 * by the engine. On success the handler returns 0 or QMP_CLOSE and may set *ret to a new
 * reference the engine consumes (NULL replies {"return": {}}). On failure it returns a
 * negative errno and sets err: the reply's class is DeviceNotFound for -ENODEV,
 * DeviceNotActive for -ENOTCONN, GenericError otherwise; desc is err's message.
 */
struct qmp_command {
	const char *name;
	int (*handler)(void *ctx, struct json_object *args, struct json_object **ret,
		       struct error *err);
};

/* Receives one whole message, "\r\n"-terminated. */
typedef void qmp_write_fn(void *opaque, const char *buf, size_t len);

struct qmp_session;

/* cmds ends with an entry whose name is NULL and must outlive the session; ctx is passed
 * to every handler. Writes the greeting before it returns. */
struct qmp_session *qmp_session_new(const struct qmp_command *cmds, void *ctx, qmp_write_fn *write,
				    void *opaque, struct error *err);
void qmp_session_free(struct qmp_session *s);

/* Processes bytes from the client, any split. Returns QMP_CLOSE once a handler has asked
 * to close (input after that request is ignored), 0 otherwise. */
int qmp_session_input(struct qmp_session *s, const void *buf, size_t len);
bool qmp_session_closing(const struct qmp_session *s);
/* True after qmp_capabilities: the session takes commands and events. */
bool qmp_session_command_mode(const struct qmp_session *s);

/* Sends {"event": name, "data": data, "timestamp": ...} if the session is in command mode
 * (data may be NULL, for no "data" member). Consumes the reference to data, so sending one
 * object to every session takes json_object_get(data) for each. */
void qmp_session_event(struct qmp_session *s, const char *name, struct json_object *data);

/*
 * Argument helpers for handlers, with QEMU's messages. Each returns 1 and sets *out when
 * the argument is present with the right type, 0 when it is absent and not required
 * (*out untouched), a negative errno with err set otherwise. Integers must be JSON
 * integers in range; a string is refused if it holds a NUL character, and *out points
 * into args.
 */
int qmp_arg_int(struct json_object *args, const char *name, bool required, int64_t *out,
		struct error *err);
int qmp_arg_u64(struct json_object *args, const char *name, bool required, uint64_t *out,
		struct error *err);
int qmp_arg_bool(struct json_object *args, const char *name, bool required, bool *out,
		 struct error *err);
int qmp_arg_string(struct json_object *args, const char *name, bool required, const char **out,
		   struct error *err);
/* Refuses any argument not named in known (NULL-terminated): "Parameter 'x' is
 * unexpected". */
int qmp_args_check(struct json_object *args, const char *const *known, struct error *err);

#endif
