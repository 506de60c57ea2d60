/* SPDX-License-Identifier: MIT */
/*
 * What slabvm hands a firmware guest. Everything the monitor sets up for it (GDT, page
 * tables, this structure, the stack and the image itself) lives in the firmware area, a
 * small monitor-owned memory slot in the PCI hole, so every byte of guest RAM is the
 * guest's own to scribble on. The guest starts in 64-bit long mode at BOOTINFO_LOAD_GPA
 * with everything up to the end of the 64-bit PCI window (above RAM and the hotplug
 * window) identity-mapped by 2 MiB pages, rsp = BOOTINFO_STACK_TOP, rdi = BOOTINFO_GPA.
 * Shared by monitor and firmware/, and by start.S: the C parts hide from the assembler.
 */
#ifndef SLABVM_BOOTINFO_H
#define SLABVM_BOOTINFO_H

#define BOOTINFO_MAGIC 0x42414c53u /* "SLAB" */
#define BOOTINFO_VERSION 1
#define BOOTINFO_FW_BASE 0xFF000000ULL /* the firmware area: 4 MiB */
#define BOOTINFO_FW_SIZE 0x400000ULL
#define BOOTINFO_GDT_GPA 0xFF000000ULL
#define BOOTINFO_GPA 0xFF001000ULL
#define BOOTINFO_PT_GPA 0xFF010000ULL	 /* page tables, up to the stack */
#define BOOTINFO_STACK_TOP 0xFF200000ULL /* 64 KiB stack below the image */
#define BOOTINFO_STACK_SIZE 0x10000ULL
#define BOOTINFO_LOAD_GPA 0xFF200000ULL /* firmware images are linked here */
#define BOOTINFO_IMAGE_MAX 0x200000ULL
#define BOOTINFO_MAX_REGIONS 16
#define BOOTINFO_CMDLINE_MAX 256

/*
 * Ports a firmware guest may use besides COM1 at 0x3f8. The one definition of the exit
 * port: devices/debugexit.h registers the device here.
 */
#define BOOTINFO_PORT_EXIT 0x501 /* a 1-byte write ends slabvm with that exit status */

#ifndef __ASSEMBLER__
#include <stdint.h>

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
#endif /* __ASSEMBLER__ */

#endif
