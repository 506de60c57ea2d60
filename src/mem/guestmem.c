// SPDX-License-Identifier: MIT
/*
 * Bounds-checked guest memory for device models. Every address comes from the guest, so
 * every range is checked against plugged RAM before a single byte moves.
 */
#include "mem/guestmem.h"

#include <stdbool.h>
#include <string.h>

/*
 * Walks [gpa, gpa + len) region by region. With buf NULL it only checks that every byte
 * is plugged RAM; otherwise it copies (to guest memory if write). Regions are sorted and
 * never overlap, so a range that leaves one region must enter the next one at its start.
 * A range that wraps around needs no check of its own: it would have to pass the top of
 * the address space, which is never RAM, so the walk stops there.
 */
static int guestmem_walk(struct memmap *mm, uint64_t gpa, uint8_t *buf, size_t len, bool write)
{
	while (len) {
		struct memmap_region *r = memmap_find(mm, gpa);
		uint64_t off, n;

		if (!r || !r->plugged)
			return -EFAULT;
		off = gpa - r->gpa;
		n = r->size - off < len ? r->size - off : len;
		if (buf && write)
			memcpy(r->hva + off, buf, n);
		else if (buf)
			memcpy(buf, r->hva + off, n);
		gpa += n;
		len -= n;
		if (buf)
			buf += n;
	}
	return 0;
}

static int guestmem_copy(struct memmap *mm, uint64_t gpa, uint8_t *buf, size_t len, bool write)
{
	int ret;

	if (!len)
		return 0;
	pthread_rwlock_rdlock(&mm->lock);
	/* Check everything first: a failed access copies nothing. */
	ret = guestmem_walk(mm, gpa, NULL, len, write);
	if (!ret)
		ret = guestmem_walk(mm, gpa, buf, len, write);
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

int guestmem_read(struct memmap *mm, uint64_t gpa, void *buf, size_t len)
{
	return guestmem_copy(mm, gpa, buf, len, false);
}

int guestmem_write(struct memmap *mm, uint64_t gpa, const void *buf, size_t len)
{
	/* guestmem_walk only reads from buf when write is set. */
	return guestmem_copy(mm, gpa, (uint8_t *)buf, len, true);
}

void guestmem_lock(struct memmap *mm)
{
	pthread_rwlock_rdlock(&mm->lock);
}

void guestmem_unlock(struct memmap *mm)
{
	pthread_rwlock_unlock(&mm->lock);
}

void *guestmem_ptr(struct memmap *mm, uint64_t gpa, uint64_t len)
{
	struct memmap_region *r = memmap_find(mm, gpa);
	uint64_t off;

	if (!r || !r->plugged)
		return NULL;
	off = gpa - r->gpa;
	if (len > r->size - off)
		return NULL;
	return r->hva + off;
}
