/* SPDX-License-Identifier: MIT */
/*
 * The identity maps guests start with (4-level paging): firmware guests' in the firmware
 * area (boot.c), a Linux kernel's of [0, 4 GiB) in low RAM (linux.c). A PML4, then the
 * PDPTs, then with 2 MiB pages one page directory per GiB.
 * Where the guest's CPUID offers 1 GiB pages (PDPE1GB) the PDPT entries map a GiB each and
 * there are no page directories: 2 pages of tables for 64 GiB instead of 66, which the
 * monitor neither writes nor keeps resident.
 */
#ifndef SLABVM_X86_IDENTITY_MAP_H
#define SLABVM_X86_IDENTITY_MAP_H

#include <stdbool.h>
#include <stdint.h>

/* CPUID.80000001H:EDX bit 26: 1 GiB pages in 4-level paging. */
#define X86_CPUID_PDPE1GB (1U << 26)

/* 4 KiB pages of tables that map [0, end), end rounded up to a GiB; 0 when end is above
 * what one PML4 maps (256 TiB). */
uint64_t x86_identity_map_pages(uint64_t end, bool gib_pages);
/* Writes those tables into tables (x86_identity_map_pages(end, gib_pages) * 4096 bytes),
 * which the guest sees at table_gpa, 4 KiB aligned; the PML4 is the first page (CR3). */
void x86_identity_map(uint64_t *tables, uint64_t table_gpa, uint64_t end, bool gib_pages);

#endif
