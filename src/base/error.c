// SPDX-License-Identifier: MIT
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

static int error_vset(struct error *err, bool usage, int code, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	err->usage = usage;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int error_set(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, false, code, fmt, ap);
	va_end(ap);
	return code;
}

int error_usage(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, true, code, fmt, ap);
	va_end(ap);
	return code;
}
