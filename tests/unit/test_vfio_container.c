// SPDX-License-Identifier: MIT
/*
 * The vfio container and an opened device without /dev/vfio: a fake kernel (struct
 * fake_vfio) answers every ioctl as type1 and vfio-pci document it and keeps the
 * container's DMA mappings, refusing what the kernel refuses (overlaps, unmapping part of
 * a mapping); sysfs is a tree in a temporary directory. The listener runs beside
 * tests/unit/fake_iommu.c's pinning listener, and the fake kernel's mappings must equal that
 * oracle's after every step.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vring_test.h"

#include "balloon/balloon.h"
#include "fake_iommu.h"
#include "mem/memmap.h"
#include "vfio/container.h"
#include "vfio/device.h"

#define K ((uint64_t)1024)
#define M (1024 * K)
#define G (1024 * M)
#define PAGE ((uint64_t)MEMMAP_PAGE_SIZE)

#define FD_CONTAINER 100
#define FD_GROUP 200 /* + group id */
#define FD_DEVICE 300

static void expect_msg(const struct error *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("message \"%s\" does not contain \"%s\"", err->msg, want);
	if (strchr(err->msg, '\n'))
		fail_msg("message \"%s\" is not one line", err->msg);
}

/* The fake kernel */

struct fake_mapping {
	uint64_t iova, size, vaddr;
};

struct fake_vfio {
	char devdir[96];
	bool have_vfio;
	int api;
	bool type1v2;
	bool viable[64]; /* per group */
	uint8_t info[512];
	size_t info_len;
	unsigned long calls[64]; /* requests in order */
	unsigned int ncalls;
	int open_fds;
	unsigned int ndevfds;
	struct fake_mapping *map;
	size_t nmap, cap;
	unsigned int fail_map; /* the Nth MAP_DMA from now fails with ENOMEM */
	bool enomem;	       /* every MAP_DMA fails with ENOMEM, as past RLIMIT_MEMLOCK */
	bool short_unmap;      /* UNMAP_DMA unmaps nothing and says so */
	bool set_container, set_iommu;
	/* The device behind FD_DEVICE: an edu-like function. */
	uint32_t dev_flags;
	uint32_t config_flags;
	uint8_t config[256];
	unsigned int nresets;
	struct {
		uint32_t flags, index, start, count;
	} last_set; /* the last VFIO_DEVICE_SET_IRQS, and its eventfds */
	int32_t set_fds[8];
};

/* vfio-pci puts region i at offset i << 40 of the device fd. */
#define REGION_SHIFT 40

static int fake_open(void *ctx, const char *path)
{
	struct fake_vfio *f = ctx;
	size_t n = strlen(f->devdir);
	unsigned int group;

	if (strncmp(path, f->devdir, n) || path[n] != '/' || !f->have_vfio)
		return -ENOENT;
	if (!strcmp(path + n + 1, "vfio")) {
		f->open_fds++;
		return FD_CONTAINER;
	}
	if (sscanf(path + n + 1, "%u", &group) != 1 || group >= 64)
		return -ENOENT;
	f->open_fds++;
	return FD_GROUP + group;
}

static void fake_close(void *ctx, int fd)
{
	struct fake_vfio *f = ctx;

	(void)fd;
	assert_true(f->open_fds > 0);
	f->open_fds--;
}

static int fake_map(struct fake_vfio *f, const struct vfio_iommu_type1_dma_map *m)
{
	size_t i;

	assert_int_equal(m->argsz, sizeof(*m));
	assert_int_equal(m->flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	if (f->enomem || (f->fail_map && --f->fail_map == 0))
		return -ENOMEM;
	for (i = 0; i < f->nmap; i++)
		if (m->iova < f->map[i].iova + f->map[i].size && f->map[i].iova < m->iova + m->size)
			return -EEXIST;
	if (f->nmap == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->map = realloc(f->map, f->cap * sizeof(*f->map));
		assert_non_null(f->map);
	}
	f->map[f->nmap++] = (struct fake_mapping){m->iova, m->size, m->vaddr};
	return 0;
}

/* As type1: every mapping inside the range goes; one that sticks out makes it EINVAL. */
static int fake_unmap(struct fake_vfio *f, struct vfio_iommu_type1_dma_unmap *u)
{
	uint64_t done = 0;
	size_t i;

	assert_int_equal(u->argsz, sizeof(*u));
	assert_int_equal(u->flags, 0);
	if (f->short_unmap) {
		u->size = 0;
		return 0;
	}
	for (i = 0; i < f->nmap; i++) {
		const struct fake_mapping *m = &f->map[i];

		if (m->iova < u->iova + u->size && u->iova < m->iova + m->size &&
		    (m->iova < u->iova || m->iova + m->size > u->iova + u->size))
			return -EINVAL;
	}
	for (i = 0; i < f->nmap;) {
		if (f->map[i].iova >= u->iova && f->map[i].iova < u->iova + u->size) {
			done += f->map[i].size;
			f->map[i] = f->map[--f->nmap];
		} else {
			i++;
		}
	}
	u->size = done;
	return 0;
}

/* BAR 0 is 1 MiB and mmappable, with an MSI-X-mappable capability to make the answer two
 * calls long; the config space is 256 bytes; everything else is absent. */
static int fake_region_info(struct fake_vfio *f, struct vfio_region_info *in)
{
	struct vfio_region_info out = {.index = in->index,
				       .offset = (uint64_t)in->index << REGION_SHIFT};
	struct vfio_info_cap_header cap = {.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1};

	if (in->index == VFIO_PCI_BAR0_REGION_INDEX) {
		out.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			    VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
		out.size = 1 << 20;
		out.argsz = sizeof(out) + sizeof(cap);
		if (in->argsz < out.argsz) {
			out.cap_offset = 0;
			memcpy(in, &out, sizeof(out));
			return 0;
		}
		out.cap_offset = sizeof(out);
		memcpy((uint8_t *)in + sizeof(out), &cap, sizeof(cap));
	} else if (in->index == VFIO_PCI_CONFIG_REGION_INDEX) {
		out.flags = f->config_flags;
		out.size = sizeof(f->config);
		out.argsz = sizeof(out);
	} else {
		out.argsz = sizeof(out);
	}
	memcpy(in, &out, sizeof(out));
	return 0;
}

static ssize_t fake_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	struct fake_vfio *f = ctx;
	uint64_t o = off - ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << REGION_SHIFT);

	assert_true(fd >= FD_DEVICE);
	if (o >= sizeof(f->config))
		return -EINVAL;
	if (len > sizeof(f->config) - o)
		len = sizeof(f->config) - o;
	memcpy(buf, f->config + o, len);
	return len;
}

static ssize_t fake_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
	struct fake_vfio *f = ctx;
	uint64_t o = off - ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << REGION_SHIFT);

	assert_true(fd >= FD_DEVICE);
	if (o >= sizeof(f->config) || len > sizeof(f->config) - o)
		return -EINVAL;
	memcpy(f->config + o, buf, len);
	return len;
}

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake_vfio *f = ctx;

	if (f->ncalls < 64)
		f->calls[f->ncalls++] = req;
	switch (req) {
	case VFIO_GET_API_VERSION:
		assert_int_equal(fd, FD_CONTAINER);
		return f->api;
	case VFIO_CHECK_EXTENSION:
		return (uintptr_t)arg == VFIO_TYPE1v2_IOMMU && f->type1v2;
	case VFIO_GROUP_GET_STATUS: {
		struct vfio_group_status *s = arg;

		assert_true(fd >= FD_GROUP && fd < FD_GROUP + 64);
		s->flags = f->viable[fd - FD_GROUP] ? VFIO_GROUP_FLAGS_VIABLE : 0;
		return 0;
	}
	case VFIO_GROUP_SET_CONTAINER:
		assert_int_equal(*(int *)arg, FD_CONTAINER);
		f->set_container = true;
		return 0;
	case VFIO_SET_IOMMU:
		assert_true(f->set_container);
		assert_int_equal((uintptr_t)arg, VFIO_TYPE1v2_IOMMU);
		f->set_iommu = true;
		return 0;
	case VFIO_IOMMU_GET_INFO: {
		struct vfio_iommu_type1_info *in = arg;

		/* The same request number on a device fd is VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		 * this function has no bus reset (it sits on a root bus). */
		if (fd >= FD_DEVICE)
			return -ENODEV;

		assert_true(f->set_iommu);
		if (in->argsz < f->info_len) {
			memcpy(in, f->info, sizeof(*in));
			in->argsz = f->info_len;
			in->cap_offset = 0;
			return 0;
		}
		memcpy(in, f->info, f->info_len);
		return 0;
	}
	case VFIO_GROUP_GET_DEVICE_FD:
		assert_true(fd >= FD_GROUP && fd < FD_GROUP + 64);
		f->open_fds++;
		return FD_DEVICE + f->ndevfds++;
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *in = arg;

		assert_true(fd >= FD_DEVICE);
		in->flags = f->dev_flags;
		in->num_regions = VFIO_PCI_NUM_REGIONS;
		in->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		assert_true(fd >= FD_DEVICE);
		return fake_region_info(f, arg);
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *in = arg;

		assert_int_equal(in->argsz, sizeof(*in));
		in->flags = VFIO_IRQ_INFO_EVENTFD |
			    (in->index == VFIO_PCI_MSIX_IRQ_INDEX ? VFIO_IRQ_INFO_NORESIZE : 0);
		in->count = in->index == VFIO_PCI_MSIX_IRQ_INDEX ? 65 : 1;
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS: {
		struct vfio_irq_set *in = arg;
		size_t n = in->flags & VFIO_IRQ_SET_DATA_EVENTFD ? in->count : 0;

		assert_int_equal(in->argsz, sizeof(*in) + n * sizeof(int32_t));
		assert_true(n <= 8);
		f->last_set.flags = in->flags;
		f->last_set.index = in->index;
		f->last_set.start = in->start;
		f->last_set.count = in->count;
		memcpy(f->set_fds, in->data, n * sizeof(int32_t));
		return in->index < VFIO_PCI_NUM_IRQS ? 0 : -EINVAL;
	}
	case VFIO_DEVICE_RESET:
		assert_true(fd >= FD_DEVICE);
		f->nresets++;
		return 0;
	case VFIO_IOMMU_MAP_DMA:
		assert_int_equal(fd, FD_CONTAINER);
		return fake_map(f, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		assert_int_equal(fd, FD_CONTAINER);
		return fake_unmap(f, arg);
	}
	fail_msg("unexpected ioctl 0x%lx", req);
	return -ENOTTY;
}

static const struct vfio_ops fake_ops = {fake_open, fake_close, fake_ioctl, fake_pread,
					 fake_pwrite};

/* Builds a struct vfio_iommu_type1_info with page sizes and, if nranges, IOVA ranges. */
static size_t build_info(uint8_t *buf, uint64_t pgsizes, const struct vfio_iova_range *ranges,
			 unsigned int nranges, bool other_cap_first)
{
	struct vfio_iommu_type1_info hdr = {.flags = VFIO_IOMMU_INFO_PGSIZES,
					    .iova_pgsizes = pgsizes};
	struct vfio_iommu_type1_info_cap_iova_range rc = {0};
	struct vfio_iommu_type1_info_cap_migration mig = {0};
	size_t off = sizeof(hdr);

	if (nranges || other_cap_first) {
		hdr.flags |= VFIO_IOMMU_INFO_CAPS;
		hdr.cap_offset = off;
	}
	if (other_cap_first) {
		mig.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
		mig.header.version = 1;
		mig.header.next = nranges ? off + sizeof(mig) : 0;
		memcpy(buf + off, &mig, sizeof(mig));
		off += sizeof(mig);
	}
	if (nranges) {
		rc.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
		rc.header.version = 1;
		rc.nr_iovas = nranges;
		memcpy(buf + off, &rc, sizeof(rc));
		off += sizeof(rc);
		memcpy(buf + off, ranges, nranges * sizeof(*ranges));
		off += nranges * sizeof(*ranges);
	}
	hdr.argsz = off;
	memcpy(buf, &hdr, sizeof(hdr));
	return off;
}

/* x86 with a 39-bit IOMMU: everything but the interrupt window below 512 GiB. */
static const struct vfio_iova_range x86_ranges[] = {
	{0, 0xfedfffff},
	{0xfef00000, (1ULL << 39) - 1},
};

/* A fake sysfs: devices with a group and a driver, in a temporary directory. */

struct fake_sys {
	char root[64];
	struct fake_vfio k;
};

static void mkdirs(const char *path)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0755);
}

/* driver NULL: unbound; group < 0: no IOMMU group. */
static void add_dev(struct fake_sys *s, const char *bdf, int group, const char *driver)
{
	char path[PATH_MAX], target[PATH_MAX];

	snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s", s->root, bdf);
	mkdirs(path);
	if (driver) {
		snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver", s->root, bdf);
		snprintf(target, sizeof(target), "../../../../bus/pci/drivers/%s", driver);
		assert_int_equal(symlink(target, path), 0);
	}
	if (group < 0)
		return;
	snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s/iommu_group", s->root, bdf);
	snprintf(target, sizeof(target), "../../../../kernel/iommu_groups/%d", group);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/sys/kernel/iommu_groups/%d/devices", s->root, group);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/sys/kernel/iommu_groups/%d/devices/%s", s->root, group,
		 bdf);
	snprintf(target, sizeof(target), "../../../../bus/pci/devices/%s", bdf);
	assert_int_equal(symlink(target, path), 0);
}

static int sys_setup(void **state)
{
	struct fake_sys *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->root, sizeof(s->root), "/tmp/slabvm-vfio-XXXXXX");
	assert_non_null(mkdtemp(s->root));
	snprintf(s->k.devdir, sizeof(s->k.devdir), "%s/dev/vfio", s->root);
	s->k.have_vfio = true;
	s->k.api = VFIO_API_VERSION;
	s->k.type1v2 = true;
	s->k.viable[5] = s->k.viable[6] = true;
	s->k.info_len = build_info(s->k.info, 0x40201000, x86_ranges, 2, false);
	add_dev(s, "0000:00:03.0", 5, "vfio-pci");
	add_dev(s, "0000:00:04.0", 6, "vfio-pci");
	add_dev(s, "0000:00:04.1", 6, "vfio-pci");
	add_dev(s, "0000:00:05.0", 7, "vfio-pci");
	add_dev(s, "0000:00:05.1", 7, "e1000e");
	add_dev(s, "0000:00:06.0", 8, "e1000e");
	add_dev(s, "0000:00:07.0", 9, NULL);
	add_dev(s, "0000:00:08.0", -1, NULL);
	s->k.dev_flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	s->k.config_flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	s->k.config[0] = 0x34;
	s->k.config[1] = 0x12;
	s->k.config[2] = 0xe8;
	s->k.config[3] = 0x11;
	s->k.config[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	*state = s;
	return 0;
}

static int sys_teardown(void **state)
{
	struct fake_sys *s = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->root);
	assert_int_equal(system(cmd), 0);
	free(s->k.map);
	free(s);
	return 0;
}

static void container_init(struct vfio_container *c, struct fake_sys *s)
{
	char sysfs[PATH_MAX];

	snprintf(sysfs, sizeof(sysfs), "%s/sys", s->root);
	vfio_container_init(c, &fake_ops, &s->k, sysfs, s->k.devdir);
}

/* BDF parsing */

static void test_bdf(void **state)
{
	static const char *const bad[] = {
		"",
		"0:3.0",
		"00:03",
		"00:3.0",
		"0000:00:03",
		"000:00:03.0",
		"0000:00:03.0x",
		" 00:03.0",
		"+0000:00:03.0",
		"0000:00:03.0\n",
		"00-03.0",
		"0000:00:03:0.0",
		"g0:03.0",
		"00:03.00",
	};
	struct vfio_bdf b;
	struct error err = {0};
	unsigned int i;

	(void)state;
	assert_int_equal(vfio_parse_bdf("0000:00:03.0", &b, &err), 0);
	assert_int_equal(b.domain, 0);
	assert_int_equal(b.bus, 0);
	assert_int_equal(b.dev, 3);
	assert_int_equal(b.fn, 0);
	assert_int_equal(vfio_parse_bdf("00:1f.7", &b, &err), 0);
	assert_string_equal(vfio_bdf_str(&b).s, "0000:00:1f.7");
	assert_int_equal(vfio_parse_bdf("ABCD:Ef:01.2", &b, &err), 0);
	assert_string_equal(vfio_bdf_str(&b).s, "abcd:ef:01.2");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vfio_parse_bdf(bad[i], &b, &err) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		expect_msg(&err, "0000:00:03.0 or 00:03.0");
	}
	assert_int_equal(vfio_parse_bdf("00:20.0", &b, &err), -EINVAL);
	expect_msg(&err, "device 20 function 0 is out of range");
	assert_int_equal(vfio_parse_bdf("00:03.8", &b, &err), -EINVAL);
	expect_msg(&err, "out of range");
}

/* VFIO_IOMMU_GET_INFO parsing */

static void test_info_parse(void **state)
{
	uint8_t buf[512];
	struct vfio_iommu_info info;
	struct error err = {0};
	size_t n;

	(void)state;
	n = build_info(buf, 0x40201000, NULL, 0, false);
	assert_int_equal(vfio_parse_iommu_info(buf, n, &info, &err), 0);
	assert_int_equal(info.iova_pgsizes, 0x40201000);
	assert_false(info.have_ranges);

	n = build_info(buf, 0x1000, x86_ranges, 2, true);
	assert_int_equal(vfio_parse_iommu_info(buf, n, &info, &err), 0);
	assert_true(info.have_ranges);
	assert_int_equal(info.nranges, 2);
	assert_int_equal(info.range[0].start, 0);
	assert_int_equal(info.range[0].last, 0xfedfffff);
	assert_int_equal(info.range[1].start, 0xfef00000);
	assert_int_equal(info.range[1].last, (1ULL << 39) - 1);

	/* A buffer cut anywhere is refused, never read past. */
	for (size_t cut = 0; cut < n; cut++) {
		struct vfio_iommu_type1_info hdr;

		build_info(buf, 0x1000, x86_ranges, 2, true);
		memcpy(&hdr, buf, sizeof(hdr));
		if (cut >= sizeof(hdr)) {
			hdr.argsz = cut;
			memcpy(buf, &hdr, sizeof(hdr));
		}
		assert_int_equal(vfio_parse_iommu_info(buf, cut, &info, &err), -EINVAL);
	}
}

/* Corrupts one field of a well-formed buffer and expects a refusal naming the problem. */
static void expect_info_refused(size_t at, const void *val, size_t len, const char *want)
{
	uint8_t buf[512];
	struct vfio_iommu_info info;
	struct error err = {0};
	size_t n = build_info(buf, 0x1000, x86_ranges, 2, true);

	memcpy(buf + at, val, len);
	assert_int_equal(vfio_parse_iommu_info(buf, n, &info, &err), -EINVAL);
	expect_msg(&err, want);
}

static void test_info_malformed(void **state)
{
	const size_t hdr = sizeof(struct vfio_iommu_type1_info);
	const size_t mig = sizeof(struct vfio_iommu_type1_info_cap_migration);
	const size_t rc = sizeof(struct vfio_iommu_type1_info_cap_iova_range);
	uint32_t u32;
	uint64_t u64;

	(void)state;
	u32 = 4096;
	expect_info_refused(offsetof(struct vfio_iommu_type1_info, argsz), &u32, 4, "argsz 4096");
	u32 = 4;
	expect_info_refused(offsetof(struct vfio_iommu_type1_info, cap_offset), &u32, 4,
			    "capability at 4 outside");
	u32 = 4000;
	expect_info_refused(offsetof(struct vfio_iommu_type1_info, cap_offset), &u32, 4,
			    "capability at 4000 outside");
	/* The second capability points back at the first: a loop. */
	u32 = hdr;
	expect_info_refused(hdr + mig + offsetof(struct vfio_info_cap_header, next), &u32, 4,
			    "points back");
	u32 = 3;
	expect_info_refused(hdr + mig +
				    offsetof(struct vfio_iommu_type1_info_cap_iova_range, nr_iovas),
			    &u32, 4, "3 IOVA ranges");
	u32 = 0xffffffff;
	expect_info_refused(hdr + mig +
				    offsetof(struct vfio_iommu_type1_info_cap_iova_range, nr_iovas),
			    &u32, 4, "4294967295 IOVA ranges");
	/* Ranges out of order, overlapping, or empty. */
	u64 = 0xfed00000;
	expect_info_refused(hdr + mig + rc + 16, &u64, 8, "range 1");
	u64 = 0xfee00000;
	expect_info_refused(hdr + mig + rc + 0, &u64, 8, "range 0");
}

/* Start-up checks */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_entry_limit_file(void **state)
{
	static const char *const bad[] = {"",	 "abc\n", "-1\n",
					  "0\n", "12x\n", "99999999999999999999999\n"};
	char path[] = "/tmp/slabvm-limit-XXXXXX";
	struct error err = {0};
	uint64_t limit = 0;
	unsigned int i;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "65535\n");
	assert_int_equal(vfio_read_entry_limit(path, &limit, &err), 0);
	assert_int_equal(limit, 65535);
	write_file(path, "4000000");
	assert_int_equal(vfio_read_entry_limit(path, &limit, &err), 0);
	assert_int_equal(limit, 4000000);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i]);
		assert_int_equal(vfio_read_entry_limit(path, &limit, &err), -EINVAL);
		expect_msg(&err, "is not a mapping limit");
	}
	unlink(path);
	assert_int_equal(vfio_read_entry_limit(path, &limit, &err), -ENOENT);
	expect_msg(&err, "vfio_iommu_type1 module");
}

static void map_init(struct memmap *mm, uint64_t mem, uint64_t maxmem, uint64_t granule)
{
	struct memmap_config c = {.mem = mem, .maxmem = maxmem, .granule = granule};
	struct error err = {0};

	if (memmap_init(mm, &c, NULL, NULL, &err))
		fail_msg("memmap_init: %s", err.msg);
}

static void test_pgsizes(void **state)
{
	struct error err = {0};

	(void)state;
	assert_int_equal(vfio_check_pgsizes(4 * K, 0x40201000, &err), 0);
	assert_int_equal(vfio_check_pgsizes(64 * K, 0x40201000, &err), 0);
	assert_int_equal(vfio_check_pgsizes(1 * G, 0x40201000, &err), 0);
	assert_int_equal(vfio_check_pgsizes(2 * M, 0x40200000, &err), 0);
	assert_int_equal(vfio_check_pgsizes(64 * K, 0x40200000, &err), -EINVAL);
	expect_msg(&err, "--granule 64K is not a multiple of the IOMMU's smallest page, 2M");
	expect_msg(&err, "use --granule 2M or larger");
	assert_int_equal(vfio_check_pgsizes(2 * M, 0, &err), -EINVAL);
	expect_msg(&err, "no page sizes");
}

static struct vfio_iommu_info ranges(const struct vfio_iova_range *r, unsigned int n)
{
	struct vfio_iommu_info info = {.have_ranges = true, .nranges = n};
	unsigned int i;

	for (i = 0; i < n; i++)
		info.range[i] = (struct vfio_range){r[i].start, r[i].end};
	return info;
}

static void test_iova_ranges(void **state)
{
	static const struct vfio_iova_range hole[] = {
		{0, 0x7fffffff},
		{0x80200000, UINT64_MAX},
	};
	static const struct vfio_iova_range cut[] = {
		{0, 0x800fffff},
		{0x80200000, UINT64_MAX},
	};
	static const struct vfio_iova_range whole[] = {{0, UINT64_MAX}};
	struct vfio_iommu_info info = ranges(x86_ranges, 2), none = {0};
	struct memmap mm;
	struct error err = {0};

	(void)state;
	/* 3 GiB low, 1 GiB high, a DIMM window: all clear of the interrupt window. */
	map_init(&mm, 4 * G, 8 * G, 2 * M);
	assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), 0);
	info = ranges(whole, 1);
	assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), 0);
	assert_int_equal(vfio_check_iova_ranges(&mm, &none, &err), 0);
	memmap_destroy(&mm);

	/* A hotplug window past the IOMMU's 39 address bits. */
	map_init(&mm, 4 * G, 600 * G, 1 * G);
	info = ranges(x86_ranges, 2);
	assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), -EINVAL);
	expect_msg(&err, "dimm RAM granule [0x8000000000, 0x803fffffff]");
	expect_msg(&err, "the IOMMU maps nothing from 0x8000000000");
	memmap_destroy(&mm);
	/* The same with --slots: the window counts whole, with no DIMM placed in it yet. */
	{
		struct memmap_config c = {
			.mem = 4 * G, .maxmem = 600 * G, .granule = 1 * G, .slots = 4};

		assert_int_equal(memmap_init(&mm, &c, NULL, NULL, &err), 0);
		assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), -EINVAL);
		expect_msg(&err, "dimm RAM granule [0x8000000000, 0x803fffffff]");
		memmap_destroy(&mm);
		c.maxmem = 8 * G;
		assert_int_equal(memmap_init(&mm, &c, NULL, NULL, &err), 0);
		assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), 0);
		memmap_destroy(&mm);
	}

	/* A reserved hole inside low RAM, and a granule that sticks out of its range. */
	map_init(&mm, 3 * G, 0, 2 * M);
	info = ranges(hole, 2);
	assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), -EINVAL);
	expect_msg(&err, "granule [0x80000000, 0x801fffff]");
	expect_msg(&err, "the IOMMU reserves [0x80000000, 0x801fffff]");
	info = ranges(cut, 2);
	assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), -EINVAL);
	expect_msg(&err, "granule [0x80000000, 0x801fffff]");
	expect_msg(&err, "the IOMMU reserves [0x80100000, 0x801fffff]");
	memmap_destroy(&mm);
	/* RAM that ends below the hole does not care about it. */
	map_init(&mm, 2 * G, 0, 1 * G);
	info = ranges(cut, 2);
	assert_int_equal(vfio_check_iova_ranges(&mm, &info, &err), 0);
	memmap_destroy(&mm);
}

static void test_memlock(void **state)
{
	struct memmap mm;
	struct error err = {0};

	(void)state;
	map_init(&mm, 1 * G, 2 * G, 2 * M);
	assert_int_equal(vfio_check_memlock(&mm, 2 * G, &err), 0);
	assert_int_equal(vfio_check_memlock(&mm, RLIM_INFINITY, &err), 0);
	assert_int_equal(vfio_check_memlock(&mm, 1 * G, &err), -ENOMEM);
	expect_msg(&err, "RLIMIT_MEMLOCK is 1G");
	expect_msg(&err, "2G");
	memmap_destroy(&mm);
}

/* Opening devices */

static void expect_refusal(struct fake_sys *s, const char *bdf, int code, const char *want)
{
	struct vfio_container c;
	struct error err = {0};

	container_init(&c, s);
	assert_int_equal(vfio_container_add_device(&c, bdf, NULL, &err), code);
	expect_msg(&err, want);
	/* Nothing stays open after a refusal. */
	assert_int_equal(s->k.open_fds, 0);
	vfio_container_destroy(&c);
}

static void test_refusals(void **state)
{
	struct fake_sys *s = *state;

	expect_refusal(s, "00:09.0", -ENODEV, "vfio device 0000:00:09.0: no such PCI device");
	expect_refusal(s, "00:08.0", -ENODEV, "vfio device 0000:00:08.0: not in an IOMMU group");
	expect_refusal(s, "0000:00:07.0", -ENODEV,
		       "vfio device 0000:00:07.0: not bound to any driver; bind it to vfio-pci");
	expect_refusal(s, "0000:00:06.0", -ENODEV,
		       "vfio device 0000:00:06.0: bound to e1000e, not vfio-pci");
	expect_refusal(s, "00:05.0", -EBUSY,
		       "vfio device 0000:00:05.0: IOMMU group 7 is not viable: 0000:00:05.1 of "
		       "the group is bound to e1000e");
	expect_refusal(s, "bogus", -EINVAL, "PCI address \"bogus\"");

	s->k.have_vfio = false;
	expect_refusal(s, "00:03.0", -ENOENT,
		       "vfio device 0000:00:03.0: cannot open " /* devdir */);
	expect_refusal(s, "00:03.0", -ENOENT,
		       "/dev/vfio/vfio: No such file or directory "
		       "(load the vfio-pci module)");
	s->k.have_vfio = true;
	s->k.api = 1;
	expect_refusal(s, "00:03.0", -EINVAL, "speaks vfio API 1, not 0");
	s->k.api = VFIO_API_VERSION;
	s->k.type1v2 = false;
	expect_refusal(s, "00:03.0", -ENODEV,
		       "vfio device 0000:00:03.0: the host's vfio has no type1v2 IOMMU");
	s->k.type1v2 = true;
}

static void test_open(void **state)
{
	static const unsigned long first[] = {
		VFIO_GET_API_VERSION,	  VFIO_CHECK_EXTENSION,	    VFIO_GROUP_GET_STATUS,
		VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU,	    VFIO_IOMMU_GET_INFO,
		VFIO_IOMMU_GET_INFO,	  VFIO_GROUP_GET_DEVICE_FD,
	};
	struct fake_sys *s = *state;
	struct vfio_container c;
	struct vfio_device *d, *d2, *d3;
	struct error err = {0};
	unsigned int i;

	container_init(&c, s);
	assert_int_equal(vfio_container_add_device(&c, "00:03.0", &d, &err), 0);
	assert_string_equal(d->name, "0000:00:03.0");
	assert_int_equal(d->fd, FD_DEVICE);
	assert_int_equal(d->group->id, 5);
	assert_int_equal(s->k.ncalls, sizeof(first) / sizeof(first[0]));
	for (i = 0; i < s->k.ncalls; i++)
		assert_int_equal(s->k.calls[i], first[i]);
	assert_true(c.iommu_set);
	assert_int_equal(c.info.iova_pgsizes, 0x40201000);
	assert_int_equal(c.info.nranges, 2);
	assert_int_equal(s->k.open_fds, 3); /* container, group 5, device */

	/* A second group joins the container without setting the IOMMU again. */
	s->k.ncalls = 0;
	assert_int_equal(vfio_container_add_device(&c, "0000:00:04.0", &d2, &err), 0);
	assert_int_equal(s->k.ncalls, 3);
	assert_int_equal(s->k.calls[0], VFIO_GROUP_GET_STATUS);
	assert_int_equal(s->k.calls[1], VFIO_GROUP_SET_CONTAINER);
	assert_int_equal(s->k.calls[2], VFIO_GROUP_GET_DEVICE_FD);
	/* Its sibling shares the group. */
	s->k.ncalls = 0;
	assert_int_equal(vfio_container_add_device(&c, "0000:00:04.1", &d3, &err), 0);
	assert_int_equal(s->k.ncalls, 1);
	assert_ptr_equal(d2->group, d3->group);
	assert_int_equal(c.ngroups, 2);
	assert_int_equal(c.ndevices, 3);
	assert_int_equal(vfio_container_add_device(&c, "00:04.1", NULL, &err), -EEXIST);
	expect_msg(&err, "vfio device 0000:00:04.1 given twice");
	/* A refused device leaves the others as they were. */
	assert_int_equal(vfio_container_add_device(&c, "00:05.0", NULL, &err), -EBUSY);
	assert_int_equal(s->k.open_fds, 6);
	vfio_container_destroy(&c);
	assert_int_equal(s->k.open_fds, 0);
}

static void test_check(void **state)
{
	struct fake_sys *s = *state;
	char path[PATH_MAX];
	struct vfio_container c;
	struct memmap mm;
	struct error err = {0};

	snprintf(path, sizeof(path), "%s/dma_entry_limit", s->root);
	write_file(path, "65535\n");
	container_init(&c, s);
	map_init(&mm, 1 * G, 0, 4 * K);
	assert_int_equal(vfio_container_check(&c, &mm, path, 0, RLIM_INFINITY, &err), -EINVAL);
	expect_msg(&err, "no device");
	assert_int_equal(vfio_container_add_device(&c, "00:03.0", NULL, &err), 0);
	/* 262144 granules of 4K; 32K is the smallest that fits 65535 mappings. */
	assert_int_equal(vfio_container_check(&c, &mm, path, 0, RLIM_INFINITY, &err), -ENOSPC);
	expect_msg(&err, "--granule 4K needs 262144 IOMMU mappings for 1G of RAM");
	expect_msg(&err, "use --granule 32K or larger");
	memmap_destroy(&mm);
	map_init(&mm, 1 * G, 0, 32 * K);
	assert_int_equal(vfio_container_check(&c, &mm, path, 0, RLIM_INFINITY, &err), 0);
	/* BAR mappings count too. */
	assert_int_equal(vfio_container_check(&c, &mm, path, 32768, RLIM_INFINITY, &err), -ENOSPC);
	expect_msg(&err, "(and 32768 for devices)");
	expect_msg(&err, "use --granule 64K or larger");
	assert_int_equal(vfio_container_check(&c, &mm, path, 0, 512 * M, &err), -ENOMEM);
	expect_msg(&err, "RLIMIT_MEMLOCK is 512M");
	memmap_destroy(&mm);
	/* An IOMMU whose smallest page is 2M. */
	map_init(&mm, 1 * G, 0, 64 * K);
	c.info.iova_pgsizes = 0x40200000;
	assert_int_equal(vfio_container_check(&c, &mm, path, 0, RLIM_INFINITY, &err), -EINVAL);
	expect_msg(&err, "smallest page, 2M");
	memmap_destroy(&mm);
	vfio_container_destroy(&c);
	unlink(path);
}

/* The listener */

/* The fake kernel's mappings must be exactly the oracle's: one per mapped granule. */
static void check_mappings(struct fake_vfio *k, struct vfio_container *c, struct fake_env *e)
{
	struct memmap *mm = &e->mm;
	uint64_t live = 0;
	unsigned int i;
	size_t j;

	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];
		uint64_t g;

		for (g = 0; g < r->ngranules; g++)
			live += fake_listener_mapped(&e->iommu, r->gpa + g * mm->granule);
	}
	assert_int_equal(k->nmap, live);
	assert_int_equal(c->nmapped, live);
	for (j = 0; j < k->nmap; j++) {
		const struct fake_mapping *m = &k->map[j];
		const struct memmap_region *r = memmap_find(mm, m->iova);

		assert_non_null(r);
		assert_true(r->plugged);
		assert_int_equal(m->size, mm->granule);
		assert_int_equal(m->iova % mm->granule, 0);
		assert_int_equal(m->vaddr, (uintptr_t)(r->hva + (m->iova - r->gpa)));
		assert_true(fake_listener_mapped(&e->iommu, m->iova));
	}
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void listener_run(struct fake_sys *s, uint64_t granule, uint64_t seed, unsigned int steps)
{
	struct memmap_config cfg = {
		.mem = 32 * M, .maxmem = 48 * M, .granule = granule, .dimm_size = 8 * M};
	struct vfio_container c;
	struct fake_env e;
	struct error err = {0};
	unsigned int i, dimm = 0;

	s->k.nmap = 0;
	container_init(&c, s);
	assert_int_equal(vfio_container_add_device(&c, "00:03.0", NULL, &err), 0);
	assert_int_equal(fake_env_init(&e, &cfg, true, &err), 0);
	assert_int_equal(memmap_add_listener(&e.mm, &c.listener, &err), 0);
	assert_int_equal(memmap_start(&e.mm, &err), 0);
	assert_int_equal(c.nmap_calls, 32 * M / granule);
	check_mappings(&s->k, &c, &e);
	for (i = 0; i < e.mm.nregions; i++)
		if (e.mm.region[i].kind == MEMMAP_DIMM && !dimm)
			dimm = i;
	assert_true(dimm > 0);

	for (i = 0; i < steps; i++) {
		uint64_t op = rnd(&seed) % 16, page, gpa;
		unsigned int idx = dimm + rnd(&seed) % 2;
		struct memmap_region *r;

		if (op == 0) {
			memmap_plug(&e.mm, idx, &err);
		} else if (op == 1) {
			memmap_unplug(&e.mm, idx, &err);
		} else {
			if (op == 2)
				s->k.fail_map = 1 + rnd(&seed) % 3;
			page = rnd(&seed) % ((32 * M + 16 * M) / PAGE);
			gpa = page * PAGE;
			if (gpa >= 32 * M)
				gpa = e.mm.region[dimm].gpa + (gpa - 32 * M);
			r = memmap_find(&e.mm, gpa);
			assert_non_null(r);
			/* Runs of pages, so that whole granules fill up and drain. */
			for (page = 0; page < 2 * granule / PAGE && gpa < r->gpa + r->size;
			     page++, gpa += PAGE) {
				if (op & 1)
					memmap_inflate_page(&e.mm, gpa);
				else
					memmap_deflate_page(&e.mm, gpa);
			}
		}
		fake_env_check(&e);
		check_mappings(&s->k, &c, &e);
	}
	s->k.fail_map = 0;
	/* As slabvm stops: devices and container go before the guest memory. */
	vfio_container_destroy(&c);
	fake_env_free(&e);
	assert_int_equal(s->k.open_fds, 0);
}

static void test_listener(void **state)
{
	struct fake_sys *s = *state;

	listener_run(s, 4 * K, 0x9e3779b97f4a7c15ULL, 400);
	listener_run(s, 64 * K, 0x2545f4914f6cdd1dULL, 400);
	listener_run(s, 2 * M, 0x5851f42d4c957f2dULL, 400);
}

/* A MAP_DMA that fails on deflate leaves the granule discarded; an unmap must be whole. */
static void test_listener_failures(void **state)
{
	struct fake_sys *s = *state;
	struct memmap_config cfg = {.mem = 16 * M, .granule = 2 * M};
	struct vfio_container c;
	struct fake_env e;
	struct error err = {0};
	uint64_t p;

	s->k.nmap = 0;
	container_init(&c, s);
	assert_int_equal(vfio_container_add_device(&c, "00:03.0", NULL, &err), 0);
	assert_int_equal(fake_env_init(&e, &cfg, true, &err), 0);
	assert_int_equal(memmap_add_listener(&e.mm, &c.listener, &err), 0);
	assert_int_equal(memmap_start(&e.mm, &err), 0);
	for (p = 0; p < 2 * M / PAGE; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, 4 * M + p * PAGE), 0);
	assert_int_equal(memmap_granule_state(&e.mm, 4 * M), GRANULE_DISCARDED);
	assert_int_equal(c.nmapped, 7);
	s->k.fail_map = 1;
	assert_int_equal(memmap_deflate_page(&e.mm, 4 * M), -ENOMEM);
	assert_int_equal(memmap_granule_state(&e.mm, 4 * M), GRANULE_DISCARDED);
	fake_env_check(&e);
	check_mappings(&s->k, &c, &e);
	assert_int_equal(memmap_deflate_page(&e.mm, 4 * M), 0);
	assert_int_equal(c.nmapped, 8);
	check_mappings(&s->k, &c, &e);

	/* An UNMAP_DMA that removes less than the granule is a failure, never counted. */
	s->k.short_unmap = true;
	for (p = 0; p < 2 * M / PAGE - 1; p++)
		assert_int_equal(memmap_inflate_page(&e.mm, 8 * M + p * PAGE), 0);
	assert_int_equal(memmap_inflate_page(&e.mm, 8 * M + p * PAGE), -EIO);
	s->k.short_unmap = false;
	assert_int_equal(c.nmapped, 8);
	fake_env_check(&e);
	check_mappings(&s->k, &c, &e);
	assert_int_equal(memmap_granule_state(&e.mm, 8 * M), GRANULE_PARTIAL);

	vfio_container_destroy(&c);
	fake_env_free(&e);
}

static void noop_queue(struct virtio_transport *t, unsigned int q)
{
	(void)t;
	(void)q;
}

static void noop_config(struct virtio_transport *t)
{
	(void)t;
}

static const struct virtio_transport_ops noop_transport = {noop_queue, noop_config, noop_config,
							   noop_queue};

/* The kernel's mappings of the granule at gpa (the fake refuses overlaps: 0 or 1). */
static unsigned int kernel_maps(const struct fake_vfio *k, uint64_t gpa)
{
	unsigned int n = 0;
	size_t j;

	for (j = 0; j < k->nmap; j++)
		n += k->map[j].iova == gpa;
	return n;
}

/*
 * The balloon over the container: a deflate whose MAP_DMA fails with ENOMEM is not
 * returned to the guest, and is once MAP_DMA works again, with exactly one mapping.
 */
static void test_balloon_deflate_enomem(void **state)
{
	struct fake_sys *s = *state;
	struct memmap_config cfg = {.mem = 16 * M, .granule = 2 * M};
	const uint64_t ring[2] = {1 * M, 1 * M + 0x30000}, buf = 4 * M, gpa = 10 * M;
	struct virtio_transport t = {&noop_transport, NULL};
	uint16_t avail[2] = {0, 0};
	struct vfio_container c;
	struct balloon_info i;
	struct fake_env e;
	struct balloon b;
	struct error err = {0};
	unsigned int q;
	uint64_t p;

	s->k.nmap = 0;
	container_init(&c, s);
	assert_int_equal(vfio_container_add_device(&c, "00:03.0", NULL, &err), 0);
	assert_int_equal(fake_env_init(&e, &cfg, true, &err), 0);
	assert_int_equal(memmap_add_listener(&e.mm, &c.listener, &err), 0);
	assert_int_equal(memmap_start(&e.mm, &err), 0);
	assert_int_equal(balloon_init(&b, &e.mm, &t, NULL), 0);
	assert_true(balloon_ops.set_features(
		&b, FEAT_VERSION_1 | (1ULL << VIRTIO_BALLOON_F_MUST_TELL_HOST)));
	for (q = 0; q < 2; q++) {
		struct virtio_queue_config qc =
			vring_qcfg(16, ring[q], ring[q] + 0x10000, ring[q] + 0x20000);

		vring_zero(&e.mm, qc.desc, qc.avail, qc.used);
		balloon_ops.queue_ready(&b, q, &qc);
	}
	/* The driver inflates the granule at 10 MiB: unmapped, released. */
	for (p = 0; p < 2 * M / PAGE; p++)
		vring_write16(&e.mm, buf + 4 * p, (gpa + p * PAGE) / PAGE);
	vring_put_desc(&e.mm, ring[0], 0, buf, 2 * M / PAGE * 4, 0, 0);
	vring_avail_add(&e.mm, ring[0] + 0x10000, 16, &avail[0], 0);
	balloon_ops.queue_notify(&b, 0);
	assert_int_equal(memmap_granule_state(&e.mm, gpa), GRANULE_DISCARDED);
	assert_int_equal(kernel_maps(&s->k, gpa), 0);

	/* Then deflates one page of it while pinning more would pass RLIMIT_MEMLOCK. */
	s->k.enomem = true;
	vring_write16(&e.mm, buf + 0x1000, (gpa + PAGE) / PAGE);
	vring_put_desc(&e.mm, ring[1], 0, buf + 0x1000, 4, 0, 0);
	vring_avail_add(&e.mm, ring[1] + 0x10000, 16, &avail[1], 0);
	balloon_ops.queue_notify(&b, 1);
	balloon_get_info(&b, &i);
	assert_true(i.deflate_held);
	assert_int_equal(i.stats.deflate_last_error, -ENOMEM);
	assert_int_equal(vring_read16(&e.mm, ring[1] + 0x20000 + 2), 0);
	assert_int_equal(kernel_maps(&s->k, gpa), 0);
	assert_int_equal(memmap_granule_state(&e.mm, gpa), GRANULE_DISCARDED);
	assert_int_equal(balloon_retry_deflate(&b), 1);
	fake_env_check(&e);
	check_mappings(&s->k, &c, &e);

	s->k.enomem = false;
	assert_int_equal(balloon_retry_deflate(&b), 0);
	assert_int_equal(vring_read16(&e.mm, ring[1] + 0x20000 + 2), 1);
	assert_int_equal(kernel_maps(&s->k, gpa), 1);
	assert_int_equal(c.nmapped, 8);
	balloon_get_info(&b, &i);
	assert_false(i.deflate_held);
	assert_int_equal(i.iommu_mapped_granules, 8);
	fake_env_check(&e);
	check_mappings(&s->k, &c, &e);

	balloon_destroy(&b);
	vfio_container_destroy(&c);
	fake_env_free(&e);
}

/* The device: region info, config space through pread/pwrite, reset. */
static void test_device(void **state)
{
	struct fake_sys *s = *state;
	struct vfio_container c;
	struct vfio_device *d;
	struct vfio_pci_device p;
	struct vfio_pci_config cfg;
	uint64_t bars[VFIO_PCI_NUM_BARS];
	struct error err = {0};

	container_init(&c, s);
	assert_int_equal(vfio_container_add_device(&c, "00:03.0", &d, &err), 0);
	assert_int_equal(vfio_pci_device_probe(&p, &c, d, &err), 0);
	assert_int_equal(p.nirqs, VFIO_PCI_NUM_IRQS);
	assert_int_equal(p.bar[0].size, 1 << 20);
	assert_true(p.bar[0].flags & VFIO_REGION_INFO_FLAG_MMAP);
	assert_true(p.bar[0].msix_mappable);
	assert_int_equal(p.bar[1].size, 0);
	assert_int_equal(p.config.offset, (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << REGION_SHIFT);
	assert_int_equal(vfio_pci_device_config_size(&p), 256);
	vfio_pci_device_bar_sizes(&p, bars);
	assert_int_equal(bars[0], 1 << 20);
	assert_int_equal(bars[5], 0);

	/* pci_config reaches the device's config space through the device fd. */
	assert_int_equal(vfio_pci_config_init(&cfg, d->name, &vfio_pci_device_config_ops, &p, bars,
					      vfio_pci_device_config_size(&p), NULL, &err),
			 0);
	assert_int_equal(s->k.config[PCI_COMMAND], 0);
	assert_int_equal(vfio_pci_config_read(&cfg, PCI_VENDOR_ID, 4), 0x11e81234);
	vfio_pci_config_write(&cfg, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	assert_int_equal(s->k.config[PCI_COMMAND], PCI_COMMAND_MASTER);
	vfio_pci_config_destroy(&cfg);

	assert_int_equal(vfio_pci_device_reset(&p, &err), 0);
	assert_int_equal(s->k.nresets, 1);
	s->k.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	assert_int_equal(vfio_pci_device_probe(&p, &c, d, &err), 0);
	assert_int_equal(vfio_pci_device_reset(&p, &err), -ENOTSUP);
	expect_msg(&err, "vfio device 0000:00:03.0: cannot be reset: no function reset, and no "
			 "bus reset either");
	s->k.dev_flags = VFIO_DEVICE_FLAGS_PLATFORM;
	assert_int_equal(vfio_pci_device_probe(&p, &c, d, &err), -ENODEV);
	expect_msg(&err, "vfio device 0000:00:03.0: not a vfio-pci device");
	s->k.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	s->k.config_flags = VFIO_REGION_INFO_FLAG_READ;
	assert_int_equal(vfio_pci_device_probe(&p, &c, d, &err), -ENODEV);
	expect_msg(&err, "config region of 256 bytes, flags 0x1");
	vfio_container_destroy(&c);
}

/* Interrupts: what the kernel offers, and eventfds bound to vectors. */
static void test_device_irqs(void **state)
{
	const int fds[3] = {40, -1, 42};
	struct fake_sys *s = *state;
	struct vfio_container c;
	struct vfio_device *d;
	struct vfio_pci_device p;
	struct error err = {0};
	uint32_t flags;

	container_init(&c, s);
	assert_int_equal(vfio_container_add_device(&c, "00:03.0", &d, &err), 0);
	assert_int_equal(vfio_pci_device_probe(&p, &c, d, &err), 0);
	assert_int_equal(vfio_pci_device_irq_count(&p, VFIO_PCI_MSIX_IRQ_INDEX, &flags, &err), 65);
	assert_true(flags & VFIO_IRQ_INFO_NORESIZE);
	assert_int_equal(vfio_pci_device_set_irqs(&p, VFIO_PCI_MSIX_IRQ_INDEX,
						  VFIO_IRQ_SET_ACTION_TRIGGER, 4, 3, fds, &err),
			 0);
	assert_int_equal(s->k.last_set.flags,
			 VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_EVENTFD);
	assert_int_equal(s->k.last_set.index, VFIO_PCI_MSIX_IRQ_INDEX);
	assert_int_equal(s->k.last_set.start, 4);
	assert_int_equal(s->k.last_set.count, 3);
	assert_int_equal(s->k.set_fds[0], 40);
	assert_int_equal(s->k.set_fds[1], -1);
	assert_int_equal(s->k.set_fds[2], 42);
	/* INTx unmask through KVM's resample eventfd, then all of MSI-X off. */
	assert_int_equal(vfio_pci_device_set_irqs(&p, VFIO_PCI_INTX_IRQ_INDEX,
						  VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, fds, &err),
			 0);
	assert_int_equal(s->k.last_set.flags,
			 VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_DATA_EVENTFD);
	assert_int_equal(vfio_pci_device_set_irqs(&p, VFIO_PCI_MSIX_IRQ_INDEX,
						  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, &err),
			 0);
	assert_int_equal(s->k.last_set.flags, VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_NONE);
	assert_int_equal(s->k.last_set.count, 0);
	assert_int_equal(
		vfio_pci_device_set_irqs(&p, 9, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, &err),
		-EINVAL);
	expect_msg(&err, "VFIO_DEVICE_SET_IRQS index 9");
	assert_int_equal(vfio_pci_device_irq_count(&p, 9, &flags, &err), 0);
	vfio_container_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bdf),
		cmocka_unit_test(test_info_parse),
		cmocka_unit_test(test_info_malformed),
		cmocka_unit_test(test_entry_limit_file),
		cmocka_unit_test(test_pgsizes),
		cmocka_unit_test(test_iova_ranges),
		cmocka_unit_test(test_memlock),
		cmocka_unit_test_setup_teardown(test_refusals, sys_setup, sys_teardown),
		cmocka_unit_test_setup_teardown(test_open, sys_setup, sys_teardown),
		cmocka_unit_test_setup_teardown(test_check, sys_setup, sys_teardown),
		cmocka_unit_test_setup_teardown(test_listener, sys_setup, sys_teardown),
		cmocka_unit_test_setup_teardown(test_listener_failures, sys_setup, sys_teardown),
		cmocka_unit_test_setup_teardown(test_balloon_deflate_enomem, sys_setup,
						sys_teardown),
		cmocka_unit_test_setup_teardown(test_device, sys_setup, sys_teardown),
		cmocka_unit_test_setup_teardown(test_device_irqs, sys_setup, sys_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
