/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon on the VM's PCI bus, an entry of its device list (QOM type
 * virtio-balloon-pci, id balloon0), and what the control socket asks of it.
 *
 * When the driver negotiated the statistics queue, the main loop asks it for fresh
 * statistics every VM_BALLOON_STATS_INTERVAL_S seconds (the control socket's
 * guest-stats-polling-interval changes that; 0 stops it): a timer returns the buffer the
 * device holds (balloon_request_stats), the driver fills it and sends it again.
 *
 * A deflate buffer the device holds because a page could not be restored (balloon.h) is
 * retried by another main-loop timer: VM_BALLOON_RETRY_MIN_S after it stalled, then at
 * doubling intervals up to VM_BALLOON_RETRY_MAX_S, until it goes back to the guest.
 */
#ifndef SLABVM_VM_BALLOON_H
#define SLABVM_VM_BALLOON_H

#include <stdbool.h>

#include "balloon/balloon.h"
#include "base/error.h"
#include "control/control.h"

#define VM_BALLOON_TYPE "virtio-balloon-pci"
#define VM_BALLOON_STATS_INTERVAL_S 5
#define VM_BALLOON_RETRY_MIN_S 1
#define VM_BALLOON_RETRY_MAX_S 8

struct vm;

int vm_balloon_add(struct vm *vm, const struct balloon_config *cfg, unsigned int slot,
		   struct error *err);

/* For the control socket's ops (control.h): false when the VM has no balloon. */
bool vm_balloon_info(struct vm *vm, struct control_balloon *out);
int vm_balloon_set(struct vm *vm, uint64_t bytes, struct error *err);
void vm_balloon_stats_interval(struct vm *vm, unsigned int seconds);

#endif
