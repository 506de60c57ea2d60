/* SPDX-License-Identifier: MIT */
/*
 * For the unit tests of virtqueue users (virtqueue, virtio-rng, balloon): writing a split
 * virtqueue descriptor into guest memory the way a driver does, little-endian.
 * Include after <cmocka.h>.
 */
#ifndef SLABVM_VRING_TEST_H
#define SLABVM_VRING_TEST_H

#include <stdint.h>

#include "guestmem.h"

/* Descriptor i of the table at gpa table: {le64 addr, le32 len, le16 flags, le16 next}. */
static inline void vring_put_desc(struct memmap *mm, uint64_t table, unsigned int i, uint64_t addr,
				  uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t b[16];
	int k;

	for (k = 0; k < 8; k++)
		b[k] = (uint8_t)(addr >> (8 * k));
	for (k = 0; k < 4; k++)
		b[8 + k] = (uint8_t)(len >> (8 * k));
	b[12] = (uint8_t)flags;
	b[13] = (uint8_t)(flags >> 8);
	b[14] = (uint8_t)next;
	b[15] = (uint8_t)(next >> 8);
	assert_int_equal(guestmem_write(mm, table + 16 * (uint64_t)i, b, sizeof(b)), 0);
}

#endif
