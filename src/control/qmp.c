// SPDX-License-Identifier: MIT
#include "control/qmp.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

struct qmp_session {
	const struct qmp_command *cmds;
	void *ctx;
	qmp_write_fn *write;
	void *opaque;
	struct json_tokener *tok;
	size_t pending;	 /* bytes fed to tok for the object in progress */
	bool discarding; /* resynchronising after bad input */
	bool negotiated; /* capabilities negotiation done */
	bool closing;	 /* a handler asked to close */
};

static void send_msg(struct qmp_session *s, struct json_object *msg)
{
	size_t len;
	const char *str = json_object_to_json_string_length(
		msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *buf = str ? malloc(len + 2) : NULL;

	/* Out of memory: the message is lost, like one the client never read. */
	if (buf) {
		memcpy(buf, str, len);
		memcpy(buf + len, "\r\n", 2);
		s->write(s->opaque, buf, len + 2);
		free(buf);
	}
	json_object_put(msg);
}

/* Adds val to obj under key, consuming the reference to val. */
static void add(struct json_object *obj, const char *key, struct json_object *val)
{
	json_object_object_add(obj, key, val);
}

static void reply(struct qmp_session *s, struct json_object *id, bool has_id,
		  struct json_object *ret)
{
	struct json_object *msg = json_object_new_object();

	if (!msg) {
		json_object_put(ret);
		return;
	}
	add(msg, "return", ret);
	if (has_id)
		add(msg, "id", json_object_get(id));
	send_msg(s, msg);
}

static void reply_error(struct qmp_session *s, struct json_object *id, bool has_id, const char *cls,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reply_error(struct qmp_session *s, struct json_object *id, bool has_id, const char *cls,
			const char *fmt, ...)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *e = json_object_new_object();
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	if (!msg || !e) {
		json_object_put(msg);
		json_object_put(e);
		return;
	}
	add(e, "class", json_object_new_string(cls));
	add(e, "desc", json_object_new_string(desc));
	add(msg, "error", e);
	if (has_id)
		add(msg, "id", json_object_get(id));
	send_msg(s, msg);
}

static void greet(struct qmp_session *s)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *qmp = json_object_new_object();
	struct json_object *version = json_object_new_object();
	struct json_object *qemu = json_object_new_object();
	int major = 0, minor = 0, micro = 0;

	if (!msg || !qmp || !version || !qemu) {
		json_object_put(msg);
		json_object_put(qmp);
		json_object_put(version);
		json_object_put(qemu);
		return;
	}
	sscanf(SLABVM_VERSION, "%d.%d.%d", &major, &minor, &micro);
	add(qemu, "major", json_object_new_int(major));
	add(qemu, "minor", json_object_new_int(minor));
	add(qemu, "micro", json_object_new_int(micro));
	add(version, "qemu", qemu);
	add(version, "package", json_object_new_string("slabvm"));
	add(qmp, "version", version);
	add(qmp, "capabilities", json_object_new_array());
	add(msg, "QMP", qmp);
	send_msg(s, msg);
}

struct qmp_session *qmp_session_new(const struct qmp_command *cmds, void *ctx, qmp_write_fn *write,
				    void *opaque, struct error *err)
{
	struct qmp_session *s = calloc(1, sizeof(*s));

	if (!s)
		return error_set(err, -ENOMEM, "out of memory"), NULL;
	s->tok = json_tokener_new_ex(QMP_MAX_DEPTH);
	if (!s->tok) {
		free(s);
		return error_set(err, -ENOMEM, "out of memory"), NULL;
	}
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					       JSON_TOKENER_VALIDATE_UTF8);
	s->cmds = cmds;
	s->ctx = ctx;
	s->write = write;
	s->opaque = opaque;
	greet(s);
	return s;
}

void qmp_session_free(struct qmp_session *s)
{
	if (!s)
		return;
	json_tokener_free(s->tok);
	free(s);
}

bool qmp_session_closing(const struct qmp_session *s)
{
	return s->closing;
}

bool qmp_session_command_mode(const struct qmp_session *s)
{
	return s->negotiated;
}

void qmp_session_event(struct qmp_session *s, const char *name, struct json_object *data)
{
	struct json_object *msg, *ts;
	struct timespec now;

	if (!s->negotiated || s->closing) {
		json_object_put(data);
		return;
	}
	msg = json_object_new_object();
	ts = json_object_new_object();
	if (!msg || !ts) {
		json_object_put(msg);
		json_object_put(ts);
		json_object_put(data);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	add(ts, "seconds", json_object_new_int64(now.tv_sec));
	add(ts, "microseconds", json_object_new_int64(now.tv_nsec / 1000));
	add(msg, "event", json_object_new_string(name));
	if (data)
		add(msg, "data", data);
	add(msg, "timestamp", ts);
	send_msg(s, msg);
}

/* Whether a string member equals name exactly (a JSON string may hold NUL characters). */
static bool str_is(struct json_object *str, const char *name)
{
	size_t len = (size_t)json_object_get_string_len(str);

	return len == strlen(name) && !memcmp(json_object_get_string(str), name, len);
}

static void cmd_capabilities(struct qmp_session *s, struct json_object *args,
			     struct json_object *id, bool has_id)
{
	static const char *const known[] = {"enable", NULL};
	struct json_object *enable;
	struct error err = {0};

	if (s->negotiated) {
		reply_error(s, id, has_id, "CommandNotFound",
			    "Capabilities negotiation is already complete, command ignored");
		return;
	}
	if (qmp_args_check(args, known, &err) < 0) {
		reply_error(s, id, has_id, "GenericError", "%s", err.msg);
		return;
	}
	/* No optional capability is offered, so enabling any is refused. */
	if (json_object_object_get_ex(args, "enable", &enable)) {
		if (!json_object_is_type(enable, json_type_array)) {
			reply_error(s, id, has_id, "GenericError",
				    "Invalid parameter type for 'enable', expected: array");
			return;
		}
		if (json_object_array_length(enable)) {
			struct json_object *cap = json_object_array_get_idx(enable, 0);

			reply_error(s, id, has_id, "GenericError", "Capability '%s' not available",
				    json_object_is_type(cap, json_type_string)
					    ? json_object_get_string(cap)
					    : "?");
			return;
		}
	}
	s->negotiated = true;
	reply(s, id, has_id, json_object_new_object());
}

static void add_command_name(struct json_object *list, const char *name)
{
	struct json_object *entry = json_object_new_object();

	if (!entry)
		return;
	add(entry, "name", json_object_new_string(name));
	json_object_array_add(list, entry);
}

static void cmd_query_commands(struct qmp_session *s, struct json_object *args,
			       struct json_object *id, bool has_id)
{
	static const char *const known[] = {NULL};
	struct json_object *list;
	const struct qmp_command *c;
	struct error err = {0};

	if (qmp_args_check(args, known, &err) < 0) {
		reply_error(s, id, has_id, "GenericError", "%s", err.msg);
		return;
	}
	list = json_object_new_array();
	if (!list)
		return;
	add_command_name(list, "qmp_capabilities");
	add_command_name(list, "query-commands");
	for (c = s->cmds; c && c->name; c++)
		if (strcmp(c->name, "qmp_capabilities") && strcmp(c->name, "query-commands"))
			add_command_name(list, c->name);
	reply(s, id, has_id, list);
}

static const char *error_class(int code)
{
	switch (code) {
	case -ENODEV:
		return "DeviceNotFound";
	case -ENOTCONN:
		return "DeviceNotActive";
	default:
		return "GenericError";
	}
}

static void run_command(struct qmp_session *s, const struct qmp_command *c,
			struct json_object *args, struct json_object *id, bool has_id)
{
	struct json_object *ret = NULL;
	struct error err = {0};
	int rc = c->handler(s->ctx, args, &ret, &err);

	if (rc < 0) {
		json_object_put(ret);
		if (err.msg[0])
			reply_error(s, id, has_id, error_class(rc), "%s", err.msg);
		else
			reply_error(s, id, has_id, error_class(rc), "%s failed: %s", c->name,
				    strerror(-rc));
		return;
	}
	reply(s, id, has_id, ret ? ret : json_object_new_object());
	if (rc == QMP_CLOSE)
		s->closing = true;
}

static void dispatch(struct qmp_session *s, struct json_object *req)
{
	struct json_object *id = NULL, *exec = NULL, *args = NULL, *empty = NULL;
	const struct qmp_command *c;
	bool has_id;

	if (!json_object_is_type(req, json_type_object)) {
		reply_error(s, NULL, false, "GenericError", "QMP input must be a JSON object");
		return;
	}
	has_id = json_object_object_get_ex(req, "id", &id);
	json_object_object_foreach(req, key, val)
	{
		(void)val;
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			reply_error(s, id, has_id, "GenericError",
				    "QMP input member '%s' is unexpected", key);
			return;
		}
	}
	if (!json_object_object_get_ex(req, "execute", &exec)) {
		reply_error(s, id, has_id, "GenericError", "QMP input lacks member 'execute'");
		return;
	}
	if (!json_object_is_type(exec, json_type_string)) {
		reply_error(s, id, has_id, "GenericError",
			    "QMP input member 'execute' must be a string");
		return;
	}
	if (json_object_object_get_ex(req, "arguments", &args)) {
		if (!json_object_is_type(args, json_type_object)) {
			reply_error(s, id, has_id, "GenericError",
				    "QMP input member 'arguments' must be an object");
			return;
		}
	} else {
		args = empty = json_object_new_object();
		if (!args)
			return;
	}

	if (str_is(exec, "qmp_capabilities")) {
		cmd_capabilities(s, args, id, has_id);
	} else if (!s->negotiated) {
		reply_error(s, id, has_id, "CommandNotFound",
			    "Expecting capabilities negotiation with 'qmp_capabilities'");
	} else if (str_is(exec, "query-commands")) {
		cmd_query_commands(s, args, id, has_id);
	} else {
		for (c = s->cmds; c && c->name && !str_is(exec, c->name); c++)
			;
		if (c && c->name)
			run_command(s, c, args, id, has_id);
		else
			reply_error(s, id, has_id, "CommandNotFound",
				    "The command %s has not been found",
				    json_object_get_string(exec));
	}
	json_object_put(empty);
}

/* json-c takes NaN and Infinity even in strict mode, and would write them back as such:
 * a request holding one is refused before its id could be echoed. Nesting is bounded by
 * the tokener, so the recursion is too. */
static bool all_finite(struct json_object *v)
{
	size_t i;

	switch (json_object_get_type(v)) {
	case json_type_double:
		return isfinite(json_object_get_double(v)) ||
		       strspn(json_object_get_string(v), "+-0123456789.eE") ==
			       strlen(json_object_get_string(v));
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			if (!all_finite(json_object_array_get_idx(v, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			if (!all_finite(val))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

/* Where a resynchronisation ends: a newline or another control character. */
static bool resync_byte(unsigned char c)
{
	return c < 0x20 && c != '\t' && c != '\r';
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void start_discard(struct qmp_session *s)
{
	json_tokener_reset(s->tok);
	s->pending = 0;
	s->discarding = true;
}

int qmp_session_input(struct qmp_session *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len && !s->closing) {
		struct json_object *obj;
		enum json_tokener_error jerr;
		size_t n, used;

		if (s->discarding) {
			for (n = 0; n < len && !resync_byte(p[n]); n++)
				;
			if (n == len)
				break;
			s->discarding = false;
			p += n + 1;
			len -= n + 1;
			continue;
		}
		if (!s->pending && is_ws(*p)) {
			p++;
			len--;
			continue;
		}
		/* Feed no more than can still fit, so one huge read is bounded too. */
		n = QMP_MAX_INPUT + 1 - s->pending;
		if (n > len)
			n = len;
		obj = json_tokener_parse_ex(s->tok, (const char *)p, (int)n);
		jerr = json_tokener_get_error(s->tok);
		used = json_tokener_get_parse_end(s->tok);
		if (jerr == json_tokener_continue) {
			s->pending += n;
			p += n;
			len -= n;
			if (s->pending > QMP_MAX_INPUT) {
				reply_error(s, NULL, false, "GenericError",
					    "QMP input exceeds %d bytes", QMP_MAX_INPUT);
				start_discard(s);
			}
			continue;
		}
		if (used > n)
			used = n;
		if (jerr != json_tokener_success) {
			reply_error(s, NULL, false, "GenericError", "JSON parse error, %s",
				    json_tokener_error_desc(jerr));
			start_discard(s);
			/* Discarding starts at the byte that was refused. */
			p += used;
			len -= used;
			continue;
		}
		json_tokener_reset(s->tok);
		s->pending = 0;
		p += used;
		len -= used;
		if (all_finite(obj))
			dispatch(s, obj);
		else
			reply_error(s, NULL, false, "GenericError",
				    "JSON parse error, NaN and Infinity are not JSON numbers");
		json_object_put(obj);
	}
	return s->closing ? QMP_CLOSE : 0;
}

/* Argument helpers. */

static int arg_get(struct json_object *args, const char *name, bool required,
		   struct json_object **val, struct error *err)
{
	if (args && json_object_object_get_ex(args, name, val))
		return 1;
	if (required)
		return error_set(err, -EINVAL, "Parameter '%s' is missing", name);
	return 0;
}

static int bad_type(const char *name, const char *type, struct error *err)
{
	return error_set(err, -EINVAL, "Invalid parameter type for '%s', expected: %s", name, type);
}

int qmp_arg_int(struct json_object *args, const char *name, bool required, int64_t *out,
		struct error *err)
{
	struct json_object *v;
	int rc = arg_get(args, name, required, &v, err);

	if (rc <= 0)
		return rc;
	/* json-c clamps an integer above INT64_MAX, which only its uint64 view reveals. */
	if (!json_object_is_type(v, json_type_int) ||
	    (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) != INT64_MAX))
		return bad_type(name, "integer", err);
	*out = json_object_get_int64(v);
	return 1;
}

int qmp_arg_u64(struct json_object *args, const char *name, bool required, uint64_t *out,
		struct error *err)
{
	struct json_object *v;
	int rc = arg_get(args, name, required, &v, err);

	if (rc <= 0)
		return rc;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return bad_type(name, "uint64", err);
	*out = json_object_get_uint64(v);
	return 1;
}

int qmp_arg_bool(struct json_object *args, const char *name, bool required, bool *out,
		 struct error *err)
{
	struct json_object *v;
	int rc = arg_get(args, name, required, &v, err);

	if (rc <= 0)
		return rc;
	if (!json_object_is_type(v, json_type_boolean))
		return bad_type(name, "boolean", err);
	*out = json_object_get_boolean(v);
	return 1;
}

int qmp_arg_string(struct json_object *args, const char *name, bool required, const char **out,
		   struct error *err)
{
	struct json_object *v;
	int rc = arg_get(args, name, required, &v, err);
	const char *str;

	if (rc <= 0)
		return rc;
	if (!json_object_is_type(v, json_type_string))
		return bad_type(name, "string", err);
	str = json_object_get_string(v);
	if (strlen(str) != (size_t)json_object_get_string_len(v))
		return error_set(err, -EINVAL, "Parameter '%s' must not contain a NUL character",
				 name);
	*out = str;
	return 1;
}

int qmp_args_check(struct json_object *args, const char *const *known, struct error *err)
{
	const char *const *k;

	if (!args)
		return 0;
	json_object_object_foreach(args, key, val)
	{
		(void)val;
		for (k = known; *k && strcmp(*k, key); k++)
			;
		if (!*k)
			return error_set(err, -EINVAL, "Parameter '%s' is unexpected", key);
	}
	return 0;
}
