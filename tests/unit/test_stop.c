// SPDX-License-Identifier: MIT
/* Why the VM stopped: the exit status of each reason, and what slabvm says on stderr. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/stop.h"

static struct stop make(enum stop_reason reason, int value, const char *detail)
{
	struct stop s = {.reason = reason, .value = value};

	snprintf(s.detail, sizeof(s.detail), "%s", detail);
	return s;
}

static void test_status(void **state)
{
	struct stop s;

	(void)state;
	s = make(STOP_GUEST_POWEROFF, 0, "");
	assert_int_equal(stop_status(&s), STOP_STATUS_POWEROFF);
	s = make(STOP_QMP_QUIT, 0, "");
	assert_int_equal(stop_status(&s), STOP_STATUS_POWEROFF);
	s = make(STOP_CONSOLE_QUIT, 0, "");
	assert_int_equal(stop_status(&s), STOP_STATUS_POWEROFF);
	s = make(STOP_GUEST_RESET, 0, "vCPU 0: triple fault");
	assert_int_equal(stop_status(&s), STOP_STATUS_RESET);
	s = make(STOP_VCPU_ERROR, 0, "x");
	assert_int_equal(stop_status(&s), STOP_STATUS_VCPU_ERROR);
	s = make(STOP_MONITOR_ERROR, 0, "x");
	assert_int_equal(stop_status(&s), STOP_STATUS_ERROR);
	/* Every byte the guest can write is its own status, 200 as much as 7. */
	s = make(STOP_DEBUG_EXIT, 7, "");
	assert_int_equal(stop_status(&s), 7);
	s = make(STOP_DEBUG_EXIT, 200, "");
	assert_int_equal(stop_status(&s), 200);
	s = make(STOP_SIGNAL, SIGTERM, "");
	assert_int_equal(stop_status(&s), 128 + SIGTERM);
	s = make(STOP_NR, 0, "");
	assert_int_equal(stop_status(&s), STOP_STATUS_ERROR);
}

/* The guest's own clean end is the one stop slabvm says nothing about. */
static void test_silent(void **state)
{
	char buf[64] = "untouched";
	struct stop s;

	(void)state;
	s = make(STOP_GUEST_POWEROFF, 0, "vCPU 0: system event shutdown");
	assert_int_equal(stop_message(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	strcpy(buf, "untouched");
	s = make(STOP_DEBUG_EXIT, 0, "");
	assert_int_equal(stop_message(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void expect(enum stop_reason reason, int value, const char *detail, const char *want)
{
	struct stop s = make(reason, value, detail);
	char buf[512];
	size_t n = stop_message(&s, buf, sizeof(buf));

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_messages(void **state)
{
	char sig[128];

	(void)state;
	expect(STOP_DEBUG_EXIT, 7, "", "the guest wrote 7 to the debug-exit port");
	expect(STOP_GUEST_RESET, 0, "vCPU 1: triple fault",
	       "the guest reset the machine: vCPU 1: triple fault");
	expect(STOP_VCPU_ERROR, 0, "vCPU 0: KVM internal error, suberror 1",
	       "stopped on a vCPU error: vCPU 0: KVM internal error, suberror 1");
	expect(STOP_MONITOR_ERROR, 0, "vCPU 1: thread: Resource temporarily unavailable",
	       "stopped on a monitor error: vCPU 1: thread: Resource temporarily unavailable");
	expect(STOP_MONITOR_ERROR, 0, "", "stopped on a monitor error");
	expect(STOP_QMP_QUIT, 0, "", "quit from the control socket");
	expect(STOP_CONSOLE_QUIT, 0, "", "quit from the console (Ctrl-A x)");
	snprintf(sig, sizeof(sig), "stopped by %s (signal %d, from process 42)", strsignal(SIGTERM),
		 SIGTERM);
	expect(STOP_SIGNAL, SIGTERM, "from process 42", sig);
	snprintf(sig, sizeof(sig), "stopped by %s (signal %d)", strsignal(SIGINT), SIGINT);
	expect(STOP_SIGNAL, SIGINT, "", sig);
}

/* Like snprintf: a short buffer gets a terminated prefix, the return is the whole length. */
static void test_truncated(void **state)
{
	struct stop s = make(STOP_QMP_QUIT, 0, "");
	char buf[5];

	(void)state;
	assert_int_equal(stop_message(&s, buf, sizeof(buf)),
			 strlen("quit from the control socket"));
	assert_string_equal(buf, "quit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_silent),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
