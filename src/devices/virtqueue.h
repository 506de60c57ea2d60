/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2, 2.7) for device models: the device side of the three ring
 * parts, with every value the guest controls checked before it is used.
 *
 * A device pops descriptor chains, moves bytes through the chain helpers and pushes each
 * chain back with the number of bytes it wrote; after a batch it asks whether the driver
 * must be interrupted. Every guest access goes through guestmem, so nothing here can touch
 * host memory outside plugged guest RAM, and each descriptor is read once into a local copy
 * before it is checked (the guest may rewrite it at any time).
 *
 * Errors are negative enum virtqueue_error values. The first error is sticky: every later
 * call returns it without touching guest memory, until virtqueue_init or virtqueue_reset.
 * The caller answers it with virtio_transport_ops.needs_reset (the guest broke the queue).
 *
 * What a chain may be:
 *   - at most the queue size descriptors in the descriptor table and at most the table's
 *     entries in an indirect table (a longer walk is a loop: VIRTQUEUE_ERR_LOOP), and at
 *     most VIRTQUEUE_MAX_SEGS buffer descriptors in all (VIRTQUEUE_ERR_TOO_MANY_SEGS), so
 *     one pop costs a bounded amount of work whatever the guest wrote;
 *   - zero or more direct descriptors, optionally ending in one INDIRECT descriptor (no
 *     NEXT on it, WRITE on it ignored, only with VIRTIO_F_INDIRECT_DESC) whose table is a
 *     non-zero multiple of 16 bytes of at most VIRTQUEUE_MAX_SEGS entries and has no
 *     INDIRECT entries itself;
 *   - device-readable descriptors before device-writable ones, at most 4 GiB - 1 bytes in
 *     total (used lengths are 32 bits), every byte of every buffer in plugged guest RAM.
 * Zero-length descriptors are accepted and skipped: they move no byte, so their address is
 * not checked and they add no segment, but they count towards the limits and their WRITE
 * flag towards the ordering rule. A chain may thus have no segment at all.
 *
 * Each ring part must lie in plugged RAM with its spec alignment (descriptors 16, available
 * ring 2, used ring 4). Parts may overlap each other: that is the guest's own problem, never
 * the host's. Unplugging RAM under a live ring is noticed at the next access.
 *
 * Not thread-safe: the device serialises calls on one queue (its own lock).
 */
#ifndef SLABVM_VIRTQUEUE_H
#define SLABVM_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/virtio.h"
#include "mem/memmap.h"

/* Ring flags, as the spec names them. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/*
 * Most buffer descriptors in one chain (Linux's UIO_MAXIOV, QEMU's limit too). The spec
 * lets a device set such a limit (2.7.4.1); drivers stay far below it.
 */
#define VIRTQUEUE_MAX_SEGS 1024

enum virtqueue_error {
	VIRTQUEUE_ERR_NOT_READY = -1,	      /* never initialised, or reset */
	VIRTQUEUE_ERR_SIZE = -2,	      /* queue size 0, not a power of two, > 32768 */
	VIRTQUEUE_ERR_RING_ALIGN = -3,	      /* a ring part is misaligned */
	VIRTQUEUE_ERR_RING_ADDR = -4,	      /* a ring part is not (or no longer) in RAM */
	VIRTQUEUE_ERR_AVAIL_IDX = -5,	      /* avail->idx ran more than size ahead */
	VIRTQUEUE_ERR_HEAD = -6,	      /* an available ring entry >= size */
	VIRTQUEUE_ERR_NEXT = -7,	      /* a next index >= size (or table entries) */
	VIRTQUEUE_ERR_LOOP = -8,	      /* longer than the queue (or table): a loop */
	VIRTQUEUE_ERR_TOO_MANY_SEGS = -9,     /* more than VIRTQUEUE_MAX_SEGS descriptors */
	VIRTQUEUE_ERR_INDIRECT_FEATURE = -10, /* INDIRECT without VIRTIO_F_INDIRECT_DESC */
	VIRTQUEUE_ERR_INDIRECT_NESTED = -11,  /* INDIRECT inside an indirect table */
	VIRTQUEUE_ERR_INDIRECT_NEXT = -12,    /* INDIRECT and NEXT on one descriptor */
	VIRTQUEUE_ERR_INDIRECT_LEN = -13,     /* table length 0, not 16*n, or too many */
	VIRTQUEUE_ERR_INDIRECT_ADDR = -14,    /* indirect table not in RAM */
	VIRTQUEUE_ERR_ORDER = -15,	      /* device-readable after device-writable */
	VIRTQUEUE_ERR_LEN_OVERFLOW = -16,     /* chain longer than 4 GiB - 1 bytes */
	VIRTQUEUE_ERR_BUF_ADDR = -17,	      /* a buffer is not (or no longer) in RAM */
	VIRTQUEUE_ERR_PUSH = -18,	      /* device bug: push of a bad head or unpopped */
};

/* Returns the name of an enum virtqueue_error ("VIRTQUEUE_ERR_LOOP"), for messages. */
const char *virtqueue_strerror(int err);

struct virtqueue_seg {
	uint64_t gpa;
	uint32_t len; /* never 0 */
	bool write;   /* device-writable */
};

/*
 * One popped chain. Segments are in chain order, the nread device-readable ones first;
 * read_len + write_len <= UINT32_MAX. About 16 KiB: keep it in the device, not the stack.
 */
struct virtqueue_chain {
	uint16_t head;
	unsigned int nsegs;
	unsigned int nread;
	uint32_t read_len;
	uint32_t write_len;
	struct virtqueue_seg seg[VIRTQUEUE_MAX_SEGS];
};

/* Fields are private to virtqueue.c; tests and the fuzz harness only read them. */
struct virtqueue {
	struct memmap *mm;
	uint16_t size;
	uint64_t desc, avail, used;
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool ready;
	int error;		 /* first error, sticky */
	uint16_t last_avail;	 /* next available ring entry to pop */
	uint16_t used_idx;	 /* next used ring entry to fill, as published */
	uint16_t signalled_used; /* used_idx at the last notification decision */
	uint32_t unsignalled;	 /* entries pushed since then */
	uint32_t inflight;	 /* popped and not pushed yet */
};

/*
 * Checks cfg and takes the queue over from index 0 (a freshly enabled queue). features is
 * the negotiated set (bit n is feature n). Returns 0 or a negative enum virtqueue_error, and
 * then the queue is unusable (sticky) until the next init.
 */
int virtqueue_init(struct virtqueue *vq, struct memmap *mm, const struct virtio_queue_config *cfg,
		   uint64_t features);
/* Forgets the queue (device reset); later calls return VIRTQUEUE_ERR_NOT_READY. */
void virtqueue_reset(struct virtqueue *vq);

/*
 * Pops the next available chain into *chain: 1 with a chain, 0 when there is none, or a
 * negative enum virtqueue_error. With EVENT_IDX it also asks the driver (avail_event) to
 * notify once it adds past what was popped, and rechecks after a full barrier before
 * reporting an empty ring, so a buffer added meanwhile is never left without a notify.
 */
int virtqueue_pop(struct virtqueue *vq, struct virtqueue_chain *chain);

/*
 * Returns a popped chain: writes the used element, then publishes used->idx (release).
 * len is what the device wrote, at most the chain's write_len (the device's promise, not
 * checked). 0 or a negative enum virtqueue_error.
 */
int virtqueue_push(struct virtqueue *vq, uint16_t head, uint32_t len);

/*
 * After one or more pushes: 1 if the driver must be interrupted now, 0 if not, or a negative
 * enum virtqueue_error. Reads used_event (EVENT_IDX) or avail->flags after a full barrier,
 * so a driver re-enabling interrupts while we pushed is never missed.
 */
int virtqueue_notify_needed(struct virtqueue *vq);

/*
 * Copy between a chain and a host buffer: read from its device-readable bytes, write into
 * its device-writable bytes, starting offset bytes into those. Return the bytes copied
 * (less than len where the chain's bytes end), or VIRTQUEUE_ERR_BUF_ADDR if the RAM under
 * the chain went away (sticky, like every error).
 */
ssize_t virtqueue_chain_read(struct virtqueue *vq, const struct virtqueue_chain *chain,
			     size_t offset, void *buf, size_t len);
ssize_t virtqueue_chain_write(struct virtqueue *vq, const struct virtqueue_chain *chain,
			      size_t offset, const void *buf, size_t len);

#endif
