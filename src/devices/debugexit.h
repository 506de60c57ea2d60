/* SPDX-License-Identifier: MIT */
/*
 * The debug-exit port: a test guest writes one byte and the monitor stops with that byte
 * as its exit status. One byte wide, at the port the firmware guests' contract names.
 */
#ifndef SLABVM_DEBUGEXIT_H
#define SLABVM_DEBUGEXIT_H

#include <stdint.h>

#include "bootinfo.h"
#include "devices/device.h"

#define DEBUGEXIT_PORT BOOTINFO_PORT_EXIT
#define DEBUGEXIT_WINDOW 1

struct debugexit {
	void (*exit)(void *ctx, uint8_t status);
	void *ctx;
};

extern const struct io_ops debugexit_io_ops;

#endif
