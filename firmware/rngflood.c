// SPDX-License-Identifier: MIT
/*
 * A hostile virtio-rng driver: it fills the request queue with 256 buffers and gives every
 * buffer back the moment the device returns it, for ever, notifying each time. Each buffer
 * is one indirect table (the same for all) of 1024 writable pieces of 64 bytes, and giving
 * back any number of buffers is one store of the avail index: reposting costs this guest
 * far less than the device's work, even with the guest's kernel-mode code emulated, so the
 * device never finds the ring empty, and a device that serves a notification until the
 * ring is empty would serve this guest alone.
 *
 * It relies on slabvm's virtio-pci layout (src/devices/virtio_pci.h: common configuration
 * at BAR 4 + 0, notifications at BAR 4 + 0x3000 + 4 * queue) and moves BAR 4 into the
 * 32-bit window, which the monitor's page tables map. Prints "rngflood: flooding" when the
 * ring is full, then "rngflood: N" when the buffers returned pass each multiple N of 2^14. Never exits on its own.
 */
#include "fwlib.h"

#define PCI_CONFIG_ADDR 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_ID_RNG 0x10441af4u /* device << 16 | vendor */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_BAR4 0x20

#define BAR4 0xdfff0000ULL
#define COMMON BAR4
#define NOTIFY (BAR4 + 0x3000)

/* Common configuration (virtio 1.2, 4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_ENABLE 0x1c
#define CC_Q_DESC 0x20
#define CC_Q_AVAIL 0x28
#define CC_Q_USED 0x30

#define STATUS_DRIVER_UP 0x3 /* ACKNOWLEDGE | DRIVER */
#define STATUS_FEATURES_OK 0x8
#define STATUS_DRIVER_OK 0x4

#define QSIZE 256
#define RING 0x100000ULL /* desc; avail at +0x1000, used at +0x2000 */
#define TABLE 0x110000ULL
#define TABLE_LEN 1024
#define BUF 0x200000ULL
#define PIECE 64
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4
#define F_INDIRECT_DESC (1u << 28)

static uint32_t cfg_read32(unsigned int slot, unsigned int off)
{
	outl(PCI_CONFIG_ADDR, 0x80000000u | slot << 11 | off);
	return inl(PCI_CONFIG_DATA);
}

static void cfg_write32(unsigned int slot, unsigned int off, uint32_t v)
{
	outl(PCI_CONFIG_ADDR, 0x80000000u | slot << 11 | off);
	outl(PCI_CONFIG_DATA, v);
}

#define MMIO(type, a) (*(volatile type *)(uintptr_t)(a))

static void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

int main(struct bootinfo *bi)
{
	volatile uint64_t *desc = (volatile uint64_t *)(uintptr_t)RING;
	volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)(RING + 0x1000);
	volatile uint16_t *used = (volatile uint16_t *)(uintptr_t)(RING + 0x2000);
	volatile uint64_t *table = (volatile uint64_t *)(uintptr_t)TABLE;
	uint16_t last_used = 0;
	uint64_t returned = 0;
	unsigned int slot, i;

	if (fw_check_bootinfo(bi))
		return 1;
	for (slot = 0; slot < 32 && cfg_read32(slot, 0) != PCI_ID_RNG; slot++)
		;
	if (slot == 32) {
		fw_puts("rngflood: no virtio-rng\n");
		return 1;
	}
	cfg_write32(slot, PCI_COMMAND, 0);
	cfg_write32(slot, PCI_BAR4, (uint32_t)BAR4);
	cfg_write32(slot, PCI_BAR4 + 4, 0);
	cfg_write32(slot, PCI_COMMAND, PCI_COMMAND_MEMORY);

	MMIO(uint8_t, COMMON + CC_STATUS) = 0;
	MMIO(uint8_t, COMMON + CC_STATUS) = STATUS_DRIVER_UP;
	MMIO(uint32_t, COMMON + CC_DFSELECT) = 0;
	if (!(MMIO(uint32_t, COMMON + CC_DF) & F_INDIRECT_DESC)) {
		fw_puts("rngflood: INDIRECT_DESC not offered\n");
		return 1;
	}
	MMIO(uint32_t, COMMON + CC_DFSELECT) = 1;
	if (!(MMIO(uint32_t, COMMON + CC_DF) & 1)) {
		fw_puts("rngflood: VERSION_1 not offered\n");
		return 1;
	}
	MMIO(uint32_t, COMMON + CC_GFSELECT) = 0;
	MMIO(uint32_t, COMMON + CC_GF) = F_INDIRECT_DESC;
	MMIO(uint32_t, COMMON + CC_GFSELECT) = 1;
	MMIO(uint32_t, COMMON + CC_GF) = 1; /* VERSION_1 */
	MMIO(uint8_t, COMMON + CC_STATUS) = STATUS_DRIVER_UP | STATUS_FEATURES_OK;

	memset((void *)(uintptr_t)RING, 0, 0x3000);
	for (i = 0; i < TABLE_LEN; i++) {
		uint16_t flags = DESC_F_WRITE | (i + 1 < TABLE_LEN ? DESC_F_NEXT : 0);

		table[2 * i] = BUF + PIECE * i;
		table[2 * i + 1] = PIECE | (uint64_t)flags << 32 | (uint64_t)(i + 1) << 48;
	}
	for (i = 0; i < QSIZE; i++) {
		desc[2 * i] = TABLE;
		desc[2 * i + 1] = 16 * TABLE_LEN | (uint64_t)DESC_F_INDIRECT << 32;
		avail[2 + i] = i;
	}
	MMIO(uint16_t, COMMON + CC_Q_SELECT) = 0;
	MMIO(uint16_t, COMMON + CC_Q_SIZE) = QSIZE;
	MMIO(uint32_t, COMMON + CC_Q_DESC) = (uint32_t)RING;
	MMIO(uint32_t, COMMON + CC_Q_AVAIL) = (uint32_t)(RING + 0x1000);
	MMIO(uint32_t, COMMON + CC_Q_USED) = (uint32_t)(RING + 0x2000);
	MMIO(uint16_t, COMMON + CC_Q_ENABLE) = 1;
	MMIO(uint8_t, COMMON + CC_STATUS) =
		STATUS_DRIVER_UP | STATUS_FEATURES_OK | STATUS_DRIVER_OK;
	if (MMIO(uint8_t, COMMON + CC_STATUS) != 0xf) {
		fw_printf("rngflood: device status 0x%x\n", MMIO(uint8_t, COMMON + CC_STATUS));
		return 1;
	}

	barrier();
	avail[1] = QSIZE;
	barrier();
	MMIO(uint16_t, NOTIFY) = 0;
	fw_puts("rngflood: flooding\n");
	for (;;) {
		uint16_t u = used[1];

		if (u == last_used) {
			__asm__ volatile("pause" : : : "memory");
			continue;
		}
		/* Buffers come back in order, and avail slot k names descriptor k for good:
		 * offering the returned ones again is one store, however many there are. */
		if ((returned & ~0x3fffULL) != ((returned + (uint16_t)(u - last_used)) & ~0x3fffULL))
			fw_printf("rngflood: %lu\n", (unsigned long)((returned + 0x4000) & ~0x3fffULL));
		returned += (uint16_t)(u - last_used);
		last_used = u;
		barrier();
		avail[1] = (uint16_t)(u + QSIZE);
		barrier();
		MMIO(uint16_t, NOTIFY) = 0;
	}
}
