/* SPDX-License-Identifier: MIT */
/*
 * The console's output side: a reader that stops reading holds a vCPU in console_write
 * until the VM stops, and no longer (the VM's teardown joins that vCPU).
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/console.h"

struct writer {
	struct console *c;
	const uint8_t *buf;
	size_t len;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	console_write(w->c, w->buf, w->len);
	return NULL;
}

/* A pipe whose write end the console has, filled so that nothing more fits. */
static void full_pipe(struct console *c, int fds[2])
{
	static const uint8_t chunk[4096];
	int flags;

	assert_int_equal(pipe(fds), 0);
	flags = fcntl(fds[1], F_GETFL);
	assert_int_equal(fcntl(fds[1], F_SETFL, flags | O_NONBLOCK), 0);
	while (write(fds[1], chunk, sizeof(chunk)) > 0)
		;
	assert_int_equal(fcntl(fds[1], F_SETFL, flags), 0);
	c->out_fd = fds[1];
}

static void test_write_to_stalled_reader_ends_on_drop(void **state)
{
	static const uint8_t msg[] = "guest output nobody reads";
	struct error err = {0};
	struct console c;
	struct writer w = {&c, msg, sizeof(msg)};
	pthread_t t;
	int fds[2];

	(void)state;
	assert_int_equal(console_init(&c, CONSOLE_NONE, NULL, &err), 0);
	full_pipe(&c, fds);
	assert_int_equal(pthread_create(&t, NULL, writer_thread, &w), 0);
	/* Before the fix the writer sat in write() for good and this join never returned. */
	console_drop_output(&c);
	assert_int_equal(pthread_join(t, NULL), 0);
	c.out_fd = -1;
	console_destroy(&c);
	close(fds[0]);
	close(fds[1]);
}

static void test_output_still_written_after_drop_when_room(void **state)
{
	static const uint8_t msg[] = "last words";
	uint8_t got[sizeof(msg)];
	struct error err = {0};
	struct console c;
	int fds[2];

	(void)state;
	assert_int_equal(console_init(&c, CONSOLE_NONE, NULL, &err), 0);
	assert_int_equal(pipe(fds), 0);
	c.out_fd = fds[1];
	console_drop_output(&c);
	console_write(&c, msg, sizeof(msg));
	assert_int_equal(read(fds[0], got, sizeof(got)), sizeof(msg));
	assert_memory_equal(got, msg, sizeof(msg));
	c.out_fd = -1;
	console_destroy(&c);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_to_stalled_reader_ends_on_drop),
		cmocka_unit_test(test_output_still_written_after_drop_when_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
