/* SPDX-License-Identifier: MIT */
/*
 * For the unit tests of virtqueue users (virtqueue, virtio-rng, balloon): the driver's side
 * of a split virtqueue in guest memory, little-endian. Every access must succeed.
 * Include after <cmocka.h>.
 */
#ifndef SLABVM_VRING_TEST_H
#define SLABVM_VRING_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "mem/guestmem.h"

/* Descriptor flags and feature bits as the spec numbers them (2.7, 6), not from the model. */
#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4

#define FEAT_INDIRECT (1ULL << 28)
#define FEAT_EVENT_IDX (1ULL << 29)
#define FEAT_VERSION_1 (1ULL << 32)

static inline void vring_write(struct memmap *mm, uint64_t gpa, const void *buf, size_t len)
{
	assert_int_equal(guestmem_write(mm, gpa, buf, len), 0);
}

static inline void vring_write16(struct memmap *mm, uint64_t gpa, uint16_t v)
{
	uint8_t b[2] = {v, v >> 8};

	vring_write(mm, gpa, b, sizeof(b));
}

static inline uint16_t vring_read16(struct memmap *mm, uint64_t gpa)
{
	uint8_t b[2];

	assert_int_equal(guestmem_read(mm, gpa, b, sizeof(b)), 0);
	return b[0] | b[1] << 8;
}

static inline uint32_t vring_read32(struct memmap *mm, uint64_t gpa)
{
	uint8_t b[4];

	assert_int_equal(guestmem_read(mm, gpa, b, sizeof(b)), 0);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A queue of size entries at desc, avail and used, with no MSI-X vector. */
static inline struct virtio_queue_config vring_qcfg(uint16_t size, uint64_t desc, uint64_t avail,
						    uint64_t used)
{
	return (struct virtio_queue_config){.size = size,
					    .desc = desc,
					    .avail = avail,
					    .used = used,
					    .msix_vector = VIRTIO_MSI_NO_VECTOR};
}

/* Zeroes 64 KiB at each of desc, avail and used: fresh rings. */
static inline void vring_zero(struct memmap *mm, uint64_t desc, uint64_t avail, uint64_t used)
{
	static const uint8_t zero[0x10000];

	vring_write(mm, desc, zero, sizeof(zero));
	vring_write(mm, avail, zero, sizeof(zero));
	vring_write(mm, used, zero, sizeof(zero));
}

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
	vring_write(mm, table + 16 * (uint64_t)i, b, sizeof(b));
}

/*
 * Publishes head as the next entry of the available ring at avail (size entries): *idx is
 * the driver's avail->idx, which goes up by one.
 */
static inline void vring_avail_add(struct memmap *mm, uint64_t avail, uint16_t size, uint16_t *idx,
				   uint16_t head)
{
	vring_write16(mm, avail + 4 + 2 * (*idx % size), head);
	(*idx)++;
	vring_write16(mm, avail + 2, *idx);
}

/* Entry i of the used ring at used (size entries) is {le32 id, le32 len}. */
static inline void vring_expect_used(struct memmap *mm, uint64_t used, uint16_t size, uint16_t i,
				     uint32_t id, uint32_t len)
{
	uint64_t e = used + 4 + 8 * (uint64_t)(i % size);

	assert_int_equal(vring_read32(mm, e), id);
	assert_int_equal(vring_read32(mm, e + 4), len);
}

#endif
