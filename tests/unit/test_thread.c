// SPDX-License-Identifier: MIT
/* thread_start: the thread runs, gets its argument, and has a stack of THREAD_STACK_SIZE,
 * below 2 MiB so that transparent huge pages can never back it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/thread.h"

struct seen {
	int arg;
	size_t stack_size;
	int getattr;
};

static void *record(void *p)
{
	struct seen *s = p;
	pthread_attr_t attr;
	void *addr;

	s->arg = 42;
	s->getattr = pthread_getattr_np(pthread_self(), &attr);
	if (!s->getattr) {
		s->getattr = pthread_attr_getstack(&attr, &addr, &s->stack_size);
		pthread_attr_destroy(&attr);
	}
	return p;
}

static void test_runs_with_small_stack(void **state)
{
	struct seen s = {0};
	pthread_t t;
	void *ret = NULL;

	(void)state;
	assert_int_equal(thread_start(&t, record, &s), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_ptr_equal(ret, &s);
	assert_int_equal(s.arg, 42);
	assert_int_equal(s.getattr, 0);
	assert_int_equal(s.stack_size, THREAD_STACK_SIZE);
	assert_true(s.stack_size < (2u << 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_with_small_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
