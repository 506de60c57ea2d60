// SPDX-License-Identifier: MIT
/*
 * Which way of giving a ballooned page back frees host memory when guest RAM is a shared
 * memfd mapping, as in slabvm: madvise(MADV_DONTNEED), madvise(MADV_REMOVE), or
 * fallocate(PUNCH_HOLE). For each, 256 MiB are written, released 4 KiB at a time, and the
 * memfd's allocated size (fstat st_blocks) and the process's RSS are printed, with the
 * time the releases took. A benchmark: it prints figures and asserts nothing.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIZE (256UL << 20)
#define PAGE 4096UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long memfd_mib(int fd)
{
	struct stat st;

	fstat(fd, &st);
	return (unsigned long)st.st_blocks * 512 >> 20;
}

static unsigned long rss_mib(void)
{
	unsigned long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (unsigned long)sysconf(_SC_PAGESIZE) >> 20;
}

static int release(int how, int fd, uint8_t *p, unsigned long off)
{
	switch (how) {
	case 0:
		return madvise(p + off, PAGE, MADV_DONTNEED);
	case 1:
		return madvise(p + off, PAGE, MADV_REMOVE);
	default:
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				 (off_t)PAGE);
	}
}

int main(void)
{
	static const char *const names[] = {"madvise(MADV_DONTNEED)", "madvise(MADV_REMOVE)",
					    "fallocate(PUNCH_HOLE)"};
	int how;

	for (how = 0; how < 3; how++) {
		int fd = memfd_create("release-bench", MFD_CLOEXEC);
		unsigned long off, before_fd, before_rss;
		uint8_t *p;
		double t;
		int failed = 0;

		if (fd < 0 || ftruncate(fd, SIZE) < 0)
			return 1;
		p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return 1;
		memset(p, 0xa5, SIZE);
		before_fd = memfd_mib(fd);
		before_rss = rss_mib();
		t = now();
		for (off = 0; off < SIZE; off += PAGE)
			failed |= release(how, fd, p, off) != 0;
		t = now() - t;
		printf("%-24s 256M in 4K pages: %.3f s%s; memfd %luM -> %luM, RSS %luM -> %luM, "
		       "first byte now 0x%02x\n",
		       names[how], t, failed ? " (some calls failed)" : "", before_fd, memfd_mib(fd),
		       before_rss, rss_mib(), p[0]);
		munmap(p, SIZE);
		close(fd);
	}
	return 0;
}
