// SPDX-License-Identifier: MIT
#include "vm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "x86/acpi.h"
#include "kvm/boot.h"
#include "bootinfo.h"
#include "host/caps.h"
#include "host/evloop.h"
#include "mem/guestmem.h"
#include "x86/linux.h"
#include "x86/platform.h"
#include "kvm/vcpu.h"

void vm_stop(struct vm *vm, int status, const char *why)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->stop_lock);
	if (!vm->stopping) {
		vm->status = status;
		if (why)
			snprintf(vm->stop_why, sizeof(vm->stop_why), "%s", why);
		__atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
		if (write(vm->stop_fd, &one, sizeof(one)) < 0) {
			/* Already signalled: the main loop is waking up. */
		}
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

static void vm_debugexit(void *ctx, uint8_t status)
{
	vm_stop(ctx, status, NULL);
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
	vm_stop(ctx, VM_STATUS_POWEROFF, NULL);
}

static void vm_acpi_reset(void *ctx)
{
	vm_stop(ctx, VM_STATUS_RESET, "guest requested a reset");
}

static void vm_msi_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;

	/* A failed delivery is a lost interrupt, as a bad MSI address would be on hardware;
	 * the device's state is unaffected. */
	kvm_msi_send(&vm->kvm, addr, data);
}

static const struct msi_ops vm_msi_ops = {vm_msi_send};

static void vm_bar_changed(void *ctx, struct pci_dev *d, unsigned int bar, bool mapped,
			   uint64_t addr, uint64_t size)
{
	struct vm *vm = ctx;

	(void)size;
	if (bar != VIRTIO_PCI_BAR)
		return;
	if (d == &vm->rng_pci.pci)
		virtio_kvm_bar_changed(&vm->rng_kvm, mapped, addr);
	else if (vm->balloon && d == &vm->bln_pci.pci)
		virtio_kvm_bar_changed(&vm->bln_kvm, mapped, addr);
}

/* A virtio device on PCI in slot: its transport, KVM's ioeventfds for its queues. */
static int vm_virtio_add(struct vm *vm, struct virtio_pci *vp, struct virtio_kvm *vk,
			 const struct virtio_device_ops *ops, void *dev, unsigned int slot,
			 struct error *err)
{
	int ret = virtio_pci_init(vp, ops, dev, err);

	if (!ret)
		ret = virtio_kvm_init(vk, &vm->kvm, &vm->loop, vp, ops->num_queues, err);
	if (!ret)
		ret = pci_host_add(&vm->pci, slot, &vp->pci, err);
	return ret;
}

/* virtio-balloon in slot 2, driving the memory map's granule state machine. */
static int vm_balloon(struct vm *vm, const struct cli_config *cfg, struct error *err)
{
	const struct balloon_config bcfg = {
		.stats = cfg->balloon_stats,
		.deflate_on_oom = cfg->balloon_deflate_on_oom,
		.free_page_reporting = cfg->balloon_free_page_reporting,
	};
	int ret;

	ret = balloon_init(&vm->bln, &vm->mm, &vm->bln_pci.transport, &bcfg);
	if (ret)
		return error_set(err, ret, "virtio-balloon: cannot set up");
	vm->balloon = true;
	return vm_virtio_add(vm, &vm->bln_pci, &vm->bln_kvm, &balloon_ops, &vm->bln, 2, err);
}

/* The PCI host bridge with its devices: virtio-rng in slot 1, the balloon in slot 2. */
static int vm_pci(struct vm *vm, const struct cli_config *cfg, struct error *err)
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
	ret = virtio_rng_init(&vm->rng, &vm->mm, &vm->rng_pci.transport, NULL);
	if (ret)
		return error_set(err, ret, "virtio-rng: cannot set up");
	ret = vm_virtio_add(vm, &vm->rng_pci, &vm->rng_kvm, &virtio_rng_ops, &vm->rng, 1, err);
	if (!ret && cfg->balloon)
		ret = vm_balloon(vm, cfg, err);
	if (!ret)
		ret = pci_host_assign_bars(&vm->pci, err);
	return ret;
}

static int vm_devices(struct vm *vm, const struct cli_config *cfg, struct error *err)
{
	const struct irq_line com1_irq = {&kvm_irq_ops, &vm->kvm, UART_COM1_IRQ};
	const struct uart_backend com1_be = {vm_uart_tx, vm_uart_rx_ready, vm};
	const struct irq_line sci = {&kvm_irq_ops, &vm->kvm, PLATFORM_ACPI_SCI_IRQ};
	const struct acpi_pm_callbacks pm_cb = {vm_acpi_poweroff, vm_acpi_reset, vm};
	int ret;

	acpi_pm_init(&vm->pm, &sci, &pm_cb);
	ret = bus_register(&vm->pio, PLATFORM_ACPI_PM1A_EVT, ACPI_PM_EVT_WINDOW,
			   &acpi_pm_evt_io_ops, &vm->pm, "acpi-pm1a-evt", err);
	if (!ret)
		ret = bus_register(&vm->pio, PLATFORM_ACPI_PM1A_CNT, ACPI_PM_CNT_WINDOW,
				   &acpi_pm_cnt_io_ops, &vm->pm, "acpi-pm1a-cnt", err);
	if (ret)
		return ret;

	uart_init(&vm->com1, &com1_irq, &com1_be);
	ret = bus_register(&vm->pio, UART_COM1_BASE, UART_WINDOW, &uart_io_ops, &vm->com1, "com1",
			   err);
	if (ret)
		return ret;
	vm->debugexit = (struct debugexit){vm_debugexit, vm};
	ret = bus_register(&vm->pio, DEBUGEXIT_PORT, DEBUGEXIT_WINDOW, &debugexit_io_ops,
			   &vm->debugexit, "debug-exit", err);
	if (ret)
		return ret;
	return vm_pci(vm, cfg, err);
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
	return kvm_set_fixed_slot(&vm->kvm, KVM_FW_SLOT, BOOTINFO_FW_BASE, vm->fw_area,
				  BOOTINFO_FW_SIZE, err);
}

static int vm_boot_firmware(struct vm *vm, const struct cli_config *cfg, struct error *err)
{
	struct boot_file fw;
	int ret;

	ret = vm_fw_area(vm, err);
	if (ret)
		return ret;
	if (!cfg->firmware)
		return boot_firmware(vm, &vm->vcpus[0], slabvm_demo_image, slabvm_demo_image_size,
				     cfg->cmdline, err);
	ret = boot_file_open(&fw, "--firmware", cfg->firmware, BOOTINFO_IMAGE_MAX, err);
	if (ret)
		return ret;
	ret = boot_firmware(vm, &vm->vcpus[0], fw.data, fw.size, cfg->cmdline, err);
	boot_file_close(&fw);
	return ret;
}

/* ACPI tables go into guest RAM at ACPI_TABLES_GPA, which the e820 map reserves. */
static int vm_acpi(struct vm *vm, struct acpi_tables *out, struct error *err)
{
	const struct acpi_config acfg = {
		.ncpus = vm->ncpus,
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

static int vm_boot_linux(struct vm *vm, const struct cli_config *cfg, struct error *err)
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
		ret = boot_enter(&vm->vcpus[0], &entry, 0, err);
	boot_file_close(&initrd);
	boot_file_close(&kernel);
	return ret;
}

static int vm_boot(struct vm *vm, const struct cli_config *cfg, struct error *err)
{
	return cfg->kernel ? vm_boot_linux(vm, cfg, err) : vm_boot_firmware(vm, cfg, err);
}

int vm_create(struct vm *vm, const struct cli_config *cfg, struct error *err)
{
	const struct memmap_config mcfg = {
		.mem = cfg->mem,
		.maxmem = cfg->maxmem,
		.granule = cfg->granule,
	};
	int status = VM_STATUS_ERROR;
	pthread_condattr_t cattr;
	unsigned int i;
	int ret;

	memset(vm, 0, sizeof(*vm));
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->info_lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->info_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	bus_init(&vm->pio, "port I/O");
	bus_init(&vm->mmio, "MMIO");
	vm->console.out_fd = vm->console.in_fd = -1;
	vm->loop.epfd = -1;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->ncpus = cfg->cpus;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		error_set(err, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (evloop_init(&vm->loop, err))
		goto fail;

	/* The configuration is checked before /dev/kvm is touched, so a usage error is
	 * reported as one even on a machine without KVM. */
	ret = memmap_init(&vm->mm, &mcfg, NULL, NULL, err);
	if (ret) {
		status = ret == -EINVAL ? VM_STATUS_USAGE : VM_STATUS_ERROR;
		goto fail;
	}
	vm->pci64_base = memmap_ram_end(&vm->mm);
	if (vm->pci64_base < MEMMAP_HIGH_BASE)
		vm->pci64_base = MEMMAP_HIGH_BASE;
	vm->pci64_base = (vm->pci64_base + PLATFORM_PCI64_ALIGN - 1) & ~(PLATFORM_PCI64_ALIGN - 1);
	ret = kvm_init(&vm->kvm, err);
	if (ret)
		goto fail;
	if (cfg->cpus > vm->kvm.max_vcpus) {
		error_set(err, -EINVAL, "--cpus %u: this KVM allows at most %u", cfg->cpus,
			  vm->kvm.max_vcpus);
		status = VM_STATUS_USAGE;
		goto fail;
	}
	ret = memmap_add_listener(&vm->mm, &vm->kvm.memslots, err);
	if (!ret)
		ret = memmap_start(&vm->mm, err);
	if (!ret)
		ret = vm_devices(vm, cfg, err);
	if (ret)
		goto fail;

	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (i = 0; i < vm->ncpus; i++) {
		ret = vcpu_init(&vm->vcpus[i], vm, i, err);
		if (ret)
			goto fail;
	}
	ret = vm_boot(vm, cfg, err);
	if (ret) {
		status = VM_STATUS_USAGE; /* the image or command line did not fit */
		goto fail;
	}

	if (cfg->qmp) {
		ret = control_init(&vm->control, vm, cfg->qmp, err);
		if (ret) {
			status = ret == -EINVAL ? VM_STATUS_USAGE : VM_STATUS_ERROR;
			goto fail;
		}
	}

	ret = caps_raise_memlock(memmap_pluggable_bytes(&vm->mm),
				 memmap_has_pinning_listener(&vm->mm), err);
	if (!ret)
		ret = caps_drop_all(err);
	if (!ret)
		ret = console_init(&vm->console, cfg->console, cfg->console_path, err);
	if (ret)
		goto fail;
	return 0;
fail:
	vm_destroy(vm);
	return status;
}

void vm_destroy(struct vm *vm)
{
	unsigned int i;

	console_destroy(&vm->console);
	control_destroy(&vm->control);
	if (vm->vcpus) {
		for (i = 0; i < vm->ncpus; i++)
			if (vm->vcpus[i].fd >= 0)
				vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	if (vm->pci_ready) {
		pci_host_destroy(&vm->pci);
		virtio_kvm_destroy(&vm->rng_kvm);
		virtio_pci_destroy(&vm->rng_pci);
		virtio_rng_destroy(&vm->rng);
		vm->pci_ready = false;
	}
	if (vm->balloon) {
		virtio_kvm_destroy(&vm->bln_kvm);
		virtio_pci_destroy(&vm->bln_pci);
		balloon_destroy(&vm->bln);
		vm->balloon = false;
	}
	uart_destroy(&vm->com1);
	acpi_pm_destroy(&vm->pm);
	memmap_destroy(&vm->mm);
	kvm_destroy(&vm->kvm);
	if (vm->fw_area)
		munmap(vm->fw_area, BOOTINFO_FW_SIZE);
	vm->fw_area = NULL;
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	evloop_destroy(&vm->loop);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vm->stop_fd = -1;
	pthread_cond_destroy(&vm->info_cond);
	pthread_mutex_destroy(&vm->info_lock);
	pthread_mutex_destroy(&vm->stop_lock);
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

struct vm_signals {
	struct vm *vm;
	int fd;
};

static void vm_on_signal(void *ctx)
{
	struct vm_signals *vs = ctx;
	struct signalfd_siginfo si;
	char why[64];

	if (read(vs->fd, &si, sizeof(si)) != sizeof(si))
		return;
	snprintf(why, sizeof(why), "stopped by %s", strsignal((int)si.ssi_signo));
	vm_stop(vs->vm, VM_STATUS_SIGNAL_BASE + (int)si.ssi_signo, why);
}

static void vm_on_stop(void *ctx)
{
	(void)ctx; /* vm->stopping is set: the loop condition ends the loop */
}

static void vm_console_quit(void *ctx)
{
	vm_stop(ctx, VM_STATUS_POWEROFF, "quit from the console (Ctrl-A x)");
}

/* Tells control-socket clients how the VM ended, in QMP's words. */
static void vm_shutdown_event(struct vm *vm)
{
	bool guest = false;
	const char *reason = "host-error";

	if (vm->status >= VM_STATUS_SIGNAL_BASE) {
		reason = "host-signal";
	} else if (vm->status == VM_STATUS_RESET) {
		guest = true;
		reason = "guest-reset";
	} else if (!strcmp(vm->stop_why, VM_WHY_QMP_QUIT)) {
		reason = "host-qmp-quit";
	} else if (!vm->stop_why[0] || vm->status == VM_STATUS_POWEROFF) {
		guest = !vm->stop_why[0];
		reason = guest ? "guest-shutdown" : "host-ui";
	}
	control_shutdown_event(&vm->control, guest, reason);
}

int vm_run(struct vm *vm)
{
	struct vm_signals vs = {vm, -1};
	struct error err = {0};
	sigset_t set, kick;
	unsigned int i;

	signal(SIGPIPE, SIG_IGN);
	vcpu_setup_kick_signal();
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &kick, NULL);
	vs.fd = vm_signalfd(&set);
	if (vs.fd < 0 || evloop_add(&vm->loop, vs.fd, vm_on_signal, &vs, &err) ||
	    evloop_add(&vm->loop, vm->stop_fd, vm_on_stop, vm, &err)) {
		fprintf(stderr, "slabvm: %s\n", vs.fd < 0 ? strerror(errno) : err.msg);
		if (vs.fd >= 0)
			close(vs.fd);
		return VM_STATUS_ERROR;
	}
	for (i = 0; i < vm->ncpus; i++) {
		if (vcpu_start(&vm->vcpus[i], &err)) {
			vm_stop(vm, VM_STATUS_ERROR, err.msg);
			break;
		}
	}
	if (console_start(&vm->console, &vm->com1, vm_console_quit, vm, &err))
		vm_stop(vm, VM_STATUS_ERROR, err.msg);
	while (!__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
		evloop_run_once(&vm->loop, -1);
	console_drop_output(&vm->console);
	for (i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (i = 0; i < vm->ncpus; i++)
		vcpu_join(&vm->vcpus[i]);
	console_stop(&vm->console);
	if (vm->control.vm)
		vm_shutdown_event(vm);
	close(vs.fd);
	console_restore(&vm->console);
	if (vm->stop_why[0])
		fprintf(stderr, "slabvm: %s\n", vm->stop_why);
	return vm->status;
}
