// SPDX-License-Identifier: MIT
#include "vfio/info.h"

#include <errno.h>
#include <string.h>

#include <linux/vfio.h>

int vfio_info_caps_walk(const uint8_t *buf, size_t len, size_t hdr, uint32_t first,
			int (*fn)(void *ctx, const uint8_t *buf, size_t len, size_t off,
				  uint16_t id, struct error *err),
			void *ctx, const char *what, struct error *err)
{
	struct vfio_info_cap_header cap;
	size_t off;
	int ret;

	for (off = first; off; off = cap.next) {
		if (off < hdr || len < sizeof(cap) || off > len - sizeof(cap))
			return error_set(err, -EINVAL,
					 "%s: capability at %zu outside its %zu bytes", what, off,
					 len);
		memcpy(&cap, buf + off, sizeof(cap));
		/* Each capability lies after the one before: the chain cannot loop. */
		if (cap.next && cap.next <= off)
			return error_set(err, -EINVAL, "%s: capability at %zu points back to %u",
					 what, off, cap.next);
		ret = fn(ctx, buf, len, off, cap.id, err);
		if (ret)
			return ret;
	}
	return 0;
}
