/* SPDX-License-Identifier: MIT */
/*
 * vCPUs: one thread each, running KVM_RUN and dispatching port I/O and MMIO exits to the
 * VM's buses. A vCPU that meets an exit it cannot handle stops the whole VM.
 */
#ifndef SLABVM_VCPU_H
#define SLABVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "error.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

/* Creates the vCPU with its CPUID (APIC ID = id), MSRs and FPU state. */
int vcpu_init(struct vcpu *v, struct vm *vm, unsigned int id, struct error *err);
void vcpu_destroy(struct vcpu *v);
int vcpu_start(struct vcpu *v, struct error *err);
/* Makes the vCPU leave KVM_RUN soon; the thread then sees vm->stopping and returns. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* The signal used to kick; installed once before any vCPU starts. */
void vcpu_setup_kick_signal(void);

#endif
