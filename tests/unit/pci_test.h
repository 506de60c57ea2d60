/* SPDX-License-Identifier: MIT */
/*
 * For the unit tests and fuzz harnesses of PCI devices (the host bridge, virtio-pci): a host
 * bridge on fresh MMIO and port I/O buses, and configuration accesses as a guest makes them
 * through ECAM, but straight to the handler: through bus_write() on the MMIO bus, an ECAM
 * write that moves a BAR would reach bus_register() on that bus while bus_write() still
 * holds its lock. Free of cmocka, so the fuzz harnesses share it.
 */
#ifndef SLABVM_PCI_TEST_H
#define SLABVM_PCI_TEST_H

#include <stdint.h>

#include "devices/pci.h"

/* The offset in the ECAM window of register reg of function fn in slot of bus 0. */
#define PCI_TEST_ECAM(slot, fn, reg) (((uint64_t)(slot) << 15) | ((uint64_t)(fn) << 12) | (reg))

/*
 * Sets up mmio and pio and a host bridge on them; cfg says the rest, and gets the buses.
 * Returns pci_host_init()'s result.
 */
static inline int pci_test_host_init(struct pci_host *host, struct bus *mmio, struct bus *pio,
				     struct pci_host_config *cfg)
{
	struct error err = {0};

	bus_init(mmio, "MMIO");
	bus_init(pio, "port I/O");
	cfg->mmio = mmio;
	cfg->pio = pio;
	return pci_host_init(host, cfg, &err);
}

/* Register reg of function 0 in slot, size bytes wide. */
static inline uint32_t pci_test_cfg_read(struct pci_host *host, unsigned int slot, unsigned int reg,
					 unsigned int size)
{
	return pci_ecam_io_ops.read(host, PCI_TEST_ECAM(slot, 0, reg), size);
}

static inline void pci_test_cfg_write(struct pci_host *host, unsigned int slot, unsigned int reg,
				      unsigned int size, uint32_t v)
{
	pci_ecam_io_ops.write(host, PCI_TEST_ECAM(slot, 0, reg), size, v);
}

#endif
