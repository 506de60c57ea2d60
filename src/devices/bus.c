// SPDX-License-Identifier: MIT
#include "devices/bus.h"

#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	pthread_rwlock_init(&b->lock, NULL);
}

void bus_destroy(struct bus *b)
{
	pthread_rwlock_destroy(&b->lock);
}

/* Index of the first range whose base is above addr (ranges are sorted by base). */
static unsigned int bus_upper(const struct bus *b, uint64_t addr)
{
	unsigned int lo = 0, hi = b->nranges;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (b->range[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *opaque,
		 const char *name, struct error *err)
{
	const struct bus_range *other = NULL;
	unsigned int i;
	int ret = 0;

	if (!len || base + len - 1 < base)
		return error_set(err, -EINVAL, "%s: %s at 0x%llx+0x%llx is empty or wraps", b->name,
				 name, (unsigned long long)base, (unsigned long long)len);
	pthread_rwlock_wrlock(&b->lock);
	if (b->nranges == BUS_MAX_RANGES) {
		ret = error_set(err, -ENOSPC, "%s: no room for %s", b->name, name);
		goto out;
	}
	i = bus_upper(b, base);
	if (i > 0 && b->range[i - 1].base + (b->range[i - 1].len - 1) >= base)
		other = &b->range[i - 1];
	else if (i < b->nranges && base + (len - 1) >= b->range[i].base)
		other = &b->range[i];
	if (other) {
		ret = error_set(err, -EBUSY, "%s: %s at 0x%llx+0x%llx overlaps %s", b->name, name,
				(unsigned long long)base, (unsigned long long)len, other->name);
		goto out;
	}
	memmove(&b->range[i + 1], &b->range[i], (b->nranges - i) * sizeof(b->range[0]));
	b->range[i] = (struct bus_range){base, len, ops, opaque, name};
	b->nranges++;
out:
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

int bus_unregister(struct bus *b, uint64_t base)
{
	unsigned int i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&b->lock);
	i = bus_upper(b, base);
	if (i > 0 && b->range[i - 1].base == base) {
		i--;
		memmove(&b->range[i], &b->range[i + 1], (b->nranges - i - 1) * sizeof(b->range[0]));
		b->nranges--;
		ret = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

/* The range that holds the whole access [addr, addr + size), or NULL. Caller holds lock. */
static const struct bus_range *bus_lookup(const struct bus *b, uint64_t addr, unsigned int size)
{
	unsigned int i = bus_upper(b, addr);
	const struct bus_range *r;

	if (i == 0)
		return NULL;
	r = &b->range[i - 1];
	if (addr - r->base >= r->len || size > r->len - (addr - r->base))
		return NULL;
	return r;
}

/*
 * Handlers run without the bus lock: a handler may itself change the bus (a PCI config
 * write that moves a BAR), and a device lock held while registering must not meet a bus
 * lock held while dispatching. Device state lives as long as the VM, so a range that is
 * unregistered while its last access is in flight is still safe to call.
 */
static bool bus_find(struct bus *b, uint64_t addr, unsigned int size, struct bus_range *out)
{
	const struct bus_range *r;

	pthread_rwlock_rdlock(&b->lock);
	r = bus_lookup(b, addr, size);
	if (r)
		*out = *r;
	pthread_rwlock_unlock(&b->lock);
	return r != NULL;
}

bool bus_read(struct bus *b, uint64_t addr, unsigned int size, uint64_t *val)
{
	struct bus_range r;

	*val = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	if (!bus_find(b, addr, size, &r) || !r.ops->read)
		return false;
	*val = r.ops->read(r.opaque, addr - r.base, size);
	return true;
}

bool bus_write(struct bus *b, uint64_t addr, unsigned int size, uint64_t val)
{
	struct bus_range r;

	if (!bus_find(b, addr, size, &r) || !r.ops->write)
		return false;
	r.ops->write(r.opaque, addr - r.base, size, val);
	return true;
}
