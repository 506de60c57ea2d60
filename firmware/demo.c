// SPDX-License-Identifier: MIT
/*
 * The guest `slabvm run` boots when no kernel is given: it shows that the monitor works and
 * what memory map it hands a guest. Output is parsed by tests/guest/test_demo.py.
 */
#include "fwlib.h"

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case BOOTINFO_RAM_LOW:
		return "low";
	case BOOTINFO_RAM_HIGH:
		return "high";
	case BOOTINFO_DIMM:
		return "dimm";
	}
	return "?";
}

int main(struct bootinfo *bi)
{
	fw_puts("slabvm demo guest\n");
	fw_puts("Hello from a tiny firmware in 64-bit long mode. This is my memory:\n");
	if (fw_check_bootinfo(bi))
		return 1;
	fw_printf("granule: %lu bytes\n", (unsigned long)bi->granule);
	fw_printf("cpus: %u\n", bi->ncpus);
	if (bi->cmdline[0]) {
		fw_puts("cmdline: ");
		for (size_t i = 0; i < BOOTINFO_CMDLINE_MAX && bi->cmdline[i]; i++)
			fw_putc(bi->cmdline[i]);
		fw_putc('\n');
	}
	fw_printf("regions: %u\n", bi->nregions);
	for (uint32_t i = 0; i < bi->nregions; i++) {
		const struct bootinfo_region *r = &bi->region[i];

		fw_printf("  %-4s 0x%016lx..0x%016lx %6lu MiB %s\n", kind_name(r->kind),
			  (unsigned long)r->base, (unsigned long)(r->base + r->size),
			  (unsigned long)(r->size >> 20), r->plugged ? "plugged" : "unplugged");
	}
	fw_puts("demo: done\n");
	return 0;
}
