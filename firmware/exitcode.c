// SPDX-License-Identifier: MIT
/* Exits with the status given as "exit=N" on the command line: tests the exit path. */
#include "fwlib.h"

/* Distinct from every status slabvm itself uses (0-4, 128+N). */
#define EXITCODE_BAD_CMDLINE 100

int main(struct bootinfo *bi)
{
	uint64_t code;

	if (fw_check_bootinfo(bi))
		return 1;
	if (fw_cmdline_u64(bi->cmdline, "exit", &code) || code > 255) {
		fw_puts("exitcode: want exit=N with N in 0..255 on the command line\n");
		return EXITCODE_BAD_CMDLINE;
	}
	fw_printf("exitcode: exiting with %u\n", (unsigned int)code);
	return (int)code;
}
