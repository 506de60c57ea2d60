/* SPDX-License-Identifier: MIT */
/*
 * The x86 machine slabvm presents: fixed addresses, ports and interrupt numbers that the
 * monitor, the device models and the ACPI tables must agree on. RAM layout constants live
 * in memmap.h; the firmware area and the debug-exit port in firmware/bootinfo.h; COM1's
 * port and IRQ in devices/uart.h.
 *
 * Physical address space:
 *   0 .. 3 GiB                     low RAM (memmap.h)
 *   0xC0000000 .. 0xE0000000       32-bit PCI MMIO window (BARs)
 *   0xE0000000 .. 0xE0100000       PCI ECAM (MCFG): bus 0 only, 1 MiB per bus
 *   0xFEC00000                     IOAPIC (in-kernel)
 *   0xFEE00000                     local APICs (in-kernel)
 *   0xFF000000 .. 0xFF400000       firmware area (firmware guests only)
 *   4 GiB ..                       high RAM, then the DIMM hotplug window (memmap.h)
 *   above RAM, 1 GiB aligned       64-bit PCI MMIO window, PLATFORM_PCI64_SIZE bytes
 */
#ifndef SLABVM_PLATFORM_H
#define SLABVM_PLATFORM_H

#define PLATFORM_PCI32_BASE 0xC0000000ULL
#define PLATFORM_PCI32_SIZE 0x20000000ULL
/*
 * One bus: every device sits on the root bus (no bridges). MCFG and the DSDT's bus range
 * end at bus 0, so Linux does not probe 255 empty peer buses through ECAM (8160 reads that
 * each exit to slabvm). A bridge would raise PLATFORM_ECAM_BUSES; 0xE0000000..0xF0000000
 * stays free for that.
 */
#define PLATFORM_ECAM_BASE 0xE0000000ULL
#define PLATFORM_ECAM_BUSES 1
#define PLATFORM_ECAM_SIZE ((unsigned long long)PLATFORM_ECAM_BUSES << 20)
#define PLATFORM_IOAPIC_BASE 0xFEC00000ULL
#define PLATFORM_LAPIC_BASE 0xFEE00000ULL
#define PLATFORM_PCI64_ALIGN (1ULL << 30)
#define PLATFORM_PCI64_SIZE (64ULL << 30)

/* Ports. */
#define PLATFORM_PCI_CONFIG_ADDR 0xCF8 /* configuration mechanism #1: 0xCF8 address, */
#define PLATFORM_PCI_CONFIG_DATA 0xCFC /* 0xCFC..0xCFF data */
/* ACPI fixed hardware (FADT): PM1a event block (4 bytes), PM1a control (2 bytes). */
#define PLATFORM_ACPI_PM1A_EVT 0x600
#define PLATFORM_ACPI_PM1A_CNT 0x604
#define PLATFORM_ACPI_SCI_IRQ 9
/* The value the guest writes to PM1a_CNT.SLP_TYP for S5 (soft off), as in the DSDT's _S5. */
#define PLATFORM_ACPI_S5_TYP 5
/* Reset register (FADT RESET_REG, port 0xCF9 as on real chipsets): value 0x06 resets. */
#define PLATFORM_RESET_PORT 0xCF9
#define PLATFORM_RESET_VALUE 0x06
/* The memory hotplug controller (devices/memhp.h, MEMHP_WINDOW bytes), and the number of
 * PNP0C80 slot devices the DSDT declares: a VM's --slots can be at most that. */
#define PLATFORM_MEMHP_PORT 0x620
#define PLATFORM_MEMHP_SLOTS 64

/* Interrupts (GSIs on the in-kernel IOAPIC, 24 pins). */
#define PLATFORM_PCI_INTX_GSI_BASE 16 /* slot s, pin p (0 = INTA): 16 + ((s + p) & 3) */
#define PLATFORM_MEMHP_GSI 20	      /* the DSDT's Generic Event Device: level, active high */
#define PLATFORM_IOAPIC_PINS 24

#endif
