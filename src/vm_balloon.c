// SPDX-License-Identifier: MIT
#include "vm_balloon.h"

#include <stdlib.h>

#include "vm.h"
#include "vm_virtio.h"

struct vm_balloon {
	struct balloon b;
	struct vm_virtio vv;
	bool balloon_ready;
};

static void vm_balloon_bar_changed(void *opaque, unsigned int bar, bool mapped, uint64_t addr,
				   uint64_t size)
{
	struct vm_balloon *vb = opaque;

	(void)size;
	vm_virtio_bar_changed(&vb->vv, bar, mapped, addr);
}

static void vm_balloon_destroy(void *opaque)
{
	struct vm_balloon *vb = opaque;

	vm_virtio_destroy(&vb->vv);
	if (vb->balloon_ready)
		balloon_destroy(&vb->b);
	free(vb);
}

static const struct vm_device_ops vm_balloon_ops = {
	.bar_changed = vm_balloon_bar_changed,
	.destroy = vm_balloon_destroy,
};

int vm_balloon_add(struct vm *vm, const struct balloon_config *cfg, unsigned int slot,
		   struct error *err)
{
	struct vm_balloon *vb = calloc(1, sizeof(*vb));
	struct vm_device d = {
		.type = VM_BALLOON_TYPE,
		.id = "balloon0",
		.ops = &vm_balloon_ops,
		.opaque = vb,
		.slot = slot,
	};
	int ret;

	if (!vb)
		return error_set(err, -ENOMEM, "out of memory");
	ret = balloon_init(&vb->b, &vm->mm, &vb->vv.pci.transport, cfg);
	if (ret) {
		free(vb);
		return error_set(err, ret, "virtio-balloon: cannot set up");
	}
	vb->balloon_ready = true;
	ret = vm_virtio_init(&vb->vv, vm, &balloon_ops, &vb->b, err);
	d.pci = &vb->vv.pci.pci;
	if (ret) {
		vm_balloon_destroy(vb);
		return ret;
	}
	return vm_device_add(vm, &d, err);
}

struct balloon *vm_balloon(struct vm *vm)
{
	struct vm_device *d = vm_device_find(vm, VM_BALLOON_TYPE);

	return d ? &((struct vm_balloon *)d->opaque)->b : NULL;
}
