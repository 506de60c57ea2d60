// SPDX-License-Identifier: MIT
#include "kvm/kvm_vfio.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void kvm_vfio_init(struct kvm_vfio *kv, struct kvm *k)
{
	kv->kvm = k;
	kv->fd = -1;
}

int kvm_vfio_add_group(struct kvm_vfio *kv, int group_fd, const char *name, struct error *err)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_GROUP,
		.attr = KVM_DEV_VFIO_GROUP_ADD,
		.addr = (uint64_t)(uintptr_t)&group_fd,
	};

	if (kv->fd < 0) {
		struct kvm_create_device cd = {.type = KVM_DEV_TYPE_VFIO};

		if (ioctl(kv->kvm->vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
			return error_set(err, -errno, "vfio device %s: KVM has no VFIO device: %s",
					 name, strerror(errno));
		kv->fd = (int)cd.fd;
	}
	if (ioctl(kv->fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return error_set(err, -errno, "vfio device %s: KVM refuses its IOMMU group: %s",
				 name, strerror(errno));
	return 0;
}

void kvm_vfio_destroy(struct kvm_vfio *kv)
{
	if (kv->fd >= 0)
		close(kv->fd);
	kv->fd = -1;
}
