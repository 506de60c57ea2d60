// SPDX-License-Identifier: MIT
/*
 * The ACPI tables, read back by their byte offsets in the ACPI 6.3 specification (not
 * through acpi.c's structs, so a layout slip there cannot hide), then handed to iasl's
 * disassembler and, for the DSDT's methods, to acpiexec when acpica-tools is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/le.h"
#include "devices/memhp.h"
#include "devices/uart.h"
#include "x86/acpi.h"
#include "x86/platform.h"

#define HDR_LEN 36
#define FOUR_GIB 0x100000000ULL

struct built {
	struct acpi_config cfg;
	uint64_t gpa;
	struct acpi_tables out;
	uint8_t buf[ACPI_TABLES_SIZE];
};

static const struct acpi_config configs[] = {
	{.ncpus = 1, .pci64_base = 0x1000000000ULL, .pci64_size = PLATFORM_PCI64_SIZE},
	{.ncpus = 2, .pci64_base = 0x1000000000ULL, .pci64_size = PLATFORM_PCI64_SIZE},
	{.ncpus = 8, .pci64_base = 0x1000000000ULL, .pci64_size = PLATFORM_PCI64_SIZE},
	{.ncpus = 1, .pci64_base = 0xC040000000ULL, .pci64_size = 0x4000000ULL},
	{.ncpus = 2, .pci64_base = 0xC040000000ULL, .pci64_size = 0x4000000ULL},
	{.ncpus = 8, .pci64_base = 0xC040000000ULL, .pci64_size = 0x4000000ULL},
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static struct built *build(const struct acpi_config *cfg, uint64_t gpa)
{
	struct built *b = calloc(1, sizeof(*b));
	struct error err = {0};

	assert_non_null(b);
	b->cfg = *cfg;
	b->gpa = gpa;
	assert_int_equal(acpi_build(cfg, b->buf, sizeof(b->buf), gpa, &b->out, &err), 0);
	assert_int_equal(err.code, 0);
	return b;
}

/* The bytes at guest address gpa, which must hold len bytes inside the tables. */
static const uint8_t *at(const struct built *b, uint64_t gpa, uint64_t len)
{
	assert_true(gpa >= b->gpa);
	assert_true(gpa - b->gpa <= b->out.size);
	assert_true(len <= b->out.size - (gpa - b->gpa));
	return b->buf + (gpa - b->gpa);
}

/* A table with a standard header at gpa: signature, bounds and checksum. */
static const uint8_t *table(const struct built *b, uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(b, gpa, HDR_LEN);
	uint64_t len = le_read(t + 4, 4);

	assert_memory_equal(t, sig, 4);
	assert_true(len >= HDR_LEN);
	at(b, gpa, len);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "SLABVM", 6);
	return t;
}

static const uint8_t *rsdp(const struct built *b)
{
	const uint8_t *r = at(b, b->out.rsdp_gpa, 36);

	assert_int_equal(b->out.rsdp_gpa, b->gpa);
	assert_int_equal(b->out.rsdp_gpa % 16, 0);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(r[15], 2);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(le_read(r + 20, 4), 36);
	assert_int_equal(sum(r, 36), 0);
	return r;
}

/* The one table the XSDT lists with signature sig. */
static const uint8_t *xsdt_find(const struct built *b, const char *sig)
{
	const uint8_t *x = table(b, le_read(rsdp(b) + 24, 8), "XSDT");
	uint64_t n = (le_read(x + 4, 4) - HDR_LEN) / 8, i;
	const uint8_t *found = NULL;

	assert_int_equal((le_read(x + 4, 4) - HDR_LEN) % 8, 0);
	for (i = 0; i < n; i++) {
		const uint8_t *t = at(b, le_read(x + HDR_LEN + 8 * i, 8), HDR_LEN);

		if (memcmp(t, sig, 4))
			continue;
		assert_null(found);
		found = table(b, le_read(x + HDR_LEN + 8 * i, 8), sig);
	}
	assert_non_null(found);
	return found;
}

static void check_gas_io(const uint8_t *g, unsigned int bits, uint64_t port)
{
	assert_int_equal(g[0], 1); /* system I/O */
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(le_read(g + 4, 8), port);
}

static uint64_t fadt_dsdt(const struct built *b)
{
	const uint8_t *f = xsdt_find(b, "FACP");
	uint64_t dsdt32 = le_read(f + 40, 4), x_dsdt = le_read(f + 140, 8);

	assert_int_not_equal(x_dsdt, 0);
	if (x_dsdt < FOUR_GIB)
		assert_int_equal(dsdt32, x_dsdt);
	else
		assert_int_equal(dsdt32, 0);
	return x_dsdt;
}

static uint64_t fadt_facs(const struct built *b)
{
	const uint8_t *f = xsdt_find(b, "FACP");
	uint64_t facs32 = le_read(f + 36, 4), x_facs = le_read(f + 132, 8);

	/* At most one of the two may be set (ACPI 6.3, 5.2.9). */
	assert_true(!facs32 != !x_facs);
	return facs32 ? facs32 : x_facs;
}

static void check_fadt(const struct built *b)
{
	const uint8_t *f = xsdt_find(b, "FACP");
	uint64_t facs = fadt_facs(b);
	const uint8_t *fs = at(b, facs, 64);
	uint32_t flags = (uint32_t)le_read(f + 112, 4);
	uint16_t boot = (uint16_t)le_read(f + 109, 2);

	assert_int_equal(le_read(f + 4, 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(f[131] & 0xf, 3);

	assert_memory_equal(fs, "FACS", 4);
	assert_int_equal(le_read(fs + 4, 4), 64);
	assert_int_equal(facs % 64, 0);
	assert_int_equal(fs[32], 2);

	table(b, fadt_dsdt(b), "DSDT");

	assert_int_equal(le_read(f + 46, 2), PLATFORM_ACPI_SCI_IRQ);
	assert_int_equal(le_read(f + 48, 4), 0); /* no SMI_CMD: ACPI is always on */
	assert_int_equal(le_read(f + 56, 4), PLATFORM_ACPI_PM1A_EVT);
	assert_int_equal(le_read(f + 60, 4), 0);
	assert_int_equal(le_read(f + 64, 4), PLATFORM_ACPI_PM1A_CNT);
	assert_int_equal(le_read(f + 68, 4), 0);
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	check_gas_io(f + 148, 32, PLATFORM_ACPI_PM1A_EVT);
	check_gas_io(f + 172, 16, PLATFORM_ACPI_PM1A_CNT);

	assert_true(flags & (1u << 10));  /* RESET_REG_SUP */
	assert_false(flags & (1u << 20)); /* not hardware-reduced */
	assert_false(flags & (1u << 4));  /* fixed-feature power button */
	check_gas_io(f + 116, 8, PLATFORM_RESET_PORT);
	assert_int_equal(f[119], 1); /* byte access */
	assert_int_equal(f[128], PLATFORM_RESET_VALUE);

	assert_true(boot & (1u << 2));	/* VGA not present */
	assert_false(boot & (1u << 1)); /* no 8042 */
}

static void check_madt(const struct built *b)
{
	const uint8_t *m = xsdt_find(b, "APIC");
	uint64_t len = le_read(m + 4, 4), pos = 44;
	unsigned int lapics = 0, ioapics = 0, irq0 = 0, sci = 0;
	unsigned int ioapic_id = 0;

	assert_int_equal(le_read(m + 36, 4), PLATFORM_LAPIC_BASE);
	assert_true(le_read(m + 40, 4) & 1); /* PCAT_COMPAT */
	while (pos < len) {
		const uint8_t *e = m + pos;

		assert_true(len - pos >= 2);
		assert_true(e[1] >= 2 && e[1] <= len - pos);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			/* Entries in vCPU order: processor UID and APIC ID are the index. */
			assert_int_equal(e[2], lapics);
			assert_int_equal(e[3], lapics);
			assert_true(le_read(e + 4, 4) & 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			ioapic_id = e[2];
			assert_int_equal(le_read(e + 4, 4), PLATFORM_IOAPIC_BASE);
			assert_int_equal(le_read(e + 8, 4), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);
			if (e[3] == 0) {
				assert_int_equal(le_read(e + 4, 4), 2);
				assert_int_equal(le_read(e + 8, 2), 0);
				irq0++;
			} else {
				assert_int_equal(e[3], PLATFORM_ACPI_SCI_IRQ);
				assert_int_equal(le_read(e + 4, 4), PLATFORM_ACPI_SCI_IRQ);
				assert_int_equal(le_read(e + 8, 2), 0xd); /* level, active high */
				sci++;
			}
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[5], 1); /* LINT1 */
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		pos += e[1];
	}
	assert_int_equal(pos, len);
	assert_int_equal(lapics, b->cfg.ncpus);
	assert_int_equal(ioapics, 1);
	assert_true(ioapic_id >= b->cfg.ncpus); /* no clash with an APIC ID */
	assert_int_equal(irq0, 1);
	assert_int_equal(sci, 1);
}

static void check_mcfg(const struct built *b)
{
	const uint8_t *m = xsdt_find(b, "MCFG");

	assert_int_equal(le_read(m + 4, 4), 60);
	assert_int_equal(le_read(m + 44, 8), PLATFORM_ECAM_BASE);
	assert_int_equal(le_read(m + 52, 2), 0);
	assert_int_equal(m[54], 0);
	assert_int_equal(m[55], PLATFORM_ECAM_BUSES - 1);
}

static unsigned int count(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	unsigned int c = 0;
	size_t i;

	for (i = 0; i + n <= len; i++)
		c += !memcmp(hay + i, needle, n);
	return c;
}

static void put(uint8_t *p, uint64_t v, unsigned int n)
{
	while (n--) {
		*p++ = (uint8_t)v;
		v >>= 8;
	}
}

/* The DSDT holds platform.h's values and the run-time 64-bit window, patched. */
static void check_dsdt(const struct built *b)
{
	const uint8_t *d = table(b, fadt_dsdt(b), "DSDT");
	size_t len = le_read(d + 4, 4);
	uint8_t q[46] = {0x8a, 43, 0, 0}, dw[26] = {0x87, 23, 0, 0}, placeholder[8];
	uint8_t com1[] = {0x47,
			  0x01,
			  UART_COM1_BASE & 0xff,
			  UART_COM1_BASE >> 8,
			  UART_COM1_BASE & 0xff,
			  UART_COM1_BASE >> 8,
			  0x01,
			  0x08,
			  0x22,
			  (1u << UART_COM1_IRQ) & 0xff,
			  (1u << UART_COM1_IRQ) >> 8};
	uint8_t ecam[12] = {0x86, 9, 0, 1};
	/* WordBusNumber: type 2, producer, fixed min and max; min 0, max, length. */
	uint8_t busnum[16] = {0x88, 13, 0, 2, 0x0c, 0};
	/* IO (Decode16, port, port, 1, MEMHP_WINDOW) of the memory hotplug controller. */
	uint8_t memhp_io[8] = {0x47,
			       0x01,
			       PLATFORM_MEMHP_PORT & 0xff,
			       PLATFORM_MEMHP_PORT >> 8,
			       PLATFORM_MEMHP_PORT & 0xff,
			       PLATFORM_MEMHP_PORT >> 8,
			       0x01,
			       MEMHP_WINDOW};
	/* Extended Interrupt: consumer, level, active high, exclusive; one GSI. */
	uint8_t ged_irq[9] = {0x89, 6, 0, 0x01, 1};
	const uint8_t *s5;
	size_t i;

	assert_int_equal(d[8], 2); /* 64-bit integers */
	assert_int_equal(count(d, len, memhp_io, sizeof(memhp_io)), 1);
	put(ged_irq + 5, PLATFORM_MEMHP_GSI, 4);
	assert_int_equal(count(d, len, ged_irq, sizeof(ged_irq)), 1);
	/* The QWordMemory window: the values found once, in a memory range descriptor. */
	put(q + 14, b->cfg.pci64_base, 8);
	put(q + 22, b->cfg.pci64_base + b->cfg.pci64_size - 1, 8);
	put(q + 38, b->cfg.pci64_size, 8);
	assert_int_equal(count(d, len, q + 14, sizeof(q) - 14), 1);
	for (i = 0; i + sizeof(q) <= len; i++)
		if (!memcmp(d + i + 14, q + 14, sizeof(q) - 14))
			break;
	assert_memory_equal(d + i, q, 4);
	put(placeholder, 0x51AB000000000000ULL, 8);
	assert_int_equal(count(d, len, placeholder, 8), 0);

	put(dw + 10, PLATFORM_PCI32_BASE, 4);
	put(dw + 14, PLATFORM_PCI32_BASE + PLATFORM_PCI32_SIZE - 1, 4);
	put(dw + 22, PLATFORM_PCI32_SIZE, 4);
	assert_int_equal(count(d, len, dw + 10, sizeof(dw) - 10), 1);

	put(ecam + 4, PLATFORM_ECAM_BASE, 4);
	put(ecam + 8, PLATFORM_ECAM_SIZE, 4);
	assert_int_equal(count(d, len, ecam, sizeof(ecam)), 1);
	put(busnum + 10, PLATFORM_ECAM_BUSES - 1, 2);
	put(busnum + 14, PLATFORM_ECAM_BUSES, 2);
	assert_int_equal(count(d, len, busnum, sizeof(busnum)), 1);
	assert_int_equal(count(d, len, com1, sizeof(com1)), 1);
	/* Name (_S5, Package (4) { PLATFORM_ACPI_S5_TYP (a BytePrefix constant), ... }) */
	assert_int_equal(count(d, len, "_S5_", 4), 1);
	s5 = memmem(d, len, "_S5_", 4);
	assert_true(s5 + 9 <= d + len);
	assert_int_equal(s5[4], 0x12);
	assert_int_equal(s5[6], 4);
	assert_int_equal(s5[7], 0x0a);
	assert_int_equal(s5[8], PLATFORM_ACPI_S5_TYP);
}

static void check_all(const struct built *b)
{
	size_t i;

	assert_true(b->out.size <= sizeof(b->buf));
	for (i = b->out.size; i < sizeof(b->buf); i++)
		assert_int_equal(b->buf[i], 0);
	rsdp(b);
	assert_int_equal(le_read(rsdp(b) + 16, 4), 0); /* no RSDT */
	check_fadt(b);
	check_madt(b);
	check_mcfg(b);
	check_dsdt(b);
}

static void test_tables(void **state)
{
	struct built *b = build(*state, ACPI_TABLES_GPA);

	check_all(b);
	free(b);
}

/* Above 4 GiB only the 64-bit pointers can reach the FACS and the DSDT. */
static void test_tables_high(void **state)
{
	struct built *b = build(&configs[2], 0x100000000ULL + 0x40);
	const uint8_t *f;

	(void)state;
	check_all(b);
	f = xsdt_find(b, "FACP");
	assert_int_equal(le_read(f + 36, 4), 0);
	assert_int_equal(le_read(f + 40, 4), 0);
	assert_true(le_read(f + 132, 8) >= FOUR_GIB);
	free(b);
}

static void test_max_cpus(void **state)
{
	struct acpi_config cfg = configs[0];
	struct built *b;

	(void)state;
	cfg.ncpus = ACPI_MAX_CPUS;
	b = build(&cfg, ACPI_TABLES_GPA);
	check_all(b);
	free(b);
}

static void expect_error(const struct acpi_config *cfg, size_t len, uint64_t gpa, int code)
{
	static uint8_t buf[ACPI_TABLES_SIZE];
	struct acpi_tables out = {.rsdp_gpa = 0x1234, .size = 0x5678};
	struct error err = {0};

	assert_true(len <= sizeof(buf));
	assert_int_equal(acpi_build(cfg, buf, len, gpa, &out, &err), code);
	assert_int_equal(err.code, code);
	assert_true(strlen(err.msg) > 0);
	assert_int_equal(out.rsdp_gpa, 0x1234);
	assert_int_equal(out.size, 0x5678);
}

static void test_bad_config(void **state)
{
	struct acpi_config cfg = configs[2];
	struct built *b = build(&cfg, ACPI_TABLES_GPA);
	uint8_t *exact = malloc(b->out.size);
	struct acpi_tables out;

	(void)state;
	cfg.ncpus = 0;
	expect_error(&cfg, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, -EINVAL);
	cfg.ncpus = ACPI_MAX_CPUS + 1;
	expect_error(&cfg, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, -EINVAL);
	cfg = configs[2];
	cfg.pci64_size = 0;
	expect_error(&cfg, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, -EINVAL);
	cfg = configs[2];
	cfg.pci64_base = PLATFORM_PCI32_BASE;
	expect_error(&cfg, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, -EINVAL);
	cfg = configs[2];
	cfg.pci64_base = UINT64_MAX - 0xfff;
	cfg.pci64_size = 0x2000;
	expect_error(&cfg, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, -EINVAL);
	cfg = configs[2];
	expect_error(&cfg, ACPI_TABLES_SIZE, ACPI_TABLES_GPA + 8, -EINVAL);
	expect_error(&cfg, ACPI_TABLES_SIZE, UINT64_MAX - 0xf, -EINVAL);
	expect_error(&cfg, 0, ACPI_TABLES_GPA, -ENOSPC);
	expect_error(&cfg, 36, ACPI_TABLES_GPA, -ENOSPC);
	expect_error(&cfg, b->out.size - 1, ACPI_TABLES_GPA, -ENOSPC);

	/* The reported size is exactly what the tables need. */
	assert_non_null(exact);
	assert_int_equal(acpi_build(&cfg, exact, b->out.size, ACPI_TABLES_GPA, &out, NULL), 0);
	assert_memory_equal(exact, b->buf, b->out.size);
	free(exact);
	free(b);
}

static bool have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

/* Runs a shell command in dir with its output in dir/log; returns its exit status. */
static int run(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(const char *dir, const char *fmt, ...)
{
	char cmd[1024], sub[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(sub, sizeof(sub), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s >log 2>&1", dir, sub);
	st = system(cmd);
	assert_true(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *slurp(const char *dir, const char *name)
{
	char path[512];
	FILE *f;
	char *s;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = 0;
	fclose(f);
	return s;
}

static void spill(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* What iasl writes when a table is malformed: in its log or in the disassembly. */
static void assert_clean(const char *what, const char *text)
{
	static const char *const bad[] = {"error",   "warning",	   "incorrect", "invalid",
					  "unknown", "terminates", "****"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strcasestr(text, bad[i]))
			fail_msg("%s reports \"%s\":\n%s", what, bad[i], text);
}

static void disassemble(const char *dir, const char *name, const uint8_t *t, size_t len,
			const char *expect)
{
	char file[64];
	char *log, *dsl;

	snprintf(file, sizeof(file), "%s.dat", name);
	spill(dir, file, t, len);
	assert_int_equal(run(dir, "iasl -d %s", file), 0);
	log = slurp(dir, "log");
	assert_non_null(strstr(log, "appears to be a valid ACPI table"));
	assert_clean(file, log);
	snprintf(file, sizeof(file), "%s.dsl", name);
	dsl = slurp(dir, file);
	assert_clean(file, dsl);
	assert_non_null(strstr(dsl, expect));
	free(dsl);
	free(log);
}

static unsigned int occurrences(const char *text, const char *what)
{
	unsigned int n = 0;

	for (; (text = strstr(text, what)); text++)
		n++;
	return n;
}

/* The memory hotplug part of the disassembled DSDT: a PNP0C80 device per slot, whole. */
static void check_memhp_dsl(const char *dir)
{
	char *dsl = slurp(dir, "dsdt.dsl");
	char name[32];
	unsigned int i;

	assert_int_equal(occurrences(dsl, "EisaId (\"PNP0C80\")"), PLATFORM_MEMHP_SLOTS);
	assert_int_equal(occurrences(dsl, "Method (_EJ0, 1,"), PLATFORM_MEMHP_SLOTS);
	assert_int_equal(occurrences(dsl, "Method (_OST, 3,"), PLATFORM_MEMHP_SLOTS);
	/* _STA and _CRS: the slot devices', and none elsewhere that are methods. */
	assert_int_equal(occurrences(dsl, "Method (_STA, 0,"), PLATFORM_MEMHP_SLOTS);
	assert_int_equal(occurrences(dsl, "Method (_CRS, 0,"), PLATFORM_MEMHP_SLOTS);
	for (i = 0; i < PLATFORM_MEMHP_SLOTS; i++) {
		snprintf(name, sizeof(name), "Device (MP%02X)", i);
		assert_int_equal(occurrences(dsl, name), 1);
		snprintf(name, sizeof(name), "Notify (MP%02X, Arg1)", i);
		assert_int_equal(occurrences(dsl, name), 1);
	}
	assert_int_equal(occurrences(dsl, "Name (_HID, \"ACPI0013\""), 1);
	/* The controller has a slot for every device the DSDT declares. */
	assert_true(PLATFORM_MEMHP_SLOTS <= MEMHP_MAX_SLOTS);
	assert_int_equal(occurrences(dsl, "Method (_EVT, 1,"), 1);
	free(dsl);
}

/* The scratch directory of the test running, removed by its teardown even on failure. */
static char *scratch;

static const char *tempdir(void)
{
	const char *tmp = getenv("TMPDIR");

	assert_null(scratch);
	assert_true(asprintf(&scratch, "%s/slabvm-acpi-XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(scratch));
	return scratch;
}

static int remove_scratch(void **state)
{
	char *cmd;
	int ret = 0;

	(void)state;
	if (!scratch)
		return 0;
	if (asprintf(&cmd, "rm -rf '%s'", scratch) < 0 || system(cmd) != 0)
		ret = -1;
	free(cmd);
	free(scratch);
	scratch = NULL;
	return ret;
}

/*
 * Every table through iasl's disassembler, which checks checksums, lengths and subtable
 * structure against its own table templates. The RSDP is left out: this iasl (2020) does
 * not take one in a file of its own; rsdp() above checks all of its fields.
 */
static void test_iasl(void **state)
{
	const char *dir;
	size_t i;

	(void)state;
	if (!have("iasl")) {
		print_message("iasl not found (Debian: acpica-tools): not disassembling\n");
		skip();
	}
	dir = tempdir();
	for (i = 0; i < NCONFIGS; i++) {
		struct built *b = build(&configs[i], ACPI_TABLES_GPA);
		const uint8_t *x = table(b, le_read(rsdp(b) + 24, 8), "XSDT");
		const uint8_t *d = table(b, fadt_dsdt(b), "DSDT");
		const uint8_t *madt = xsdt_find(b, "APIC");
		size_t dlen = le_read(d + 4, 4);
		char *rt;

		disassemble(dir, "xsdt", x, le_read(x + 4, 4),
			    "[Extended System Description Table]");
		disassemble(dir, "facp", xsdt_find(b, "FACP"), 276,
			    "[Fixed ACPI Description Table (FADT)]");
		disassemble(dir, "facs", at(b, fadt_facs(b), 64), 64, "Signature : \"FACS\"");
		disassemble(dir, "apic", madt, le_read(madt + 4, 4),
			    "[Multiple APIC Description Table (MADT)]");
		disassemble(dir, "mcfg", xsdt_find(b, "MCFG"), 60, "Memory Mapped Configuration");
		disassemble(dir, "dsdt", d, dlen, "DefinitionBlock (\"\", \"DSDT\"");
		check_memhp_dsl(dir);

		/* The disassembled DSDT compiles back to the same AML, window included. */
		assert_int_equal(run(dir, "iasl -p rt dsdt.dsl"), 0);
		rt = slurp(dir, "rt.aml");
		assert_memory_equal(rt + HDR_LEN, d + HDR_LEN, dlen - HDR_LEN);
		free(rt);
		free(b);
	}
}

/* The _PRT method evaluated by ACPICA: slot s, pin p -> GSI base + ((s + p) & 3). */
static void test_acpiexec_prt(void **state)
{
	struct built *b;
	const char *dir;
	char *log, *p;
	unsigned int n = 0;
	uint64_t v[4];
	const uint8_t *d;

	(void)state;
	if (!have("acpiexec")) {
		print_message("acpiexec not found (Debian: acpica-tools): _PRT not evaluated\n");
		skip();
	}
	b = build(&configs[0], ACPI_TABLES_GPA);
	d = table(b, fadt_dsdt(b), "DSDT");
	dir = tempdir();
	spill(dir, "dsdt.aml", d, le_read(d + 4, 4));
	assert_int_equal(run(dir, "acpiexec -b 'evaluate \\_SB.PCI0._PRT' dsdt.aml"), 0);
	log = slurp(dir, "log");
	assert_non_null(strstr(log, "[Package] Contains 128 Elements"));
	for (p = log; (p = strstr(p, "[Integer] = ")); p++) {
		v[n % 4] = strtoull(p + 12, NULL, 16);
		if (++n % 4 == 0) {
			unsigned int entry = n / 4 - 1, slot = entry / 4, pin = entry % 4;

			assert_int_equal(v[0], (uint64_t)slot << 16 | 0xffff);
			assert_int_equal(v[1], pin);
			assert_int_equal(v[2], 0);
			assert_int_equal(v[3], PLATFORM_PCI_INTX_GSI_BASE + ((slot + pin) & 3));
		}
	}
	assert_int_equal(n, 128 * 4);
	free(log);
	free(b);
}

/*
 * The memory hotplug methods run by ACPICA, against its stand-in for the port region (it
 * keeps what was written): an empty slot's _STA is 0 and its _CRS a zero-length range, the
 * event handler scans every slot, and _OST and _EJ0 write their registers, all without an
 * AML error.
 */
static void test_acpiexec_memhp(void **state)
{
	struct built *b;
	const char *dir;
	char *log;
	const uint8_t *d;

	(void)state;
	if (!have("acpiexec")) {
		print_message(
			"acpiexec not found (Debian: acpica-tools): memory hotplug not run\n");
		skip();
	}
	b = build(&configs[0], ACPI_TABLES_GPA);
	d = table(b, fadt_dsdt(b), "DSDT");
	dir = tempdir();
	spill(dir, "dsdt.aml", d, le_read(d + 4, 4));
	assert_int_equal(run(dir, "acpiexec -b 'evaluate \\_SB.MP05._STA; evaluate "
				  "\\_SB.MP05._CRS; evaluate \\_SB.GED0._EVT 20; evaluate "
				  "\\_SB.MP3F._EJ0 1' dsdt.aml"),
			 0);
	log = slurp(dir, "log");
	assert_non_null(strstr(log, "Evaluating \\_SB.MP05._STA\n"
				    "Evaluation of \\_SB.MP05._STA returned object"));
	assert_non_null(strstr(log, "[Integer] = 0000000000000000"));
	/* QWordMemory, consumer, memory range: all zero while the slot is empty. */
	assert_non_null(strstr(log, "0000: 8A 2B 00 00 0D 03 00 00 00 00 00 00 00 00 00 00"));
	assert_non_null(strstr(log, "No object was returned from evaluation of \\_SB.GED0._EVT"));
	assert_non_null(strstr(log, "No object was returned from evaluation of \\_SB.MP3F._EJ0"));
	assert_null(strstr(log, "AE_"));
	assert_null(strcasestr(log, "error"));
	free(log);
	free(b);
}

int main(void)
{
	static char names[NCONFIGS][64];
	struct CMUnitTest tests[NCONFIGS + 6] = {
		[NCONFIGS] = cmocka_unit_test(test_tables_high),
		cmocka_unit_test(test_max_cpus),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test_teardown(test_iasl, remove_scratch),
		cmocka_unit_test_teardown(test_acpiexec_prt, remove_scratch),
		cmocka_unit_test_teardown(test_acpiexec_memhp, remove_scratch),
	};
	size_t i;

	/* One test per configuration, named after it. */
	for (i = 0; i < NCONFIGS; i++) {
		snprintf(names[i], sizeof(names[i]), "tables_%ucpu_window_0x%llx+0x%llx",
			 configs[i].ncpus, (unsigned long long)configs[i].pci64_base,
			 (unsigned long long)configs[i].pci64_size);
		tests[i] = (struct CMUnitTest){
			.name = names[i],
			.test_func = test_tables,
			.initial_state = (void *)&configs[i],
		};
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
