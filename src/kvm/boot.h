/* SPDX-License-Identifier: MIT */
/*
 * Starting a guest: a freestanding firmware image (firmware/bootinfo.h) entered directly
 * in 64-bit long mode, with the monitor's GDT, page tables and bootinfo in the firmware
 * area, outside guest RAM; or a Linux kernel in the state linux.c prepared.
 */
#ifndef SLABVM_BOOT_H
#define SLABVM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct linux_entry;
struct memmap;
struct vcpu;

/* The demo guest embedded in the binary (firmware/demo.c, through tools/bin2c.py). */
extern const unsigned char slabvm_demo_image[];
extern const unsigned long slabvm_demo_image_size;

/* A firmware guest: the image, and what its bootinfo and page tables describe. */
struct boot_firmware_config {
	uint8_t *area; /* the firmware area: BOOTINFO_FW_SIZE bytes at BOOTINFO_FW_BASE */
	const struct memmap *mm;
	unsigned int ncpus;
	uint64_t map_end; /* the page tables identity-map [0, map_end) */
	bool gib_pages;	  /* with 1 GiB pages (the vCPUs' CPUID has PDPE1GB), else 2 MiB */
	const void *image;
	size_t size;
	const char *cmdline; /* NULL for none */
};

/* Loads the image into the firmware area, writes GDT, page tables and bootinfo, and puts
 * the boot vCPU in long mode at the image's entry. */
int boot_firmware(const struct boot_firmware_config *cfg, struct vcpu *bsp, struct error *err);
/* Puts the boot vCPU in 64-bit long mode as e says (the state linux_load prepares for a
 * kernel; boot_firmware's for an image), with rdi as the one argument a firmware gets. */
int boot_enter(struct vcpu *bsp, const struct linux_entry *e, uint64_t rdi, struct error *err);

#define BOOT_KERNEL_MAX (256ULL << 20) /* far more than any bzImage */

/* A file the user named, mapped read-only. */
struct boot_file {
	void *data;
	size_t size;
};

/* Maps path (1 to max bytes); errors name option and path and are usage errors
 * (error_usage) unless the host failed. */
int boot_file_open(struct boot_file *f, const char *option, const char *path, uint64_t max,
		   struct error *err);
void boot_file_close(struct boot_file *f);

#endif
