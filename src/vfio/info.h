/* SPDX-License-Identifier: MIT */
/*
 * The capability chains of vfio's *_GET_INFO answers (IOMMU info, region info): each
 * capability starts with struct vfio_info_cap_header, whose next field is an offset from
 * the start of the answer, 0 for the last. Walked with every offset checked against the
 * answer's length and each capability after the one before, so a malformed answer is
 * refused and never read past or looped over.
 */
#ifndef SLABVM_VFIO_INFO_H
#define SLABVM_VFIO_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/*
 * Calls fn for each capability of buf (len bytes, a header of hdr bytes, the first
 * capability at first, 0 for none) with the capability's offset and ID; fn may read len
 * - off bytes from buf + off and returns 0 to go on or a negative errno to stop. what
 * names the answer in messages ("VFIO_IOMMU_GET_INFO").
 */
int vfio_info_caps_walk(const uint8_t *buf, size_t len, size_t hdr, uint32_t first,
			int (*fn)(void *ctx, const uint8_t *buf, size_t len, size_t off,
				  uint16_t id, struct error *err),
			void *ctx, const char *what, struct error *err);

#endif
