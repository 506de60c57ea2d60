// SPDX-License-Identifier: MIT
#include "host/console.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "base/thread.h"
#include "devices/uart.h"
#include "host/sandbox.h"

#define CTRL_A 0x01

/* One terminal per process: the saved state lives where a fatal-signal handler can reach
 * it without locks. */
static struct termios console_saved;
static volatile sig_atomic_t console_saved_valid;
static int console_tty_fd = -1;

static void console_restore_tty(void)
{
	if (console_saved_valid)
		tcsetattr(console_tty_fd, TCSANOW, &console_saved);
}

/* A crash must not leave the user's terminal raw: restore it, then die as we would have. */
static void console_fatal_signal(int sig)
{
	console_restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int console_make_raw(struct console *c, struct error *err)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct termios raw;
	unsigned int i;

	if (tcgetattr(c->in_fd, &console_saved) < 0)
		return error_set(err, -errno, "stdin: tcgetattr: %s", strerror(errno));
	console_tty_fd = c->in_fd;
	console_saved_valid = 1;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction sa = {.sa_handler = console_fatal_signal};

		sigemptyset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
	raw = console_saved;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep the host's newline handling for our own messages */
	if (tcsetattr(c->in_fd, TCSANOW, &raw) < 0)
		return error_set(err, -errno, "stdin: tcsetattr: %s", strerror(errno));
	c->raw = true;
	return 0;
}

int console_init(struct console *c, enum console_kind kind, const char *path, struct error *err)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = -1;
	c->in_fd = -1;
	c->stop_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->room, NULL);
	c->drop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->drop_fd < 0)
		return error_set(err, -errno, "console: eventfd: %s", strerror(errno));
	switch (kind) {
	case CONSOLE_STDIO:
		c->out_fd = STDOUT_FILENO;
		c->in_fd = STDIN_FILENO;
		if (isatty(c->in_fd))
			return console_make_raw(c, err);
		break;
	case CONSOLE_FILE:
		c->out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (c->out_fd < 0)
			return error_set(err, -EINVAL, "--console file:%s: %s", path,
					 strerror(errno));
		break;
	case CONSOLE_NONE:
		break;
	}
	return 0;
}

void console_restore(struct console *c)
{
	if (!c->raw)
		return;
	console_restore_tty();
	console_saved_valid = 0;
	c->raw = false;
}

void console_restore_for_exit(void)
{
	console_restore_tty();
}

void console_destroy(struct console *c)
{
	console_stop(c);
	console_restore(c);
	if (c->out_fd > STDERR_FILENO)
		close(c->out_fd);
	c->out_fd = -1;
	/* Zero in a console that console_init never saw, as out_fd's check assumes too. */
	if (c->drop_fd > STDERR_FILENO)
		close(c->drop_fd);
	c->drop_fd = -1;
}

/*
 * A reader that went away (EPIPE) or a full disk must not stop the guest: drop output.
 * A reader that stops reading must not keep the VM from stopping: a vCPU blocked in
 * write() is not woken by its kick (SA_RESTART restarts the write), so it waits in poll()
 * for room or for console_drop_output, and writes at most PIPE_BUF bytes, which a pipe
 * with room takes without blocking.
 */
void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	while (len && c->out_fd >= 0) {
		struct pollfd p[2] = {{c->out_fd, POLLOUT, 0}, {c->drop_fd, POLLIN, 0}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (!p[0].revents && p[1].revents)
			return;
		n = write(c->out_fd, buf, len < PIPE_BUF ? len : PIPE_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void console_drop_output(struct console *c)
{
	uint64_t one = 1;

	if (write(c->drop_fd, &one, sizeof(one)) < 0) {
		/* Already signalled, or no console: nothing waits. */
	}
}

void console_wake(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	c->room_gen++;
	pthread_cond_signal(&c->room);
	pthread_mutex_unlock(&c->lock);
}

/* Ctrl-A x quits and Ctrl-A Ctrl-A sends one Ctrl-A; only on a raw terminal, where the
 * line discipline no longer turns Ctrl-C into SIGINT. */
static size_t console_filter(struct console *c, uint8_t *buf, size_t len, bool *quit)
{
	size_t i, out = 0;

	for (i = 0; i < len; i++) {
		if (c->escape) {
			c->escape = false;
			if (buf[i] == 'x') {
				*quit = true;
				return out;
			}
			if (buf[i] != CTRL_A)
				buf[out++] = CTRL_A;
			buf[out++] = buf[i];
		} else if (buf[i] == CTRL_A) {
			c->escape = true;
		} else {
			buf[out++] = buf[i];
		}
	}
	return out;
}

/* Hands buf to the UART, waiting for room whenever its FIFO is full. */
static void console_feed(struct console *c, const uint8_t *buf, size_t len)
{
	while (len) {
		unsigned long gen;
		size_t n;

		pthread_mutex_lock(&c->lock);
		gen = c->room_gen;
		pthread_mutex_unlock(&c->lock);
		n = uart_receive(c->uart, buf, len);
		buf += n;
		len -= n;
		if (!len)
			break;
		/* Full: wait until the guest reads a byte (console_wake), unless it already
		 * did between uart_receive and here. */
		pthread_mutex_lock(&c->lock);
		while (c->room_gen == gen && !c->stopping)
			pthread_cond_wait(&c->room, &c->lock);
		pthread_mutex_unlock(&c->lock);
		if (c->stopping)
			return;
	}
}

static void *console_reader(void *arg)
{
	struct console *c = arg;
	struct error err = {0};
	uint8_t buf[256];

	int ret = sandbox_enter(SANDBOX_CONSOLE, "console", &err);

	pthread_mutex_lock(&c->lock);
	c->filtered = true;
	pthread_cond_broadcast(&c->room);
	pthread_mutex_unlock(&c->lock);
	if (ret) {
		fprintf(stderr, "slabvm: %s: the guest gets no console input\n", err.msg);
		return NULL;
	}
	while (!c->stopping) {
		struct pollfd p[2] = {{c->in_fd, POLLIN, 0}, {c->stop_fd, POLLIN, 0}};
		bool quit = false;
		ssize_t n;
		size_t len;

		/* poll, unlike epoll, takes any stdin: a regular file is always readable. */
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(c->in_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* end of input: the guest simply gets no more */
		len = c->raw ? console_filter(c, buf, (size_t)n, &quit) : (size_t)n;
		console_feed(c, buf, len);
		if (quit) {
			c->quit(c->quit_ctx);
			break;
		}
	}
	return NULL;
}

int console_start(struct console *c, struct uart *u, void (*quit)(void *ctx), void *ctx,
		  struct error *err)
{
	sigset_t all, old;
	int ret;

	if (c->in_fd < 0)
		return 0;
	c->uart = u;
	c->quit = quit;
	c->quit_ctx = ctx;
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0)
		return error_set(err, -errno, "console: eventfd: %s", strerror(errno));
	/* The reader takes no signals: they belong to the main loop's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = thread_start(&c->reader, console_reader, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		close(c->stop_fd);
		c->stop_fd = -1;
		return error_set(err, -ret, "console thread: %s", strerror(ret));
	}
	c->started = true;
	/* The room condition doubles as the reader's "filtered" signal: it is broadcast. */
	pthread_mutex_lock(&c->lock);
	while (!c->filtered)
		pthread_cond_wait(&c->room, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Woken, not cancelled: cancelling a thread makes the C library load its unwinder then,
 * which the sandbox forbids (it maps code). */
void console_stop(struct console *c)
{
	uint64_t one = 1;

	if (!c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->room);
	pthread_mutex_unlock(&c->lock);
	if (write(c->stop_fd, &one, sizeof(one)) < 0) {
		/* Already signalled: the reader is on its way out. */
	}
	pthread_join(c->reader, NULL);
	close(c->stop_fd);
	c->stop_fd = -1;
	c->started = false;
}
