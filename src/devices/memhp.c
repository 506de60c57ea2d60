// SPDX-License-Identifier: MIT
/*
 * The memory hotplug controller (memhp.h). Reads compose the window as a little-endian
 * byte array, so any access sees exactly the register bytes it covers.
 */
#include "devices/memhp.h"

#include <errno.h>
#include <string.h>

#define MEMHP_MAX_ACCESS 8

/* The selected slot, or NULL when SEL names none. */
static struct memhp_slot *memhp_selected(struct memhp *hp)
{
	return hp->sel < hp->nslots ? &hp->slot[hp->sel] : NULL;
}

static void memhp_update_irq(struct memhp *hp)
{
	bool level = false;
	unsigned int i;

	for (i = 0; i < hp->nslots; i++)
		level |= hp->slot[i].insert || hp->slot[i].remove;
	if (level != hp->level) {
		hp->level = level;
		irq_line_set(&hp->irq, level);
	}
}

static uint32_t memhp_reg(struct memhp *hp, unsigned int reg)
{
	const struct memhp_slot *s = memhp_selected(hp);

	if (reg == MEMHP_SEL)
		return hp->sel;
	if (!s)
		return 0;
	switch (reg) {
	case MEMHP_STATUS:
		return (s->state == MEMHP_PRESENT ? MEMHP_STATUS_ENABLED : 0) |
		       (s->insert ? MEMHP_STATUS_INSERT : 0) |
		       (s->remove ? MEMHP_STATUS_REMOVE : 0);
	case MEMHP_BASE_LO:
		return (uint32_t)s->base;
	case MEMHP_BASE_HI:
		return (uint32_t)(s->base >> 32);
	case MEMHP_SIZE_LO:
		return (uint32_t)s->size;
	case MEMHP_SIZE_HI:
		return (uint32_t)(s->size >> 32);
	case MEMHP_OST_EVENT:
		return hp->ost_event;
	default: /* OST_STATUS is write-only */
		return 0;
	}
}

static uint64_t memhp_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct memhp *hp = opaque;
	uint64_t value = 0;
	unsigned int i;

	pthread_mutex_lock(&hp->lock);
	for (i = 0; i < size && i < MEMHP_MAX_ACCESS; i++) {
		uint64_t byte = 0xff;

		if (offset < MEMHP_WINDOW && i < MEMHP_WINDOW - offset) {
			unsigned int at = (unsigned int)offset + i;

			byte = (memhp_reg(hp, at & ~3u) >> (8 * (at & 3))) & 0xff;
		}
		value |= byte << (8 * i);
	}
	pthread_mutex_unlock(&hp->lock);
	return value;
}

/* What a write leaves for the callbacks, called after the lock is dropped. */
struct memhp_call {
	bool eject, ost;
	unsigned int slot;
	uint32_t event, status;
};

static void memhp_write_status(struct memhp *hp, struct memhp_slot *s, uint32_t v,
			       struct memhp_call *call)
{
	if (v & MEMHP_STATUS_INSERT)
		s->insert = false;
	if (v & MEMHP_STATUS_REMOVE)
		s->remove = false;
	if ((v & MEMHP_STATUS_EJECT) && s->state == MEMHP_PRESENT) {
		s->state = MEMHP_EJECTED;
		s->insert = false;
		s->remove = false;
		call->eject = true;
		call->slot = hp->sel;
	}
}

static void memhp_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct memhp *hp = opaque;
	struct memhp_call call = {0};
	struct memhp_slot *s;
	uint32_t v = (uint32_t)value;

	if (size != 4 || offset >= MEMHP_WINDOW || offset % 4)
		return;
	pthread_mutex_lock(&hp->lock);
	s = memhp_selected(hp);
	switch (offset) {
	case MEMHP_SEL:
		hp->sel = v;
		break;
	case MEMHP_STATUS:
		if (s)
			memhp_write_status(hp, s, v, &call);
		break;
	case MEMHP_OST_EVENT:
		if (s)
			hp->ost_event = v;
		break;
	case MEMHP_OST_STATUS:
		if (s) {
			call.ost = true;
			call.slot = hp->sel;
			call.event = hp->ost_event;
			call.status = v;
		}
		break;
	default: /* read-only */
		break;
	}
	memhp_update_irq(hp);
	pthread_mutex_unlock(&hp->lock);
	if (!hp->ops)
		return;
	if (call.eject && hp->ops->eject)
		hp->ops->eject(hp->ctx, call.slot);
	if (call.ost && hp->ops->ost)
		hp->ops->ost(hp->ctx, call.slot, call.event, call.status);
}

const struct io_ops memhp_io_ops = {
	.read = memhp_read,
	.write = memhp_write,
};

int memhp_init(struct memhp *hp, unsigned int nslots, const struct irq_line *irq,
	       const struct memhp_ops *ops, void *ctx)
{
	if (nslots > MEMHP_MAX_SLOTS)
		return -EINVAL;
	memset(hp, 0, sizeof(*hp));
	pthread_mutex_init(&hp->lock, NULL);
	if (irq)
		hp->irq = *irq;
	hp->ops = ops;
	hp->ctx = ctx;
	hp->nslots = nslots;
	return 0;
}

void memhp_destroy(struct memhp *hp)
{
	pthread_mutex_destroy(&hp->lock);
}

int memhp_plug(struct memhp *hp, unsigned int slot, uint64_t base, uint64_t size)
{
	int ret = 0;

	if (slot >= hp->nslots || !size)
		return -EINVAL;
	pthread_mutex_lock(&hp->lock);
	if (hp->slot[slot].state != MEMHP_EMPTY) {
		ret = -EBUSY;
	} else {
		hp->slot[slot] = (struct memhp_slot){
			.state = MEMHP_PRESENT, .insert = true, .base = base, .size = size};
		memhp_update_irq(hp);
	}
	pthread_mutex_unlock(&hp->lock);
	return ret;
}

int memhp_request_unplug(struct memhp *hp, unsigned int slot)
{
	int ret = 0;

	if (slot >= hp->nslots)
		return -EINVAL;
	pthread_mutex_lock(&hp->lock);
	if (hp->slot[slot].state != MEMHP_PRESENT) {
		ret = -EBUSY;
	} else {
		hp->slot[slot].remove = true;
		memhp_update_irq(hp);
	}
	pthread_mutex_unlock(&hp->lock);
	return ret;
}

int memhp_unplugged(struct memhp *hp, unsigned int slot)
{
	int ret = 0;

	if (slot >= hp->nslots)
		return -EINVAL;
	pthread_mutex_lock(&hp->lock);
	if (hp->slot[slot].state != MEMHP_EJECTED)
		ret = -EBUSY;
	else
		hp->slot[slot] = (struct memhp_slot){.state = MEMHP_EMPTY};
	pthread_mutex_unlock(&hp->lock);
	return ret;
}

enum memhp_slot_state memhp_slot_state(struct memhp *hp, unsigned int slot)
{
	enum memhp_slot_state s;

	if (slot >= hp->nslots)
		return MEMHP_EMPTY;
	pthread_mutex_lock(&hp->lock);
	s = hp->slot[slot].state;
	pthread_mutex_unlock(&hp->lock);
	return s;
}
