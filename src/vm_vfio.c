// SPDX-License-Identifier: MIT
#include "vm_vfio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvm/kvm_vfio.h"
#include "vfio/assigned.h"
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
	/* Each device's function on the bus: registered after the container, so destroyed
	 * before it (vm.c destroys devices in reverse order). */
	struct vfio_assigned fn[VFIO_MAX_DEVICES];
	char id[VFIO_MAX_DEVICES][20];
};

/* ---- the hooks: KVM memslots and irqfds ---- */

static int vm_vfio_map(void *ctx, uint64_t gpa, void *hva, uint64_t size, unsigned int *handle,
		       struct error *err)
{
	struct vm *vm = ctx;

	return kvm_bar_slot_add(&vm->kvm, gpa, hva, size, handle, err);
}

static void vm_vfio_unmap(void *ctx, unsigned int handle)
{
	struct vm *vm = ctx;

	kvm_bar_slot_del(&vm->kvm, handle);
}

static int vm_vfio_msi_route(void *ctx, int *route, int efd, bool routed, uint64_t addr,
			     uint32_t data, struct error *err)
{
	struct vm *vm = ctx;

	return kvm_msi_irqfd(&vm->kvm, route, efd, routed, addr, data, err);
}

static void vm_vfio_msi_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;

	kvm_msi_send(&vm->kvm, addr, data);
}

static int vm_vfio_intx_route(void *ctx, unsigned int gsi, int efd, int resample_efd,
			      bool assign, struct error *err)
{
	struct vm *vm = ctx;

	return kvm_intx_irqfd(&vm->kvm, gsi, efd, resample_efd, assign, err);
}

/* ---- each device's function ---- */

static void vm_vfio_fn_reset(void *opaque)
{
	vfio_assigned_reset(opaque);
}

static void vm_vfio_fn_destroy(void *opaque)
{
	vfio_assigned_destroy(opaque);
}

static const struct vm_device_ops vm_vfio_fn_ops = {
	.reset = vm_vfio_fn_reset,
	.destroy = vm_vfio_fn_destroy,
};

int vm_vfio_add_pci(struct vm *vm, unsigned int first_slot, struct error *err)
{
	struct vm_device *e = vm_device_find(vm, "vfio-container");
	struct vm_vfio *v = e ? e->opaque : NULL;
	const struct vfio_assign_hooks hooks = {
		vm_vfio_map,	  vm_vfio_unmap,      vm_vfio_msi_route,
		vm_vfio_msi_send, vm_vfio_intx_route, vm,
	};
	unsigned int i;
	int ret;

	for (i = 0; v && i < v->ndev; i++) {
		struct vfio_assigned *a = &v->fn[i];
		struct vm_device d = {
			.type = "vfio-pci",
			.id = v->id[i],
			.ops = &vm_vfio_fn_ops,
			.opaque = a,
			.pci = &a->pci,
			.slot = first_slot + i,
		};

		snprintf(v->id[i], sizeof(v->id[i]), "hostdev%u", i);
		ret = vfio_assigned_init(a, &v->dev[i], &vm->mmio, &vm->pio, &hooks, err);
		if (ret)
			return ret;
		ret = vm_device_add(vm, &d, err);
		if (ret)
			return ret;
		/* In its slot now: the device's own reset, and INTx bound to the slot's GSI. */
		vfio_assigned_reset(a);
	}
	return 0;
}

/* ---- the container ---- */

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
