// SPDX-License-Identifier: MIT
#include "vm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bootinfo.h"
#include "host/caps.h"
#include "host/evloop.h"
#include "host/sandbox.h"
#include "kvm/boot.h"
#include "kvm/vcpu.h"
#include "mem/guestmem.h"
#include "vm_balloon.h"
#include "vm_dimm.h"
#include "vm_rng.h"
#include "vm_vfio.h"
#include "x86/acpi.h"
#include "x86/identity_map.h"
#include "x86/linux.h"
#include "x86/platform.h"

void vm_stop(struct vm *vm, const struct stop *s)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->stop_lock);
	if (!vm->stopping) {
		vm->stop = *s;
		__atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
		if (write(vm->stop_fd, &one, sizeof(one)) < 0) {
			/* Already signalled: the main loop is waking up. */
		}
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

void vm_stop_reason(struct vm *vm, enum stop_reason reason)
{
	const struct stop s = {.reason = reason};

	vm_stop(vm, &s);
}

/* A monitor error: what failed, as the error says it. */
static void vm_stop_error(struct vm *vm, const struct error *err)
{
	struct stop s = {.reason = STOP_MONITOR_ERROR};

	snprintf(s.detail, sizeof(s.detail), "%s", err->msg);
	vm_stop(vm, &s);
}

/* From a vCPU (struct vcpu_host). */
static void vm_vcpu_stop(void *ctx, const struct stop *s)
{
	vm_stop(ctx, s);
}

static void vm_debugexit(void *ctx, uint8_t status)
{
	const struct stop s = {.reason = STOP_DEBUG_EXIT, .value = status};

	vm_stop(ctx, &s);
}

static void vm_uart_tx(void *ctx, const uint8_t *buf, size_t len)
{
	struct vm *vm = ctx;

	console_write(&vm->console, buf, len);
}

static void vm_uart_rx_ready(void *ctx)
{
	struct vm *vm = ctx;

	console_wake(&vm->console);
}

/* ACPI power-off and reset requests come from a vCPU inside a bus access: only stop. */
static void vm_acpi_poweroff(void *ctx)
{
	vm_stop_reason(ctx, STOP_GUEST_POWEROFF);
}

static void vm_acpi_reset(void *ctx)
{
	const struct stop s = {.reason = STOP_GUEST_RESET, .detail = "the ACPI reset register"};

	vm_stop(ctx, &s);
}

static void vm_msi_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;

	/* A failed delivery is a lost interrupt, as a bad MSI address would be on hardware;
	 * the device's state is unaffected. */
	kvm_msi_send(&vm->kvm, addr, data);
}

static const struct msi_ops vm_msi_ops = {vm_msi_send};

/* ---- the device list ---- */

static void vm_device_free(struct vm_device *d)
{
	if (d->ops && d->ops->destroy)
		d->ops->destroy(d->opaque);
	free(d);
}

int vm_device_add(struct vm *vm, const struct vm_device *d, struct error *err)
{
	struct vm_device *e = malloc(sizeof(*e)), **tail;
	unsigned int i;
	int ret = 0;

	if (!e) {
		if (d->ops && d->ops->destroy)
			d->ops->destroy(d->opaque);
		return error_set(err, -ENOMEM, "out of memory");
	}
	*e = *d;
	e->next = NULL;
	for (i = 0; !ret && i < e->nwindows; i++) {
		const struct vm_window *w = &e->window[i];

		ret = bus_register(w->bus, w->base, w->len, w->ops, w->opaque, w->name, err);
	}
	if (!ret && e->pci) {
		if (e->slot >= PCI_SLOTS || vm->pci_slot[e->slot])
			ret = error_set(err, -EBUSY, "%s: PCI slot %u is taken", e->type, e->slot);
		else
			ret = pci_host_add(&vm->pci, e->slot, e->pci, err);
	}
	if (ret) {
		while (i--)
			bus_unregister(e->window[i].bus, e->window[i].base);
		vm_device_free(e);
		return ret;
	}
	if (e->pci)
		vm->pci_slot[e->slot] = e;
	for (tail = &vm->devices; *tail; tail = &(*tail)->next)
		;
	*tail = e;
	return 0;
}

struct vm_device *vm_device_find(struct vm *vm, const char *type)
{
	struct vm_device *d;

	for (d = vm->devices; d; d = d->next)
		if (!strcmp(d->type, type))
			return d;
	return NULL;
}

/* A BAR moved: its device's entry is the one in the function's slot. */
static void vm_bar_changed(void *ctx, struct pci_dev *d, unsigned int bar, bool mapped,
			   uint64_t addr, uint64_t size)
{
	struct vm *vm = ctx;
	struct vm_device *e = d->slot < PCI_SLOTS ? vm->pci_slot[d->slot] : NULL;

	if (e && e->ops && e->ops->bar_changed)
		e->ops->bar_changed(e->opaque, bar, mapped, addr, size);
}

/* Every device is reset before guest memory goes away, then destroyed in the reverse
 * order of registration. */
static void vm_devices_destroy(struct vm *vm)
{
	struct vm_device *d, *rev = NULL, *next;

	for (d = vm->devices; d; d = d->next)
		if (d->ops && d->ops->reset)
			d->ops->reset(d->opaque);
	for (d = vm->devices; d; d = next) {
		next = d->next;
		d->next = rev;
		rev = d;
	}
	for (d = rev; d; d = next) {
		next = d->next;
		vm_device_free(d);
	}
	vm->devices = NULL;
	memset(vm->pci_slot, 0, sizeof(vm->pci_slot));
}

/* ---- the machine ---- */

/* The PCI host bridge with its devices: virtio-rng in slot 1, the balloon in slot 2,
 * assigned devices from slot 3. */
static int vm_pci(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	const struct pci_host_config pcfg = {
		.mmio = &vm->mmio,
		.pio = &vm->pio,
		.irq_ops = &kvm_irq_ops,
		.irq_ctx = &vm->kvm,
		.msi_ops = &vm_msi_ops,
		.msi_ctx = vm,
		.mmio64_base = vm->pci64_base,
		.mmio64_size = PLATFORM_PCI64_SIZE,
		.listener = {vm_bar_changed, vm},
		.reset_ops = &acpi_pm_reset_io_ops,
		.reset_opaque = &vm->pm,
	};
	int ret;

	ret = pci_host_init(&vm->pci, &pcfg, err);
	if (ret)
		return ret;
	vm->pci_ready = true;
	ret = vm_rng_add(vm, 1, err);
	if (!ret && cfg->balloon)
		ret = vm_balloon_add(vm, &cfg->balloon_cfg, 2, err);
	if (!ret)
		ret = vm_vfio_add_pci(vm, 3, err);
	if (!ret)
		ret = pci_host_assign_bars(&vm->pci, err);
	return ret;
}

/* The board's devices: ACPI fixed hardware, COM1, the debug-exit port; then PCI. */
static int vm_devices(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	const struct irq_line com1_irq = {&kvm_irq_ops, &vm->kvm, UART_COM1_IRQ};
	const struct uart_backend com1_be = {vm_uart_tx, vm_uart_rx_ready, vm};
	const struct irq_line sci = {&kvm_irq_ops, &vm->kvm, PLATFORM_ACPI_SCI_IRQ};
	const struct acpi_pm_callbacks pm_cb = {vm_acpi_poweroff, vm_acpi_reset, vm};
	const struct vm_device pm = {
		.type = "acpi-pm",
		.nwindows = 2,
		.window = {{&vm->pio, PLATFORM_ACPI_PM1A_EVT, ACPI_PM_EVT_WINDOW,
			    &acpi_pm_evt_io_ops, &vm->pm, "acpi-pm1a-evt"},
			   {&vm->pio, PLATFORM_ACPI_PM1A_CNT, ACPI_PM_CNT_WINDOW,
			    &acpi_pm_cnt_io_ops, &vm->pm, "acpi-pm1a-cnt"}},
	};
	const struct vm_device com1 = {
		.type = "isa-serial",
		.nwindows = 1,
		.window = {{&vm->pio, UART_COM1_BASE, UART_WINDOW, &uart_io_ops, &vm->com1,
			    "com1"}},
	};
	const struct vm_device debugexit = {
		.type = "debug-exit",
		.nwindows = 1,
		.window = {{&vm->pio, DEBUGEXIT_PORT, DEBUGEXIT_WINDOW, &debugexit_io_ops,
			    &vm->debugexit, "debug-exit"}},
	};
	/* The DSDT always describes the memory hotplug controller and its PNP0C80 slots; the
	 * controller must answer, or every slot would read as present from the unclaimed
	 * ports' all-ones. Slots beyond --slots read absent. */
	const struct irq_line hp_irq = {&kvm_irq_ops, &vm->kvm, PLATFORM_MEMHP_GSI};
	const struct vm_device memhp = {
		.type = "memory-hotplug",
		.nwindows = 1,
		.window = {{&vm->pio, PLATFORM_MEMHP_PORT, MEMHP_WINDOW, &memhp_io_ops, &vm->memhp,
			    "memory-hotplug"}},
	};
	int ret;

	acpi_pm_init(&vm->pm, &sci, &pm_cb);
	uart_init(&vm->com1, &com1_irq, &com1_be);
	vm->debugexit = (struct debugexit){vm_debugexit, vm};
	memhp_init(&vm->memhp, cfg->mem.slots, &hp_irq, &vm_dimm_memhp_ops, vm);
	ret = vm_dimms_init(vm, err);
	if (!ret)
		ret = vm_device_add(vm, &pm, err);
	if (!ret)
		ret = vm_device_add(vm, &com1, err);
	if (!ret)
		ret = vm_device_add(vm, &debugexit, err);
	if (!ret)
		ret = vm_device_add(vm, &memhp, err);
	if (!ret)
		ret = vm_vfio_add(vm, cfg, err);
	if (!ret)
		ret = vm_pci(vm, cfg, err);
	return ret;
}

static int vm_boot_firmware(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	struct boot_firmware_config fc = {
		.mm = &vm->mm,
		.ncpus = vm->vcpus.n,
		/* RAM, the DIMM window, the PCI hole and the part of the 64-bit PCI window that
		 * holds the BARs slabvm placed, so a test guest reaches every device. Not the
		 * whole 64 GiB window: with 2 MiB pages each GiB costs a page of tables. */
		.map_end = vm->pci.mmio64_end,
		.gib_pages = kvm_cpuid_ext_edx(&vm->kvm, X86_CPUID_PDPE1GB),
		.image = slabvm_demo_image,
		.size = slabvm_demo_image_size,
		.cmdline = cfg->cmdline,
	};
	struct boot_file fw = {NULL, 0};
	int ret;

	fc.area = vm->fw_area;
	if (cfg->firmware) {
		ret = boot_file_open(&fw, "--firmware", cfg->firmware, BOOTINFO_IMAGE_MAX, err);
		if (ret)
			return ret;
		fc.image = fw.data;
		fc.size = fw.size;
	}
	ret = boot_firmware(&fc, &vm->vcpus.cpu[0], err);
	boot_file_close(&fw);
	return ret;
}

/* ACPI tables go into guest RAM at ACPI_TABLES_GPA, which the e820 map reserves. */
static int vm_acpi(struct vm *vm, struct acpi_tables *out, struct error *err)
{
	const struct acpi_config acfg = {
		.ncpus = vm->vcpus.n,
		.pci64_base = vm->pci64_base,
		.pci64_size = PLATFORM_PCI64_SIZE,
	};
	uint8_t *buf = calloc(1, ACPI_TABLES_SIZE);
	int ret;

	if (!buf)
		return error_set(err, -ENOMEM, "out of memory");
	ret = acpi_build(&acfg, buf, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, out, err);
	if (!ret && guestmem_write(&vm->mm, ACPI_TABLES_GPA, buf, ACPI_TABLES_SIZE))
		ret = error_set(err, -EFAULT, "no RAM for the ACPI tables at 0x%llx",
				(unsigned long long)ACPI_TABLES_GPA);
	free(buf);
	return ret;
}

static int vm_boot_linux(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	struct boot_file kernel, initrd = {NULL, 0};
	struct acpi_tables tables;
	struct linux_entry entry;
	struct linux_config lc;
	int ret;

	ret = vm_acpi(vm, &tables, err);
	if (ret)
		return ret;
	ret = boot_file_open(&kernel, "--kernel", cfg->kernel, BOOT_KERNEL_MAX, err);
	if (ret)
		return ret;
	if (cfg->initrd)
		ret = boot_file_open(&initrd, "--initrd", cfg->initrd, vm->mm.region[0].size, err);
	if (!ret) {
		lc = (struct linux_config){
			.kernel = kernel.data,
			.kernel_size = kernel.size,
			.kernel_path = cfg->kernel,
			.initrd = initrd.data,
			.initrd_size = initrd.size,
			.initrd_path = cfg->initrd,
			.cmdline = cfg->cmdline,
			.rsdp_gpa = tables.rsdp_gpa,
		};
		ret = linux_load(&vm->mm, &lc, &entry, err);
	}
	if (!ret)
		ret = boot_enter(&vm->vcpus.cpu[0], &entry, 0, err);
	boot_file_close(&initrd);
	boot_file_close(&kernel);
	return ret;
}

static int vm_boot(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	return cfg->kernel ? vm_boot_linux(vm, cfg, err) : vm_boot_firmware(vm, cfg, err);
}

/* ---- building the VM, phase by phase ---- */

/* What every later phase and vm_destroy rely on: nothing here reads the configuration. */
static int vm_init_state(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	(void)cfg;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_cond_init(&vm->filtered_cond, NULL);
	bus_init(&vm->pio, "port I/O");
	bus_init(&vm->mmio, "MMIO");
	vm->console.out_fd = vm->console.in_fd = -1;
	vm->loop.epfd = -1;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return error_set(err, -errno, "eventfd: %s", strerror(errno));
	return evloop_init(&vm->loop, err);
}

/* Whom the process becomes after setup, looked up first so that an unknown user is a usage
 * error before /dev/kvm is touched. */
static int vm_user(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	vm->sandbox = cfg->sandbox;
	return caps_user_resolve(cfg->user, &vm->user, err);
}

/* The memory map is laid out before /dev/kvm is touched, so that a configuration it
 * refuses is reported as a usage error even on a machine without KVM. */
static int vm_memory(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	int ret = memmap_init(&vm->mm, &cfg->mem, NULL, NULL, err);

	if (ret)
		return ret;
	if (cfg->mem.hugepages.mode == HUGEPAGES_THP) {
		/* Anonymous boot RAM (memmap_init's choice) where only anonymous THP is on. */
		vm->thp_honoured = hugepages_thp_honoured(&cfg->mem.hugepages, &vm->thp_setting);
		vm->thp_honoured |= hugepages_thp_anon_honoured(&cfg->mem.hugepages,
								&vm->thp_anon_setting);
		if (!vm->thp_honoured && cfg->hugepages_given)
			fprintf(stderr,
				"slabvm: --hugepages thp: the host's transparent huge pages are "
				"off (enabled %s, shmem_enabled %s), so guest RAM stays in 4K "
				"pages\n",
				vm->thp_anon_setting, vm->thp_setting);
	}
	vm->pci64_base = memmap_ram_end(&vm->mm);
	if (vm->pci64_base < MEMMAP_HIGH_BASE)
		vm->pci64_base = MEMMAP_HIGH_BASE;
	vm->pci64_base = (vm->pci64_base + PLATFORM_PCI64_ALIGN - 1) & ~(PLATFORM_PCI64_ALIGN - 1);
	return 0;
}

/* The firmware area holds what the monitor sets up for a firmware guest; it is a memslot
 * of its own, not guest RAM, so no listener ever sees it and no device can DMA to it. */
static int vm_fw_area(struct vm *vm, struct error *err)
{
	vm->fw_area = mmap(NULL, BOOTINFO_FW_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->fw_area == MAP_FAILED) {
		vm->fw_area = NULL;
		return error_set(err, -errno, "firmware area: %s", strerror(errno));
	}
	/* A firmware guest uses a few pages of it: where transparent huge pages are `always`,
	 * each touched 2 MiB half would otherwise be a whole huge page (4 MiB resident in the
	 * testbed's level 1, docs/bench.md "Start-up"). A kernel without THP refuses the advice,
	 * which changes nothing. */
	(void)madvise(vm->fw_area, BOOTINFO_FW_SIZE, MADV_NOHUGEPAGE);
	return kvm_set_fixed_slot(&vm->kvm, KVM_FW_SLOT, BOOTINFO_FW_BASE, vm->fw_area,
				  BOOTINFO_FW_SIZE, err);
}

/*
 * The KVM VM, with guest RAM and (for a firmware guest) the firmware area in its memslots.
 * The two slots go in back to back, before any device registers an ioeventfd: each of
 * those calls makes KVM wait for a grace period of the VM's SRCU, and on this project's
 * hosts the firmware slot cost 4-8 ms (one or two scheduler ticks) after them against
 * 0.03 ms right after the RAM slot (docs/bench.md, "Start-up").
 */
static int vm_kvm(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	int ret = kvm_init(&vm->kvm, err);

	if (ret)
		return ret;
	if (cfg->cpus > vm->kvm.max_vcpus)
		return error_usage(err, -EINVAL, "--cpus %u: this KVM allows at most %u", cfg->cpus,
				   vm->kvm.max_vcpus);
	ret = memmap_add_listener(&vm->mm, &vm->kvm.memslots, err);
	if (!ret)
		ret = memmap_start(&vm->mm, err);
	if (!ret && !cfg->kernel)
		ret = vm_fw_area(vm, err);
	/* The irqchip after the boot memslots, whose first change after it waits for KVM
	 * (kvm.h). Linux calibrates against the PIT; firmware guests never touch it, and a VM
	 * with a PIT took 12-16 ms longer to close on this project's host (docs/bench.md). */
	if (!ret)
		ret = kvm_create_irqchip(&vm->kvm, cfg->kernel != NULL, err);
	return ret;
}

/* A vCPU thread's first act: its filter; then it waits for every other thread's, so that
 * the guest never runs beside an unfiltered thread (vm_run opens the gate). */
static int vm_vcpu_thread_start(void *ctx, struct vcpu *v, struct error *err)
{
	struct vm *vm = ctx;
	int ret = sandbox_enter(SANDBOX_VCPU, v->name, err);

	pthread_mutex_lock(&vm->stop_lock);
	while (!vm->all_filtered)
		pthread_cond_wait(&vm->filtered_cond, &vm->stop_lock);
	pthread_mutex_unlock(&vm->stop_lock);
	return ret;
}

static int vm_vcpus(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	const struct vcpu_host host = {
		.thread_start = vm_vcpu_thread_start,
		.kvm = &vm->kvm,
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.stop = vm_vcpu_stop,
		.stop_ctx = vm,
		.stopping = &vm->stopping,
	};

	return vcpus_init(&vm->vcpus, &host, cfg->cpus, err);
}

/* ---- what the control socket asks of the VM (control.h) ---- */

static bool vm_ctl_balloon_info(void *ctx, struct control_balloon *out)
{
	return vm_balloon_info(ctx, out);
}

static int vm_ctl_balloon_set(void *ctx, uint64_t bytes, struct error *err)
{
	return vm_balloon_set(ctx, bytes, err);
}

static void vm_ctl_balloon_stats_interval(void *ctx, unsigned int seconds)
{
	vm_balloon_stats_interval(ctx, seconds);
}

static void vm_ctl_memory(void *ctx, struct control_memory *out)
{
	struct vm *vm = ctx;
	unsigned int i;
	uint64_t g;

	memmap_get_stats(&vm->mm, &out->stats);
	out->granule = vm->mm.granule;
	out->backing = vm->mm.hugepages.mode;
	out->page_size = hugepages_page_size(&vm->mm.hugepages);
	out->ram_anon = vm->mm.hugepages.anon_ram;
	if (out->backing == HUGEPAGES_THP) {
		out->thp_setting = vm->thp_setting;
		out->thp_anon_setting = vm->thp_anon_setting;
		if (!vm->thp_honoured)
			out->page_size = MEMMAP_PAGE_SIZE;
	}
	guestmem_lock(&vm->mm);
	out->nregions = vm->mm.nregions;
	for (i = 0; i < vm->mm.nregions; i++) {
		const struct memmap_region *r = &vm->mm.region[i];
		struct control_region *cr = &out->region[i];

		*cr = (struct control_region){r->kind, r->gpa, r->size, r->plugged, {0}};
		for (g = 0; g < r->ngranules; g++)
			cr->granules[r->state[g]]++;
	}
	guestmem_unlock(&vm->mm);
}

static void vm_ctl_power_button(void *ctx)
{
	struct vm *vm = ctx;

	acpi_pm_power_button(&vm->pm);
}

static int vm_ctl_vcpu_info(void *ctx, unsigned int parts, struct vcpu_info **cpus, unsigned int *n,
			    struct error *err)
{
	struct vm *vm = ctx;
	struct vcpu_info *v = calloc(vm->vcpus.n, sizeof(*v));

	if (!v)
		return error_set(err, -ENOMEM, "out of memory");
	vcpu_query_all(&vm->vcpus, parts, v, VCPU_INFO_TIMEOUT_S);
	*cpus = v;
	*n = vm->vcpus.n;
	return 0;
}

static void vm_ctl_quit(void *ctx)
{
	vm_stop_reason(ctx, STOP_QMP_QUIT);
}

static bool vm_ctl_running(void *ctx)
{
	struct vm *vm = ctx;

	return !__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

/* Every function on the bus, each read through its configuration space as the guest would. */
static void vm_ctl_pci(void *ctx, struct control_pci *out)
{
	struct vm *vm = ctx;
	unsigned int s;

	out->n = 0;
	for (s = 0; vm->pci_ready && s < PCI_SLOTS; s++) {
		struct control_pci_fn *fn = &out->fn[out->n];
		const struct vm_device *e = vm->pci_slot[s];

		if (!vm->pci.slot[s])
			continue;
		fn->qdev_id = e && e->id ? e->id : "";
		pci_dev_info(vm->pci.slot[s], &fn->info);
		out->n++;
	}
}

static const struct control_ops vm_control_ops = {
	.balloon_info = vm_ctl_balloon_info,
	.balloon_set = vm_ctl_balloon_set,
	.balloon_stats_interval = vm_ctl_balloon_stats_interval,
	.memory = vm_ctl_memory,
	.power_button = vm_ctl_power_button,
	.vcpu_info = vm_ctl_vcpu_info,
	.quit = vm_ctl_quit,
	.running = vm_ctl_running,
	.memdev_add = vm_dimm_memdev_add,
	.memdev_del = vm_dimm_memdev_del,
	.dimm_add = vm_dimm_add,
	.dimm_del = vm_dimm_del,
	.dimms = vm_dimm_list,
	.pci = vm_ctl_pci,
};

static int vm_control(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	if (!cfg->qmp)
		return 0;
	return control_init(&vm->control, &vm_control_ops, vm, &vm->loop, cfg->qmp, err);
}

/*
 * Last: the console (a terminal goes raw, a --console file is opened as the user who
 * started slabvm), then the process becomes its unprivileged user and gives up its
 * capabilities. What needs files later has them open already: guest RAM and DIMMs are
 * memfds, the control socket listens, vfio and KVM fds are open. The control socket stays
 * owned by the starting user, so only that user (and root) can connect; its unlink at
 * exit may then be refused, which leaves a dead socket that the next slabvm on that path
 * replaces (control.c).
 */
static int vm_host(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	int ret = caps_raise_memlock(memmap_pluggable_bytes(&vm->mm),
				     memmap_has_pinning_listener(&vm->mm), err);

	if (!ret)
		ret = console_init(&vm->console, cfg->console, cfg->console_path, err);
	if (!ret)
		ret = caps_drop_all(&vm->user, err);
	if (!ret && vm->sandbox) {
		sandbox_set_backing(hugepages_memfd_flags(&cfg->mem.hugepages),
				    cfg->mem.hugepages.mode == HUGEPAGES_THP);
		ret = sandbox_enable(console_restore_for_exit, err);
	}
	return ret;
}

typedef int vm_phase_fn(struct vm *vm, const struct vm_config *cfg, struct error *err);

static vm_phase_fn *const vm_phases[] = {
	vm_init_state, vm_user, vm_memory,  vm_kvm,  vm_devices,
	vm_vcpus,      vm_boot, vm_control, vm_host,
};

int vm_create(struct vm **vmp, const struct vm_config *cfg, struct error *err)
{
	/* Anonymous pages of its own, not calloc: calloc clears whatever part of the struct lands
	 * in heap memory it got earlier, and so makes all of it resident. */
	struct vm *vm =
		mmap(NULL, sizeof(*vm), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	*vmp = NULL;
	if (vm == MAP_FAILED) {
		error_set(err, -ENOMEM, "cannot allocate the VM");
		return STOP_STATUS_ERROR;
	}
	vm->signal_fd = -1;
	for (i = 0; i < sizeof(vm_phases) / sizeof(vm_phases[0]); i++) {
		if (vm_phases[i](vm, cfg, err)) {
			vm_destroy(vm);
			return err->usage ? STOP_STATUS_USAGE : STOP_STATUS_ERROR;
		}
	}
	*vmp = vm;
	return 0;
}

/* Each step tells the teardown watchdog (when vm_run started it) what it waits for. */
void vm_destroy(struct vm *vm)
{
	watchdog_set(&vm->teardown, "the console to close");
	console_destroy(&vm->console);
	watchdog_set(&vm->teardown, "the control socket to close");
	control_destroy(&vm->control);
	watchdog_set(&vm->teardown, "the vCPUs' file descriptors to close");
	vcpus_destroy(&vm->vcpus);
	watchdog_set(&vm->teardown, "the devices to be reset and freed");
	if (vm->pci_ready)
		pci_host_destroy(&vm->pci);
	vm->pci_ready = false;
	vm_devices_destroy(vm);
	uart_destroy(&vm->com1);
	acpi_pm_destroy(&vm->pm);
	memhp_destroy(&vm->memhp);
	vm_dimms_destroy(vm);
	watchdog_set(&vm->teardown, "guest memory to be released");
	memmap_destroy(&vm->mm);
	watchdog_set(&vm->teardown, "the KVM VM to close");
	kvm_destroy(&vm->kvm);
	watchdog_set(&vm->teardown, "the rest of the teardown");
	if (vm->fw_area)
		munmap(vm->fw_area, BOOTINFO_FW_SIZE);
	vm->fw_area = NULL;
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	evloop_destroy(&vm->loop);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vm->stop_fd = -1;
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_cond_destroy(&vm->filtered_cond);
	watchdog_stop(&vm->teardown);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	munmap(vm, sizeof(*vm));
}

static int vm_signalfd(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	/* Blocked here before any vCPU thread exists, so every thread inherits the mask and
	 * the signals are only ever read from the signalfd in the main loop. */
	pthread_sigmask(SIG_BLOCK, set, NULL);
	return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void vm_on_signal(void *ctx)
{
	struct vm *vm = ctx;
	struct signalfd_siginfo si;
	struct stop s = {.reason = STOP_SIGNAL};

	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	s.value = (int)si.ssi_signo;
	if (si.ssi_pid) /* 0: the kernel sent it (a terminal hangup) */
		snprintf(s.detail, sizeof(s.detail), "from process %u", si.ssi_pid);
	vm_stop(vm, &s);
}

/*
 * On the teardown watchdog's thread: the VM is already stopping and the teardown has not
 * finished, so the user wants out now. Whatever the teardown still holds is the kernel's
 * to release.
 */
static void vm_on_teardown_signal(void *ctx)
{
	struct vm *vm = ctx;
	struct signalfd_siginfo si;

	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	console_restore_for_exit();
	fprintf(stderr, "slabvm: %s during the teardown: exiting at once with status %d\n",
		strsignal((int)si.ssi_signo), 128 + (int)si.ssi_signo);
	_exit(128 + (int)si.ssi_signo);
}

static void vm_on_stop(void *ctx)
{
	(void)ctx; /* vm->stopping is set: the loop condition ends the loop */
}

static void vm_console_quit(void *ctx)
{
	vm_stop_reason(ctx, STOP_CONSOLE_QUIT);
}

/* Says why the VM stopped, unless it was the guest's own clean end (stop.h). */
static void vm_report_stop(struct vm *vm)
{
	char msg[384];

	if (stop_message(&vm->stop, msg, sizeof(msg)))
		fprintf(stderr, "slabvm: %s\n", msg);
}

/* The vCPUs leave KVM_RUN and their threads end. */
static void vm_stop_vcpus(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->vcpus.n; i++)
		vcpu_kick(&vm->vcpus.cpu[i]);
	for (i = 0; i < vm->vcpus.n; i++) {
		struct vcpu *v = &vm->vcpus.cpu[i];
		bool in_run;

		if (!vcpu_running(v, &in_run))
			watchdog_set(&vm->teardown, "vCPU %u's thread to end", v->id);
		else if (in_run)
			watchdog_set(&vm->teardown, "vCPU %u (thread %d) to leave KVM_RUN", v->id,
				     (int)v->tid);
		else
			watchdog_set(&vm->teardown,
				     "vCPU %u (thread %d) to finish handling an exit (a device "
				     "access, or guest output to the console)",
				     v->id, (int)v->tid);
		vcpu_join(v);
	}
}

int vm_run(struct vm *vm)
{
	struct error err = {0};
	sigset_t set, kick;
	unsigned int i;

	signal(SIGPIPE, SIG_IGN);
	vcpu_setup_kick_signal();
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &kick, NULL);
	vm->signal_fd = vm_signalfd(&set);
	if (vm->signal_fd < 0 || evloop_add(&vm->loop, vm->signal_fd, vm_on_signal, vm, &err) ||
	    evloop_add(&vm->loop, vm->stop_fd, vm_on_stop, vm, &err)) {
		fprintf(stderr, "slabvm: %s\n", vm->signal_fd < 0 ? strerror(errno) : err.msg);
		return STOP_STATUS_ERROR;
	}
	for (i = 0; i < vm->vcpus.n; i++) {
		if (vcpu_start(&vm->vcpus.cpu[i], &err)) {
			vm_stop_error(vm, &err);
			break;
		}
	}
	if (console_start(&vm->console, &vm->com1, vm_console_quit, vm, &err))
		vm_stop_error(vm, &err);
	/* After the threads it creates, which must not inherit the main loop's filter. */
	if (sandbox_enter(SANDBOX_MAIN, "main", &err))
		vm_stop_error(vm, &err);
	/* The console thread filtered itself before console_start returned. */
	pthread_mutex_lock(&vm->stop_lock);
	vm->all_filtered = true;
	pthread_cond_broadcast(&vm->filtered_cond);
	pthread_mutex_unlock(&vm->stop_lock);
	while (!__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
		evloop_run_once(&vm->loop, -1);

	/* The teardown: from here on the watchdog says what it waits for, and reads the
	 * signals (the main loop no longer does). The terminal is restored first, so that what
	 * slabvm says reads well. */
	evloop_remove(&vm->loop, vm->signal_fd);
	if (watchdog_start(&vm->teardown, "teardown", VM_TEARDOWN_REPORT_S, vm->signal_fd,
			   vm_on_teardown_signal, vm, &err))
		fprintf(stderr, "slabvm: %s\n", err.msg);
	watchdog_set(&vm->teardown, "the console input thread to end");
	/* A vCPU blocked writing to a reader that stopped reading must still be joinable. */
	console_drop_output(&vm->console);
	console_stop(&vm->console);
	console_restore(&vm->console);
	vm_report_stop(vm);
	vm_stop_vcpus(vm);
	if (vm->control.ops)
		control_shutdown_event(&vm->control, vm->stop.reason);
	return stop_status(&vm->stop);
}
