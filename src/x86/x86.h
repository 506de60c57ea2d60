/* SPDX-License-Identifier: MIT */
/*
 * x86 architectural constants shared by the two ways slabvm enters a guest in long mode
 * (firmware images in boot.c, Linux in linux.c): control register and EFER bits, the
 * paging entry bits of 2 MiB identity maps, and flat GDT descriptors.
 */
#ifndef SLABVM_X86_H
#define SLABVM_X86_H

#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_MP (1ULL << 1)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_WP (1ULL << 16)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)
#define X86_RFLAGS_RESERVED (1ULL << 1) /* always set; IF clear */

/* Protected mode with paging, write-protect honoured in ring 0, native FPU errors. */
#define X86_CR0_LONG_MODE                                                                          \
	(X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG)

#define X86_PTE_PRESENT (1ULL << 0)
#define X86_PTE_WRITE (1ULL << 1)
#define X86_PTE_HUGE (1ULL << 7)

#define X86_GDT_CODE64 0x00af9b000000ffffULL /* present, DPL 0, execute/read, accessed, L, G */
#define X86_GDT_DATA 0x00cf93000000ffffULL   /* present, DPL 0, read/write, accessed, DB, G */

#endif
