// SPDX-License-Identifier: MIT
/*
 * The ACPI table builder over every configuration it can be given: vCPU count, 64-bit PCI
 * window, buffer size and guest address. A model from acpi.h and the ACPI 6.3 specification
 * says what must happen:
 *   - a configuration acpi.h calls bad (0 or more than ACPI_MAX_CPUS vCPUs; a window that is
 *     empty, below 4 GiB or wraps; a gpa not 16-byte aligned or a buffer that wraps) is
 *     refused with -EINVAL, a message, the buffer untouched and out unset;
 *   - otherwise a buffer smaller than the layout acpi.c's opening comment describes is
 *     refused with -ENOSPC, and a large enough one holds exactly that layout;
 *   - on success the tables are read back by their byte offsets in the specification, from
 *     the RSDP at gpa: every checksum sums to zero, every length is the table's own and
 *     lies inside the used bytes, the XSDT leads to the FADT, MADT and MCFG once each, the
 *     FADT to the FACS and DSDT; no two tables overlap; the MADT has one enabled LAPIC
 *     entry per vCPU with distinct APIC IDs 0..ncpus-1 and an IOAPIC with an ID of its
 *     own; the DSDT is the built-in one with only its checksum and 64-bit window changed,
 *     and the window says the configuration's; every byte past the used ones is zero.
 *
 * Input, little-endian, missing bytes read as zero: ncpus (2 bytes), pci64_base (8),
 * pci64_size (8), gpa (8), buffer length (2).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "fuzz_input.h"
#include "x86/acpi.h"
#include "x86/platform.h"

extern const unsigned char acpi_dsdt_aml[];
extern const unsigned long acpi_dsdt_aml_size;

#define FOUR_GIB 0x100000000ULL
#define HDR_LEN 36
#define RSDP_LEN 36
#define FACS_LEN 64
#define FADT_LEN 276
#define MADT_FIXED 44
#define MCFG_LEN 60
#define XSDT_TABLES 3
#define POISON 0xa5
/* The DSDT's QWordMemory for the 64-bit window: tag, length 43, then min at 14 of it. */
#define QWORD_TAG 0x8a
#define QWORD_MIN 14

enum { T_RSDP, T_FACS, T_DSDT, T_FADT, T_MADT, T_MCFG, T_XSDT, T_COUNT };

struct built {
	const struct acpi_config *cfg;
	const uint8_t *buf;
	uint64_t gpa;
	size_t used;
	uint64_t at[T_COUNT]; /* where each table was found, as guest addresses */
	uint64_t len[T_COUNT];
};

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static size_t madt_len(unsigned int ncpus)
{
	/* LAPIC entries of 8 bytes, IOAPIC 12, two interrupt source overrides 10, LAPIC NMI 6 */
	return MADT_FIXED + 8 * (size_t)ncpus + 12 + 2 * 10 + 6;
}

static size_t up(size_t off, uint64_t gpa, size_t align)
{
	return off + (align - (gpa + off) % align) % align;
}

/* The bytes the documented layout needs: RSDP, FACS on 64 bytes, then 16-byte aligned. */
static size_t layout_len(const struct acpi_config *cfg, uint64_t gpa)
{
	size_t off = RSDP_LEN;

	off = up(off, gpa, 64) + FACS_LEN;
	off = up(off, gpa, 16) + acpi_dsdt_aml_size;
	off = up(off, gpa, 16) + FADT_LEN;
	off = up(off, gpa, 16) + madt_len(cfg->ncpus);
	off = up(off, gpa, 16) + MCFG_LEN;
	return up(off, gpa, 16) + HDR_LEN + 8 * XSDT_TABLES;
}

static bool config_ok(const struct acpi_config *cfg, uint64_t gpa, size_t len)
{
	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return false;
	if (!cfg->pci64_size || cfg->pci64_base < FOUR_GIB ||
	    cfg->pci64_base + (cfg->pci64_size - 1) < cfg->pci64_base)
		return false;
	return gpa % 16 == 0 && (!len || gpa + (len - 1) >= gpa);
}

/* The len bytes at guest address gpa, which must lie inside the used part. */
static const uint8_t *peek(const struct built *b, uint64_t gpa, uint64_t len)
{
	FUZZ_CHECK(gpa >= b->gpa && gpa - b->gpa <= b->used && len <= b->used - (gpa - b->gpa));
	return b->buf + (gpa - b->gpa);
}

/* The table of kind t, reached once only. */
static const uint8_t *table(struct built *b, unsigned int t, uint64_t gpa, uint64_t len)
{
	FUZZ_CHECK(b->len[t] == 0 && len);
	b->at[t] = gpa;
	b->len[t] = len;
	return peek(b, gpa, len);
}

/* A table with the standard header: its signature, its length and a zero checksum. */
static const uint8_t *sdt(struct built *b, unsigned int t, uint64_t gpa, const char *sig)
{
	const uint8_t *p = peek(b, gpa, HDR_LEN);

	FUZZ_CHECK(!memcmp(p, sig, 4));
	p = table(b, t, gpa, le_read(p + 4, 4));
	FUZZ_CHECK(sum(p, b->len[t]) == 0);
	FUZZ_CHECK(gpa % 16 == 0);
	return p;
}

static void check_dsdt(struct built *b, uint64_t gpa)
{
	const uint8_t *p = sdt(b, T_DSDT, gpa, "DSDT");
	uint64_t win[4] = {b->cfg->pci64_base, b->cfg->pci64_base + b->cfg->pci64_size - 1, 0,
			   b->cfg->pci64_size};
	size_t i, at = 0, found = 0, k;

	FUZZ_CHECK(b->len[T_DSDT] == acpi_dsdt_aml_size);
	for (i = 0; i + QWORD_MIN + sizeof(win) <= b->len[T_DSDT]; i++) {
		for (k = 0; k < 4 && le_read(p + i + QWORD_MIN + 8 * k, 8) == win[k]; k++)
			;
		if (k == 4 && p[i] == QWORD_TAG) {
			at = i;
			found++;
		}
	}
	FUZZ_CHECK(found == 1);
	/* Everything else is the built-in AML. */
	for (i = 0; i < b->len[T_DSDT]; i++)
		if (i != 9 && (i < at + QWORD_MIN || i >= at + QWORD_MIN + sizeof(win)))
			FUZZ_CHECK(p[i] == acpi_dsdt_aml[i]);
}

static void check_fadt(struct built *b, uint64_t gpa)
{
	const uint8_t *p = sdt(b, T_FADT, gpa, "FACP");
	uint64_t facs32 = le_read(p + 36, 4), dsdt32 = le_read(p + 40, 4);
	uint64_t xfacs = le_read(p + 132, 8), xdsdt = le_read(p + 140, 8);
	const uint8_t *f;

	FUZZ_CHECK(b->len[T_FADT] == FADT_LEN);
	FUZZ_CHECK(p[8] == 6 && p[131] == 3); /* ACPI 6.3 */
	/* Exactly one FACS pointer, the 32-bit one when the address fits in it. */
	FUZZ_CHECK(!facs32 != !xfacs);
	FUZZ_CHECK(!xfacs || xfacs >= FOUR_GIB);
	FUZZ_CHECK(dsdt32 == (xdsdt < FOUR_GIB ? xdsdt : 0));
	f = table(b, T_FACS, facs32 ? facs32 : xfacs, FACS_LEN);
	FUZZ_CHECK(!memcmp(f, "FACS", 4) && le_read(f + 4, 4) == FACS_LEN);
	FUZZ_CHECK(b->at[T_FACS] % 64 == 0);
	check_dsdt(b, xdsdt);
}

static void check_madt(struct built *b, uint64_t gpa)
{
	const uint8_t *p = sdt(b, T_MADT, gpa, "APIC");
	bool seen[256] = {false};
	unsigned int lapics = 0, ioapics = 0, ioapic_id = 0, i;
	size_t off;

	FUZZ_CHECK(b->len[T_MADT] == madt_len(b->cfg->ncpus));
	FUZZ_CHECK(le_read(p + 36, 4) == PLATFORM_LAPIC_BASE);
	for (off = MADT_FIXED; off < b->len[T_MADT]; off += p[off + 1]) {
		FUZZ_CHECK(b->len[T_MADT] - off >= 2 && p[off + 1] >= 2 &&
			   p[off + 1] <= b->len[T_MADT] - off);
		if (p[off] == 0) {
			FUZZ_CHECK(p[off + 1] == 8);
			FUZZ_CHECK(!seen[p[off + 3]] && (le_read(p + off + 4, 4) & 1));
			seen[p[off + 3]] = true;
			lapics++;
		} else if (p[off] == 1) {
			FUZZ_CHECK(p[off + 1] == 12 &&
				   le_read(p + off + 4, 4) == PLATFORM_IOAPIC_BASE);
			ioapic_id = p[off + 2];
			ioapics++;
		}
	}
	FUZZ_CHECK(off == b->len[T_MADT]);
	FUZZ_CHECK(lapics == b->cfg->ncpus && ioapics == 1);
	for (i = 0; i < lapics; i++)
		FUZZ_CHECK(seen[i]);
	FUZZ_CHECK(!seen[ioapic_id] && ioapic_id != 0xff);
}

static void check_mcfg(struct built *b, uint64_t gpa)
{
	const uint8_t *p = sdt(b, T_MCFG, gpa, "MCFG");

	FUZZ_CHECK(b->len[T_MCFG] == MCFG_LEN);
	FUZZ_CHECK(le_read(p + 44, 8) == PLATFORM_ECAM_BASE && le_read(p + 52, 2) == 0 &&
		   p[54] == 0 && p[55] == PLATFORM_ECAM_BUSES - 1);
}

static void check_tables(struct built *b)
{
	const uint8_t *r = table(b, T_RSDP, b->gpa, RSDP_LEN);
	const uint8_t *x;
	unsigned int i, j;

	FUZZ_CHECK(!memcmp(r, "RSD PTR ", 8) && r[15] == 2 && le_read(r + 20, 4) == RSDP_LEN);
	FUZZ_CHECK(sum(r, 20) == 0 && sum(r, RSDP_LEN) == 0);
	x = sdt(b, T_XSDT, le_read(r + 24, 8), "XSDT");
	FUZZ_CHECK(b->len[T_XSDT] == HDR_LEN + 8 * XSDT_TABLES);
	for (i = 0; i < XSDT_TABLES; i++) {
		uint64_t t = le_read(x + HDR_LEN + 8 * i, 8);
		const uint8_t *p = peek(b, t, HDR_LEN);

		if (!memcmp(p, "FACP", 4))
			check_fadt(b, t);
		else if (!memcmp(p, "APIC", 4))
			check_madt(b, t);
		else
			check_mcfg(b, t);
	}
	for (i = 0; i < T_COUNT; i++) {
		FUZZ_CHECK(b->len[i]);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(b->at[i] + b->len[i] <= b->at[j] ||
				   b->at[j] + b->len[j] <= b->at[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct acpi_config cfg = {0};
	struct acpi_tables out = {7, 7}, unset = {7, 7};
	struct error err = {0};
	struct built b = {0};
	uint64_t gpa;
	uint8_t *buf;
	size_t len, i;
	int ret;

	cfg.ncpus = fuzz_take(&in, 2);
	cfg.pci64_base = fuzz_take(&in, 8);
	cfg.pci64_size = fuzz_take(&in, 8);
	gpa = fuzz_take(&in, 8);
	len = fuzz_take(&in, 2);
	/* Exactly len bytes, so ASan sees a write past the buffer. */
	buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf);
	memset(buf, POISON, len);

	ret = acpi_build(&cfg, buf, len, gpa, &out, &err);
	if (!config_ok(&cfg, gpa, len)) {
		FUZZ_CHECK(ret == -EINVAL && err.code == ret && err.msg[0]);
		for (i = 0; i < len; i++)
			FUZZ_CHECK(buf[i] == POISON);
	} else if (len < layout_len(&cfg, gpa)) {
		FUZZ_CHECK(ret == -ENOSPC && err.code == ret && err.msg[0]);
	} else {
		FUZZ_CHECK(ret == 0 && err.code == 0);
		FUZZ_CHECK(out.rsdp_gpa == gpa && out.size == layout_len(&cfg, gpa));
		b = (struct built){.cfg = &cfg, .buf = buf, .gpa = gpa, .used = out.size};
		check_tables(&b);
		for (i = out.size; i < len; i++)
			FUZZ_CHECK(buf[i] == 0);
	}
	if (ret)
		FUZZ_CHECK(!memcmp(&out, &unset, sizeof(out)));
	free(buf);
	return 0;
}
