// SPDX-License-Identifier: MIT
#include "cli.h"

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/size.h"

const char cli_usage[] =
	"usage: slabvm run [OPTIONS]\n"
	"       slabvm ctl SOCKET COMMAND [NAME=VALUE ...]\n"
	"       slabvm --help | --version\n"
	"\n"
	"Run a virtual machine: a Linux kernel, a firmware image, or by default the built-in\n"
	"demo guest.\n"
	"\n"
	"  -m, --mem SIZE        boot RAM (default 256M); SIZE takes K, M, G or T\n"
	"      --maxmem SIZE     boot RAM plus a hotplug window for DIMMs (default: --mem);\n"
	"                        needs --slots\n"
	"      --slots N         DIMM slots in the hotplug window, 1 to 64 (QMP device_add)\n"
	"  -g, --granule SIZE    IOMMU mapping granule, a power of two from 4K to 1G\n"
	"                        (default 2M); RAM sizes must be multiples of it\n"
	"      --hugepages KIND  what backs guest RAM: thp (default: transparent huge pages,\n"
	"                        shmem where the host's shmem_enabled allows, else anonymous\n"
	"                        memory for boot RAM where its THP enabled allows),\n"
	"                        off (4K pages), hugetlb or hugetlb:1G (reserved huge pages of\n"
	"                        2M or 1G: needs a granule and RAM sizes of whole huge pages\n"
	"                        and enough free ones in /proc/sys/vm/nr_hugepages)\n"
	"  -c, --cpus N          number of vCPUs, 1 to 255 (default 1)\n"
	"  -k, --kernel FILE     boot a Linux bzImage (64-bit boot protocol)\n"
	"  -i, --initrd FILE     initial ramdisk for --kernel\n"
	"  -f, --firmware FILE   run a freestanding 64-bit guest image (see firmware/)\n"
	"      --cmdline STRING  command line handed to the kernel or firmware\n"
	"      --console WHERE   stdio (default), none, or file:PATH\n"
	"      --balloon[=FEATURES]  add a virtio-balloon device; FEATURES is a comma list of\n"
	"                        stats, deflate-on-oom, free-page-reporting (default: stats,\n"
	"                        free-page-reporting; deflate-on-oom is off as in QEMU)\n"
	"      --qmp PATH        QMP control socket (mode 0600); see also: slabvm ctl\n"
	"      --vfio BDF        assign the host PCI function BDF (0000:00:03.0 or 00:03.0),\n"
	"                        bound to vfio-pci; repeatable\n"
	"      --user USER[:GROUP]  after setup run as this user and group (names or ids)\n"
	"                        with no supplementary groups; started as root, the default\n"
	"                        is nobody with its primary group; otherwise the user stays\n"
	"      --sandbox on|off  seccomp allow-lists per thread after setup (default on);\n"
	"                        off only for debugging\n"
	"  -h, --help            show this help\n"
	"  -V, --version         show the version\n"
	"\n"
	"On a terminal the console is raw: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
	"Exit status: the guest's debug-exit value, 0 on power-off, 1 on a monitor error,\n"
	"2 on bad usage, 3 when the guest resets, 4 on a vCPU error, 128+N on signal N\n"
	"(159, SIGSYS: a system call the sandbox forbids, named on stderr).\n";

enum {
	OPT_MAXMEM = 256,
	OPT_CMDLINE,
	OPT_CONSOLE,
	OPT_BALLOON,
	OPT_QMP,
	OPT_SLOTS,
	OPT_VFIO,
	OPT_USER,
	OPT_SANDBOX,
	OPT_HUGEPAGES,
};

static const struct option cli_options[] = {
	{"mem", required_argument, NULL, 'm'},
	{"maxmem", required_argument, NULL, OPT_MAXMEM},
	{"granule", required_argument, NULL, 'g'},
	{"cpus", required_argument, NULL, 'c'},
	{"firmware", required_argument, NULL, 'f'},
	{"kernel", required_argument, NULL, 'k'},
	{"initrd", required_argument, NULL, 'i'},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"balloon", optional_argument, NULL, OPT_BALLOON},
	{"qmp", required_argument, NULL, OPT_QMP},
	{"slots", required_argument, NULL, OPT_SLOTS},
	{"vfio", required_argument, NULL, OPT_VFIO},
	{"user", required_argument, NULL, OPT_USER},
	{"sandbox", required_argument, NULL, OPT_SANDBOX},
	{"hugepages", required_argument, NULL, OPT_HUGEPAGES},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

int cli_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (toupper((unsigned char)*p)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1] != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int cli_size_arg(const char *opt, const char *arg, uint64_t *out, struct error *err)
{
	int ret = cli_parse_size(arg, out);

	if (ret == -ERANGE)
		return error_set(err, ret, "--%s %s: too large", opt, arg);
	if (ret)
		return error_set(
			err, ret,
			"--%s %s: not a size (a number with an optional K, M, G or T suffix)", opt,
			arg);
	if (*out == 0)
		return error_set(err, -EINVAL, "--%s %s: must not be zero", opt, arg);
	return 0;
}

static int cli_console_arg(const char *arg, struct cli_config *cfg, struct error *err)
{
	if (!strcmp(arg, "stdio")) {
		cfg->console = CLI_CONSOLE_STDIO;
	} else if (!strcmp(arg, "none")) {
		cfg->console = CLI_CONSOLE_NONE;
	} else if (!strncmp(arg, "file:", 5) && arg[5]) {
		cfg->console = CLI_CONSOLE_FILE;
		cfg->console_path = arg + 5;
	} else {
		return error_set(err, -EINVAL, "--console %s: use stdio, none or file:PATH", arg);
	}
	return 0;
}

static int cli_balloon_arg(const char *arg, struct cli_config *cfg, struct error *err)
{
	const char *p = arg;

	cfg->balloon = true;
	cfg->balloon_stats = true;
	cfg->balloon_free_page_reporting = true;
	cfg->balloon_deflate_on_oom = false;
	if (!arg)
		return 0;
	/* An explicit list replaces the defaults. */
	cfg->balloon_stats = cfg->balloon_free_page_reporting = false;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 5 && !strncmp(p, "stats", n))
			cfg->balloon_stats = true;
		else if (n == 14 && !strncmp(p, "deflate-on-oom", n))
			cfg->balloon_deflate_on_oom = true;
		else if (n == 19 && !strncmp(p, "free-page-reporting", n))
			cfg->balloon_free_page_reporting = true;
		else if (n != 0)
			return error_set(err, -EINVAL,
					 "--balloon=%s: unknown feature '%.*s' (use stats, "
					 "deflate-on-oom, free-page-reporting)",
					 arg, (int)n, p);
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int cli_cpus_arg(const char *arg, unsigned int *out, struct error *err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!isdigit((unsigned char)arg[0]) || *end || errno || v < 1 || v > CLI_MAX_CPUS)
		return error_set(err, -EINVAL, "--cpus %s: must be a number from 1 to %d", arg,
				 CLI_MAX_CPUS);
	*out = (unsigned int)v;
	return 0;
}

static int cli_slots_arg(const char *arg, unsigned int *out, struct error *err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!isdigit((unsigned char)arg[0]) || *end || errno || v < 1 || v > CLI_MAX_SLOTS)
		return error_set(err, -EINVAL, "--slots %s: must be a number from 1 to %d", arg,
				 CLI_MAX_SLOTS);
	*out = (unsigned int)v;
	return 0;
}

/* The option as the user wrote it, for messages: "--mem" for both -m and --mem. */
static const char *cli_option_name(int c)
{
	const struct option *o;

	for (o = cli_options; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

enum cli_action cli_parse(int argc, char **argv, struct cli_config *cfg, struct error *err)
{
	int c, ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mem = CLI_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->console = CLI_CONSOLE_STDIO;
	cfg->sandbox = true;
	cfg->hugepages.mode = HUGEPAGES_THP;

	if (argc < 2) {
		error_set(err, -EINVAL, "missing command (try: slabvm run, or slabvm --help)");
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return CLI_HELP;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return CLI_VERSION;
	if (strcmp(argv[1], "run")) {
		error_set(err, -EINVAL, "%s: unknown command (try: slabvm run, or slabvm --help)",
			  argv[1]);
		return CLI_USAGE;
	}

	/* getopt_long keeps state in globals: reset them so parsing can run more than once. */
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:g:c:f:k:i:hV", cli_options, NULL)) != -1) {
		switch (c) {
		case 'm':
			ret = cli_size_arg("mem", optarg, &cfg->mem, err);
			break;
		case OPT_MAXMEM:
			ret = cli_size_arg("maxmem", optarg, &cfg->maxmem, err);
			break;
		case OPT_SLOTS:
			ret = cli_slots_arg(optarg, &cfg->slots, err);
			break;
		case 'g':
			ret = cli_size_arg("granule", optarg, &cfg->granule, err);
			break;
		case 'c':
			ret = cli_cpus_arg(optarg, &cfg->cpus, err);
			break;
		case 'f':
			if (!*optarg)
				ret = error_set(err, -EINVAL, "--firmware: empty file name");
			cfg->firmware = optarg;
			break;
		case 'k':
			if (!*optarg)
				ret = error_set(err, -EINVAL, "--kernel: empty file name");
			cfg->kernel = optarg;
			break;
		case 'i':
			if (!*optarg)
				ret = error_set(err, -EINVAL, "--initrd: empty file name");
			cfg->initrd = optarg;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = optarg;
			break;
		case OPT_CONSOLE:
			ret = cli_console_arg(optarg, cfg, err);
			break;
		case OPT_BALLOON:
			ret = cli_balloon_arg(optarg, cfg, err);
			break;
		case OPT_QMP:
			if (!*optarg)
				ret = error_set(err, -EINVAL, "--qmp: empty socket path");
			cfg->qmp = optarg;
			break;
		case OPT_VFIO:
			if (!*optarg)
				ret = error_set(err, -EINVAL, "--vfio: empty device address");
			else if (cfg->nvfio == CLI_MAX_VFIO)
				ret = error_set(err, -EINVAL, "--vfio %s: at most %u devices",
						optarg, CLI_MAX_VFIO);
			else
				cfg->vfio[cfg->nvfio++] = optarg;
			break;
		case OPT_USER:
			/* Names are looked up when the VM starts (host/caps.h); only the shape
			 * here. */
			if (!*optarg || *optarg == ':' || optarg[strlen(optarg) - 1] == ':' ||
			    strchr(optarg, ':') != strrchr(optarg, ':'))
				ret = error_set(err, -EINVAL, "--user %s: use USER or USER:GROUP",
						optarg);
			cfg->user = optarg;
			break;
		case OPT_SANDBOX:
			if (!strcmp(optarg, "on") || !strcmp(optarg, "off"))
				cfg->sandbox = !strcmp(optarg, "on");
			else
				ret = error_set(err, -EINVAL, "--sandbox %s: use on or off",
						optarg);
			break;
		case OPT_HUGEPAGES:
			ret = hugepages_parse(optarg, &cfg->hugepages, err);
			cfg->hugepages_given = true;
			break;
		case 'h':
			return CLI_HELP;
		case 'V':
			return CLI_VERSION;
		case ':':
			if (optopt)
				error_set(err, -EINVAL, "--%s: missing value",
					  cli_option_name(optopt));
			else
				error_set(err, -EINVAL, "%s: missing value", argv[optind - 1]);
			return CLI_USAGE;
		default:
			if (optopt)
				error_set(err, -EINVAL, "-%c: unknown option", optopt);
			else
				error_set(err, -EINVAL, "%s: unknown option", argv[optind - 1]);
			return CLI_USAGE;
		}
		if (ret)
			return CLI_USAGE;
	}
	if (optind < argc) {
		error_set(err, -EINVAL, "%s: unexpected argument", argv[optind]);
		return CLI_USAGE;
	}
	if (cfg->kernel && cfg->firmware) {
		error_set(err, -EINVAL, "--kernel %s and --firmware %s: choose one", cfg->kernel,
			  cfg->firmware);
		return CLI_USAGE;
	}
	if (cfg->initrd && !cfg->kernel) {
		error_set(err, -EINVAL, "--initrd %s: needs --kernel", cfg->initrd);
		return CLI_USAGE;
	}
	if (cfg->maxmem && cfg->maxmem < cfg->mem) {
		error_set(err, -EINVAL, "--maxmem %s: smaller than --mem %s",
			  size_str(cfg->maxmem).s, size_str(cfg->mem).s);
		return CLI_USAGE;
	}
	/* As QEMU's -m size,slots=N,maxmem=M: a window without slots could take no DIMM, and
	 * slots without a window would have nothing to hold. */
	if (cfg->maxmem > cfg->mem && !cfg->slots) {
		error_set(err, -EINVAL, "--maxmem %s: needs --slots (how many DIMMs it takes)",
			  size_str(cfg->maxmem).s);
		return CLI_USAGE;
	}
	if (cfg->slots && cfg->maxmem <= cfg->mem) {
		error_set(err, -EINVAL, "--slots %u: needs --maxmem larger than --mem %s",
			  cfg->slots, size_str(cfg->mem).s);
		return CLI_USAGE;
	}
	return CLI_RUN;
}
