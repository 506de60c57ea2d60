// SPDX-License-Identifier: MIT
/*
 * The bzImage loader (linux_load) on arbitrary kernel images, initrd sizes and command lines
 * against a small memory map. A model from the boot protocol (Documentation/arch/x86/
 * boot.rst) and linux.h says whether the load must succeed and where things go:
 *   - a refusal is -EINVAL or -ENOSPC (the latter only for an initrd with no room) with a
 *     one-line message naming the kernel, the initrd or --cmdline, and guest memory is left
 *     as it was: not one page of it touched;
 *   - a load writes only the kernel at its load address (pref_address, or the first aligned
 *     address above 1 MiB for a relocatable kernel that prefers less), the initrd, the
 *     command line, the zero page, the GDT and the page tables, all inside low RAM and
 *     outside the legacy area; no other byte of guest memory changes;
 *   - the initrd is page-aligned, below its ceiling (initrd_addr_max + 1, or 4 GiB for
 *     XLF_CAN_BE_LOADED_ABOVE_4G) and the end of low RAM, clear of the kernel's init_size
 *     area, and as high as it can be: above the kernel if it fits there, else below;
 *   - the zero page holds the image's setup header with the loader's obligatory fields
 *     written, nothing past the header's end, the e820 table sorted, non-overlapping, RAM
 *     exactly the boot RAM less the legacy area, and zero everywhere else;
 *   - the entry state points at the 64-bit entry, the zero page and identity page tables.
 * Which guest pages were written is read from mincore() on fresh anonymous backing, which
 * (unlike a memfd's page cache) it answers for at the cost of a page-table walk.
 *
 * Input: a setup byte (bits 2:0 the memory size, 3 an initrd, 4 a command line, 5 an initrd
 * size of 8 bytes rather than 3, 6 a DIMM window, 7 an RSDP address), the initrd size, the
 * RSDP address (8 bytes, if any), the command line's length (2 bytes) and character, then
 * the kernel image: everything that is left. Missing bytes read as zero.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz_input.h"
#include "mem/memmap.h"
#include "x86/linux.h"
#include "x86/platform.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define PAGE 4096ULL
#define KERNEL_PATH "fuzz-bzImage"
#define INITRD_PATH "fuzz-initrd"
/* Initrd bytes come from here: zero pages, and a guard page past the end. */
#define INITRD_BUF (128 * MIB)
#define MARK_FIRST 0x5a
#define MARK_LAST 0xa5

static const uint64_t mems[8] = {16 * MIB, 18 * MIB,  24 * MIB, 32 * MIB,
				 64 * MIB, 128 * MIB, 3 * GIB,	3 * GIB + 2 * MIB};

static uint8_t *initrd_buf;

struct range {
	uint64_t start, end;
};

/* What the model expects of a load. */
struct expect {
	size_t kernel_offset, kernel_size, hdr_end;
	uint64_t load, need, top;
	bool initrd_above; /* the initrd fits above the kernel */
};

static uint64_t rd(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint64_t low_end(const struct memmap *mm)
{
	return mm->region[0].kind == MEMMAP_RAM_LOW ? mm->region[0].size : 0;
}

/* Whether size bytes fit page-aligned in [lo, hi). */
static bool fits(uint64_t lo, uint64_t hi, uint64_t size)
{
	lo = align_up(lo, PAGE);
	return hi >= size && (hi - size) / PAGE * PAGE >= lo;
}

/* The boot protocol's rules: 0 if the load must succeed, else the error it must fail with. */
static int model(const uint8_t *img, size_t size, const struct linux_config *cfg,
		 const struct memmap *mm, struct expect *e)
{
	unsigned int sects;
	uint64_t align, end = low_end(mm), below;
	size_t cmdline_max;

	if (size < 0x268 || rd(img + 0x1fe, 2) != 0xaa55 || memcmp(img + 0x202, "HdrS", 4) ||
	    rd(img + 0x206, 2) < 0x020c || !(rd(img + 0x236, 2) & 1))
		return -EINVAL;
	sects = img[0x1f1] ? img[0x1f1] : 4;
	e->kernel_offset = (sects + 1) * 512;
	e->hdr_end = 0x202 + img[0x201];
	e->kernel_size = rd(img + 0x1f4, 4) * 16;
	if (e->hdr_end < 0x268 || e->hdr_end > e->kernel_offset || !e->kernel_size ||
	    size < e->kernel_offset + e->kernel_size)
		return -EINVAL;
	cmdline_max = rd(img + 0x238, 4) < 0xffff ? rd(img + 0x238, 4) : 0xffff;
	if (strlen(cfg->cmdline ? cfg->cmdline : "") > cmdline_max)
		return -EINVAL;
	e->load = rd(img + 0x258, 8);
	align = rd(img + 0x230, 4);
	if (e->load < MIB) {
		if (!img[0x234] || !align || (align & (align - 1)))
			return -EINVAL;
		e->load = align_up(MIB, align);
	}
	e->need = rd(img + 0x260, 4) > e->kernel_size ? rd(img + 0x260, 4) : e->kernel_size;
	if (e->load >= end || e->need > end - e->load)
		return -EINVAL;
	if (!cfg->initrd)
		return 0;
	if (!cfg->initrd_size)
		return -EINVAL;
	e->top = rd(img + 0x236, 2) & 2 ? 4 * GIB : rd(img + 0x22c, 4) + 1;
	if (e->top > end)
		e->top = end;
	e->initrd_above = fits(e->load + e->need, e->top, cfg->initrd_size);
	below = e->load < e->top ? e->load : e->top;
	if (!e->initrd_above && !fits(MIB, below, cfg->initrd_size))
		return -ENOSPC;
	return 0;
}

/* Every page of every region that is backed; none may have been touched on a refusal. */
static unsigned int touched_pages(struct memmap *mm, const struct range *ok, unsigned int nok)
{
	static unsigned char vec[(3 * GIB + 2 * MIB) / PAGE];
	unsigned int i, k, touched = 0;
	uint64_t p;

	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];

		if (!r->hva)
			continue;
		FUZZ_CHECK(r->size / PAGE <= sizeof(vec));
		FUZZ_CHECK(mincore(r->hva, r->size, vec) == 0);
		for (p = 0; p < r->size / PAGE; p++) {
			const unsigned char *next = memchr(vec + p, 1, r->size / PAGE - p);
			uint64_t gpa, c;

			if (!next)
				break;
			p = next - vec;
			gpa = c = r->gpa + p * PAGE;
			touched++;
			/* Outside what the load may write, the page must still read as zero. */
			for (k = 0; k <= nok; k++) {
				uint64_t s = k < nok ? ok[k].start : gpa + PAGE;
				uint64_t t = k < nok ? ok[k].end : gpa + PAGE;

				if (s < c)
					s = c;
				if (s > gpa + PAGE)
					s = gpa + PAGE;
				for (; c < s; c++)
					FUZZ_CHECK(r->hva[c - r->gpa] == 0);
				if (t > c)
					c = t < gpa + PAGE ? t : gpa + PAGE;
			}
		}
	}
	return touched;
}

/* Backing that mincore() answers for quickly; nothing here inflates or plugs. */
static int anon_create(void *opaque, struct memmap_region *r)
{
	void *hva = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)opaque;
	if (hva == MAP_FAILED)
		return -errno;
	r->hva = hva;
	r->fd = -1;
	return 0;
}

static void anon_destroy(void *opaque, struct memmap_region *r)
{
	(void)opaque;
	munmap(r->hva, r->size);
}

static int anon_populate(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	(void)opaque;
	(void)r;
	(void)off;
	(void)len;
	return 0;
}

static int anon_release(void *opaque, struct memmap_region *r, uint64_t off, uint64_t len)
{
	(void)opaque;
	return madvise(r->hva + off, len, MADV_DONTNEED) ? -errno : 0;
}

static const struct memmap_backing_ops anon_backing = {anon_create, anon_destroy, anon_populate,
						       anon_release};

static const uint8_t *guest(struct memmap *mm, uint64_t gpa, uint64_t len)
{
	const struct memmap_region *r = &mm->region[0];

	FUZZ_CHECK(r->kind == MEMMAP_RAM_LOW && gpa < r->size && len <= r->size - gpa);
	return r->hva + gpa;
}

static void check_e820(struct memmap *mm, const uint8_t *zp)
{
	unsigned int n = zp[0x1e8], i, reserved = 0;
	uint64_t ram = 0, want_ram = 0, prev_end = 0;

	FUZZ_CHECK(n >= 2 && n <= LINUX_E820_MAX);
	for (i = 0; i < mm->nregions; i++) {
		const struct memmap_region *r = &mm->region[i];
		uint64_t lo = r->gpa, hi = r->gpa + r->size;

		if (r->kind == MEMMAP_DIMM)
			continue;
		want_ram += r->size;
		/* less its overlap with the legacy area */
		if (lo < LINUX_LEGACY_END && hi > LINUX_LEGACY_START)
			want_ram -= (hi < LINUX_LEGACY_END ? hi : LINUX_LEGACY_END) -
				    (lo > LINUX_LEGACY_START ? lo : LINUX_LEGACY_START);
	}
	for (i = 0; i < n; i++) {
		const uint8_t *e = zp + 0x2d0 + 20 * i;
		uint64_t addr = rd(e, 8), size = rd(e + 8, 8);
		uint32_t type = rd(e + 16, 4);

		FUZZ_CHECK(size && addr + size > addr && addr >= prev_end);
		prev_end = addr + size;
		if (type == LINUX_E820_RESERVED) {
			FUZZ_CHECK(
				(addr == LINUX_LEGACY_START && size == LINUX_LEGACY_END - addr) ||
				(addr == PLATFORM_ECAM_BASE && size == PLATFORM_ECAM_SIZE));
			reserved++;
			continue;
		}
		FUZZ_CHECK(type == LINUX_E820_RAM);
		ram += size;
		/* inside boot RAM */
		FUZZ_CHECK((addr + size <= low_end(mm)) ||
			   (addr >= MEMMAP_HIGH_BASE && mm->nregions > 1 &&
			    mm->region[1].kind == MEMMAP_RAM_HIGH &&
			    addr + size <= MEMMAP_HIGH_BASE + mm->region[1].size));
	}
	FUZZ_CHECK(reserved == 2 && ram == want_ram);
}

/* The zero page: the image's header with the loader's fields, the e820 table, else zero. */
static void check_zero_page(struct memmap *mm, const uint8_t *img, const struct expect *e,
			    const struct linux_config *cfg, uint64_t initrd)
{
	const uint8_t *zp = guest(mm, LINUX_ZERO_PAGE_GPA, PAGE);
	size_t hdr_end = e->hdr_end < 0x290 ? e->hdr_end : 0x290, i;
	uint64_t isize = cfg->initrd ? cfg->initrd_size : 0;

	for (i = 0; i < PAGE; i++) {
		bool hdr = i >= 0x1f1 && i < hdr_end;

		if ((i >= 0x1fa && i < 0x1fc) || i == 0x210 || i == 0x211 ||
		    (i >= 0x218 && i < 0x220) || (i >= 0x224 && i < 0x22c) ||
		    (i >= 0x250 && i < 0x258) || (i >= 0x70 && i < 0x78) ||
		    (i >= 0xc0 && i < 0xc8) || (i >= 0x1e8 && i < 0x1e9) ||
		    (i >= 0x2d0 && i < 0x2d0 + 20 * (size_t)zp[0x1e8]))
			continue;
		FUZZ_CHECK(zp[i] == (hdr ? img[i] : 0));
	}
	FUZZ_CHECK(rd(zp + 0x1fa, 2) == 0xffff);      /* vid_mode: normal */
	FUZZ_CHECK(zp[0x210] == 0xff);		      /* type_of_loader */
	FUZZ_CHECK(zp[0x211] == (img[0x211] | 0x81)); /* LOADED_HIGH, CAN_USE_HEAP */
	FUZZ_CHECK(rd(zp + 0x224, 2) == 0xfe00);      /* heap_end_ptr */
	FUZZ_CHECK(rd(zp + 0x226, 2) == (hdr_end > 0x226 ? rd(img + 0x226, 2) : 0));
	FUZZ_CHECK(rd(zp + 0x228, 4) == LINUX_CMDLINE_GPA); /* cmd_line_ptr */
	FUZZ_CHECK(rd(zp + 0x250, 8) == 0);		    /* setup_data */
	FUZZ_CHECK(rd(zp + 0x70, 8) == cfg->rsdp_gpa);
	/* ramdisk_image and _size are the loader's to write: zero without an initrd */
	FUZZ_CHECK((rd(zp + 0x218, 4) | rd(zp + 0xc0, 4) << 32) == (cfg->initrd ? initrd : 0));
	FUZZ_CHECK((rd(zp + 0x21c, 4) | rd(zp + 0xc4, 4) << 32) == isize);
	check_e820(mm, zp);
}

static void check_tables(struct memmap *mm)
{
	const uint8_t *gdt = guest(mm, LINUX_GDT_GPA, 32);
	uint64_t code = rd(gdt + 16, 8), data = rd(gdt + 24, 8), i;

	FUZZ_CHECK(rd(gdt, 8) == 0 && rd(gdt + 8, 8) == 0);
	/* present, code, 64-bit (L, not D); present, data, writable */
	FUZZ_CHECK((code >> 47 & 1) && (code >> 43 & 1) && (code >> 53 & 1) && !(code >> 54 & 1));
	FUZZ_CHECK((data >> 47 & 1) && !(data >> 43 & 1) && (data >> 41 & 1));
	FUZZ_CHECK(rd(guest(mm, LINUX_PML4_GPA, 8), 8) == (LINUX_PDPT_GPA | 3));
	for (i = 0; i < 4; i++)
		FUZZ_CHECK(rd(guest(mm, LINUX_PDPT_GPA + 8 * i, 8), 8) ==
			   ((LINUX_PD_GPA + i * PAGE) | 3));
	for (i = 0; i < 2048; i += 97)
		FUZZ_CHECK(rd(guest(mm, LINUX_PD_GPA + 8 * i, 8), 8) == ((i << 21) | 0x83));
}

static void check_load(struct memmap *mm, const uint8_t *img, const struct linux_config *cfg,
		       const struct expect *e, const struct linux_entry *out)
{
	const uint8_t *zp = guest(mm, LINUX_ZERO_PAGE_GPA, PAGE);
	size_t cmdlen = strlen(cfg->cmdline ? cfg->cmdline : "");
	uint64_t initrd = rd(zp + 0x218, 4) | rd(zp + 0xc0, 4) << 32;
	uint64_t isize = cfg->initrd ? cfg->initrd_size : 0;
	struct range ok[] = {
		{LINUX_GDT_GPA, LINUX_GDT_GPA + 32},
		{LINUX_ZERO_PAGE_GPA, LINUX_ZERO_PAGE_GPA + PAGE},
		{LINUX_PML4_GPA, LINUX_PD_GPA + 4 * PAGE},
		{LINUX_CMDLINE_GPA, LINUX_CMDLINE_GPA + cmdlen + 1},
		{e->load, e->load + e->kernel_size},
		{initrd, initrd + isize},
	};
	unsigned int nok = cfg->initrd ? 6 : 5;

	FUZZ_CHECK(out->rip == e->load + 0x200 && out->rsi == LINUX_ZERO_PAGE_GPA &&
		   out->cr3 == LINUX_PML4_GPA && out->rsp <= LINUX_PML4_GPA &&
		   out->gdt_base == LINUX_GDT_GPA && out->gdt_limit == 31 && out->cs_sel == 0x10 &&
		   out->ds_sel == 0x18 && !(out->rflags & (1 << 9)));
	if (cfg->initrd) {
		FUZZ_CHECK(initrd % PAGE == 0 && initrd >= LINUX_LEGACY_END);
		FUZZ_CHECK(initrd + isize <= e->top);
		FUZZ_CHECK(initrd + isize <= e->load || initrd >= e->load + e->need);
		/* As high as it goes: one page higher would not fit. */
		FUZZ_CHECK(initrd >= e->load + e->need || !e->initrd_above);
		FUZZ_CHECK(initrd + PAGE + isize >
			   (initrd >= e->load ? e->top : (e->load < e->top ? e->load : e->top)));
		if (initrd < ok[4].start) {
			ok[5] = ok[4];
			ok[4] = (struct range){initrd, initrd + isize};
		}
	}
	/* What was written lies where it may; in sorted order for touched_pages. */
	touched_pages(mm, ok, nok);
	FUZZ_CHECK(!memcmp(guest(mm, e->load, e->kernel_size), img + e->kernel_offset,
			   e->kernel_size));
	if (cfg->initrd) {
		FUZZ_CHECK(*guest(mm, initrd, 1) == MARK_FIRST);
		FUZZ_CHECK(*guest(mm, initrd + isize - 1, 1) == MARK_LAST || isize == 1);
	}
	FUZZ_CHECK(!memcmp(guest(mm, LINUX_CMDLINE_GPA, cmdlen + 1),
			   cfg->cmdline ? cfg->cmdline : "", cmdlen + 1));
	check_zero_page(mm, img, e, cfg, initrd);
	check_tables(mm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct memmap_config mc = {0};
	struct linux_config cfg = {.kernel_path = KERNEL_PATH, .initrd_path = INITRD_PATH};
	struct linux_entry out;
	struct expect e = {0};
	struct error err = {0};
	struct memmap mm;
	uint8_t setup = fuzz_take(&in, 1), *img;
	char *cmdline = NULL;
	size_t len;
	int want, ret;

	if (!initrd_buf) {
		initrd_buf = mmap(NULL, INITRD_BUF + PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		FUZZ_CHECK(initrd_buf != MAP_FAILED);
		FUZZ_CHECK(mprotect(initrd_buf + INITRD_BUF, PAGE, PROT_NONE) == 0);
	}
	mc.mem = mems[setup & 7];
	mc.maxmem = setup & 0x40 ? mc.mem + GIB : 0;
	if (setup & 8) {
		cfg.initrd = initrd_buf;
		cfg.initrd_size = fuzz_take(&in, setup & 0x20 ? 8 : 3);
		/* Beyond the buffer only where no load can succeed: the guard page catches it. */
		if (mc.mem > INITRD_BUF && cfg.initrd_size > 16 * MIB)
			cfg.initrd_size &= 16 * MIB - 1;
		if (cfg.initrd_size && cfg.initrd_size <= INITRD_BUF) {
			initrd_buf[cfg.initrd_size - 1] = MARK_LAST;
			initrd_buf[0] = MARK_FIRST;
		}
	}
	if (setup & 0x80)
		cfg.rsdp_gpa = fuzz_take(&in, 8);
	if (setup & 0x10) {
		len = fuzz_take(&in, 2) + fuzz_take(&in, 1) % 4;
		cmdline = malloc(len + 1);
		FUZZ_CHECK(cmdline);
		memset(cmdline, 'a' + fuzz_take(&in, 1) % 26, len);
		cmdline[len] = 0;
		cfg.cmdline = cmdline;
	}
	len = fuzz_left(&in);
	img = malloc(len ? len : 1); /* its exact size, for ASan */
	FUZZ_CHECK(img);
	memcpy(img, fuzz_take_bytes(&in, &len), len);
	cfg.kernel = img;
	cfg.kernel_size = len;

	FUZZ_CHECK(memmap_init(&mm, &mc, &anon_backing, NULL, &err) == 0);
	want = model(img, len, &cfg, &mm, &e);
	ret = linux_load(&mm, &cfg, &out, &err);
	FUZZ_CHECK(ret == want);
	if (ret) {
		FUZZ_CHECK(err.code == ret && !strchr(err.msg, '\n'));
		FUZZ_CHECK(strstr(err.msg, ret == -ENOSPC ? INITRD_PATH : KERNEL_PATH) ||
			   strstr(err.msg, INITRD_PATH) || strstr(err.msg, "--cmdline"));
		FUZZ_CHECK(touched_pages(&mm, NULL, 0) == 0);
	} else {
		check_load(&mm, img, &cfg, &e, &out);
	}
	memmap_destroy(&mm);
	if (cfg.initrd && cfg.initrd_size && cfg.initrd_size <= INITRD_BUF) {
		initrd_buf[0] = 0;
		initrd_buf[cfg.initrd_size - 1] = 0;
		madvise(initrd_buf, PAGE, MADV_DONTNEED);
		madvise(initrd_buf + (cfg.initrd_size - 1) / PAGE * PAGE, PAGE, MADV_DONTNEED);
	}
	free(img);
	free(cmdline);
	return 0;
}
