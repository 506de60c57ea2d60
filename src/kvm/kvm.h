/* SPDX-License-Identifier: MIT */
/*
 * The KVM system and VM file descriptors: capability checks, VM creation with the
 * in-kernel irqchip and PIT, the memslot listener that keeps KVM's slots equal to the
 * memory map, and the irq_line implementation. The only file besides vcpu.c and boot.c
 * that issues KVM ioctls.
 */
#ifndef SLABVM_KVM_H
#define SLABVM_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "devices/irq.h"
#include "mem/memmap.h"

/* The slot of the monitor-owned firmware area; memmap regions use slots 0..63. */
#define KVM_FW_SLOT MEMMAP_MAX_REGIONS

#define KVM_MSI_ROUTES 64 /* MSI messages with their own GSI and irqfd, most recent kept */
#define KVM_DEV_ROUTES 512 /* GSIs bound to assigned devices' interrupt eventfds */
#define KVM_BAR_SLOTS 64   /* memslots for assigned devices' BARs, after KVM_FW_SLOT */

/* One MSI message (address, data) routed to a GSI that an irqfd injects. */
struct kvm_msi_route {
	uint64_t addr;
	uint32_t data;
	unsigned int gsi;
	int efd;
	uint64_t last_use;
};

struct kvm {
	int sys_fd;
	int vm_fd;
	int run_size;
	unsigned int max_vcpus;
	struct kvm_cpuid2 *cpuid; /* what KVM supports, filtered per vCPU in vcpu.c */
	struct memmap_listener memslots;
	pthread_mutex_t msi_lock; /* the routing table: msi[] and dev[] */
	struct kvm_msi_route msi[KVM_MSI_ROUTES];
	unsigned int nmsi;
	uint64_t msi_clock;
	struct kvm_dev_route {
		bool used;
		uint64_t addr;
		uint32_t data;
	} dev[KVM_DEV_ROUTES]; /* GSI KVM_IRQCHIP_GSIS + KVM_MSI_ROUTES + index */
	pthread_mutex_t slot_lock;
	bool bar_slot[KVM_BAR_SLOTS];
};

/* Opens /dev/kvm, checks the API version and every capability slabvm relies on (the
 * message names the first missing one), creates the VM and the memslot listener. On failure
 * everything opened is closed again. */
int kvm_init(struct kvm *k, struct error *err);
/* Creates the in-kernel irqchip (PIC, IOAPIC, local APICs), the PIT if pit, and the GSI
 * routes. Called once, after the boot memslots: on this project's host the first memslot
 * change after KVM_CREATE_IRQCHIP waits 4-7 ms, one made before it 0.2 ms (docs/bench.md,
 * "The resident set, third round, and first output"). kvm_destroy undoes it. */
int kvm_create_irqchip(struct kvm *k, bool pit, struct error *err);
void kvm_destroy(struct kvm *k);
/* Whether the vCPUs' CPUID (what KVM supports, vcpu.c passes it on) has leaf 0x80000001's
 * EDX bits all set in edx_bits. */
bool kvm_cpuid_ext_edx(const struct kvm *k, uint32_t edx_bits);

/* Maps monitor-owned memory that is not guest RAM (the firmware area). */
int kvm_set_fixed_slot(struct kvm *k, unsigned int slot, uint64_t gpa, void *hva, uint64_t size,
		       struct error *err);

extern const struct irq_ops kvm_irq_ops; /* ctx = struct kvm * */

/*
 * Delivers an MSI (a device's MSI-X message) through GSI routing and an irqfd: each
 * distinct message gets a GSI routed to it, and an eventfd bound to that GSI is signalled.
 * Returns a negative errno on failure (the message is then lost, as on a bad address).
 */
int kvm_msi_send(struct kvm *k, uint64_t addr, uint32_t data);

/*
 * An assigned device's MSI or MSI-X vector: while routed, a signal on efd (which vfio
 * signals) is injected by KVM as message (addr, data), with no exit to userspace.
 * *route is the caller's handle, -1 while unrouted: kvm_msi_irqfd with routed true
 * routes (or re-aims a routed vector at a new message), with routed false unroutes. A
 * count left in efd while unrouted is injected when it is routed again.
 */
int kvm_msi_irqfd(struct kvm *k, int *route, int efd, bool routed, uint64_t addr, uint32_t data,
		  struct error *err);
/*
 * A level-triggered line: efd asserts GSI gsi, and KVM signals resample_efd when the guest
 * acknowledges it (EOI), which is how vfio learns to unmask the device's INTx.
 */
int kvm_intx_irqfd(struct kvm *k, unsigned int gsi, int efd, int resample_efd, bool assign,
		   struct error *err);

/*
 * A memslot for an assigned device's mmapped BAR piece (page aligned), from a pool of
 * KVM_BAR_SLOTS after KVM_FW_SLOT; *slot says which, for kvm_bar_slot_del. Thread safe.
 */
int kvm_bar_slot_add(struct kvm *k, uint64_t gpa, void *hva, uint64_t size, unsigned int *slot,
		     struct error *err);
void kvm_bar_slot_del(struct kvm *k, unsigned int slot);

/* Binds eventfd efd to writes of any length at gpa (MMIO): KVM signals it without an exit.
 * assign false removes the binding. */
int kvm_ioeventfd(struct kvm *k, uint64_t gpa, int efd, bool assign, struct error *err);

#endif
