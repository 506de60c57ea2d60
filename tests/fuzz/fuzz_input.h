/* SPDX-License-Identifier: MIT */
/*
 * For the libFuzzer harnesses: a failed check, and reading the input a piece at a time.
 * Numbers are little-endian; bytes past the end of the input read as zero, so every input
 * is a whole program.
 */
#ifndef SLABVM_FUZZ_INPUT_H
#define SLABVM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Ends the run, which libFuzzer reports as a crash with this input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input as a harness reads it: pos never passes size. */
struct fuzz_input {
	const uint8_t *data;
	size_t size, pos;
};

/* Bytes not read yet. */
static inline size_t fuzz_left(const struct fuzz_input *in)
{
	return in->size - in->pos;
}

/* The next bytes (at most 8) as a little-endian number; those past the end read as zero. */
static inline uint64_t fuzz_take(struct fuzz_input *in, unsigned int bytes)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < bytes && in->pos < in->size; i++)
		v |= (uint64_t)in->data[in->pos++] << (8 * i);
	return v;
}

/* The next *len bytes as they are, or fewer at the end: *len says how many there were. */
static inline const uint8_t *fuzz_take_bytes(struct fuzz_input *in, size_t *len)
{
	const uint8_t *p = in->data + in->pos;

	if (*len > fuzz_left(in))
		*len = fuzz_left(in);
	in->pos += *len;
	return p;
}

#endif
