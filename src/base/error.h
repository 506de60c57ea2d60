/* SPDX-License-Identifier: MIT */
/*
 * Errors as values: a function that can fail for a reason the user must see returns a
 * negative errno and fills a struct error with a one-line message that names the input.
 */
#ifndef SLABVM_ERROR_H
#define SLABVM_ERROR_H

#include <errno.h>

struct error {
	int code; /* negative errno, 0 when no error was set */
	char msg[256];
};

/* Records the message (printf-style) and returns code, so callers write
 * "return error_set(err, -EINVAL, ...)". err may be NULL. */
int error_set(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
