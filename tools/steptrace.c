/* steptrace LO HI OUT COMMAND [ARG...]: runs COMMAND with every one of its threads
 * single-stepped under ptrace, and writes to OUT each distinct instruction address in
 * [LO, HI) (hexadecimal, without 0x) the first time it runs, one per line, in the order the
 * process first ran them. COMMAND's own output goes where this program's does; the exit
 * status is COMMAND's (128 + N when signal N ended it).
 *
 * tools/text-order uses it to learn which functions slabvm runs when it starts a VM. About
 * 50,000 steps a second: a demo run of slabvm takes a minute or more. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uint64_t lo, hi;
	unsigned long steps = 0;
	int live = 1, status = 1, st;
	uint8_t *seen;
	FILE *out;
	pid_t pid;

	if (argc < 5) {
		fprintf(stderr, "usage: steptrace LO HI OUT COMMAND [ARG...]\n");
		return 2;
	}
	lo = strtoull(argv[1], NULL, 16);
	hi = strtoull(argv[2], NULL, 16);
	if (hi <= lo || hi - lo > (1u << 30)) {
		fprintf(stderr, "steptrace: bad range %s-%s\n", argv[1], argv[2]);
		return 2;
	}
	seen = calloc(hi - lo, 1);
	out = fopen(argv[3], "w");
	if (!seen || !out) {
		fprintf(stderr, "steptrace: %s: %s\n", argv[3], strerror(errno));
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("steptrace: fork");
		return 2;
	}
	if (!pid) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execvp(argv[4], argv + 4);
		fprintf(stderr, "steptrace: %s: %s\n", argv[4], strerror(errno));
		_exit(127);
	}
	/* The stop at exec: from here every thread the command clones is traced too. */
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
		fprintf(stderr, "steptrace: %s did not start\n", argv[4]);
		return 2;
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL));
	ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL);
	while (live > 0) {
		struct user_regs_struct regs;
		pid_t t = waitpid(-1, &st, __WALL);
		int sig;

		if (t < 0)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			live--;
			if (t == pid)
				status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			continue;
		}
		sig = WSTOPSIG(st);
		if (st >> 16 == PTRACE_EVENT_CLONE)
			live++;
		/* Our own traps (each step, the clone event) and a new thread's first stop are
		 * not the command's signals; anything else is passed on. */
		if (sig == SIGTRAP || sig == SIGSTOP)
			sig = 0;
		if (!ptrace(PTRACE_GETREGS, t, NULL, &regs) && regs.rip >= lo && regs.rip < hi &&
		    !seen[regs.rip - lo]) {
			seen[regs.rip - lo] = 1;
			fprintf(out, "%llx\n", (unsigned long long)regs.rip);
		}
		steps++;
		ptrace(PTRACE_SINGLESTEP, t, NULL, (void *)(long)sig);
	}
	fprintf(stderr, "steptrace: %lu steps\n", steps);
	if (fclose(out)) {
		fprintf(stderr, "steptrace: %s: %s\n", argv[3], strerror(errno));
		return 2;
	}
	return status;
}
