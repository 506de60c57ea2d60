/* SPDX-License-Identifier: MIT */
/*
 * The debug-exit port: a test guest writes one byte and the monitor stops with that byte
 * as its exit status. Port BOOTINFO_PORT_EXIT (0x501), one byte wide.
 */
#ifndef SLABVM_DEBUGEXIT_H
#define SLABVM_DEBUGEXIT_H

#include <stdint.h>

#include "devices/device.h"

#define DEBUGEXIT_PORT 0x501
#define DEBUGEXIT_WINDOW 1

struct debugexit {
	void (*exit)(void *ctx, uint8_t status);
	void *ctx;
};

extern const struct io_ops debugexit_io_ops;

#endif
