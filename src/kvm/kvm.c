// SPDX-License-Identifier: MIT
#include "kvm/kvm.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_TSS_ADDR 0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define KVM_CPUID_MAX_ENTRIES 256

static const struct {
	int cap;
	const char *name;
} kvm_required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
	{KVM_CAP_IRQFD_RESAMPLE, "KVM_CAP_IRQFD_RESAMPLE"},
};

#define KVM_IRQCHIP_GSIS 24 /* IOAPIC pins; GSIs above are ours for MSI routes */

static int kvm_slot(struct kvm *k, unsigned int slot, uint64_t gpa, void *hva, uint64_t size,
		    struct error *err)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return error_set(err, -errno, "KVM_SET_USER_MEMORY_REGION slot %u at 0x%llx: %s",
				 slot, (unsigned long long)gpa, strerror(errno));
	return 0;
}

int kvm_set_fixed_slot(struct kvm *k, unsigned int slot, uint64_t gpa, void *hva, uint64_t size,
		       struct error *err)
{
	return kvm_slot(k, slot, gpa, hva, size, err);
}

static struct kvm *kvm_of(struct memmap_listener *l)
{
	return (struct kvm *)((char *)l - offsetof(struct kvm, memslots));
}

/* KVM follows the host page tables through its MMU notifier, so a memslot covers a whole
 * region and granule-level changes (balloon) need nothing from KVM. */
static int kvm_region_add(struct memmap_listener *l, const struct memmap_region *r)
{
	return kvm_slot(kvm_of(l), r->index, r->gpa, r->hva, r->size, NULL);
}

static void kvm_region_del(struct memmap_listener *l, const struct memmap_region *r)
{
	kvm_slot(kvm_of(l), r->index, r->gpa, NULL, 0, NULL);
}

static void kvm_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct kvm *k = ctx;
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	ioctl(k->vm_fd, KVM_IRQ_LINE, &irq);
}

const struct irq_ops kvm_irq_ops = {
	.set_level = kvm_set_level,
};

/*
 * KVM_SET_GSI_ROUTING replaces the whole table, so the irqchip routes go in every time.
 * They match the MADT: ISA IRQs 0-15 on the PICs (IRQ2 is the cascade), GSIs on IOAPIC
 * pins, except that the timer's IRQ0 arrives at IOAPIC pin 2 (the MADT's override).
 */
static int kvm_set_routes(struct kvm *k)
{
	struct kvm_irq_routing *t;
	unsigned int i, n = 0;
	int ret = 0;

	t = calloc(1, sizeof(*t) + (16 + KVM_IRQCHIP_GSIS + KVM_MSI_ROUTES + KVM_DEV_ROUTES) *
					   sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < 16; i++) {
		if (i == 2)
			continue;
		t->entries[n].gsi = i;
		t->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t->entries[n].u.irqchip.irqchip =
			i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		t->entries[n].u.irqchip.pin = i % 8;
		n++;
	}
	for (i = 0; i < KVM_IRQCHIP_GSIS; i++) {
		if (i == 2)
			continue;
		t->entries[n].gsi = i;
		t->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t->entries[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t->entries[n].u.irqchip.pin = i == 0 ? 2 : i;
		n++;
	}
	for (i = 0; i < k->nmsi; i++) {
		t->entries[n].gsi = k->msi[i].gsi;
		t->entries[n].type = KVM_IRQ_ROUTING_MSI;
		t->entries[n].u.msi.address_lo = (uint32_t)k->msi[i].addr;
		t->entries[n].u.msi.address_hi = (uint32_t)(k->msi[i].addr >> 32);
		t->entries[n].u.msi.data = k->msi[i].data;
		n++;
	}
	for (i = 0; i < KVM_DEV_ROUTES; i++) {
		if (!k->dev[i].used)
			continue;
		t->entries[n].gsi = KVM_IRQCHIP_GSIS + KVM_MSI_ROUTES + i;
		t->entries[n].type = KVM_IRQ_ROUTING_MSI;
		t->entries[n].u.msi.address_lo = (uint32_t)k->dev[i].addr;
		t->entries[n].u.msi.address_hi = (uint32_t)(k->dev[i].addr >> 32);
		t->entries[n].u.msi.data = k->dev[i].data;
		n++;
	}
	t->nr = n;
	if (ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		ret = -errno;
	free(t);
	return ret;
}

/* Adds a route with a GSI and irqfd of its own. Caller holds msi_lock. */
static struct kvm_msi_route *kvm_msi_add(struct kvm *k, uint64_t addr, uint32_t data)
{
	struct kvm_msi_route *r = &k->msi[k->nmsi];
	struct kvm_irqfd irqfd;

	*r = (struct kvm_msi_route){addr, data, KVM_IRQCHIP_GSIS + k->nmsi, -1, 0};
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0)
		return NULL;
	k->nmsi++;
	irqfd = (struct kvm_irqfd){.fd = (uint32_t)r->efd, .gsi = r->gsi};
	if (kvm_set_routes(k) == 0 && ioctl(k->vm_fd, KVM_IRQFD, &irqfd) == 0)
		return r;
	close(r->efd);
	k->nmsi--;
	kvm_set_routes(k);
	return NULL;
}

/* The route for (addr, data): found, added, or recycled from the least recently used
 * (which keeps its GSI and irqfd; only the message changes). Caller holds msi_lock. */
static struct kvm_msi_route *kvm_msi_route(struct kvm *k, uint64_t addr, uint32_t data)
{
	struct kvm_msi_route *r, *lru = NULL;
	unsigned int i;

	for (i = 0; i < k->nmsi; i++) {
		r = &k->msi[i];
		if (r->addr == addr && r->data == data)
			return r;
		if (!lru || r->last_use < lru->last_use)
			lru = r;
	}
	if (k->nmsi < KVM_MSI_ROUTES)
		return kvm_msi_add(k, addr, data);
	lru->addr = addr;
	lru->data = data;
	return kvm_set_routes(k) == 0 ? lru : NULL;
}

int kvm_msi_send(struct kvm *k, uint64_t addr, uint32_t data)
{
	struct kvm_msi_route *r;
	uint64_t one = 1;
	int ret = 0;

	pthread_mutex_lock(&k->msi_lock);
	r = kvm_msi_route(k, addr, data);
	if (!r) {
		ret = -EIO;
	} else {
		r->last_use = ++k->msi_clock;
		if (write(r->efd, &one, sizeof(one)) < 0)
			ret = -errno;
	}
	pthread_mutex_unlock(&k->msi_lock);
	return ret;
}

static int kvm_irqfd(struct kvm *k, int efd, unsigned int gsi, uint32_t flags, int resample_efd)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
		.flags = flags,
		.resamplefd = resample_efd < 0 ? 0 : (uint32_t)resample_efd,
	};

	return ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int kvm_msi_irqfd(struct kvm *k, int *route, int efd, bool routed, uint64_t addr, uint32_t data,
		  struct error *err)
{
	const unsigned int base = KVM_IRQCHIP_GSIS + KVM_MSI_ROUTES;
	int r = *route, ret = 0;

	pthread_mutex_lock(&k->msi_lock);
	if (!routed) {
		if (r >= 0) {
			kvm_irqfd(k, efd, base + r, KVM_IRQFD_FLAG_DEASSIGN, -1);
			k->dev[r].used = false;
			kvm_set_routes(k);
			*route = -1;
		}
		goto out;
	}
	if (r < 0) {
		for (r = 0; r < KVM_DEV_ROUTES && k->dev[r].used; r++)
			;
		if (r == KVM_DEV_ROUTES) {
			ret = error_set(err, -ENOSPC, "KVM: all %u device interrupt routes in use",
					KVM_DEV_ROUTES);
			goto out;
		}
	}
	k->dev[r] = (struct kvm_dev_route){true, addr, data};
	ret = kvm_set_routes(k);
	if (!ret && *route < 0)
		ret = kvm_irqfd(k, efd, base + r, 0, -1);
	if (ret) {
		error_set(err, ret, "KVM: routing MSI 0x%llx/0x%x: %s", (unsigned long long)addr,
			  data, strerror(-ret));
		if (*route < 0) {
			k->dev[r].used = false;
			kvm_set_routes(k);
		}
		goto out;
	}
	*route = r;
out:
	pthread_mutex_unlock(&k->msi_lock);
	return ret;
}

int kvm_intx_irqfd(struct kvm *k, unsigned int gsi, int efd, int resample_efd, bool assign,
		   struct error *err)
{
	int ret = kvm_irqfd(k, efd, gsi,
			   assign ? KVM_IRQFD_FLAG_RESAMPLE : KVM_IRQFD_FLAG_DEASSIGN,
			   assign ? resample_efd : -1);

	if (ret)
		return error_set(err, ret, "KVM_IRQFD (resample) on GSI %u: %s", gsi,
				 strerror(-ret));
	return 0;
}

int kvm_bar_slot_add(struct kvm *k, uint64_t gpa, void *hva, uint64_t size, unsigned int *slot,
		     struct error *err)
{
	unsigned int i;
	int ret;

	pthread_mutex_lock(&k->slot_lock);
	for (i = 0; i < KVM_BAR_SLOTS && k->bar_slot[i]; i++)
		;
	if (i == KVM_BAR_SLOTS) {
		pthread_mutex_unlock(&k->slot_lock);
		return error_set(err, -ENOSPC, "KVM: all %u BAR memslots in use", KVM_BAR_SLOTS);
	}
	ret = kvm_slot(k, KVM_FW_SLOT + 1 + i, gpa, hva, size, err);
	if (!ret) {
		k->bar_slot[i] = true;
		*slot = KVM_FW_SLOT + 1 + i;
	}
	pthread_mutex_unlock(&k->slot_lock);
	return ret;
}

void kvm_bar_slot_del(struct kvm *k, unsigned int slot)
{
	unsigned int i = slot - KVM_FW_SLOT - 1;

	if (slot <= KVM_FW_SLOT || i >= KVM_BAR_SLOTS)
		return;
	pthread_mutex_lock(&k->slot_lock);
	if (k->bar_slot[i] && !kvm_slot(k, slot, 0, NULL, 0, NULL))
		k->bar_slot[i] = false;
	pthread_mutex_unlock(&k->slot_lock);
}

int kvm_ioeventfd(struct kvm *k, uint64_t gpa, int efd, bool assign, struct error *err)
{
	struct kvm_ioeventfd io = {
		.addr = gpa,
		.len = 0,
		.fd = efd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return error_set(err, -errno, "KVM_IOEVENTFD at 0x%llx: %s",
				 (unsigned long long)gpa, strerror(errno));
	return 0;
}

static int kvm_check(struct kvm *k, struct error *err)
{
	unsigned int i;
	int v;

	v = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION)
		return error_set(err, -ENOTSUP, "/dev/kvm: API version %d, slabvm needs %d", v,
				 KVM_API_VERSION);
	for (i = 0; i < sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]); i++)
		if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <= 0)
			return error_set(err, -ENOTSUP, "/dev/kvm lacks %s, which slabvm needs",
					 kvm_required_caps[i].name);
	v = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (v < KVM_FW_SLOT + 1 + KVM_BAR_SLOTS)
		return error_set(err, -ENOTSUP, "/dev/kvm offers %d memslots, slabvm needs %d", v,
				 KVM_FW_SLOT + 1 + KVM_BAR_SLOTS);
	v = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (v <= 0)
		v = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	k->max_vcpus = v > 0 ? (unsigned int)v : 1;
	k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0)
		return error_set(err, -errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	return 0;
}

static int kvm_get_cpuid(struct kvm *k, struct error *err)
{
	k->cpuid =
		calloc(1, sizeof(*k->cpuid) + KVM_CPUID_MAX_ENTRIES * sizeof(k->cpuid->entries[0]));
	if (!k->cpuid)
		return error_set(err, -ENOMEM, "out of memory");
	k->cpuid->nent = KVM_CPUID_MAX_ENTRIES;
	if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, k->cpuid) < 0)
		return error_set(err, -errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	return 0;
}

bool kvm_cpuid_ext_edx(const struct kvm *k, uint32_t edx_bits)
{
	unsigned int i;

	for (i = 0; k->cpuid && i < k->cpuid->nent; i++)
		if (k->cpuid->entries[i].function == 0x80000001)
			return (k->cpuid->entries[i].edx & edx_bits) == edx_bits;
	return false;
}

static int kvm_create(struct kvm *k, struct error *err)
{
	__u64 ident = KVM_IDENTITY_MAP_ADDR;

	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return error_set(err, -errno, "KVM_CREATE_VM: %s", strerror(errno));
	/* Intel VMX needs these two pages for real-mode emulation; harmless elsewhere. They
	 * lie in the PCI hole, below the firmware area. */
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
		return error_set(err, -errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return error_set(err, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	return 0;
}

int kvm_create_irqchip(struct kvm *k, bool pit, struct error *err)
{
	struct kvm_pit_config pit_config = {.flags = KVM_PIT_SPEAKER_DUMMY};

	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return error_set(err, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (pit && ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit_config) < 0)
		return error_set(err, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	if (kvm_set_routes(k) < 0)
		return error_set(err, -errno, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
	return 0;
}

int kvm_init(struct kvm *k, struct error *err)
{
	int ret;

	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	pthread_mutex_init(&k->msi_lock, NULL);
	pthread_mutex_init(&k->slot_lock, NULL);
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0)
		return error_set(err, -errno, "/dev/kvm: %s", strerror(errno));
	ret = kvm_check(k, err);
	if (!ret)
		ret = kvm_get_cpuid(k, err);
	if (!ret)
		ret = kvm_create(k, err);
	if (ret) {
		kvm_destroy(k);
		return ret;
	}
	k->memslots = (struct memmap_listener){
		.name = "kvm-memslots",
		.region_add = kvm_region_add,
		.region_del = kvm_region_del,
	};
	return 0;
}

void kvm_destroy(struct kvm *k)
{
	unsigned int i;

	for (i = 0; i < k->nmsi; i++)
		close(k->msi[i].efd);
	k->nmsi = 0;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->cpuid);
	k->vm_fd = k->sys_fd = -1;
	k->cpuid = NULL;
}
