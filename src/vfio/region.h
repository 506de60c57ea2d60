/* SPDX-License-Identifier: MIT */
/*
 * A vfio device region (a BAR, the config space, ...) as VFIO_DEVICE_GET_REGION_INFO
 * describes it, and how a BAR is to be reached: which page-aligned pieces may be mmapped
 * (and given to KVM as memslots, so the guest reaches them without exits) and which are
 * trapped and forwarded with pread/pwrite on the device fd. Pure: no ioctl, no mmap.
 *
 * A piece is mmapped only where the region allows it (the MMAP flag, and the sparse-mmap
 * capability's areas when there is one), only in whole host pages, and never over the
 * pages holding the MSI-X table or PBA, which are emulated (msix.h) whatever
 * VFIO_REGION_INFO_CAP_MSIX_MAPPABLE says: a memslot cannot trap part of a page.
 */
#ifndef SLABVM_VFIO_REGION_H
#define SLABVM_VFIO_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define VFIO_REGION_MAX_AREAS 16
#define VFIO_BAR_MAX_PIECES (2 * VFIO_REGION_MAX_AREAS + 6)

struct vfio_area {
	uint64_t offset, size;
};

struct vfio_region {
	unsigned int index;
	uint32_t flags;	 /* VFIO_REGION_INFO_FLAG_* */
	uint64_t size;	 /* bytes */
	uint64_t offset; /* where the region starts in the device fd */
	bool sparse;	 /* mmap is limited to area[] */
	bool msix_mappable;
	unsigned int nareas;
	struct vfio_area area[VFIO_REGION_MAX_AREAS];
};

/*
 * Parses a struct vfio_region_info of len bytes as the kernel filled it, capabilities
 * included. Sparse areas must lie inside the region. -EINVAL with a message otherwise.
 */
int vfio_parse_region_info(const void *buf, size_t len, struct vfio_region *r, struct error *err);

struct vfio_bar_piece {
	uint64_t offset, size;
	bool mmap;
};

/* Pieces in BAR order, covering it exactly, no two neighbours of the same kind. */
struct vfio_bar_layout {
	unsigned int npieces;
	unsigned int nmmap; /* pieces to mmap: memslots, and mappings if the IOMMU gets BARs */
	struct vfio_bar_piece piece[VFIO_BAR_MAX_PIECES];
};

/*
 * Lays out BAR region r for host pages of page bytes (a power of two). trap lists up to 2
 * ranges of the BAR that must stay trapped (the MSI-X table and PBA); ranges outside the
 * BAR are refused.
 */
int vfio_bar_layout(const struct vfio_region *r, uint64_t page, const struct vfio_area *trap,
		    unsigned int ntrap, struct vfio_bar_layout *out, struct error *err);

#endif
