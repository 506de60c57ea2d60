/* SPDX-License-Identifier: MIT */
/*
 * KVM's VFIO pseudo-device: each assigned device's IOMMU group is registered with it, so
 * KVM knows DMA is coherent or not (the guest's WBINVD) and can tie the group to the VM.
 * kvm_vfio_init creates nothing until the first group; kvm_vfio_destroy closes it.
 */
#ifndef SLABVM_KVM_VFIO_H
#define SLABVM_KVM_VFIO_H

#include "base/error.h"
#include "kvm/kvm.h"

struct kvm_vfio {
	struct kvm *kvm;
	int fd; /* the KVM_DEV_TYPE_VFIO device, -1 until the first group */
};

void kvm_vfio_init(struct kvm_vfio *kv, struct kvm *k);
/* KVM_DEV_VFIO_GROUP_ADD of the open /dev/vfio/<group> file group_fd; name is for messages. */
int kvm_vfio_add_group(struct kvm_vfio *kv, int group_fd, const char *name, struct error *err);
void kvm_vfio_destroy(struct kvm_vfio *kv);

#endif
