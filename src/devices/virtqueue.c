// SPDX-License-Identifier: MIT
/*
 * Split virtqueues, device side. The guest owns the descriptor table and the available ring
 * and may rewrite them at any moment, so every guest value is copied once and checked on the
 * copy. Bulk data moves through guestmem_read/guestmem_write; the three 16-bit fields shared
 * with a running driver (avail->idx, used->idx, the event indices) are loaded and stored
 * atomically through guestmem_ptr, so they are never torn and carry the ordering the spec
 * asks for.
 */
#include "devices/virtqueue.h"

#include <endian.h>
#include <string.h>

#include "mem/guestmem.h"

#define VIRTQUEUE_DESC_SIZE 16
#define VIRTQUEUE_USED_ELEM_SIZE 8

/* The layout of one descriptor in guest memory (little-endian). */
struct virtqueue_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct virtqueue_desc) == VIRTQUEUE_DESC_SIZE, "descriptor layout");

static const char *const virtqueue_error_names[] = {
	[-VIRTQUEUE_ERR_NOT_READY] = "VIRTQUEUE_ERR_NOT_READY",
	[-VIRTQUEUE_ERR_SIZE] = "VIRTQUEUE_ERR_SIZE",
	[-VIRTQUEUE_ERR_RING_ALIGN] = "VIRTQUEUE_ERR_RING_ALIGN",
	[-VIRTQUEUE_ERR_RING_ADDR] = "VIRTQUEUE_ERR_RING_ADDR",
	[-VIRTQUEUE_ERR_AVAIL_IDX] = "VIRTQUEUE_ERR_AVAIL_IDX",
	[-VIRTQUEUE_ERR_HEAD] = "VIRTQUEUE_ERR_HEAD",
	[-VIRTQUEUE_ERR_NEXT] = "VIRTQUEUE_ERR_NEXT",
	[-VIRTQUEUE_ERR_LOOP] = "VIRTQUEUE_ERR_LOOP",
	[-VIRTQUEUE_ERR_TOO_MANY_SEGS] = "VIRTQUEUE_ERR_TOO_MANY_SEGS",
	[-VIRTQUEUE_ERR_INDIRECT_FEATURE] = "VIRTQUEUE_ERR_INDIRECT_FEATURE",
	[-VIRTQUEUE_ERR_INDIRECT_NESTED] = "VIRTQUEUE_ERR_INDIRECT_NESTED",
	[-VIRTQUEUE_ERR_INDIRECT_NEXT] = "VIRTQUEUE_ERR_INDIRECT_NEXT",
	[-VIRTQUEUE_ERR_INDIRECT_LEN] = "VIRTQUEUE_ERR_INDIRECT_LEN",
	[-VIRTQUEUE_ERR_INDIRECT_ADDR] = "VIRTQUEUE_ERR_INDIRECT_ADDR",
	[-VIRTQUEUE_ERR_ORDER] = "VIRTQUEUE_ERR_ORDER",
	[-VIRTQUEUE_ERR_LEN_OVERFLOW] = "VIRTQUEUE_ERR_LEN_OVERFLOW",
	[-VIRTQUEUE_ERR_BUF_ADDR] = "VIRTQUEUE_ERR_BUF_ADDR",
	[-VIRTQUEUE_ERR_PUSH] = "VIRTQUEUE_ERR_PUSH",
};

const char *virtqueue_strerror(int err)
{
	if (err == 0)
		return "no error";
	if (err < 0 &&
	    (size_t)-err < sizeof(virtqueue_error_names) / sizeof(*virtqueue_error_names))
		return virtqueue_error_names[-err];
	return "unknown virtqueue error";
}

/*
 * Whether every byte of [gpa, gpa + len) is plugged RAM, the same test guestmem applies on
 * each access, made once at pop time so the device is handed only usable segments. A range
 * may run on into a directly adjacent region (DIMM slots), as guestmem allows.
 */
static bool virtqueue_in_ram(struct memmap *mm, uint64_t gpa, uint64_t len)
{
	bool ok = true;

	if (len > UINT64_MAX - gpa)
		return false;
	guestmem_lock(mm);
	while (len) {
		struct memmap_region *r = memmap_find(mm, gpa);
		uint64_t n;

		if (!r || !r->plugged) {
			ok = false;
			break;
		}
		n = r->size - (gpa - r->gpa);
		if (n >= len)
			break;
		gpa += n;
		len -= n;
	}
	guestmem_unlock(mm);
	return ok;
}

/*
 * The shared 16-bit fields. gpa is 2-aligned (the ring parts' alignment is checked) and
 * regions are page-aligned in the host, so the host pointer is aligned for atomics.
 */
static int virtqueue_load16(struct virtqueue *vq, uint64_t gpa, uint16_t *val)
{
	uint16_t *p;

	guestmem_lock(vq->mm);
	p = guestmem_ptr(vq->mm, gpa, sizeof(*p));
	if (p)
		*val = le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
	guestmem_unlock(vq->mm);
	return p ? 0 : VIRTQUEUE_ERR_RING_ADDR;
}

static int virtqueue_store16(struct virtqueue *vq, uint64_t gpa, uint16_t val)
{
	uint16_t *p;

	guestmem_lock(vq->mm);
	p = guestmem_ptr(vq->mm, gpa, sizeof(*p));
	if (p)
		__atomic_store_n(p, htole16(val), __ATOMIC_RELEASE);
	guestmem_unlock(vq->mm);
	return p ? 0 : VIRTQUEUE_ERR_RING_ADDR;
}

/* avail: flags, idx, ring[size], used_event. used: flags, idx, ring[size], avail_event. */
static uint64_t virtqueue_avail_idx_gpa(const struct virtqueue *vq)
{
	return vq->avail + 2;
}

static uint64_t virtqueue_avail_ring_gpa(const struct virtqueue *vq, uint16_t i)
{
	return vq->avail + 4 + 2 * (uint64_t)(i & (vq->size - 1));
}

static uint64_t virtqueue_used_event_gpa(const struct virtqueue *vq)
{
	return vq->avail + 4 + 2 * (uint64_t)vq->size;
}

static uint64_t virtqueue_used_idx_gpa(const struct virtqueue *vq)
{
	return vq->used + 2;
}

static uint64_t virtqueue_used_ring_gpa(const struct virtqueue *vq, uint16_t i)
{
	return vq->used + 4 + VIRTQUEUE_USED_ELEM_SIZE * (uint64_t)(i & (vq->size - 1));
}

static uint64_t virtqueue_avail_event_gpa(const struct virtqueue *vq)
{
	return vq->used + 4 + VIRTQUEUE_USED_ELEM_SIZE * (uint64_t)vq->size;
}

/* Records the first error; the caller returns what this returns. */
static int virtqueue_fail(struct virtqueue *vq, int err)
{
	if (!vq->error)
		vq->error = err;
	return vq->error;
}

/* Sticky error, or not ready: what every entry point checks first. */
static int virtqueue_state(const struct virtqueue *vq)
{
	if (vq->error)
		return vq->error;
	return vq->ready ? 0 : VIRTQUEUE_ERR_NOT_READY;
}

static int virtqueue_check_part(struct memmap *mm, uint64_t gpa, uint64_t len, uint64_t align)
{
	if (gpa & (align - 1))
		return VIRTQUEUE_ERR_RING_ALIGN;
	if (!virtqueue_in_ram(mm, gpa, len))
		return VIRTQUEUE_ERR_RING_ADDR;
	return 0;
}

int virtqueue_init(struct virtqueue *vq, struct memmap *mm, const struct virtio_queue_config *cfg,
		   uint64_t features)
{
	uint64_t n = cfg->size;
	int ret;

	memset(vq, 0, sizeof(*vq));
	vq->mm = mm;
	if (!n || n > VIRTIO_QUEUE_MAX_SIZE || (n & (n - 1)))
		return virtqueue_fail(vq, VIRTQUEUE_ERR_SIZE);
	ret = virtqueue_check_part(mm, cfg->desc, VIRTQUEUE_DESC_SIZE * n, 16);
	if (!ret)
		ret = virtqueue_check_part(mm, cfg->avail, 6 + 2 * n, 2);
	if (!ret)
		ret = virtqueue_check_part(mm, cfg->used, 6 + VIRTQUEUE_USED_ELEM_SIZE * n, 4);
	if (ret)
		return virtqueue_fail(vq, ret);
	vq->size = cfg->size;
	vq->desc = cfg->desc;
	vq->avail = cfg->avail;
	vq->used = cfg->used;
	vq->indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	vq->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	vq->ready = true;
	return 0;
}

void virtqueue_reset(struct virtqueue *vq)
{
	memset(vq, 0, sizeof(*vq));
}

static int virtqueue_read_desc(struct virtqueue *vq, uint64_t table, uint16_t i,
			       struct virtqueue_desc *d, int fault)
{
	if (guestmem_read(vq->mm, table + VIRTQUEUE_DESC_SIZE * (uint64_t)i, d, sizeof(*d)))
		return fault;
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
	return 0;
}

/* Where the walk is: the descriptor table, or the indirect table it switched to. */
struct virtqueue_walk {
	uint64_t table;
	uint32_t entries; /* descriptors in table */
	uint32_t visited; /* of table, so far */
	bool in_indirect;
	unsigned int ndesc; /* buffer descriptors in the chain, zero-length ones included */
	bool seen_write;
	uint64_t total;
};

/* Switches the walk to the indirect table d refers to. */
static int virtqueue_enter_indirect(struct virtqueue *vq, struct virtqueue_walk *w,
				    const struct virtqueue_desc *d)
{
	if (!vq->indirect)
		return VIRTQUEUE_ERR_INDIRECT_FEATURE;
	if (w->in_indirect)
		return VIRTQUEUE_ERR_INDIRECT_NESTED;
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return VIRTQUEUE_ERR_INDIRECT_NEXT;
	/* Drivers size tables to their chain, so a bigger table could only carry a refused one. */
	if (!d->len || d->len % VIRTQUEUE_DESC_SIZE ||
	    d->len / VIRTQUEUE_DESC_SIZE > VIRTQUEUE_MAX_SEGS)
		return VIRTQUEUE_ERR_INDIRECT_LEN;
	if (!virtqueue_in_ram(vq->mm, d->addr, d->len))
		return VIRTQUEUE_ERR_INDIRECT_ADDR;
	w->table = d->addr;
	w->entries = d->len / VIRTQUEUE_DESC_SIZE;
	w->visited = 0;
	w->in_indirect = true;
	return 0;
}

/* Adds buffer descriptor d to the chain. */
static int virtqueue_add_buffer(struct virtqueue *vq, struct virtqueue_walk *w,
				struct virtqueue_chain *c, const struct virtqueue_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	struct virtqueue_seg *s;

	if (++w->ndesc > VIRTQUEUE_MAX_SEGS)
		return VIRTQUEUE_ERR_TOO_MANY_SEGS;
	if (w->seen_write && !write)
		return VIRTQUEUE_ERR_ORDER;
	w->seen_write |= write;
	if (!d->len)
		return 0;
	w->total += d->len;
	if (w->total > UINT32_MAX)
		return VIRTQUEUE_ERR_LEN_OVERFLOW;
	if (!virtqueue_in_ram(vq->mm, d->addr, d->len))
		return VIRTQUEUE_ERR_BUF_ADDR;
	s = &c->seg[c->nsegs++];
	s->gpa = d->addr;
	s->len = d->len;
	s->write = write;
	if (write) {
		c->write_len += d->len;
	} else {
		c->nread++;
		c->read_len += d->len;
	}
	return 0;
}

/*
 * Every iteration reads one descriptor and either fails, ends the chain, moves to a next
 * index below the table's size, or enters the one indirect table allowed; visited caps the
 * walk in each table at its size, so the loop ends after at most size + VIRTQUEUE_MAX_SEGS
 * reads however the guest links its descriptors.
 */
static int virtqueue_walk_chain(struct virtqueue *vq, uint16_t head, struct virtqueue_chain *c)
{
	struct virtqueue_walk w = {.table = vq->desc, .entries = vq->size};
	struct virtqueue_desc d;
	uint16_t i = head;
	int ret;

	c->head = head;
	c->nsegs = 0;
	c->nread = 0;
	c->read_len = 0;
	c->write_len = 0;
	for (;;) {
		if (++w.visited > w.entries)
			return VIRTQUEUE_ERR_LOOP;
		ret = virtqueue_read_desc(vq, w.table, i, &d,
					  w.in_indirect ? VIRTQUEUE_ERR_INDIRECT_ADDR
							: VIRTQUEUE_ERR_RING_ADDR);
		if (ret)
			return ret;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			ret = virtqueue_enter_indirect(vq, &w, &d);
			if (ret)
				return ret;
			i = 0;
			continue;
		}
		ret = virtqueue_add_buffer(vq, &w, c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= w.entries)
			return VIRTQUEUE_ERR_NEXT;
		i = d.next;
	}
}

/* Reads avail->idx and checks it against what was popped. */
static int virtqueue_avail_pending(struct virtqueue *vq, uint16_t *pending)
{
	uint16_t idx;
	int ret;

	/* Acquire: the ring entries and descriptors read next are at least this new. */
	ret = virtqueue_load16(vq, virtqueue_avail_idx_gpa(vq), &idx);
	if (ret)
		return ret;
	*pending = idx - vq->last_avail;
	/* The driver cannot have more than size chains outstanding: a corrupt idx. */
	if (*pending > vq->size)
		return VIRTQUEUE_ERR_AVAIL_IDX;
	return 0;
}

int virtqueue_pop(struct virtqueue *vq, struct virtqueue_chain *chain)
{
	uint16_t pending, head;
	int ret;

	ret = virtqueue_state(vq);
	if (ret)
		return ret;
	ret = virtqueue_avail_pending(vq, &pending);
	if (ret)
		return virtqueue_fail(vq, ret);
	if (!pending && vq->event_idx) {
		/*
		 * Ask for a notify on the next chain, then look again: a driver that added one
		 * after our read may have seen the old avail_event and not notified. The full
		 * barrier orders our avail_event store before the idx load, pairing with the
		 * driver's barrier between its idx store and its avail_event load.
		 */
		ret = virtqueue_store16(vq, virtqueue_avail_event_gpa(vq), vq->last_avail);
		if (ret)
			return virtqueue_fail(vq, ret);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		ret = virtqueue_avail_pending(vq, &pending);
		if (ret)
			return virtqueue_fail(vq, ret);
	}
	if (!pending)
		return 0;

	if (guestmem_read(vq->mm, virtqueue_avail_ring_gpa(vq, vq->last_avail), &head,
			  sizeof(head)))
		return virtqueue_fail(vq, VIRTQUEUE_ERR_RING_ADDR);
	head = le16toh(head);
	if (head >= vq->size)
		return virtqueue_fail(vq, VIRTQUEUE_ERR_HEAD);
	ret = virtqueue_walk_chain(vq, head, chain);
	if (ret)
		return virtqueue_fail(vq, ret);
	vq->last_avail++;
	vq->inflight++;
	/*
	 * Keep avail_event at the next entry we will pop, so a device that does not drain the
	 * ring (one holding buffers) still hears about the next chain.
	 */
	if (vq->event_idx) {
		ret = virtqueue_store16(vq, virtqueue_avail_event_gpa(vq), vq->last_avail);
		if (ret)
			return virtqueue_fail(vq, ret);
	}
	return 1;
}

int virtqueue_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	uint32_t elem[2] = {htole32(head), htole32(len)};
	int ret;

	ret = virtqueue_state(vq);
	if (ret)
		return ret;
	if (head >= vq->size || !vq->inflight)
		return virtqueue_fail(vq, VIRTQUEUE_ERR_PUSH);
	if (guestmem_write(vq->mm, virtqueue_used_ring_gpa(vq, vq->used_idx), elem, sizeof(elem)))
		return virtqueue_fail(vq, VIRTQUEUE_ERR_RING_ADDR);
	/* Release: the element is visible before the index that hands it over. */
	ret = virtqueue_store16(vq, virtqueue_used_idx_gpa(vq), vq->used_idx + 1);
	if (ret)
		return virtqueue_fail(vq, ret);
	vq->used_idx++;
	vq->inflight--;
	vq->unsignalled++;
	return 0;
}

int virtqueue_notify_needed(struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx, v;
	uint32_t n = vq->unsignalled;
	int ret;

	ret = virtqueue_state(vq);
	if (ret)
		return ret;
	if (!n)
		return 0;
	vq->signalled_used = new;
	vq->unsignalled = 0;
	/*
	 * The driver stores used_event (or flags) and then reads used->idx; we stored used->idx
	 * and now read used_event. Without a full barrier both could read the old value and
	 * the interrupt would be lost.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx) {
		ret = virtqueue_load16(vq, vq->avail, &v);
		if (ret)
			return virtqueue_fail(vq, ret);
		return !(v & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	/* 16-bit indices cannot tell a whole lap from nothing: interrupt to be safe. */
	if (n > UINT16_MAX)
		return 1;
	ret = virtqueue_load16(vq, virtqueue_used_event_gpa(vq), &v);
	if (ret)
		return virtqueue_fail(vq, ret);
	/* Did used->idx step past used_event since the last decision (vring_need_event)? */
	return (uint16_t)(new - v - 1) < (uint16_t)(new - old);
}

/*
 * Copies between buf and the bytes of the segments [first, last) of c, from offset bytes into
 * them.
 */
static ssize_t virtqueue_chain_copy(struct virtqueue *vq, const struct virtqueue_chain *c,
				    unsigned int first, unsigned int last, size_t offset,
				    uint8_t *buf, size_t len, bool write)
{
	size_t done = 0;
	unsigned int i;
	int ret;

	ret = virtqueue_state(vq);
	if (ret)
		return ret;
	for (i = first; i < last && done < len; i++) {
		const struct virtqueue_seg *s = &c->seg[i];
		size_t n;

		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		n = s->len - offset;
		if (n > len - done)
			n = len - done;
		if (write)
			ret = guestmem_write(vq->mm, s->gpa + offset, buf + done, n);
		else
			ret = guestmem_read(vq->mm, s->gpa + offset, buf + done, n);
		if (ret)
			return virtqueue_fail(vq, VIRTQUEUE_ERR_BUF_ADDR);
		done += n;
		offset = 0;
	}
	return done;
}

ssize_t virtqueue_chain_read(struct virtqueue *vq, const struct virtqueue_chain *chain,
			     size_t offset, void *buf, size_t len)
{
	return virtqueue_chain_copy(vq, chain, 0, chain->nread, offset, buf, len, false);
}

ssize_t virtqueue_chain_write(struct virtqueue *vq, const struct virtqueue_chain *chain,
			      size_t offset, const void *buf, size_t len)
{
	/* virtqueue_chain_copy only reads from buf when write is set. */
	return virtqueue_chain_copy(vq, chain, chain->nread, chain->nsegs, offset, (uint8_t *)buf,
				    len, true);
}
