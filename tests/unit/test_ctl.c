// SPDX-License-Identifier: MIT
/* slabvm ctl: how NAME=VALUE arguments become a QMP request. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
