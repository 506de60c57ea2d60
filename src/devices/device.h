/* SPDX-License-Identifier: MIT */
/*
 * The device model contract. A device model is a struct of its own state with io_ops
 * handlers for each window it decodes (port I/O or MMIO, registered on a bus). It reaches
 * guest memory only through guestmem.h and raises interrupts only through irq.h. It never
 * calls KVM, so every device model runs unchanged in a unit test or a libFuzzer harness.
 *
 * Handlers get the offset inside the window and an access size of 1, 2, 4 or 8 bytes.
 * They must accept any offset and size the guest can produce (a guest is hostile) and
 * serialise themselves: vCPU threads call them concurrently.
 */
#ifndef SLABVM_DEVICE_H
#define SLABVM_DEVICE_H

#include <stdint.h>

struct io_ops {
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned int size);
	void (*write)(void *opaque, uint64_t offset, unsigned int size, uint64_t value);
};

#endif
