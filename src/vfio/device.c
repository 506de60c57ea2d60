// SPDX-License-Identifier: MIT
#include "vfio/device.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vfio.h>

#include "vfio/msix.h"

/* Region info: the fixed part first, then again with room for the capability chain. */
static int region_info(struct vfio_pci_device *p, unsigned int index, struct vfio_region *r,
		       struct error *err)
{
	struct vfio_container *c = p->c;
	struct vfio_region_info hdr = {.argsz = sizeof(hdr), .index = index};
	uint8_t *buf;
	int ret;

	ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_GET_REGION_INFO, &hdr);
	if (ret < 0)
		return error_set(err, ret, "vfio device %s: region %u: %s", p->d->name, index,
				 strerror(-ret));
	if (hdr.argsz > 65536)
		return error_set(err, -EINVAL,
				 "vfio device %s: region %u info of %" PRIu32 " bytes", p->d->name,
				 index, hdr.argsz);
	if (hdr.argsz <= sizeof(hdr))
		return vfio_parse_region_info(&hdr, sizeof(hdr), r, err);
	buf = calloc(1, hdr.argsz);
	if (!buf)
		return error_set(err, -ENOMEM, "vfio device %s: out of memory", p->d->name);
	memcpy(buf, &(struct vfio_region_info){.argsz = hdr.argsz, .index = index}, sizeof(hdr));
	ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_GET_REGION_INFO, buf);
	if (ret < 0)
		ret = error_set(err, ret, "vfio device %s: region %u: %s", p->d->name, index,
				strerror(-ret));
	else
		ret = vfio_parse_region_info(buf, hdr.argsz, r, err);
	free(buf);
	return ret;
}

int vfio_pci_device_probe(struct vfio_pci_device *p, struct vfio_container *c,
			  struct vfio_device *d, struct error *err)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	const uint32_t rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	unsigned int i;
	int ret;

	memset(p, 0, sizeof(*p));
	p->c = c;
	p->d = d;
	ret = c->ops->ioctl(c->ctx, d->fd, VFIO_DEVICE_GET_INFO, &info);
	if (ret < 0)
		return error_set(err, ret, "vfio device %s: VFIO_DEVICE_GET_INFO: %s", d->name,
				 strerror(-ret));
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		return error_set(err, -ENODEV,
				 "vfio device %s: not a vfio-pci device (flags 0x%" PRIx32
				 ", %" PRIu32 " regions)",
				 d->name, info.flags, info.num_regions);
	p->flags = info.flags;
	p->nirqs = info.num_irqs;
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		ret = region_info(p, VFIO_PCI_BAR0_REGION_INDEX + i, &p->bar[i], err);
		if (ret)
			return ret;
	}
	ret = region_info(p, VFIO_PCI_ROM_REGION_INDEX, &p->rom, err);
	if (!ret)
		ret = region_info(p, VFIO_PCI_CONFIG_REGION_INDEX, &p->config, err);
	if (ret)
		return ret;
	if ((p->config.flags & rw) != rw ||
	    (p->config.size != VFIO_PCI_CFG_SIZE && p->config.size < VFIO_PCI_CFG_EXP_SIZE))
		return error_set(err, -ENODEV,
				 "vfio device %s: config region of %" PRIu64
				 " bytes, flags 0x%" PRIx32,
				 d->name, p->config.size, p->config.flags);
	return 0;
}

void vfio_pci_device_bar_sizes(const struct vfio_pci_device *p, uint64_t size[VFIO_PCI_NUM_BARS])
{
	unsigned int i;

	for (i = 0; i < VFIO_PCI_NUM_BARS; i++)
		size[i] = p->bar[i].size;
}

unsigned int vfio_pci_device_config_size(const struct vfio_pci_device *p)
{
	return p->config.size == VFIO_PCI_CFG_SIZE ? VFIO_PCI_CFG_SIZE : VFIO_PCI_CFG_EXP_SIZE;
}

static int config_read(void *ctx, unsigned int offset, void *buf, unsigned int len)
{
	struct vfio_pci_device *p = ctx;
	struct vfio_container *c = p->c;
	ssize_t n = c->ops->pread(c->ctx, p->d->fd, buf, len, p->config.offset + offset);

	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

static int config_write(void *ctx, unsigned int offset, const void *buf, unsigned int len)
{
	struct vfio_pci_device *p = ctx;
	struct vfio_container *c = p->c;
	ssize_t n = c->ops->pwrite(c->ctx, p->d->fd, buf, len, p->config.offset + offset);

	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

const struct vfio_pci_dev_ops vfio_pci_device_config_ops = {config_read, config_write};

int vfio_pci_device_irq_count(struct vfio_pci_device *p, unsigned int index, uint32_t *flags,
			      struct error *err)
{
	struct vfio_irq_info info = {.argsz = sizeof(info), .index = index};
	struct vfio_container *c = p->c;
	int ret;

	if (index >= p->nirqs) {
		*flags = 0;
		return 0;
	}
	ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_GET_IRQ_INFO, &info);
	if (ret < 0)
		return error_set(err, ret, "vfio device %s: VFIO_DEVICE_GET_IRQ_INFO %u: %s",
				 p->d->name, index, strerror(-ret));
	*flags = info.flags;
	return info.count > VFIO_MSIX_MAX_VECTORS ? VFIO_MSIX_MAX_VECTORS : info.count;
}

int vfio_pci_device_set_irqs(struct vfio_pci_device *p, unsigned int index, uint32_t action,
			     unsigned int start, unsigned int count, const int *fds,
			     struct error *err)
{
	struct vfio_container *c = p->c;
	struct vfio_irq_set *set;
	size_t len = sizeof(*set) + (fds ? count * sizeof(int32_t) : 0);
	unsigned int i;
	int ret;

	if (count > VFIO_MSIX_MAX_VECTORS)
		return error_set(err, -EINVAL, "vfio device %s: %u interrupts", p->d->name, count);
	set = calloc(1, len);
	if (!set)
		return error_set(err, -ENOMEM, "vfio device %s: out of memory", p->d->name);
	set->argsz = len;
	set->flags = action | (fds ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	set->index = index;
	set->start = start;
	set->count = count;
	for (i = 0; fds && i < count; i++) {
		int32_t fd = fds[i];

		memcpy(set->data + i * sizeof(fd), &fd, sizeof(fd));
	}
	ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_SET_IRQS, set);
	free(set);
	if (ret < 0)
		return error_set(err, ret,
				 "vfio device %s: VFIO_DEVICE_SET_IRQS index %u, %u from %u: %s",
				 p->d->name, index, count, start, strerror(-ret));
	return 0;
}

/*
 * The affected functions of a bus reset, as VFIO_DEVICE_GET_PCI_HOT_RESET_INFO lists them:
 * asked once for the count (the kernel answers ENOSPC with it filled in), then with room.
 */
static int hot_reset_info(struct vfio_pci_device *p, struct vfio_pci_hot_reset_info **out,
			  struct error *err)
{
	struct vfio_container *c = p->c;
	struct vfio_pci_hot_reset_info hdr = {.argsz = sizeof(hdr)}, *info;
	size_t len;
	int ret;

	ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hdr);
	if (ret < 0 && ret != -ENOSPC)
		return error_set(err, -ENOTSUP,
				 "vfio device %s: cannot be reset: no function reset, and no bus "
				 "reset either (%s)",
				 p->d->name, strerror(-ret));
	if (hdr.count == 0 || hdr.count > VFIO_MAX_HOT_RESET_DEVICES)
		return error_set(
			err, -ENOTSUP,
			"vfio device %s: cannot be reset: a bus reset would affect %" PRIu32
			" functions",
			p->d->name, hdr.count);
	len = sizeof(*info) + hdr.count * sizeof(info->devices[0]);
	info = calloc(1, len);
	if (!info)
		return error_set(err, -ENOMEM, "vfio device %s: out of memory", p->d->name);
	info->argsz = len;
	ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
	if (ret < 0 || info->count > hdr.count) {
		free(info);
		return error_set(
			err, -ENOTSUP,
			"vfio device %s: cannot be reset: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: %s",
			p->d->name, ret < 0 ? strerror(-ret) : "the count grew");
	}
	*out = info;
	return 0;
}

/*
 * A bus reset resets every function the kernel lists, and vfio-pci allows it only to a
 * caller that proves it owns each one's IOMMU group by passing the group fds: here, every
 * group must be one of our container's. Then the other functions are ours too (assigned
 * to this guest, or bound to vfio-pci in a group we hold) and their reset disturbs nobody.
 */
static int hot_reset(struct vfio_pci_device *p, struct error *err)
{
	struct vfio_container *c = p->c;
	struct vfio_pci_hot_reset_info *info = NULL;
	struct vfio_pci_hot_reset *rst;
	unsigned int i, g, k, n = 0;
	int ret;

	ret = hot_reset_info(p, &info, err);
	if (ret)
		return ret;
	rst = calloc(1, sizeof(*rst) + VFIO_MAX_GROUPS * sizeof(rst->group_fds[0]));
	if (!rst) {
		free(info);
		return error_set(err, -ENOMEM, "vfio device %s: out of memory", p->d->name);
	}
	for (i = 0; !ret && i < info->count; i++) {
		const struct vfio_pci_dependent_device *dep = &info->devices[i];

		for (g = 0; g < c->ngroups && c->group[g].id != dep->group_id; g++)
			;
		if (g == c->ngroups) {
			ret = error_set(
				err, -ENOTSUP,
				"vfio device %s: cannot be reset: it has no function reset, "
				"and a bus reset would also reset %04x:%02x:%02x.%x of IOMMU "
				"group %" PRIu32 ", which slabvm does not hold",
				p->d->name, dep->segment, dep->bus, dep->devfn >> 3, dep->devfn & 7,
				dep->group_id);
			break;
		}
		for (k = 0; k < n && rst->group_fds[k] != c->group[g].fd; k++)
			;
		if (k == n)
			rst->group_fds[n++] = c->group[g].fd;
	}
	free(info);
	if (!ret) {
		rst->argsz = sizeof(*rst) + n * sizeof(rst->group_fds[0]);
		rst->count = n;
		ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_PCI_HOT_RESET, rst);
		if (ret < 0)
			ret = error_set(err, ret, "vfio device %s: VFIO_DEVICE_PCI_HOT_RESET: %s",
					p->d->name, strerror(-ret));
	}
	free(rst);
	return ret;
}

int vfio_pci_device_reset(struct vfio_pci_device *p, struct error *err)
{
	struct vfio_container *c = p->c;
	struct error hot = {0};
	int ret;

	if (!(p->flags & VFIO_DEVICE_FLAGS_RESET))
		return hot_reset(p, err);
	ret = c->ops->ioctl(c->ctx, p->d->fd, VFIO_DEVICE_RESET, NULL);
	if (ret >= 0)
		return 0;
	/* The flag says the kernel knew a reset when the device was opened; it can still
	 * fail now (a bus reset, say, once another function shares the bus). A bus reset
	 * through the groups we hold is then the best available. */
	if (!hot_reset(p, &hot))
		return 0;
	return error_set(err, ret, "vfio device %s: VFIO_DEVICE_RESET: %s; %s", p->d->name,
			 strerror(-ret), hot.msg);
}
