/* SPDX-License-Identifier: MIT */
/*
 * A fake vfio-pci function behind struct vfio_ops, and a fake KVM behind struct
 * vfio_assign_hooks, for the unit tests and the fuzz harness of src/vfio/assigned.c.
 * Free of cmocka, so the fuzz harness shares it.
 *
 * The function (fake_vfio_init): a 64-bit 1 MiB (or other) mmappable BAR 0, a 16 KiB
 * 32-bit mmappable BAR 2 holding an 8-vector MSI-X table at 0 and its PBA at 0x2000, a
 * 32-byte I/O BAR 4, INTA, maskable 64-bit MSI with 4 vectors, power management, and with
 * `express` a PCI Express capability and a 4 KiB config region. Every region is backed by
 * memory: pread and pwrite move bytes and are logged; mmap hands out fresh page-aligned
 * memory that munmap must give back.
 *
 * Both fakes are oracles: what the real kernel would refuse, and what breaks a rule of
 * assigned.h, is counted in `violations` (the first one described in `first`) as it
 * happens. The kernel's rules kept here: accesses inside a readable/writable region, mmap
 * only of whole pages where the region allows it, one interrupt index enabled at a time
 * (vfio-pci refuses another), vectors within what GET_IRQ_INFO offered, an index switched
 * off only while it is on, INTx unmask only while INTx is on, eventfds that are open,
 * VFIO_DEVICE_RESET only with the RESET flag, a bus reset only with the fd of every group
 * it affects.
 * KVM's: memslots never overlap, unmaps name a live slot, an eventfd is bound to one
 * route at a time, INTx bound once and unbound as bound.
 */
#ifndef SLABVM_FAKE_VFIO_H
#define SLABVM_FAKE_VFIO_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio/assigned.h"
#include "vfio/container.h"

#define FAKE_VFIO_FD 300
#define FAKE_VFIO_GROUP 7 /* the function's IOMMU group, the container's only one */
#define FAKE_VFIO_GROUP_FD 301
#define FAKE_VFIO_MAX_HOT 4
#define FAKE_VFIO_REGION_SHIFT 40 /* vfio-pci puts region i at i << 40 of the device fd */
#define FAKE_VFIO_LOG 64
#define FAKE_VFIO_MAX_FDS 16
#define FAKE_VFIO_MAPS 64

/* Where the fake function's MSI and MSI-X capabilities are. */
#define FAKE_VFIO_MSI_CAP 0x50
#define FAKE_VFIO_MSIX_CAP 0x70
#define FAKE_VFIO_MSIX_NVEC 8
#define FAKE_VFIO_PBA_OFFSET 0x2000
#define FAKE_VFIO_MSI_NVEC 4

struct fake_check {
	unsigned int violations;
	char first[200];
};

struct fake_vfio_region {
	uint64_t size;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* (CAPS is added as needed) */
	bool msix_mappable;
	unsigned int nareas; /* sparse-mmap areas; 0: none */
	struct vfio_region_sparse_mmap_area area[4];
	uint8_t *data; /* size bytes */
};

/* A VFIO_DEVICE_SET_IRQS as the fake kernel received it. */
struct fake_vfio_set {
	uint32_t flags, index, start, count;
	int32_t fds[FAKE_VFIO_MAX_FDS];
};

/* A pread or pwrite on a BAR. */
struct fake_vfio_access {
	bool write;
	unsigned int region;
	uint64_t offset;
	size_t len;
	uint64_t value;
};

struct fake_vfio_map {
	void *p;
	size_t len;
};

struct fake_vfio {
	struct fake_check check;
	uint32_t dev_flags;
	struct fake_vfio_region region[VFIO_PCI_NUM_REGIONS];
	uint8_t config[4096]; /* the config region's data */
	unsigned int irq_count[VFIO_PCI_NUM_IRQS];
	/* Interrupts as vfio-pci holds them: the enabled index (-1: none), its vectors. */
	int active;
	unsigned int active_count;
	struct fake_vfio_set set[FAKE_VFIO_LOG]; /* the first FAKE_VFIO_LOG of them */
	unsigned int nset;
	struct fake_vfio_access acc[FAKE_VFIO_LOG]; /* BAR accesses, the first ones */
	unsigned int nacc;
	unsigned int nresets; /* function resets and bus resets */
	int active_at_reset;  /* the index enabled at the last of them */
	/* A bus reset: the functions it would reset, the function itself first (nhot 0: the
	 * kernel has none, ENODEV), each in group hot_group[i]; and how many were done. */
	unsigned int nhot;
	uint32_t hot_group[FAKE_VFIO_MAX_HOT];
	unsigned int nhot_info_calls, nhot_resets;
	struct fake_vfio_map map[FAKE_VFIO_MAPS]; /* live mmaps */
	unsigned int nmmap_calls;
	bool fail_function_reset; /* VFIO_DEVICE_RESET, though offered, fails with ENOTTY */
	bool fail_mmap;
	bool fail_bar_io;  /* BAR pread/pwrite fail with EIO */
	bool fail_trigger; /* switching an index on fails (the host is out of vectors) */
};

/* The function described above; express: 4 KiB config space with a PCIe capability;
 * bar0_size (a power of two, at least 16) replaces BAR 0's 1 MiB. */
void fake_vfio_init(struct fake_vfio *f, bool express, uint64_t bar0_size);
void fake_vfio_destroy(struct fake_vfio *f);
/* Builds a container on the fake (nothing opened but group FAKE_VFIO_GROUP, which it
 * holds) and the device d in that group, with its fd. */
void fake_vfio_open(struct fake_vfio *f, struct vfio_container *c, struct vfio_device *d);
/* The last SET_IRQS, or NULL. */
const struct fake_vfio_set *fake_vfio_last_set(const struct fake_vfio *f);
unsigned int fake_vfio_nmaps(const struct fake_vfio *f);

extern const struct vfio_ops fake_vfio_ops;

/* The fake KVM. */
struct fake_slot {
	bool used;
	uint64_t gpa, size;
	void *hva;
};

struct fake_route {
	bool used;
	int efd;
	uint64_t addr;
	uint32_t data;
};

struct fake_kvm {
	struct fake_check check;
	struct fake_slot slot[64];
	unsigned int nmap_calls, nunmap_calls;
	bool fail_map, fail_route, fail_intx;
	struct fake_route route[64];
	unsigned int nroute_calls;
	struct {
		unsigned int n;
		uint64_t addr[16];
		uint32_t data[16];
	} sent;
	bool intx_bound;
	unsigned int intx_gsi, nintx_calls;
	int intx_efd, intx_resample;
};

void fake_kvm_init(struct fake_kvm *k);
struct vfio_assign_hooks fake_kvm_hooks(struct fake_kvm *k);
/* The live slot at gpa, or NULL. */
const struct fake_slot *fake_kvm_slot_at(const struct fake_kvm *k, uint64_t gpa);
unsigned int fake_kvm_nslots(const struct fake_kvm *k);
/* The route an eventfd is bound to, or NULL. */
const struct fake_route *fake_kvm_route_of(const struct fake_kvm *k, int efd);
unsigned int fake_kvm_nroutes(const struct fake_kvm *k);

#endif
