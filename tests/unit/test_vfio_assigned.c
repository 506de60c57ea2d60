// SPDX-License-Identifier: MIT
/*
 * An assigned function on the guest's PCI bus (src/vfio/assigned.c), over the fake
 * vfio-pci function and fake KVM of fake_vfio.h, in a real host bridge (devices/pci.c)
 * on real buses: BAR placement and moves, traps, MSI-X, MSI, INTx, reset, and what a
 * hostile guest can throw at the traps. Both fakes count what the kernel would refuse;
 * every test ends with none counted and nothing left mapped, bound or open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_vfio.h"
#include "pci_test.h"
#include "vfio/assigned.h"
#include "vfio/device.h"
#include "x86/platform.h"

#define SLOT 5
#define MSIX_FLAGS (FAKE_VFIO_MSIX_CAP + PCI_MSIX_FLAGS)
#define CONF1(slot, reg) (0x80000000U | (slot) << 11 | ((reg)&0xfc))

struct fx {
	struct fake_vfio k;
	struct fake_kvm kvm;
	struct vfio_container c;
	struct vfio_device d;
	struct vfio_pci_device p;
	struct bus mmio, pio;
	struct pci_host host;
	struct vfio_assigned a;
	unsigned int fds; /* open before the test */
};

static unsigned int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void no_violations(const struct fx *f)
{
	if (f->k.check.violations)
		fail_msg("fake vfio: %u violations, the first: %s", f->k.check.violations,
			 f->k.check.first);
	if (f->kvm.check.violations)
		fail_msg("fake KVM: %u violations, the first: %s", f->kvm.check.violations,
			 f->kvm.check.first);
}

/* The fake function probed and a host bridge with no interrupt ops, nothing built yet. */
static struct fx *fx_new(bool express)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pci_host_config cfg = {.mmio64_base = 1ULL << 40,
				      .mmio64_size = PLATFORM_PCI64_SIZE};
	struct error err = {0};

	assert_non_null(f);
	f->fds = open_fds();
	fake_vfio_init(&f->k, express, 1 << 20);
	fake_kvm_init(&f->kvm);
	fake_vfio_open(&f->k, &f->c, &f->d);
	assert_int_equal(vfio_pci_device_probe(&f->p, &f->c, &f->d, &err), 0);
	assert_int_equal(pci_test_host_init(&f->host, &f->mmio, &f->pio, &cfg), 0);
	return f;
}

static void fx_init(struct fx *f)
{
	const struct vfio_assign_hooks hooks = fake_kvm_hooks(&f->kvm);
	struct error err = {0};

	if (vfio_assigned_init(&f->a, &f->p, &f->mmio, &f->pio, &hooks, &err))
		fail_msg("vfio_assigned_init: %s", err.msg);
}

/* In its slot, reset (INTx on) and placed by pci.c, as vm_vfio.c and firmware would. */
static void fx_place(struct fx *f)
{
	struct error err = {0};

	assert_int_equal(pci_host_add(&f->host, SLOT, &f->a.pci, &err), 0);
	vfio_assigned_reset(&f->a);
	assert_int_equal(pci_host_assign_bars(&f->host, &err), 0);
}

static int setup(void **state)
{
	struct fx *f = fx_new(false);

	fx_init(f);
	*state = f;
	return 0;
}

static int setup_placed(void **state)
{
	setup(state);
	fx_place(*state);
	return 0;
}

/* Everything goes with destroy: no memslot, route, INTx binding, mmap or fd is left. */
/* After the bus and the function are gone: nothing of either is left behind. */
static int teardown_destroyed(void **state)
{
	struct fx *f = *state;

	no_violations(f);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 0);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	assert_false(f->kvm.intx_bound);
	assert_int_equal(fake_vfio_nmaps(&f->k), 0);
	assert_int_equal(f->k.active, -1);
	assert_int_equal(open_fds(), f->fds);
	bus_destroy(&f->mmio);
	bus_destroy(&f->pio);
	fake_vfio_destroy(&f->k);
	free(f);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pci_host_destroy(&f->host);
	vfio_assigned_destroy(&f->a);
	return teardown_destroyed(state);
}

static uint32_t cfg_read(struct fx *f, unsigned int reg, unsigned int size)
{
	return pci_test_cfg_read(&f->host, SLOT, reg, size);
}

static void cfg_write(struct fx *f, unsigned int reg, unsigned int size, uint32_t v)
{
	pci_test_cfg_write(&f->host, SLOT, reg, size, v);
}

/* The same through configuration mechanism #1, as a guest without ECAM writes. */
static void conf1_write(struct fx *f, unsigned int reg, unsigned int size, uint32_t v)
{
	pci_conf1_io_ops.write(&f->host, 0, 4, CONF1(SLOT, reg));
	pci_conf1_io_ops.write(&f->host, 4 + (reg & 3), size, v);
}

static uint64_t bar_addr(struct fx *f, unsigned int bar)
{
	assert_true(f->a.cfg.bar[bar].mapped);
	assert_true(f->a.bar[bar].mapped);
	assert_int_equal(f->a.bar[bar].addr, f->a.cfg.bar[bar].addr);
	return f->a.bar[bar].addr;
}

static uint64_t mmio_read(struct fx *f, uint64_t addr, unsigned int size)
{
	uint64_t v;

	assert_true(bus_read(&f->mmio, addr, size, &v));
	return v;
}

static void mmio_write(struct fx *f, uint64_t addr, unsigned int size, uint64_t v)
{
	assert_true(bus_write(&f->mmio, addr, size, v));
}

static bool is_fake_mmap(const struct fx *f, const void *p)
{
	unsigned int i;

	for (i = 0; i < FAKE_VFIO_MAPS; i++)
		if (f->k.map[i].p && f->k.map[i].p == p)
			return true;
	return false;
}

static const struct fake_vfio_set *set_at(const struct fx *f, unsigned int i)
{
	assert_true(i < f->k.nset && i < FAKE_VFIO_LOG);
	return &f->k.set[i];
}

static void expect_set(const struct fake_vfio_set *s, uint32_t index, uint32_t action,
		       uint32_t count, const int *fds)
{
	unsigned int i;

	assert_int_equal(s->index, index);
	assert_int_equal(s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK, action);
	assert_int_equal(s->start, 0);
	assert_int_equal(s->count, count);
	assert_int_equal(s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK,
			 fds ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	for (i = 0; fds && i < count; i++)
		assert_int_equal(s->fds[i], fds[i]);
}

/* Table entry v of the MSI-X table in BAR 2, written by the guest through the trap. */
static void msix_entry(struct fx *f, unsigned int v, uint64_t addr, uint32_t data, bool masked)
{
	uint64_t e = bar_addr(f, 2) + 16 * v;

	mmio_write(f, e + PCI_MSIX_ENTRY_LOWER_ADDR, 4, (uint32_t)addr);
	mmio_write(f, e + PCI_MSIX_ENTRY_UPPER_ADDR, 4, addr >> 32);
	mmio_write(f, e + PCI_MSIX_ENTRY_DATA, 4, data);
	mmio_write(f, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, masked);
}

static uint64_t pba(struct fx *f)
{
	return mmio_read(f, bar_addr(f, 2) + FAKE_VFIO_PBA_OFFSET, 8);
}

static void signal_efd(int efd)
{
	uint64_t one = 1;

	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
}

/* stderr into a buffer while a step runs. */
struct capture {
	int saved;
	char path[64];
};

static void capture_start(struct capture *c)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "/tmp/slabvm-vfio-stderr-XXXXXX");
	fd = mkstemp(c->path);
	assert_true(fd >= 0);
	fflush(stderr);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_true(dup2(fd, 2) == 2);
	close(fd);
}

static void capture_end(struct capture *c, char *buf, size_t len)
{
	FILE *in;
	size_t n;

	fflush(stderr);
	assert_true(dup2(c->saved, 2) == 2);
	close(c->saved);
	in = fopen(c->path, "r");
	assert_non_null(in);
	n = fread(buf, 1, len - 1, in);
	buf[n] = 0;
	fclose(in);
	unlink(c->path);
}

static void expect_text(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("\"%s\" does not contain \"%s\"", text, want);
}

/* ---- set-up and placement ---- */

static void check_init(bool express)
{
	struct fx *f = fx_new(express);
	const struct vfio_assigned_bar *b2;

	fx_init(f);
	/* pci.c sees the function's identity and places its BARs by type and size. */
	assert_int_equal(pci_cfg_get(&f->a.pci, PCI_VENDOR_ID, 2), 0x1234);
	assert_int_equal(pci_cfg_get(&f->a.pci, PCI_DEVICE_ID, 2), 0x5a5a);
	assert_int_equal(pci_cfg_get(&f->a.pci, PCI_CLASS_REVISION, 4), 0x01080202);
	assert_int_equal(pci_cfg_get(&f->a.pci, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(pci_cfg_get(&f->a.pci, PCI_SUBSYSTEM_ID, 2), 0x1100);
	assert_int_equal(f->a.pci.bar[0].type, PCI_BAR_MEM64);
	assert_int_equal(f->a.pci.bar[0].size, 1 << 20);
	assert_int_equal(f->a.pci.bar[2].type, PCI_BAR_MEM32);
	assert_int_equal(f->a.pci.bar[2].size, 16 << 10);
	assert_int_equal(f->a.pci.bar[4].type, PCI_BAR_IO);
	assert_int_equal(f->a.pci.bar[4].size, 32);
	assert_int_equal(f->a.pci.bar[3].type, PCI_BAR_UNUSED);
	assert_int_equal(f->a.pci.bar[5].type, PCI_BAR_UNUSED);
	assert_null(f->a.pci.bar[0].ops);
	/* BAR 2: the table's and PBA's pages trapped, the others mmapped. */
	b2 = &f->a.bar[2];
	assert_int_equal(b2->layout.npieces, 4);
	assert_false(b2->layout.piece[0].mmap);
	assert_true(b2->layout.piece[1].mmap && b2->layout.piece[1].offset == 0x1000);
	assert_false(b2->layout.piece[2].mmap);
	assert_true(b2->layout.piece[3].mmap && b2->layout.piece[3].offset == 0x3000);
	assert_true(is_fake_mmap(f, f->a.bar[0].hva[0]));
	assert_true(is_fake_mmap(f, b2->hva[1]) && is_fake_mmap(f, b2->hva[3]));
	assert_null(b2->hva[0]);
	assert_null(f->a.bar[4].hva[0]);
	assert_int_equal(fake_vfio_nmaps(&f->k), 3);
	assert_int_equal(f->a.nmsix, FAKE_VFIO_MSIX_NVEC);
	assert_int_equal(f->a.nmsi, FAKE_VFIO_MSI_NVEC);
	assert_int_equal(f->a.intx_pin, 1);
	/* Nothing decodes and no interrupt is set up before the guest's slot exists. */
	assert_int_equal(fake_kvm_nslots(&f->kvm), 0);
	assert_int_equal(f->k.nset, 0);
	assert_int_equal(f->k.config[PCI_COMMAND], 0);

	fx_place(f);
	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 4), 0x5a5a1234);
	assert_int_equal(cfg_read(f, PCI_INTERRUPT_PIN, 1), 1);
	/* The extended space reaches the device through ECAM when it has one. */
	assert_int_equal(cfg_read(f, 0x100, 4), express ? 0x00010001 : 0);
	teardown((void **)&f);
}

static void test_init(void **state)
{
	(void)state;
	check_init(false);
	check_init(true);
}

static void test_placement(void **state)
{
	struct fx *f = *state;
	const struct fake_slot *s;
	uint64_t a0 = bar_addr(f, 0), a2 = bar_addr(f, 2), a4 = bar_addr(f, 4), v;
	unsigned int nacc;

	/* BAR 0: 64-bit, in the 64-bit window, one memslot of the fake's mmap. */
	assert_true(a0 >= 1ULL << 40 && !(a0 & ((1 << 20) - 1)));
	s = fake_kvm_slot_at(&f->kvm, a0);
	assert_non_null(s);
	assert_int_equal(s->size, 1 << 20);
	assert_ptr_equal(s->hva, f->a.bar[0].hva[0]);
	assert_true(is_fake_mmap(f, s->hva));
	assert_memory_equal(s->hva, f->k.region[0].data, 64);
	/* Its range is claimed on the bus as well (KVM never exits there while the memslot
	 * lives), so no other BAR or device can be placed over it. */
	assert_true(f->a.bar[0].live[0] && f->a.bar[0].slotted[0]);
	/* BAR 2: its two mmappable pages as memslots, nothing else. */
	assert_true(a2 >= PLATFORM_PCI32_BASE && a2 + (16 << 10) <= 1ULL << 32);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 3);
	s = fake_kvm_slot_at(&f->kvm, a2 + 0x1000);
	assert_non_null(s);
	assert_int_equal(s->size, 0x1000);
	assert_ptr_equal(s->hva, f->a.bar[2].hva[1]);
	s = fake_kvm_slot_at(&f->kvm, a2 + 0x3000);
	assert_non_null(s);
	assert_int_equal(s->size, 0x1000);
	assert_null(fake_kvm_slot_at(&f->kvm, a2));
	assert_null(fake_kvm_slot_at(&f->kvm, a2 + FAKE_VFIO_PBA_OFFSET));

	/* The table is the emulated one: the device never sees it. */
	nacc = f->k.nacc;
	mmio_write(f, a2 + 3 * 16 + PCI_MSIX_ENTRY_DATA, 4, 0x4567);
	assert_int_equal(mmio_read(f, a2 + 3 * 16 + PCI_MSIX_ENTRY_DATA, 4), 0x4567);
	assert_int_equal(vfio_msix_table_read(&f->a.msix, 3 * 16 + PCI_MSIX_ENTRY_DATA, 4), 0x4567);
	assert_int_equal(mmio_read(f, a2 + 3 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
	assert_int_equal(mmio_read(f, a2 + FAKE_VFIO_PBA_OFFSET, 8), 0);
	mmio_write(f, a2 + FAKE_VFIO_PBA_OFFSET, 8, ~0ULL);
	assert_int_equal(mmio_read(f, a2 + FAKE_VFIO_PBA_OFFSET, 8), 0);
	assert_int_equal(f->k.nacc, nacc);
	/* The rest of the table's page is the device's. */
	assert_int_equal(mmio_read(f, a2 + 0x800, 4), *(uint32_t *)(f->k.region[2].data + 0x800));
	assert_int_equal(f->k.nacc, nacc + 1);
	assert_false(f->k.acc[nacc].write);
	assert_int_equal(f->k.acc[nacc].region, 2);
	assert_int_equal(f->k.acc[nacc].offset, 0x800);
	assert_int_equal(f->k.acc[nacc].len, 4);

	/* BAR 4: I/O, trapped on the port bus, at the region offset of the access. */
	assert_true(a4 >= PCI_IO_WINDOW_BASE && a4 + 32 <= 0x10000);
	v = 0;
	assert_true(bus_read(&f->pio, a4 + 6, 2, &v));
	assert_int_equal(v, f->k.region[4].data[6] | f->k.region[4].data[7] << 8);
	assert_int_equal(f->k.acc[nacc + 1].region, 4);
	assert_int_equal(f->k.acc[nacc + 1].offset, 6);
	assert_int_equal(f->k.acc[nacc + 1].len, 2);
	assert_true(bus_write(&f->pio, a4 + 8, 4, 0xdeadbeef));
	assert_true(f->k.acc[nacc + 2].write);
	assert_int_equal(f->k.acc[nacc + 2].region, 4);
	assert_int_equal(f->k.acc[nacc + 2].offset, 8);
	assert_int_equal(f->k.acc[nacc + 2].len, 4);
	assert_int_equal(f->k.acc[nacc + 2].value, 0xdeadbeef);
	assert_int_equal(*(uint32_t *)(f->k.region[4].data + 8), 0xdeadbeef);
	assert_false(bus_read(&f->mmio, a4, 4, &v));
}

/* The guest moves BAR 0 and flips memory decoding; the memslots follow. */
static void test_bar_move(void **state)
{
	struct fx *f = *state;
	uint64_t old = bar_addr(f, 0), to = (1ULL << 40) + (256ULL << 20), a2 = bar_addr(f, 2);
	void *hva = f->a.bar[0].hva[0];
	const struct fake_slot *s;
	uint32_t cmd;
	uint64_t v;

	conf1_write(f, PCI_BASE_ADDRESS_1, 4, to >> 32);
	conf1_write(f, PCI_BASE_ADDRESS_0, 4, (uint32_t)to);
	assert_int_equal(bar_addr(f, 0), to);
	assert_null(fake_kvm_slot_at(&f->kvm, old));
	s = fake_kvm_slot_at(&f->kvm, to);
	assert_non_null(s);
	assert_ptr_equal(s->hva, hva);
	assert_int_equal(s->size, 1 << 20);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 3);
	/* The BAR register reads back what the guest wrote, with its type bits. */
	assert_int_equal(cfg_read(f, PCI_BASE_ADDRESS_0, 4),
			 (uint32_t)to | PCI_BASE_ADDRESS_MEM_TYPE_64);

	/* Memory decoding off: every memory piece goes, the I/O BAR stays. */
	cmd = cfg_read(f, PCI_COMMAND, 2);
	assert_true(cmd & PCI_COMMAND_MEMORY && cmd & PCI_COMMAND_IO);
	cfg_write(f, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 0);
	assert_false(f->a.bar[0].mapped || f->a.bar[2].mapped);
	assert_false(bus_read(&f->mmio, a2, 4, &v));
	assert_true(f->a.bar[4].mapped);
	assert_int_equal(f->k.config[PCI_COMMAND] & PCI_COMMAND_MEMORY, 0);
	/* On again: back where the registers say. */
	cfg_write(f, PCI_COMMAND, 2, cmd);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 3);
	assert_ptr_equal(fake_kvm_slot_at(&f->kvm, to)->hva, hva);
	assert_int_equal(bar_addr(f, 2), a2);
	assert_int_equal(mmio_read(f, a2 + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
	assert_int_equal(f->kvm.nunmap_calls + fake_kvm_nslots(&f->kvm), f->kvm.nmap_calls);
}

/* Another device's range on the MMIO bus, for BARs to be placed over. */
static uint64_t other_read(void *opaque, uint64_t off, unsigned int size)
{
	(void)opaque, (void)off, (void)size;
	return 0x5a5a5a5a;
}

static void other_write(void *opaque, uint64_t off, unsigned int size, uint64_t val)
{
	(void)opaque, (void)off, (void)size, (void)val;
}

static const struct io_ops other_ops = {other_read, other_write};

/* The guest places BAR 0 over BAR 2, then over another device: KVM would take an
 * overlapping memslot over the other's MMIO, so the bus refuses the range first and the
 * piece stays away until the guest moves it somewhere free (a hostile-guest fuzz finding). */
static void test_bar_overlap(void **state)
{
	struct fx *f = *state;
	uint64_t a0 = bar_addr(f, 0), a2 = bar_addr(f, 2), over = a2 & ~((1ULL << 20) - 1);
	uint64_t other = (1ULL << 40) + (512ULL << 20);
	struct error err = {0};
	struct capture c;
	char out[1024];

	capture_start(&c);
	conf1_write(f, PCI_BASE_ADDRESS_1, 4, 0);
	conf1_write(f, PCI_BASE_ADDRESS_0, 4, (uint32_t)over);
	capture_end(&c, out, sizeof(out));
	no_violations(f);
	assert_int_equal(bar_addr(f, 0), over);
	expect_text(out, "0000:00:03.0 BAR0 at 0x");
	expect_text(out, "overlaps");
	assert_false(f->a.bar[0].live[0] || f->a.bar[0].slotted[0]);
	/* BAR 2 is untouched: its memslots and its trapped table. */
	assert_int_equal(fake_kvm_nslots(&f->kvm), 2);
	assert_non_null(fake_kvm_slot_at(&f->kvm, a2 + 0x1000));
	assert_int_equal(mmio_read(f, a2 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);

	/* Over another device's range: that device keeps it. */
	assert_int_equal(bus_register(&f->mmio, other + 0x4000, 0x1000, &other_ops, NULL, "other",
				      &err),
			 0);
	capture_start(&c);
	conf1_write(f, PCI_BASE_ADDRESS_1, 4, other >> 32);
	conf1_write(f, PCI_BASE_ADDRESS_0, 4, (uint32_t)other);
	capture_end(&c, out, sizeof(out));
	no_violations(f);
	expect_text(out, "overlaps other");
	assert_false(f->a.bar[0].live[0]);
	assert_null(fake_kvm_slot_at(&f->kvm, other));
	assert_int_equal(mmio_read(f, other + 0x4000, 4), 0x5a5a5a5a);

	/* Somewhere free again: the memslot is back. */
	conf1_write(f, PCI_BASE_ADDRESS_1, 4, a0 >> 32);
	conf1_write(f, PCI_BASE_ADDRESS_0, 4, (uint32_t)a0);
	no_violations(f);
	assert_true(f->a.bar[0].live[0] && f->a.bar[0].slotted[0]);
	assert_ptr_equal(fake_kvm_slot_at(&f->kvm, a0)->hva, f->a.bar[0].hva[0]);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 3);
	assert_int_equal(bus_unregister(&f->mmio, other + 0x4000), 0);
}

/* ---- as query-pci shows it ---- */

/* pci_dev_info reads an assigned function through its hook: the guest's BAR addresses,
 * the IDs, and INTERRUPT_LINE the GSI of the slot's INTA, writable by the guest. */
static void test_dev_info(void **state)
{
	struct fx *f = *state;
	struct pci_dev_info info;
	uint32_t cmd;

	pci_dev_info(&f->a.pci, &info);
	assert_int_equal(info.slot, SLOT);
	assert_int_equal(info.vendor, 0x1234);
	assert_int_equal(info.device, 0x5a5a);
	assert_int_equal(info.subsys_vendor, 0x1af4);
	assert_int_equal(info.subsys, 0x1100);
	assert_int_equal(info.class_code, 0x010802);
	assert_int_equal(info.irq_pin, 1);
	assert_int_equal(info.irq_line, pci_intx_gsi(SLOT, 1));
	assert_int_equal(cfg_read(f, PCI_INTERRUPT_LINE, 1), pci_intx_gsi(SLOT, 1));
	assert_int_equal(info.bar[0].type, PCI_BAR_MEM64);
	assert_int_equal(info.bar[0].size, 1 << 20);
	assert_true(info.bar[0].decoding);
	assert_int_equal(info.bar[0].addr, bar_addr(f, 0));
	assert_int_equal(info.bar[1].type, PCI_BAR_UNUSED);
	assert_int_equal(info.bar[2].type, PCI_BAR_MEM32);
	assert_int_equal(info.bar[2].addr, bar_addr(f, 2));
	assert_int_equal(info.bar[4].type, PCI_BAR_IO);
	assert_int_equal(info.bar[4].size, 32);
	assert_int_equal(info.bar[4].addr, bar_addr(f, 4));

	/* The guest's scratch value stays until the next reset. */
	cfg_write(f, PCI_INTERRUPT_LINE, 1, 0x42);
	cmd = cfg_read(f, PCI_COMMAND, 2);
	cfg_write(f, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	pci_dev_info(&f->a.pci, &info);
	assert_int_equal(info.irq_line, 0x42);
	assert_false(info.bar[0].decoding || info.bar[2].decoding);
	assert_true(info.bar[4].decoding);
	vfio_assigned_reset(&f->a);
	pci_dev_info(&f->a.pci, &info);
	assert_int_equal(info.irq_line, pci_intx_gsi(SLOT, 1));
	assert_false(info.bar[0].decoding || info.bar[2].decoding || info.bar[4].decoding);
}

/* ---- interrupts ---- */

static void test_intx(void **state)
{
	struct fx *f = fx_new(false);
	struct error err = {0};
	unsigned int gsi;

	*state = f;
	fx_init(f);
	assert_int_equal(pci_host_add(&f->host, SLOT, &f->a.pci, &err), 0);
	/* INTx needs the slot, which the reset after pci_host_add finds. */
	assert_int_equal(f->kvm.nintx_calls, 0);
	vfio_assigned_reset(&f->a);
	gsi = pci_intx_gsi(SLOT, 1);
	assert_true(f->kvm.intx_bound);
	assert_int_equal(f->kvm.intx_gsi, gsi);
	assert_int_equal(f->kvm.intx_efd, f->a.intx_efd);
	assert_int_equal(f->kvm.intx_resample, f->a.intx_resample);
	assert_int_equal(f->a.mode, VFIO_IRQ_INTX);
	assert_int_equal(f->k.nset, 2);
	expect_set(set_at(f, 0), VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1,
		   &f->a.intx_efd);
	expect_set(set_at(f, 1), VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 1,
		   &f->a.intx_resample);
	assert_int_equal(f->k.active, VFIO_PCI_INTX_IRQ_INDEX);
	/* A reset unbinds it first and binds it again. */
	vfio_assigned_reset(&f->a);
	assert_true(f->kvm.intx_bound);
	assert_int_equal(f->kvm.nintx_calls, 3);
	assert_int_equal(f->k.active_at_reset, -1);

	/* KVM refusing the binding: said, counted, and the device's INTx off again. */
	f->kvm.fail_intx = true;
	{
		struct capture c;
		char out[512];

		capture_start(&c);
		vfio_assigned_reset(&f->a);
		capture_end(&c, out, sizeof(out));
		expect_text(out, "KVM_IRQFD (resample) on GSI");
	}
	assert_false(f->kvm.intx_bound);
	assert_int_equal(f->a.irq_errors, 1);
	assert_int_equal(f->k.active, -1);
	assert_int_equal(f->a.mode, VFIO_IRQ_NONE);
}

static void test_msix(void **state)
{
	struct fx *f = *state;
	const struct fake_route *r;
	unsigned int nset = f->k.nset;
	uint64_t n;

	assert_true(f->kvm.intx_bound);
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	/* INTx off, then every vector with its eventfd; none live yet (all masked). */
	assert_false(f->kvm.intx_bound);
	assert_int_equal(f->k.nset, nset + 2);
	expect_set(set_at(f, nset), VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	expect_set(set_at(f, nset + 1), VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER,
		   FAKE_VFIO_MSIX_NVEC, f->a.msix_efd);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSIX);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);

	msix_entry(f, 3, 0xfee01000, 0x4033, false);
	r = fake_kvm_route_of(&f->kvm, f->a.msix_efd[3]);
	assert_non_null(r);
	assert_int_equal(r->addr, 0xfee01000);
	assert_int_equal(r->data, 0x4033);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 1);
	assert_true(f->a.msix_route[3] >= 0);

	/* Masked: unbound; a signal waits in the eventfd until the PBA is read. */
	mmio_write(f, bar_addr(f, 2) + 3 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 1);
	assert_null(fake_kvm_route_of(&f->kvm, f->a.msix_efd[3]));
	assert_int_equal(f->a.msix_route[3], -1);
	signal_efd(f->a.msix_efd[3]);
	assert_int_equal(pba(f), 1 << 3);
	assert_int_equal(read(f->a.msix_efd[3], &n, sizeof(n)), -1);
	assert_int_equal(f->kvm.sent.n, 0);
	/* Unmasked: bound again, the pending message sent once, the bit cleared. */
	mmio_write(f, bar_addr(f, 2) + 3 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	assert_int_equal(f->kvm.sent.n, 1);
	assert_int_equal(f->kvm.sent.addr[0], 0xfee01000);
	assert_int_equal(f->kvm.sent.data[0], 0x4033);
	assert_int_equal(pba(f), 0);
	assert_int_equal(f->kvm.sent.n, 1);
	assert_non_null(fake_kvm_route_of(&f->kvm, f->a.msix_efd[3]));

	/* A new message for a live vector moves its route. */
	mmio_write(f, bar_addr(f, 2) + 3 * 16 + PCI_MSIX_ENTRY_DATA, 4, 0x4044);
	assert_int_equal(fake_kvm_route_of(&f->kvm, f->a.msix_efd[3])->data, 0x4044);
	/* The function mask quiets every vector; lifting it brings them back. */
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSIX);
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 1);

	/* Off: routes first, then the index, then INTx back on. */
	nset = f->k.nset;
	cfg_write(f, MSIX_FLAGS, 2, 0);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	expect_set(set_at(f, nset), VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	expect_set(set_at(f, nset + 1), VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1,
		   &f->a.intx_efd);
	expect_set(set_at(f, nset + 2), VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 1,
		   &f->a.intx_resample);
	assert_true(f->kvm.intx_bound);
	assert_int_equal(f->a.mode, VFIO_IRQ_INTX);
	/* While MSI-X is off the PBA reads nothing pending and the eventfds stay as they are. */
	signal_efd(f->a.msix_efd[5]);
	assert_int_equal(pba(f), 0);
	assert_int_equal(read(f->a.msix_efd[5], &n, sizeof(n)), sizeof(n));
}

#define MSI(reg) (FAKE_VFIO_MSI_CAP + (reg))

static void test_msi(void **state)
{
	struct fx *f = *state;
	const struct fake_route *r;
	unsigned int nset;

	cfg_write(f, MSI(PCI_MSI_ADDRESS_LO), 4, 0xfee02000);
	cfg_write(f, MSI(PCI_MSI_ADDRESS_HI), 4, 0);
	cfg_write(f, MSI(PCI_MSI_DATA_64), 2, 0x4061);
	nset = f->k.nset;
	cfg_write(f, MSI(PCI_MSI_FLAGS), 2, PCI_MSI_FLAGS_ENABLE | 1 << 4);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSI);
	assert_false(f->kvm.intx_bound);
	expect_set(set_at(f, nset + 1), VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 2,
		   f->a.msi_efd);
	/* Vector i sends the data with its low bits i. */
	r = fake_kvm_route_of(&f->kvm, f->a.msi_efd[0]);
	assert_non_null(r);
	assert_int_equal(r->addr, 0xfee02000);
	assert_int_equal(r->data, 0x4060);
	r = fake_kvm_route_of(&f->kvm, f->a.msi_efd[1]);
	assert_non_null(r);
	assert_int_equal(r->data, 0x4061);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 2);

	/* The per-vector mask. */
	cfg_write(f, MSI(PCI_MSI_MASK_64), 4, 1 << 1);
	assert_null(fake_kvm_route_of(&f->kvm, f->a.msi_efd[1]));
	assert_non_null(fake_kvm_route_of(&f->kvm, f->a.msi_efd[0]));
	cfg_write(f, MSI(PCI_MSI_MASK_64), 4, 0);
	assert_int_equal(fake_kvm_route_of(&f->kvm, f->a.msi_efd[1])->data, 0x4061);

	/* Four vectors: vfio-pci takes the count only when MSI is switched on. */
	nset = f->k.nset;
	cfg_write(f, MSI(PCI_MSI_FLAGS), 2, PCI_MSI_FLAGS_ENABLE | 2 << 4);
	expect_set(set_at(f, nset), VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	expect_set(set_at(f, nset + 1), VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 4,
		   f->a.msi_efd);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 4);
	assert_int_equal(fake_kvm_route_of(&f->kvm, f->a.msi_efd[3])->data, 0x4063);
	assert_int_equal(fake_kvm_route_of(&f->kvm, f->a.msi_efd[1])->data, 0x4061);

	/* MSI-X wins over MSI while both are on, and MSI comes back after it. */
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSIX);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	cfg_write(f, MSIX_FLAGS, 2, 0);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSI);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 4);

	/* Off: INTx again. */
	cfg_write(f, MSI(PCI_MSI_FLAGS), 2, 0);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	assert_int_equal(f->a.mode, VFIO_IRQ_INTX);
	assert_true(f->kvm.intx_bound);
}

/* The kernel offers fewer MSI vectors than the capability advertises: never more asked. */
static void test_msi_fewer_vectors(void **state)
{
	struct fx *f = fx_new(false);

	*state = f;
	f->k.irq_count[VFIO_PCI_MSI_IRQ_INDEX] = 1;
	fx_init(f);
	fx_place(f);
	assert_int_equal(f->a.nmsi, 1);
	cfg_write(f, MSI(PCI_MSI_ADDRESS_LO), 4, 0xfee02000);
	cfg_write(f, MSI(PCI_MSI_FLAGS), 2, PCI_MSI_FLAGS_ENABLE | 2 << 4);
	no_violations(f);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSI);
	assert_int_equal(fake_vfio_last_set(&f->k)->count, 1);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 1);
}

/* The kernel refusing to switch an index on leaves it off: said once, nothing to undo. */
static void test_irq_refused(void **state)
{
	struct fx *f = *state;
	struct capture c;
	char out[1024];

	f->k.fail_trigger = true;
	capture_start(&c);
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	capture_end(&c, out, sizeof(out));
	expect_text(out, "VFIO_DEVICE_SET_IRQS index 2, 8 from 0");
	assert_null(strstr(strstr(out, "index 2") + 1, "index 2"));
	assert_int_equal(f->a.irq_errors, 1);
	assert_int_equal(f->a.mode, VFIO_IRQ_NONE);
	assert_int_equal(f->k.active, -1);
	no_violations(f);
	msix_entry(f, 0, 0xfee00000, 0x30, false);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	/* The guest gives up on MSI-X: INTx again, once the host can. */
	f->k.fail_trigger = false;
	cfg_write(f, MSIX_FLAGS, 2, 0);
	assert_int_equal(f->a.mode, VFIO_IRQ_INTX);
	assert_true(f->kvm.intx_bound);
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSIX);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 1);
}

/* A function without an INTx pin: nothing to fall back to when MSI-X goes off. */
static void test_no_pin(void **state)
{
	struct fx *f = fx_new(false);
	unsigned int nset;

	*state = f;
	f->k.config[PCI_INTERRUPT_PIN] = 0;
	fx_init(f);
	fx_place(f);
	assert_int_equal(f->a.intx_pin, 0);
	assert_int_equal(f->a.mode, VFIO_IRQ_NONE);
	assert_int_equal(f->kvm.nintx_calls, 0);
	assert_int_equal(f->k.nset, 0);
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(f->a.mode, VFIO_IRQ_MSIX);
	nset = f->k.nset;
	cfg_write(f, MSIX_FLAGS, 2, 0);
	assert_int_equal(f->k.nset, nset + 1);
	expect_set(set_at(f, nset), VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	assert_int_equal(f->a.mode, VFIO_IRQ_NONE);
	assert_int_equal(f->kvm.nintx_calls, 0);
}

/* ---- reset ---- */

static void test_reset(void **state)
{
	struct fx *f = *state;
	unsigned int resets = f->k.nresets;

	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	msix_entry(f, 3, 0xfee01000, 0x4033, false);
	cfg_write(f, PCI_COMMAND, 2, cfg_read(f, PCI_COMMAND, 2) | PCI_COMMAND_MASTER);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 1);

	vfio_assigned_reset(&f->a);
	assert_int_equal(f->k.nresets, resets + 1);
	/* No vector was bound to the device while it reset. */
	assert_int_equal(f->k.active_at_reset, -1);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 0);
	assert_false(f->a.cfg.msix_enabled);
	assert_int_equal(cfg_read(f, MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE, 0);
	assert_int_equal(cfg_read(f, PCI_COMMAND, 2), 0);
	assert_int_equal(f->k.config[PCI_COMMAND], 0);
	assert_int_equal(cfg_read(f, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_MEM_TYPE_64);
	assert_int_equal(vfio_msix_table_read(&f->a.msix, 3 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4),
			 1);
	assert_int_equal(vfio_msix_table_read(&f->a.msix, 3 * 16 + PCI_MSIX_ENTRY_DATA, 4), 0);
	assert_int_equal(f->a.mode, VFIO_IRQ_INTX);
	assert_true(f->kvm.intx_bound);
	assert_int_equal(f->k.active, VFIO_PCI_INTX_IRQ_INDEX);
	/* Firmware places it again. */
	{
		struct error err = {0};

		assert_int_equal(pci_host_assign_bars(&f->host, &err), 0);
	}
	assert_int_equal(fake_kvm_nslots(&f->kvm), 3);
}

/* With VFIO_DEVICE_FLAGS_RESET, the function's own reset and nothing else. */
static void test_reset_function(void **state)
{
	struct fx *f = *state;
	unsigned int resets = f->k.nresets;
	struct error err = {0};

	assert_int_equal(vfio_pci_device_reset(&f->p, &err), 0);
	assert_int_equal(f->k.nresets, resets + 1);
	assert_int_equal(f->k.nhot_info_calls, 0);
	assert_int_equal(f->k.nhot_resets, 0);
}

/* The fake function without a reset of its own, as edu or a device without FLR. */
static void no_function_reset(struct fx *f)
{
	f->k.dev_flags &= ~VFIO_DEVICE_FLAGS_RESET;
	f->p.flags &= ~VFIO_DEVICE_FLAGS_RESET;
}

/* Without it, a bus reset when every function it touches is in a group we hold: here the
 * function and a second one of the same group. The fake checks the group fds passed. */
static void test_reset_hot(void **state)
{
	struct fx *f = *state;
	unsigned int resets = f->k.nresets;
	struct error err = {0};

	no_function_reset(f);
	f->k.nhot = 2;
	f->k.hot_group[1] = FAKE_VFIO_GROUP;
	assert_int_equal(vfio_pci_device_reset(&f->p, &err), 0);
	assert_int_equal(f->k.nhot_resets, 1);
	assert_int_equal(f->k.nresets, resets + 1);
	assert_int_equal(f->k.nhot_info_calls, 2); /* the count, then the list */

	/* The same through the function's reset: nothing bound to it meanwhile. */
	cfg_write(f, PCI_COMMAND, 2, cfg_read(f, PCI_COMMAND, 2) | PCI_COMMAND_MASTER);
	vfio_assigned_reset(&f->a);
	assert_int_equal(f->k.nhot_resets, 2);
	assert_int_equal(f->k.active_at_reset, -1);
	assert_int_equal(f->k.config[PCI_COMMAND], 0);
	assert_false(f->a.no_reset_said);
}

/* The RESET flag set, but the function's reset fails (Linux kept "bus" for a function
 * probed before its bus neighbours): the bus reset through our groups instead; and when
 * that is not ours to do either, the message names both. */
static void test_reset_function_fails(void **state)
{
	struct fx *f = *state;
	unsigned int resets = f->k.nresets;
	struct error err = {0};

	f->k.fail_function_reset = true;
	f->k.nhot = 2;
	f->k.hot_group[1] = FAKE_VFIO_GROUP;
	assert_int_equal(vfio_pci_device_reset(&f->p, &err), 0);
	assert_int_equal(f->k.nhot_resets, 1);
	assert_int_equal(f->k.nresets, resets + 1);

	f->k.hot_group[1] = FAKE_VFIO_GROUP + 5;
	assert_int_equal(vfio_pci_device_reset(&f->p, &err), -ENOTTY);
	assert_int_equal(f->k.nhot_resets, 1);
	if (!strstr(err.msg, "VFIO_DEVICE_RESET") || !strstr(err.msg, "which slabvm does not hold"))
		fail_msg("message: %s", err.msg);
}

/* The VM's end resets a function that was in use, before its BARs and interrupts go. */
static void test_reset_at_destroy(void **state)
{
	struct fx *f = *state;
	unsigned int resets;

	vfio_assigned_reset(&f->a);
	resets = f->k.nresets;
	pci_host_destroy(&f->host);
	vfio_assigned_destroy(&f->a);
	assert_int_equal(f->k.nresets, resets + 1);
	assert_int_equal(f->k.active_at_reset, -1);
}

/* Runs vfio_assigned_reset with stderr in a file; returns what it said. */
static void reset_said(struct fx *f, char *buf, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	vfio_assigned_reset(&f->a);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

/* A bus reset that would reach a function of a group we do not hold: not tried; said once,
 * and the rest of the reset (configuration, MSI-X, interrupts) still happens. */
static void test_reset_hot_not_ours(void **state)
{
	struct fx *f = *state;
	unsigned int resets = f->k.nresets;
	struct error err = {0};
	char said[512];

	no_function_reset(f);
	f->k.nhot = 2;
	f->k.hot_group[1] = 9;
	assert_int_equal(vfio_pci_device_reset(&f->p, &err), -ENOTSUP);
	if (!strstr(err.msg, "0000:00:03.0") || !strstr(err.msg, "0000:01:04.0") ||
	    !strstr(err.msg, "group 9"))
		fail_msg("message: %s", err.msg);
	assert_int_equal(f->k.nhot_resets, 0);
	assert_int_equal(f->k.nresets, resets);

	cfg_write(f, PCI_COMMAND, 2, cfg_read(f, PCI_COMMAND, 2) | PCI_COMMAND_MASTER);
	reset_said(f, said, sizeof(said));
	if (!strstr(said, "cannot be reset") || !strstr(said, "group 9"))
		fail_msg("said: %s", said);
	assert_true(f->a.no_reset_said);
	assert_int_equal(cfg_read(f, PCI_COMMAND, 2), 0);
	assert_int_equal(f->k.config[PCI_COMMAND], 0);
	assert_int_equal(f->a.mode, VFIO_IRQ_INTX);
	reset_said(f, said, sizeof(said));
	assert_string_equal(said, "");
	assert_int_equal(f->k.nhot_resets, 0);
}

/* No bus reset at all (a function on a root bus): -ENOTSUP, saying so. */
static void test_reset_none(void **state)
{
	struct fx *f = *state;
	struct error err = {0};

	no_function_reset(f);
	f->k.nhot = 0;
	assert_int_equal(vfio_pci_device_reset(&f->p, &err), -ENOTSUP);
	if (!strstr(err.msg, "no bus reset"))
		fail_msg("message: %s", err.msg);
	assert_int_equal(f->k.nhot_resets, 0);
}

/* A function pci.c refuses (an I/O BAR larger than 256 bytes) leaves nothing behind. */
static void test_init_failure(void **state)
{
	struct fx *f = fx_new(false);
	const struct vfio_assign_hooks hooks = fake_kvm_hooks(&f->kvm);
	struct error err = {0};

	(void)state;
	free(f->k.region[4].data);
	f->k.region[4].size = 512;
	f->k.region[4].data = calloc(1, 512);
	assert_int_equal(vfio_pci_device_probe(&f->p, &f->c, &f->d, &err), 0);
	assert_true(vfio_assigned_init(&f->a, &f->p, &f->mmio, &f->pio, &hooks, &err) < 0);
	assert_true(err.msg[0]);
	assert_int_equal(fake_vfio_nmaps(&f->k), 0);
	/* An MSI-X table outside its BAR is refused before anything is built. */
	free(f->k.region[2].data);
	f->k.region[2].size = 4096;
	f->k.region[2].data = calloc(1, 4096);
	f->k.region[4].size = 32;
	assert_int_equal(vfio_pci_device_probe(&f->p, &f->c, &f->d, &err), 0);
	assert_int_equal(vfio_assigned_init(&f->a, &f->p, &f->mmio, &f->pio, &hooks, &err),
			 -EINVAL);
	assert_int_equal(fake_vfio_nmaps(&f->k), 0);
	no_violations(f);
	pci_host_destroy(&f->host);
	assert_int_equal(open_fds(), f->fds);
	bus_destroy(&f->mmio);
	bus_destroy(&f->pio);
	fake_vfio_destroy(&f->k);
	free(f);
}

/* ---- a hostile guest ---- */

static void test_hostile_traps(void **state)
{
	struct fx *f = *state;
	uint64_t a2 = bar_addr(f, 2), a4 = bar_addr(f, 4), v;
	unsigned int nacc = f->k.nacc;

	/* Sizes and offsets the device may not expect, all inside the ranges. */
	assert_true(bus_read(&f->pio, a4 + 24, 8, &v));
	assert_int_equal(f->k.acc[nacc].len, 8);
	assert_true(bus_read(&f->pio, a4 + 3, 4, &v));
	assert_int_equal(f->k.acc[nacc + 1].offset, 3);
	assert_true(bus_write(&f->pio, a4 + 31, 1, 0x77));
	assert_int_equal(f->k.region[4].data[31], 0x77);
	/* Past the end: the bus keeps them away. */
	assert_false(bus_read(&f->pio, a4 + 28, 8, &v));
	assert_false(bus_write(&f->pio, a4 + 32, 1, 0));
	/* Wider than any register: nothing reaches the device. */
	nacc = f->k.nacc;
	assert_true(bus_read(&f->mmio, a2 + 0x100, 16, &v));
	assert_int_equal(v, 0);
	assert_true(bus_write(&f->mmio, a2 + 0x100, 16, 1));
	assert_true(bus_write(&f->pio, a4, 16, 1));
	assert_int_equal(f->k.nacc, nacc);
	/* The table at odd offsets, across its end, and 8 bytes wide. */
	mmio_write(f, a2 + 7 * 16 + 8, 8, 0x0000000112345678ULL);
	assert_int_equal(mmio_read(f, a2 + 7 * 16 + 8, 8), 0x0000000112345678ULL);
	assert_int_equal(mmio_read(f, a2 + 7 * 16 + 13, 8), 0);
	mmio_write(f, a2 + 0x7d, 8, ~0ULL);
	mmio_read(f, a2 + 0x7f, 2);
	assert_int_equal(mmio_read(f, a2 + FAKE_VFIO_PBA_OFFSET + 3, 8), 0);
	/* The device failing an access reads as all ones, of the access's size. */
	f->k.fail_bar_io = true;
	assert_true(bus_read(&f->pio, a4, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_true(bus_read(&f->pio, a4, 8, &v));
	assert_int_equal(v, ~0ULL);
	assert_true(bus_write(&f->pio, a4, 4, 0));
	f->k.fail_bar_io = false;
	/* Garbage in every table entry with MSI-X on: routes stay consistent. */
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	for (v = 0; v < 0x100; v += 4)
		mmio_write(f, a2 + v, 4, 0x9e3779b9 * (uint32_t)(v + 1));
	for (v = 0; v < FAKE_VFIO_MSIX_NVEC; v++) {
		bool masked =
			vfio_msix_table_read(&f->a.msix, 16 * v + PCI_MSIX_ENTRY_VECTOR_CTRL, 4) &
			PCI_MSIX_ENTRY_CTRL_MASKBIT;

		assert_int_equal(fake_kvm_route_of(&f->kvm, f->a.msix_efd[v]) != NULL, !masked);
	}
	no_violations(f);
}

/* KVM refusing a memslot: slabvm says so and the piece stays trapped, reaching the device
 * through the region's read and write; a later placement gets its memslot. */
static void test_map_failure(void **state)
{
	struct fx *f = *state;
	uint16_t cmd = cfg_read(f, PCI_COMMAND, 2);
	unsigned int nacc;
	struct capture c;
	char out[1024];

	cfg_write(f, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	f->kvm.fail_map = true;
	capture_start(&c);
	cfg_write(f, PCI_COMMAND, 2, cmd);
	capture_end(&c, out, sizeof(out));
	expect_text(out, "0000:00:03.0 BAR0 at 0x");
	expect_text(out, "all BAR memslots in use (trapped instead)");
	expect_text(out, "0000:00:03.0 BAR2 at 0x");
	assert_int_equal(fake_kvm_nslots(&f->kvm), 0);
	assert_true(f->a.bar[0].live[0]);
	assert_false(f->a.bar[0].slotted[0]);
	nacc = f->k.nacc;
	assert_int_equal(mmio_read(f, bar_addr(f, 0) + 0x40, 4),
			 *(uint32_t *)(f->k.region[0].data + 0x40));
	assert_int_equal(f->k.nacc, nacc + 1);
	assert_int_equal(f->k.acc[nacc].region, 0);
	assert_int_equal(f->k.acc[nacc].offset, 0x40);
	/* The BAR's trapped pieces are there all the same. */
	assert_true(f->a.bar[2].live[0]);
	assert_int_equal(mmio_read(f, bar_addr(f, 2) + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
	/* Off and on again once KVM has room. */
	f->kvm.fail_map = false;
	cfg_write(f, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	cfg_write(f, PCI_COMMAND, 2, cmd);
	assert_int_equal(fake_kvm_nslots(&f->kvm), 3);

	/* KVM refusing a route: said and counted. */
	f->kvm.fail_route = true;
	cfg_write(f, MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	capture_start(&c);
	msix_entry(f, 2, 0xfee00000, 0x41, false);
	capture_end(&c, out, sizeof(out));
	expect_text(out, "device interrupt routes in use");
	assert_int_equal(f->a.irq_errors, 1);
	assert_int_equal(fake_kvm_nroutes(&f->kvm), 0);
	f->kvm.fail_route = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test_setup_teardown(test_placement, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_bar_move, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_bar_overlap, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_dev_info, setup_placed, teardown),
		cmocka_unit_test_teardown(test_intx, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_msi, setup_placed, teardown),
		cmocka_unit_test_teardown(test_msi_fewer_vectors, teardown),
		cmocka_unit_test_setup_teardown(test_irq_refused, setup_placed, teardown),
		cmocka_unit_test_teardown(test_no_pin, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_reset_function, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_reset_function_fails, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_reset_at_destroy, setup_placed, teardown_destroyed),
		cmocka_unit_test_setup_teardown(test_reset_hot, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_reset_hot_not_ours, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_reset_none, setup_placed, teardown),
		cmocka_unit_test(test_init_failure),
		cmocka_unit_test_setup_teardown(test_hostile_traps, setup_placed, teardown),
		cmocka_unit_test_setup_teardown(test_map_failure, setup_placed, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
