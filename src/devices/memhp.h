/* SPDX-License-Identifier: MIT */
/*
 * The memory hotplug controller: the register block through which the DSDT's PNP0C80
 * memory devices (one per DIMM slot, src/x86/dsdt.asl) learn what is plugged where, take
 * plug and unplug events, eject a DIMM the guest has offlined and report _OST status.
 *
 * Registers: MEMHP_WINDOW bytes of 32-bit little-endian registers (PLATFORM_MEMHP_PORT).
 * Every register but SEL describes the selected slot; with SEL >= nslots they read 0 and
 * writes to them are dropped.
 *   0x00 SEL        rw  the slot the others describe
 *   0x04 STATUS     r   bit 0 ENABLED: a DIMM is present (the PNP0C80's _STA)
 *                       bit 1 INSERT: a plug the guest has not been told about
 *                       bit 2 REMOVE: an unplug request not yet passed on
 *                   w   bit 1, bit 2: write 1 to clear (the DSDT after its Notify)
 *                       bit 3 EJECT: _EJ0, the guest has offlined the DIMM and lets it go
 *   0x08 BASE_LO    r   the DIMM's guest-physical base, low and high halves
 *   0x0c BASE_HI    r
 *   0x10 SIZE_LO    r   its size
 *   0x14 SIZE_HI    r
 *   0x18 OST_EVENT  rw  _OST's source event (Arg0), kept until the next write
 *   0x1c OST_STATUS w   _OST's status code (Arg1): reports (slot, OST_EVENT, status)
 * Only aligned 4-byte writes act; others are dropped. Reads of any size and offset return
 * the bytes they cover, ones beyond the window. Reserved bits read 0, writes to them are
 * ignored. What the bits mean to the DSDT is in dsdt.asl's memory hotplug methods.
 *
 * A slot is EMPTY, PRESENT (plugged: ENABLED reads 1), or EJECTED (the guest wrote EJECT:
 * ENABLED reads 0, as Linux checks right after _EJ0, while the monitor takes the memory
 * away; memhp_unplugged empties it). The interrupt line is high while any slot has
 * INSERT or REMOVE set (level: the DSDT's handler clears them all).
 *
 * Locking and callbacks: every entry point takes hp->lock; the line level is sent with it
 * held. eject and ost are called after the lock is dropped, on the thread that made the
 * access (a vCPU inside a bus access: they must not change the bus), and should only hand
 * the work to the VM.
 */
#ifndef SLABVM_MEMHP_H
#define SLABVM_MEMHP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/irq.h"

#define MEMHP_WINDOW 0x20
#define MEMHP_MAX_SLOTS 64

#define MEMHP_SEL 0x00
#define MEMHP_STATUS 0x04
#define MEMHP_BASE_LO 0x08
#define MEMHP_BASE_HI 0x0c
#define MEMHP_SIZE_LO 0x10
#define MEMHP_SIZE_HI 0x14
#define MEMHP_OST_EVENT 0x18
#define MEMHP_OST_STATUS 0x1c

#define MEMHP_STATUS_ENABLED (1u << 0)
#define MEMHP_STATUS_INSERT (1u << 1)
#define MEMHP_STATUS_REMOVE (1u << 2)
#define MEMHP_STATUS_EJECT (1u << 3)

/* _OST source events and status codes (ACPI 6.3, 6.3.5) a guest reports; the controller
 * passes any value on, these name what Linux sends. */
#define MEMHP_OST_DEVICE_CHECK 0x01  /* event: answering Notify (, 1) */
#define MEMHP_OST_EJECT_REQUEST 0x03 /* event: answering Notify (, 3) */
#define MEMHP_OST_SUCCESS 0x00
#define MEMHP_OST_FAILURE 0x01		   /* non-specific failure */
#define MEMHP_OST_EJECT_NOT_SUPPORTED 0x80 /* the rest: answers to an eject request */
#define MEMHP_OST_DEVICE_IN_USE 0x81
#define MEMHP_OST_DEVICE_BUSY 0x82 /* Linux: the memory could not be offlined */
#define MEMHP_OST_EJECT_DEPENDENCY_BUSY 0x83
#define MEMHP_OST_EJECT_IN_PROGRESS 0x84 /* Linux: accepted, offlining now */

enum memhp_slot_state {
	MEMHP_EMPTY,
	MEMHP_PRESENT,
	MEMHP_EJECTED,
};

struct memhp_ops {
	/* The guest ejected the DIMM in slot: remove it, then call memhp_unplugged. */
	void (*eject)(void *ctx, unsigned int slot);
	/* The guest's _OST for slot: ACPI_DEVICE_OST. */
	void (*ost)(void *ctx, unsigned int slot, uint32_t event, uint32_t status);
};

struct memhp_slot {
	enum memhp_slot_state state;
	bool insert, remove; /* STATUS bits 1 and 2 */
	uint64_t base, size;
};

/* Fields are private to memhp.c; tests and the fuzz harness only read them. */
struct memhp {
	pthread_mutex_t lock;
	struct irq_line irq;
	const struct memhp_ops *ops;
	void *ctx;
	unsigned int nslots;
	uint32_t sel;
	uint32_t ost_event;
	bool level; /* last level sent to the line */
	struct memhp_slot slot[MEMHP_MAX_SLOTS];
};

/*
 * nslots <= MEMHP_MAX_SLOTS (else -EINVAL). irq is copied and may be NULL, as may ops
 * (then ejects and _OST reports go nowhere).
 */
int memhp_init(struct memhp *hp, unsigned int nslots, const struct irq_line *irq,
	       const struct memhp_ops *ops, void *ctx);
void memhp_destroy(struct memhp *hp);

/* opaque = struct memhp *. */
extern const struct io_ops memhp_io_ops;

/*
 * The monitor's side. plug: the DIMM is backed and mapped; make it PRESENT with INSERT set
 * and raise the line (-EBUSY unless EMPTY, -EINVAL for a bad slot or an empty DIMM).
 * request_unplug: set REMOVE on a PRESENT slot and raise the line (-EBUSY otherwise); the
 * guest answers with EJECT or with an _OST saying why not. unplugged: the monitor has
 * taken the memory of an EJECTED slot away; the slot is EMPTY (-EBUSY otherwise).
 */
int memhp_plug(struct memhp *hp, unsigned int slot, uint64_t base, uint64_t size);
int memhp_request_unplug(struct memhp *hp, unsigned int slot);
int memhp_unplugged(struct memhp *hp, unsigned int slot);
enum memhp_slot_state memhp_slot_state(struct memhp *hp, unsigned int slot);

#endif
