/* peakrss OUT COMMAND [ARG...]: runs COMMAND and writes to OUT its peak resident set in KiB:
 * the VmHWM of its own address space, read from /proc when its main thread exits (a ptrace
 * exit stop: the address space is still there). The exit status is COMMAND's, 128 + N when
 * signal N ended it.
 *
 * GNU time's %M (the child's ru_maxrss) cannot tell a VMM's own peak when that is below
 * time's own resident set: Linux carries the resident set of the forked copy of time into
 * ru_maxrss across exec (about 1 MiB here). bench/startup starts every VMM through this. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static long vm_hwm(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	long peak = -1;
	int st, status = 1;
	FILE *out;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: peakrss OUT COMMAND [ARG...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("peakrss: fork");
		return 2;
	}
	if (!pid) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "peakrss: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
		fprintf(stderr, "peakrss: %s did not start\n", argv[2]);
		return 2;
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL));
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	for (;;) {
		int sig;

		if (waitpid(pid, &st, 0) != pid) {
			perror("peakrss: waitpid");
			return 2;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		sig = WSTOPSIG(st);
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			peak = vm_hwm(pid);
			sig = 0;
		}
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
	}
	out = fopen(argv[1], "w");
	if (!out || fprintf(out, "%ld\n", peak) < 0 || fclose(out)) {
		fprintf(stderr, "peakrss: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	return status;
}
