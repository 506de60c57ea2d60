/* SPDX-License-Identifier: MIT */
/*
 * What slabvm hands a firmware guest: the guest starts in 64-bit long mode at
 * BOOTINFO_LOAD_GPA with every RAM byte identity-mapped, rsp at BOOTINFO_STACK_TOP and
 * rdi = BOOTINFO_GPA, where this structure lies. Shared by the monitor and firmware/.
 */
#ifndef SLABVM_BOOTINFO_H
#define SLABVM_BOOTINFO_H

#include <stdint.h>

#define BOOTINFO_MAGIC 0x42414c53u /* "SLAB" */
#define BOOTINFO_VERSION 1
#define BOOTINFO_GPA 0x7000ULL
#define BOOTINFO_STACK_TOP 0x7000ULL	  /* stack grows down from just below bootinfo */
#define BOOTINFO_LOAD_GPA 0x100000ULL	  /* firmware images are linked here */
#define BOOTINFO_MAX_REGIONS 16
#define BOOTINFO_CMDLINE_MAX 256

/* Ports a firmware guest may use besides COM1 at 0x3f8. */
#define BOOTINFO_PORT_EXIT 0x501 /* a 1-byte write ends slabvm with that exit status */

enum bootinfo_kind {
	BOOTINFO_RAM_LOW = 0,
	BOOTINFO_RAM_HIGH = 1,
	BOOTINFO_DIMM = 2,
};

struct bootinfo_region {
	uint64_t base;
	uint64_t size;
	uint32_t kind;	  /* enum bootinfo_kind */
	uint32_t plugged; /* 1 if RAM is present now */
};

struct bootinfo {
	uint32_t magic;
	uint32_t version;
	uint64_t granule;
	uint32_t ncpus;
	uint32_t nregions;
	struct bootinfo_region region[BOOTINFO_MAX_REGIONS];
	char cmdline[BOOTINFO_CMDLINE_MAX]; /* --cmdline, NUL-terminated */
};

#endif
