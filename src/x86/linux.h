/* SPDX-License-Identifier: MIT */
/*
 * Booting a Linux bzImage through the x86 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst). This module only prepares guest memory, through
 * guestmem_write: the protected-mode kernel, the zero page (struct boot_params) with its
 * e820 table, the command line, the initrd, a GDT and identity page tables. It never calls
 * KVM; it returns the register state in struct linux_entry and the caller loads it into
 * the boot vCPU.
 *
 * Low memory, all of it inside the usable RAM below the legacy area and never overlapping
 * (the kernel copies what it needs early and then owns the memory):
 *
 *   0x00000 .. 0x01000   real-mode IVT and BIOS data area: left zero, unused
 *   0x01000 .. 0x01020   GDT: null, null, __BOOT_CS (0x10, 64-bit code), __BOOT_DS (0x18)
 *   0x07000 .. 0x08000   zero page (struct boot_params)
 *   0x08000 .. 0x09000   boot stack (rsp = 0x9000); the kernel switches to its own at once
 *   0x09000 .. 0x0A000   PML4
 *   0x0A000 .. 0x0B000   PDPT
 *   0x0B000 .. 0x0F000   4 page directories: [0, 4 GiB) identity-mapped with 2 MiB pages
 *   0x20000 .. 0x30000   command line, NUL-terminated
 *   0x9FC00 .. 0x100000  e820 reserved: EBDA, VGA hole, BIOS area, and the ACPI tables at
 *                        0xE0000 (built elsewhere). Reserved rather than ACPI-reclaimable
 *                        because the DSDT's AML runs for the VM's lifetime (memory
 *                        hotplug): an OS may reuse reclaimable memory after boot.
 *   pref_address ..      the protected-mode kernel and its init_size working area
 *                        (0x1000000 for a distribution kernel)
 *   .. end of low RAM    the initrd, as high as initrd_addr_max and low RAM allow
 *
 * The page tables cover the kernel, zero page, command line and initrd, which all lie
 * below the PCI hole, as the protocol requires.
 */
#ifndef SLABVM_LINUX_H
#define SLABVM_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "mem/memmap.h"

#define LINUX_GDT_GPA 0x1000ULL
#define LINUX_ZERO_PAGE_GPA 0x7000ULL
#define LINUX_STACK_TOP 0x9000ULL
#define LINUX_PML4_GPA 0x9000ULL
#define LINUX_PDPT_GPA 0xA000ULL
#define LINUX_PD_GPA 0xB000ULL
#define LINUX_PD_COUNT 4 /* one per GiB: [0, 4 GiB) */
#define LINUX_CMDLINE_GPA 0x20000ULL
#define LINUX_CMDLINE_AREA 0x10000ULL /* room for the command line and its NUL */
#define LINUX_LEGACY_START 0x9FC00ULL
#define LINUX_LEGACY_END 0x100000ULL /* kernel and initrd go above this */

/* Selectors the 64-bit boot protocol requires. */
#define LINUX_BOOT_CS 0x10
#define LINUX_BOOT_DS 0x18

#define LINUX_E820_MAX 128 /* entries the zero page holds */

enum linux_e820_type {
	LINUX_E820_RAM = 1,
	LINUX_E820_RESERVED = 2,
};

struct linux_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* enum linux_e820_type */
};

/* What linux_parse_header learns from a bzImage. */
struct linux_header {
	uint16_t version; /* boot protocol, 0x020c for 2.12 */
	uint16_t xloadflags;
	bool relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size; /* memory the kernel needs from its load address to boot */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size; /* longest command line, without its NUL */
	size_t hdr_end;	       /* the setup header is [0x1f1, hdr_end) of the image */
	size_t kernel_offset;  /* the protected-mode kernel starts here: (setup_sects+1)*512 */
	size_t kernel_size;    /* and is this long (syssize * 16) */
};

struct linux_config {
	const void *kernel;
	size_t kernel_size;
	const char *kernel_path; /* for messages */
	const void *initrd;	 /* NULL for none */
	size_t initrd_size;
	const char *initrd_path;
	const char *cmdline; /* NULL for an empty one */
	uint64_t rsdp_gpa;   /* the ACPI RSDP; 0 lets the kernel scan the BIOS area */
};

/*
 * The state the boot vCPU starts in. Besides these: CS = cs_sel, a flat 64-bit code
 * segment (type 11 execute/read accessed, S, present, DPL 0, L, G, base 0, limit 4 GiB);
 * DS, ES, SS (and FS, GS) = ds_sel, a flat data segment (type 3 read/write accessed, S,
 * present, DPL 0, DB, G); interrupts disabled (rflags); every other register zero.
 */
struct linux_entry {
	uint64_t rip; /* load address + 0x200: the 64-bit entry point */
	uint64_t rsi; /* the zero page */
	uint64_t rsp;
	uint64_t rflags;
	uint64_t cr0, cr3, cr4, efer; /* long mode with paging; cr3 = the PML4 */
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t cs_sel, ds_sel;
};

/*
 * Checks that image is a bzImage this module can boot (boot protocol 2.12 or later with
 * the 64-bit entry) and reads its setup header. path names the file in messages.
 */
int linux_parse_header(const void *image, size_t size, const char *path, struct linux_header *h,
		       struct error *err);

/*
 * The e820 table for the memory map: plugged boot RAM as usable, less the reserved legacy
 * area [LINUX_LEGACY_START, LINUX_LEGACY_END), and the PCI ECAM window reserved (Linux
 * uses MMCONFIG only if it is). DIMMs are absent: they arrive later through ACPI. Sorted,
 * non-overlapping; -ENOSPC if more than max entries.
 */
int linux_build_e820(const struct memmap *mm, struct linux_e820_entry *tab, unsigned int max,
		     unsigned int *n);

/*
 * Loads the kernel (at pref_address, or the first aligned address above 1 MiB for a
 * relocatable kernel that prefers less) and the initrd (page-aligned, as high as it may
 * go below both the end of low RAM and initrd_addr_max + 1, or 4 GiB for a kernel with
 * XLF_CAN_BE_LOADED_ABOVE_4G, above the kernel's init_size area if it fits, else below
 * it), writes the zero page, command line, GDT and page tables, and fills out. It never
 * touches [LINUX_LEGACY_START, LINUX_LEGACY_END), so the ACPI tables may be written
 * there before or after. Everything is checked before guest memory is written: a refusal
 * (-EINVAL, or -ENOSPC for an initrd with no room; a usage error whose message names the
 * file) leaves guest memory as it was.
 */
int linux_load(struct memmap *mm, const struct linux_config *cfg, struct linux_entry *out,
	       struct error *err);

#endif
