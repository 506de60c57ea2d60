// SPDX-License-Identifier: MIT
/* slabvm ctl: how NAME=VALUE arguments become a QMP request; --wait, --match, --timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control/ctl.h"

static const char *request(int argc, char **argv, struct json_object **req)
{
	struct error err = {0};

	if (ctl_build_request(argc, argv, req, &err))
		return NULL;
	return json_object_to_json_string_ext(*req, JSON_C_TO_STRING_PLAIN);
}

static void test_requests(void **state)
{
	struct json_object *req;
	char *a[] = {"balloon", "value=268435456"};
	char *b[] = {"query-balloon"};
	char *c[] = {"x", "s=hello world", "t=true", "n=null", "q=\"7\"", "f=1.5", "neg=-3"};
	char *hmp[] = {"human-monitor-command", "command-line=info registers -a"};
	char *partial[] = {"x", "a=1 2", "b=true story", "c=nan", "d=Infinity", "e= 5 "};
	char *obj[] = {"object-add", "qom-type=memory-backend-memfd", "id=m1", "size=8589934592"};
	char *dimm[] = {"device_add", "driver=pc-dimm",	 "id=d1",
			"memdev=m1",  "addr=4294967296", "slot=3"};

	(void)state;
	assert_string_equal(request(2, a, &req),
			    "{\"execute\":\"balloon\",\"arguments\":{\"value\":268435456}}");
	json_object_put(req);
	assert_string_equal(request(1, b, &req),
			    "{\"execute\":\"query-balloon\",\"arguments\":{}}");
	json_object_put(req);
	assert_string_equal(request(7, c, &req),
			    "{\"execute\":\"x\",\"arguments\":{\"s\":\"hello world\",\"t\":true,"
			    "\"n\":null,\"q\":\"7\",\"f\":1.5,\"neg\":-3}}");
	json_object_put(req);
	/* Only a whole scalar is one: the rest is not dropped, and JSON has no NaN. */
	assert_string_equal(request(6, partial, &req),
			    "{\"execute\":\"x\",\"arguments\":{\"a\":\"1 2\",\"b\":\"true story\","
			    "\"c\":\"nan\",\"d\":\"Infinity\",\"e\":5}}");
	json_object_put(req);
	/* A monitor command line, as the shell passes command-line="info registers -a". */
	assert_string_equal(request(2, hmp, &req),
			    "{\"execute\":\"human-monitor-command\",\"arguments\":"
			    "{\"command-line\":\"info registers -a\"}}");
	json_object_put(req);
	/* DIMMs: dashed names, sizes and addresses beyond 32 bits. */
	assert_string_equal(request(4, obj, &req),
			    "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":"
			    "\"memory-backend-memfd\",\"id\":\"m1\",\"size\":8589934592}}");
	json_object_put(req);
	assert_string_equal(request(6, dimm, &req),
			    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"pc-dimm\","
			    "\"id\":\"d1\",\"memdev\":\"m1\",\"addr\":4294967296,\"slot\":3}}");
	json_object_put(req);
}

static void test_refusals(void **state)
{
	struct json_object *req = NULL;
	struct error err = {0};
	char *noeq[] = {"balloon", "value"};
	char *noname[] = {"balloon", "=5"};
	char *obj[] = {"balloon", "value={\"a\":1}"};
	char *arr[] = {"balloon", "value=[1]"};
	char *empty[] = {""};

	(void)state;
	assert_int_equal(ctl_build_request(2, noeq, &req, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "NAME=VALUE"));
	assert_int_equal(ctl_build_request(2, noname, &req, &err), -EINVAL);
	assert_int_equal(ctl_build_request(2, obj, &req, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "scalars"));
	assert_int_equal(ctl_build_request(2, arr, &req, &err), -EINVAL);
	assert_int_equal(ctl_build_request(1, empty, &req, &err), -EINVAL);
	assert_int_equal(ctl_build_request(0, empty, &req, &err), -EINVAL);
	assert_null(req);
}

static struct json_object *parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static void test_options(void **state)
{
	struct ctl_options o;
	struct error err = {0};
	char *none[] = {"/tmp/s", "query-status"};
	char *all[] = {"--wait",  "ACPI_DEVICE_OST",  "--match",   "info.device=d1",
		       "--match", "info.status!=132", "--timeout", "2.5",
		       "/tmp/s",  "device_del",	      "id=d1"};
	char *dashdash[] = {"--", "x"};

	(void)state;
	assert_int_equal(ctl_parse_options(2, none, &o, &err), 0);
	assert_null(o.wait);
	assert_int_equal(o.timeout_ms, 30000);
	assert_int_equal(ctl_parse_options(11, all, &o, &err), 8);
	assert_string_equal(o.wait, "ACPI_DEVICE_OST");
	assert_int_equal(o.nmatch, 2);
	assert_string_equal(o.match[0].path, "info.device");
	assert_false(o.match[0].differ);
	assert_string_equal(json_object_get_string(o.match[0].value), "d1");
	assert_string_equal(o.match[1].path, "info.status");
	assert_true(o.match[1].differ);
	assert_int_equal(json_object_get_int(o.match[1].value), 132);
	assert_int_equal(o.timeout_ms, 2500);
	ctl_options_release(&o);
	/* "--" alone is not an option: it is the socket's name. */
	assert_int_equal(ctl_parse_options(2, dashdash, &o, &err), 0);
}

static void test_option_refusals(void **state)
{
	static const struct {
		int argc;
		char *argv[4];
		const char *msg;
	} bad[] = {
		{2, {"--wiat", "X"}, "--wiat: unknown option"},
		{1, {"--wait"}, "--wait needs a value"},
		{2, {"--wait", ""}, "needs an event name"},
		{4, {"--wait", "A", "--wait", "B"}, "one event only"},
		{2, {"--match", "a=1"}, "--match without --wait"},
		{2, {"--timeout", "5"}, "--timeout without --wait"},
		{4, {"--wait", "A", "--timeout", "0"}, "--timeout 0: want seconds"},
		{4, {"--wait", "A", "--timeout", "-1"}, "--timeout -1"},
		{4, {"--wait", "A", "--timeout", "5s"}, "--timeout 5s"},
		{4, {"--wait", "A", "--timeout", "nan"}, "--timeout nan"},
		{4, {"--wait", "A", "--timeout", "1e9"}, "at most 86400"},
		{4, {"--wait", "A", "--match", "status"}, "want PATH=VALUE"},
		{4, {"--wait", "A", "--match", "=1"}, "want PATH=VALUE"},
		{4, {"--wait", "A", "--match", "!=1"}, "PATH is NAME"},
		{4, {"--wait", "A", "--match", "a..b=1"}, "PATH is NAME"},
		{4, {"--wait", "A", "--match", ".a=1"}, "PATH is NAME"},
		{4, {"--wait", "A", "--match", "a=[1]"}, "VALUE is a JSON scalar"},
	};
	struct ctl_options o;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error err = {0};

		assert_int_equal(ctl_parse_options(bad[i].argc, (char **)bad[i].argv, &o, &err),
				 -EINVAL);
		assert_true(err.usage);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("case %u: \"%s\" does not say \"%s\"", i, err.msg, bad[i].msg);
	}
}

static void test_matches(void **state)
{
	struct ctl_options o;
	struct error err = {0};
	char *deleted[] = {"--wait", "DEVICE_DELETED"};
	char *ost[] = {"--wait",	 "ACPI_DEVICE_OST", "--match",
		       "info.device=d1", "--match",	    "info.status!=132"};
	char *nul[] = {"--wait", "E", "--match", "a=null", "--match", "b=\"7\""};
	struct json_object *dd = parse("{\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"d1\","
				       "\"path\":\"/machine/peripheral/d1\"},\"timestamp\":{}}");
	struct json_object *busy = parse("{\"event\":\"ACPI_DEVICE_OST\",\"data\":{\"info\":{"
					 "\"device\":\"d1\",\"slot\":\"0\",\"source\":3,"
					 "\"status\":130}}}");
	struct json_object *progress = parse("{\"event\":\"ACPI_DEVICE_OST\",\"data\":{\"info\":{"
					     "\"device\":\"d1\",\"source\":3,\"status\":132}}}");
	struct json_object *other = parse("{\"event\":\"ACPI_DEVICE_OST\",\"data\":{\"info\":{"
					  "\"device\":\"d2\",\"source\":3,\"status\":1}}}");
	struct json_object *nostatus = parse("{\"event\":\"ACPI_DEVICE_OST\",\"data\":{\"info\":{"
					     "\"device\":\"d1\"}}}");
	struct json_object *reply = parse("{\"return\":{}}");
	struct json_object *e1 = parse("{\"event\":\"E\",\"data\":{\"a\":null,\"b\":\"7\"}}");
	struct json_object *e2 = parse("{\"event\":\"E\",\"data\":{\"a\":null,\"b\":7}}");
	struct json_object *e3 = parse("{\"event\":\"E\",\"data\":{\"b\":\"7\"}}");

	(void)state;
	assert_int_equal(ctl_parse_options(2, deleted, &o, &err), 2);
	assert_true(ctl_event_matches(&o, dd));
	assert_false(ctl_event_matches(&o, busy));
	assert_false(ctl_event_matches(&o, reply));
	ctl_options_release(&o);

	assert_int_equal(ctl_parse_options(6, ost, &o, &err), 6);
	assert_true(ctl_event_matches(&o, busy));
	assert_false(ctl_event_matches(&o, progress)); /* != */
	assert_false(ctl_event_matches(&o, other));    /* another device */
	assert_false(ctl_event_matches(&o, nostatus)); /* != needs the member */
	assert_false(ctl_event_matches(&o, dd));
	ctl_options_release(&o);

	/* null is a value; a number is not a string. */
	assert_int_equal(ctl_parse_options(6, nul, &o, &err), 6);
	assert_true(ctl_event_matches(&o, e1));
	assert_false(ctl_event_matches(&o, e2));
	assert_false(ctl_event_matches(&o, e3));
	ctl_options_release(&o);

	json_object_put(dd);
	json_object_put(busy);
	json_object_put(progress);
	json_object_put(other);
	json_object_put(nostatus);
	json_object_put(reply);
	json_object_put(e1);
	json_object_put(e2);
	json_object_put(e3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests), cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_options),	 cmocka_unit_test(test_option_refusals),
		cmocka_unit_test(test_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
