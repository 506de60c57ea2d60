// SPDX-License-Identifier: MIT
/*
 * A guest with free rein over an assigned function on its PCI bus (src/vfio/assigned.c):
 * the fake vfio-pci function and fake KVM of tests/unit/fake_vfio.h behind it, a real host
 * bridge and buses in front. The input first shapes the function, then drives it:
 *   byte 0       bit 0 PCI Express (4 KiB config space), bit 1 BAR 2 not mmappable, bit 2
 *                BAR 0 mmappable only in two sparse areas, bit 3 MSI-X table mappable,
 *                bit 4 every mmap fails, bits 7:5 BAR 0 of 4 KiB << n (7: 1 MiB)
 *   byte 1       MSI vectors the kernel offers (low 4 bits; 0xf keeps 4), MSI-X vectors
 *                (high 4 bits; 0xf keeps 8)
 *   then ops     a byte: bits 3:0 the operation, bits 6:4 the access size (1, 2, 4, 8, 3,
 *                5, 7 or 16 bytes), then its operands:
 *                0 config write through ECAM (2-byte register, 4-byte value), 1 config
 *                read, 2 config write to a register that matters (1-byte choice, 4-byte
 *                value), 3 MMIO read in a BAR (1-byte BAR, 3-byte offset), 4 MMIO write
 *                (the same and an 8-byte value), 5 MSI-X table write (1-byte vector,
 *                1-byte field, 8-byte value), 6 PBA read (1-byte offset), 7 the device
 *                signals an eventfd (1-byte choice), 8 reset, 9 KVM or vfio starts or
 *                stops failing (1-byte mask), 10 firmware places the BARs again, 11 port
 *                I/O read or write in the I/O BAR (1-byte offset, 1-byte direction,
 *                4-byte value), 12-15 config write through conf1 (as 0)
 * After every step it checks what must hold whatever the guest did: neither fake saw
 * anything the kernel would refuse (see fake_vfio.h), each BAR decodes where the config
 * space says and its mmapped pieces are exactly the live memslots (which never overlap),
 * the interrupt index vfio-pci has on is the mode slabvm believes in, and only live
 * vectors are routed, each to its own message. At the end everything is unmapped, unbound and closed.
 */
#include <linux/pci_regs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/fake_vfio.h"
#include "../unit/pci_test.h"
#include "fuzz_input.h"
#include "vfio/assigned.h"
#include "vfio/device.h"
#include "x86/platform.h"

#define SLOT 3

struct harness {
	struct fake_vfio k;
	struct fake_kvm kvm;
	struct vfio_container c;
	struct vfio_device d;
	struct vfio_pci_device p;
	struct bus mmio, pio;
	struct pci_host host;
	struct vfio_assigned a;
};

static void shape(struct harness *h, struct fuzz_input *in)
{
	unsigned int b0 = fuzz_take(in, 1), b1 = fuzz_take(in, 1), n = b0 >> 5;
	struct fake_vfio_region *r0 = &h->k.region[0];

	fake_vfio_init(&h->k, b0 & 1, n == 7 ? 1 << 20 : 4096ULL << n);
	if (b0 & 2)
		h->k.region[2].flags &= ~VFIO_REGION_INFO_FLAG_MMAP;
	if (b0 & 4) {
		r0->nareas = 2;
		r0->area[0] = (struct vfio_region_sparse_mmap_area){0, r0->size / 2};
		r0->area[1] =
			(struct vfio_region_sparse_mmap_area){r0->size / 2 + 8, r0->size / 2 - 8};
	}
	h->k.region[2].msix_mappable = b0 & 8;
	h->k.fail_mmap = b0 & 16;
	if ((b1 & 0xf) != 0xf)
		h->k.irq_count[VFIO_PCI_MSI_IRQ_INDEX] = b1 & 0xf;
	if (b1 >> 4 != 0xf)
		h->k.irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = b1 >> 4;
}

static void checks_clean(const struct harness *h)
{
	if (h->k.check.violations)
		fprintf(stderr, "fake vfio: %s\n", h->k.check.first);
	if (h->kvm.check.violations)
		fprintf(stderr, "fake KVM: %s\n", h->kvm.check.first);
	FUZZ_CHECK(!h->k.check.violations && !h->kvm.check.violations);
}

static bool msi_masked(const struct vfio_assigned *a, unsigned int v)
{
	return v >= a->msi.nvec || (a->msi.mask & (1U << v));
}

/* What must hold between any two steps. */
static void check(struct harness *h)
{
	const struct vfio_assigned *a = &h->a;
	static const int index_of[] = {
		[VFIO_IRQ_NONE] = -1,
		[VFIO_IRQ_INTX] = VFIO_PCI_INTX_IRQ_INDEX,
		[VFIO_IRQ_MSI] = VFIO_PCI_MSI_IRQ_INDEX,
		[VFIO_IRQ_MSIX] = VFIO_PCI_MSIX_IRQ_INDEX,
	};
	unsigned int i, k, slots = 0;

	checks_clean(h);
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		const struct vfio_assigned_bar *b = &a->bar[i];

		FUZZ_CHECK(b->mapped == a->cfg.bar[i].mapped);
		FUZZ_CHECK(!b->mapped || b->addr == a->cfg.bar[i].addr);
		for (k = 0; k < b->layout.npieces; k++) {
			const struct fake_slot *s;

			FUZZ_CHECK(!b->live[k] || b->mapped);
			FUZZ_CHECK(!b->slotted[k] || (b->live[k] && b->hva[k]));
			if (!b->slotted[k])
				continue;
			s = fake_kvm_slot_at(&h->kvm, b->addr + b->layout.piece[k].offset);
			FUZZ_CHECK(s && s->hva == b->hva[k] && s->size == b->layout.piece[k].size);
			slots++;
		}
	}
	FUZZ_CHECK(fake_kvm_nslots(&h->kvm) == slots);
	FUZZ_CHECK(h->k.active == index_of[a->mode]);
	FUZZ_CHECK(!h->kvm.intx_bound || a->mode == VFIO_IRQ_INTX);
	for (i = 0; i < a->nmsix; i++) {
		const struct fake_route *r = fake_kvm_route_of(&h->kvm, a->msix_efd[i]);

		FUZZ_CHECK((r != NULL) == (a->msix_route[i] >= 0));
		if (!r)
			continue;
		FUZZ_CHECK(a->mode == VFIO_IRQ_MSIX && a->msix.live[i]);
		FUZZ_CHECK(r->addr == a->msix.addr[i] && r->data == a->msix.data[i]);
	}
	for (i = 0; i < a->nmsi; i++) {
		const struct fake_route *r = fake_kvm_route_of(&h->kvm, a->msi_efd[i]);

		FUZZ_CHECK((r != NULL) == (a->msi_route[i] >= 0));
		if (!r)
			continue;
		FUZZ_CHECK(a->mode == VFIO_IRQ_MSI && !msi_masked(a, i));
		FUZZ_CHECK(r->addr == a->msi.addr && (r->data & (a->msi.nvec - 1)) == i);
	}
	FUZZ_CHECK(fake_kvm_nroutes(&h->kvm) <= a->nmsi + a->nmsix);
}

static const unsigned int sizes[8] = {1, 2, 4, 8, 3, 5, 7, 16};

/* Registers whose writes change what assigned.c does. */
static unsigned int interesting(unsigned int choice)
{
	static const unsigned int reg[] = {
		PCI_COMMAND,
		PCI_BASE_ADDRESS_0,
		PCI_BASE_ADDRESS_1,
		PCI_BASE_ADDRESS_2,
		PCI_BASE_ADDRESS_4,
		FAKE_VFIO_MSI_CAP + PCI_MSI_FLAGS,
		FAKE_VFIO_MSI_CAP + PCI_MSI_ADDRESS_LO,
		FAKE_VFIO_MSI_CAP + PCI_MSI_ADDRESS_HI,
		FAKE_VFIO_MSI_CAP + PCI_MSI_DATA_64,
		FAKE_VFIO_MSI_CAP + PCI_MSI_MASK_64,
		FAKE_VFIO_MSIX_CAP + PCI_MSIX_FLAGS,
	};

	return reg[choice % (sizeof(reg) / sizeof(reg[0]))];
}

static void conf1_write(struct harness *h, unsigned int reg, unsigned int size, uint32_t v)
{
	pci_conf1_io_ops.write(&h->host, 0, 4, 0x80000000U | SLOT << 11 | (reg & 0xfc));
	pci_conf1_io_ops.write(&h->host, 4 + (reg & 3), size, v);
}

static void signal_efd(struct harness *h, unsigned int choice)
{
	const struct vfio_assigned *a = &h->a;
	unsigned int n = 1 + a->nmsi + a->nmsix, i = choice % n;
	uint64_t one = 1;
	int efd;

	if (i == 0)
		efd = a->intx_efd;
	else if (i <= a->nmsi)
		efd = a->msi_efd[i - 1];
	else
		efd = a->msix_efd[i - 1 - a->nmsi];
	FUZZ_CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
}

static void step(struct harness *h, struct fuzz_input *in)
{
	struct vfio_assigned *a = &h->a;
	unsigned int op = fuzz_take(in, 1), sz = sizes[(op >> 4) & 7], bar, reg;
	uint64_t addr, v = 0, off;
	struct error err = {0};

	switch (op & 15) {
	case 0:
		reg = fuzz_take(in, 2) & 0xfff;
		pci_test_cfg_write(&h->host, SLOT, reg, sz, fuzz_take(in, 4));
		break;
	case 1:
		pci_test_cfg_read(&h->host, SLOT, fuzz_take(in, 2) & 0xfff, sz);
		break;
	case 2:
		reg = interesting(fuzz_take(in, 1));
		pci_test_cfg_write(&h->host, SLOT, reg, sz > 4 ? 4 : sz, fuzz_take(in, 4));
		break;
	case 3:
	case 4:
		bar = fuzz_take(in, 1) % VFIO_PCI_NUM_BARS;
		off = fuzz_take(in, 3);
		if ((op & 15) == 4)
			v = fuzz_take(in, 8);
		if (!a->bar[bar].mapped || a->cfg.bar[bar].type == VFIO_PCI_BAR_IO)
			break;
		addr = a->bar[bar].addr + off % (a->cfg.bar[bar].size + 16);
		if ((op & 15) == 3)
			bus_read(&h->mmio, addr, sz, &v);
		else
			bus_write(&h->mmio, addr, sz, v);
		break;
	case 5:
		off = fuzz_take(in, 1) % (FAKE_VFIO_MSIX_NVEC + 1) * 16 + fuzz_take(in, 1) % 16;
		v = fuzz_take(in, 8);
		if (a->bar[2].mapped)
			bus_write(&h->mmio, a->bar[2].addr + off, sz, v);
		break;
	case 6:
		off = fuzz_take(in, 1) % 16;
		if (a->bar[2].mapped)
			bus_read(&h->mmio, a->bar[2].addr + FAKE_VFIO_PBA_OFFSET + off, sz, &v);
		break;
	case 7:
		signal_efd(h, fuzz_take(in, 1));
		break;
	case 8:
		vfio_assigned_reset(a);
		/* Nothing stayed bound across the device's reset. */
		FUZZ_CHECK(h->k.active_at_reset == -1);
		FUZZ_CHECK(!fake_kvm_nslots(&h->kvm) && !fake_kvm_nroutes(&h->kvm));
		break;
	case 9:
		v = fuzz_take(in, 1);
		h->kvm.fail_map = v & 1;
		h->kvm.fail_route = v & 2;
		h->kvm.fail_intx = v & 4;
		h->k.fail_bar_io = v & 8;
		h->k.fail_trigger = v & 16;
		break;
	case 10:
		FUZZ_CHECK(!pci_host_assign_bars(&h->host, &err));
		break;
	case 11:
		off = fuzz_take(in, 1) % 40;
		bar = fuzz_take(in, 1) & 1;
		v = fuzz_take(in, 4);
		if (!a->bar[4].mapped)
			break;
		if (bar)
			bus_write(&h->pio, a->bar[4].addr + off, sz, v);
		else
			bus_read(&h->pio, a->bar[4].addr + off, sz, &v);
		break;
	default:
		reg = fuzz_take(in, 2) & 0xff;
		conf1_write(h, reg, sz > 4 ? 4 : sz, fuzz_take(in, 4));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	struct fuzz_input in = {data, size, 0};
	struct pci_host_config cfg = {.mmio64_base = 1ULL << 40,
				      .mmio64_size = PLATFORM_PCI64_SIZE};
	struct vfio_assign_hooks hooks;
	struct error err = {0};

	memset(&h, 0, sizeof(h));
	shape(&h, &in);
	fake_kvm_init(&h.kvm);
	fake_vfio_open(&h.k, &h.c, &h.d);
	FUZZ_CHECK(!vfio_pci_device_probe(&h.p, &h.c, &h.d, &err));
	FUZZ_CHECK(!pci_test_host_init(&h.host, &h.mmio, &h.pio, &cfg));
	hooks = fake_kvm_hooks(&h.kvm);
	if (vfio_assigned_init(&h.a, &h.p, &h.mmio, &h.pio, &hooks, &err)) {
		FUZZ_CHECK(err.code < 0 && err.msg[0] && !strchr(err.msg, '\n'));
		FUZZ_CHECK(!fake_vfio_nmaps(&h.k));
		goto out;
	}
	FUZZ_CHECK(!pci_host_add(&h.host, SLOT, &h.a.pci, &err));
	vfio_assigned_reset(&h.a);
	FUZZ_CHECK(!pci_host_assign_bars(&h.host, &err));
	check(&h);
	while (fuzz_left(&in)) {
		step(&h, &in);
		check(&h);
	}
	pci_host_destroy(&h.host);
	vfio_assigned_destroy(&h.a);
	checks_clean(&h);
	FUZZ_CHECK(!fake_kvm_nslots(&h.kvm) && !fake_kvm_nroutes(&h.kvm) && !h.kvm.intx_bound);
	FUZZ_CHECK(!fake_vfio_nmaps(&h.k) && h.k.active == -1);
	bus_destroy(&h.mmio);
	bus_destroy(&h.pio);
	fake_vfio_destroy(&h.k);
	return 0;
out:
	pci_host_destroy(&h.host);
	checks_clean(&h);
	bus_destroy(&h.mmio);
	bus_destroy(&h.pio);
	fake_vfio_destroy(&h.k);
	return 0;
}
