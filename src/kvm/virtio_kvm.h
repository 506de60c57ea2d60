/* SPDX-License-Identifier: MIT */
/*
 * Queue notifications of a virtio-pci function without a VM exit to userspace: one
 * eventfd per queue, bound with KVM_IOEVENTFD to the queue's notify address and read by
 * the main loop, which kicks the queue. The binding follows the notify BAR when the guest
 * moves it or turns memory decoding off.
 */
#ifndef SLABVM_VIRTIO_KVM_H
#define SLABVM_VIRTIO_KVM_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_pci.h"
#include "base/error.h"
#include "host/evloop.h"
#include "kvm/kvm.h"

struct virtio_kvm;

struct virtio_kvm_queue {
	struct virtio_kvm *vk;
	unsigned int q;
	int efd;
};

struct virtio_kvm {
	struct kvm *kvm;
	struct virtio_pci *vp;
	unsigned int nq;
	uint64_t bar; /* where the notify BAR is bound, 0 when it is not */
	struct virtio_kvm_queue queue[VIRTIO_PCI_MAX_QUEUES];
};

int virtio_kvm_init(struct virtio_kvm *vk, struct kvm *k, struct evloop *loop,
		    struct virtio_pci *vp, unsigned int nq, struct error *err);
void virtio_kvm_destroy(struct virtio_kvm *vk);
/* The function's BAR VIRTIO_PCI_BAR was mapped at addr, or unmapped. */
void virtio_kvm_bar_changed(struct virtio_kvm *vk, bool mapped, uint64_t addr);

#endif
