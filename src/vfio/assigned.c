// SPDX-License-Identifier: MIT
#include "vfio/assigned.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/vfio.h>

/* An interrupt set-up the guest asked for failed: the guest loses those interrupts, as it
 * would on a device that cannot deliver them; slabvm says so and counts it. */
static void irq_error(struct vfio_assigned *a, const struct error *err)
{
	a->irq_errors++;
	fprintf(stderr, "slabvm: %s\n", err->msg);
}

static uint64_t pba_bytes(const struct vfio_assigned *a)
{
	return (uint64_t)(a->cfg.msix_nvec + 63) / 64 * 8;
}

/* ---- BARs ---- */

static bool in_range(uint64_t o, uint64_t start, uint64_t len)
{
	return o >= start && o - start < len;
}

/* MSI-X emulation first; the PBA's pending bits are brought up to date from the eventfds of
 * vectors that are not bound to KVM (masked ones), whose signals wait there. */
static bool msix_read(struct vfio_assigned *a, unsigned int bar, uint64_t o, unsigned int size,
		      uint64_t *val)
{
	const struct vfio_pci_config *c = &a->cfg;
	unsigned int v;

	if (!a->have_msix)
		return false;
	if (bar == c->msix_table_bar &&
	    in_range(o, c->msix_table_offset, (uint64_t)c->msix_nvec * VFIO_MSIX_ENTRY_SIZE)) {
		*val = vfio_msix_table_read(&a->msix, o - c->msix_table_offset, size);
		return true;
	}
	if (bar == c->msix_pba_bar && in_range(o, c->msix_pba_offset, pba_bytes(a))) {
		for (v = 0; a->mode == VFIO_IRQ_MSIX && v < a->nmsix; v++) {
			uint64_t n;

			if (a->msix_route[v] < 0 &&
			    read(a->msix_efd[v], &n, sizeof(n)) == (ssize_t)sizeof(n))
				vfio_msix_notify(&a->msix, v);
		}
		*val = vfio_msix_pba_read(&a->msix, o - c->msix_pba_offset, size);
		return true;
	}
	return false;
}

static uint64_t trap_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct vfio_trap *t = opaque;
	struct vfio_assigned *a = t->a;
	const struct vfio_region *r = &a->dev->bar[t->bar];
	const struct vfio_container *c = a->dev->c;
	uint64_t o = t->offset + offset, val = 0;

	if (!size || size > sizeof(val) || msix_read(a, t->bar, o, size, &val))
		return val;
	/* x86 is little-endian, as the device's registers are. */
	if (c->ops->pread(c->ctx, a->dev->d->fd, &val, size, r->offset + o) != (ssize_t)size)
		return ~0ULL >> (64 - 8 * size);
	return val;
}

static void trap_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct vfio_trap *t = opaque;
	struct vfio_assigned *a = t->a;
	const struct vfio_pci_config *cfg = &a->cfg;
	const struct vfio_region *r = &a->dev->bar[t->bar];
	const struct vfio_container *c = a->dev->c;
	uint64_t o = t->offset + offset;

	if (size > sizeof(value))
		return;
	if (a->have_msix && t->bar == cfg->msix_table_bar &&
	    in_range(o, cfg->msix_table_offset,
		     (uint64_t)cfg->msix_nvec * VFIO_MSIX_ENTRY_SIZE)) {
		vfio_msix_table_write(&a->msix, o - cfg->msix_table_offset, size, value);
		return;
	}
	if (a->have_msix && t->bar == cfg->msix_pba_bar &&
	    in_range(o, cfg->msix_pba_offset, pba_bytes(a)))
		return; /* the PBA is read-only */
	c->ops->pwrite(c->ctx, a->dev->d->fd, &value, size, r->offset + o);
}

static const struct io_ops trap_ops = {trap_read, trap_write};

static void bar_unmap(struct vfio_assigned *a, unsigned int i)
{
	struct vfio_assigned_bar *b = &a->bar[i];
	struct bus *bus = a->cfg.bar[i].type == VFIO_PCI_BAR_IO ? a->pio : a->mmio;
	unsigned int k;

	for (k = 0; k < b->layout.npieces; k++) {
		if (b->slotted[k])
			a->hooks.unmap(a->hooks.ctx, b->slot[k]);
		b->slotted[k] = false;
		if (b->live[k])
			bus_unregister(bus, b->addr + b->layout.piece[k].offset);
		b->live[k] = false;
	}
	b->mapped = false;
}

/*
 * Every piece claims its range on the bus first, mmapped or not, so that the bus refuses a
 * BAR the guest placed over another device's range or over another BAR of this function,
 * as pci.c refuses an emulated BAR there: KVM would take an overlapping memslot over the
 * other device's MMIO without a word. A piece whose range is refused stays away, said once
 * per placement. An mmapped piece then gets its memslot; if KVM refuses it (no slot left,
 * guest RAM there) the piece stays trapped: slower, correct.
 */
static void bar_map(struct vfio_assigned *a, unsigned int i, uint64_t addr)
{
	struct vfio_assigned_bar *b = &a->bar[i];
	struct bus *bus = a->cfg.bar[i].type == VFIO_PCI_BAR_IO ? a->pio : a->mmio;
	unsigned int k;

	b->mapped = true;
	b->addr = addr;
	for (k = 0; k < b->layout.npieces; k++) {
		const struct vfio_bar_piece *p = &b->layout.piece[k];
		struct error err = {0};
		int ret;

		ret = bus_register(bus, addr + p->offset, p->size, &trap_ops, &b->trap[k],
				   b->name, &err);
		b->live[k] = !ret;
		if (!ret && b->hva[k]) {
			ret = a->hooks.map(a->hooks.ctx, addr + p->offset, b->hva[k], p->size,
					   &b->slot[k], &err);
			b->slotted[k] = !ret;
		}
		if (ret)
			fprintf(stderr, "slabvm: %s at 0x%" PRIx64 ": %s%s\n", b->name,
				addr + p->offset, err.msg,
				b->live[k] ? " (trapped instead)" : "");
	}
}

static void cfg_bar_changed(void *ctx, unsigned int bar, bool mapped, uint64_t addr,
			    uint64_t size)
{
	struct vfio_assigned *a = ctx;

	(void)size;
	if (a->bar[bar].mapped)
		bar_unmap(a, bar);
	if (mapped)
		bar_map(a, bar, addr);
}

/* ---- interrupts ---- */

static void routes_off(struct vfio_assigned *a, int *route, const int *efd, unsigned int n)
{
	unsigned int v;

	for (v = 0; v < n; v++)
		if (route[v] >= 0)
			a->hooks.msi_route(a->hooks.ctx, &route[v], efd[v], false, 0, 0, NULL);
}

static void irq_off(struct vfio_assigned *a)
{
	struct error err = {0};
	unsigned int index;

	switch (a->mode) {
	case VFIO_IRQ_NONE:
		return;
	case VFIO_IRQ_INTX:
		index = VFIO_PCI_INTX_IRQ_INDEX;
		if (a->intx_routed)
			a->hooks.intx_route(a->hooks.ctx, pci_intx_gsi(a->pci.slot, a->intx_pin),
					    a->intx_efd, a->intx_resample, false, NULL);
		a->intx_routed = false;
		break;
	case VFIO_IRQ_MSI:
		index = VFIO_PCI_MSI_IRQ_INDEX;
		routes_off(a, a->msi_route, a->msi_efd, a->nmsi);
		break;
	default:
		index = VFIO_PCI_MSIX_IRQ_INDEX;
		routes_off(a, a->msix_route, a->msix_efd, a->nmsix);
		break;
	}
	if (vfio_pci_device_set_irqs(a->dev, index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, &err))
		irq_error(a, &err);
	a->mode = VFIO_IRQ_NONE;
	memset(&a->msi, 0, sizeof(a->msi));
}

static int irq_on(struct vfio_assigned *a, enum vfio_irq_mode mode, struct error *err)
{
	struct vfio_pci_device *d = a->dev;
	const uint32_t trigger = VFIO_IRQ_SET_ACTION_TRIGGER;
	unsigned int gsi, n;
	int ret;

	switch (mode) {
	case VFIO_IRQ_INTX:
		gsi = pci_intx_gsi(a->pci.slot, a->intx_pin);
		ret = vfio_pci_device_set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX, trigger, 0, 1,
					       &a->intx_efd, err);
		if (ret)
			return ret;
		/* On from here: whatever fails next, irq_off turns it off again. */
		a->mode = mode;
		ret = vfio_pci_device_set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX,
					       VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &a->intx_resample,
					       err);
		if (!ret)
			ret = a->hooks.intx_route(a->hooks.ctx, gsi, a->intx_efd, a->intx_resample,
						  true, err);
		a->intx_routed = !ret;
		return ret;
	case VFIO_IRQ_MSI:
		/* Never more vectors than the kernel offers, which is also how many eventfds
		 * there are; the guest may enable as many as the capability advertises. */
		n = a->cfg.msi.nvec < a->nmsi ? a->cfg.msi.nvec : a->nmsi;
		ret = vfio_pci_device_set_irqs(d, VFIO_PCI_MSI_IRQ_INDEX, trigger, 0, n, a->msi_efd,
					       err);
		break;
	case VFIO_IRQ_MSIX:
		ret = vfio_pci_device_set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX, trigger, 0, a->nmsix,
					       a->msix_efd, err);
		break;
	default:
		return 0;
	}
	/* vfio-pci leaves an index it refused to switch on off: nothing for irq_off to undo. */
	if (!ret)
		a->mode = mode;
	return ret;
}

/* MSI vectors as the guest programmed them: vector i sends data with its low bits i. */
static void msi_apply(struct vfio_assigned *a)
{
	const struct vfio_pci_msi *m = &a->cfg.msi;
	unsigned int v;

	for (v = 0; v < a->nmsi; v++) {
		bool live = v < m->nvec && !(m->mask & (1U << v));
		uint32_t data = (m->data & ~(m->nvec - 1)) | v;
		struct error err = {0};

		if (!live && a->msi_route[v] < 0)
			continue;
		if (a->hooks.msi_route(a->hooks.ctx, &a->msi_route[v], a->msi_efd[v], live,
				       m->addr, data, &err))
			irq_error(a, &err);
	}
	a->msi = *m;
}

/* The interrupt kind the guest's configuration asks for; INTx only once in a slot. */
static enum vfio_irq_mode irq_wanted(const struct vfio_assigned *a)
{
	if (a->cfg.msix_enabled && a->nmsix)
		return VFIO_IRQ_MSIX;
	if (a->cfg.msi.enabled && a->nmsi)
		return VFIO_IRQ_MSI;
	if (a->intx_pin && a->pci.host)
		return VFIO_IRQ_INTX;
	return VFIO_IRQ_NONE;
}

static void irq_update(struct vfio_assigned *a)
{
	enum vfio_irq_mode want = irq_wanted(a);
	struct error err = {0};

	/* vfio-pci takes MSI's vector count only when MSI is switched on. */
	if (want != a->mode || (want == VFIO_IRQ_MSI && a->cfg.msi.nvec != a->msi.nvec)) {
		irq_off(a);
		if (irq_on(a, want, &err)) {
			irq_error(a, &err);
			irq_off(a);
			return;
		}
	}
	if (a->mode == VFIO_IRQ_MSI)
		msi_apply(a);
}

static void cfg_msi_changed(void *ctx, const struct vfio_pci_msi *msi)
{
	(void)msi; /* the same as ctx's cfg.msi, which irq_update reads */
	irq_update(ctx);
}

/* MSI-X on: the device's vectors get their eventfds before any goes live; off: the vectors
 * go quiet before the index is switched off. */
static void cfg_msix_changed(void *ctx, bool enabled, bool masked)
{
	struct vfio_assigned *a = ctx;

	if (!a->have_msix)
		return;
	if (enabled)
		irq_update(a);
	vfio_msix_control(&a->msix, enabled, masked);
	if (!enabled)
		irq_update(a);
}

static void msix_vector_changed(void *ctx, unsigned int v, bool live, uint64_t addr,
				uint32_t data)
{
	struct vfio_assigned *a = ctx;
	struct error err = {0};

	if (a->mode != VFIO_IRQ_MSIX || v >= a->nmsix)
		return;
	if (a->hooks.msi_route(a->hooks.ctx, &a->msix_route[v], a->msix_efd[v], live, addr, data,
			       &err))
		irq_error(a, &err);
}

static void msix_deliver(void *ctx, unsigned int v, uint64_t addr, uint32_t data)
{
	struct vfio_assigned *a = ctx;

	(void)v;
	a->hooks.msi_send(a->hooks.ctx, addr, data);
}

/* ---- set-up ---- */

static int *efds_new(unsigned int n, int **route)
{
	int *efd = malloc((n ? n : 1) * sizeof(*efd));
	unsigned int i;

	*route = malloc((n ? n : 1) * sizeof(**route));
	if (!efd || !*route) {
		free(efd);
		free(*route);
		*route = NULL;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		(*route)[i] = -1;
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd[i] < 0) {
			while (i--)
				close(efd[i]);
			free(efd);
			free(*route);
			*route = NULL;
			return NULL;
		}
	}
	return efd;
}

static void efds_free(int *efd, int *route, unsigned int n)
{
	unsigned int i;

	for (i = 0; efd && i < n; i++)
		close(efd[i]);
	free(efd);
	free(route);
}

static int irqs_init(struct vfio_assigned *a, struct error *err)
{
	uint32_t flags;
	int n;

	n = vfio_pci_device_irq_count(a->dev, VFIO_PCI_INTX_IRQ_INDEX, &flags, err);
	if (n < 0)
		return n;
	a->intx_pin = n > 0 ? vfio_pci_config_read(&a->cfg, PCI_INTERRUPT_PIN, 1) : 0;
	if (a->intx_pin > 4)
		a->intx_pin = 0;
	n = vfio_pci_device_irq_count(a->dev, VFIO_PCI_MSI_IRQ_INDEX, &flags, err);
	if (n < 0)
		return n;
	a->nmsi = a->cfg.msi_cap ? (unsigned int)n : 0;
	if (a->nmsi > a->cfg.msi_max)
		a->nmsi = a->cfg.msi_max;
	n = vfio_pci_device_irq_count(a->dev, VFIO_PCI_MSIX_IRQ_INDEX, &flags, err);
	if (n < 0)
		return n;
	a->nmsix = a->have_msix ? (unsigned int)n : 0;
	if (a->nmsix > a->cfg.msix_nvec)
		a->nmsix = a->cfg.msix_nvec;
	a->intx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->intx_resample = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->msi_efd = efds_new(a->nmsi, &a->msi_route);
	a->msix_efd = efds_new(a->nmsix, &a->msix_route);
	if (a->intx_efd < 0 || a->intx_resample < 0 || !a->msi_efd || !a->msix_efd)
		return error_set(err, -EMFILE, "vfio device %s: eventfds: %s", a->name,
				 strerror(errno));
	return 0;
}

/* Each BAR's pieces: MSI-X table and PBA trapped, the rest mmapped where vfio allows. */
static int bars_init(struct vfio_assigned *a, struct error *err)
{
	const struct vfio_pci_config *c = &a->cfg;
	const struct vfio_container *ct = a->dev->c;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned int i, k;
	int ret;

	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		struct vfio_assigned_bar *b = &a->bar[i];
		const struct vfio_region *r = &a->dev->bar[i];
		struct vfio_area trap[2];
		unsigned int ntrap = 0;

		snprintf(b->name, sizeof(b->name), "%s BAR%u", a->name, i);
		if (c->bar[i].type == VFIO_PCI_BAR_UNUSED || c->bar[i].type == VFIO_PCI_BAR_UPPER)
			continue;
		if (a->have_msix && c->msix_table_bar == i)
			trap[ntrap++] = (struct vfio_area){
				c->msix_table_offset, (uint64_t)c->msix_nvec * VFIO_MSIX_ENTRY_SIZE};
		if (a->have_msix && c->msix_pba_bar == i)
			trap[ntrap++] = (struct vfio_area){c->msix_pba_offset, pba_bytes(a)};
		ret = vfio_bar_layout(r, page, trap, ntrap, &b->layout, err);
		if (ret)
			return ret;
		for (k = 0; k < b->layout.npieces; k++) {
			struct vfio_bar_piece *p = &b->layout.piece[k];

			b->trap[k] = (struct vfio_trap){a, i, p->offset};
			b->slot[k] = 0;
			if (!p->mmap || c->bar[i].type == VFIO_PCI_BAR_IO || !ct->ops->mmap)
				continue;
			b->hva[k] = ct->ops->mmap(ct->ctx, a->dev->d->fd, p->size,
						  r->offset + p->offset);
			/* vfio refusing the mapping leaves the piece trapped: slower, correct. */
			p->mmap = b->hva[k] != NULL;
		}
	}
	return 0;
}

/* pci.c sees the identity and the BARs' types and sizes, to place them. */
static int pci_init(struct vfio_assigned *a, struct error *err)
{
	struct vfio_pci_config *c = &a->cfg;
	const struct pci_dev_id id = {
		.vendor = vfio_pci_config_read(c, PCI_VENDOR_ID, 2),
		.device = vfio_pci_config_read(c, PCI_DEVICE_ID, 2),
		.subsys_vendor = vfio_pci_config_read(c, PCI_SUBSYSTEM_VENDOR_ID, 2),
		.subsys = vfio_pci_config_read(c, PCI_SUBSYSTEM_ID, 2),
		.class_code = vfio_pci_config_read(c, PCI_CLASS_REVISION, 4) >> 8,
		.revision = vfio_pci_config_read(c, PCI_REVISION_ID, 1),
		.intx = a->intx_pin != 0,
	};
	static const enum pci_bar_type type[] = {
		[VFIO_PCI_BAR_IO] = PCI_BAR_IO,
		[VFIO_PCI_BAR_MEM32] = PCI_BAR_MEM32,
		[VFIO_PCI_BAR_MEM64] = PCI_BAR_MEM64,
	};
	unsigned int i;
	int ret;

	pci_dev_init(&a->pci, a->name, &id);
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		enum vfio_pci_bar_type t = c->bar[i].type;

		if (t != VFIO_PCI_BAR_IO && t != VFIO_PCI_BAR_MEM32 && t != VFIO_PCI_BAR_MEM64)
			continue;
		ret = pci_dev_add_bar(&a->pci, i, type[t], c->bar[i].size, NULL, NULL, err);
		if (ret)
			return ret;
	}
	pci_cfg_hook(&a->pci, 0, c->size, &vfio_pci_config_io_ops, c);
	return 0;
}

int vfio_assigned_init(struct vfio_assigned *a, struct vfio_pci_device *dev, struct bus *mmio,
		       struct bus *pio, const struct vfio_assign_hooks *hooks, struct error *err)
{
	const struct vfio_pci_config_listener cl = {cfg_bar_changed, cfg_msi_changed,
						    cfg_msix_changed, a};
	const struct vfio_msix_listener ml = {msix_vector_changed, msix_deliver, a};
	uint64_t size[VFIO_PCI_NUM_BARS];
	int ret;

	memset(a, 0, sizeof(*a));
	a->dev = dev;
	a->mmio = mmio;
	a->pio = pio;
	a->hooks = *hooks;
	a->intx_efd = a->intx_resample = -1;
	snprintf(a->name, sizeof(a->name), "%s", dev->d->name);
	vfio_pci_device_bar_sizes(dev, size);
	ret = vfio_pci_config_init(&a->cfg, a->name, &vfio_pci_device_config_ops, dev, size,
				   vfio_pci_device_config_size(dev), &cl, err);
	if (ret)
		return ret;
	if (a->cfg.msix_cap) {
		ret = vfio_msix_init(&a->msix, a->cfg.msix_nvec, &ml, err);
		if (ret) {
			vfio_pci_config_destroy(&a->cfg);
			return ret;
		}
		a->have_msix = true;
	}
	ret = irqs_init(a, err);
	if (!ret)
		ret = bars_init(a, err);
	if (!ret)
		ret = pci_init(a, err);
	if (ret)
		vfio_assigned_destroy(a);
	return ret;
}

/* The function's reset (its own, or the bus's): a device that cannot be reset stays so,
 * said once, then the VM goes on without. */
static void reset_function(struct vfio_assigned *a)
{
	struct error err = {0};
	int ret = vfio_pci_device_reset(a->dev, &err);

	if (ret && !(ret == -ENOTSUP && a->no_reset_said))
		fprintf(stderr, "slabvm: %s\n", err.msg);
	if (ret == -ENOTSUP)
		a->no_reset_said = true;
}

void vfio_assigned_reset(struct vfio_assigned *a)
{
	/* No interrupt stays bound to a device being reset; the configuration's reset turns
	 * decoding off, which takes the BARs away, and INTx back on. */
	irq_off(a);
	reset_function(a);
	a->in_use = true;
	if (a->have_msix)
		vfio_msix_reset(&a->msix);
	/* INTERRUPT_LINE as firmware leaves it: the GSI that _PRT gives the slot's pin. */
	if (a->pci.host && a->intx_pin)
		vfio_pci_config_set_intx_line(&a->cfg, pci_intx_gsi(a->pci.slot, a->intx_pin));
	vfio_pci_config_reset(&a->cfg);
	irq_update(a);
}

void vfio_assigned_destroy(struct vfio_assigned *a)
{
	const struct vfio_container *ct = a->dev->c;
	unsigned int i, k;

	irq_off(a);
	/* The device stops its DMA here, while the guest's memory is still mapped in the
	 * IOMMU (the memory map goes after the devices): nothing it does on its way out faults,
	 * and the next user gets it reset (the kernel resets it again when the fd closes, if it
	 * can). Only a function that was put in its slot: one that failed before is untouched. */
	if (a->in_use)
		reset_function(a);
	for (i = 0; i < VFIO_PCI_NUM_BARS; i++) {
		struct vfio_assigned_bar *b = &a->bar[i];

		if (b->mapped)
			bar_unmap(a, i);
		for (k = 0; k < b->layout.npieces; k++)
			if (b->hva[k])
				ct->ops->munmap(ct->ctx, b->hva[k], b->layout.piece[k].size);
	}
	efds_free(a->msi_efd, a->msi_route, a->nmsi);
	efds_free(a->msix_efd, a->msix_route, a->nmsix);
	if (a->intx_efd >= 0)
		close(a->intx_efd);
	if (a->intx_resample >= 0)
		close(a->intx_resample);
	if (a->have_msix)
		vfio_msix_destroy(&a->msix);
	pci_dev_destroy(&a->pci);
	vfio_pci_config_destroy(&a->cfg);
	memset(a, 0, sizeof(*a));
	a->intx_efd = a->intx_resample = -1;
}
