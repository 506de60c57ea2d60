// SPDX-License-Identifier: MIT
/*
 * slabtest-memlock PID [BYTES]: another process's RLIMIT_MEMLOCK, through prlimit(2), for
 * testbed scenarios in level 1, whose busybox has no prlimit applet (and whose shell's
 * ulimit changes only its own).
 *
 * Prints PID's soft and hard limits in bytes ("unlimited" for none) as they were, then,
 * given BYTES, sets the soft limit to BYTES; the hard limit stays, or is raised to BYTES
 * if it was lower (which needs CAP_SYS_RESOURCE). Exit status 0, or 1 with a message.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* prlimit */
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>

static void print_limit(rlim_t v, const char *end)
{
	if (v == RLIM_INFINITY)
		printf("unlimited%s", end);
	else
		printf("%" PRIu64 "%s", (uint64_t)v, end);
}

static int parse(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct rlimit old, set;
	unsigned long long pid, bytes = 0;

	if ((argc != 2 && argc != 3) || parse(argv[1], &pid) || pid == 0 ||
	    (argc == 3 && parse(argv[2], &bytes))) {
		fprintf(stderr, "usage: slabtest-memlock PID [BYTES]\n");
		return 1;
	}
	if (prlimit((pid_t)pid, RLIMIT_MEMLOCK, NULL, &old) < 0) {
		fprintf(stderr, "slabtest-memlock: prlimit(%llu): %s\n", pid, strerror(errno));
		return 1;
	}
	if (argc == 3) {
		set.rlim_cur = (rlim_t)bytes;
		set.rlim_max = old.rlim_max != RLIM_INFINITY && old.rlim_max < set.rlim_cur
				       ? set.rlim_cur
				       : old.rlim_max;
		if (prlimit((pid_t)pid, RLIMIT_MEMLOCK, &set, NULL) < 0) {
			fprintf(stderr, "slabtest-memlock: prlimit(%llu, %llu): %s\n", pid, bytes,
				strerror(errno));
			return 1;
		}
	}
	print_limit(old.rlim_cur, " ");
	print_limit(old.rlim_max, "\n");
	return 0;
}
