// SPDX-License-Identifier: MIT
#include "vm_vfio.h"

#include <errno.h>
#include <stdlib.h>

#include "vfio/container.h"
#include "vm.h"

static void vm_vfio_destroy(void *opaque)
{
	struct vfio_container *c = opaque;

	vfio_container_destroy(c);
	free(c);
}

static const struct vm_device_ops vm_vfio_ops = {
	.destroy = vm_vfio_destroy,
};

int vm_vfio_add(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	struct vfio_container *c;
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
	c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, -ENOMEM, "out of memory");
	vfio_container_init(c, &vfio_host_ops, NULL, NULL, NULL);
	for (i = 0; i < cfg->nvfio; i++) {
		ret = vfio_parse_bdf(cfg->vfio[i], &bdf, err);
		if (ret) {
			err->usage = true;
			goto fail;
		}
		ret = vfio_container_add_device(c, cfg->vfio[i], &dev, err);
		if (ret) {
			/* The user named a device this host does not have. */
			err->usage = ret == -ENODEV;
			goto fail;
		}
	}
	d.opaque = c;
	return vm_device_add(vm, &d, err);
fail:
	vm_vfio_destroy(c);
	return ret;
}
