// SPDX-License-Identifier: MIT
/*
 * The 64-bit Linux boot protocol: a bzImage's protected-mode kernel entered at its
 * 64-bit entry point with a zero page, as Documentation/arch/x86/boot.rst describes. The
 * real-mode setup code is never run; only its header is read. Layout in linux.h.
 */
#include "x86/linux.h"

#include <string.h>

#include "mem/guestmem.h"
#include "x86/identity_map.h"
#include "x86/platform.h"
#include "x86/x86.h"

/* Setup header fields: offsets in the image and in the zero page alike. */
#define HDR_START 0x1f1 /* setup_sects: the header starts here */
#define HDR_SYSSIZE 0x1f4
#define HDR_VID_MODE 0x1fa
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200 /* a short jump whose offset byte at 0x201 gives the header's end */
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_SETUP_DATA 0x250
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_END_MIN 0x268 /* a 2.12 header reaches at least past init_size */

/* Zero page fields outside the setup header. */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR_MAX_END 0x290 /* room struct boot_params leaves for the setup header */
#define BP_E820_TABLE 0x2d0
#define BP_E820_ENTRY_SIZE 20
#define BP_SIZE 4096

#define BOOT_FLAG 0xAA55
#define PROTOCOL_MIN 0x020c /* 2.12: xloadflags, and with it XLF_KERNEL_64 */
#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x0001
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x0002
#define LOADER_UNDEFINED 0xff
#define VID_MODE_NORMAL 0xffff
#define HEAP_END_PTR 0xfe00 /* a whole 64 KiB setup segment, less the 0x200 the field omits */
#define ENTRY_64_OFFSET 0x200

#define PAGE_SIZE 4096ULL

#define GDT_ENTRIES 4

/* The layout in linux.h, checked: every piece in usable RAM, none overlapping. */
_Static_assert(LINUX_GDT_GPA + GDT_ENTRIES * 8 <= LINUX_ZERO_PAGE_GPA, "GDT overlaps zero page");
_Static_assert(LINUX_ZERO_PAGE_GPA + BP_SIZE < LINUX_STACK_TOP, "zero page overlaps stack");
_Static_assert(LINUX_STACK_TOP <= LINUX_PML4_GPA, "stack overlaps page tables");
_Static_assert(LINUX_PML4_GPA + PAGE_SIZE == LINUX_PDPT_GPA, "PDPT right after the PML4");
_Static_assert(LINUX_PDPT_GPA + PAGE_SIZE == LINUX_PD_GPA, "PDs right after the PDPT");
_Static_assert(LINUX_PD_GPA + LINUX_PD_COUNT * PAGE_SIZE <= LINUX_CMDLINE_GPA,
	       "PDs overlap the command line");
_Static_assert(LINUX_CMDLINE_GPA + LINUX_CMDLINE_AREA <= LINUX_LEGACY_START,
	       "command line reaches the legacy area");
_Static_assert(LINUX_PD_COUNT == MEMMAP_HIGH_BASE >> 30, "page tables must map [0, 4 GiB)");
/* So the e820 table needs no overlap checks: ECAM lies between low and high RAM. */
_Static_assert(MEMMAP_LOW_END <= PLATFORM_ECAM_BASE, "low RAM overlaps ECAM");
_Static_assert(PLATFORM_ECAM_BASE + PLATFORM_ECAM_SIZE <= MEMMAP_HIGH_BASE,
	       "ECAM overlaps high RAM");

/* Both the image and the guest are little-endian x86, so fields are copied as they are. */
static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint64_t mib_up(uint64_t x)
{
	return (x + (1ULL << 20) - 1) >> 20;
}

int linux_parse_header(const void *image, size_t size, const char *path, struct linux_header *h,
		       struct error *err)
{
	const uint8_t *p = image;
	unsigned int sects;

	memset(h, 0, sizeof(*h));
	if (size < HDR_END_MIN)
		return error_usage(err, -EINVAL,
				   "%s: not a bzImage: %zu bytes, too short for a setup header",
				   path, size);
	if (get16(p + HDR_BOOT_FLAG) != BOOT_FLAG)
		return error_usage(err, -EINVAL, "%s: not a bzImage: no 0xAA55 boot flag at 0x1fe",
				   path);
	if (memcmp(p + HDR_MAGIC, "HdrS", 4))
		return error_usage(err, -EINVAL,
				   "%s: not a bzImage: no \"HdrS\" header signature at 0x202",
				   path);
	h->version = get16(p + HDR_VERSION);
	if (h->version < PROTOCOL_MIN)
		return error_usage(err, -EINVAL,
				   "%s: boot protocol %u.%02u is too old: the 64-bit boot protocol "
				   "needs 2.12 or later",
				   path, h->version >> 8, h->version & 0xff);
	h->xloadflags = get16(p + HDR_XLOADFLAGS);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return error_usage(err, -EINVAL,
				   "%s: not a 64-bit kernel: xloadflags lacks XLF_KERNEL_64, the "
				   "64-bit entry point",
				   path);

	/* A setup_sects of 0 means 4, for the oldest images. */
	sects = p[HDR_START] ? p[HDR_START] : 4;
	h->kernel_offset = (sects + 1) * 512;
	h->hdr_end = HDR_MAGIC + p[HDR_JUMP + 1];
	if (h->hdr_end < HDR_END_MIN || h->hdr_end > h->kernel_offset)
		return error_usage(err, -EINVAL,
				   "%s: not a bzImage: its setup header ends at 0x%zx, outside "
				   "[0x%x, 0x%zx]",
				   path, h->hdr_end, HDR_END_MIN, h->kernel_offset);
	/*
	 * syssize counts 16-byte paragraphs of the protected-mode kernel; signed kernels
	 * carry their signature after it, so the file may be longer, never shorter.
	 */
	h->kernel_size = (size_t)get32(p + HDR_SYSSIZE) * 16;
	if (!h->kernel_size)
		return error_usage(err, -EINVAL,
				   "%s: not a bzImage: no protected-mode kernel (syssize is 0)",
				   path);
	if (size < h->kernel_offset || size - h->kernel_offset < h->kernel_size)
		return error_usage(err, -EINVAL,
				   "%s: truncated: its header promises %zu bytes, the file has %zu",
				   path, h->kernel_offset + h->kernel_size, size);

	h->relocatable = p[HDR_RELOCATABLE] != 0;
	h->kernel_alignment = get32(p + HDR_KERNEL_ALIGNMENT);
	h->pref_address = get64(p + HDR_PREF_ADDRESS);
	h->init_size = get32(p + HDR_INIT_SIZE);
	h->initrd_addr_max = get32(p + HDR_INITRD_ADDR_MAX);
	h->cmdline_size = get32(p + HDR_CMDLINE_SIZE);
	return 0;
}

static int e820_add(struct linux_e820_entry *tab, unsigned int max, unsigned int *n, uint64_t start,
		    uint64_t end, uint32_t type)
{
	if (end <= start)
		return 0;
	if (*n >= max)
		return -ENOSPC;
	tab[*n].addr = start;
	tab[*n].size = end - start;
	tab[*n].type = type;
	(*n)++;
	return 0;
}

int linux_build_e820(const struct memmap *mm, struct linux_e820_entry *tab, unsigned int max,
		     unsigned int *n)
{
	unsigned int i, j;
	int ret;

	*n = 0;
	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];
		uint64_t start = r->gpa, end = r->gpa + r->size;

		if (r->kind == MEMMAP_DIMM || !r->plugged)
			continue;
		/* The part of the region below the legacy area, then the part above it. */
		ret = e820_add(tab, max, n, start,
			       end < LINUX_LEGACY_START ? end : LINUX_LEGACY_START, LINUX_E820_RAM);
		if (!ret)
			ret = e820_add(tab, max, n,
				       start > LINUX_LEGACY_END ? start : LINUX_LEGACY_END, end,
				       LINUX_E820_RAM);
		if (ret)
			return ret;
	}
	ret = e820_add(tab, max, n, LINUX_LEGACY_START, LINUX_LEGACY_END, LINUX_E820_RESERVED);
	if (!ret)
		ret = e820_add(tab, max, n, PLATFORM_ECAM_BASE,
			       PLATFORM_ECAM_BASE + PLATFORM_ECAM_SIZE, LINUX_E820_RESERVED);
	if (ret)
		return ret;

	/* A handful of entries: insertion sort by address. */
	for (i = 1; i < *n; i++) {
		struct linux_e820_entry e = tab[i];

		for (j = i; j > 0 && tab[j - 1].addr > e.addr; j--)
			tab[j] = tab[j - 1];
		tab[j] = e;
	}
	return 0;
}

/* Low RAM: where everything the boot protocol needs below 4 GiB must go. */
static uint64_t low_ram_end(const struct memmap *mm)
{
	unsigned int i;

	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];

		if (r->kind == MEMMAP_RAM_LOW && r->plugged && r->gpa == 0)
			return r->size;
	}
	return 0;
}

/* Where the protected-mode kernel goes: [*load, *end), end including init_size. */
static int place_kernel(const struct linux_header *h, const char *path, uint64_t low_end,
			uint64_t *load, uint64_t *end, struct error *err)
{
	uint64_t addr = h->pref_address;
	uint64_t need = h->init_size > h->kernel_size ? h->init_size : h->kernel_size;
	uint64_t align = h->kernel_alignment;

	if (addr < LINUX_LEGACY_END) {
		if (!h->relocatable)
			return error_usage(
				err, -EINVAL,
				"%s: wants to be loaded at 0x%llx, below 1 MiB where the "
				"boot structures live, and is not relocatable",
				path, (unsigned long long)addr);
		if (!align || (align & (align - 1)))
			return error_usage(err, -EINVAL,
					   "%s: kernel_alignment 0x%llx is not a power of two",
					   path, (unsigned long long)align);
		addr = align_up(LINUX_LEGACY_END, align);
	}
	/*
	 * A relocatable 64-bit kernel decompresses at its load address rounded up to
	 * kernel_alignment, but never below pref_address (LOAD_PHYSICAL_ADDR): loading it
	 * lower would save nothing. At pref_address or above, init_size from the load
	 * address covers everything it touches before it reads the e820 table.
	 */
	if (addr >= low_end || need > low_end - addr)
		return error_usage(
			err, -EINVAL,
			"%s: the kernel needs %llu MiB at 0x%llx (its init_size), but RAM "
			"below the PCI hole ends at 0x%llx; give the guest more --mem",
			path, (unsigned long long)mib_up(need), (unsigned long long)addr,
			(unsigned long long)low_end);
	*load = addr;
	*end = addr + need;
	return 0;
}

/*
 * The highest page-aligned start for size bytes in [lo, hi), or 0 (never a valid
 * answer: lo is at least 1 MiB) if they do not fit. With lo rounded up to a page,
 * rounding the start down cannot take it below lo.
 */
static uint64_t fit_high(uint64_t lo, uint64_t hi, uint64_t size)
{
	lo = align_up(lo, PAGE_SIZE);
	if (hi < size || hi - size < lo)
		return 0;
	return align_down(hi - size, PAGE_SIZE);
}

/* The initrd goes as high as it may: above the kernel if there is room, else below. */
static int place_initrd(const struct linux_header *h, const struct linux_config *cfg,
			uint64_t low_end, uint64_t kernel_load, uint64_t kernel_end, uint64_t *addr,
			struct error *err)
{
	uint64_t top, below_top, gap_above, gap_below;

	if (!cfg->initrd_size)
		return error_usage(err, -EINVAL, "%s: the initrd is empty", cfg->initrd_path);
	/*
	 * initrd_addr_max is the last byte the initrd may occupy. A kernel that may have
	 * it above 4 GiB can address all of the 32-bit range, whatever that field says
	 * (2 GiB on distribution kernels); QEMU reads the flag the same way.
	 */
	top = h->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G ? MEMMAP_HIGH_BASE
							 : (uint64_t)h->initrd_addr_max + 1;
	if (top > low_end)
		top = low_end;
	*addr = fit_high(kernel_end, top, cfg->initrd_size);
	if (*addr)
		return 0;
	below_top = kernel_load < top ? kernel_load : top;
	*addr = fit_high(LINUX_LEGACY_END, below_top, cfg->initrd_size);
	if (*addr)
		return 0;
	gap_above = align_down(top, PAGE_SIZE) > align_up(kernel_end, PAGE_SIZE)
			    ? align_down(top, PAGE_SIZE) - align_up(kernel_end, PAGE_SIZE)
			    : 0;
	gap_below = align_down(below_top, PAGE_SIZE) > LINUX_LEGACY_END
			    ? align_down(below_top, PAGE_SIZE) - LINUX_LEGACY_END
			    : 0;
	return error_usage(err, -ENOSPC,
			   "%s: an initrd of %zu bytes does not fit below 0x%llx beside the kernel "
			   "at [0x%llx, 0x%llx): %llu bytes fit at most",
			   cfg->initrd_path, cfg->initrd_size, (unsigned long long)top,
			   (unsigned long long)kernel_load, (unsigned long long)kernel_end,
			   (unsigned long long)(gap_above > gap_below ? gap_above : gap_below));
}

static void build_zero_page(uint8_t *zp, const uint8_t *image, const struct linux_header *h,
			    const struct linux_config *cfg, uint64_t initrd_addr,
			    const struct linux_e820_entry *e820, unsigned int n)
{
	size_t hdr_end = h->hdr_end < BP_HDR_MAX_END ? h->hdr_end : BP_HDR_MAX_END;
	uint64_t initrd_size = cfg->initrd ? cfg->initrd_size : 0;
	unsigned int i;

	/* Zero first: a zero sentinel at 0x1ef tells the kernel we cleared everything. */
	memset(zp, 0, BP_SIZE);
	memcpy(zp + HDR_START, image + HDR_START, hdr_end - HDR_START);
	put16(zp + HDR_VID_MODE, VID_MODE_NORMAL);
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
	put16(zp + HDR_HEAP_END_PTR, HEAP_END_PTR);
	put32(zp + HDR_CMD_LINE_PTR, (uint32_t)LINUX_CMDLINE_GPA);
	/* A loader-owned pointer: whatever the image holds there must not be followed. */
	put64(zp + HDR_SETUP_DATA, 0);
	/* Obligatory for the loader, so zero without an initrd, whatever the image holds there. */
	put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
	put32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
	put32(zp + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
	put32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
	put64(zp + BP_ACPI_RSDP_ADDR, cfg->rsdp_gpa);
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		uint8_t *e = zp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		put64(e, e820[i].addr);
		put64(e + 8, e820[i].size);
		put32(e + 16, e820[i].type);
	}
}

static int write_guest(struct memmap *mm, uint64_t gpa, const void *buf, size_t len,
		       const char *what, struct error *err)
{
	int ret = guestmem_write(mm, gpa, buf, len);

	if (ret)
		return error_set(err, ret,
				 "writing the %s (%zu bytes) to guest memory at 0x%llx failed",
				 what, len, (unsigned long long)gpa);
	return 0;
}

/* [0, 4 GiB) identity-mapped with 2 MiB pages (x86/identity_map.c): the PML4, the PDPT and
 * the four page directories are consecutive pages from LINUX_PML4_GPA. */
static int write_page_tables(struct memmap *mm, struct error *err)
{
	uint64_t tables[(2 + LINUX_PD_COUNT) * PAGE_SIZE / 8];

	x86_identity_map(tables, LINUX_PML4_GPA, MEMMAP_HIGH_BASE, false);
	return write_guest(mm, LINUX_PML4_GPA, tables, sizeof(tables), "page tables", err);
}

int linux_load(struct memmap *mm, const struct linux_config *cfg, struct linux_entry *out,
	       struct error *err)
{
	static const uint64_t gdt[GDT_ENTRIES] = {0, 0, X86_GDT_CODE64, X86_GDT_DATA};
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t cmdline_len = strlen(cmdline), cmdline_max;
	struct linux_e820_entry e820[LINUX_E820_MAX];
	uint64_t low_end, load = 0, kernel_end = 0, initrd_addr = 0;
	uint8_t zero_page[BP_SIZE];
	struct linux_header h;
	unsigned int n;
	int ret;

	/* Everything is checked before the first byte of guest memory changes. */
	ret = linux_parse_header(cfg->kernel, cfg->kernel_size, cfg->kernel_path, &h, err);
	if (ret)
		return ret;
	cmdline_max =
		h.cmdline_size < LINUX_CMDLINE_AREA - 1 ? h.cmdline_size : LINUX_CMDLINE_AREA - 1;
	if (cmdline_len > cmdline_max)
		return error_usage(err, -EINVAL,
				   "--cmdline: %zu bytes, longer than the %zu that %s accepts",
				   cmdline_len, cmdline_max, cfg->kernel_path);
	low_end = low_ram_end(mm);
	ret = place_kernel(&h, cfg->kernel_path, low_end, &load, &kernel_end, err);
	if (!ret && cfg->initrd)
		ret = place_initrd(&h, cfg, low_end, load, kernel_end, &initrd_addr, err);
	if (ret)
		return ret;
	if (linux_build_e820(mm, e820, LINUX_E820_MAX, &n))
		return error_usage(err, -ENOSPC, "the memory map needs more than %d e820 entries",
				   LINUX_E820_MAX);
	build_zero_page(zero_page, cfg->kernel, &h, cfg, initrd_addr, e820, n);

	ret = write_guest(mm, load, (const uint8_t *)cfg->kernel + h.kernel_offset, h.kernel_size,
			  "kernel", err);
	if (!ret && cfg->initrd)
		ret = write_guest(mm, initrd_addr, cfg->initrd, cfg->initrd_size, "initrd", err);
	if (!ret)
		ret = write_guest(mm, LINUX_CMDLINE_GPA, cmdline, cmdline_len + 1, "command line",
				  err);
	if (!ret)
		ret = write_guest(mm, LINUX_ZERO_PAGE_GPA, zero_page, sizeof(zero_page),
				  "zero page", err);
	if (!ret)
		ret = write_guest(mm, LINUX_GDT_GPA, gdt, sizeof(gdt), "GDT", err);
	if (!ret)
		ret = write_page_tables(mm, err);
	if (ret)
		return ret;

	memset(out, 0, sizeof(*out));
	out->rip = load + ENTRY_64_OFFSET;
	out->rsi = LINUX_ZERO_PAGE_GPA;
	out->rsp = LINUX_STACK_TOP;
	out->rflags = X86_RFLAGS_RESERVED;
	out->cr0 = X86_CR0_LONG_MODE;
	out->cr3 = LINUX_PML4_GPA;
	out->cr4 = X86_CR4_PAE;
	out->efer = X86_EFER_LME | X86_EFER_LMA;
	out->gdt_base = LINUX_GDT_GPA;
	out->gdt_limit = sizeof(gdt) - 1;
	out->cs_sel = LINUX_BOOT_CS;
	out->ds_sel = LINUX_BOOT_DS;
	return 0;
}
