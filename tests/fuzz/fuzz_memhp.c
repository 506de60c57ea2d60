// SPDX-License-Identifier: MIT
/*
 * The memory hotplug controller between a hostile guest and the monitor: guest accesses of
 * any width and offset mixed with the monitor's plug, unplug request and removal. A model
 * written here from the register layout in memhp.h (not from memhp.c) predicts:
 *   - every 4-byte register read, and that other reads agree with them byte by byte;
 *   - each eject callback (once per EJECT written to a PRESENT slot), each _OST report
 *     (once per aligned OST_STATUS write with a valid selector, with the event last
 *     written), and the result of every monitor call;
 *   - the interrupt line: high exactly while a slot has INSERT or REMOVE, only its changes
 *     sent, with the device lock held.
 *
 * Input: byte 0: the number of slots (mod MEMHP_MAX_SLOTS + 1). Then operations, a byte each:
 *   bits 2:0  0 aligned 4-byte read, 1 aligned 4-byte write (4 value bytes), 2 read of any
 *             width and offset, 3 write of any width and offset, 4 plug, 5 request unplug,
 *             6 monitor removal, 7 select (4 bytes)
 *   bits 7:3  register index (reads, writes), slot (monitor calls)
 * Missing bytes read as zero.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "devices/memhp.h"
#include "fuzz_input.h"

struct model_slot {
	int state; /* 0 empty, 1 present, 2 ejected */
	bool ins, rmv;
	uint64_t base, size;
};

struct harness {
	struct memhp hp;
	unsigned int nslots;
	uint32_t sel, ost_event;
	struct model_slot s[MEMHP_MAX_SLOTS];
	bool level;
	unsigned int ejects, osts, want_ejects, want_osts;
	unsigned int last_slot;
	uint32_t last_event, last_status;
};

static bool lock_free(struct memhp *hp)
{
	if (pthread_mutex_trylock(&hp->lock) != 0)
		return false;
	pthread_mutex_unlock(&hp->lock);
	return true;
}

static void set_level(void *ctx, unsigned int gsi, bool level)
{
	struct harness *h = ctx;

	FUZZ_CHECK(gsi == 20);
	FUZZ_CHECK(level != h->level);
	FUZZ_CHECK(!lock_free(&h->hp));
	h->level = level;
}

static void on_eject(void *ctx, unsigned int slot)
{
	struct harness *h = ctx;

	FUZZ_CHECK(lock_free(&h->hp));
	FUZZ_CHECK(slot == h->last_slot);
	h->ejects++;
}

static void on_ost(void *ctx, unsigned int slot, uint32_t event, uint32_t status)
{
	struct harness *h = ctx;

	FUZZ_CHECK(lock_free(&h->hp));
	FUZZ_CHECK(slot == h->last_slot && event == h->last_event && status == h->last_status);
	h->osts++;
}

static const struct irq_ops irq_ops = {.set_level = set_level};
static const struct memhp_ops hp_ops = {.eject = on_eject, .ost = on_ost};

static struct model_slot *selected(struct harness *h)
{
	return h->sel < h->nslots ? &h->s[h->sel] : NULL;
}

static uint32_t model_reg(struct harness *h, unsigned int off)
{
	struct model_slot *s = selected(h);

	if (off == 0)
		return h->sel;
	if (!s)
		return 0;
	switch (off) {
	case 0x04:
		return (s->state == 1) | (s->ins << 1) | (s->rmv << 2);
	case 0x08:
		return (uint32_t)s->base;
	case 0x0c:
		return (uint32_t)(s->base >> 32);
	case 0x10:
		return (uint32_t)s->size;
	case 0x14:
		return (uint32_t)(s->size >> 32);
	case 0x18:
		return h->ost_event;
	default:
		return 0;
	}
}

static bool model_level(const struct harness *h)
{
	unsigned int i;

	for (i = 0; i < h->nslots; i++)
		if (h->s[i].ins || h->s[i].rmv)
			return true;
	return false;
}

static void model_write(struct harness *h, unsigned int off, uint32_t v)
{
	struct model_slot *s = selected(h);

	if (off == 0) {
		h->sel = v;
		return;
	}
	if (!s)
		return;
	if (off == 0x04) {
		if (v & 2)
			s->ins = false;
		if (v & 4)
			s->rmv = false;
		if ((v & 8) && s->state == 1) {
			s->state = 2;
			s->ins = s->rmv = false;
			h->want_ejects++;
			h->last_slot = h->sel;
		}
	} else if (off == 0x18) {
		h->ost_event = v;
	} else if (off == 0x1c) {
		h->want_osts++;
		h->last_slot = h->sel;
		h->last_event = h->ost_event;
		h->last_status = v;
	}
}

static uint64_t any_offset(struct fuzz_input *in)
{
	uint8_t b = (uint8_t)fuzz_take(in, 1);

	return b & 0x80 ? UINT64_MAX - (b & 0x3f) : b & 0x3f;
}

static void check_all(struct harness *h)
{
	unsigned int off;

	for (off = 0; off < MEMHP_WINDOW; off += 4)
		FUZZ_CHECK(memhp_io_ops.read(&h->hp, off, 4) == model_reg(h, off));
	FUZZ_CHECK(h->level == model_level(h));
	FUZZ_CHECK(h->ejects == h->want_ejects && h->osts == h->want_osts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	struct fuzz_input in = {data, size, 0};
	struct irq_line line = {.ops = &irq_ops, .ctx = &h, .gsi = 20};

	memset(&h, 0, sizeof(h));
	h.nslots = (unsigned int)(fuzz_take(&in, 1) % (MEMHP_MAX_SLOTS + 1));
	FUZZ_CHECK(memhp_init(&h.hp, h.nslots, &line, &hp_ops, &h) == 0);
	while (fuzz_left(&in)) {
		uint8_t op = (uint8_t)fuzz_take(&in, 1);
		unsigned int arg = op >> 3, slot = arg, off = (arg % 8) * 4;
		unsigned int width = 1u << (arg & 3);
		uint64_t any, value, want;
		uint32_t v;
		int ret;

		switch (op & 7) {
		case 0:
			FUZZ_CHECK(memhp_io_ops.read(&h.hp, off, 4) == model_reg(&h, off));
			break;
		case 1:
			v = (uint32_t)fuzz_take(&in, 4);
			/* The model first: the callbacks check what it expects. */
			model_write(&h, off, v);
			memhp_io_ops.write(&h.hp, off, 4, v);
			break;
		case 2:
			any = any_offset(&in);
			value = memhp_io_ops.read(&h.hp, any, width);
			want = 0;
			for (unsigned int i = 0; i < width; i++) {
				uint64_t at = any + i, byte = 0xff;

				if (at >= any && at < MEMHP_WINDOW)
					byte = (model_reg(&h, (unsigned int)at & ~3u) >>
						(8 * (at & 3))) &
					       0xff;
				want |= byte << (8 * i);
			}
			FUZZ_CHECK(value == want);
			break;
		case 3:
			any = any_offset(&in);
			value = fuzz_take(&in, width);
			if (width == 4 && any < MEMHP_WINDOW && any % 4 == 0)
				model_write(&h, (unsigned int)any, (uint32_t)value);
			memhp_io_ops.write(&h.hp, any, width, value);
			break;
		case 4: {
			uint64_t base = fuzz_take(&in, 1) << 27, sz = fuzz_take(&in, 1) << 27;

			ret = memhp_plug(&h.hp, slot, base, sz);
			want = slot >= h.nslots || !sz ? (uint64_t)-EINVAL
			       : h.s[slot].state       ? (uint64_t)-EBUSY
						       : 0;
			FUZZ_CHECK((uint64_t)ret == want);
			if (!ret)
				h.s[slot] = (struct model_slot){1, true, false, base, sz};
			break;
		}
		case 5:
			ret = memhp_request_unplug(&h.hp, slot);
			want = slot >= h.nslots	      ? (uint64_t)-EINVAL
			       : h.s[slot].state != 1 ? (uint64_t)-EBUSY
						      : 0;
			FUZZ_CHECK((uint64_t)ret == want);
			if (!ret)
				h.s[slot].rmv = true;
			break;
		case 6:
			ret = memhp_unplugged(&h.hp, slot);
			want = slot >= h.nslots	      ? (uint64_t)-EINVAL
			       : h.s[slot].state != 2 ? (uint64_t)-EBUSY
						      : 0;
			FUZZ_CHECK((uint64_t)ret == want);
			if (!ret)
				h.s[slot] = (struct model_slot){0};
			break;
		default:
			v = (uint32_t)fuzz_take(&in, 4);
			model_write(&h, 0, v);
			memhp_io_ops.write(&h.hp, MEMHP_SEL, 4, v);
			break;
		}
		FUZZ_CHECK(h.level == model_level(&h));
		FUZZ_CHECK(h.ejects == h.want_ejects && h.osts == h.want_osts);
	}
	check_all(&h);
	memhp_destroy(&h.hp);
	return 0;
}
