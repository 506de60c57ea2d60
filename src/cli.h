/* SPDX-License-Identifier: MIT */
/*
 * The command line: `slabvm run [OPTIONS]`, `slabvm --help`, `slabvm --version`.
 * Parsing is pure (no side effects but the result), so the unit tests drive it directly.
 * Bad input gives CLI_USAGE and a one-line message naming the option and the value;
 * main() prints it and exits with status 2.
 */
#ifndef SLABVM_CLI_H
#define SLABVM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "mem/hugepages.h"

#define CLI_MAX_SLOTS 64 /* the DSDT's PNP0C80 devices (MEMHP_MAX_SLOTS) */
#define CLI_MAX_CPUS 255 /* xAPIC IDs are 8 bits and 0xff is broadcast */
#define CLI_DEFAULT_MEM (256ULL << 20)
#define CLI_MAX_VFIO 16 /* as many devices as one vfio container holds */

enum cli_action {
	CLI_RUN,
	CLI_HELP,
	CLI_VERSION,
	CLI_USAGE, /* bad input: err says why */
};

enum cli_console {
	CLI_CONSOLE_STDIO, /* guest output to stdout, stdin to the guest */
	CLI_CONSOLE_NONE,  /* output discarded, no input */
	CLI_CONSOLE_FILE,  /* output appended to a file, no input */
};

struct cli_config {
	uint64_t mem;
	uint64_t maxmem;    /* 0: no hotplug window */
	unsigned int slots; /* DIMM slots in the window; set exactly when maxmem > mem */
	uint64_t granule;   /* 0: default */
	struct hugepages_config hugepages; /* default thp */
	bool hugepages_given;		   /* --hugepages was on the command line */
	unsigned int cpus;
	const char *firmware; /* NULL: the embedded demo guest, unless kernel is set */
	const char *kernel;   /* a Linux bzImage */
	const char *initrd;
	const char *cmdline;
	enum cli_console console;
	const char *console_path;
	bool balloon; /* a virtio-balloon device, with these optional features: */
	bool balloon_stats;
	bool balloon_deflate_on_oom;
	bool balloon_free_page_reporting;
	const char *qmp; /* control socket path */
	/* --vfio BDFs in order, as given: the vfio layer parses them when it opens them */
	unsigned int nvfio;
	const char *vfio[CLI_MAX_VFIO];
	const char *user; /* --user USER[:GROUP]; NULL: the default (host/caps.h) */
	bool sandbox;	  /* seccomp filters after setup (host/sandbox.h) */
};

enum cli_action cli_parse(int argc, char **argv, struct cli_config *cfg, struct error *err);

/* "512M", "2G", "4096", "4k": binary suffixes K M G T. -EINVAL or -ERANGE otherwise. */
int cli_parse_size(const char *s, uint64_t *out);

extern const char cli_usage[];

#endif
