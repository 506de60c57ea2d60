/* SPDX-License-Identifier: MIT */
/*
 * An opened vfio-pci function (vfio_container_add_device gave its fd): what the kernel
 * says about it (VFIO_DEVICE_GET_INFO, each BAR's, the ROM's and the config space's
 * region info), access to its config space for pci_config.h, and its reset. Everything
 * goes through the container's struct vfio_ops, so the fake kernel of the unit tests
 * stands in for vfio-pci.
 */
#ifndef SLABVM_VFIO_DEVICE_H
#define SLABVM_VFIO_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "vfio/container.h"
#include "vfio/pci_config.h"
#include "vfio/region.h"

struct vfio_pci_device {
	struct vfio_container *c;
	struct vfio_device *d;
	uint32_t flags; /* VFIO_DEVICE_FLAGS_* */
	unsigned int nirqs;
	struct vfio_region bar[VFIO_PCI_NUM_BARS];
	struct vfio_region rom;
	struct vfio_region config;
};

/*
 * Asks the kernel about d: a vfio-pci device (refused otherwise, naming it) with a
 * readable and writable config region of 256 or at least 4096 bytes, and its BAR and ROM
 * regions.
 */
int vfio_pci_device_probe(struct vfio_pci_device *p, struct vfio_container *c,
			  struct vfio_device *d, struct error *err);
/* BAR sizes for vfio_pci_config_init, and the config region size it takes. */
void vfio_pci_device_bar_sizes(const struct vfio_pci_device *p, uint64_t size[VFIO_PCI_NUM_BARS]);
unsigned int vfio_pci_device_config_size(const struct vfio_pci_device *p);

/* Config space through pread/pwrite on the device fd; ctx = struct vfio_pci_device. */
extern const struct vfio_pci_dev_ops vfio_pci_device_config_ops;

/* VFIO_DEVICE_RESET; -ENOTSUP with a message naming the device when it has none. */
int vfio_pci_device_reset(struct vfio_pci_device *p, struct error *err);

#endif
