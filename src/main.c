// SPDX-License-Identifier: MIT
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "control/ctl.h"
#include "vm.h"

/* The VM's configuration from the command line's. */
static void main_vm_config(const struct cli_config *c, struct vm_config *v)
{
	static const enum console_kind console[] = {
		[CLI_CONSOLE_STDIO] = CONSOLE_STDIO,
		[CLI_CONSOLE_NONE] = CONSOLE_NONE,
		[CLI_CONSOLE_FILE] = CONSOLE_FILE,
	};

	*v = (struct vm_config){
		.mem = {.mem = c->mem,
			.maxmem = c->maxmem,
			.granule = c->granule,
			.slots = c->slots,
			.hugepages = c->hugepages},
		.hugepages_given = c->hugepages_given,
		.cpus = c->cpus,
		.firmware = c->firmware,
		.kernel = c->kernel,
		.initrd = c->initrd,
		.cmdline = c->cmdline,
		.console = console[c->console],
		.console_path = c->console_path,
		.balloon = c->balloon,
		.balloon_cfg =
			{
				.stats = c->balloon_stats,
				.deflate_on_oom = c->balloon_deflate_on_oom,
				.free_page_reporting = c->balloon_free_page_reporting,
			},
		.qmp = c->qmp,
		.nvfio = c->nvfio,
		.vfio = c->vfio,
		.user = c->user,
		.sandbox = c->sandbox,
	};
}

int main(int argc, char **argv)
{
	struct cli_config cfg;
	struct vm_config vcfg;
	struct error err = {0};
	struct vm *vm;
	int status;

	/* One malloc arena for every thread: glibc gives each thread that allocates an arena
	 * of its own, whose first pages (52-72 KiB each, the vCPU threads') stay resident for
	 * nothing; slabvm's threads allocate little and rarely (docs/bench.md, "Start-up"). */
	mallopt(M_ARENA_MAX, 1);
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
		return STOP_STATUS_USAGE;
	case CLI_RUN:
		break;
	}
	main_vm_config(&cfg, &vcfg);
	status = vm_create(&vm, &vcfg, &err);
	if (status) {
		fprintf(stderr, "slabvm: %s\n", err.msg);
		return status;
	}
	/* Guest output and our messages share the terminal: don't let stdio reorder them. */
	setvbuf(stdout, NULL, _IONBF, 0);
	status = vm_run(vm);
	vm_destroy(vm);
	return status;
}
