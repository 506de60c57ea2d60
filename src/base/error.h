/* SPDX-License-Identifier: MIT */
/*
 * Errors as values: a function that can fail for a reason the user must see returns a
 * negative errno and fills a struct error with a one-line message that names the input.
 *
 * An error is a usage error when the input the user gave was refused (a size that is not a
 * multiple of the granule, a file that is not a kernel): the function that checks the input
 * says so with error_usage(), and slabvm exits with its usage status. Anything else (the
 * host refused, KVM failed) is an error of the monitor.
 */
#ifndef SLABVM_ERROR_H
#define SLABVM_ERROR_H

#include <errno.h>
#include <stdbool.h>

struct error {
	int code;   /* negative errno, 0 when no error was set */
	bool usage; /* the user's input was refused */
	char msg[256];
};

/* Records the message (printf-style) and returns code, so callers write
 * "return error_set(err, -EINVAL, ...)". err may be NULL. */
int error_set(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for a usage error. */
int error_usage(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
