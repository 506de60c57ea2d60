/* SPDX-License-Identifier: MIT */
/*
 * Sizes the way a user types them, for messages: "64M", "3G", "4K", or a byte count when
 * no binary suffix is exact. Returned by value so it can sit inside a printf argument list:
 * printf("%s", size_str(v).s).
 */
#ifndef SLABVM_SIZE_H
#define SLABVM_SIZE_H

#include <inttypes.h>
#include <stdio.h>

struct size_str {
	char s[24];
};

static inline struct size_str size_str(uint64_t v)
{
	static const char suffix[] = "KMGT";
	struct size_str out;
	int i;

	for (i = 3; i >= 0; i--) {
		unsigned int shift = 10 * (i + 1);

		if (v && v % (1ULL << shift) == 0) {
			snprintf(out.s, sizeof(out.s), "%" PRIu64 "%c", v >> shift, suffix[i]);
			return out;
		}
	}
	snprintf(out.s, sizeof(out.s), "%" PRIu64, v);
	return out;
}

#endif
