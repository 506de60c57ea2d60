// SPDX-License-Identifier: MIT
#include "kvm/boot.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootinfo.h"
#include "kvm/vcpu.h"
#include "mem/memmap.h"
#include "x86/identity_map.h"
#include "x86/linux.h"
#include "x86/x86.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10

/* Offsets inside the firmware area. */
#define FW_OFF(gpa) ((gpa)-BOOTINFO_FW_BASE)
#define FW_PT_END (BOOTINFO_STACK_TOP - BOOTINFO_STACK_SIZE)

static void *boot_fw_ptr(uint8_t *area, uint64_t gpa)
{
	return area + FW_OFF(gpa);
}

/* The identity map of x86/identity_map.c between the GDT and the stack. */
static int boot_page_tables(const struct boot_firmware_config *cfg, struct error *err)
{
	uint64_t pages = x86_identity_map_pages(cfg->map_end, cfg->gib_pages);
	uint64_t room = (FW_PT_END - BOOTINFO_PT_GPA) / 4096;

	if (!pages || pages > room)
		return error_usage(
			err, -EINVAL,
			"firmware guests can address up to %llu GiB with %s pages; "
			"this map ends at %llu GiB",
			(unsigned long long)(cfg->gib_pages ? 512 * (room - 1) : room - 2),
			cfg->gib_pages ? "1 GiB" : "2 MiB",
			(unsigned long long)((cfg->map_end + (1ULL << 30) - 1) >> 30));
	x86_identity_map(boot_fw_ptr(cfg->area, BOOTINFO_PT_GPA), BOOTINFO_PT_GPA, cfg->map_end,
			 cfg->gib_pages);
	return 0;
}

static void boot_bootinfo(const struct boot_firmware_config *cfg)
{
	struct bootinfo *bi = boot_fw_ptr(cfg->area, BOOTINFO_GPA);
	const struct memmap *mm = cfg->mm;
	unsigned int i, n = 0;

	memset(bi, 0, sizeof(*bi));
	bi->magic = BOOTINFO_MAGIC;
	bi->version = BOOTINFO_VERSION;
	bi->granule = mm->granule;
	bi->ncpus = cfg->ncpus;
	for (i = 0; i < mm->nregions && n < BOOTINFO_MAX_REGIONS; i++, n++) {
		const struct memmap_region *r = &mm->region[i];

		bi->region[n].base = r->gpa;
		bi->region[n].size = r->size;
		bi->region[n].kind = r->kind == MEMMAP_RAM_LOW	  ? BOOTINFO_RAM_LOW
				     : r->kind == MEMMAP_RAM_HIGH ? BOOTINFO_RAM_HIGH
								  : BOOTINFO_DIMM;
		bi->region[n].plugged = r->plugged;
	}
	bi->nregions = n;
	if (cfg->cmdline) {
		strncpy(bi->cmdline, cfg->cmdline, sizeof(bi->cmdline) - 1);
		bi->cmdline[sizeof(bi->cmdline) - 1] = '\0';
	}
}

/* The firmware path's entry state, in the form linux_load gives it for a kernel. */
static void boot_firmware_entry(struct linux_entry *e)
{
	*e = (struct linux_entry){
		.rip = BOOTINFO_LOAD_GPA,
		.rsi = 0,
		.rsp = BOOTINFO_STACK_TOP,
		.rflags = X86_RFLAGS_RESERVED,
		.cr0 = X86_CR0_LONG_MODE,
		.cr3 = BOOTINFO_PT_GPA,
		.cr4 = X86_CR4_PAE,
		.efer = X86_EFER_LME | X86_EFER_LMA,
		.gdt_base = BOOTINFO_GDT_GPA,
		.gdt_limit = 3 * 8 - 1,
		.cs_sel = SEL_CODE,
		.ds_sel = SEL_DATA,
	};
}

int boot_firmware(const struct boot_firmware_config *cfg, struct vcpu *bsp, struct error *err)
{
	uint64_t *gdt = boot_fw_ptr(cfg->area, BOOTINFO_GDT_GPA);
	struct linux_entry entry;
	int ret;

	if (cfg->size == 0 || cfg->size > BOOTINFO_IMAGE_MAX)
		return error_usage(err, -EINVAL,
				   "firmware image of %zu bytes: must be 1 to %llu bytes",
				   cfg->size, (unsigned long long)BOOTINFO_IMAGE_MAX);
	if (cfg->cmdline && strlen(cfg->cmdline) >= BOOTINFO_CMDLINE_MAX)
		return error_usage(err, -EINVAL, "--cmdline: longer than %d bytes",
				   BOOTINFO_CMDLINE_MAX - 1);
	gdt[0] = 0;
	gdt[1] = X86_GDT_CODE64;
	gdt[2] = X86_GDT_DATA;
	ret = boot_page_tables(cfg, err);
	if (ret)
		return ret;
	boot_bootinfo(cfg);
	memcpy(boot_fw_ptr(cfg->area, BOOTINFO_LOAD_GPA), cfg->image, cfg->size);
	boot_firmware_entry(&entry);
	return boot_enter(bsp, &entry, BOOTINFO_GPA, err);
}

int boot_enter(struct vcpu *bsp, const struct linux_entry *e, uint64_t rdi, struct error *err)
{
	struct kvm_segment code = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = e->cs_sel,
		.type = 11,
		.present = 1,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_regs regs = {
		.rip = e->rip,
		.rsi = e->rsi,
		.rdi = rdi,
		.rsp = e->rsp,
		.rflags = e->rflags,
	};
	struct kvm_sregs s;

	data.selector = e->ds_sel;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	if (ioctl(bsp->fd, KVM_GET_SREGS, &s) < 0)
		return error_set(err, -errno, "KVM_GET_SREGS: %s", strerror(errno));
	s.gdt.base = e->gdt_base;
	s.gdt.limit = e->gdt_limit;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.cr0 = e->cr0;
	s.cr3 = e->cr3;
	s.cr4 = e->cr4;
	s.efer = e->efer;
	if (ioctl(bsp->fd, KVM_SET_SREGS, &s) < 0)
		return error_set(err, -errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(bsp->fd, KVM_SET_REGS, &regs) < 0)
		return error_set(err, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int boot_file_open(struct boot_file *f, const char *option, const char *path, uint64_t max,
		   struct error *err)
{
	struct stat st;
	int fd, ret = 0;

	f->data = NULL;
	f->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_usage(err, -EINVAL, "%s %s: %s", option, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = error_usage(err, -EINVAL, "%s %s: not a regular file", option, path);
		goto out;
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > max) {
		ret = error_usage(err, -EINVAL, "%s %s: %lld bytes; it may have 1 to %llu", option,
				  path, (long long)st.st_size, (unsigned long long)max);
		goto out;
	}
	/* Mapped, not read: an initrd can be large, and it is copied once, into the guest. */
	f->data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		ret = error_set(err, -errno, "%s %s: mmap: %s", option, path, strerror(errno));
		goto out;
	}
	f->size = (size_t)st.st_size;
out:
	close(fd);
	return ret;
}

void boot_file_close(struct boot_file *f)
{
	if (f->data)
		munmap(f->data, f->size);
	f->data = NULL;
	f->size = 0;
}
