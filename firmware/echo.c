// SPDX-License-Identifier: MIT
/*
 * Echoes every byte received on COM1 until 'q': tests the path stdin -> UART -> guest and
 * keeps a guest running for as long as a test needs to look at the monitor.
 */
#include "fwlib.h"

int main(struct bootinfo *bi)
{
	char c;

	if (fw_check_bootinfo(bi))
		return 1;
	fw_puts("echo: ready\n");
	while ((c = fw_getc()) != 'q')
		fw_putc(c);
	fw_puts("echo: bye\n");
	return 0;
}
