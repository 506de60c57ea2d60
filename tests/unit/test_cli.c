// SPDX-License-Identifier: MIT
/* Command-line parsing: every refusal names the option and the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "base/size.h"
#include "cli.h"
#include <linux/memfd.h>

#define ARGV(...) ((char *[]){"slabvm", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"slabvm", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cfg, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg, err)

static void test_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(cli_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(cli_parse_size("3G", &v), 0);
	assert_int_equal(v, 3ULL << 30);
	assert_int_equal(cli_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(cli_parse_size("", &v), -EINVAL);
	assert_int_equal(cli_parse_size("M", &v), -EINVAL);
	assert_int_equal(cli_parse_size("-1", &v), -EINVAL);
	assert_int_equal(cli_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1MB", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1 M", &v), -EINVAL);
	assert_int_equal(cli_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(cli_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(cli_parse_size("16777216T", &v), -ERANGE);
	assert_string_equal(size_str(2ULL << 20).s, "2M");
	assert_string_equal(size_str(1536ULL << 20).s, "1536M");
	assert_string_equal(size_str(4096).s, "4K");
	assert_string_equal(size_str(1000).s, "1000");
	assert_string_equal(size_str(0).s, "0");
}

static void test_good(void **state)
{
	struct cli_config cfg;
	struct error err = {0};

	(void)state;
	assert_int_equal(PARSE(&cfg, &err, "run"), CLI_RUN);
	assert_int_equal(cfg.mem, CLI_DEFAULT_MEM);
	assert_int_equal(cfg.cpus, 1);
	assert_null(cfg.firmware);
	assert_int_equal(cfg.console, CLI_CONSOLE_STDIO);
	assert_int_equal(PARSE(&cfg, &err, "run", "--mem", "1G", "--granule", "4K", "-c", "4",
			       "--firmware", "x.bin", "--cmdline", "exit=3", "--maxmem=8G",
			       "--slots", "4", "--console", "file:/tmp/out"),
			 CLI_RUN);
	assert_int_equal(cfg.mem, 1ULL << 30);
	assert_int_equal(cfg.granule, 4096);
	assert_int_equal(cfg.cpus, 4);
	assert_string_equal(cfg.firmware, "x.bin");
	assert_string_equal(cfg.cmdline, "exit=3");
	assert_int_equal(cfg.maxmem, 8ULL << 30);
	assert_int_equal(cfg.slots, 4);
	assert_int_equal(cfg.console, CLI_CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/tmp/out");
	assert_int_equal(PARSE(&cfg, &err, "run", "-k", "bzImage", "--initrd", "rd.gz", "--cmdline",
			       "console=ttyS0"),
			 CLI_RUN);
	assert_string_equal(cfg.kernel, "bzImage");
	assert_string_equal(cfg.initrd, "rd.gz");
	assert_null(cfg.firmware);
	assert_int_equal(PARSE(&cfg, &err, "run", "-m", "64M", "--console", "none"), CLI_RUN);
	assert_int_equal(cfg.mem, 64ULL << 20);
	assert_int_equal(cfg.console, CLI_CONSOLE_NONE);
	assert_int_equal(PARSE(&cfg, &err, "--help"), CLI_HELP);
	assert_int_equal(PARSE(&cfg, &err, "run", "--help"), CLI_HELP);
	assert_int_equal(PARSE(&cfg, &err, "--version"), CLI_VERSION);
	assert_int_equal(PARSE(&cfg, &err, "-V"), CLI_VERSION);
}

/* Each bad input: CLI_USAGE, and the message names the option and the value. */
static void expect_usage(int argc, char **argv, const char *needle1, const char *needle2)
{
	struct cli_config cfg;
	struct error err = {0};

	assert_int_equal(cli_parse(argc, argv, &cfg, &err), CLI_USAGE);
	if (!strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, needle1,
			 needle2 ? needle2 : "");
	assert_null(strchr(err.msg, '\n'));
}

#define EXPECT_USAGE(n1, n2, ...) expect_usage(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), n1, n2)

static void test_bad(void **state)
{
	struct cli_config cfg;
	struct error err = {0};

	(void)state;
	assert_int_equal(cli_parse(1, ARGV("x"), &cfg, &err), CLI_USAGE);
	assert_non_null(strstr(err.msg, "missing command"));
	EXPECT_USAGE("frobnicate", "unknown command", "frobnicate");
	EXPECT_USAGE("--mem", "12Q", "run", "--mem", "12Q");
	EXPECT_USAGE("--mem", "-5", "run", "-m", "-5");
	EXPECT_USAGE("--mem", "zero", "run", "--mem", "0");
	EXPECT_USAGE("--granule", "2X", "run", "--granule", "2X");
	EXPECT_USAGE("--maxmem", "too large", "run", "--maxmem", "99999999999999999999");
	EXPECT_USAGE("--maxmem 128M", "--mem 256M", "run", "--maxmem", "128M");
	EXPECT_USAGE("--maxmem 1G", "needs --slots", "run", "--maxmem", "1G");
	EXPECT_USAGE("--slots 2", "needs --maxmem", "run", "--slots", "2");
	EXPECT_USAGE("--slots 2", "needs --maxmem", "run", "--slots", "2", "--maxmem", "256M");
	EXPECT_USAGE("--slots 0", "1 to 64", "run", "--slots", "0", "--maxmem", "1G");
	EXPECT_USAGE("--slots 65", "1 to 64", "run", "--slots", "65", "--maxmem", "1G");
	EXPECT_USAGE("--slots x", "1 to 64", "run", "--slots", "x", "--maxmem", "1G");
	EXPECT_USAGE("--cpus", "0", "run", "--cpus", "0");
	EXPECT_USAGE("--cpus", "256", "run", "--cpus", "256");
	EXPECT_USAGE("--cpus", "2x", "run", "--cpus", "2x");
	EXPECT_USAGE("--cpus", "-1", "run", "--cpus", "-1");
	EXPECT_USAGE("--console", "serial", "run", "--console", "serial");
	EXPECT_USAGE("--console", "file:", "run", "--console", "file:");
	EXPECT_USAGE("--firmware", "empty", "run", "--firmware", "");
	EXPECT_USAGE("--bogus", "unknown option", "run", "--bogus");
	EXPECT_USAGE("-z", "unknown option", "run", "-z");
	EXPECT_USAGE("--mem", "missing value", "run", "--mem");
	EXPECT_USAGE("--cmdline", "missing value", "run", "--cmdline");
	EXPECT_USAGE("stray", "unexpected argument", "run", "stray");
	EXPECT_USAGE("--kernel bz", "--firmware fw", "run", "--kernel", "bz", "--firmware", "fw");
	EXPECT_USAGE("--initrd rd", "needs --kernel", "run", "--initrd", "rd");
	EXPECT_USAGE("--kernel", "empty", "run", "--kernel", "");
	EXPECT_USAGE("--balloon=stats,bogus", "'bogus'", "run", "--balloon=stats,bogus");
	EXPECT_USAGE("--qmp", "empty", "run", "--qmp", "");
	EXPECT_USAGE("--vfio", "empty", "run", "--vfio", "");
	EXPECT_USAGE("--vfio", "missing value", "run", "--vfio");
	EXPECT_USAGE("--user", "USER:GROUP", "run", "--user", "");
	EXPECT_USAGE("--user :x", "USER:GROUP", "run", "--user", ":x");
	EXPECT_USAGE("--user x:", "USER:GROUP", "run", "--user", "x:");
	EXPECT_USAGE("--user a:b:c", "USER:GROUP", "run", "--user", "a:b:c");
	EXPECT_USAGE("--sandbox maybe", "on or off", "run", "--sandbox", "maybe");
}

/* The sandbox is on unless turned off; --user is kept as written (looked up later). */
static void test_privileges(void **state)
{
	struct cli_config cfg;
	struct error err = {0};

	(void)state;
	assert_int_equal(PARSE(&cfg, &err, "run"), CLI_RUN);
	assert_true(cfg.sandbox);
	assert_null(cfg.user);
	assert_int_equal(PARSE(&cfg, &err, "run", "--sandbox", "off", "--user", "nobody:nogroup"),
			 CLI_RUN);
	assert_false(cfg.sandbox);
	assert_string_equal(cfg.user, "nobody:nogroup");
	assert_int_equal(PARSE(&cfg, &err, "run", "--sandbox", "on", "--user", "1000"), CLI_RUN);
	assert_true(cfg.sandbox);
	assert_string_equal(cfg.user, "1000");
}

/* getopt keeps global state: a second parse must start afresh. */
static void test_balloon(void **state)
{
	struct cli_config cfg;
	struct error err = {0};

	(void)state;
	assert_int_equal(PARSE(&cfg, &err, "run"), CLI_RUN);
	assert_false(cfg.balloon);
	assert_null(cfg.qmp);
	assert_int_equal(PARSE(&cfg, &err, "run", "--balloon", "--qmp", "/tmp/s"), CLI_RUN);
	assert_true(cfg.balloon);
	assert_true(cfg.balloon_stats);
	assert_true(cfg.balloon_free_page_reporting);
	assert_false(cfg.balloon_deflate_on_oom);
	assert_string_equal(cfg.qmp, "/tmp/s");
	assert_int_equal(cfg.nvfio, 0);
	assert_int_equal(PARSE(&cfg, &err, "run", "--vfio", "00:03.0", "--vfio", "0000:00:04.0"),
			 CLI_RUN);
	assert_int_equal(cfg.nvfio, 2);
	assert_string_equal(cfg.vfio[0], "00:03.0");
	assert_string_equal(cfg.vfio[1], "0000:00:04.0");
	assert_int_equal(PARSE(&cfg, &err, "run", "--balloon=deflate-on-oom"), CLI_RUN);
	assert_true(cfg.balloon);
	assert_false(cfg.balloon_stats);
	assert_false(cfg.balloon_free_page_reporting);
	assert_true(cfg.balloon_deflate_on_oom);
	assert_int_equal(PARSE(&cfg, &err, "run", "--balloon=stats,free-page-reporting"), CLI_RUN);
	assert_true(cfg.balloon_stats);
	assert_true(cfg.balloon_free_page_reporting);
	assert_false(cfg.balloon_deflate_on_oom);
}

/* --hugepages: thp by default, each kind and size spelled out, anything else refused. */
static void test_hugepages(void **state)
{
	struct cli_config cfg;
	struct error err = {0};

	(void)state;
	assert_int_equal(PARSE(&cfg, &err, "run"), CLI_RUN);
	assert_int_equal(cfg.hugepages.mode, HUGEPAGES_THP);
	assert_false(cfg.hugepages_given);
	assert_int_equal(PARSE(&cfg, &err, "run", "--hugepages", "off"), CLI_RUN);
	assert_int_equal(cfg.hugepages.mode, HUGEPAGES_OFF);
	assert_true(cfg.hugepages_given);
	assert_int_equal(hugepages_memfd_flags(&cfg.hugepages), MFD_CLOEXEC);
	assert_int_equal(PARSE(&cfg, &err, "run", "--hugepages=thp"), CLI_RUN);
	assert_int_equal(cfg.hugepages.mode, HUGEPAGES_THP);
	assert_int_equal(hugepages_memfd_flags(&cfg.hugepages), MFD_CLOEXEC);
	assert_int_equal(PARSE(&cfg, &err, "run", "--hugepages", "hugetlb"), CLI_RUN);
	assert_int_equal(cfg.hugepages.mode, HUGEPAGES_HUGETLB);
	assert_int_equal(hugepages_page_size(&cfg.hugepages), 2ULL << 20);
	assert_int_equal(hugepages_memfd_flags(&cfg.hugepages),
			 MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	assert_int_equal(PARSE(&cfg, &err, "run", "--hugepages", "hugetlb:2M"), CLI_RUN);
	assert_int_equal(hugepages_page_size(&cfg.hugepages), 2ULL << 20);
	assert_int_equal(PARSE(&cfg, &err, "run", "--hugepages", "hugetlb:1G", "-g", "1G"),
			 CLI_RUN);
	assert_int_equal(hugepages_page_size(&cfg.hugepages), 1ULL << 30);
	assert_int_equal(hugepages_memfd_flags(&cfg.hugepages),
			 MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_1GB);
	/* The last one counts, as for every option. */
	assert_int_equal(
		PARSE(&cfg, &err, "run", "--hugepages", "hugetlb:1G", "--hugepages", "off"),
		CLI_RUN);
	assert_int_equal(cfg.hugepages.mode, HUGEPAGES_OFF);
	EXPECT_USAGE("--hugepages on", "off, thp, hugetlb", "run", "--hugepages", "on");
	EXPECT_USAGE("--hugepages hugetlb:4M", "hugetlb:1G", "run", "--hugepages", "hugetlb:4M");
	EXPECT_USAGE("--hugepages hugetlb:", NULL, "run", "--hugepages", "hugetlb:");
	EXPECT_USAGE("--hugepages hugetlbfs", NULL, "run", "--hugepages", "hugetlbfs");
	EXPECT_USAGE("--hugepages THP", NULL, "run", "--hugepages", "THP");
	EXPECT_USAGE("--hugepages", "missing value", "run", "--hugepages");
}

static void test_reparse(void **state)
{
	struct cli_config cfg;
	struct error err = {0};

	(void)state;
	assert_int_equal(PARSE(&cfg, &err, "run", "--cpus", "2"), CLI_RUN);
	assert_int_equal(PARSE(&cfg, &err, "run", "--cpus", "3"), CLI_RUN);
	assert_int_equal(cfg.cpus, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),	  cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),	  cmocka_unit_test(test_balloon),
		cmocka_unit_test(test_reparse),	  cmocka_unit_test(test_privileges),
		cmocka_unit_test(test_hugepages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
