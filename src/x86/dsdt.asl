/*
 * SPDX-License-Identifier: MIT
 *
 * The DSDT of the slabvm machine, compiled by iasl at build time and embedded in the monitor
 * (src/meson.build). Numbers that src/x86/platform.h also defines are written out here because
 * iasl cannot read C headers; tests/unit/test_acpi.c checks that the two agree.
 *
 * One value is known only at run time: the 64-bit PCI window, which sits above RAM. Its
 * QWordMemory descriptor holds placeholder values that acpi.c finds and overwrites, so
 * they must stay unique in this table and in step with ACPI_DSDT_PCI64_* in acpi.c.
 */
DefinitionBlock ("", "DSDT", 2, "SLABVM", "SLABDSDT", 1)
{
	/*
	 * Soft off: the guest writes SLP_TYP = PLATFORM_ACPI_S5_TYP with SLP_EN to PM1a_CNT.
	 * The second value would go to PM1b_CNT, which does not exist. No other sleep state is
	 * offered, so no other SLP_TYP is ever written.
	 */
	Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })

	Scope (\_SB)
	{
		/* The PCI Express host bridge: segment 0, bus 0 behind ECAM (MCFG). */
		Device (PCI0)
		{
			Name (_HID, EisaId ("PNP0A08"))
			Name (_CID, EisaId ("PNP0A03"))
			Name (_SEG, Zero)
			Name (_BBN, Zero)
			Name (_UID, Zero)

			Name (_CRS, ResourceTemplate ()
			{
				WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
					0x0000, 0x0000, 0x0000, 0x0000, 0x0001)
				/* Configuration mechanism #1, used by the bridge itself. */
				IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
				/* All other port space is forwarded: legacy devices and I/O BARs. */
				WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
					0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
				WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
					0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
				/* PLATFORM_PCI32_BASE, PLATFORM_PCI32_SIZE */
				DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
					NonCacheable, ReadWrite,
					0x00000000, 0xC0000000, 0xDFFFFFFF, 0x00000000, 0x20000000)
				/* The 64-bit window: placeholders, patched by acpi_build(). */
				QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
					NonCacheable, ReadWrite,
					0x0000000000000000, 0x51AB000000000000, 0x51AB000EFFFFFFFF,
					0x0000000000000000, 0x0000000F00000000)
			})

			/*
			 * INTx routing without link devices: slot s, pin p (0 = INTA) is wired
			 * straight to GSI PLATFORM_PCI_INTX_GSI_BASE (16) + ((s + p) & 3) on the
			 * IOAPIC, level-triggered, active low. Built in a loop: 32 slots x 4 pins.
			 */
			Method (_PRT, 0, NotSerialized)
			{
				Local0 = Package (0x80) {}
				Local1 = Zero
				While (Local1 < 0x80)
				{
					Local2 = Local1 >> 2	/* slot */
					Local3 = Local1 & 0x03	/* pin */
					Local4 = Package (0x04) { Zero, Zero, Zero, Zero }
					Local4 [Zero] = (Local2 << 16) | 0xFFFF
					Local4 [One] = Local3
					Local4 [0x03] = 0x10 + ((Local2 + Local3) & 0x03)
					Local0 [Local1] = Local4
					Local1++
				}
				Return (Local0)
			}

			/*
			 * PCI Firmware Specification _OSC. There is no firmware that could use the
			 * features below for itself (no SMM, no root ports of its own), so the OS
			 * gets every control it asks for among native PCIe hotplug, SHPC hotplug,
			 * PME, AER and the PCIe capability structure.
			 */
			Method (_OSC, 4, NotSerialized)
			{
				CreateDWordField (Arg3, Zero, CDW1)
				If ((Arg0 != ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766")))
				{
					CDW1 |= 0x04	/* unrecognized UUID */
					Return (Arg3)
				}
				If ((SizeOf (Arg3) < 0x0C))
				{
					CDW1 |= 0x02	/* _OSC failure: no control dword */
					Return (Arg3)
				}
				CreateDWordField (Arg3, 0x08, CDW3)
				If ((Arg1 != One))
				{
					CDW1 |= 0x08	/* unrecognized revision */
				}
				Local0 = CDW3 & 0x1F
				If ((Local0 != CDW3))
				{
					CDW1 |= 0x10	/* capabilities masked */
				}
				CDW3 = Local0
				Return (Arg3)
			}
		}

		/*
		 * ECAM (PLATFORM_ECAM_BASE, PLATFORM_ECAM_SIZE) is claimed by a motherboard
		 * resource device: Linux uses MCFG only if the region is reserved here or in the
		 * e820 map, and the PCI Firmware Specification asks for this one.
		 */
		Device (ECAM)
		{
			Name (_HID, EisaId ("PNP0C02"))
			Name (_UID, Zero)
			Name (_CRS, ResourceTemplate ()
			{
				Memory32Fixed (ReadWrite, 0xE0000000, 0x00100000)
			})
		}

		/* COM1: UART_COM1_BASE, ISA IRQ UART_COM1_IRQ (edge, active high). */
		Device (COM1)
		{
			Name (_HID, EisaId ("PNP0501"))
			Name (_UID, One)
			Name (_CRS, ResourceTemplate ()
			{
				IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
				IRQNoFlags () { 4 }
			})
		}
	}
}
