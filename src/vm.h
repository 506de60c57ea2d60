/* SPDX-License-Identifier: MIT */
/*
 * A virtual machine: the memory map and its KVM listener, the I/O buses with their
 * devices, the vCPU threads and the main loop that waits for the VM to end.
 *
 * Stopping: whoever ends the VM (a vCPU on guest exit or error, the main loop on a
 * signal or Ctrl-A x) calls vm_stop(); the first call decides the exit status. The main
 * loop then kicks every vCPU out of KVM_RUN and joins them all.
 */
#ifndef SLABVM_VM_H
#define SLABVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "balloon/balloon.h"
#include "devices/bus.h"
#include "cli.h"
#include "host/console.h"
#include "control/control.h"
#include "devices/acpi_pm.h"
#include "devices/debugexit.h"
#include "devices/pci.h"
#include "devices/uart.h"
#include "devices/virtio_pci.h"
#include "devices/virtio_rng.h"
#include "host/evloop.h"
#include "kvm/kvm.h"
#include "mem/memmap.h"
#include "kvm/virtio_kvm.h"

/* Exit statuses besides the guest's own debug-exit value (see cli_usage). */
#define VM_STATUS_POWEROFF 0
#define VM_STATUS_ERROR 1
#define VM_STATUS_USAGE 2
#define VM_STATUS_RESET 3
#define VM_STATUS_VCPU_ERROR 4
#define VM_STATUS_SIGNAL_BASE 128

#define VM_WHY_QMP_QUIT "quit from the control socket"

struct vcpu;

struct vm {
	struct kvm kvm;
	struct memmap mm;
	struct bus pio;
	struct bus mmio;
	unsigned int ncpus;
	struct vcpu *vcpus;
	struct uart com1;
	struct debugexit debugexit;
	struct acpi_pm pm;
	struct pci_host pci;
	bool pci_ready; /* pci_host_init succeeded: the PCI part needs tearing down */
	struct virtio_rng rng;
	struct virtio_pci rng_pci;
	struct virtio_kvm rng_kvm;
	bool balloon; /* --balloon: the three below are set up */
	struct balloon bln;
	struct virtio_pci bln_pci;
	struct virtio_kvm bln_kvm;
	struct console console;
	struct evloop loop;	/* the main thread's: signals, stop requests, ioeventfds */
	struct control control; /* --qmp; control.vm is NULL without it */
	uint8_t *fw_area;	/* the firmware area (bootinfo.h), NULL when unused */
	uint64_t pci64_base;	/* the 64-bit PCI window, PLATFORM_PCI64_SIZE bytes above RAM */

	/* Requests for the vCPUs' state and their answers (vcpu_query_all). */
	pthread_mutex_t info_lock;
	pthread_cond_t info_cond; /* on CLOCK_MONOTONIC */

	pthread_mutex_t stop_lock;
	bool stopping;
	int status;
	char stop_why[160];
	int stop_fd; /* eventfd: wakes the main loop when a vCPU stops the VM */
};

/* Builds the whole VM from the configuration. On failure tears down what it built and
 * returns VM_STATUS_USAGE when the configuration itself was refused, else VM_STATUS_ERROR. */
int vm_create(struct vm *vm, const struct cli_config *cfg, struct error *err);
/* Runs until the VM ends; returns slabvm's exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Ends the VM with status; the first caller wins. Safe from any thread. */
void vm_stop(struct vm *vm, int status, const char *why);

#endif
