/*
 * SPDX-License-Identifier: MIT
 *
 * The DSDT of the slabvm machine, compiled by iasl at build time and embedded in the monitor
 * (src/meson.build). Numbers that src/x86/platform.h also defines are written out here because
 * iasl cannot read C headers; tests/unit/test_acpi.c checks that the two agree.
 *
 * Memory hotplug needs no run-time value: the controller (devices/memhp.h) says which of the
 * fixed set of PNP0C80 slot devices hold a DIMM, where and how large.
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
		/*
		 * Memory hotplug (devices/memhp.h): the controller's registers at
		 * PLATFORM_MEMHP_PORT, claimed here so nothing else is given the ports, and the
		 * methods every PNP0C80 slot device below calls with its slot number. The
		 * controller reads 0 for a slot beyond the VM's --slots, so the PLATFORM_MEMHP_SLOTS
		 * (64) devices are all declared and the absent ones report _STA 0.
		 */
		Device (MHPC)
		{
			Name (_HID, EisaId ("PNP0A06"))
			Name (_UID, "Memory hotplug controller")
			Name (_CRS, ResourceTemplate ()
			{
				IO (Decode16, 0x0620, 0x0620, 0x01, 0x20)
			})
			OperationRegion (MHPR, SystemIO, 0x0620, 0x20)
			/* WriteAsZeros: writing one field never writes back another's bits. */
			Field (MHPR, DWordAcc, NoLock, WriteAsZeros)
			{
				MSEL, 32,	/* slot selector */
				MSTS, 32,	/* 0 ENABLED, 1 INSERT, 2 REMOVE (w1c), 3 EJECT (w) */
				MBSL, 32,	/* base */
				MBSH, 32,
				MSZL, 32,	/* size */
				MSZH, 32,
				MOEV, 32,	/* _OST event */
				MOSC, 32	/* _OST status: writing it reports */
			}
			/* The selector is shared: one method at a time uses the registers. */
			Mutex (MLCK, 0x00)

			Method (MSTA, 1, NotSerialized)
			{
				Acquire (MLCK, 0xFFFF)
				MSEL = Arg0
				Local0 = (MSTS & One)
				Release (MLCK)
				If (Local0)
				{
					Return (0x0F)
				}
				Return (Zero)
			}

			Method (MCRS, 1, Serialized)
			{
				Name (MR64, ResourceTemplate ()
				{
					QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed,
						Cacheable, ReadWrite,
						0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
						0x0000000000000000, 0x0000000000000000,
						,, MW64, AddressRangeMemory, TypeStatic)
				})
				CreateQWordField (MR64, \_SB.MHPC.MCRS.MW64._MIN, MMIN)
				CreateQWordField (MR64, \_SB.MHPC.MCRS.MW64._MAX, MMAX)
				CreateQWordField (MR64, \_SB.MHPC.MCRS.MW64._LEN, MLEN)
				Acquire (MLCK, 0xFFFF)
				MSEL = Arg0
				MMIN = ((MBSH << 0x20) | MBSL)
				MLEN = ((MSZH << 0x20) | MSZL)
				Release (MLCK)
				If (MLEN)
				{
					MMAX = ((MMIN + MLEN) - One)
				}
				Return (MR64)
			}

			/* _EJ0: the guest has offlined the DIMM; the monitor takes it away. */
			Method (MEJ0, 1, NotSerialized)
			{
				Acquire (MLCK, 0xFFFF)
				MSEL = Arg0
				MSTS = 0x08
				Release (MLCK)
			}

			/* _OST (slot, source event, status code). */
			Method (MOST, 3, NotSerialized)
			{
				Acquire (MLCK, 0xFFFF)
				MSEL = Arg0
				MOEV = Arg1
				MOSC = Arg2
				Release (MLCK)
			}

			/* Notify slot Arg0's device: 1 device check (plugged), 3 eject request. */
			Method (MNTF, 2, NotSerialized)
			{
			If ((Arg0 == 0x00)) { Notify (MP00, Arg1) }
			If ((Arg0 == 0x01)) { Notify (MP01, Arg1) }
			If ((Arg0 == 0x02)) { Notify (MP02, Arg1) }
			If ((Arg0 == 0x03)) { Notify (MP03, Arg1) }
			If ((Arg0 == 0x04)) { Notify (MP04, Arg1) }
			If ((Arg0 == 0x05)) { Notify (MP05, Arg1) }
			If ((Arg0 == 0x06)) { Notify (MP06, Arg1) }
			If ((Arg0 == 0x07)) { Notify (MP07, Arg1) }
			If ((Arg0 == 0x08)) { Notify (MP08, Arg1) }
			If ((Arg0 == 0x09)) { Notify (MP09, Arg1) }
			If ((Arg0 == 0x0A)) { Notify (MP0A, Arg1) }
			If ((Arg0 == 0x0B)) { Notify (MP0B, Arg1) }
			If ((Arg0 == 0x0C)) { Notify (MP0C, Arg1) }
			If ((Arg0 == 0x0D)) { Notify (MP0D, Arg1) }
			If ((Arg0 == 0x0E)) { Notify (MP0E, Arg1) }
			If ((Arg0 == 0x0F)) { Notify (MP0F, Arg1) }
			If ((Arg0 == 0x10)) { Notify (MP10, Arg1) }
			If ((Arg0 == 0x11)) { Notify (MP11, Arg1) }
			If ((Arg0 == 0x12)) { Notify (MP12, Arg1) }
			If ((Arg0 == 0x13)) { Notify (MP13, Arg1) }
			If ((Arg0 == 0x14)) { Notify (MP14, Arg1) }
			If ((Arg0 == 0x15)) { Notify (MP15, Arg1) }
			If ((Arg0 == 0x16)) { Notify (MP16, Arg1) }
			If ((Arg0 == 0x17)) { Notify (MP17, Arg1) }
			If ((Arg0 == 0x18)) { Notify (MP18, Arg1) }
			If ((Arg0 == 0x19)) { Notify (MP19, Arg1) }
			If ((Arg0 == 0x1A)) { Notify (MP1A, Arg1) }
			If ((Arg0 == 0x1B)) { Notify (MP1B, Arg1) }
			If ((Arg0 == 0x1C)) { Notify (MP1C, Arg1) }
			If ((Arg0 == 0x1D)) { Notify (MP1D, Arg1) }
			If ((Arg0 == 0x1E)) { Notify (MP1E, Arg1) }
			If ((Arg0 == 0x1F)) { Notify (MP1F, Arg1) }
			If ((Arg0 == 0x20)) { Notify (MP20, Arg1) }
			If ((Arg0 == 0x21)) { Notify (MP21, Arg1) }
			If ((Arg0 == 0x22)) { Notify (MP22, Arg1) }
			If ((Arg0 == 0x23)) { Notify (MP23, Arg1) }
			If ((Arg0 == 0x24)) { Notify (MP24, Arg1) }
			If ((Arg0 == 0x25)) { Notify (MP25, Arg1) }
			If ((Arg0 == 0x26)) { Notify (MP26, Arg1) }
			If ((Arg0 == 0x27)) { Notify (MP27, Arg1) }
			If ((Arg0 == 0x28)) { Notify (MP28, Arg1) }
			If ((Arg0 == 0x29)) { Notify (MP29, Arg1) }
			If ((Arg0 == 0x2A)) { Notify (MP2A, Arg1) }
			If ((Arg0 == 0x2B)) { Notify (MP2B, Arg1) }
			If ((Arg0 == 0x2C)) { Notify (MP2C, Arg1) }
			If ((Arg0 == 0x2D)) { Notify (MP2D, Arg1) }
			If ((Arg0 == 0x2E)) { Notify (MP2E, Arg1) }
			If ((Arg0 == 0x2F)) { Notify (MP2F, Arg1) }
			If ((Arg0 == 0x30)) { Notify (MP30, Arg1) }
			If ((Arg0 == 0x31)) { Notify (MP31, Arg1) }
			If ((Arg0 == 0x32)) { Notify (MP32, Arg1) }
			If ((Arg0 == 0x33)) { Notify (MP33, Arg1) }
			If ((Arg0 == 0x34)) { Notify (MP34, Arg1) }
			If ((Arg0 == 0x35)) { Notify (MP35, Arg1) }
			If ((Arg0 == 0x36)) { Notify (MP36, Arg1) }
			If ((Arg0 == 0x37)) { Notify (MP37, Arg1) }
			If ((Arg0 == 0x38)) { Notify (MP38, Arg1) }
			If ((Arg0 == 0x39)) { Notify (MP39, Arg1) }
			If ((Arg0 == 0x3A)) { Notify (MP3A, Arg1) }
			If ((Arg0 == 0x3B)) { Notify (MP3B, Arg1) }
			If ((Arg0 == 0x3C)) { Notify (MP3C, Arg1) }
			If ((Arg0 == 0x3D)) { Notify (MP3D, Arg1) }
			If ((Arg0 == 0x3E)) { Notify (MP3E, Arg1) }
			If ((Arg0 == 0x3F)) { Notify (MP3F, Arg1) }
			}

			/* The event handler: tell the OS about every pending plug and unplug. */
			Method (MSCN, 0, NotSerialized)
			{
				Acquire (MLCK, 0xFFFF)
				Local0 = Zero
				While ((Local0 < 0x40))
				{
					MSEL = Local0
					Local1 = MSTS
					If ((Local1 & 0x02))
					{
						MNTF (Local0, One)
						MSTS = 0x02
					}
					If ((Local1 & 0x04))
					{
						MNTF (Local0, 0x03)
						MSTS = 0x04
					}
					Local0++
				}
				Release (MLCK)
			}
		}

		/*
		 * The Generic Event Device that carries the controller's interrupt
		 * (PLATFORM_MEMHP_GSI, level, active high): the FADT has no GPE block.
		 */
		Device (GED0)
		{
			Name (_HID, "ACPI0013")
			Name (_UID, Zero)
			Name (_CRS, ResourceTemplate ()
			{
				Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )
				{
					0x00000014,
				}
			})
			Method (_EVT, 1, NotSerialized)
			{
				If ((Arg0 == 0x14))
				{
					\_SB.MHPC.MSCN ()
				}
			}
		}
	}

	/* The PNP0C80 memory devices, one per slot (_UID = slot number). */
	Scope (\_SB)
	{
	Device (MP00) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x00)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x00)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x00)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x00) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x00, Arg0, Arg1) } }
	Device (MP01) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x01)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x01)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x01)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x01) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x01, Arg0, Arg1) } }
	Device (MP02) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x02)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x02)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x02)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x02) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x02, Arg0, Arg1) } }
	Device (MP03) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x03)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x03)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x03)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x03) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x03, Arg0, Arg1) } }
	Device (MP04) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x04)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x04)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x04)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x04) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x04, Arg0, Arg1) } }
	Device (MP05) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x05)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x05)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x05)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x05) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x05, Arg0, Arg1) } }
	Device (MP06) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x06)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x06)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x06)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x06) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x06, Arg0, Arg1) } }
	Device (MP07) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x07)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x07)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x07)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x07) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x07, Arg0, Arg1) } }
	Device (MP08) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x08)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x08)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x08)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x08) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x08, Arg0, Arg1) } }
	Device (MP09) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x09)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x09)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x09)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x09) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x09, Arg0, Arg1) } }
	Device (MP0A) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x0A)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x0A)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x0A)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x0A) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x0A, Arg0, Arg1) } }
	Device (MP0B) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x0B)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x0B)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x0B)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x0B) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x0B, Arg0, Arg1) } }
	Device (MP0C) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x0C)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x0C)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x0C)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x0C) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x0C, Arg0, Arg1) } }
	Device (MP0D) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x0D)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x0D)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x0D)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x0D) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x0D, Arg0, Arg1) } }
	Device (MP0E) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x0E)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x0E)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x0E)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x0E) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x0E, Arg0, Arg1) } }
	Device (MP0F) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x0F)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x0F)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x0F)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x0F) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x0F, Arg0, Arg1) } }
	Device (MP10) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x10)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x10)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x10)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x10) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x10, Arg0, Arg1) } }
	Device (MP11) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x11)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x11)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x11)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x11) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x11, Arg0, Arg1) } }
	Device (MP12) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x12)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x12)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x12)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x12) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x12, Arg0, Arg1) } }
	Device (MP13) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x13)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x13)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x13)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x13) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x13, Arg0, Arg1) } }
	Device (MP14) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x14)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x14)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x14)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x14) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x14, Arg0, Arg1) } }
	Device (MP15) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x15)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x15)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x15)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x15) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x15, Arg0, Arg1) } }
	Device (MP16) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x16)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x16)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x16)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x16) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x16, Arg0, Arg1) } }
	Device (MP17) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x17)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x17)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x17)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x17) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x17, Arg0, Arg1) } }
	Device (MP18) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x18)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x18)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x18)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x18) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x18, Arg0, Arg1) } }
	Device (MP19) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x19)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x19)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x19)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x19) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x19, Arg0, Arg1) } }
	Device (MP1A) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x1A)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x1A)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x1A)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x1A) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x1A, Arg0, Arg1) } }
	Device (MP1B) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x1B)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x1B)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x1B)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x1B) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x1B, Arg0, Arg1) } }
	Device (MP1C) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x1C)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x1C)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x1C)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x1C) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x1C, Arg0, Arg1) } }
	Device (MP1D) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x1D)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x1D)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x1D)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x1D) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x1D, Arg0, Arg1) } }
	Device (MP1E) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x1E)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x1E)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x1E)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x1E) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x1E, Arg0, Arg1) } }
	Device (MP1F) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x1F)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x1F)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x1F)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x1F) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x1F, Arg0, Arg1) } }
	Device (MP20) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x20)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x20)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x20)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x20) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x20, Arg0, Arg1) } }
	Device (MP21) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x21)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x21)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x21)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x21) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x21, Arg0, Arg1) } }
	Device (MP22) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x22)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x22)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x22)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x22) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x22, Arg0, Arg1) } }
	Device (MP23) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x23)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x23)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x23)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x23) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x23, Arg0, Arg1) } }
	Device (MP24) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x24)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x24)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x24)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x24) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x24, Arg0, Arg1) } }
	Device (MP25) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x25)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x25)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x25)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x25) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x25, Arg0, Arg1) } }
	Device (MP26) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x26)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x26)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x26)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x26) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x26, Arg0, Arg1) } }
	Device (MP27) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x27)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x27)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x27)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x27) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x27, Arg0, Arg1) } }
	Device (MP28) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x28)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x28)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x28)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x28) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x28, Arg0, Arg1) } }
	Device (MP29) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x29)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x29)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x29)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x29) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x29, Arg0, Arg1) } }
	Device (MP2A) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x2A)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x2A)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x2A)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x2A) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x2A, Arg0, Arg1) } }
	Device (MP2B) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x2B)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x2B)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x2B)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x2B) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x2B, Arg0, Arg1) } }
	Device (MP2C) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x2C)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x2C)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x2C)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x2C) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x2C, Arg0, Arg1) } }
	Device (MP2D) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x2D)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x2D)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x2D)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x2D) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x2D, Arg0, Arg1) } }
	Device (MP2E) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x2E)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x2E)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x2E)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x2E) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x2E, Arg0, Arg1) } }
	Device (MP2F) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x2F)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x2F)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x2F)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x2F) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x2F, Arg0, Arg1) } }
	Device (MP30) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x30)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x30)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x30)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x30) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x30, Arg0, Arg1) } }
	Device (MP31) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x31)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x31)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x31)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x31) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x31, Arg0, Arg1) } }
	Device (MP32) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x32)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x32)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x32)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x32) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x32, Arg0, Arg1) } }
	Device (MP33) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x33)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x33)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x33)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x33) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x33, Arg0, Arg1) } }
	Device (MP34) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x34)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x34)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x34)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x34) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x34, Arg0, Arg1) } }
	Device (MP35) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x35)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x35)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x35)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x35) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x35, Arg0, Arg1) } }
	Device (MP36) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x36)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x36)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x36)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x36) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x36, Arg0, Arg1) } }
	Device (MP37) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x37)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x37)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x37)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x37) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x37, Arg0, Arg1) } }
	Device (MP38) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x38)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x38)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x38)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x38) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x38, Arg0, Arg1) } }
	Device (MP39) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x39)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x39)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x39)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x39) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x39, Arg0, Arg1) } }
	Device (MP3A) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x3A)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x3A)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x3A)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x3A) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x3A, Arg0, Arg1) } }
	Device (MP3B) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x3B)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x3B)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x3B)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x3B) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x3B, Arg0, Arg1) } }
	Device (MP3C) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x3C)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x3C)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x3C)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x3C) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x3C, Arg0, Arg1) } }
	Device (MP3D) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x3D)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x3D)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x3D)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x3D) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x3D, Arg0, Arg1) } }
	Device (MP3E) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x3E)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x3E)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x3E)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x3E) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x3E, Arg0, Arg1) } }
	Device (MP3F) { Name (_HID, EisaId ("PNP0C80")) Name (_UID, 0x3F)
		Method (_STA) { Return (\_SB.MHPC.MSTA (0x3F)) }
		Method (_CRS, 0, Serialized) { Return (\_SB.MHPC.MCRS (0x3F)) }
		Method (_EJ0, 1) { \_SB.MHPC.MEJ0 (0x3F) }
		Method (_OST, 3) { \_SB.MHPC.MOST (0x3F, Arg0, Arg1) } }
	}
}
