// SPDX-License-Identifier: MIT
/* The QMP engine: greeting, negotiation, request checks, dispatch, framing and resync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json_tokener.h>

#include "config.h"
#include "control/qmp.h"

#define MAX_MSGS 64

/* Every message the session wrote, parsed, in order. */
struct out {
	struct json_object *msg[MAX_MSGS];
	int n, taken;
};

static void out_write(void *opaque, const char *buf, size_t len)
{
	struct out *o = opaque;
	struct json_tokener *tok;

	assert_true(len >= 2);
	assert_memory_equal(buf + len - 2, "\r\n", 2);
	assert_true(o->n < MAX_MSGS);
	assert_null(memchr(buf, '\n', len - 1));
	tok = json_tokener_new();
	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o->msg[o->n] = json_tokener_parse_ex(tok, buf, (int)len - 2);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), len - 2);
	json_tokener_free(tok);
	assert_true(json_object_is_type(o->msg[o->n], json_type_object));
	o->n++;
}

/* The next unread message. */
static struct json_object *next(struct out *o)
{
	assert_true(o->taken < o->n);
	return o->msg[o->taken++];
}

static void out_clear(struct out *o)
{
	int i;

	for (i = 0; i < o->n; i++)
		json_object_put(o->msg[i]);
	o->n = o->taken = 0;
}

static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(obj, key, &v));
	return v;
}

static bool has(struct json_object *obj, const char *key)
{
	return json_object_object_get_ex(obj, key, NULL);
}

/* Checks that msg is an error of class cls whose desc contains desc. */
static void expect_error(struct json_object *msg, const char *cls, const char *desc)
{
	struct json_object *e = member(msg, "error");

	assert_false(has(msg, "return"));
	assert_string_equal(json_object_get_string(member(e, "class")), cls);
	if (!strstr(json_object_get_string(member(e, "desc")), desc))
		fail_msg("desc \"%s\" lacks \"%s\"", json_object_get_string(member(e, "desc")),
			 desc);
}

static struct json_object *expect_return(struct json_object *msg)
{
	assert_false(has(msg, "error"));
	return member(msg, "return");
}

/* Test commands. */
struct ctx {
	int calls;
	int64_t a;
	uint64_t u;
	bool flag;
	char s[32]; /* args are gone once the handler returns */
};

static int cmd_add(void *opaque, struct json_object *args, struct json_object **ret,
		   struct error *err)
{
	static const char *const known[] = {"a", "u", "flag", "s", NULL};
	struct ctx *c = opaque;
	int64_t a = 0;
	uint64_t u = 0;
	bool flag = false;
	const char *s = "none";
	int rc;

	c->calls++;
	if ((rc = qmp_args_check(args, known, err)) < 0 ||
	    (rc = qmp_arg_int(args, "a", true, &a, err)) < 0 ||
	    (rc = qmp_arg_u64(args, "u", false, &u, err)) < 0 ||
	    (rc = qmp_arg_bool(args, "flag", false, &flag, err)) < 0 ||
	    (rc = qmp_arg_string(args, "s", false, &s, err)) < 0)
		return rc;
	c->a = a;
	c->u = u;
	c->flag = flag;
	snprintf(c->s, sizeof(c->s), "%s", s);
	*ret = json_object_new_int64(a + (int64_t)u);
	return 0;
}

static int cmd_fail(void *opaque, struct json_object *args, struct json_object **ret,
		    struct error *err)
{
	(void)opaque;
	(void)args;
	(void)ret;
	return error_set(err, -ENODEV, "Device 'x' not found");
}

static int cmd_quit(void *opaque, struct json_object *args, struct json_object **ret,
		    struct error *err)
{
	(void)opaque;
	(void)args;
	(void)ret;
	(void)err;
	return QMP_CLOSE;
}

static const struct qmp_command cmds[] = {
	{"add", cmd_add},
	{"fail", cmd_fail},
	{"quit", cmd_quit},
	{NULL, NULL},
};

struct fixture {
	struct out out;
	struct ctx ctx;
	struct qmp_session *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error err = {0};

	assert_non_null(f);
	f->s = qmp_session_new(cmds, &f->ctx, out_write, &f->out, &err);
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	qmp_session_free(f->s);
	out_clear(&f->out);
	free(f);
	return 0;
}

static void feed(struct fixture *f, const char *str)
{
	qmp_session_input(f->s, str, strlen(str));
}

/* Skips the greeting and negotiates. */
static void negotiate(struct fixture *f)
{
	next(&f->out);
	feed(f, "{\"execute\": \"qmp_capabilities\"}\n");
	assert_int_equal(json_object_object_length(expect_return(next(&f->out))), 0);
	assert_true(qmp_session_command_mode(f->s));
}

static void test_greeting(void **state)
{
	struct fixture *f = *state;
	struct json_object *qmp, *ver, *qemu;
	int major = -1, minor = -1, micro = -1;

	assert_int_equal(f->out.n, 1);
	qmp = member(next(&f->out), "QMP");
	ver = member(qmp, "version");
	qemu = member(ver, "qemu");
	assert_int_equal(sscanf(SLABVM_VERSION, "%d.%d.%d", &major, &minor, &micro), 3);
	assert_int_equal(json_object_get_int(member(qemu, "major")), major);
	assert_int_equal(json_object_get_int(member(qemu, "minor")), minor);
	assert_int_equal(json_object_get_int(member(qemu, "micro")), micro);
	assert_string_equal(json_object_get_string(member(ver, "package")), "slabvm");
	assert_true(json_object_is_type(member(qmp, "capabilities"), json_type_array));
	assert_int_equal(json_object_array_length(member(qmp, "capabilities")), 0);
	assert_false(qmp_session_command_mode(f->s));
}

static void test_negotiation_required(void **state)
{
	struct fixture *f = *state;

	next(&f->out);
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 1}, \"id\": 7}");
	feed(f, "{\"execute\": \"query-commands\"}");
	expect_error(next(&f->out), "CommandNotFound", "qmp_capabilities");
	expect_error(next(&f->out), "CommandNotFound", "qmp_capabilities");
	assert_int_equal(f->ctx.calls, 0);
	/* Events wait for command mode too (and the data is still released). */
	qmp_session_event(f->s, "STOP", json_object_new_object());
	assert_int_equal(f->out.n, 3);

	feed(f, "{\"execute\": \"qmp_capabilities\"}");
	expect_return(next(&f->out));
	feed(f, "{\"execute\": \"qmp_capabilities\"}");
	expect_error(next(&f->out), "CommandNotFound", "already complete");
}

static void test_capabilities_enable(void **state)
{
	struct fixture *f = *state;

	next(&f->out);
	feed(f, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}");
	expect_error(next(&f->out), "GenericError", "Capability 'oob' not available");
	feed(f, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"x\": 1}}");
	expect_error(next(&f->out), "GenericError", "Parameter 'x' is unexpected");
	assert_false(qmp_session_command_mode(f->s));
	feed(f, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": []}}");
	expect_return(next(&f->out));
	assert_true(qmp_session_command_mode(f->s));
}

static void test_command_with_arguments(void **state)
{
	struct fixture *f = *state;
	struct json_object *msg;

	negotiate(f);
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": -5, \"u\": 18446744073709551615, "
		"\"flag\": true, \"s\": \"h\\u00e9\"}}");
	msg = next(&f->out);
	expect_return(msg);
	assert_false(has(msg, "id"));
	assert_int_equal(f->ctx.calls, 1);
	assert_int_equal(f->ctx.a, -5);
	assert_true(f->ctx.u == UINT64_MAX);
	assert_true(f->ctx.flag);
	assert_string_equal(f->ctx.s, "h\xc3\xa9");

	/* Optional arguments left out keep the handler's defaults. */
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 40}}");
	assert_int_equal(json_object_get_int64(expect_return(next(&f->out))), 40);
	assert_int_equal(f->ctx.u, 0);
	assert_false(f->ctx.flag);
	assert_string_equal(f->ctx.s, "none");
}

static void test_id_echoed(void **state)
{
	struct fixture *f = *state;
	struct json_object *id;

	negotiate(f);
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 1}, \"id\": 42}");
	assert_int_equal(json_object_get_int(member(next(&f->out), "id")), 42);
	feed(f, "{\"id\": \"abc\", \"execute\": \"add\", \"arguments\": {\"a\": 1}}");
	assert_string_equal(json_object_get_string(member(next(&f->out), "id")), "abc");
	feed(f, "{\"execute\": \"nope\", \"id\": {\"k\": [1, null]}}");
	id = member(next(&f->out), "id");
	assert_true(json_object_is_type(id, json_type_object));
	assert_int_equal(json_object_array_length(member(id, "k")), 2);
	/* An id of null is still an id, and errors carry it too. */
	feed(f, "{\"execute\": \"fail\", \"id\": null}");
	assert_null(member(f->out.msg[f->out.taken], "id"));
	expect_error(next(&f->out), "DeviceNotFound", "Device 'x' not found");
}

static void test_unknown_command(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	feed(f, "{\"execute\": \"frobnicate\", \"id\": 1}");
	expect_error(next(&f->out), "CommandNotFound", "The command frobnicate has not been found");
	/* A name with a NUL inside does not match the command it starts with. */
	feed(f, "{\"execute\": \"quit\\u0000x\"}");
	expect_error(next(&f->out), "CommandNotFound", "has not been found");
	assert_false(qmp_session_closing(f->s));
}

static void test_bad_arguments(void **state)
{
	static const struct {
		const char *args, *desc;
	} cases[] = {
		{"{}", "Parameter 'a' is missing"},
		{"{\"a\": \"1\"}", "Invalid parameter type for 'a', expected: integer"},
		{"{\"a\": 1.5}", "Invalid parameter type for 'a', expected: integer"},
		{"{\"a\": 9223372036854775808}",
		 "Invalid parameter type for 'a', expected: integer"},
		{"{\"a\": 1, \"u\": -1}", "Invalid parameter type for 'u', expected: uint64"},
		{"{\"a\": 1, \"flag\": 1}", "Invalid parameter type for 'flag', expected: boolean"},
		{"{\"a\": 1, \"s\": null}", "Invalid parameter type for 's', expected: string"},
		{"{\"a\": 1, \"s\": \"x\\u0000y\"}", "must not contain a NUL"},
		{"{\"a\": 1, \"b\": 2}", "Parameter 'b' is unexpected"},
	};
	struct fixture *f = *state;
	char req[256];
	size_t i;

	negotiate(f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "{\"execute\": \"add\", \"arguments\": %s}",
			 cases[i].args);
		feed(f, req);
		expect_error(next(&f->out), "GenericError", cases[i].desc);
	}
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 9223372036854775807}}");
	assert_true(json_object_get_int64(expect_return(next(&f->out))) == INT64_MAX);
}

static void test_bad_request_shape(void **state)
{
	static const struct {
		const char *req, *desc;
	} cases[] = {
		{"[1, 2]", "QMP input must be a JSON object"},
		{"3 ", "QMP input must be a JSON object"},
		{"\"execute\"", "QMP input must be a JSON object"},
		{"null ", "QMP input must be a JSON object"},
		{"{}", "QMP input lacks member 'execute'"},
		{"{\"execute\": 1}", "QMP input member 'execute' must be a string"},
		{"{\"execute\": \"add\", \"arguments\": [1]}",
		 "QMP input member 'arguments' must be an object"},
		{"{\"execute\": \"add\", \"extra\": 1}", "QMP input member 'extra' is unexpected"},
	};
	struct fixture *f = *state;
	size_t i;

	negotiate(f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		feed(f, cases[i].req);
		expect_error(next(&f->out), "GenericError", cases[i].desc);
	}
	assert_int_equal(f->out.n, f->out.taken);
	assert_int_equal(f->ctx.calls, 0);
}

static void test_handler_error(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	feed(f, "{\"execute\": \"fail\", \"id\": 3}");
	expect_error(next(&f->out), "DeviceNotFound", "Device 'x' not found");
}

static void test_malformed_then_good(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	feed(f, "{\"execute\": ]\n");
	expect_error(next(&f->out), "GenericError", "JSON parse error");
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 2}, \"id\": 1}\n");
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 2);

	/* Error and recovery inside one read; the rest of the bad line is dropped. */
	feed(f, "{\"a\": 1,, } {\"execute\": \"add\"}\n{\"execute\": \"add\", \"arguments\": "
		"{\"a\": 3}}\n");
	expect_error(next(&f->out), "GenericError", "JSON parse error");
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 3);
	assert_int_equal(f->out.n, f->out.taken);

	/* Invalid UTF-8 and a stray closing bracket. */
	feed(f, "{\"execute\": \"\xff\"}\n}\n");
	expect_error(next(&f->out), "GenericError", "JSON parse error");
	expect_error(next(&f->out), "GenericError", "JSON parse error");
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 4}}");
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 4);
	assert_int_equal(f->ctx.calls, 3);

	/* json-c reads NaN and Infinity, which must not be echoed back as an id. */
	feed(f, "{\"execute\": \"add\", \"id\": NaN}{\"execute\": \"add\", \"id\": [-Infinity]}");
	expect_error(f->out.msg[f->out.taken], "GenericError", "JSON parse error");
	assert_false(has(next(&f->out), "id"));
	expect_error(f->out.msg[f->out.taken], "GenericError", "JSON parse error");
	assert_false(has(next(&f->out), "id"));
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 5}, \"id\": 1e999}");
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 5);
	assert_int_equal(f->out.n, f->out.taken);
}

static void test_split_input(void **state)
{
	static const char req[] =
		"  {\"execute\": \"add\", \"arguments\": {\"a\": 12345, \"s\": \"a\\u00e9b\"}, "
		"\"id\": [\"x\"]}\r\n";
	struct fixture *f = *state;
	size_t i;

	negotiate(f);
	/* One byte at a time: nothing until the closing brace. */
	for (i = 0; i < strlen(req); i++) {
		assert_int_equal(f->out.n, f->out.taken);
		qmp_session_input(f->s, req + i, 1);
		if (req[i] == '}' && req[i + 1] == '\r')
			break;
	}
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 12345);
	qmp_session_input(f->s, req + i + 1, strlen(req) - i - 1);
	assert_int_equal(f->out.n, f->out.taken);

	/* A number split across reads is not cut short. */
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 12");
	feed(f, "34");
	assert_int_equal(f->out.n, f->out.taken);
	feed(f, "}}");
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 1234);
}

static void test_two_objects_one_read(void **state)
{
	struct fixture *f = *state;

	next(&f->out);
	feed(f, "{\"execute\": \"qmp_capabilities\", \"id\": 1}{\"execute\": \"add\", "
		"\"arguments\": {\"a\": 5}, \"id\": 2}\n\t {\"execute\": \"query-commands\", "
		"\"id\": 3}");
	assert_int_equal(f->out.n, 4);
	assert_int_equal(json_object_get_int(member(next(&f->out), "id")), 1);
	assert_int_equal(json_object_get_int(expect_return(f->out.msg[f->out.taken])), 5);
	assert_int_equal(json_object_get_int(member(next(&f->out), "id")), 2);
	{
		struct json_object *list = expect_return(next(&f->out));
		const char *want[] = {"qmp_capabilities", "query-commands", "add", "fail", "quit"};
		size_t i;

		assert_int_equal(json_object_array_length(list), 5);
		for (i = 0; i < 5; i++)
			assert_string_equal(json_object_get_string(member(
						    json_object_array_get_idx(list, i), "name")),
					    want[i]);
	}
}

static void test_oversized(void **state)
{
	struct fixture *f = *state;
	size_t len = QMP_MAX_INPUT * 2;
	char *big = malloc(len);
	size_t i;

	assert_non_null(big);
	negotiate(f);
	/* An endless string in one read, then in small ones after a resync: one error each. */
	strcpy(big, "{\"execute\": \"add\", \"arguments\": {\"s\": \"");
	memset(big + strlen(big), 'x', len - strlen(big));
	qmp_session_input(f->s, big, len);
	expect_error(next(&f->out), "GenericError", "exceeds 65536 bytes");
	assert_int_equal(f->out.n, f->out.taken);
	feed(f, "\n");
	for (i = 0; i < len; i += 1000)
		qmp_session_input(f->s, big + i, len - i < 1000 ? len - i : 1000);
	expect_error(next(&f->out), "GenericError", "exceeds 65536 bytes");
	assert_int_equal(f->out.n, f->out.taken);
	feed(f, "\"}}\n{\"execute\": \"add\", \"arguments\": {\"a\": 6}}");
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 6);

	/* A request just under the limit is fine. */
	memset(big, ' ', len);
	memcpy(big, "{\"execute\": \"add\", \"arguments\": {\"a\": 7}",
	       strlen("{\"execute\": \"add\", \"arguments\": {\"a\": 7}"));
	big[QMP_MAX_INPUT - 1] = '}';
	qmp_session_input(f->s, big, QMP_MAX_INPUT);
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 7);

	/* Nesting past the limit is a parse error. */
	memset(big, '[', QMP_MAX_DEPTH + 1);
	big[QMP_MAX_DEPTH + 1] = '\n';
	qmp_session_input(f->s, big, QMP_MAX_DEPTH + 2);
	expect_error(next(&f->out), "GenericError", "JSON parse error");
	feed(f, "{\"execute\": \"add\", \"arguments\": {\"a\": 8}}");
	assert_int_equal(json_object_get_int(expect_return(next(&f->out))), 8);
	free(big);
}

static void test_quit_closes(void **state)
{
	struct fixture *f = *state;
	const char *req = "{\"execute\": \"quit\", \"id\": 9}{\"execute\": \"add\", "
			  "\"arguments\": {\"a\": 1}}";

	negotiate(f);
	assert_int_equal(qmp_session_input(f->s, req, strlen(req)), QMP_CLOSE);
	assert_int_equal(json_object_get_int(member(next(&f->out), "id")), 9);
	assert_int_equal(f->out.n, f->out.taken);
	assert_true(qmp_session_closing(f->s));
	assert_int_equal(f->ctx.calls, 0);
}

static void test_events(void **state)
{
	struct fixture *f = *state;
	struct json_object *data = json_object_new_object(), *msg, *ts;

	negotiate(f);
	json_object_object_add(data, "reason", json_object_new_string("host-qmp-quit"));
	/* The event consumes one reference: ours stays valid. */
	qmp_session_event(f->s, "SHUTDOWN", json_object_get(data));
	qmp_session_event(f->s, "STOP", NULL);
	assert_string_equal(json_object_get_string(member(data, "reason")), "host-qmp-quit");
	assert_int_equal(json_object_put(data), 1);

	msg = next(&f->out);
	assert_string_equal(json_object_get_string(member(msg, "event")), "SHUTDOWN");
	assert_string_equal(json_object_get_string(member(member(msg, "data"), "reason")),
			    "host-qmp-quit");
	ts = member(msg, "timestamp");
	assert_true(json_object_get_int64(member(ts, "seconds")) > 1600000000);
	assert_in_range(json_object_get_int64(member(ts, "microseconds")), 0, 999999);
	assert_false(has(msg, "return") || has(msg, "error"));
	msg = next(&f->out);
	assert_string_equal(json_object_get_string(member(msg, "event")), "STOP");
	assert_false(has(msg, "data"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negotiation_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_with_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_echoed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_request_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_then_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_objects_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quit_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
