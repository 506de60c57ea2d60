// SPDX-License-Identifier: MIT
/*
 * The 64-bit Linux boot protocol loader, against synthetic bzImages: what lands in guest
 * memory (kernel, zero page, command line, initrd, GDT, page tables), the e820 table for
 * several layouts, and every refusal with its message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem/guestmem.h"
#include "x86/linux.h"
#include "mem/memmap.h"
#include "x86/platform.h"

#define K ((uint64_t)1024)
#define M (1024 * K)
#define G (1024 * M)
#define PAGE ((uint64_t)4096)

#define PATH "/boot/vmlinuz-test"
#define INITRD_PATH "/boot/initrd-test"
#define XLF_KERNEL_64 0x1
#define XLF_ABOVE_4G 0x2

/* What the synthetic bzImage's setup header says. */
struct image_opts {
	uint16_t version;
	uint16_t xloadflags;
	uint8_t setup_sects;
	uint8_t relocatable;
	uint8_t jump;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	size_t kernel_size; /* protected-mode part, a multiple of 16 */
	size_t trailer;	    /* bytes after it, like a signed kernel's signature */
};

/* Shaped like Debian's 6.1 cloud kernel, only smaller. */
static struct image_opts default_opts(void)
{
	return (struct image_opts){
		.version = 0x020f,
		.xloadflags = 0x7f,
		.setup_sects = 27,
		.relocatable = 1,
		.jump = 0x6a,
		.kernel_alignment = 2 * M,
		.pref_address = 16 * M,
		.init_size = 32 * M,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_size = 2047,
		.kernel_size = 64 * K,
		.trailer = 1472,
	};
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static size_t setup_bytes(const struct image_opts *o)
{
	return ((size_t)(o->setup_sects ? o->setup_sects : 4) + 1) * 512;
}

static uint8_t kernel_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

/*
 * The setup area is filled with 0xcc so a loader that copies more than the header shows;
 * fields the loader must override carry values it must not keep.
 */
static uint8_t *make_image(const struct image_opts *o, size_t *size)
{
	size_t setup = setup_bytes(o), i;
	uint8_t *p;

	*size = setup + o->kernel_size + o->trailer;
	p = malloc(*size);
	assert_non_null(p);
	memset(p, 0xcc, setup);
	memset(p + 0x1f1, 0, 0x290 - 0x1f1);
	p[0x1f1] = o->setup_sects;
	put32(p + 0x1f4, (uint32_t)(o->kernel_size / 16));
	put16(p + 0x1fa, 0xfffd); /* vid_mode "ask" */
	put16(p + 0x1fe, 0xAA55);
	p[0x200] = 0xeb;
	p[0x201] = o->jump;
	memcpy(p + 0x202, "HdrS", 4);
	put16(p + 0x206, o->version);
	p[0x211] = 0x01; /* LOADED_HIGH */
	put32(p + 0x214, 0x100000);
	put32(p + 0x218, 0x3000000); /* ramdisk_image and _size: the loader must write them */
	put32(p + 0x21c, 0x1000);
	put16(p + 0x224, 0x5be0);
	put32(p + 0x22c, o->initrd_addr_max);
	put32(p + 0x230, o->kernel_alignment);
	p[0x234] = o->relocatable;
	p[0x235] = 21;
	put16(p + 0x236, o->xloadflags);
	put32(p + 0x238, o->cmdline_size);
	put64(p + 0x250, 0xdeadbeef000ULL); /* setup_data: the loader must clear it */
	put64(p + 0x258, o->pref_address);
	put32(p + 0x260, o->init_size);
	put32(p + 0x264, 0x12345);
	put32(p + 0x268, 0xabcde); /* kernel_info_offset, inside a 0x6a jump's header */
	memset(p + 0x26c, 0xcc, 0x290 - 0x26c); /* past the header: not to be copied */
	for (i = 0; i < o->kernel_size + o->trailer; i++)
		p[setup + i] = kernel_byte(i);
	return p;
}

static void map_init(struct memmap *mm, uint64_t mem, uint64_t maxmem, uint64_t granule)
{
	struct memmap_config c = {.mem = mem, .maxmem = maxmem, .granule = granule};
	struct error err = {0};

	if (memmap_init(mm, &c, NULL, NULL, &err))
		fail_msg("memmap_init: %s", err.msg);
}

static void expect_msg(const struct error *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("message \"%s\" does not contain \"%s\"", err->msg, want);
	if (strchr(err->msg, '\n'))
		fail_msg("message \"%s\" is not one line", err->msg);
}

static uint8_t *pattern(size_t size, uint8_t seed)
{
	uint8_t *p = malloc(size);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 13 + seed);
	return p;
}

static void read_guest(struct memmap *mm, uint64_t gpa, void *buf, size_t len)
{
	assert_int_equal(guestmem_read(mm, gpa, buf, len), 0);
}

static bool guest_zero(struct memmap *mm, uint64_t gpa, size_t len)
{
	uint8_t *buf = malloc(len);
	bool zero = true;
	size_t i;

	assert_non_null(buf);
	read_guest(mm, gpa, buf, len);
	for (i = 0; i < len; i++)
		zero = zero && !buf[i];
	free(buf);
	return zero;
}

static bool guest_equal(struct memmap *mm, uint64_t gpa, const void *want, size_t len)
{
	uint8_t *buf = malloc(len);
	bool same;

	assert_non_null(buf);
	read_guest(mm, gpa, buf, len);
	same = !memcmp(buf, want, len);
	free(buf);
	return same;
}

struct load {
	struct memmap mm;
	uint8_t *image;
	size_t image_size;
	uint8_t *initrd;
	struct linux_config cfg;
	struct linux_entry entry;
	struct error err;
	uint8_t zp[4096];
};

static void load_setup(struct load *l, uint64_t mem, uint64_t granule, const struct image_opts *o,
		       size_t initrd_size)
{
	memset(l, 0, sizeof(*l));
	map_init(&l->mm, mem, 0, granule);
	l->image = make_image(o, &l->image_size);
	l->cfg.kernel = l->image;
	l->cfg.kernel_size = l->image_size;
	l->cfg.kernel_path = PATH;
	if (initrd_size) {
		l->initrd = pattern(initrd_size, 5);
		l->cfg.initrd = l->initrd;
		l->cfg.initrd_size = initrd_size;
		l->cfg.initrd_path = INITRD_PATH;
	}
	l->cfg.cmdline = "console=ttyS0 root=/dev/vda";
	l->cfg.rsdp_gpa = 0xE0000;
}

static int load_run(struct load *l)
{
	int ret = linux_load(&l->mm, &l->cfg, &l->entry, &l->err);

	if (!ret)
		read_guest(&l->mm, LINUX_ZERO_PAGE_GPA, l->zp, sizeof(l->zp));
	return ret;
}

static void load_ok(struct load *l)
{
	if (load_run(l))
		fail_msg("linux_load: %s", l->err.msg);
}

static void load_teardown(struct load *l)
{
	memmap_destroy(&l->mm);
	free(l->image);
	free(l->initrd);
}

static uint64_t zp_initrd(const struct load *l)
{
	return get32(l->zp + 0x218) | (uint64_t)get32(l->zp + 0x0c0) << 32;
}

static uint64_t zp_initrd_size(const struct load *l)
{
	return get32(l->zp + 0x21c) | (uint64_t)get32(l->zp + 0x0c4) << 32;
}

/* A good load */

static void test_load_entry_and_kernel(void **state)
{
	struct image_opts o = default_opts();
	struct load l;

	(void)state;
	load_setup(&l, 256 * M, 0, &o, 0);
	load_ok(&l);
	assert_int_equal(l.entry.rip, 16 * M + 0x200);
	assert_int_equal(l.entry.rsi, LINUX_ZERO_PAGE_GPA);
	assert_int_equal(l.entry.cr3, LINUX_PML4_GPA);
	assert_int_equal(l.entry.gdt_base, LINUX_GDT_GPA);
	assert_int_equal(l.entry.gdt_limit, 31);
	assert_int_equal(l.entry.cs_sel, 0x10);
	assert_int_equal(l.entry.ds_sel, 0x18);
	assert_int_equal(l.entry.rflags & (1 << 9), 0); /* interrupts off */
	assert_true(l.entry.cr0 & 1);			/* PE */
	assert_true(l.entry.cr0 & (1ULL << 31));	/* PG */
	assert_true(l.entry.cr4 & (1 << 5));		/* PAE */
	assert_int_equal(l.entry.efer & 0x500, 0x500);	/* LME, LMA */
	assert_true(l.entry.rsp > LINUX_ZERO_PAGE_GPA + 4096 && l.entry.rsp <= LINUX_PML4_GPA);
	/* The protected-mode kernel, without the signature that trails it. */
	assert_true(guest_equal(&l.mm, 16 * M, l.image + setup_bytes(&o), o.kernel_size));
	assert_true(guest_zero(&l.mm, 16 * M + o.kernel_size, o.trailer));
	load_teardown(&l);
}

static void test_load_zero_page(void **state)
{
	struct image_opts o = default_opts();
	size_t hdr_end = 0x202 + o.jump, i;
	char cmdline[64];
	struct load l;

	(void)state;
	load_setup(&l, 256 * M, 0, &o, 0);
	l.cfg.rsdp_gpa = 0xE1230;
	load_ok(&l);
	/* The setup header as the image has it, but for the fields a loader writes. */
	for (i = 0x1f1; i < hdr_end; i++) {
		bool written = (i >= 0x1fa && i < 0x1fc) || i == 0x210 || i == 0x211 ||
			       (i >= 0x218 && i < 0x220) || (i >= 0x224 && i < 0x22c) ||
			       (i >= 0x250 && i < 0x258);

		if (!written && l.zp[i] != l.image[i])
			fail_msg("zero page byte 0x%zx is 0x%x, the image has 0x%x", i, l.zp[i],
				 l.image[i]);
	}
	assert_int_equal(l.zp[0x1f1], 27);
	assert_int_equal(get16(l.zp + 0x1fe), 0xAA55);
	assert_memory_equal(l.zp + 0x202, "HdrS", 4);
	assert_int_equal(get16(l.zp + 0x206), 0x020f);
	assert_int_equal(get32(l.zp + 0x268), 0xabcde);
	/* Nothing from the image beyond the header, nothing before it. */
	for (i = hdr_end; i < 0x2d0; i++)
		assert_int_equal(l.zp[i], 0);
	for (i = 0; i < 0x1f1; i++)
		if (i != 0x1e8 && (i < 0x70 || i >= 0x78))
			assert_int_equal(l.zp[i], 0);
	assert_int_equal(l.zp[0x1ef], 0); /* sentinel */
	/* What the loader fills in. */
	assert_int_equal(get16(l.zp + 0x1fa), 0xffff);
	assert_int_equal(l.zp[0x210], 0xff);
	assert_int_equal(l.zp[0x211] & 0x81, 0x81);
	assert_true(get16(l.zp + 0x224) != 0);
	assert_int_equal(get32(l.zp + 0x228), LINUX_CMDLINE_GPA);
	assert_int_equal(get32(l.zp + 0x0c8), 0);
	assert_int_equal(get64(l.zp + 0x250), 0);
	assert_int_equal(get64(l.zp + 0x070), 0xE1230);
	assert_int_equal(zp_initrd(&l), 0);
	assert_int_equal(zp_initrd_size(&l), 0);
	read_guest(&l.mm, LINUX_CMDLINE_GPA, cmdline, sizeof(cmdline));
	assert_string_equal(cmdline, "console=ttyS0 root=/dev/vda");
	load_teardown(&l);
}

static void test_load_zero_page_e820(void **state)
{
	struct image_opts o = default_opts();
	struct linux_e820_entry tab[LINUX_E820_MAX];
	unsigned int n, i;
	struct load l;

	(void)state;
	load_setup(&l, 256 * M, 0, &o, 0);
	load_ok(&l);
	assert_int_equal(linux_build_e820(&l.mm, tab, LINUX_E820_MAX, &n), 0);
	assert_int_equal(l.zp[0x1e8], n);
	for (i = 0; i < n; i++) {
		const uint8_t *e = l.zp + 0x2d0 + 20 * i;

		assert_int_equal(get64(e), tab[i].addr);
		assert_int_equal(get64(e + 8), tab[i].size);
		assert_int_equal(get32(e + 16), tab[i].type);
	}
	load_teardown(&l);
}

static void test_load_initrd(void **state)
{
	struct image_opts o = default_opts();
	size_t size = 1 * M + 123;
	struct load l;

	(void)state;
	load_setup(&l, 256 * M, 0, &o, size);
	load_ok(&l);
	assert_int_equal(zp_initrd_size(&l), size);
	/* The highest page below the end of low RAM. */
	assert_int_equal(zp_initrd(&l), (256 * M - size) & ~(PAGE - 1));
	assert_true(guest_equal(&l.mm, zp_initrd(&l), l.initrd, size));
	load_teardown(&l);
}

static void test_load_no_cmdline(void **state)
{
	struct image_opts o = default_opts();
	struct load l;
	char c = 'x';

	(void)state;
	load_setup(&l, 64 * M, 4 * K, &o, 0);
	l.cfg.cmdline = NULL;
	load_ok(&l);
	read_guest(&l.mm, LINUX_CMDLINE_GPA, &c, 1);
	assert_int_equal(c, 0);
	assert_int_equal(get32(l.zp + 0x228), LINUX_CMDLINE_GPA);
	load_teardown(&l);
}

static void test_load_cmdline_at_limit(void **state)
{
	struct image_opts o = default_opts();
	char cmdline[17], back[18];
	struct load l;

	(void)state;
	o.cmdline_size = 16;
	memset(cmdline, 'a', 16);
	cmdline[16] = 0;
	load_setup(&l, 64 * M, 0, &o, 0);
	l.cfg.cmdline = cmdline;
	load_ok(&l);
	read_guest(&l.mm, LINUX_CMDLINE_GPA, back, sizeof(back));
	assert_string_equal(back, cmdline);
	load_teardown(&l);
}

static void test_load_setup_sects_zero(void **state)
{
	struct image_opts o = default_opts();
	struct load l;

	(void)state;
	o.setup_sects = 0; /* means 4: the kernel starts at 5 * 512 */
	load_setup(&l, 64 * M, 0, &o, 0);
	load_ok(&l);
	assert_true(guest_equal(&l.mm, 16 * M, l.image + 5 * 512, o.kernel_size));
	load_teardown(&l);
}

static void test_load_relocated(void **state)
{
	struct image_opts o = default_opts();
	struct load l;

	(void)state;
	o.pref_address = 0x80000; /* among the boot structures: moved to the next 2 MiB */
	load_setup(&l, 64 * M, 0, &o, 0);
	load_ok(&l);
	assert_int_equal(l.entry.rip, 2 * M + 0x200);
	assert_true(guest_equal(&l.mm, 2 * M, l.image + setup_bytes(&o), o.kernel_size));
	assert_true(guest_zero(&l.mm, 0x80000, PAGE));
	load_teardown(&l);
}

/* Refusals: each names the file, and guest memory stays as it was. */

enum breakage {
	BAD_BOOT_FLAG,
	BAD_MAGIC,
	OLD_PROTOCOL,
	NOT_64BIT,
	TRUNCATED,
	TOO_SHORT,
	NO_KERNEL,
	BAD_HDR_END,
	TOO_BIG,
	TOO_BIG_FOR_16M,
	NOT_RELOCATABLE,
	BAD_ALIGNMENT,
	CMDLINE_TOO_LONG,
	INITRD_TOO_BIG,
	INITRD_EMPTY,
};

struct refusal {
	enum breakage what;
	const char *path; /* the file the message must name */
	const char *msg;
};

static const struct refusal refusals[] = {
	{BAD_BOOT_FLAG, PATH, "not a bzImage: no 0xAA55 boot flag"},
	{BAD_MAGIC, PATH, "not a bzImage: no \"HdrS\""},
	{OLD_PROTOCOL, PATH, "boot protocol 2.11 is too old"},
	{NOT_64BIT, PATH, "not a 64-bit kernel"},
	{TRUNCATED, PATH, "truncated"},
	{TOO_SHORT, PATH, "too short"},
	{NO_KERNEL, PATH, "syssize is 0"},
	{BAD_HDR_END, PATH, "setup header ends at 0x212"},
	{TOO_BIG, PATH, "the kernel needs 300 MiB at 0x1000000"},
	{TOO_BIG_FOR_16M, PATH, "more --mem"},
	{NOT_RELOCATABLE, PATH, "not relocatable"},
	{BAD_ALIGNMENT, PATH, "not a power of two"},
	{CMDLINE_TOO_LONG, PATH, "--cmdline: 17 bytes, longer than the 16"},
	{INITRD_TOO_BIG, INITRD_PATH,
	 "an initrd of 17825792 bytes does not fit below 0x4000000 beside the kernel at "
	 "[0x1000000, 0x3000000): 16777216 bytes fit at most"},
	{INITRD_EMPTY, INITRD_PATH, "empty"},
};

static void run_refusal(const struct refusal *r)
{
	struct image_opts o = default_opts();
	uint64_t mem = 64 * M;
	size_t initrd = 0;
	struct load l;

	switch (r->what) {
	case OLD_PROTOCOL:
		o.version = 0x020b;
		break;
	case NOT_64BIT:
		o.xloadflags = 0x02;
		break;
	case NO_KERNEL:
		o.kernel_size = 0;
		o.trailer = 0;
		break;
	case BAD_HDR_END:
		o.jump = 0x10;
		break;
	case TOO_BIG:
		o.init_size = 300 * M;
		break;
	case TOO_BIG_FOR_16M:
		mem = 16 * M;
		break;
	case NOT_RELOCATABLE:
		o.pref_address = 0x80000;
		o.relocatable = 0;
		break;
	case BAD_ALIGNMENT:
		o.pref_address = 0x80000;
		o.kernel_alignment = 3 * M;
		break;
	case CMDLINE_TOO_LONG:
		o.cmdline_size = 16;
		break;
	case INITRD_TOO_BIG:
		/* The kernel takes [16, 48) MiB of 64: 16 MiB free above it, 15 below. */
		initrd = 17 * M;
		break;
	case INITRD_EMPTY:
		initrd = 1;
		break;
	default:
		break;
	}
	load_setup(&l, mem, 4 * K, &o, initrd);
	switch (r->what) {
	case BAD_BOOT_FLAG:
		l.image[0x1fe] = 0x00;
		break;
	case BAD_MAGIC:
		l.image[0x205] = 'T';
		break;
	case TRUNCATED:
		l.cfg.kernel_size = setup_bytes(&o) + o.kernel_size - 1;
		break;
	case TOO_SHORT:
		l.cfg.kernel_size = 0x200;
		break;
	case CMDLINE_TOO_LONG:
		l.cfg.cmdline = "aaaaaaaaaaaaaaaaa";
		break;
	case INITRD_EMPTY:
		l.cfg.initrd_size = 0;
		break;
	default:
		break;
	}
	if (load_run(&l) != -EINVAL && r->what != INITRD_TOO_BIG)
		fail_msg("case %d: expected -EINVAL, got \"%s\"", r->what, l.err.msg);
	assert_true(l.err.code < 0);
	assert_true(l.err.usage); /* the file or command line the user gave was refused */
	expect_msg(&l.err, r->msg);
	expect_msg(&l.err, r->path);
	assert_true(guest_zero(&l.mm, 0, 1 * M));
	if (mem > 16 * M)
		assert_true(guest_zero(&l.mm, 16 * M, PAGE));
	load_teardown(&l);
}

static void test_refusals(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		run_refusal(&refusals[i]);
}

/* Initrd placement */

static uint64_t place(uint64_t mem, const struct image_opts *o, size_t size)
{
	struct load l;
	uint64_t addr, kernel;

	load_setup(&l, mem, 0, o, size);
	load_ok(&l);
	addr = zp_initrd(&l);
	kernel = l.entry.rip - 0x200;
	assert_int_equal(zp_initrd_size(&l), size);
	assert_int_equal(addr % PAGE, 0);
	/* Clear of the kernel and its init_size, and of everything below 1 MiB. */
	assert_true(addr + size <= kernel || addr >= kernel + o->init_size);
	assert_true(addr >= 1 * M);
	assert_true(addr + size <= (mem < 3 * G ? mem : 3 * G));
	assert_true(guest_equal(&l.mm, addr, l.initrd, size));
	load_teardown(&l);
	return addr;
}

static void test_initrd_addr_max(void **state)
{
	struct image_opts o = default_opts();
	size_t size = 3 * M + 5;

	(void)state;
	o.xloadflags = XLF_KERNEL_64;
	o.initrd_addr_max = 64 * M - 1;
	assert_int_equal(place(256 * M, &o, size), (64 * M - size) & ~(PAGE - 1));
	/* Distribution kernels say 2 GiB. */
	o.initrd_addr_max = 0x7fffffff;
	assert_int_equal(place(3 * G, &o, size), (2 * G - size) & ~(PAGE - 1));
}

static void test_initrd_below_kernel(void **state)
{
	struct image_opts o = default_opts();
	size_t size = 3 * M + 5;

	(void)state;
	/* No room between the kernel's end (48 MiB) and initrd_addr_max: below it then. */
	o.xloadflags = XLF_KERNEL_64;
	o.initrd_addr_max = 40 * M - 1;
	assert_int_equal(place(256 * M, &o, size), (16 * M - size) & ~(PAGE - 1));
	/* Nor between the kernel and the end of RAM. */
	o = default_opts();
	o.init_size = 46 * M;
	assert_int_equal(place(64 * M, &o, size), (16 * M - size) & ~(PAGE - 1));
}

static void test_initrd_above_4g_flag(void **state)
{
	struct image_opts o = default_opts();
	size_t size = 2 * M;

	(void)state;
	/* XLF_CAN_BE_LOADED_ABOVE_4G lifts the 2 GiB initrd_addr_max: top of low RAM. */
	assert_int_equal(place(3 * G, &o, size), 3 * G - size);
	assert_int_equal(place(4 * G, &o, size), 3 * G - size);
	assert_int_equal(place(2 * G, &o, size), 2 * G - size);
}

/* Page tables and GDT */

static uint64_t guest64(struct memmap *mm, uint64_t gpa)
{
	uint64_t v;

	read_guest(mm, gpa, &v, sizeof(v));
	return v;
}

/* Walks the guest's 4-level tables as the MMU would; returns ~0 if not mapped. */
static uint64_t translate(struct memmap *mm, uint64_t cr3, uint64_t va)
{
	uint64_t e = guest64(mm, (cr3 & ~0xfffULL) + ((va >> 39) & 511) * 8);

	if (!(e & 1))
		return ~0ULL;
	e = guest64(mm, (e & 0xffffffffff000ULL) + ((va >> 30) & 511) * 8);
	if (!(e & 1) || (e & 0x80))
		return ~0ULL; /* no 1 GiB pages: not every CPU has them */
	e = guest64(mm, (e & 0xffffffffff000ULL) + ((va >> 21) & 511) * 8);
	if (!(e & 1) || !(e & 0x80) || !(e & 2))
		return ~0ULL;
	return (e & 0xfffffffe00000ULL) + (va & (2 * M - 1));
}

static void test_page_tables(void **state)
{
	struct image_opts o = default_opts();
	struct load l;
	uint64_t va;

	(void)state;
	load_setup(&l, 4 * G, 0, &o, 1 * M);
	load_ok(&l);
	for (va = 0; va < 4 * G; va += 2 * M) {
		assert_int_equal(translate(&l.mm, l.entry.cr3, va), va);
		assert_int_equal(translate(&l.mm, l.entry.cr3, va + 2 * M - 1), va + 2 * M - 1);
	}
	/* Nothing else: the kernel builds its own tables for the rest. */
	assert_int_equal(translate(&l.mm, l.entry.cr3, 4 * G), ~0ULL);
	assert_int_equal(translate(&l.mm, l.entry.cr3, 512 * G), ~0ULL);
	load_teardown(&l);
}

static void check_descriptor(uint64_t d, bool code)
{
	uint64_t base = ((d >> 16) & 0xffffff) | ((d >> 56) << 24);
	uint64_t limit = (d & 0xffff) | ((d >> 48) & 0xf) << 16;
	unsigned int type = (d >> 40) & 0xf;

	assert_int_equal(base, 0);
	assert_int_equal(limit, 0xfffff);
	assert_true(d & (1ULL << 55)); /* G: 4 GiB */
	assert_true(d & (1ULL << 47)); /* present */
	assert_true(d & (1ULL << 44)); /* code or data, not system */
	assert_int_equal((d >> 45) & 3, 0);
	if (code) {
		assert_int_equal(type & 0xa, 0xa);     /* execute/read */
		assert_true(d & (1ULL << 53));	       /* L: 64-bit */
		assert_int_equal(d & (1ULL << 54), 0); /* D must be clear with L */
	} else {
		assert_int_equal(type & 0xa, 0x2); /* data, writable */
		assert_true(d & (1ULL << 54));	   /* B: 32-bit stack */
	}
}

static void test_gdt(void **state)
{
	struct image_opts o = default_opts();
	struct load l;

	(void)state;
	load_setup(&l, 64 * M, 0, &o, 0);
	load_ok(&l);
	assert_true(l.entry.gdt_limit >= 0x18 + 7);
	assert_int_equal(guest64(&l.mm, l.entry.gdt_base), 0);
	check_descriptor(guest64(&l.mm, l.entry.gdt_base + l.entry.cs_sel), true);
	check_descriptor(guest64(&l.mm, l.entry.gdt_base + l.entry.ds_sel), false);
	load_teardown(&l);
}

/* e820 */

static void check_e820(uint64_t mem, uint64_t maxmem, uint64_t granule)
{
	struct linux_e820_entry tab[LINUX_E820_MAX];
	uint64_t ram = 0, want = 0;
	bool ecam = false, legacy = false;
	struct memmap mm;
	unsigned int n, i, j;

	map_init(&mm, mem, maxmem, granule);
	assert_int_equal(linux_build_e820(&mm, tab, LINUX_E820_MAX, &n), 0);
	assert_true(n >= 3 && n <= LINUX_E820_MAX);
	for (i = 0; i < n; i++) {
		const struct linux_e820_entry *e = &tab[i];

		assert_true(e->size > 0);
		if (i > 0)
			assert_true(tab[i - 1].addr + tab[i - 1].size <= e->addr);
		/* The hotplug window is ACPI's business, not e820's. */
		assert_true(e->addr + e->size <= mm.dimm_base || e->addr >= mm.dimm_end);
		if (e->type == LINUX_E820_RESERVED) {
			ecam = ecam ||
			       (e->addr == PLATFORM_ECAM_BASE && e->size == PLATFORM_ECAM_SIZE);
			legacy = legacy || (e->addr == LINUX_LEGACY_START &&
					    e->addr + e->size == LINUX_LEGACY_END);
			continue;
		}
		assert_int_equal(e->type, LINUX_E820_RAM);
		ram += e->size;
		/* Usable RAM lies inside plugged boot RAM, clear of the legacy area. */
		for (j = 0; j < mm.nregions; j++) {
			const struct memmap_region *r = &mm.region[j];

			if (e->addr >= r->gpa && e->addr + e->size <= r->gpa + r->size)
				break;
		}
		assert_true(j < mm.nregions);
		assert_true(mm.region[j].plugged && mm.region[j].kind != MEMMAP_DIMM);
		assert_true(e->addr + e->size <= LINUX_LEGACY_START || e->addr >= LINUX_LEGACY_END);
	}
	for (j = 0; j < mm.nregions; j++)
		if (mm.region[j].kind != MEMMAP_DIMM)
			want += mm.region[j].size;
	assert_int_equal(ram, want - (LINUX_LEGACY_END - LINUX_LEGACY_START));
	assert_int_equal(want, mem);
	assert_true(ecam);
	assert_true(legacy);
	memmap_destroy(&mm);
}

static void test_e820_layouts(void **state)
{
	(void)state;
	check_e820(64 * M, 0, 4 * K);
	check_e820(256 * M, 0, 2 * M);
	check_e820(3 * G, 0, 2 * M);
	check_e820(4 * G, 0, 2 * M); /* 3 GiB below the hole, 1 GiB above 4 GiB */
	check_e820(8 * G, 16 * G, 2 * M);
	check_e820(2 * G, 0, 1 * G);
}

static void test_e820_exact(void **state)
{
	struct linux_e820_entry tab[LINUX_E820_MAX];
	struct memmap mm;
	unsigned int n;

	(void)state;
	map_init(&mm, 4 * G, 0, 0);
	assert_int_equal(linux_build_e820(&mm, tab, LINUX_E820_MAX, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(tab[0].addr, 0);
	assert_int_equal(tab[0].size, 0x9FC00);
	assert_int_equal(tab[0].type, LINUX_E820_RAM);
	assert_int_equal(tab[1].addr, 0x9FC00);
	assert_int_equal(tab[1].size, 0x100000 - 0x9FC00);
	assert_int_equal(tab[1].type, LINUX_E820_RESERVED);
	assert_int_equal(tab[2].addr, 0x100000);
	assert_int_equal(tab[2].size, 3 * G - 0x100000);
	assert_int_equal(tab[2].type, LINUX_E820_RAM);
	assert_int_equal(tab[3].addr, PLATFORM_ECAM_BASE);
	assert_int_equal(tab[3].size, PLATFORM_ECAM_SIZE);
	assert_int_equal(tab[3].type, LINUX_E820_RESERVED);
	assert_int_equal(tab[4].addr, 4 * G);
	assert_int_equal(tab[4].size, 1 * G);
	assert_int_equal(tab[4].type, LINUX_E820_RAM);
	assert_int_equal(linux_build_e820(&mm, tab, 4, &n), -ENOSPC);
	memmap_destroy(&mm);
}

/* A DIMM plugged before boot still reaches the guest through ACPI only. */
static void test_e820_plugged_dimm(void **state)
{
	struct linux_e820_entry tab[LINUX_E820_MAX];
	struct error err = {0};
	struct memmap mm;
	unsigned int n, i, dimm;

	(void)state;
	map_init(&mm, 1 * G, 2 * G, 0);
	if (memmap_start(&mm, &err))
		fail_msg("memmap_start: %s", err.msg);
	for (dimm = 0; dimm < mm.nregions && mm.region[dimm].kind != MEMMAP_DIMM; dimm++)
		;
	assert_true(dimm < mm.nregions);
	if (memmap_plug(&mm, dimm, &err))
		fail_msg("memmap_plug: %s", err.msg);
	assert_int_equal(linux_build_e820(&mm, tab, LINUX_E820_MAX, &n), 0);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++)
		assert_true(tab[i].addr + tab[i].size <= mm.dimm_base);
	memmap_destroy(&mm);
}

/* The boot structures sit in usable RAM, so the kernel may use them once it has copied. */
static void test_low_structures_in_ram(void **state)
{
	static const uint64_t area[][2] = {
		{LINUX_GDT_GPA, 32},
		{LINUX_ZERO_PAGE_GPA, 4096},
		{LINUX_STACK_TOP - 4096, 4096},
		{LINUX_PML4_GPA, 4096},
		{LINUX_PDPT_GPA, 4096},
		{LINUX_PD_GPA, LINUX_PD_COUNT * 4096},
		{LINUX_CMDLINE_GPA, LINUX_CMDLINE_AREA},
	};
	struct linux_e820_entry tab[LINUX_E820_MAX];
	struct memmap mm;
	unsigned int n, i, j;

	(void)state;
	map_init(&mm, 64 * M, 0, 4 * K);
	assert_int_equal(linux_build_e820(&mm, tab, LINUX_E820_MAX, &n), 0);
	for (i = 0; i < sizeof(area) / sizeof(area[0]); i++) {
		for (j = 0; j < n; j++)
			if (tab[j].type == LINUX_E820_RAM && area[i][0] >= tab[j].addr &&
			    area[i][0] + area[i][1] <= tab[j].addr + tab[j].size)
				break;
		assert_true(j < n);
		for (j = i + 1; j < sizeof(area) / sizeof(area[0]); j++)
			assert_true(area[i][0] + area[i][1] <= area[j][0]);
	}
	memmap_destroy(&mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_entry_and_kernel),
		cmocka_unit_test(test_load_zero_page),
		cmocka_unit_test(test_load_zero_page_e820),
		cmocka_unit_test(test_load_initrd),
		cmocka_unit_test(test_load_no_cmdline),
		cmocka_unit_test(test_load_cmdline_at_limit),
		cmocka_unit_test(test_load_setup_sects_zero),
		cmocka_unit_test(test_load_relocated),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_initrd_addr_max),
		cmocka_unit_test(test_initrd_below_kernel),
		cmocka_unit_test(test_initrd_above_4g_flag),
		cmocka_unit_test(test_page_tables),
		cmocka_unit_test(test_gdt),
		cmocka_unit_test(test_e820_layouts),
		cmocka_unit_test(test_e820_exact),
		cmocka_unit_test(test_e820_plugged_dimm),
		cmocka_unit_test(test_low_structures_in_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
