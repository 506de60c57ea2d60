// SPDX-License-Identifier: MIT
/* Exits with the status given as "exit=N" on the command line: tests the exit path. With
 * "triple-fault=1" it resets the machine the hard way instead: an exception with an empty
 * IDT becomes a double fault, then a triple fault. */
#include "fwlib.h"

/* Distinct from every status slabvm itself uses (0-4, 128+N). */
#define EXITCODE_BAD_CMDLINE 100

static __attribute__((noreturn)) void triple_fault(void)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = {0, 0};

	__asm__ volatile("lidt %0\n\tud2" : : "m"(no_idt));
	__builtin_unreachable();
}

int main(struct bootinfo *bi)
{
	uint64_t code;

	if (fw_check_bootinfo(bi))
		return 1;
	if (!fw_cmdline_u64(bi->cmdline, "triple-fault", &code) && code) {
		fw_puts("exitcode: triple fault\n");
		triple_fault();
	}
	if (fw_cmdline_u64(bi->cmdline, "exit", &code) || code > 255) {
		fw_puts("exitcode: want exit=N with N in 0..255 on the command line\n");
		return EXITCODE_BAD_CMDLINE;
	}
	fw_printf("exitcode: exiting with %u\n", (unsigned int)code);
	return (int)code;
}
