// SPDX-License-Identifier: MIT
/*
 * The debug-exit port as a guest reaches it: on a port bus between two neighbours, as the
 * monitor registers it (DEBUGEXIT_PORT, DEBUGEXIT_WINDOW bytes), and through its handlers
 * directly at any offset and width, as device.h allows. What must hold:
 *   - the exit callback runs once for each write that reaches the device, with the low
 *     byte of the value, and never otherwise: not on reads, not on accesses that straddle
 *     the port or miss it, not on a neighbour's writes;
 *   - through the bus only a one-byte access at the port itself reaches the device, and an
 *     access reaches a neighbour only if it lies wholly inside it;
 *   - a read has no effect and returns 0xff; a miss reads as all ones.
 *
 * Input: operations, each one byte, then for a write as many value bytes as it is wide:
 *   bit 0     write
 *   bit 1     call the handlers directly instead of going through the bus
 *   bits 3:2  log2 of the access size
 *   bits 7:4  through the bus: the port DEBUGEXIT_PORT - 8 + this; directly: the offset,
 *             bit 7 moving it just below UINT64_MAX
 * Missing bytes read as zero.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/debugexit.h"
#include "fuzz_input.h"

#define NEIGHBOUR_LEN 4

struct harness {
	struct bus pio;
	struct debugexit dev;
	unsigned int exits, want_exits;
	uint8_t status, want_status;
	unsigned int neighbour_calls[2];
};

struct neighbour {
	struct harness *h;
	unsigned int id;
	uint64_t base;
};

static void fuzz_exit(void *ctx, uint8_t status)
{
	struct harness *h = ctx;

	h->exits++;
	h->status = status;
	FUZZ_CHECK(h->exits == h->want_exits && status == h->want_status);
}

/* The bus hands a neighbour only accesses that lie inside it. */
static void neighbour_touch(struct neighbour *n, uint64_t offset, unsigned int size)
{
	FUZZ_CHECK(offset < NEIGHBOUR_LEN && size <= NEIGHBOUR_LEN - offset);
	n->h->neighbour_calls[n->id]++;
}

static uint64_t neighbour_read(void *opaque, uint64_t offset, unsigned int size)
{
	neighbour_touch(opaque, offset, size);
	return 0;
}

static void neighbour_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	(void)value;
	neighbour_touch(opaque, offset, size);
}

static const struct io_ops neighbour_ops = {
	.read = neighbour_read,
	.write = neighbour_write,
};

/* Whether [port, port + size) lies inside [base, base + len). */
static bool fuzz_inside(uint64_t port, unsigned int size, uint64_t base, uint64_t len)
{
	return port >= base && port - base < len && size <= len - (port - base);
}

static uint64_t fuzz_ones(unsigned int size)
{
	return size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

static void fuzz_bus_access(struct harness *h, const struct neighbour *nb, bool write,
			    uint64_t port, unsigned int size, uint64_t value)
{
	bool hit_dev = fuzz_inside(port, size, DEBUGEXIT_PORT, DEBUGEXIT_WINDOW);
	unsigned int before[2] = {h->neighbour_calls[0], h->neighbour_calls[1]};
	bool hit_nb[2], claimed;
	unsigned int i;
	uint64_t got;

	for (i = 0; i < 2; i++)
		hit_nb[i] = fuzz_inside(port, size, nb[i].base, NEIGHBOUR_LEN);
	if (write) {
		if (hit_dev) {
			h->want_exits++;
			h->want_status = (uint8_t)value;
		}
		claimed = bus_write(&h->pio, port, size, value);
	} else {
		claimed = bus_read(&h->pio, port, size, &got);
		if (hit_dev)
			FUZZ_CHECK(got == 0xff);
		else if (!hit_nb[0] && !hit_nb[1])
			FUZZ_CHECK(got == fuzz_ones(size));
	}
	FUZZ_CHECK(claimed == (hit_dev || hit_nb[0] || hit_nb[1]));
	for (i = 0; i < 2; i++)
		FUZZ_CHECK(h->neighbour_calls[i] == before[i] + hit_nb[i]);
}

static void fuzz_direct_access(struct harness *h, bool write, uint64_t offset, unsigned int size,
			       uint64_t value)
{
	if (write) {
		h->want_exits++;
		h->want_status = (uint8_t)value;
		debugexit_io_ops.write(&h->dev, offset, size, value);
	} else {
		FUZZ_CHECK(debugexit_io_ops.read(&h->dev, offset, size) == 0xff);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct harness h = {0};
	struct neighbour nb[2] = {
		{&h, 0, DEBUGEXIT_PORT - NEIGHBOUR_LEN},
		{&h, 1, DEBUGEXIT_PORT + DEBUGEXIT_WINDOW},
	};
	struct error err = {0};
	unsigned int i;

	bus_init(&h.pio, "pio");
	h.dev = (struct debugexit){fuzz_exit, &h};
	FUZZ_CHECK(!bus_register(&h.pio, DEBUGEXIT_PORT, DEBUGEXIT_WINDOW, &debugexit_io_ops,
				 &h.dev, "debugexit", &err));
	for (i = 0; i < 2; i++)
		FUZZ_CHECK(!bus_register(&h.pio, nb[i].base, NEIGHBOUR_LEN, &neighbour_ops, &nb[i],
					 "neighbour", &err));
	while (fuzz_left(&in)) {
		uint8_t op = fuzz_take(&in, 1);
		bool write = op & 1;
		unsigned int access = 1u << ((op >> 2) & 3);
		uint64_t value = write ? fuzz_take(&in, access) : 0;
		uint64_t where = op >> 4;

		if (op & 2)
			fuzz_direct_access(&h, write, where & 8 ? UINT64_MAX - (where & 7) : where,
					   access, value);
		else
			fuzz_bus_access(&h, nb, write, DEBUGEXIT_PORT - 8 + where, access, value);
		FUZZ_CHECK(h.exits == h.want_exits);
		FUZZ_CHECK(!h.exits || h.status == h.want_status);
	}
	bus_destroy(&h.pio);
	return 0;
}
