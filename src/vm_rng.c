// SPDX-License-Identifier: MIT
#include "vm_rng.h"

#include <stdlib.h>

#include "devices/virtio_rng.h"
#include "vm.h"
#include "vm_virtio.h"

struct vm_rng {
	struct virtio_rng rng;
	struct vm_virtio vv;
	bool rng_ready;
};

static void vm_rng_bar_changed(void *opaque, unsigned int bar, bool mapped, uint64_t addr,
			       uint64_t size)
{
	struct vm_rng *r = opaque;

	(void)size;
	vm_virtio_bar_changed(&r->vv, bar, mapped, addr);
}

static void vm_rng_destroy(void *opaque)
{
	struct vm_rng *r = opaque;

	vm_virtio_destroy(&r->vv);
	if (r->rng_ready)
		virtio_rng_destroy(&r->rng);
	free(r);
}

static const struct vm_device_ops vm_rng_ops = {
	.bar_changed = vm_rng_bar_changed,
	.destroy = vm_rng_destroy,
};

int vm_rng_add(struct vm *vm, unsigned int slot, struct error *err)
{
	struct vm_rng *r = calloc(1, sizeof(*r));
	struct vm_device d = {
		.type = "virtio-rng-pci",
		.id = "rng0",
		.ops = &vm_rng_ops,
		.opaque = r,
		.slot = slot,
	};
	int ret;

	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	ret = virtio_rng_init(&r->rng, &vm->mm, &r->vv.pci.transport, NULL);
	if (ret) {
		free(r);
		return error_set(err, ret, "virtio-rng: cannot set up");
	}
	r->rng_ready = true;
	ret = vm_virtio_init(&r->vv, vm, &virtio_rng_ops, &r->rng, err);
	d.pci = &r->vv.pci.pci;
	if (ret) {
		vm_rng_destroy(r);
		return ret;
	}
	return vm_device_add(vm, &d, err);
}
