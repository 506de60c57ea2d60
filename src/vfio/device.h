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

/*
 * Interrupts. index is VFIO_PCI_{INTX,MSI,MSIX}_IRQ_INDEX. irq_count: how many interrupts
 * the kernel offers at index (0: none), and its VFIO_IRQ_INFO_* flags.
 * set_irqs: one VFIO_DEVICE_SET_IRQS with action VFIO_IRQ_SET_ACTION_* for interrupts
 * [start, start + count): with fds (count of them, -1 to detach one) as
 * VFIO_IRQ_SET_DATA_EVENTFD, without as VFIO_IRQ_SET_DATA_NONE. Triggers bound to eventfds
 * are how MSI and MSI-X reach KVM irqfds; an eventfd given to the UNMASK action of INTx is
 * how KVM's resample irqfd unmasks the line. TRIGGER with count 0 and no fds turns the
 * index off.
 */
int vfio_pci_device_irq_count(struct vfio_pci_device *p, unsigned int index, uint32_t *flags,
			      struct error *err);
int vfio_pci_device_set_irqs(struct vfio_pci_device *p, unsigned int index, uint32_t action,
			     unsigned int start, unsigned int count, const int *fds,
			     struct error *err);

#define VFIO_MAX_HOT_RESET_DEVICES 256 /* functions a bus reset may list: a whole bus */

/*
 * The function's reset: VFIO_DEVICE_RESET when the kernel offers one for it (function level
 * reset, power management or a device-specific reset). Without: a bus reset
 * (VFIO_DEVICE_PCI_HOT_RESET), when every function it would reset is in an IOMMU group of
 * our container. Else -ENOTSUP, with a message naming the device and why.
 */
int vfio_pci_device_reset(struct vfio_pci_device *p, struct error *err);

#endif
