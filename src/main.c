// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "control/ctl.h"
#include "vm.h"

int main(int argc, char **argv)
{
	struct cli_config cfg;
	struct error err = {0};
	struct vm vm;
	int status;

	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc - 2, argv + 2);
	switch (cli_parse(argc, argv, &cfg, &err)) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		return 0;
	case CLI_VERSION:
		printf("slabvm %s\n", SLABVM_VERSION);
		return 0;
	case CLI_USAGE:
		fprintf(stderr, "slabvm: %s\n", err.msg);
		return VM_STATUS_USAGE;
	case CLI_RUN:
		break;
	}
	status = vm_create(&vm, &cfg, &err);
	if (status) {
		fprintf(stderr, "slabvm: %s\n", err.msg);
		return status;
	}
	/* Guest output and our messages share the terminal: don't let stdio reorder them. */
	setvbuf(stdout, NULL, _IONBF, 0);
	status = vm_run(&vm);
	vm_destroy(&vm);
	return status;
}
