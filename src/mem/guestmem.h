/* SPDX-License-Identifier: MIT */
/*
 * Guest memory as device models see it: bounds-checked access to plugged guest RAM.
 *
 * guestmem_read/guestmem_write copy piecewise and may cross from one region into a
 * directly adjacent one; every byte must be plugged RAM or nothing is copied.
 * guestmem_ptr hands out a pointer only when the whole range lies inside one plugged
 * region; it stays valid while the caller holds guestmem_lock (unplug waits for it).
 * Anything else is an error value (-EFAULT), never a crash. A length of 0 always succeeds
 * for read/write; for guestmem_ptr, gpa must still be a plugged byte.
 *
 * Only plugged-ness is checked, not the balloon: a page the guest gave up reads as zero
 * once released, and writing it allocates it again, exactly as a guest CPU touching it
 * would. The map holds no secrets there, only the guest's own misuse.
 */
#ifndef SLABVM_GUESTMEM_H
#define SLABVM_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>

#include "mem/memmap.h"

int guestmem_read(struct memmap *mm, uint64_t gpa, void *buf, size_t len);
int guestmem_write(struct memmap *mm, uint64_t gpa, const void *buf, size_t len);

void guestmem_lock(struct memmap *mm);
void guestmem_unlock(struct memmap *mm);
/* Caller holds guestmem_lock. NULL if [gpa, gpa + len) is not inside one plugged region. */
void *guestmem_ptr(struct memmap *mm, uint64_t gpa, uint64_t len);

#endif
