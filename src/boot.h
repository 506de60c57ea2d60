/* SPDX-License-Identifier: MIT */
/*
 * Starting a guest: a freestanding firmware image (firmware/bootinfo.h) entered directly
 * in 64-bit long mode, with the monitor's GDT, page tables and bootinfo in the firmware
 * area, outside guest RAM.
 */
#ifndef SLABVM_BOOT_H
#define SLABVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct vm;
struct vcpu;

/* The demo guest embedded in the binary (firmware/demo.c, through tools/bin2c.py). */
extern const unsigned char slabvm_demo_image[];
extern const unsigned long slabvm_demo_image_size;

/* Loads image into the firmware area, writes GDT, page tables and bootinfo, and puts the
 * boot vCPU in long mode at the image's entry. */
int boot_firmware(struct vm *vm, struct vcpu *bsp, const void *image, size_t size,
		  const char *cmdline, struct error *err);
/* Reads a firmware file (at most BOOTINFO_IMAGE_MAX bytes); caller frees *image. */
int boot_read_file(const char *path, void **image, size_t *size, struct error *err);

#endif
