// SPDX-License-Identifier: MIT
/*
 * Table layout in the buffer: RSDP first (at gpa, where a legacy scan finds it), the FACS on
 * its 64-byte boundary, then DSDT, FADT, MADT, MCFG and XSDT on 16-byte boundaries. Each
 * table is filled in as a packed struct with little-endian fields (htole*), then copied in.
 */
#include "x86/acpi.h"

#include <endian.h>
#include <string.h>

#include "x86/platform.h"

/* dsdt.asl as AML, generated at build time by iasl and tools/bin2c.py. */
extern const unsigned char acpi_dsdt_aml[];
extern const unsigned long acpi_dsdt_aml_size;

/* The 64-bit window's QWordMemory in dsdt.asl: minimum and length (maximum follows). */
#define ACPI_DSDT_PCI64_MIN 0x51AB000000000000ULL
#define ACPI_DSDT_PCI64_LEN 0x0000000F00000000ULL
/* QWord Address Space Descriptor (ACPI 6.3, 6.4.3.5.1): where the fields sit. */
#define ACPI_QWORD_TAG 0x8A
#define ACPI_QWORD_BODY_LEN 43
#define ACPI_QWORD_MIN 14 /* then maximum, translation offset and length, 8 bytes each */

#define ACPI_OEM_ID "SLABVM"
#define ACPI_CREATOR_ID "SLAB"

#define ACPI_FADT_REVISION 6
#define ACPI_FADT_MINOR 3 /* ACPI 6.3 */
#define ACPI_MADT_REVISION 5
#define ACPI_FACS_VERSION 2

/* FADT Flags */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_SLP_BUTTON (1u << 5) /* no fixed-feature sleep button */
#define ACPI_FADT_FIX_RTC (1u << 6)    /* no RTC wake status in PM1 */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
/* FADT IAPC_BOOT_ARCH; the 8042 bit stays clear: there is no keyboard controller. */
#define ACPI_BOOT_LEGACY_DEVICES (1u << 0) /* COM1 is an ISA device */
#define ACPI_BOOT_VGA_NOT_PRESENT (1u << 2)
#define ACPI_BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)
/* Latencies above 100 and 1000 us tell that C2 and C3 are not supported. */
#define ACPI_FADT_C2_NONE 101
#define ACPI_FADT_C3_NONE 1001

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2

#define ACPI_MADT_PCAT_COMPAT (1u << 0)
#define ACPI_MADT_LAPIC 0
#define ACPI_MADT_IOAPIC 1
#define ACPI_MADT_ISO 2
#define ACPI_MADT_LAPIC_NMI 4
#define ACPI_MADT_ENABLED (1u << 0)
#define ACPI_MPS_ACTIVE_HIGH 0x1
#define ACPI_MPS_LEVEL 0xc
#define ACPI_MADT_ALL_CPUS 0xff

#define ACPI_FOUR_GIB 0x100000000ULL

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* over the first 20 bytes (the ACPI 1.0 structure) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all of it */
	uint8_t reserved[3];
} __attribute__((packed));

#define ACPI_RSDP_V1_LEN 20

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved2;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor[8];
} __attribute__((packed));

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

struct acpi_madt_lapic {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct acpi_madt_ioapic {
	uint8_t type;
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct acpi_madt_iso {
	uint8_t type;
	uint8_t length;
	uint8_t bus;
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct acpi_madt_lapic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

struct acpi_mcfg {
	struct acpi_header h;
	uint8_t reserved[8];
	uint64_t ecam_base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved2;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "table header layout");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout (ACPI 6.x)");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT layout");
_Static_assert(sizeof(struct acpi_madt_lapic) == 8, "MADT LAPIC layout");
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "MADT IOAPIC layout");
_Static_assert(sizeof(struct acpi_madt_iso) == 10, "MADT ISO layout");
_Static_assert(sizeof(struct acpi_madt_lapic_nmi) == 6, "MADT LAPIC NMI layout");
_Static_assert(sizeof(struct acpi_mcfg) == 60, "MCFG layout");

#define ACPI_XSDT_ENTRIES 3 /* FADT, MADT, MCFG; the FADT leads to the DSDT and FACS */

/* The output buffer and how much of it the tables laid out so far use. */
struct acpi_writer {
	uint8_t *buf;
	size_t len;
	size_t used;
	uint64_t gpa;
	struct error *err;
};

static uint8_t acpi_sum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum += *p++;
	return sum;
}

/* Sets the checksum byte at p[at] so that the n bytes at p add up to zero. */
static void acpi_checksum(uint8_t *p, size_t n, size_t at)
{
	p[at] = 0;
	p[at] = (uint8_t)-acpi_sum(p, n);
}

/*
 * Reserves size bytes whose guest address is a multiple of align; returns its offset.
 * Fails with -ENOSPC itself rather than error_set's result: the compiler cannot see that
 * error_set returns its code, and every caller relies on "non-zero means off is unset".
 */
static int acpi_alloc(struct acpi_writer *w, size_t size, size_t align, size_t *off)
{
	size_t pad = (align - (w->gpa + w->used) % align) % align;

	if (w->len - w->used < pad || w->len - w->used - pad < size) {
		error_set(w->err, -ENOSPC, "ACPI tables: %zu bytes at 0x%llx are too few", w->len,
			  (unsigned long long)w->gpa);
		return -ENOSPC;
	}
	*off = w->used + pad;
	w->used = *off + size;
	return 0;
}

static uint64_t acpi_gpa(const struct acpi_writer *w, size_t off)
{
	return w->gpa + off;
}

static void acpi_header_init(struct acpi_header *h, const char *signature, size_t len,
			     uint8_t revision)
{
	memcpy(h->signature, signature, sizeof(h->signature));
	h->length = htole32((uint32_t)len);
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, sizeof(h->oem_id));
	/* "SLAB" and the signature: each table gets an OEM table ID of its own. */
	memcpy(h->oem_table_id, ACPI_CREATOR_ID, 4);
	memcpy(h->oem_table_id + 4, signature, 4);
	h->oem_revision = htole32(1);
	memcpy(h->creator_id, ACPI_CREATOR_ID, sizeof(h->creator_id));
	h->creator_revision = htole32(1);
}

/* Copies a table (header first) into the buffer at off and sets its checksum. */
static void acpi_put_table(struct acpi_writer *w, size_t off, const void *table, size_t len)
{
	memcpy(w->buf + off, table, len);
	acpi_checksum(w->buf + off, len, offsetof(struct acpi_header, checksum));
}

static struct acpi_gas acpi_gas_io(uint16_t port, uint8_t bytes, uint8_t access_size)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = (uint8_t)(bytes * 8),
		.access_size = access_size,
		.address = htole64(port),
	};
}

/*
 * Nothing here sleeps or resumes, but the full (not hardware-reduced) model requires a FACS:
 * it holds the global lock that ACPICA sets up at boot.
 */
static int acpi_build_facs(struct acpi_writer *w, uint64_t *gpa)
{
	struct acpi_facs facs = {0};
	size_t off;
	int ret;

	ret = acpi_alloc(w, sizeof(facs), 64, &off);
	if (ret)
		return ret;
	memcpy(facs.signature, "FACS", 4);
	facs.length = htole32(sizeof(facs));
	facs.version = ACPI_FACS_VERSION;
	memcpy(w->buf + off, &facs, sizeof(facs));
	*gpa = acpi_gpa(w, off);
	return 0;
}

/* Finds the 64-bit window's placeholder descriptor in the DSDT at aml; -1 unless unique. */
static long acpi_find_pci64(const uint8_t *aml, size_t len)
{
	uint64_t fields[4] = {
		htole64(ACPI_DSDT_PCI64_MIN),
		htole64(ACPI_DSDT_PCI64_MIN + ACPI_DSDT_PCI64_LEN - 1),
		0,
		htole64(ACPI_DSDT_PCI64_LEN),
	};
	long found = -1;
	size_t i;

	for (i = ACPI_QWORD_MIN; i + sizeof(fields) <= len; i++) {
		if (memcmp(aml + i, fields, sizeof(fields)))
			continue;
		if (found >= 0)
			return -1;
		found = (long)(i - ACPI_QWORD_MIN);
	}
	if (found < 0 || aml[found] != ACPI_QWORD_TAG || aml[found + 1] != ACPI_QWORD_BODY_LEN ||
	    aml[found + 2] != 0)
		return -1;
	return found;
}

static int acpi_build_dsdt(struct acpi_writer *w, const struct acpi_config *cfg, uint64_t *gpa)
{
	size_t len = acpi_dsdt_aml_size, off;
	uint64_t window[4];
	uint8_t *dsdt;
	long at;
	int ret;

	ret = acpi_alloc(w, len, 16, &off);
	if (ret)
		return ret;
	dsdt = w->buf + off;
	memcpy(dsdt, acpi_dsdt_aml, len);
	at = acpi_find_pci64(dsdt, len);
	if (at < 0)
		return error_set(
			w->err, -ENOEXEC,
			"ACPI: the built-in DSDT has no unique 64-bit PCI window placeholder");
	window[0] = htole64(cfg->pci64_base);
	window[1] = htole64(cfg->pci64_base + cfg->pci64_size - 1);
	window[2] = 0;
	window[3] = htole64(cfg->pci64_size);
	memcpy(dsdt + at + ACPI_QWORD_MIN, window, sizeof(window));
	acpi_checksum(dsdt, len, offsetof(struct acpi_header, checksum));
	*gpa = acpi_gpa(w, off);
	return 0;
}

static int acpi_build_fadt(struct acpi_writer *w, uint64_t facs, uint64_t dsdt, uint64_t *gpa)
{
	struct acpi_fadt f = {0};
	size_t off;
	int ret;

	ret = acpi_alloc(w, sizeof(f), 16, &off);
	if (ret)
		return ret;
	acpi_header_init(&f.h, "FACP", sizeof(f), ACPI_FADT_REVISION);
	/* The spec allows only one FACS pointer to be set; the 32-bit one when it reaches. */
	if (facs < ACPI_FOUR_GIB)
		f.firmware_ctrl = htole32((uint32_t)facs);
	else
		f.x_firmware_ctrl = htole64(facs);
	if (dsdt < ACPI_FOUR_GIB)
		f.dsdt = htole32((uint32_t)dsdt);
	f.x_dsdt = htole64(dsdt);
	f.sci_int = htole16(PLATFORM_ACPI_SCI_IRQ);
	f.pm1a_evt_blk = htole32(PLATFORM_ACPI_PM1A_EVT);
	f.pm1a_cnt_blk = htole32(PLATFORM_ACPI_PM1A_CNT);
	f.pm1_evt_len = 4;
	f.pm1_cnt_len = 2;
	f.p_lvl2_lat = htole16(ACPI_FADT_C2_NONE);
	f.p_lvl3_lat = htole16(ACPI_FADT_C3_NONE);
	f.iapc_boot_arch = htole16(ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_VGA_NOT_PRESENT |
				   ACPI_BOOT_CMOS_RTC_NOT_PRESENT);
	/* PWR_BUTTON stays clear: the power button is the fixed feature in PM1 (acpi_pm). */
	f.flags = htole32(ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON |
			  ACPI_FADT_FIX_RTC | ACPI_FADT_RESET_REG_SUP);
	f.reset_reg = acpi_gas_io(PLATFORM_RESET_PORT, 1, ACPI_GAS_ACCESS_BYTE);
	f.reset_value = PLATFORM_RESET_VALUE;
	f.minor_version = ACPI_FADT_MINOR;
	f.x_pm1a_evt_blk = acpi_gas_io(PLATFORM_ACPI_PM1A_EVT, f.pm1_evt_len, ACPI_GAS_ACCESS_WORD);
	f.x_pm1a_cnt_blk = acpi_gas_io(PLATFORM_ACPI_PM1A_CNT, f.pm1_cnt_len, ACPI_GAS_ACCESS_WORD);
	memcpy(f.hypervisor_vendor, "SLABVM  ", sizeof(f.hypervisor_vendor));
	acpi_put_table(w, off, &f, sizeof(f));
	*gpa = acpi_gpa(w, off);
	return 0;
}

static int acpi_build_madt(struct acpi_writer *w, unsigned int ncpus, uint64_t *gpa)
{
	struct acpi_madt madt = {0};
	struct acpi_madt_ioapic ioapic = {
		.type = ACPI_MADT_IOAPIC,
		.length = sizeof(ioapic),
		.ioapic_id = (uint8_t)ncpus,
		.address = htole32((uint32_t)PLATFORM_IOAPIC_BASE),
		.gsi_base = 0,
	};
	/* ISA IRQ 0 (the PIT) is pin 2 of the IOAPIC, as on every PC. */
	struct acpi_madt_iso timer = {
		.type = ACPI_MADT_ISO,
		.length = sizeof(timer),
		.source = 0,
		.gsi = htole32(2),
	};
	/* The SCI: level-triggered, active high (what a KVM irq line with level 1 means). */
	struct acpi_madt_iso sci = {
		.type = ACPI_MADT_ISO,
		.length = sizeof(sci),
		.source = PLATFORM_ACPI_SCI_IRQ,
		.gsi = htole32(PLATFORM_ACPI_SCI_IRQ),
		.flags = htole16(ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_LEVEL),
	};
	/* LINT1 of every local APIC is the NMI input, as KVM wires it. */
	struct acpi_madt_lapic_nmi nmi = {
		.type = ACPI_MADT_LAPIC_NMI,
		.length = sizeof(nmi),
		.processor_uid = ACPI_MADT_ALL_CPUS,
		.lint = 1,
	};
	size_t len = sizeof(madt) + ncpus * sizeof(struct acpi_madt_lapic) + sizeof(ioapic) +
		     sizeof(timer) + sizeof(sci) + sizeof(nmi);
	size_t off, pos;
	unsigned int i;
	int ret;

	ret = acpi_alloc(w, len, 16, &off);
	if (ret)
		return ret;
	acpi_header_init(&madt.h, "APIC", len, ACPI_MADT_REVISION);
	madt.lapic_address = htole32((uint32_t)PLATFORM_LAPIC_BASE);
	madt.flags = htole32(ACPI_MADT_PCAT_COMPAT);
	memcpy(w->buf + off, &madt, sizeof(madt));
	pos = off + sizeof(madt);
	for (i = 0; i < ncpus; i++) {
		struct acpi_madt_lapic lapic = {
			.type = ACPI_MADT_LAPIC,
			.length = sizeof(lapic),
			.processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = htole32(ACPI_MADT_ENABLED),
		};

		memcpy(w->buf + pos, &lapic, sizeof(lapic));
		pos += sizeof(lapic);
	}
	memcpy(w->buf + pos, &ioapic, sizeof(ioapic));
	pos += sizeof(ioapic);
	memcpy(w->buf + pos, &timer, sizeof(timer));
	pos += sizeof(timer);
	memcpy(w->buf + pos, &sci, sizeof(sci));
	pos += sizeof(sci);
	memcpy(w->buf + pos, &nmi, sizeof(nmi));
	acpi_checksum(w->buf + off, len, offsetof(struct acpi_header, checksum));
	*gpa = acpi_gpa(w, off);
	return 0;
}

static int acpi_build_mcfg(struct acpi_writer *w, uint64_t *gpa)
{
	struct acpi_mcfg m = {0};
	size_t off;
	int ret;

	ret = acpi_alloc(w, sizeof(m), 16, &off);
	if (ret)
		return ret;
	acpi_header_init(&m.h, "MCFG", sizeof(m), 1);
	m.ecam_base = htole64(PLATFORM_ECAM_BASE);
	m.segment = 0;
	m.start_bus = 0;
	m.end_bus = PLATFORM_ECAM_BUSES - 1;
	acpi_put_table(w, off, &m, sizeof(m));
	*gpa = acpi_gpa(w, off);
	return 0;
}

static int acpi_build_xsdt(struct acpi_writer *w, const uint64_t *tables, uint64_t *gpa)
{
	struct acpi_header h = {0};
	size_t len = sizeof(h) + ACPI_XSDT_ENTRIES * sizeof(uint64_t), off;
	unsigned int i;
	int ret;

	ret = acpi_alloc(w, len, 16, &off);
	if (ret)
		return ret;
	acpi_header_init(&h, "XSDT", len, 1);
	memcpy(w->buf + off, &h, sizeof(h));
	for (i = 0; i < ACPI_XSDT_ENTRIES; i++) {
		uint64_t entry = htole64(tables[i]);

		memcpy(w->buf + off + sizeof(h) + i * sizeof(entry), &entry, sizeof(entry));
	}
	acpi_checksum(w->buf + off, len, offsetof(struct acpi_header, checksum));
	*gpa = acpi_gpa(w, off);
	return 0;
}

static void acpi_build_rsdp(struct acpi_writer *w, size_t off, uint64_t xsdt)
{
	struct acpi_rsdp r = {0};

	memcpy(r.signature, "RSD PTR ", sizeof(r.signature));
	memcpy(r.oem_id, ACPI_OEM_ID, sizeof(r.oem_id));
	r.revision = 2;
	/* No RSDT: every ACPI 2.0+ OS follows the XSDT. */
	r.rsdt_address = 0;
	r.length = htole32(sizeof(r));
	r.xsdt_address = htole64(xsdt);
	memcpy(w->buf + off, &r, sizeof(r));
	acpi_checksum(w->buf + off, ACPI_RSDP_V1_LEN, offsetof(struct acpi_rsdp, checksum));
	acpi_checksum(w->buf + off, sizeof(r), offsetof(struct acpi_rsdp, extended_checksum));
}

static int acpi_check_config(const struct acpi_config *cfg, size_t len, uint64_t gpa,
			     struct error *err)
{
	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return error_set(err, -EINVAL, "ACPI: %u vCPUs: must be 1 to %u", cfg->ncpus,
				 ACPI_MAX_CPUS);
	if (!cfg->pci64_size || cfg->pci64_base < ACPI_FOUR_GIB ||
	    cfg->pci64_base + (cfg->pci64_size - 1) < cfg->pci64_base)
		return error_set(
			err, -EINVAL,
			"ACPI: 64-bit PCI window 0x%llx+0x%llx is empty, below 4 GiB or wraps",
			(unsigned long long)cfg->pci64_base, (unsigned long long)cfg->pci64_size);
	if (gpa % 16 || (len && gpa + (len - 1) < gpa))
		return error_set(err, -EINVAL,
				 "ACPI: tables at 0x%llx+0x%zx are not 16-byte aligned or wrap",
				 (unsigned long long)gpa, len);
	return 0;
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t len, uint64_t gpa,
	       struct acpi_tables *out, struct error *err)
{
	struct acpi_writer w = {.buf = buf, .len = len, .gpa = gpa, .err = err};
	uint64_t facs = 0, dsdt = 0, tables[ACPI_XSDT_ENTRIES] = {0}, xsdt = 0;
	size_t rsdp;
	int ret;

	ret = acpi_check_config(cfg, len, gpa, err);
	if (ret)
		return ret;
	memset(buf, 0, len);
	ret = acpi_alloc(&w, sizeof(struct acpi_rsdp), 16, &rsdp);
	if (ret)
		return ret;
	ret = acpi_build_facs(&w, &facs);
	if (ret)
		return ret;
	ret = acpi_build_dsdt(&w, cfg, &dsdt);
	if (ret)
		return ret;
	ret = acpi_build_fadt(&w, facs, dsdt, &tables[0]);
	if (ret)
		return ret;
	ret = acpi_build_madt(&w, cfg->ncpus, &tables[1]);
	if (ret)
		return ret;
	ret = acpi_build_mcfg(&w, &tables[2]);
	if (ret)
		return ret;
	ret = acpi_build_xsdt(&w, tables, &xsdt);
	if (ret)
		return ret;
	acpi_build_rsdp(&w, rsdp, xsdt);
	out->rsdp_gpa = acpi_gpa(&w, rsdp);
	out->size = w.used;
	return 0;
}
