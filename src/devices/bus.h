/* SPDX-License-Identifier: MIT */
/*
 * A bus of address ranges (one for port I/O, one for MMIO) that routes guest accesses to
 * device models. Accesses that hit no device read as all ones and writes are dropped.
 * An access must lie inside one range to reach it. Handlers are called without the bus
 * lock held, so they may register and unregister ranges themselves.
 */
#ifndef SLABVM_BUS_H
#define SLABVM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "base/error.h"

#define BUS_MAX_RANGES 256

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct io_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;
	unsigned int nranges;
	struct bus_range range[BUS_MAX_RANGES]; /* sorted by base, never overlapping */
	pthread_rwlock_t lock;
};

void bus_init(struct bus *b, const char *name);
void bus_destroy(struct bus *b);
/* Fails (and changes nothing) on overlap, an empty or wrapping range, or a full bus. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *opaque,
		 const char *name, struct error *err);
int bus_unregister(struct bus *b, uint64_t base);
/* Returns false when no device claims the access (then *val is all ones). */
bool bus_read(struct bus *b, uint64_t addr, unsigned int size, uint64_t *val);
bool bus_write(struct bus *b, uint64_t addr, unsigned int size, uint64_t val);

#endif
