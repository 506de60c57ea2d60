/* SPDX-License-Identifier: MIT */
/*
 * The ACPI tables that describe the machine to the guest: RSDP (revision 2), XSDT, FADT
 * (ACPI 6.3, full hardware model, no SMI_CMD: ACPI is always enabled), FACS, MADT, MCFG and
 * the DSDT compiled from dsdt.asl. The devices behind the FADT's fixed hardware are in
 * devices/acpi_pm.h; every address, port and interrupt comes from platform.h.
 *
 * DIMM hotplug needs no SRAT: the DSDT's PNP0C80 devices name each DIMM's range, and an
 * x86_64 Linux guest grows max_pfn when it adds memory (arch_add_memory), while its KASLR
 * direct map leaves 10 TiB of room above boot RAM when built with memory hotplug (the
 * default RANDOMIZE_MEMORY_PHYSICAL_PADDING), more than the 1 TiB slabvm can address.
 * An SRAT would matter only for NUMA nodes or movable_node, which slabvm does not offer.
 *
 * The tables are built in a host buffer that the caller then copies to, or that already is,
 * guest memory at gpa. The caller places them where the guest finds them (the legacy BIOS
 * area 0xE0000..0xFFFFF is scanned for the RSDP, and Linux also takes its address from
 * boot_params.acpi_rsdp_addr) and marks that range reserved in the e820 map.
 */
#ifndef SLABVM_ACPI_H
#define SLABVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/*
 * MADT Processor Local APIC entries carry 8-bit APIC IDs, 0xFF is the broadcast ID, and the
 * IOAPIC takes the ID after the last vCPU.
 */
#define ACPI_MAX_CPUS 254

/* Where acpi_build()'s tables go in a standard slabvm guest: reserved in the e820 map. */
#define ACPI_TABLES_GPA 0xE0000ULL
#define ACPI_TABLES_SIZE 0x10000ULL

struct acpi_config {
	unsigned int ncpus; /* 1..ACPI_MAX_CPUS; vCPU i has APIC ID i */
	/* The 64-bit PCI MMIO window: non-empty, at or above 4 GiB, not wrapping. */
	uint64_t pci64_base;
	uint64_t pci64_size;
};

struct acpi_tables {
	uint64_t rsdp_gpa; /* the RSDP, at gpa itself */
	size_t size;	   /* bytes of buf used, from its start; the rest is zeroed */
};

/*
 * Lays out all tables in buf (len bytes), which the guest will see at guest-physical gpa.
 * gpa must be 16-byte aligned (the RSDP's alignment for the legacy scan). Every byte of buf
 * is written. Fails with -EINVAL on a bad configuration, -ENOSPC if buf is too small, and
 * -ENOEXEC if the built-in DSDT lacks its 64-bit window placeholder; out is set on success
 * only.
 */
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t len, uint64_t gpa,
	       struct acpi_tables *out, struct error *err);

#endif
