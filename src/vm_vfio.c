// SPDX-License-Identifier: MIT
#include "vm_vfio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvm/kvm_vfio.h"
#include "vfio/container.h"
#include "vfio/device.h"
#include "vm.h"

struct vm_vfio {
	struct vm *vm;
	struct vfio_container c;
	struct kvm_vfio kv;
	bool listening; /* the container is a listener of vm->mm */
	unsigned int ndev;
	struct vfio_pci_device dev[VFIO_MAX_DEVICES];
};

/* A device without VFIO_DEVICE_RESET keeps its state: said once, not fatal (it may have
 * no reset method the kernel can use, and still work). */
static void vm_vfio_reset(void *opaque)
{
	struct vm_vfio *v = opaque;
	unsigned int i;

	for (i = 0; i < v->ndev; i++) {
		struct error err = {0};

		if (vfio_pci_device_reset(&v->dev[i], &err))
			fprintf(stderr, "slabvm: %s\n", err.msg);
	}
}

static void vm_vfio_destroy(void *opaque)
{
	struct vm_vfio *v = opaque;
	struct error err = {0};

	if (v->listening && memmap_remove_listener(&v->vm->mm, &v->c.listener, &err))
		fprintf(stderr, "slabvm: vfio: %s\n", err.msg);
	kvm_vfio_destroy(&v->kv);
	vfio_container_destroy(&v->c);
	free(v);
}

static const struct vm_device_ops vm_vfio_ops = {
	.reset = vm_vfio_reset,
	.destroy = vm_vfio_destroy,
};

/* The container's checks, then it pins guest RAM and KVM learns of each group. */
static int vm_vfio_start(struct vm_vfio *v, struct error *err)
{
	unsigned int i;
	int ret;

	/* RLIMIT_MEMLOCK is raised for every pluggable byte later (vm.c's host phase), and
	 * that fails when it cannot be, since a pinning listener then exists. */
	ret = vfio_container_check(&v->c, &v->vm->mm, NULL,
				   (uint64_t)v->ndev * VFIO_PCI_NUM_BARS, UINT64_MAX, err);
	if (ret)
		return ret;
	for (i = 0; i < v->c.ngroups; i++) {
		char name[16];

		snprintf(name, sizeof(name), "group %u", v->c.group[i].id);
		ret = kvm_vfio_add_group(&v->kv, v->c.group[i].fd, name, err);
		if (ret)
			return ret;
	}
	ret = memmap_add_listener(&v->vm->mm, &v->c.listener, err);
	if (ret)
		return ret;
	v->listening = true;
	vm_vfio_reset(v);
	return 0;
}

int vm_vfio_add(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	struct vm_vfio *v;
	struct vfio_device *dev;
	struct vfio_bdf bdf;
	struct vm_device d = {
		.type = "vfio-container",
		.id = "vfio0",
		.ops = &vm_vfio_ops,
	};
	unsigned int i;
	int ret;

	if (!cfg->nvfio)
		return 0;
	v = calloc(1, sizeof(*v));
	if (!v)
		return error_set(err, -ENOMEM, "out of memory");
	v->vm = vm;
	vfio_container_init(&v->c, &vfio_host_ops, NULL, NULL, NULL);
	kvm_vfio_init(&v->kv, &vm->kvm);
	for (i = 0; i < cfg->nvfio; i++) {
		ret = vfio_parse_bdf(cfg->vfio[i], &bdf, err);
		if (ret) {
			err->usage = true;
			goto fail;
		}
		ret = vfio_container_add_device(&v->c, cfg->vfio[i], &dev, err);
		if (ret) {
			/* The user named a device this host does not have. */
			err->usage = ret == -ENODEV;
			goto fail;
		}
		ret = vfio_pci_device_probe(&v->dev[v->ndev], &v->c, dev, err);
		if (ret)
			goto fail;
		v->ndev++;
	}
	ret = vm_vfio_start(v, err);
	if (ret)
		goto fail;
	d.opaque = v;
	return vm_device_add(vm, &d, err);
fail:
	vm_vfio_destroy(v);
	return ret;
}
