/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allow-lists, in the kernel: a child process installs one thread kind's
 * filter, makes one system call, and exits 0 if the call went through. A forbidden call
 * must end the child with 128 + SIGSYS and the refusal naming the call and the thread on
 * stderr; an allowed one must reach the kernel (and fail there on a bad fd, which is fine).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/memfd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/sandbox.h"

#define REFUSED (128 + SIGSYS)

/* The call a child makes under the filter: 0 when it returned (whatever it returned). */
typedef void call_fn(void);

/* Runs call under kind's filter in a child; returns its exit status, stderr in out. */
static int sandboxed(enum sandbox_kind kind, const char *thread, bool block_all, call_fn *call,
		     char *out, size_t size)
{
	int fds[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct error err = {0};
		sigset_t all;

		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		if (block_all) {
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, NULL);
		}
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sandbox_enable(NULL, &err) ||
		    sandbox_enter(kind, thread, &err)) {
			fprintf(stderr, "setup: %s\n", err.msg);
			_exit(99);
		}
		call();
		_exit(0);
	}
	close(fds[1]);
	while (len + 1 < size && (n = read(fds[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* A child killed by a signal reads as -signal. */
	return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static void expect_refused(enum sandbox_kind kind, const char *thread, call_fn *call,
			   const char *what)
{
	char out[512], want[128];
	int status = sandboxed(kind, thread, false, call, out, sizeof(out));

	if (status != REFUSED)
		fail_msg("%s in thread %s: status %d, stderr \"%s\"", what, thread, status, out);
	snprintf(want, sizeof(want), "slabvm: seccomp: forbidden system call %s in thread %s", what,
		 thread);
	if (!strstr(out, want))
		fail_msg("wanted \"%s\" on stderr, got \"%s\"", want, out);
}

static void expect_allowed(enum sandbox_kind kind, call_fn *call)
{
	char out[512];
	int status = sandboxed(kind, "t", false, call, out, sizeof(out));

	if (status)
		fail_msg("status %d, stderr \"%s\"", status, out);
}

static void call_socket_inet(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
}

static void call_socket_unix(void)
{
	socket(AF_UNIX, SOCK_STREAM, 0);
}

static void call_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void call_mmap_rw(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(1);
	munmap(p, 4096);
}

static void call_mprotect_exec(void)
{
	static char page[4096] __attribute__((aligned(4096)));

	mprotect(page, sizeof(page), PROT_READ | PROT_EXEC);
}

static void call_ioctl_unknown(void)
{
	ioctl(-1, KVM_CREATE_VM, 0);
}

static void call_ioctl_run(void)
{
	if (ioctl(-1, KVM_RUN, 0) == 0 || errno != EBADF)
		_exit(1);
}

static void call_memfd_sealing(void)
{
	syscall(SYS_memfd_create, "x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

static void call_memfd_hugetlb(void)
{
	int fd = (int)syscall(SYS_memfd_create, "x", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);

	/* The kernel may refuse it (no hugetlbfs): only the filter's verdict matters here. */
	if (fd >= 0)
		close(fd);
}

static void call_memfd_plain(void)
{
	int fd = (int)syscall(SYS_memfd_create, "x", MFD_CLOEXEC);

	if (fd < 0)
		_exit(1);
	close(fd);
}

static void call_madvise_hugepage(void)
{
	static char page[2 << 20] __attribute__((aligned(4096)));

	madvise(page, sizeof(page), MADV_HUGEPAGE);
}

static void call_fallocate_punch(void)
{
	int fd = (int)syscall(SYS_memfd_create, "x", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 8192) < 0 ||
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) < 0)
		_exit(1);
	close(fd);
}

static void call_fallocate_collapse(void)
{
	fallocate(-1, FALLOC_FL_COLLAPSE_RANGE, 0, 4096);
}

static void call_sigaction_sigsys(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};

	sigaction(SIGSYS, &sa, NULL);
}

static __attribute__((unused)) void call_execve(void)
{
	char *const argv[] = {"true", NULL};

	execve("/bin/true", argv, argv + 1);
}

/* The vCPU filter: no sockets, no new code, no ioctl it does not make at run time. */
static void test_vcpu_refusals(void **state)
{
	(void)state;
	expect_refused(SANDBOX_VCPU, "vcpu0", call_socket_inet, "socket (41)");
	expect_refused(SANDBOX_VCPU, "vcpu0", call_mmap_exec, "mmap (9)");
	expect_refused(SANDBOX_VCPU, "vcpu3", call_mprotect_exec, "mprotect (10)");
	expect_refused(SANDBOX_VCPU, "vcpu0", call_ioctl_unknown, "ioctl (16)");
#ifndef SLABVM_SANITIZED /* the sanitizers' symbolizer is a program they start */
	expect_refused(SANDBOX_VCPU, "vcpu0", call_execve, "execve (59)");
#endif
	expect_refused(SANDBOX_VCPU, "vcpu0", call_fallocate_punch, "memfd_create (319)");
}

static void test_vcpu_allowed(void **state)
{
	(void)state;
	expect_allowed(SANDBOX_VCPU, call_ioctl_run);
	expect_allowed(SANDBOX_VCPU, call_mmap_rw);
}

/* The main loop: no socket of any family (it only accepts), memfds and fallocate only
 * the way guest memory uses them, no SIGSYS handler of its own. */
static void test_main_refusals(void **state)
{
	(void)state;
	expect_refused(SANDBOX_MAIN, "main", call_socket_inet, "socket (41)");
	expect_refused(SANDBOX_MAIN, "main", call_socket_unix, "socket (41)");
	expect_refused(SANDBOX_MAIN, "main", call_mmap_exec, "mmap (9)");
	expect_refused(SANDBOX_MAIN, "main", call_ioctl_unknown, "ioctl (16)");
	expect_refused(SANDBOX_MAIN, "main", call_ioctl_run, "ioctl (16)");
	expect_refused(SANDBOX_MAIN, "main", call_memfd_sealing, "memfd_create (319)");
	expect_refused(SANDBOX_MAIN, "main", call_fallocate_collapse, "fallocate (285)");
	expect_refused(SANDBOX_MAIN, "main", call_sigaction_sigsys, "rt_sigaction (13)");
}

static void test_main_allowed(void **state)
{
	(void)state;
	expect_allowed(SANDBOX_MAIN, call_fallocate_punch);
	expect_allowed(SANDBOX_MAIN, call_mmap_rw);
}

/* DIMM plug creates backing as guest RAM does: exactly the memfd flags and madvise of the
 * backing chosen (sandbox_set_backing), nothing else. */
static void test_main_backing(void **state)
{
	(void)state;
	/* The default: plain shmem memfds, no THP request. */
	expect_allowed(SANDBOX_MAIN, call_memfd_plain);
	expect_refused(SANDBOX_MAIN, "main", call_memfd_hugetlb, "memfd_create (319)");
#ifndef SLABVM_SANITIZED /* the sanitizers' shadow memory needs madvise of any kind */
	expect_refused(SANDBOX_MAIN, "main", call_madvise_hugepage, "madvise (28)");
#endif
	sandbox_set_backing(MFD_CLOEXEC, true);
	expect_allowed(SANDBOX_MAIN, call_madvise_hugepage);
	expect_allowed(SANDBOX_MAIN, call_memfd_plain);
#ifndef SLABVM_SANITIZED
	expect_refused(SANDBOX_VCPU, "vcpu0", call_madvise_hugepage, "madvise (28)");
#endif
	sandbox_set_backing(MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB, false);
	expect_allowed(SANDBOX_MAIN, call_memfd_hugetlb);
	expect_refused(SANDBOX_MAIN, "main", call_memfd_plain, "memfd_create (319)");
#ifndef SLABVM_SANITIZED
	expect_refused(SANDBOX_MAIN, "main", call_madvise_hugepage, "madvise (28)");
#endif
	expect_refused(SANDBOX_VCPU, "vcpu0", call_memfd_hugetlb, "memfd_create (319)");
	sandbox_set_backing(MFD_CLOEXEC, false);
}

/* The console reader may raise its interrupt line and nothing else of KVM's. */
static void test_console_refusals(void **state)
{
	(void)state;
	expect_refused(SANDBOX_CONSOLE, "console", call_ioctl_run, "ioctl (16)");
	expect_refused(SANDBOX_WATCHDOG, "watchdog", call_ioctl_run, "ioctl (16)");
}

/* A thread that blocks every signal (console, watchdog) still names the refusal. */
static void test_blocked_thread_names_it(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(
		sandboxed(SANDBOX_WATCHDOG, "watchdog", true, call_socket_inet, out, sizeof(out)),
		REFUSED);
	assert_non_null(strstr(out, "forbidden system call socket (41) in thread watchdog"));
}

/* Not enabled, sandbox_enter filters nothing (unit tests, slabvm ctl). */
static void test_disabled(void **state)
{
	struct error err = {0};
	int fd;

	(void)state;
	assert_false(sandbox_enabled());
	assert_int_equal(sandbox_enter(SANDBOX_VCPU, "vcpu0", &err), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_vcpu_refusals),
		cmocka_unit_test(test_vcpu_allowed),
		cmocka_unit_test(test_main_refusals),
		cmocka_unit_test(test_main_allowed),
		cmocka_unit_test(test_main_backing),
		cmocka_unit_test(test_console_refusals),
		cmocka_unit_test(test_blocked_thread_names_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
