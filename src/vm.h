/* SPDX-License-Identifier: MIT */
/*
 * A virtual machine: the memory map and its KVM listener, the I/O buses with their
 * devices, the vCPU threads and the main loop that waits for the VM to end.
 *
 * Stopping: whoever ends the VM (a vCPU on guest exit or error, a device, the main loop
 * on a signal or Ctrl-A x, the control socket) calls vm_stop() with a reason (stop.h); the
 * first call decides the exit status. The main loop then says why on stderr (stop_message),
 * kicks every vCPU out of KVM_RUN and joins them all. From there until vm_destroy is done,
 * a watchdog says every VM_TEARDOWN_REPORT_S seconds what the teardown waits for, and
 * reads the signals: one of them during the teardown restores the terminal and ends the
 * process at once with 128 + the signal, so a teardown that hangs never needs SIGKILL.
 *
 * Privileges: everything that needs a file or a privilege is opened or done while building
 * (the last phase raises the memlock limit, opens the console, then becomes the
 * unprivileged user and drops every capability); vm_run starts the threads, each of which
 * filters itself with seccomp first (host/sandbox.h), the main loop last.
 */
#ifndef SLABVM_VM_H
#define SLABVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "balloon/balloon.h"
#include "base/stop.h"
#include "control/control.h"
#include "devices/acpi_pm.h"
#include "devices/bus.h"
#include "devices/debugexit.h"
#include "devices/memhp.h"
#include "devices/pci.h"
#include "devices/uart.h"
#include "host/caps.h"
#include "host/console.h"
#include "host/evloop.h"
#include "host/watchdog.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "mem/memmap.h"
#include "vm_dimm.h"

#define VM_TEARDOWN_REPORT_S 5

/* What the VM is built from (main.c fills it from the command line). */
struct vm_config {
	struct memmap_config mem;
	bool hugepages_given; /* --hugepages thp was asked for: warn if the host ignores it */
	unsigned int cpus;
	const char *firmware; /* NULL: the embedded demo guest, unless kernel is set */
	const char *kernel;   /* a Linux bzImage */
	const char *initrd;
	const char *cmdline;
	enum console_kind console;
	const char *console_path;
	bool balloon; /* a virtio-balloon device, with balloon_cfg's features */
	struct balloon_config balloon_cfg;
	const char *qmp;    /* control socket path, NULL for none */
	unsigned int nvfio; /* host PCI functions to assign (--vfio), as the user wrote them */
	const char *const *vfio;
	const char *user; /* --user USER[:GROUP], NULL for the default (host/caps.h) */
	bool sandbox;	  /* seccomp filters once set up (host/sandbox.h) */
};

/*
 * The device list. Each device (on PCI or not) is registered once, with what the VM needs
 * from it; adding a device type takes its own file and one registration line in vm.c.
 */
struct vm_device_ops {
	/* BAR bar of the device's PCI function decodes at addr now (mapped) or no longer.
	 * Called with the function's lock held (pci.h). Optional. */
	void (*bar_changed)(void *opaque, unsigned int bar, bool mapped, uint64_t addr,
			    uint64_t size);
	/* Puts the device in its power-on state with no DMA in flight; the VM calls it once
	 * the vCPUs stopped and before guest memory goes away. Optional. */
	void (*reset)(void *opaque);
	/* Frees the device; the last call it gets. Optional (a board device whose state
	 * lives in struct vm). */
	void (*destroy)(void *opaque);
};

/* A window the device decodes outside PCI BARs (which pci.c maps itself). */
struct vm_window {
	struct bus *bus;
	uint64_t base;
	uint64_t len;
	const struct io_ops *ops;
	void *opaque;
	const char *name;
};

#define VM_DEVICE_MAX_WINDOWS 4

struct vm_device {
	const char *type; /* as QMP and QOM name it: virtio-balloon-pci */
	const char *id;	  /* QMP's device id (/machine/peripheral/ID), NULL for board devices */
	const struct vm_device_ops *ops;
	void *opaque;
	struct pci_dev *pci; /* its PCI function, NULL if not on PCI */
	unsigned int slot;   /* the function's slot */
	unsigned int nwindows;
	struct vm_window window[VM_DEVICE_MAX_WINDOWS];
	struct vm_device *next;
};

struct vm {
	struct kvm kvm;
	struct memmap mm;
	const char *thp_setting;      /* --hugepages thp: the host's shmem_enabled, read at setup */
	const char *thp_anon_setting; /* ... its transparent_hugepage/enabled */
	bool thp_honoured; /* ... and whether boot RAM's MADV_HUGEPAGE gets huge pages */
	struct bus pio;
	struct bus mmio;
	struct vcpus vcpus;
	struct uart com1;
	struct debugexit debugexit;
	struct acpi_pm pm;
	struct memhp memhp; /* the DSDT's memory hotplug controller, --slots slots */
	struct vm_dimms dimms;
	struct pci_host pci;
	bool pci_ready;		   /* pci_host_init succeeded: the PCI part needs tearing down */
	struct vm_device *devices; /* in the order they were added */
	struct vm_device *pci_slot[PCI_SLOTS]; /* the entry of each slot's function */
	struct console console;
	struct evloop loop;	/* the main thread's: signals, stop requests, ioeventfds */
	struct control control; /* --qmp; control.ops is NULL without it */
	uint8_t *fw_area;	/* the firmware area (bootinfo.h), NULL when unused */
	uint64_t pci64_base;	/* the 64-bit PCI window, PLATFORM_PCI64_SIZE bytes above RAM */

	pthread_mutex_t stop_lock;
	bool stopping;	  /* set once, with release semantics, by the first vm_stop */
	struct stop stop; /* why, written before stopping is set */
	int stop_fd;	  /* eventfd: wakes the main loop when a vCPU stops the VM */
	int signal_fd;	  /* signalfd: the main loop's, then the teardown watchdog's */
	struct watchdog teardown;
	struct caps_user user; /* whom the process becomes after setup */
	bool sandbox;	       /* each thread filters itself when it starts (vm_run) */
	/* The guest runs only once every thread of the VM has its filter: vCPU threads wait,
	 * after their own, for the main thread to have installed its own (under stop_lock). */
	pthread_cond_t filtered_cond;
	bool all_filtered;
};

/* Builds the whole VM from the configuration and sets *vmp to it. The struct (62 KiB) gets
 * anonymous pages of its own, not the caller's stack, so that only the pages of it that are
 * used become resident (docs/bench.md, "The resident set, third round"). On failure tears
 * down what it built, sets *vmp to NULL and returns STOP_STATUS_USAGE when the configuration
 * itself was refused (err->usage), else STOP_STATUS_ERROR. */
int vm_create(struct vm **vmp, const struct vm_config *cfg, struct error *err);
/* Runs until the VM ends; returns slabvm's exit status. */
int vm_run(struct vm *vm);
/* Tears the VM down and frees it. */
void vm_destroy(struct vm *vm);

/* Registers a device: its windows on their buses, its PCI function in its slot. d is
 * copied. On failure the device is destroyed (d->ops->destroy) and nothing is registered. */
int vm_device_add(struct vm *vm, const struct vm_device *d, struct error *err);
/* The first device of a type, NULL if there is none. */
struct vm_device *vm_device_find(struct vm *vm, const char *type);

/* Ends the VM for the reason s gives; the first caller wins. Safe from any thread. */
void vm_stop(struct vm *vm, const struct stop *s);
/* The same for a reason with no value or detail. */
void vm_stop_reason(struct vm *vm, enum stop_reason reason);

#endif
