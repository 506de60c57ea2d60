/* SPDX-License-Identifier: MIT */
/*
 * What backs guest RAM (--hugepages): plain shmem in 4 KiB pages, shmem with transparent
 * huge pages asked for (MADV_HUGEPAGE), or hugetlbfs memfds (MFD_HUGETLB) of 2 MiB or 1 GiB
 * pages. This module parses the choice and reads what the host allows; the memory map
 * (memmap.c) creates and releases the backing.
 *
 * thp is only a request: the kernel honours MADV_HUGEPAGE on shmem when
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled (or the 2 MiB size's own setting, if it
 * is not "inherit") is advise, within_size, always or force, and on anonymous memory when
 * transparent_hugepage/enabled (or its 2 MiB setting) is always or madvise. Most
 * distributions leave shmem's off and anonymous memory's on, so where only the latter is
 * honoured thp backs boot RAM with private anonymous memory instead of a memfd
 * (hugepages_thp_anon; DIMMs stay memfds). hugetlb takes its pages from the
 * pool an administrator reserved (/proc/sys/vm/nr_hugepages): every check a host can fail is
 * made before any guest memory exists, with a message that says how to fix it.
 */
#ifndef SLABVM_HUGEPAGES_H
#define SLABVM_HUGEPAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define HUGEPAGES_SIZE_2M (2ULL << 20)
#define HUGEPAGES_SIZE_1G (1ULL << 30)

enum hugepages_mode {
	HUGEPAGES_OFF, /* a zeroed configuration; the command line's default is thp */
	HUGEPAGES_THP,
	HUGEPAGES_HUGETLB,
};

struct hugepages_config {
	enum hugepages_mode mode;
	uint64_t size; /* hugetlb: the huge page size, 2M or 1G (0 means 2M); else unused */
	/* The directory that holds hugepages-<N>kB/ and transparent_hugepage/; NULL means
	 * /sys/kernel/mm. Tests point it at a directory of their own. */
	const char *sysfs;
	/* thp: boot RAM is private anonymous memory, not a memfd. memmap_init sets it from
	 * hugepages_thp_anon; callers leave it false. */
	bool anon_ram;
};

/* "off", "thp", "hugetlb", "hugetlb:2M", "hugetlb:1G". -EINVAL, with a message naming arg. */
int hugepages_parse(const char *arg, struct hugepages_config *out, struct error *err);
const char *hugepages_mode_name(enum hugepages_mode m);
/* The huge page size in use: cfg->size or 2M for hugetlb, 2M for thp, 4K for off. */
uint64_t hugepages_page_size(const struct hugepages_config *cfg);
/* The flags memfd_create gets for guest RAM and DIMMs (MFD_CLOEXEC and, for hugetlb,
 * MFD_HUGETLB with the size). */
unsigned int hugepages_memfd_flags(const struct hugepages_config *cfg);

/* Whether the kernel will back a MADV_HUGEPAGE shmem mapping with 2 MiB pages; *setting
 * gets the sysfs word that decided (or "unknown" when it cannot be read: then false). */
bool hugepages_thp_honoured(const struct hugepages_config *cfg, const char **setting);
/* The same for a MADV_HUGEPAGE anonymous mapping (transparent_hugepage/enabled). */
bool hugepages_thp_anon_honoured(const struct hugepages_config *cfg, const char **setting);
/* thp's choice for boot RAM: anonymous memory when the host gives huge pages to anonymous
 * mappings but not to shmem; false for every other mode. */
bool hugepages_thp_anon(const struct hugepages_config *cfg);

/* Huge pages of cfg's size a new mapping can still get: free minus reserved, plus the
 * surplus the pool may still grow by (nr_overcommit_hugepages). -ENOENT when the kernel
 * has no pool of that size. */
int hugepages_available(const struct hugepages_config *cfg, uint64_t *avail);

/*
 * The checks before hugetlb guest RAM is created, each a usage error that names the value
 * and what to do; both do nothing for thp and off. check_granule: a granule of at least one
 * huge page (RAM sizes, the hotplug window and DIMMs are whole granules, so whole huge
 * pages too). check_host: a kernel with hugetlb memfds and a pool of that size with `need`
 * bytes of huge pages available.
 */
int hugepages_check_granule(const struct hugepages_config *cfg, uint64_t granule,
			    struct error *err);
int hugepages_check_host(const struct hugepages_config *cfg, uint64_t need, struct error *err);

#endif
