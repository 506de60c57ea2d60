/* SPDX-License-Identifier: MIT */
/*
 * vCPUs: one thread each, running KVM_RUN and dispatching port I/O and MMIO exits to the
 * VM's buses. A vCPU that meets an exit it cannot handle stops the whole VM.
 *
 * A vCPU's registers can only be read consistently by its own thread while it is out of
 * KVM_RUN, so the control socket asks for them (vcpu_query_all): it records a request per
 * vCPU under vm->info_lock, kicks each vCPU, and waits on vm->info_cond; the vCPU thread
 * answers between two KVM_RUNs and runs on.
 */
#ifndef SLABVM_VCPU_H
#define SLABVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "base/error.h"
#include "control/vcpu_info.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;

	/* Under vm->info_lock: the thread's state and the control socket's requests. */
	pid_t tid;		 /* the host thread's id, set when the thread starts */
	bool running;		 /* the thread is in its run loop */
	uint64_t info_asked;	 /* the last request's number */
	uint64_t info_done;	 /* the last request answered */
	unsigned int info_parts; /* what the last request asked for: VCPU_INFO_* */
	struct vcpu_info info;	 /* the answer */
};

/* Creates the vCPU with its CPUID (APIC ID = id), MSRs and FPU state. */
int vcpu_init(struct vcpu *v, struct vm *vm, unsigned int id, struct error *err);
void vcpu_destroy(struct vcpu *v);
int vcpu_start(struct vcpu *v, struct error *err);
/* Makes the vCPU leave KVM_RUN soon. The thread then sees vm->stopping and returns, or
 * answers a pending request and goes on running. Main thread only. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* The signal used to kick; installed once before any vCPU starts. */
void vcpu_setup_kick_signal(void);
/* Asks every vCPU of vm to read the parts (VCPU_INFO_*) of its state and waits up to
 * timeout_s for all answers; out[i] gets vCPU i's, answered or not. parts 0 asks no vCPU
 * and gives only ids, thread ids and whether the threads run. Main thread only. */
void vcpu_query_all(struct vm *vm, unsigned int parts, struct vcpu_info *out, int timeout_s);

#endif
