/* SPDX-License-Identifier: MIT */
/*
 * A virtio device model on the VM's PCI bus: its virtio-pci transport, and the KVM
 * ioeventfds of its queues (virtio_kvm.h), which follow the transport's notify BAR when
 * the device's entry in the VM's device list is told that BAR moved.
 */
#ifndef SLABVM_VM_VIRTIO_H
#define SLABVM_VM_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "devices/virtio_pci.h"
#include "kvm/virtio_kvm.h"

struct vm;

struct vm_virtio {
	struct virtio_pci pci;
	struct virtio_kvm kvm;
	bool pci_ready; /* the two above were set up and need tearing down */
	bool kvm_ready;
};

/* Sets up the transport for the device model (ops, dev) and its queues' ioeventfds on
 * vm's main loop. The caller adds vv->pci.pci to the device list. */
int vm_virtio_init(struct vm_virtio *vv, struct vm *vm, const struct virtio_device_ops *ops,
		   void *dev, struct error *err);
void vm_virtio_destroy(struct vm_virtio *vv);
/* The device's entry was told BAR bar changed (struct vm_device_ops.bar_changed). */
void vm_virtio_bar_changed(struct vm_virtio *vv, unsigned int bar, bool mapped, uint64_t addr);

#endif
