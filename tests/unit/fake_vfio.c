// SPDX-License-Identifier: MIT
#include "fake_vfio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void violation(struct fake_check *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->violations++) {
		va_start(ap, fmt);
		vsnprintf(c->first, sizeof(c->first), fmt, ap);
		va_end(ap);
	}
}

static void put(uint8_t *p, unsigned int off, unsigned int size, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		p[off + i] = v >> (8 * i);
}

/* ---- the function ---- */

static void bar_region(struct fake_vfio *f, unsigned int i, uint64_t size, bool mmap)
{
	struct fake_vfio_region *r = &f->region[i];
	uint64_t k;

	r->size = size;
	r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		   (mmap ? VFIO_REGION_INFO_FLAG_MMAP : 0);
	r->data = malloc(size);
	if (!r->data)
		abort();
	/* A pattern, so that a read shows where it went; it repeats every 256 bytes. */
	for (k = 0; k < size && k < 256; k++)
		r->data[k] = (uint8_t)(k * 7 + i);
	for (; k < size; k *= 2)
		memcpy(r->data + k, r->data, k < size - k ? k : size - k);
}

void fake_vfio_init(struct fake_vfio *f, bool express, uint64_t bar0_size)
{
	uint8_t *p = f->config;

	memset(f, 0, sizeof(*f));
	f->active = -1;
	f->dev_flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	f->nhot = 1;
	f->hot_group[0] = FAKE_VFIO_GROUP;
	put(p, PCI_VENDOR_ID, 2, 0x1234);
	put(p, PCI_DEVICE_ID, 2, 0x5a5a);
	put(p, PCI_CLASS_REVISION, 4, 0x010802 << 8 | 0x02);
	put(p, PCI_SUBSYSTEM_VENDOR_ID, 2, 0x1af4);
	put(p, PCI_SUBSYSTEM_ID, 2, 0x1100);
	/* What the host's firmware left: decoding and bus mastering on. */
	put(p, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	put(p, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	put(p, PCI_BASE_ADDRESS_0, 4, PCI_BASE_ADDRESS_MEM_TYPE_64);
	put(p, PCI_BASE_ADDRESS_2, 4, PCI_BASE_ADDRESS_MEM_TYPE_32);
	put(p, PCI_BASE_ADDRESS_4, 4, PCI_BASE_ADDRESS_SPACE_IO);
	p[PCI_INTERRUPT_PIN] = 1;
	p[PCI_CAPABILITY_LIST] = 0x40;
	put(p, 0x40, 4, 0x0003 << 16 | FAKE_VFIO_MSI_CAP << 8 | PCI_CAP_ID_PM);
	put(p, FAKE_VFIO_MSI_CAP, 4,
	    (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | 2 << 1) << 16 | FAKE_VFIO_MSIX_CAP << 8 |
		    PCI_CAP_ID_MSI);
	put(p, FAKE_VFIO_MSIX_CAP, 4,
	    (FAKE_VFIO_MSIX_NVEC - 1) << 16 | (express ? 0x80 : 0) << 8 | PCI_CAP_ID_MSIX);
	put(p, FAKE_VFIO_MSIX_CAP + PCI_MSIX_TABLE, 4, 0 | 2);
	put(p, FAKE_VFIO_MSIX_CAP + PCI_MSIX_PBA, 4, FAKE_VFIO_PBA_OFFSET | 2);
	if (express) {
		put(p, 0x80, 4, 2 << 16 | PCI_CAP_ID_EXP);
		put(p, 0x100, 4, 0x00010001);
	}
	bar_region(f, VFIO_PCI_BAR0_REGION_INDEX, bar0_size, true);
	bar_region(f, VFIO_PCI_BAR2_REGION_INDEX, 16 << 10, true);
	bar_region(f, VFIO_PCI_BAR4_REGION_INDEX, 32, false);
	f->region[VFIO_PCI_CONFIG_REGION_INDEX] = (struct fake_vfio_region){
		.size = express ? 4096 : 256,
		.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
		.data = f->config,
	};
	f->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 1;
	f->irq_count[VFIO_PCI_MSI_IRQ_INDEX] = FAKE_VFIO_MSI_NVEC;
	f->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = FAKE_VFIO_MSIX_NVEC;
}

void fake_vfio_destroy(struct fake_vfio *f)
{
	unsigned int i;

	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++)
		if (f->region[i].data != f->config)
			free(f->region[i].data);
	for (i = 0; i < FAKE_VFIO_MAPS; i++)
		free(f->map[i].p);
	memset(f->region, 0, sizeof(f->region));
	memset(f->map, 0, sizeof(f->map));
}

void fake_vfio_open(struct fake_vfio *f, struct vfio_container *c, struct vfio_device *d)
{
	vfio_container_init(c, &fake_vfio_ops, f, NULL, NULL);
	c->group[0] = (struct vfio_group){FAKE_VFIO_GROUP, FAKE_VFIO_GROUP_FD};
	c->ngroups = 1;
	memset(d, 0, sizeof(*d));
	d->group = &c->group[0];
	d->bdf = (struct vfio_bdf){0, 0, 3, 0};
	snprintf(d->name, sizeof(d->name), "0000:00:03.0");
	d->fd = FAKE_VFIO_FD;
}

const struct fake_vfio_set *fake_vfio_last_set(const struct fake_vfio *f)
{
	if (!f->nset)
		return NULL;
	return &f->set[(f->nset < FAKE_VFIO_LOG ? f->nset : FAKE_VFIO_LOG) - 1];
}

unsigned int fake_vfio_nmaps(const struct fake_vfio *f)
{
	unsigned int i, n = 0;

	for (i = 0; i < FAKE_VFIO_MAPS; i++)
		n += f->map[i].p != NULL;
	return n;
}

static int fake_open(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	return -ENOENT;
}

static void fake_close(void *ctx, int fd)
{
	struct fake_vfio *f = ctx;

	violation(&f->check, "close of fd %d, which nobody opened", fd);
}

static int region_info(struct fake_vfio *f, struct vfio_region_info *in)
{
	const struct fake_vfio_region *r;
	struct vfio_region_info out = {0};
	struct vfio_region_info_cap_sparse_mmap sp = {0};
	struct vfio_info_cap_header mx = {.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1};
	uint8_t caps[256];
	size_t ncaps = 0;

	if (in->argsz < sizeof(*in) || in->index >= VFIO_PCI_NUM_REGIONS) {
		violation(&f->check, "GET_REGION_INFO argsz %u index %u", in->argsz, in->index);
		return -EINVAL;
	}
	r = &f->region[in->index];
	out.index = in->index;
	out.offset = (uint64_t)in->index << FAKE_VFIO_REGION_SHIFT;
	out.size = r->size;
	out.flags = r->size ? r->flags : 0;
	if (r->size && r->nareas) {
		sp.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		sp.header.version = 1;
		sp.nr_areas = r->nareas;
		memcpy(caps, &sp, sizeof(sp));
		memcpy(caps + sizeof(sp), r->area, r->nareas * sizeof(r->area[0]));
		ncaps = sizeof(sp) + r->nareas * sizeof(r->area[0]);
	}
	if (r->size && r->msix_mappable) {
		/* The sparse capability, if any, comes first and points here. */
		if (ncaps) {
			struct vfio_info_cap_header h;

			memcpy(&h, caps, sizeof(h));
			h.next = sizeof(out) + ncaps;
			memcpy(caps, &h, sizeof(h));
		}
		memcpy(caps + ncaps, &mx, sizeof(mx));
		ncaps += sizeof(mx);
	}
	out.argsz = sizeof(out) + ncaps;
	if (ncaps) {
		out.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (in->argsz >= out.argsz) {
			out.cap_offset = sizeof(out);
			memcpy((uint8_t *)in + sizeof(out), caps, ncaps);
		}
	}
	memcpy(in, &out, sizeof(out));
	return 0;
}

static int irq_info(struct fake_vfio *f, struct vfio_irq_info *in)
{
	if (in->argsz < sizeof(*in) || in->index >= VFIO_PCI_NUM_IRQS) {
		violation(&f->check, "GET_IRQ_INFO argsz %u index %u", in->argsz, in->index);
		return -EINVAL;
	}
	in->flags = VFIO_IRQ_INFO_EVENTFD;
	if (in->index == VFIO_PCI_INTX_IRQ_INDEX)
		in->flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		in->flags |= VFIO_IRQ_INFO_NORESIZE;
	in->count = f->irq_count[in->index];
	return 0;
}

/* vfio-pci's rules for SET_IRQS on the indexes slabvm uses. */
static int set_irqs(struct fake_vfio *f, const struct vfio_irq_set *in)
{
	uint32_t action = in->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	uint32_t data = in->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	size_t each = data == VFIO_IRQ_SET_DATA_EVENTFD ? 4 : data == VFIO_IRQ_SET_DATA_BOOL;
	struct fake_vfio_set rec = {in->flags, in->index, in->start, in->count, {0}};
	unsigned int i;
	int32_t fd;

	if (in->argsz != sizeof(*in) + (size_t)in->count * each || in->index >= VFIO_PCI_NUM_IRQS ||
	    in->start + (uint64_t)in->count > f->irq_count[in->index] ||
	    (data == VFIO_IRQ_SET_DATA_EVENTFD && !in->count)) {
		violation(&f->check, "SET_IRQS index %u, %u from %u, flags 0x%x, argsz %u",
			  in->index, in->count, in->start, in->flags, in->argsz);
		return -EINVAL;
	}
	for (i = 0; data == VFIO_IRQ_SET_DATA_EVENTFD && i < in->count; i++) {
		memcpy(&fd, in->data + 4 * i, 4);
		if (i < FAKE_VFIO_MAX_FDS)
			rec.fds[i] = fd;
		if (fd < -1 || (fd >= 0 && fcntl(fd, F_GETFD) < 0)) {
			violation(&f->check, "SET_IRQS index %u: fd %d is not open", in->index, fd);
			return -EBADF;
		}
	}
	if (f->nset < FAKE_VFIO_LOG)
		f->set[f->nset] = rec;
	f->nset++;
	if (action == VFIO_IRQ_SET_ACTION_UNMASK || action == VFIO_IRQ_SET_ACTION_MASK) {
		if (in->index == VFIO_PCI_INTX_IRQ_INDEX && f->active != VFIO_PCI_INTX_IRQ_INDEX) {
			violation(&f->check, "SET_IRQS INTx (un)mask while INTx is off");
			return -EINVAL;
		}
		return 0;
	}
	if (!in->count && data == VFIO_IRQ_SET_DATA_NONE) {
		if (f->active != (int)in->index) {
			violation(&f->check, "SET_IRQS index %u off while index %d is on",
				  in->index, f->active);
			return -EINVAL;
		}
		f->active = -1;
		f->active_count = 0;
		return 0;
	}
	if (data != VFIO_IRQ_SET_DATA_EVENTFD)
		return 0;
	if (f->active >= 0 && f->active != (int)in->index) {
		violation(&f->check, "SET_IRQS index %u on while index %d is on", in->index,
			  f->active);
		return -EINVAL;
	}
	if (f->active == (int)in->index) {
		if (in->start + in->count > f->active_count) {
			violation(&f->check, "SET_IRQS index %u: vectors past the %u enabled",
				  in->index, f->active_count);
			return -EINVAL;
		}
		return 0;
	}
	if (f->fail_trigger)
		return -ENOSPC;
	f->active = in->index;
	f->active_count = in->start + in->count;
	return 0;
}

static int hot_reset_info(struct fake_vfio *f, struct vfio_pci_hot_reset_info *in)
{
	unsigned int i;

	f->nhot_info_calls++;
	if (in->argsz < sizeof(*in)) {
		violation(&f->check, "GET_PCI_HOT_RESET_INFO argsz %u", in->argsz);
		return -EINVAL;
	}
	if (!f->nhot)
		return -ENODEV;
	in->flags = 0;
	if (in->argsz < sizeof(*in) + f->nhot * sizeof(in->devices[0])) {
		in->count = f->nhot;
		return -ENOSPC;
	}
	in->count = f->nhot;
	for (i = 0; i < f->nhot; i++)
		in->devices[i] = (struct vfio_pci_dependent_device){
			.group_id = f->hot_group[i], .bus = 1, .devfn = (3 + i) << 3};
	return 0;
}

/* vfio-pci's rule: a group fd for every affected group, and only group fds. */
static int hot_reset(struct fake_vfio *f, const struct vfio_pci_hot_reset *in)
{
	unsigned int i, k;

	if (!f->nhot) {
		violation(&f->check, "PCI_HOT_RESET where there is no bus reset");
		return -ENODEV;
	}
	if (in->argsz < sizeof(*in) + in->count * sizeof(in->group_fds[0]) ||
	    in->count > FAKE_VFIO_MAX_HOT) {
		violation(&f->check, "PCI_HOT_RESET argsz %u count %u", in->argsz, in->count);
		return -EINVAL;
	}
	for (k = 0; k < in->count; k++)
		if (in->group_fds[k] != FAKE_VFIO_GROUP_FD) {
			violation(&f->check, "PCI_HOT_RESET with fd %d, not a group",
				  in->group_fds[k]);
			return -EBADF;
		}
	for (i = 0; i < f->nhot; i++)
		if (f->hot_group[i] != FAKE_VFIO_GROUP || !in->count) {
			violation(&f->check, "PCI_HOT_RESET without the fd of group %u",
				  f->hot_group[i]);
			return -EINVAL;
		}
	f->nhot_resets++;
	f->nresets++;
	f->active_at_reset = f->active;
	put(f->config, PCI_COMMAND, 2, 0);
	return 0;
}

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake_vfio *f = ctx;

	if (fd != FAKE_VFIO_FD) {
		violation(&f->check, "ioctl 0x%lx on fd %d", req, fd);
		return -EBADF;
	}
	switch (req) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *in = arg;

		in->flags = f->dev_flags;
		in->num_regions = VFIO_PCI_NUM_REGIONS;
		in->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		return region_info(f, arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return irq_info(f, arg);
	case VFIO_DEVICE_SET_IRQS:
		return set_irqs(f, arg);
	case VFIO_DEVICE_RESET:
		if (!(f->dev_flags & VFIO_DEVICE_FLAGS_RESET)) {
			violation(&f->check, "VFIO_DEVICE_RESET without the RESET flag");
			return -EINVAL;
		}
		if (f->fail_function_reset)
			return -ENOTTY;
		f->nresets++;
		f->active_at_reset = f->active;
		put(f->config, PCI_COMMAND, 2, 0);
		return 0;
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return hot_reset_info(f, arg);
	case VFIO_DEVICE_PCI_HOT_RESET:
		return hot_reset(f, arg);
	}
	violation(&f->check, "unexpected ioctl 0x%lx", req);
	return -ENOTTY;
}

/* The region and offset inside it of a device fd offset, checked; NULL if refused. */
static struct fake_vfio_region *rw_region(struct fake_vfio *f, int fd, size_t len, uint64_t off,
					  uint32_t flag, unsigned int *index, uint64_t *o)
{
	struct fake_vfio_region *r;

	*index = off >> FAKE_VFIO_REGION_SHIFT;
	*o = off & ((1ULL << FAKE_VFIO_REGION_SHIFT) - 1);
	if (fd != FAKE_VFIO_FD || *index >= VFIO_PCI_NUM_REGIONS) {
		violation(&f->check, "access on fd %d at 0x%llx", fd, (unsigned long long)off);
		return NULL;
	}
	r = &f->region[*index];
	if (!len || !(r->flags & flag) || *o > r->size || len > r->size - *o ||
	    (*index != VFIO_PCI_CONFIG_REGION_INDEX && len > 8)) {
		violation(&f->check, "%s of %zu bytes at 0x%llx of region %u (%llu bytes)",
			  flag == VFIO_REGION_INFO_FLAG_READ ? "pread" : "pwrite", len,
			  (unsigned long long)*o, *index, (unsigned long long)r->size);
		return NULL;
	}
	return r;
}

static void log_access(struct fake_vfio *f, bool write, unsigned int index, uint64_t o,
		       const void *buf, size_t len)
{
	struct fake_vfio_access a = {write, index, o, len, 0};

	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return;
	memcpy(&a.value, buf, len);
	if (f->nacc < FAKE_VFIO_LOG)
		f->acc[f->nacc] = a;
	f->nacc++;
}

static ssize_t fake_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	struct fake_vfio *f = ctx;
	unsigned int index;
	uint64_t o;
	struct fake_vfio_region *r =
		rw_region(f, fd, len, off, VFIO_REGION_INFO_FLAG_READ, &index, &o);

	if (!r)
		return -EINVAL;
	if (f->fail_bar_io && index != VFIO_PCI_CONFIG_REGION_INDEX)
		return -EIO;
	memcpy(buf, r->data + o, len);
	log_access(f, false, index, o, buf, len);
	return len;
}

static ssize_t fake_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
	struct fake_vfio *f = ctx;
	unsigned int index;
	uint64_t o;
	struct fake_vfio_region *r =
		rw_region(f, fd, len, off, VFIO_REGION_INFO_FLAG_WRITE, &index, &o);

	if (!r)
		return -EINVAL;
	if (f->fail_bar_io && index != VFIO_PCI_CONFIG_REGION_INDEX)
		return -EIO;
	memcpy(r->data + o, buf, len);
	log_access(f, true, index, o, buf, len);
	return len;
}

static void *fake_mmap(void *ctx, int fd, size_t len, uint64_t off)
{
	struct fake_vfio *f = ctx;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), o = off & ((1ULL << 40) - 1);
	unsigned int index = off >> FAKE_VFIO_REGION_SHIFT, i;
	const struct fake_vfio_region *r;
	bool inside;

	f->nmmap_calls++;
	if (fd != FAKE_VFIO_FD || index > VFIO_PCI_BAR5_REGION_INDEX) {
		violation(&f->check, "mmap on fd %d at 0x%llx", fd, (unsigned long long)off);
		return NULL;
	}
	r = &f->region[index];
	inside = !r->nareas;
	for (i = 0; i < r->nareas; i++)
		inside |= o >= r->area[i].offset && o + len <= r->area[i].offset + r->area[i].size;
	if (!len || (o | len) & (page - 1) || !(r->flags & VFIO_REGION_INFO_FLAG_MMAP) ||
	    o > r->size || len > r->size - o || !inside) {
		violation(&f->check, "mmap of %zu bytes at 0x%llx of region %u", len,
			  (unsigned long long)o, index);
		return NULL;
	}
	if (f->fail_mmap)
		return NULL;
	for (i = 0; i < FAKE_VFIO_MAPS && f->map[i].p; i++)
		;
	if (i == FAKE_VFIO_MAPS)
		return NULL;
	f->map[i].p = aligned_alloc(page, len);
	if (!f->map[i].p)
		return NULL;
	memcpy(f->map[i].p, r->data + o, len);
	f->map[i].len = len;
	return f->map[i].p;
}

static void fake_munmap(void *ctx, void *addr, size_t len)
{
	struct fake_vfio *f = ctx;
	unsigned int i;

	for (i = 0; i < FAKE_VFIO_MAPS; i++) {
		if (f->map[i].p != addr)
			continue;
		if (f->map[i].len != len)
			violation(&f->check, "munmap of %zu bytes of a %zu-byte mapping", len,
				  f->map[i].len);
		free(addr);
		f->map[i] = (struct fake_vfio_map){0};
		return;
	}
	violation(&f->check, "munmap of %p, which is not mapped", addr);
}

const struct vfio_ops fake_vfio_ops = {fake_open,   fake_close, fake_ioctl, fake_pread,
				       fake_pwrite, fake_mmap,	fake_munmap};

/* ---- KVM ---- */

void fake_kvm_init(struct fake_kvm *k)
{
	memset(k, 0, sizeof(*k));
	k->intx_efd = k->intx_resample = -1;
}

static int kvm_map(void *ctx, uint64_t gpa, void *hva, uint64_t size, unsigned int *handle,
		   struct error *err)
{
	struct fake_kvm *k = ctx;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned int i, free_slot = 64;

	k->nmap_calls++;
	if (!size || !hva || (gpa | size) & (page - 1) || gpa + size < gpa)
		violation(&k->check, "memslot of 0x%llx bytes at 0x%llx", (unsigned long long)size,
			  (unsigned long long)gpa);
	for (i = 0; i < 64; i++) {
		const struct fake_slot *s = &k->slot[i];

		if (!s->used) {
			if (free_slot == 64)
				free_slot = i;
			continue;
		}
		if (gpa < s->gpa + s->size && s->gpa < gpa + size)
			violation(&k->check, "memslot at 0x%llx overlaps the one at 0x%llx",
				  (unsigned long long)gpa, (unsigned long long)s->gpa);
	}
	if (k->fail_map || free_slot == 64)
		return error_set(err, -ENOSPC, "KVM: all BAR memslots in use");
	k->slot[free_slot] = (struct fake_slot){true, gpa, size, hva};
	*handle = free_slot + 1000;
	return 0;
}

static void kvm_unmap(void *ctx, unsigned int handle)
{
	struct fake_kvm *k = ctx;
	unsigned int i = handle - 1000;

	k->nunmap_calls++;
	if (handle < 1000 || i >= 64 || !k->slot[i].used) {
		violation(&k->check, "unmap of memslot %u, which is not there", handle);
		return;
	}
	k->slot[i].used = false;
}

static int kvm_msi_route(void *ctx, int *route, int efd, bool routed, uint64_t addr, uint32_t data,
			 struct error *err)
{
	struct fake_kvm *k = ctx;
	int r = *route;
	unsigned int i;

	k->nroute_calls++;
	if (r >= 64 || (r >= 0 && (!k->route[r].used || k->route[r].efd != efd))) {
		violation(&k->check, "route %d of eventfd %d is not that eventfd's", r, efd);
		return error_set(err, -EINVAL, "fake KVM: bad route %d", r);
	}
	if (!routed) {
		if (r >= 0)
			k->route[r].used = false;
		*route = -1;
		return 0;
	}
	if (addr & 3)
		violation(&k->check, "MSI address 0x%llx", (unsigned long long)addr);
	if (r < 0) {
		for (i = 0; i < 64; i++)
			if (k->route[i].used && k->route[i].efd == efd)
				violation(&k->check, "eventfd %d bound twice", efd);
		if (k->fail_route)
			return error_set(err, -ENOSPC, "KVM: all device interrupt routes in use");
		for (r = 0; r < 64 && k->route[r].used; r++)
			;
		if (r == 64)
			return error_set(err, -ENOSPC, "KVM: all device interrupt routes in use");
	}
	k->route[r] = (struct fake_route){true, efd, addr, data};
	*route = r;
	return 0;
}

static void kvm_msi_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct fake_kvm *k = ctx;

	if (k->sent.n < 16) {
		k->sent.addr[k->sent.n] = addr;
		k->sent.data[k->sent.n] = data;
	}
	k->sent.n++;
}

static int kvm_intx_route(void *ctx, unsigned int gsi, int efd, int resample_efd, bool assign,
			  struct error *err)
{
	struct fake_kvm *k = ctx;

	k->nintx_calls++;
	if (assign) {
		if (k->intx_bound)
			violation(&k->check, "INTx bound twice");
		if (efd < 0 || resample_efd < 0 || efd == resample_efd)
			violation(&k->check, "INTx eventfds %d, %d", efd, resample_efd);
		if (k->fail_intx)
			return error_set(err, -EINVAL, "KVM_IRQFD (resample) on GSI %u: refused",
					 gsi);
		k->intx_bound = true;
		k->intx_gsi = gsi;
		k->intx_efd = efd;
		k->intx_resample = resample_efd;
		return 0;
	}
	if (!k->intx_bound || gsi != k->intx_gsi || efd != k->intx_efd)
		violation(&k->check, "INTx unbound from GSI %u, eventfd %d, as it was not bound",
			  gsi, efd);
	k->intx_bound = false;
	return 0;
}

struct vfio_assign_hooks fake_kvm_hooks(struct fake_kvm *k)
{
	return (struct vfio_assign_hooks){kvm_map,	kvm_unmap,	kvm_msi_route,
					  kvm_msi_send, kvm_intx_route, k};
}

const struct fake_slot *fake_kvm_slot_at(const struct fake_kvm *k, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < 64; i++)
		if (k->slot[i].used && k->slot[i].gpa == gpa)
			return &k->slot[i];
	return NULL;
}

unsigned int fake_kvm_nslots(const struct fake_kvm *k)
{
	unsigned int i, n = 0;

	for (i = 0; i < 64; i++)
		n += k->slot[i].used;
	return n;
}

const struct fake_route *fake_kvm_route_of(const struct fake_kvm *k, int efd)
{
	unsigned int i;

	for (i = 0; i < 64; i++)
		if (k->route[i].used && k->route[i].efd == efd)
			return &k->route[i];
	return NULL;
}

unsigned int fake_kvm_nroutes(const struct fake_kvm *k)
{
	unsigned int i, n = 0;

	for (i = 0; i < 64; i++)
		n += k->route[i].used;
	return n;
}
