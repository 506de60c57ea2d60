/* SPDX-License-Identifier: MIT */
/*
 * The vfio type1 IOMMU container: one per VM, every assigned device's IOMMU group added to
 * it, and a pinning listener of the memory map (mem/memmap.h). Each granule gets its own
 * VFIO_IOMMU_MAP_DMA (IOVA = guest-physical address, device may read and write) and its own
 * VFIO_IOMMU_UNMAP_DMA, so any granule can be unmapped alone and type1 never has to split
 * a mapping.
 *
 * Every open, close and ioctl goes through struct vfio_ops: vfio_host_ops is the kernel,
 * tests pass a recorder. Sysfs is read below a root directory the caller names ("/sys"),
 * so tests lay out a fake one.
 *
 * Set-up order: vfio_container_init, vfio_container_add_device for each --vfio BDF (the
 * first one opens /dev/vfio/vfio and sets the IOMMU type), then vfio_container_check with
 * the memory map, then memmap_add_listener(&c->listener), before memmap_start or after
 * (a started map replays itself to it). A refusal returns a negative errno with a one-line
 * message naming the device (its BDF) or the setting that must change.
 *
 * The listener callbacks run under the memory map's write lock, which also serialises the
 * container's mapping count; everything else is set-up and tear-down, on one thread.
 */
#ifndef SLABVM_VFIO_CONTAINER_H
#define SLABVM_VFIO_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "mem/memmap.h"

#define VFIO_MAX_GROUPS 16
#define VFIO_MAX_DEVICES 16
#define VFIO_MAX_IOVA_RANGES 64

/* Where the type1 driver publishes its per-container mapping limit. */
#define VFIO_DMA_ENTRY_LIMIT_PATH "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"

/*
 * What the kernel does for the container and its devices; every call returns >= 0 (for
 * pread and pwrite, the bytes moved) or a negative errno.
 */
struct vfio_ops {
	int (*open)(void *ctx, const char *path);
	void (*close)(void *ctx, int fd);
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, uint64_t offset);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t offset);
	/* A shared read-write mapping of len bytes of fd at offset, NULL on failure. Optional:
	 * without it every BAR is trapped. */
	void *(*mmap)(void *ctx, int fd, size_t len, uint64_t offset);
	void (*munmap)(void *ctx, void *addr, size_t len);
};

extern const struct vfio_ops vfio_host_ops;

/* A PCI function's address: domain:bus:device.function. */
struct vfio_bdf {
	uint16_t domain;
	uint8_t bus, dev, fn;
};

/* Accepts "0000:00:03.0" and "00:03.0" (domain 0), hexadecimal, and nothing else. */
int vfio_parse_bdf(const char *s, struct vfio_bdf *bdf, struct error *err);
/* The canonical form, "0000:00:03.0", the name sysfs and vfio use. */
struct vfio_bdf_str {
	char s[16];
};
struct vfio_bdf_str vfio_bdf_str(const struct vfio_bdf *bdf);

/* A usable IOVA range, both ends included (as the kernel reports them). */
struct vfio_range {
	uint64_t start, last;
};

/* What VFIO_IOMMU_GET_INFO says, parsed. */
struct vfio_iommu_info {
	uint64_t iova_pgsizes; /* bitmap of IOMMU page sizes; 0 when not reported */
	bool have_ranges;      /* the IOVA-range capability was present */
	unsigned int nranges;
	struct vfio_range range[VFIO_MAX_IOVA_RANGES];
};

/*
 * Parses a struct vfio_iommu_type1_info of len bytes as the kernel filled it, capability
 * chain included. Every offset and count is checked against len; a malformed buffer is
 * refused (-EINVAL) rather than half read.
 */
int vfio_parse_iommu_info(const void *buf, size_t len, struct vfio_iommu_info *info,
			  struct error *err);

/*
 * Start-up checks, pure so they can be tested without /dev/vfio. Each message says what to
 * change.
 *
 * vfio_read_entry_limit: the dma_entry_limit module parameter from path.
 * vfio_check_pgsizes: the granule must be a multiple of the smallest IOMMU page size.
 * vfio_check_iova_ranges: every granule of every region (unplugged DIMMs included: they can
 *   be plugged later) must lie inside one usable range. No ranges reported: no check.
 * vfio_check_memlock: an RLIMIT_MEMLOCK of limit bytes (RLIM_INFINITY passes) must cover
 *   all pluggable RAM, which type1 pins and accounts as locked memory at MAP_DMA time.
 */
int vfio_read_entry_limit(const char *path, uint64_t *limit, struct error *err);
int vfio_check_pgsizes(uint64_t granule, uint64_t iova_pgsizes, struct error *err);
int vfio_check_iova_ranges(const struct memmap *mm, const struct vfio_iommu_info *info,
			   struct error *err);
int vfio_check_memlock(const struct memmap *mm, uint64_t limit, struct error *err);

struct vfio_group {
	unsigned int id; /* /dev/vfio/<id> */
	int fd;
};

/* An assigned function, opened: its device fd is what BARs, config and IRQs go through. */
struct vfio_device {
	struct vfio_bdf bdf;
	char name[16]; /* canonical BDF */
	struct vfio_group *group;
	int fd;
};

struct vfio_container {
	struct memmap_listener listener; /* pins; IOVA = GPA, one mapping per granule */
	const struct vfio_ops *ops;
	void *ctx;
	char sysfs[128];  /* "/sys", or a test's fake tree */
	char devdir[128]; /* "/dev/vfio", or a test's */
	int fd;		  /* /dev/vfio/vfio, -1 until the first device */
	bool iommu_set;	  /* VFIO_SET_IOMMU done: groups are attached for good */
	struct vfio_iommu_info info;
	unsigned int ngroups, ndevices;
	struct vfio_group group[VFIO_MAX_GROUPS];
	struct vfio_device device[VFIO_MAX_DEVICES];
	uint64_t nmapped; /* live DMA mappings this container made */
	uint64_t nmap_calls, nunmap_calls;
};

/* sysfs and devdir NULL mean "/sys" and "/dev/vfio". Nothing is opened yet. */
void vfio_container_init(struct vfio_container *c, const struct vfio_ops *ops, void *ctx,
			 const char *sysfs, const char *devdir);
/*
 * Checks that the function exists, has an IOMMU group, is bound to vfio-pci and that its
 * group is viable (every other device of the group bound to vfio-pci or to no driver),
 * then attaches the group (once per group) and opens the device. The first call opens the
 * container and requires API version VFIO_API_VERSION and VFIO_TYPE1v2_IOMMU. On failure
 * nothing new stays open.
 */
int vfio_container_add_device(struct vfio_container *c, const char *bdf, struct vfio_device **out,
			      struct error *err);
/*
 * The checks above against the memory map, with the IOMMU's own answers: dma_entry_limit
 * read from limit_path (NULL: VFIO_DMA_ENTRY_LIMIT_PATH) with reserved mappings kept for
 * BARs, page sizes, IOVA ranges, and RLIMIT_MEMLOCK as memlock bytes.
 */
int vfio_container_check(struct vfio_container *c, const struct memmap *mm, const char *limit_path,
			 uint64_t reserved, uint64_t memlock, struct error *err);
/*
 * Closes devices, groups and the container; the kernel drops every DMA mapping with the
 * container. Call after the devices were reset and before guest memory goes away.
 */
void vfio_container_destroy(struct vfio_container *c);

#endif
