// SPDX-License-Identifier: MIT
#include "vfio/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "base/size.h"
#include "vfio/info.h"

/* Drivers a device may be bound to without making its group unusable (the kernel's rule). */
static const char *const viable_drivers[] = {"vfio-pci", "pci-stub", "pcieport"};

static int host_open(void *ctx, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static void host_close(void *ctx, int fd)
{
	(void)ctx;
	close(fd);
}

static int host_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	int ret = ioctl(fd, request, arg);

	(void)ctx;
	return ret < 0 ? -errno : ret;
}

static ssize_t host_pread(void *ctx, int fd, void *buf, size_t len, uint64_t offset)
{
	ssize_t n = pread(fd, buf, len, offset);

	(void)ctx;
	return n < 0 ? -errno : n;
}

static ssize_t host_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t offset)
{
	ssize_t n = pwrite(fd, buf, len, offset);

	(void)ctx;
	return n < 0 ? -errno : n;
}

static void *host_mmap(void *ctx, int fd, size_t len, uint64_t offset)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);

	(void)ctx;
	return p == MAP_FAILED ? NULL : p;
}

static void host_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	munmap(addr, len);
}

const struct vfio_ops vfio_host_ops = {host_open,  host_close, host_ioctl, host_pread,
				       host_pwrite, host_mmap, host_munmap};

/* Exactly n hexadecimal digits at *p, no sign, no spaces. */
static bool take_hex(const char **p, unsigned int n, unsigned int *out)
{
	unsigned int v = 0, i;

	for (i = 0; i < n; i++) {
		char ch = (*p)[i];

		if (ch >= '0' && ch <= '9')
			v = v * 16 + (ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v = v * 16 + (ch - 'A' + 10);
		else
			return false;
	}
	*p += n;
	*out = v;
	return true;
}

static bool take_char(const char **p, char ch)
{
	if (**p != ch)
		return false;
	(*p)++;
	return true;
}

int vfio_parse_bdf(const char *s, struct vfio_bdf *bdf, struct error *err)
{
	unsigned int domain = 0, bus, dev, fn;
	const char *p = s;

	/* The long form has a second colon; the short one starts with the bus. */
	if (strchr(s, ':') != strrchr(s, ':') && !(take_hex(&p, 4, &domain) && take_char(&p, ':')))
		goto bad;
	if (!take_hex(&p, 2, &bus) || !take_char(&p, ':') || !take_hex(&p, 2, &dev) ||
	    !take_char(&p, '.') || !take_hex(&p, 1, &fn) || *p)
		goto bad;
	if (dev > 0x1f || fn > 7)
		return error_set(err, -EINVAL,
				 "PCI address \"%s\": device %02x function %x is out of range "
				 "(devices 00-1f, functions 0-7)",
				 s, dev, fn);
	*bdf = (struct vfio_bdf){domain, bus, dev, fn};
	return 0;
bad:
	/* Quoted up to its first control character, so that the message stays one line. */
	for (p = s; *p && (unsigned char)*p >= 0x20 && p - s < 40; p++)
		;
	return error_set(err, -EINVAL,
			 "PCI address \"%.*s%s\" is not of the form 0000:00:03.0 or 00:03.0",
			 (int)(p - s), s, *p ? "..." : "");
}

struct vfio_bdf_str vfio_bdf_str(const struct vfio_bdf *bdf)
{
	struct vfio_bdf_str out;

	snprintf(out.s, sizeof(out.s), "%04x:%02x:%02x.%x", bdf->domain, bdf->bus, bdf->dev,
		 bdf->fn);
	return out;
}

/* The IOVA-range capability; other capabilities are not slabvm's business. */
static int parse_iova_cap(void *ctx, const uint8_t *b, size_t len, size_t off, uint16_t id,
			  struct error *err)
{
	struct vfio_iommu_info *info = ctx;
	struct vfio_iommu_type1_info_cap_iova_range rc;
	struct vfio_iova_range r;
	unsigned int i;

	if (id != VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
		return 0;
	if (info->have_ranges || off > len - sizeof(rc))
		return error_set(err, -EINVAL,
				 "VFIO_IOMMU_GET_INFO: IOVA-range capability at %zu repeated or "
				 "cut short",
				 off);
	memcpy(&rc, b + off, sizeof(rc));
	if (rc.nr_iovas > VFIO_MAX_IOVA_RANGES || rc.nr_iovas * sizeof(r) > len - off - sizeof(rc))
		return error_set(err, -EINVAL,
				 "VFIO_IOMMU_GET_INFO: %" PRIu32
				 " IOVA ranges, more than its buffer or slabvm's %u",
				 rc.nr_iovas, VFIO_MAX_IOVA_RANGES);
	for (i = 0; i < rc.nr_iovas; i++) {
		memcpy(&r, b + off + sizeof(rc) + i * sizeof(r), sizeof(r));
		/* Sorted and disjoint, as the kernel builds them; the checks rely on it. */
		if (r.start > r.end || (i && r.start <= info->range[i - 1].last))
			return error_set(err, -EINVAL,
					 "VFIO_IOMMU_GET_INFO: IOVA range %u [0x%" PRIx64
					 ", 0x%" PRIx64 "] is empty or out of order",
					 i, (uint64_t)r.start, (uint64_t)r.end);
		info->range[i] = (struct vfio_range){r.start, r.end};
	}
	info->nranges = rc.nr_iovas;
	info->have_ranges = true;
	return 0;
}

int vfio_parse_iommu_info(const void *buf, size_t len, struct vfio_iommu_info *info,
			  struct error *err)
{
	struct vfio_iommu_type1_info hdr;

	memset(info, 0, sizeof(*info));
	if (len < sizeof(hdr))
		return error_set(err, -EINVAL,
				 "VFIO_IOMMU_GET_INFO: %zu bytes, less than its header", len);
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.argsz < sizeof(hdr) || hdr.argsz > len)
		return error_set(err, -EINVAL,
				 "VFIO_IOMMU_GET_INFO: argsz %" PRIu32 " does not fit %zu bytes",
				 hdr.argsz, len);
	if (hdr.flags & VFIO_IOMMU_INFO_PGSIZES)
		info->iova_pgsizes = hdr.iova_pgsizes;
	if (!(hdr.flags & VFIO_IOMMU_INFO_CAPS))
		return 0;
	return vfio_info_caps_walk(buf, hdr.argsz, sizeof(hdr), hdr.cap_offset, parse_iova_cap,
				   info, "VFIO_IOMMU_GET_INFO", err);
}

int vfio_read_entry_limit(const char *path, uint64_t *limit, struct error *err)
{
	char buf[32], *end;
	unsigned long long v;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "cannot read the IOMMU's mapping limit %s: %s%s",
				 path, strerror(errno),
				 errno == ENOENT ? " (is the vfio_iommu_type1 module loaded?)"
						 : "");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return error_set(err, -EIO, "cannot read the IOMMU's mapping limit %s", path);
	buf[n] = 0;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (end == buf || errno || (*end && strcmp(end, "\n")) || !v || buf[0] == '-')
		return error_set(err, -EINVAL, "%s: \"%.*s\" is not a mapping limit", path,
				 (int)strcspn(buf, "\n"), buf);
	*limit = v;
	return 0;
}

int vfio_check_pgsizes(uint64_t granule, uint64_t iova_pgsizes, struct error *err)
{
	uint64_t min = iova_pgsizes & -iova_pgsizes;

	if (!iova_pgsizes)
		return error_set(err, -EINVAL, "the IOMMU reports no page sizes (iova_pgsizes 0)");
	if (granule % min)
		return error_set(err, -EINVAL,
				 "--granule %s is not a multiple of the IOMMU's smallest page, %s "
				 "(iova_pgsizes 0x%" PRIx64 "); use --granule %s or larger",
				 size_str(granule).s, size_str(min).s, iova_pgsizes,
				 size_str(min).s);
	return 0;
}

/* Index of the range holding addr, or -1. */
static int range_find(const struct vfio_iommu_info *info, uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < info->nranges; i++)
		if (addr >= info->range[i].start && addr <= info->range[i].last)
			return i;
	return -1;
}

/* Says which hole addr falls into, for the refusal. */
static void describe_hole(const struct vfio_iommu_info *info, uint64_t addr, char *buf, size_t len)
{
	uint64_t lo = 0, hi = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < info->nranges; i++) {
		if (info->range[i].last < addr)
			lo = info->range[i].last + 1;
		else if (info->range[i].start > addr && hi == UINT64_MAX)
			hi = info->range[i].start - 1;
	}
	if (hi == UINT64_MAX)
		snprintf(buf, len, "the IOMMU maps nothing from 0x%" PRIx64, lo);
	else
		snprintf(buf, len, "the IOMMU reserves [0x%" PRIx64 ", 0x%" PRIx64 "]", lo, hi);
}

/* Whether every granule of [addr, end) can be mapped, or an error naming the first that cannot. */
static int check_iova_range(uint64_t g, enum memmap_kind kind, uint64_t addr, uint64_t end,
			    const struct vfio_iommu_info *info, struct error *err)
{
	/* Granule by granule, but a whole range's worth of granules at a time. */
	while (addr < end) {
		int k = range_find(info, addr);
		uint64_t fit = 0, room;
		char hole[96];

		if (k >= 0) {
			room = info->range[k].last - addr; /* bytes after addr's */
			fit = room >= end - addr - 1 ? end - addr : (room + 1) / g * g;
		}
		if (!fit) {
			describe_hole(info, k < 0 ? addr : info->range[k].last + 1, hole,
				      sizeof(hole));
			return error_set(err, -EINVAL,
					 "%s RAM granule [0x%" PRIx64 ", 0x%" PRIx64
					 "] cannot be mapped for the vfio device: %s; "
					 "use less RAM (--mem, --maxmem)",
					 memmap_kind_name(kind), addr, addr + g - 1, hole);
		}
		addr += fit;
	}
	return 0;
}

int vfio_check_iova_ranges(const struct memmap *mm, const struct vfio_iommu_info *info,
			   struct error *err)
{
	unsigned int i;
	int ret;

	if (!info->have_ranges)
		return 0;
	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];

		/* Placed DIMMs (--slots) may go anywhere in the window: it is checked whole. */
		if (mm->nslots && r->kind == MEMMAP_DIMM)
			continue;
		ret = check_iova_range(mm->granule, r->kind, r->gpa, r->gpa + r->size, info, err);
		if (ret)
			return ret;
	}
	if (mm->nslots)
		return check_iova_range(mm->granule, MEMMAP_DIMM, mm->dimm_base, mm->dimm_end, info,
					err);
	return 0;
}

int vfio_check_memlock(const struct memmap *mm, uint64_t limit, struct error *err)
{
	uint64_t need = memmap_pluggable_bytes(mm);

	if (limit == (uint64_t)RLIM_INFINITY || limit >= need)
		return 0;
	return error_set(err, -ENOMEM,
			 "RLIMIT_MEMLOCK is %s, but a vfio device pins all guest RAM that can be "
			 "plugged, %s: raise it (ulimit -l) or start slabvm as root",
			 size_str(limit).s, size_str(need).s);
}

int vfio_container_check(struct vfio_container *c, const struct memmap *mm, const char *limit_path,
			 uint64_t reserved, uint64_t memlock, struct error *err)
{
	uint64_t limit;
	int ret;

	if (!c->iommu_set)
		return error_set(err, -EINVAL, "the vfio container has no device yet");
	ret = vfio_read_entry_limit(limit_path ? limit_path : VFIO_DMA_ENTRY_LIMIT_PATH, &limit,
				    err);
	if (!ret)
		ret = memmap_check_entry_limit(mm, limit, reserved, err);
	if (!ret)
		ret = vfio_check_pgsizes(mm->granule, c->info.iova_pgsizes, err);
	if (!ret)
		ret = vfio_check_iova_ranges(mm, &c->info, err);
	if (!ret)
		ret = vfio_check_memlock(mm, memlock, err);
	return ret;
}

/* The listener: the memory map's write lock serialises these and the counters. */
static struct vfio_container *listener_container(struct memmap_listener *l)
{
	return (struct vfio_container *)((char *)l - offsetof(struct vfio_container, listener));
}

static int container_map(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
			 uint64_t size, void *hva)
{
	struct vfio_container *c = listener_container(l);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)hva,
		.iova = gpa,
		.size = size,
	};
	int ret;

	(void)r;
	c->nmap_calls++;
	ret = c->ops->ioctl(c->ctx, c->fd, VFIO_IOMMU_MAP_DMA, &map);
	if (ret < 0)
		return ret;
	c->nmapped++;
	return 0;
}

static int container_unmap(struct memmap_listener *l, const struct memmap_region *r, uint64_t gpa,
			   uint64_t size)
{
	struct vfio_container *c = listener_container(l);
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = gpa,
		.size = size,
	};
	int ret;

	(void)r;
	c->nunmap_calls++;
	ret = c->ops->ioctl(c->ctx, c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
	if (ret < 0)
		return ret;
	/* type1 says how much it unmapped: anything but our one granule means the IOMMU no
	 * longer holds the mapping this listener made. */
	if (unmap.size != size)
		return -EIO;
	c->nmapped--;
	return 0;
}

void vfio_container_init(struct vfio_container *c, const struct vfio_ops *ops, void *ctx,
			 const char *sysfs, const char *devdir)
{
	memset(c, 0, sizeof(*c));
	c->listener = (struct memmap_listener){
		.name = "vfio",
		.pins = true,
		.granule_map = container_map,
		.granule_unmap = container_unmap,
	};
	c->ops = ops;
	c->ctx = ctx;
	snprintf(c->sysfs, sizeof(c->sysfs), "%s", sysfs ? sysfs : "/sys");
	snprintf(c->devdir, sizeof(c->devdir), "%s", devdir ? devdir : "/dev/vfio");
	c->fd = -1;
}

/* The last path component of a symlink's target, e.g. a driver's or group's name. */
static int link_name(const char *path, char *name, size_t len)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	if (n < 0)
		return -errno;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	memcpy(name, base, strlen(base) + 1);
	return 0;
}

static bool driver_viable(const char *driver)
{
	unsigned int i;

	for (i = 0; i < sizeof(viable_drivers) / sizeof(viable_drivers[0]); i++)
		if (!strcmp(driver, viable_drivers[i]))
			return true;
	return false;
}

/* Why a group is not viable: the first other member bound to a host driver. */
static int refuse_group(struct vfio_container *c, const char *dev, unsigned int group,
			struct error *err)
{
	char path[PATH_MAX], driver[64], culprit[400] = "";
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%u/devices", c->sysfs, group);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, dev))
			continue;
		snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%u/devices/%s/driver",
			 c->sysfs, group, e->d_name);
		if (!link_name(path, driver, sizeof(driver)) && !driver_viable(driver)) {
			snprintf(culprit, sizeof(culprit), ": %s of the group is bound to %s",
				 e->d_name, driver);
			break;
		}
	}
	if (d)
		closedir(d);
	return error_set(err, -EBUSY,
			 "vfio device %s: IOMMU group %u is not viable%s; bind every device of "
			 "the group to vfio-pci or unbind it from its driver",
			 dev, group, culprit);
}

static int container_open(struct vfio_container *c, const char *dev, struct error *err)
{
	char path[PATH_MAX];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/vfio", c->devdir);
	fd = c->ops->open(c->ctx, path);
	if (fd < 0)
		return error_set(err, fd, "vfio device %s: cannot open %s: %s%s", dev, path,
				 strerror(-fd), fd == -ENOENT ? " (load the vfio-pci module)" : "");
	ret = c->ops->ioctl(c->ctx, fd, VFIO_GET_API_VERSION, NULL);
	if (ret != VFIO_API_VERSION) {
		ret = error_set(err, -EINVAL, "vfio device %s: %s speaks vfio API %d, not %d", dev,
				path, ret, VFIO_API_VERSION);
		goto fail;
	}
	ret = c->ops->ioctl(c->ctx, fd, VFIO_CHECK_EXTENSION,
			    (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (ret <= 0) {
		ret = error_set(err, -ENODEV,
				"vfio device %s: the host's vfio has no type1v2 IOMMU "
				"(load the vfio_iommu_type1 module)",
				dev);
		goto fail;
	}
	c->fd = fd;
	return 0;
fail:
	c->ops->close(c->ctx, fd);
	return ret;
}

/* The container's IOMMU answers, asked once the IOMMU type is set. */
static int container_get_info(struct vfio_container *c, const char *dev, struct error *err)
{
	struct vfio_iommu_type1_info hdr = {.argsz = sizeof(hdr)};
	uint8_t *buf;
	int ret;

	ret = c->ops->ioctl(c->ctx, c->fd, VFIO_IOMMU_GET_INFO, &hdr);
	if (ret < 0)
		return error_set(err, ret, "vfio device %s: VFIO_IOMMU_GET_INFO: %s", dev,
				 strerror(-ret));
	/* The first call says how big the capability chain is; bound what we accept. */
	if (hdr.argsz > 65536)
		return error_set(err, -EINVAL,
				 "vfio device %s: VFIO_IOMMU_GET_INFO wants %" PRIu32 " bytes", dev,
				 hdr.argsz);
	if (hdr.argsz <= sizeof(hdr))
		return vfio_parse_iommu_info(&hdr, sizeof(hdr), &c->info, err);
	buf = calloc(1, hdr.argsz);
	if (!buf)
		return error_set(err, -ENOMEM, "vfio device %s: out of memory", dev);
	memcpy(buf, &(struct vfio_iommu_type1_info){.argsz = hdr.argsz}, sizeof(hdr));
	ret = c->ops->ioctl(c->ctx, c->fd, VFIO_IOMMU_GET_INFO, buf);
	if (ret < 0)
		ret = error_set(err, ret, "vfio device %s: VFIO_IOMMU_GET_INFO: %s", dev,
				strerror(-ret));
	else
		ret = vfio_parse_iommu_info(buf, hdr.argsz, &c->info, err);
	free(buf);
	return ret;
}

/* Opens group id and attaches it to the container (setting the IOMMU type the first time). */
static int group_attach(struct vfio_container *c, const char *dev, unsigned int id,
			struct vfio_group **out, struct error *err)
{
	struct vfio_group_status status = {.argsz = sizeof(status)};
	char path[PATH_MAX];
	int fd, ret;
	unsigned int i;

	for (i = 0; i < c->ngroups; i++) {
		if (c->group[i].id == id) {
			*out = &c->group[i];
			return 0;
		}
	}
	if (c->ngroups == VFIO_MAX_GROUPS)
		return error_set(err, -ENOSPC, "vfio device %s: more than %u IOMMU groups", dev,
				 VFIO_MAX_GROUPS);
	snprintf(path, sizeof(path), "%s/%u", c->devdir, id);
	fd = c->ops->open(c->ctx, path);
	if (fd < 0)
		return error_set(err, fd, "vfio device %s: cannot open its IOMMU group %s: %s%s",
				 dev, path, strerror(-fd),
				 fd == -EBUSY ? " (another process uses the group)" : "");
	ret = c->ops->ioctl(c->ctx, fd, VFIO_GROUP_GET_STATUS, &status);
	if (ret < 0) {
		ret = error_set(err, ret, "vfio device %s: VFIO_GROUP_GET_STATUS: %s", dev,
				strerror(-ret));
		goto fail;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		ret = refuse_group(c, dev, id, err);
		goto fail;
	}
	ret = c->ops->ioctl(c->ctx, fd, VFIO_GROUP_SET_CONTAINER, &c->fd);
	if (ret < 0) {
		ret = error_set(err, ret,
				"vfio device %s: cannot add IOMMU group %u to the "
				"container: %s",
				dev, id, strerror(-ret));
		goto fail;
	}
	if (!c->iommu_set) {
		ret = c->ops->ioctl(c->ctx, c->fd, VFIO_SET_IOMMU,
				    (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
		if (ret < 0) {
			ret = error_set(err, ret, "vfio device %s: VFIO_SET_IOMMU type1v2: %s", dev,
					strerror(-ret));
			goto fail;
		}
		ret = container_get_info(c, dev, err);
		if (ret)
			goto fail;
		c->iommu_set = true;
	}
	c->group[c->ngroups] = (struct vfio_group){id, fd};
	*out = &c->group[c->ngroups++];
	return 0;
fail:
	/* Closing the group's fd takes it out of the container again. */
	c->ops->close(c->ctx, fd);
	return ret;
}

int vfio_container_add_device(struct vfio_container *c, const char *bdf, struct vfio_device **out,
			      struct error *err)
{
	char path[PATH_MAX], name[64], dev[16];
	struct vfio_device *d;
	struct vfio_group *g = NULL;
	struct vfio_bdf addr;
	unsigned int group, ngroups, i;
	char *end;
	struct stat st;
	int ret;
	bool opened = false;

	ret = vfio_parse_bdf(bdf, &addr, err);
	if (ret)
		return ret;
	snprintf(dev, sizeof(dev), "%s", vfio_bdf_str(&addr).s);
	for (i = 0; i < c->ndevices; i++)
		if (!strcmp(c->device[i].name, dev))
			return error_set(err, -EEXIST, "vfio device %s given twice", dev);
	if (c->ndevices == VFIO_MAX_DEVICES)
		return error_set(err, -ENOSPC, "vfio device %s: more than %u devices", dev,
				 VFIO_MAX_DEVICES);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", c->sysfs, dev);
	if (stat(path, &st))
		return error_set(err, -ENODEV, "vfio device %s: no such PCI device (%s: %s)", dev,
				 path, strerror(errno));
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", c->sysfs, dev);
	ret = link_name(path, name, sizeof(name));
	if (ret == -ENOENT)
		return error_set(err, -ENODEV,
				 "vfio device %s: not in an IOMMU group: the host has no IOMMU "
				 "enabled (boot it with intel_iommu=on or amd_iommu=on)",
				 dev);
	group = strtoul(name, &end, 10);
	if (ret || !name[0] || *end)
		return error_set(err, ret ? ret : -EINVAL,
				 "vfio device %s: cannot read its IOMMU group from %s", dev, path);
	if (c->fd < 0) {
		ret = container_open(c, dev, err);
		if (ret)
			return ret;
		opened = true;
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", c->sysfs, dev);
	ret = link_name(path, name, sizeof(name));
	if (ret == -ENOENT) {
		ret = error_set(err, -ENODEV,
				"vfio device %s: not bound to any driver; bind it to vfio-pci",
				dev);
		goto fail;
	}
	if (ret || strcmp(name, "vfio-pci")) {
		ret = error_set(err, -ENODEV,
				"vfio device %s: bound to %s, not vfio-pci; unbind it and bind it "
				"to vfio-pci",
				dev, ret ? "an unreadable driver" : name);
		goto fail;
	}
	ngroups = c->ngroups;
	ret = group_attach(c, dev, group, &g, err);
	if (ret)
		goto fail;
	ret = c->ops->ioctl(c->ctx, g->fd, VFIO_GROUP_GET_DEVICE_FD, dev);
	if (ret < 0) {
		ret = error_set(err, ret, "vfio device %s: VFIO_GROUP_GET_DEVICE_FD: %s", dev,
				strerror(-ret));
		/* A group attached for this device alone leaves the container again. */
		if (c->ngroups > ngroups) {
			c->ops->close(c->ctx, g->fd);
			c->ngroups--;
		}
		goto fail;
	}
	d = &c->device[c->ndevices++];
	*d = (struct vfio_device){.bdf = addr, .group = g, .fd = ret};
	memcpy(d->name, dev, sizeof(d->name));
	if (out)
		*out = d;
	return 0;
fail:
	/* Without groups the kernel forgets the IOMMU type too; a container opened for this
	 * device alone is closed. */
	if (!c->ngroups) {
		c->iommu_set = false;
		if (opened) {
			c->ops->close(c->ctx, c->fd);
			c->fd = -1;
		}
	}
	return ret;
}

void vfio_container_destroy(struct vfio_container *c)
{
	unsigned int i;

	/* Devices first: a group with an open device cannot leave the container. */
	for (i = 0; i < c->ndevices; i++)
		c->ops->close(c->ctx, c->device[i].fd);
	for (i = 0; i < c->ngroups; i++)
		c->ops->close(c->ctx, c->group[i].fd);
	if (c->fd >= 0)
		c->ops->close(c->ctx, c->fd);
	c->ndevices = c->ngroups = 0;
	c->fd = -1;
	c->iommu_set = false;
	c->nmapped = 0;
}
