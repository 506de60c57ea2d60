// SPDX-License-Identifier: MIT
#include "vm_virtio.h"

#include "vm.h"

int vm_virtio_init(struct vm_virtio *vv, struct vm *vm, const struct virtio_device_ops *ops,
		   void *dev, struct error *err)
{
	int ret;

	ret = virtio_pci_init(&vv->pci, ops, dev, err);
	if (ret)
		return ret;
	vv->pci_ready = true;
	ret = virtio_kvm_init(&vv->kvm, &vm->kvm, &vm->loop, &vv->pci, ops->num_queues, err);
	/* virtio_kvm_destroy undoes a half-done init too. */
	vv->kvm_ready = true;
	return ret;
}

void vm_virtio_destroy(struct vm_virtio *vv)
{
	if (vv->kvm_ready)
		virtio_kvm_destroy(&vv->kvm);
	if (vv->pci_ready)
		virtio_pci_destroy(&vv->pci);
	vv->kvm_ready = vv->pci_ready = false;
}

void vm_virtio_bar_changed(struct vm_virtio *vv, unsigned int bar, bool mapped, uint64_t addr)
{
	if (bar == VIRTIO_PCI_BAR && vv->kvm_ready)
		virtio_kvm_bar_changed(&vv->kvm, mapped, addr);
}
