// SPDX-License-Identifier: MIT
#include "devices/debugexit.h"

static uint64_t debugexit_read(void *opaque, uint64_t offset, unsigned int size)
{
	(void)opaque;
	(void)offset;
	(void)size;
	return 0xff;
}

/* Any write ends the VM; a wider access still counts, with its low byte as the status. */
static void debugexit_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct debugexit *d = opaque;

	(void)offset;
	(void)size;
	d->exit(d->ctx, (uint8_t)value);
}

const struct io_ops debugexit_io_ops = {
	.read = debugexit_read,
	.write = debugexit_write,
};
