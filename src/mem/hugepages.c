// SPDX-License-Identifier: MIT
#include "mem/hugepages.h"

#include <inttypes.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/size.h"

#define HUGEPAGES_SYSFS "/sys/kernel/mm"

const char *hugepages_mode_name(enum hugepages_mode m)
{
	switch (m) {
	case HUGEPAGES_OFF:
		return "off";
	case HUGEPAGES_THP:
		return "thp";
	case HUGEPAGES_HUGETLB:
		return "hugetlb";
	}
	return "?";
}

int hugepages_parse(const char *arg, struct hugepages_config *out, struct error *err)
{
	const char *msg = "--hugepages %s: use off, thp, hugetlb, hugetlb:2M or hugetlb:1G";

	out->size = 0;
	if (!strcmp(arg, "off")) {
		out->mode = HUGEPAGES_OFF;
	} else if (!strcmp(arg, "thp")) {
		out->mode = HUGEPAGES_THP;
	} else if (!strncmp(arg, "hugetlb", 7)) {
		out->mode = HUGEPAGES_HUGETLB;
		if (!strcmp(arg + 7, ":2M") || !strcmp(arg + 7, ":2m") || !arg[7])
			out->size = HUGEPAGES_SIZE_2M;
		else if (!strcmp(arg + 7, ":1G") || !strcmp(arg + 7, ":1g"))
			out->size = HUGEPAGES_SIZE_1G;
		else
			return error_set(err, -EINVAL, msg, arg);
	} else {
		return error_set(err, -EINVAL, msg, arg);
	}
	return 0;
}

uint64_t hugepages_page_size(const struct hugepages_config *cfg)
{
	switch (cfg->mode) {
	case HUGEPAGES_HUGETLB:
		return cfg->size ? cfg->size : HUGEPAGES_SIZE_2M;
	case HUGEPAGES_THP:
		return HUGEPAGES_SIZE_2M;
	case HUGEPAGES_OFF:
		break;
	}
	return 4096;
}

unsigned int hugepages_memfd_flags(const struct hugepages_config *cfg)
{
	if (cfg->mode != HUGEPAGES_HUGETLB)
		return MFD_CLOEXEC;
	return MFD_CLOEXEC | MFD_HUGETLB |
	       (hugepages_page_size(cfg) == HUGEPAGES_SIZE_1G ? MFD_HUGE_1GB : MFD_HUGE_2MB);
}

/* The first line of sysfs file dir/name, without its newline; false if it cannot be read. */
static bool read_line(const struct hugepages_config *cfg, const char *name, char *buf, size_t n)
{
	char path[256];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", cfg->sysfs ? cfg->sysfs : HUGEPAGES_SYSFS, name);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, (int)n, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* The bracketed word of a sysfs choice ("always [advise] never"), in buf. */
static bool read_choice(const struct hugepages_config *cfg, const char *name, char *buf, size_t n)
{
	char line[256], *open, *close;

	if (!read_line(cfg, name, line, sizeof(line)))
		return false;
	open = strchr(line, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!close || (size_t)(close - open - 1) >= n)
		return false;
	memcpy(buf, open + 1, (size_t)(close - open - 1));
	buf[close - open - 1] = '\0';
	return true;
}

/*
 * The word that decides whether THP backs a MADV_HUGEPAGE mapping of one kind: the 2 MiB
 * size's own file under transparent_hugepage/hugepages-2048kB/ (since Linux 6.8 for
 * anonymous memory, 6.11 for shmem; "inherit" defers), else the global one. *setting gets
 * the word, one of words (or "unknown": then false); true when it is one of yes.
 */
static bool thp_choice(const struct hugepages_config *cfg, const char *file,
		       const char *const *words, size_t nwords, size_t nyes, const char **setting)
{
	char name[96], w[32];
	size_t i;
	bool ok;

	*setting = "unknown";
	snprintf(name, sizeof(name), "transparent_hugepage/hugepages-2048kB/%s", file);
	ok = read_choice(cfg, name, w, sizeof(w));
	if (!ok || !strcmp(w, "inherit")) {
		snprintf(name, sizeof(name), "transparent_hugepage/%s", file);
		ok = read_choice(cfg, name, w, sizeof(w));
	}
	if (!ok)
		return false;
	for (i = 0; i < nwords; i++)
		if (!strcmp(w, words[i])) {
			*setting = words[i];
			return i < nyes;
		}
	return false;
}

bool hugepages_thp_honoured(const struct hugepages_config *cfg, const char **setting)
{
	/* The first four honour MADV_HUGEPAGE. */
	static const char *const words[] = {"always", "within_size", "advise", "force",
					    "never",  "deny",	     "inherit"};

	return thp_choice(cfg, "shmem_enabled", words, sizeof(words) / sizeof(words[0]), 4,
			  setting);
}

bool hugepages_thp_anon_honoured(const struct hugepages_config *cfg, const char **setting)
{
	static const char *const words[] = {"always", "madvise", "never", "inherit"};

	return thp_choice(cfg, "enabled", words, sizeof(words) / sizeof(words[0]), 2, setting);
}

bool hugepages_thp_anon(const struct hugepages_config *cfg)
{
	const char *w;

	return cfg->mode == HUGEPAGES_THP && !hugepages_thp_honoured(cfg, &w) &&
	       hugepages_thp_anon_honoured(cfg, &w);
}

static bool read_count(const struct hugepages_config *cfg, const char *name, uint64_t *v)
{
	char path[64], line[32], *end;

	snprintf(path, sizeof(path), "hugepages/hugepages-%" PRIu64 "kB/%s",
		 hugepages_page_size(cfg) >> 10, name);
	if (!read_line(cfg, path, line, sizeof(line)))
		return false;
	*v = strtoull(line, &end, 10);
	return end != line && !*end;
}

int hugepages_available(const struct hugepages_config *cfg, uint64_t *avail)
{
	uint64_t free_p, resv, over = 0, surplus = 0;

	if (!read_count(cfg, "free_hugepages", &free_p) ||
	    !read_count(cfg, "resv_hugepages", &resv))
		return -ENOENT;
	/* Older kernels lack neither; a pool without them cannot grow past its size. */
	if (!read_count(cfg, "nr_overcommit_hugepages", &over) ||
	    !read_count(cfg, "surplus_hugepages", &surplus))
		over = surplus = 0;
	*avail = (free_p > resv ? free_p - resv : 0) + (over > surplus ? over - surplus : 0);
	return 0;
}

/* The option as a user would write it back, for messages. */
static const char *hugetlb_name(const struct hugepages_config *cfg)
{
	return hugepages_page_size(cfg) == HUGEPAGES_SIZE_1G ? "hugetlb:1G" : "hugetlb";
}

int hugepages_check_granule(const struct hugepages_config *cfg, uint64_t granule, struct error *err)
{
	uint64_t hp = hugepages_page_size(cfg);
	const char *name = hugetlb_name(cfg);

	if (cfg->mode != HUGEPAGES_HUGETLB)
		return 0;
	if (granule < hp)
		return error_usage(err, -EINVAL,
				   "--hugepages %s: --granule %s is smaller than a huge page; "
				   "use --granule %s or larger",
				   name, size_str(granule).s, size_str(hp).s);
	return 0;
}

int hugepages_check_host(const struct hugepages_config *cfg, uint64_t need, struct error *err)
{
	uint64_t hp = hugepages_page_size(cfg), avail, nr = 0, want;
	const char *name = hugetlb_name(cfg);
	int fd;

	if (cfg->mode != HUGEPAGES_HUGETLB)
		return 0;
	fd = memfd_create("slabvm-probe", hugepages_memfd_flags(cfg));
	if (fd < 0)
		return error_usage(err, -errno,
				   "--hugepages %s: this kernel cannot create hugetlb memfds of "
				   "%s pages (memfd_create MFD_HUGETLB: %s); use --hugepages thp",
				   name, size_str(hp).s, strerror(errno));
	close(fd);
	if (hugepages_available(cfg, &avail))
		return error_usage(err, -ENOENT,
				   "--hugepages %s: this kernel has no pool of %s huge pages "
				   "(no %s/hugepages/hugepages-%" PRIu64 "kB)",
				   name, size_str(hp).s, cfg->sysfs ? cfg->sysfs : HUGEPAGES_SYSFS,
				   hp >> 10);
	want = need / hp;
	if (avail >= want)
		return 0;
	if (!read_count(cfg, "nr_hugepages", &nr))
		nr = 0;
	if (hp == HUGEPAGES_SIZE_1G)
		return error_usage(err, -ENOMEM,
				   "--hugepages %s: %s of RAM needs %" PRIu64
				   " free 1G huge pages, "
				   "%" PRIu64 " are free; as root: echo %" PRIu64
				   " > %s/hugepages/hugepages-1048576kB/nr_hugepages (or boot "
				   "with hugepagesz=1G hugepages=%" PRIu64 ")",
				   name, size_str(need).s, want, avail, nr + want - avail,
				   cfg->sysfs ? cfg->sysfs : HUGEPAGES_SYSFS, nr + want - avail);
	return error_usage(err, -ENOMEM,
			   "--hugepages %s: %s of RAM needs %" PRIu64 " free 2M huge pages, "
			   "%" PRIu64 " are free; as root: echo %" PRIu64
			   " > /proc/sys/vm/nr_hugepages (or sysctl vm.nr_hugepages=%" PRIu64 ")",
			   name, size_str(need).s, want, avail, nr + want - avail,
			   nr + want - avail);
}
