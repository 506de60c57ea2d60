/* SPDX-License-Identifier: MIT */
/*
 * Little-endian values of 1 to 8 bytes in byte arrays (configuration spaces, register
 * files): what a guest's access of a given size reads or writes there.
 */
#ifndef SLABVM_LE_H
#define SLABVM_LE_H

#include <stdint.h>

static inline uint64_t le_read(const uint8_t *p, unsigned int size)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void le_write(uint8_t *p, unsigned int size, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
