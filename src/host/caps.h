/* SPDX-License-Identifier: MIT */
/*
 * Privileges: slabvm needs capabilities only while it sets up (memlock limit, vfio); after
 * that it holds none. vfio pins memory again on every deflate and plug, which counts
 * against RLIMIT_MEMLOCK, so the limit is raised to cover all pluggable RAM first.
 */
#ifndef SLABVM_CAPS_H
#define SLABVM_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Extra lockable memory beyond guest RAM (vfio maps BARs and the kernel pins rings). */
#define CAPS_MEMLOCK_SLACK (64ULL << 20)

/* Raises RLIMIT_MEMLOCK to cover bytes + slack. Fails only when required and impossible. */
int caps_raise_memlock(uint64_t bytes, bool required, struct error *err);
/* Drops every capability (effective, permitted, inheritable, ambient and, when allowed,
 * the bounding set) and sets no_new_privs. Verifies the result. */
int caps_drop_all(struct error *err);

#endif
