// SPDX-License-Identifier: MIT
/*
 * The split virtqueue against the virtio 1.2 text (2.7). The test plays the driver: it lays
 * out rings in a 16 MiB guest with guestmem_write, byte by byte in little-endian, from the
 * spec's layout rather than from the model's header. The guest also has an unplugged DIMM
 * slot at 4 GiB, so "not RAM" covers the PCI hole, beyond the end, straddling the end, a
 * region that exists but is not plugged, and the top of the address space.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vring_test.h"

#include "devices/virtqueue.h"
#include "mem/guestmem.h"
#include "mem/memmap.h"

#define MIB (1024ULL * 1024)
#define RAM_END (16 * MIB)
#define PCI_HOLE 0xC0000000ULL
#define DIMM_BASE 0x100000000ULL

/* Where the test driver puts things. */
#define DESC 0x10000ULL
#define AVAIL 0x20000ULL
#define USED 0x30000ULL
#define TABLE 0x40000ULL /* indirect tables */
#define BUF 0x100000ULL	 /* buffers */

struct fixture {
	struct memmap mm;
	struct virtqueue vq;
	struct virtqueue_chain chain;
	uint16_t size;
	uint16_t avail_idx; /* the driver's */
};

static void put_desc(struct fixture *f, uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	vring_put_desc(&f->mm, table, i, addr, len, flags, next);
}

/* Publishes head as the next available entry. */
static void avail_add(struct fixture *f, uint16_t head)
{
	vring_avail_add(&f->mm, AVAIL, f->size, &f->avail_idx, head);
}

static void set_avail_idx(struct fixture *f, uint16_t idx)
{
	f->avail_idx = idx;
	vring_write16(&f->mm, AVAIL + 2, idx);
}

static uint16_t used_idx(struct fixture *f)
{
	return vring_read16(&f->mm, USED + 2);
}

static void expect_used(struct fixture *f, uint16_t i, uint32_t id, uint32_t len)
{
	vring_expect_used(&f->mm, USED, f->size, i, id, len);
}

static void set_used_event(struct fixture *f, uint16_t v)
{
	vring_write16(&f->mm, AVAIL + 4 + 2 * (uint64_t)f->size, v);
}

static uint16_t avail_event(struct fixture *f)
{
	return vring_read16(&f->mm, USED + 4 + 8 * (uint64_t)f->size);
}

/* A fresh queue of this size at DESC/AVAIL/USED, with zeroed rings. */
static void start(struct fixture *f, uint16_t size, uint64_t features)
{
	struct virtio_queue_config c = vring_qcfg(size, DESC, AVAIL, USED);

	vring_zero(&f->mm, DESC, AVAIL, USED);
	f->size = size;
	f->avail_idx = 0;
	assert_int_equal(virtqueue_init(&f->vq, &f->mm, &c, features), 0);
}

static int setup(void **state)
{
	/* One 4 MiB DIMM slot: plugging it populates all of it. */
	struct memmap_config c = {.mem = RAM_END, .maxmem = RAM_END + 4 * MIB};
	struct fixture *f = calloc(1, sizeof(*f));
	struct error err = {0};

	assert_non_null(f);
	if (memmap_init(&f->mm, &c, NULL, NULL, &err))
		fail_msg("memmap_init: %s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	memmap_destroy(&f->mm);
	free(f);
	return 0;
}

/* Pops and expects error err, then checks that it sticks and that nothing was consumed. */
static void expect_pop_error(struct fixture *f, int err)
{
	uint16_t used = used_idx(f);

	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), err);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), err);
	assert_int_equal(virtqueue_push(&f->vq, 0, 0), err);
	assert_int_equal(virtqueue_notify_needed(&f->vq), err);
	assert_int_equal(used_idx(f), used);
}

static void expect_seg(const struct virtqueue_chain *c, unsigned int i, uint64_t gpa, uint32_t len,
		       bool write)
{
	assert_true(i < c->nsegs);
	assert_int_equal(c->seg[i].gpa, gpa);
	assert_int_equal(c->seg[i].len, len);
	assert_int_equal(c->seg[i].write, write);
}

/* Set-up of the rings */

static void test_not_ready(void **state)
{
	struct fixture *f = *state;

	memset(&f->vq, 0, sizeof(f->vq));
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), VIRTQUEUE_ERR_NOT_READY);
	assert_int_equal(virtqueue_push(&f->vq, 0, 0), VIRTQUEUE_ERR_NOT_READY);
	start(f, 16, 0);
	virtqueue_reset(&f->vq);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), VIRTQUEUE_ERR_NOT_READY);
}

static void expect_init(struct fixture *f, struct virtio_queue_config c, int err)
{
	assert_int_equal(virtqueue_init(&f->vq, &f->mm, &c, 0), err);
	if (err)
		assert_int_equal(virtqueue_pop(&f->vq, &f->chain), err);
}

static void test_init_size(void **state)
{
	struct fixture *f = *state;

	expect_init(f, vring_qcfg(0, DESC, AVAIL, USED), VIRTQUEUE_ERR_SIZE);
	expect_init(f, vring_qcfg(3, DESC, AVAIL, USED), VIRTQUEUE_ERR_SIZE);
	expect_init(f, vring_qcfg(48, DESC, AVAIL, USED), VIRTQUEUE_ERR_SIZE);
	expect_init(f, vring_qcfg(65535, DESC, AVAIL, USED), VIRTQUEUE_ERR_SIZE);
	expect_init(f, vring_qcfg(1, DESC, AVAIL, USED), 0);
	/* 32768 entries: 512 KiB of descriptors, parts placed one after the other. */
	expect_init(f, vring_qcfg(32768, 0x100000, 0x200000, 0x300000), 0);
}

static void test_init_align(void **state)
{
	struct fixture *f = *state;

	expect_init(f, vring_qcfg(16, DESC + 8, AVAIL, USED), VIRTQUEUE_ERR_RING_ALIGN);
	expect_init(f, vring_qcfg(16, DESC, AVAIL + 1, USED), VIRTQUEUE_ERR_RING_ALIGN);
	expect_init(f, vring_qcfg(16, DESC, AVAIL, USED + 2), VIRTQUEUE_ERR_RING_ALIGN);
	/* The minimum alignments are enough. */
	expect_init(f, vring_qcfg(16, DESC + 16, AVAIL + 2, USED + 4), 0);
}

static void test_init_outside_ram(void **state)
{
	struct fixture *f = *state;
	/* Descriptor table 256 bytes, available ring 38, used ring 134 for 16 entries. */
	const uint64_t bad[] = {
		PCI_HOLE, RAM_END, RAM_END - 16, DIMM_BASE, 0xfffffffffffffff0ULL,
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		expect_init(f, vring_qcfg(16, bad[i], AVAIL, USED), VIRTQUEUE_ERR_RING_ADDR);
		expect_init(f, vring_qcfg(16, DESC, bad[i], USED), VIRTQUEUE_ERR_RING_ADDR);
		expect_init(f, vring_qcfg(16, DESC, AVAIL, bad[i]), VIRTQUEUE_ERR_RING_ADDR);
	}
	/* Flush against the end of RAM is fine; one element more is not (used_event). */
	expect_init(f, vring_qcfg(16, RAM_END - 256, AVAIL, USED), 0);
	expect_init(f, vring_qcfg(16, DESC, RAM_END - 38, USED), 0);
	expect_init(f, vring_qcfg(16, DESC, RAM_END - 36, USED), VIRTQUEUE_ERR_RING_ADDR);
	expect_init(f, vring_qcfg(16, DESC, AVAIL, RAM_END - 136), 0);
	expect_init(f, vring_qcfg(16, DESC, AVAIL, RAM_END - 132), VIRTQUEUE_ERR_RING_ADDR);
}

static void test_rings_at_end_of_ram(void **state)
{
	struct fixture *f = *state;
	struct virtio_queue_config c =
		vring_qcfg(16, RAM_END - 0x1000, RAM_END - 0x800, RAM_END - 136);
	uint8_t b[16];

	assert_int_equal(virtqueue_init(&f->vq, &f->mm, &c, FEAT_EVENT_IDX), 0);
	put_desc(f, c.desc, 3, BUF, 4, 0, 0);
	vring_write16(&f->mm, c.avail + 4, 3);
	vring_write16(&f->mm, c.avail + 2, 1);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(virtqueue_push(&f->vq, 3, 0), 0);
	/* avail_event ends two bytes short of the end of RAM (134 bytes at 4-byte alignment). */
	assert_int_equal(guestmem_read(&f->mm, RAM_END - 16, b, sizeof(b)), 0);
	assert_int_equal(b[12] | b[13] << 8, 1);
	assert_int_equal(vring_read16(&f->mm, c.used + 2), 1);
}

/* Chains that are fine */

static void test_empty(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 0);
	assert_int_equal(virtqueue_notify_needed(&f->vq), 0);
}

static void test_direct_chain(void **state)
{
	struct fixture *f = *state;
	uint8_t in[300], out[300], want[300];
	size_t i;

	start(f, 16, FEAT_VERSION_1);
	for (i = 0; i < sizeof(in); i++)
		in[i] = i * 7;
	vring_write(&f->mm, BUF, in, 100);
	vring_write(&f->mm, BUF + 0x1000, in + 100, 200);
	/* 5 -> 9 -> 2: two device-readable, one device-writable. */
	put_desc(f, DESC, 5, BUF, 100, F_NEXT, 9);
	put_desc(f, DESC, 9, BUF + 0x1000, 200, F_NEXT, 2);
	put_desc(f, DESC, 2, BUF + 0x2000, 50, F_WRITE, 0xffff /* ignored without NEXT */);
	avail_add(f, 5);

	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.head, 5);
	assert_int_equal(f->chain.nsegs, 3);
	assert_int_equal(f->chain.nread, 2);
	assert_int_equal(f->chain.read_len, 300);
	assert_int_equal(f->chain.write_len, 50);
	expect_seg(&f->chain, 0, BUF, 100, false);
	expect_seg(&f->chain, 1, BUF + 0x1000, 200, false);
	expect_seg(&f->chain, 2, BUF + 0x2000, 50, true);

	/* Reads gather across segments, from any offset, and stop at the readable end. */
	assert_int_equal(virtqueue_chain_read(&f->vq, &f->chain, 0, out, sizeof(out)), 300);
	assert_memory_equal(out, in, 300);
	assert_int_equal(virtqueue_chain_read(&f->vq, &f->chain, 90, out, 20), 20);
	assert_memory_equal(out, in + 90, 20);
	assert_int_equal(virtqueue_chain_read(&f->vq, &f->chain, 250, out, 100), 50);
	assert_int_equal(virtqueue_chain_read(&f->vq, &f->chain, 300, out, 100), 0);

	/* Writes land only in the writable segment. */
	memset(want, 0, sizeof(want));
	assert_int_equal(virtqueue_chain_write(&f->vq, &f->chain, 10, in, 100), 40);
	memcpy(want + 10, in, 40);
	assert_int_equal(guestmem_read(&f->mm, BUF + 0x2000, out, 60), 0);
	assert_memory_equal(out, want, 60);
	assert_int_equal(guestmem_read(&f->mm, BUF, out, 100), 0);
	assert_memory_equal(out, in, 100);

	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 0);
	assert_int_equal(virtqueue_push(&f->vq, 5, 50), 0);
	assert_int_equal(used_idx(f), 1);
	expect_used(f, 0, 5, 50);
}

static void test_indirect_chain(void **state)
{
	struct fixture *f = *state;
	uint8_t data[64], out[64];

	start(f, 16, FEAT_VERSION_1 | FEAT_INDIRECT);
	memset(data, 0xa5, sizeof(data));
	put_desc(f, TABLE, 0, BUF, 8, F_NEXT, 2);
	put_desc(f, TABLE, 2, BUF + 0x100, 16, F_NEXT | F_WRITE, 1);
	put_desc(f, TABLE, 1, BUF + 0x200, 32, F_WRITE, 0);
	/* The WRITE flag on the descriptor that points at the table is ignored. */
	put_desc(f, DESC, 7, TABLE, 3 * 16, F_INDIRECT | F_WRITE, 0);
	avail_add(f, 7);

	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.head, 7);
	assert_int_equal(f->chain.nsegs, 3);
	assert_int_equal(f->chain.nread, 1);
	expect_seg(&f->chain, 0, BUF, 8, false);
	expect_seg(&f->chain, 1, BUF + 0x100, 16, true);
	expect_seg(&f->chain, 2, BUF + 0x200, 32, true);
	assert_int_equal(f->chain.write_len, 48);

	assert_int_equal(virtqueue_chain_write(&f->vq, &f->chain, 0, data, sizeof(data)), 48);
	assert_int_equal(guestmem_read(&f->mm, BUF + 0x200, out, 32), 0);
	assert_memory_equal(out, data, 32);
	assert_int_equal(virtqueue_push(&f->vq, 7, 48), 0);
	expect_used(f, 0, 7, 48);
}

/* Spec 2.7.5.3.2: zero or more direct descriptors, then one indirect. */
static void test_direct_then_indirect(void **state)
{
	struct fixture *f = *state;

	start(f, 16, FEAT_INDIRECT);
	put_desc(f, DESC, 0, BUF, 10, F_NEXT, 1);
	put_desc(f, DESC, 1, TABLE, 2 * 16, F_INDIRECT, 0);
	put_desc(f, TABLE, 0, BUF + 0x100, 20, F_NEXT, 1);
	put_desc(f, TABLE, 1, BUF + 0x200, 30, F_WRITE, 0);
	avail_add(f, 0);

	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.nsegs, 3);
	assert_int_equal(f->chain.nread, 2);
	expect_seg(&f->chain, 0, BUF, 10, false);
	expect_seg(&f->chain, 1, BUF + 0x100, 20, false);
	expect_seg(&f->chain, 2, BUF + 0x200, 30, true);
}

static void test_zero_length(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	/* A zero-length buffer moves no byte, so even an address in the PCI hole is harmless. */
	put_desc(f, DESC, 0, PCI_HOLE, 0, F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 4, F_NEXT, 2);
	put_desc(f, DESC, 2, 0, 0, F_WRITE, 0);
	avail_add(f, 0);
	put_desc(f, DESC, 3, 0, 0, F_WRITE, 0);
	avail_add(f, 3);

	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.nsegs, 1);
	expect_seg(&f->chain, 0, BUF, 4, false);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.head, 3);
	assert_int_equal(f->chain.nsegs, 0);
	assert_int_equal(f->chain.write_len, 0);
}

/* Every byte of every buffer is checked, also where RAM ends exactly at the buffer's end. */
static void test_buffer_at_end_of_ram(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	put_desc(f, DESC, 0, RAM_END - 16, 16, F_WRITE, 0);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	expect_seg(&f->chain, 0, RAM_END - 16, 16, true);
}

static void test_full_ring(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	start(f, 8, 0);
	for (i = 0; i < 8; i++) {
		put_desc(f, DESC, i, BUF + i, 1, F_WRITE, 0);
		avail_add(f, 7 - i);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
		assert_int_equal(f->chain.head, 7 - i);
	}
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 0);
	/* Completed out of order, as a device may. */
	for (i = 0; i < 8; i++)
		assert_int_equal(virtqueue_push(&f->vq, i, i), 0);
	for (i = 0; i < 8; i++)
		expect_used(f, i, i, i);
	assert_int_equal(used_idx(f), 8);
}

/* The 16-bit indices wrap at 65536 on both rings, whatever the queue size. */
static void test_wraparound(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	start(f, 4, 0);
	for (i = 0; i < 4; i++)
		put_desc(f, DESC, i, BUF + 0x10 * i, 8, F_WRITE, 0);
	for (i = 0; i < 70000; i++) {
		avail_add(f, i % 4);
		assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
		assert_int_equal(f->chain.head, i % 4);
		assert_int_equal(virtqueue_push(&f->vq, i % 4, i), 0);
		expect_used(f, i % 4, i % 4, i);
		assert_int_equal(used_idx(f), (uint16_t)(i + 1));
	}
	assert_int_equal(f->avail_idx, (uint16_t)70000);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 0);
}

/* The same across the wrap with a batch in flight: idx 65534 -> 2. */
static void test_wrap_batch(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	start(f, 4, 0);
	for (i = 0; i < 4; i++)
		put_desc(f, DESC, i, BUF, 1, 0, 0);
	for (i = 0; i < 65534; i++) {
		avail_add(f, 0);
		assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
		assert_int_equal(virtqueue_push(&f->vq, 0, 0), 0);
	}
	for (i = 0; i < 4; i++)
		avail_add(f, i);
	assert_int_equal(vring_read16(&f->mm, AVAIL + 2), 2);
	for (i = 0; i < 4; i++) {
		assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
		assert_int_equal(f->chain.head, i);
	}
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 0);
}

/* Notification decisions */

static void test_no_interrupt(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	put_desc(f, DESC, 0, BUF, 1, F_WRITE, 0);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(virtqueue_push(&f->vq, 0, 1), 0);
	assert_int_equal(virtqueue_notify_needed(&f->vq), 1);
	/* Nothing pushed since: nothing to say. */
	assert_int_equal(virtqueue_notify_needed(&f->vq), 0);

	vring_write16(&f->mm, AVAIL, 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(virtqueue_push(&f->vq, 0, 1), 0);
	assert_int_equal(virtqueue_notify_needed(&f->vq), 0);
	/* used_event means nothing without EVENT_IDX. */
	vring_write16(&f->mm, AVAIL, 0);
	set_used_event(f, 100);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(virtqueue_push(&f->vq, 0, 1), 0);
	assert_int_equal(virtqueue_notify_needed(&f->vq), 1);
	/* Nor avail_event: the device leaves it alone. */
	assert_int_equal(avail_event(f), 0);
}

/* Pops and pushes one chain (descriptor 0) n times, then asks about notifying. */
static int cycle(struct fixture *f, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		avail_add(f, 0);
		assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
		assert_int_equal(virtqueue_push(&f->vq, 0, 1), 0);
	}
	return virtqueue_notify_needed(&f->vq);
}

static void test_event_idx_used_event(void **state)
{
	struct fixture *f = *state;

	start(f, 16, FEAT_EVENT_IDX);
	put_desc(f, DESC, 0, BUF, 1, F_WRITE, 0);
	/* used_event 0: interrupt once used->idx goes 0 -> 1, not for 1 -> 2. */
	assert_int_equal(cycle(f, 1), 1);
	assert_int_equal(cycle(f, 1), 0);
	/* The flags bit is ignored with EVENT_IDX. */
	vring_write16(&f->mm, AVAIL, 1);
	set_used_event(f, 2);
	assert_int_equal(cycle(f, 1), 1); /* 2 -> 3 */
	vring_write16(&f->mm, AVAIL, 0);
	/* A batch 3 -> 6 crosses used_event 4: one interrupt. */
	set_used_event(f, 4);
	assert_int_equal(cycle(f, 3), 1);
	/* A batch 6 -> 9 that ends exactly at used_event 9 has not crossed it. */
	set_used_event(f, 9);
	assert_int_equal(cycle(f, 3), 0);
	assert_int_equal(cycle(f, 1), 1); /* 9 -> 10 */
	/* used_event behind us: not until the index comes round again. */
	set_used_event(f, 5);
	assert_int_equal(cycle(f, 2), 0);
	assert_int_equal(used_idx(f), 12);
}

static void test_event_idx_wrap(void **state)
{
	struct fixture *f = *state;

	start(f, 16, FEAT_EVENT_IDX);
	put_desc(f, DESC, 0, BUF, 1, F_WRITE, 0);
	set_used_event(f, 65535);
	assert_int_equal(cycle(f, 65534), 0); /* 0 -> 65534 */
	assert_int_equal(cycle(f, 3), 1);     /* 65534 -> 1 crosses 65535 */
	/* More than 65535 pushes between decisions cannot be judged by 16 bits: interrupt. */
	set_used_event(f, 0);
	assert_int_equal(cycle(f, 65536), 1);
}

static void test_event_idx_avail_event(void **state)
{
	struct fixture *f = *state;

	start(f, 16, FEAT_EVENT_IDX);
	put_desc(f, DESC, 0, BUF, 1, F_WRITE, 0);
	vring_write16(&f->mm, USED + 4 + 8 * 16, 0xbeef);
	/* An empty pop asks to hear about the next entry, 0. */
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 0);
	assert_int_equal(avail_event(f), 0);
	avail_add(f, 0);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(avail_event(f), 1);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(avail_event(f), 2);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 0);
	assert_int_equal(avail_event(f), 2);
	/* The device never sets VIRTQ_USED_F_NO_NOTIFY with EVENT_IDX (it must leave 0). */
	assert_int_equal(vring_read16(&f->mm, USED), 0);
}

/* What the guest may get wrong: the available ring */

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	start(f, 8, 0);
	for (i = 0; i < 8; i++)
		put_desc(f, DESC, i, BUF, 1, 0, 0);
	/* Exactly size ahead is a full ring. */
	set_avail_idx(f, 8);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	/* 7 pending, then 9 ahead of what was popped. */
	set_avail_idx(f, 10);
	expect_pop_error(f, VIRTQUEUE_ERR_AVAIL_IDX);

	/* Going backwards is a jump of almost 65536. */
	start(f, 8, 0);
	set_avail_idx(f, 0xffff);
	expect_pop_error(f, VIRTQUEUE_ERR_AVAIL_IDX);
}

static void test_bad_head(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	avail_add(f, 16);
	expect_pop_error(f, VIRTQUEUE_ERR_HEAD);
	start(f, 16, 0);
	avail_add(f, 0xffff);
	expect_pop_error(f, VIRTQUEUE_ERR_HEAD);
}

/* ...the descriptors */

static void test_bad_next(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	put_desc(f, DESC, 0, BUF, 1, F_NEXT, 16);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_NEXT);

	/* In an indirect table, next is bounded by the table, not the queue. */
	start(f, 16, FEAT_INDIRECT);
	put_desc(f, DESC, 0, TABLE, 2 * 16, F_INDIRECT, 0);
	put_desc(f, TABLE, 0, BUF, 1, F_NEXT, 2);
	put_desc(f, TABLE, 2, BUF, 1, 0, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_NEXT);
}

static void test_loops(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* Self-reference. */
	start(f, 16, 0);
	put_desc(f, DESC, 3, BUF, 1, F_NEXT, 3);
	avail_add(f, 3);
	expect_pop_error(f, VIRTQUEUE_ERR_LOOP);

	/* A cycle entered after a tail: 0 -> 1 -> 2 -> 1. */
	start(f, 16, 0);
	put_desc(f, DESC, 0, BUF, 1, F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 1, F_NEXT, 2);
	put_desc(f, DESC, 2, BUF, 1, F_NEXT, 1);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_LOOP);

	/* Zero-length descriptors still count: a loop of them ends too. */
	start(f, 16, 0);
	put_desc(f, DESC, 0, 0, 0, F_NEXT, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_LOOP);

	/* Every descriptor of the table once is fine; the queue size is the bound. */
	start(f, 16, 0);
	for (i = 0; i < 16; i++)
		put_desc(f, DESC, i, BUF, 1, i < 15 ? F_NEXT : 0, i + 1);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.nsegs, 16);

	/*
	 * A ring through the whole table of a queue as big as VIRTQUEUE_MAX_SEGS: the walk
	 * notices the repeat (one more than the table holds) before the segment limit.
	 */
	start(f, VIRTQUEUE_MAX_SEGS, 0);
	for (i = 0; i < VIRTQUEUE_MAX_SEGS; i++)
		put_desc(f, DESC, i, BUF, 0, F_NEXT, (i + 1) % VIRTQUEUE_MAX_SEGS);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_LOOP);

	/* A loop inside an indirect table. */
	start(f, 16, FEAT_INDIRECT);
	put_desc(f, DESC, 0, TABLE, 4 * 16, F_INDIRECT, 0);
	for (i = 0; i < 4; i++)
		put_desc(f, TABLE, i, BUF, 1, F_NEXT, (i + 1) % 4);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_LOOP);
}

static void test_too_many_segs(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* A direct chain of VIRTQUEUE_MAX_SEGS + 1 in a queue big enough to hold it. */
	start(f, 2048, 0);
	for (i = 0; i <= VIRTQUEUE_MAX_SEGS; i++)
		put_desc(f, DESC, i, BUF, 1, F_NEXT, i + 1);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_TOO_MANY_SEGS);

	/* VIRTQUEUE_MAX_SEGS exactly, in an indirect table of that size, is fine... */
	start(f, 16, FEAT_INDIRECT);
	for (i = 0; i < VIRTQUEUE_MAX_SEGS; i++)
		put_desc(f, TABLE, i, BUF, 1, i + 1 < VIRTQUEUE_MAX_SEGS ? F_NEXT : 0, i + 1);
	put_desc(f, DESC, 1, TABLE, 16 * VIRTQUEUE_MAX_SEGS, F_INDIRECT, 0);
	avail_add(f, 1);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.nsegs, VIRTQUEUE_MAX_SEGS);
	/* ...but not after a direct descriptor. */
	put_desc(f, DESC, 0, BUF, 1, F_NEXT, 1);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_TOO_MANY_SEGS);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;

	start(f, 16, FEAT_VERSION_1 | FEAT_EVENT_IDX);
	put_desc(f, TABLE, 0, BUF, 1, 0, 0);
	put_desc(f, DESC, 0, TABLE, 16, F_INDIRECT, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_INDIRECT_FEATURE);
}

static void test_indirect_nested(void **state)
{
	struct fixture *f = *state;

	start(f, 16, FEAT_INDIRECT);
	put_desc(f, DESC, 0, TABLE, 2 * 16, F_INDIRECT, 0);
	put_desc(f, TABLE, 0, BUF, 1, F_NEXT, 1);
	put_desc(f, TABLE, 1, TABLE, 2 * 16, F_INDIRECT, 0); /* itself, again */
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_INDIRECT_NESTED);
}

static void test_indirect_with_next(void **state)
{
	struct fixture *f = *state;

	start(f, 16, FEAT_INDIRECT);
	put_desc(f, TABLE, 0, BUF, 1, 0, 0);
	put_desc(f, DESC, 0, TABLE, 16, F_INDIRECT | F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 1, F_WRITE, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_INDIRECT_NEXT);
}

static void test_indirect_len(void **state)
{
	struct fixture *f = *state;
	const uint32_t bad[] = {0, 8, 15, 17, 16 * VIRTQUEUE_MAX_SEGS + 16, 0xfffffff0};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		start(f, 16, FEAT_INDIRECT);
		put_desc(f, TABLE, 0, BUF, 1, 0, 0);
		put_desc(f, DESC, 0, TABLE, bad[i], F_INDIRECT, 0);
		avail_add(f, 0);
		expect_pop_error(f, VIRTQUEUE_ERR_INDIRECT_LEN);
	}
}

static void test_indirect_outside_ram(void **state)
{
	struct fixture *f = *state;
	const uint64_t bad[] = {PCI_HOLE, RAM_END, RAM_END - 16, DIMM_BASE, 0xfffffffffffffff0ULL};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		start(f, 16, FEAT_INDIRECT);
		/* Two entries: RAM_END - 16 holds the first but not the second. */
		put_desc(f, DESC, 0, bad[i], 32, F_INDIRECT, 0);
		avail_add(f, 0);
		expect_pop_error(f, VIRTQUEUE_ERR_INDIRECT_ADDR);
	}
}

static void test_order(void **state)
{
	struct fixture *f = *state;

	/* Direct: writable, then readable. */
	start(f, 16, 0);
	put_desc(f, DESC, 0, BUF, 4, F_WRITE | F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 4, 0, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_ORDER);

	/* Inside a table. */
	start(f, 16, FEAT_INDIRECT);
	put_desc(f, DESC, 0, TABLE, 32, F_INDIRECT, 0);
	put_desc(f, TABLE, 0, BUF, 4, F_WRITE | F_NEXT, 1);
	put_desc(f, TABLE, 1, BUF, 4, 0, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_ORDER);

	/* Across: a direct writable one, then a readable one in the table. */
	start(f, 16, FEAT_INDIRECT);
	put_desc(f, DESC, 0, BUF, 4, F_WRITE | F_NEXT, 1);
	put_desc(f, DESC, 1, TABLE, 16, F_INDIRECT, 0);
	put_desc(f, TABLE, 0, BUF, 4, 0, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_ORDER);

	/* A zero-length readable one after a writable one breaks the rule as well. */
	start(f, 16, 0);
	put_desc(f, DESC, 0, BUF, 4, F_WRITE | F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 0, 0, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_ORDER);
}

static void test_len_overflow(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* A huge length is refused for its total before its address is even looked at. */
	start(f, 16, 0);
	put_desc(f, DESC, 0, 0, RAM_END, F_NEXT, 1);
	put_desc(f, DESC, 1, 0, 0xffffffff, F_WRITE, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_LEN_OVERFLOW);

	/* 256 buffers of all of RAM, one byte short of 4 GiB: the most a chain may carry. */
	start(f, 16, FEAT_INDIRECT);
	for (i = 0; i < 256; i++)
		put_desc(f, TABLE, i, 0, i < 255 ? RAM_END : RAM_END - 1, i < 255 ? F_NEXT : 0,
			 i + 1);
	put_desc(f, DESC, 0, TABLE, 256 * 16, F_INDIRECT, 0);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(f->chain.read_len, 0xffffffff);
	/* One byte more. */
	put_desc(f, TABLE, 255, 0, RAM_END, 0, 0);
	avail_add(f, 0);
	expect_pop_error(f, VIRTQUEUE_ERR_LEN_OVERFLOW);
}

static void test_buffer_outside_ram(void **state)
{
	struct fixture *f = *state;
	const struct {
		uint64_t gpa;
		uint32_t len;
	} bad[] = {
		{PCI_HOLE, 1},
		{PCI_HOLE - 1, 2}, /* below the hole there is no RAM either with 16 MiB */
		{RAM_END, 1},
		{RAM_END - 8, 16},
		{RAM_END - 1, 0xfffffff0},
		{DIMM_BASE, 4096},
		{0xfffffffffffffff8ULL, 16}, /* wraps past the top */
		{0xffffffffffffffffULL, 1},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		start(f, 16, 0);
		put_desc(f, DESC, 0, BUF, 4, F_NEXT, 1);
		put_desc(f, DESC, 1, bad[i].gpa, bad[i].len, F_WRITE, 0);
		avail_add(f, 0);
		expect_pop_error(f, VIRTQUEUE_ERR_BUF_ADDR);
	}
}

/* The chain before a bad one is delivered; the bad one and everything after it are not. */
static void test_error_stops_queue(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	put_desc(f, DESC, 0, BUF, 4, F_WRITE, 0);
	put_desc(f, DESC, 1, BUF, 4, F_NEXT, 1);
	avail_add(f, 0);
	avail_add(f, 1);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(virtqueue_chain_write(&f->vq, &f->chain, 0, "abcd", 4), 4);
	expect_pop_error(f, VIRTQUEUE_ERR_LOOP);
	/* Even the helpers on a chain popped before stop. */
	assert_int_equal(virtqueue_chain_write(&f->vq, &f->chain, 0, "abcd", 4),
			 VIRTQUEUE_ERR_LOOP);
	assert_int_equal(f->vq.last_avail, 1);
	/* A new init starts afresh. */
	start(f, 16, 0);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
}

/* RAM unplugged under a live queue: the next access fails cleanly. */
static void test_ram_unplugged(void **state)
{
	struct fixture *f = *state;
	struct virtio_queue_config c =
		vring_qcfg(16, DIMM_BASE, DIMM_BASE + 0x1000, DIMM_BASE + 0x2000);
	unsigned int dimm = 1; /* region 0 is the boot RAM */
	struct error err = {0};

	assert_int_equal(memmap_start(&f->mm, &err), 0);
	assert_int_equal(memmap_plug(&f->mm, dimm, &err), 0);
	assert_int_equal(virtqueue_init(&f->vq, &f->mm, &c, 0), 0);
	f->size = 16;
	put_desc(f, DIMM_BASE, 0, DIMM_BASE + 0x10000, 8, F_WRITE, 0);
	vring_write16(&f->mm, c.avail + 4, 0);
	vring_write16(&f->mm, c.avail + 2, 1);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(memmap_unplug(&f->mm, dimm, &err), 0);
	assert_int_equal(virtqueue_chain_write(&f->vq, &f->chain, 0, "x", 1),
			 VIRTQUEUE_ERR_BUF_ADDR);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), VIRTQUEUE_ERR_BUF_ADDR);

	/* A fresh queue on the unplugged slot is refused; a ring going away mid-use too. */
	assert_int_equal(virtqueue_init(&f->vq, &f->mm, &c, 0), VIRTQUEUE_ERR_RING_ADDR);
	assert_int_equal(memmap_plug(&f->mm, dimm, &err), 0);
	assert_int_equal(virtqueue_init(&f->vq, &f->mm, &c, 0), 0);
	assert_int_equal(memmap_unplug(&f->mm, dimm, &err), 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), VIRTQUEUE_ERR_RING_ADDR);
}

/* What the device may get wrong */

static void test_push_misuse(void **state)
{
	struct fixture *f = *state;

	start(f, 16, 0);
	assert_int_equal(virtqueue_push(&f->vq, 0, 0), VIRTQUEUE_ERR_PUSH);
	start(f, 16, 0);
	put_desc(f, DESC, 0, BUF, 1, 0, 0);
	avail_add(f, 0);
	assert_int_equal(virtqueue_pop(&f->vq, &f->chain), 1);
	assert_int_equal(virtqueue_push(&f->vq, 16, 0), VIRTQUEUE_ERR_PUSH);
	assert_int_equal(used_idx(f), 0);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(virtqueue_strerror(VIRTQUEUE_ERR_LOOP), "VIRTQUEUE_ERR_LOOP");
	assert_string_equal(virtqueue_strerror(VIRTQUEUE_ERR_PUSH), "VIRTQUEUE_ERR_PUSH");
	assert_string_equal(virtqueue_strerror(VIRTQUEUE_ERR_NOT_READY), "VIRTQUEUE_ERR_NOT_READY");
	assert_string_equal(virtqueue_strerror(-1000), "unknown virtqueue error");
	assert_string_equal(virtqueue_strerror(7), "unknown virtqueue error");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_not_ready),
		T(test_init_size),
		T(test_init_align),
		T(test_init_outside_ram),
		T(test_rings_at_end_of_ram),
		T(test_empty),
		T(test_direct_chain),
		T(test_indirect_chain),
		T(test_direct_then_indirect),
		T(test_zero_length),
		T(test_buffer_at_end_of_ram),
		T(test_full_ring),
		T(test_wraparound),
		T(test_wrap_batch),
		T(test_no_interrupt),
		T(test_event_idx_used_event),
		T(test_event_idx_wrap),
		T(test_event_idx_avail_event),
		T(test_avail_idx_jump),
		T(test_bad_head),
		T(test_bad_next),
		T(test_loops),
		T(test_too_many_segs),
		T(test_indirect_not_negotiated),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_len),
		T(test_indirect_outside_ram),
		T(test_order),
		T(test_len_overflow),
		T(test_buffer_outside_ram),
		T(test_error_stops_queue),
		T(test_ram_unplugged),
		T(test_push_misuse),
		T(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
