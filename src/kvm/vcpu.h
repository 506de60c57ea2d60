/* SPDX-License-Identifier: MIT */
/*
 * vCPUs: one thread each, running KVM_RUN and dispatching port I/O and MMIO exits to the
 * VM's buses. A vCPU that meets an exit it cannot handle stops the whole VM.
 *
 * A vCPU's registers can only be read consistently by its own thread while it is out of
 * KVM_RUN, so the control socket asks for them (vcpu_query_all): it records a request per
 * vCPU under info_lock, kicks each vCPU, and waits on info_cond; the vCPU thread answers
 * between two KVM_RUNs and runs on.
 *
 * The vCPUs know nothing of the VM beyond struct vcpu_host: the KVM VM they run in, the
 * buses they dispatch port I/O and MMIO exits to, and a stop function.
 */
#ifndef SLABVM_VCPU_H
#define SLABVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "base/error.h"
#include "base/stop.h"
#include "control/vcpu_info.h"
#include "devices/bus.h"
#include "kvm/kvm.h"

struct vcpus;

struct vcpu {
	struct vcpus *all;
	unsigned int id;
	char name[16]; /* "vcpu0": the thread's name in messages */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool in_run; /* atomic: the thread is inside KVM_RUN, not handling an exit */

	/* Under all->info_lock: the thread's state and the control socket's requests. */
	pid_t tid;		 /* the host thread's id, set when the thread starts */
	bool running;		 /* the thread is in its run loop */
	uint64_t info_asked;	 /* the last request's number */
	uint64_t info_done;	 /* the last request answered */
	unsigned int info_parts; /* what the last request asked for: VCPU_INFO_* */
	struct vcpu_info info;	 /* the answer */
};

/* What the vCPUs need from the VM: where exits go, and how to stop it. */
struct vcpu_host {
	struct kvm *kvm;
	struct bus *pio;
	struct bus *mmio;
	/* Ends the VM (any thread; the first stop wins). */
	void (*stop)(void *ctx, const struct stop *s);
	void *stop_ctx;
	/* Runs first on each vCPU thread (stop_ctx, the vCPU); NULL for nothing. A failure
	 * stops the VM with a monitor error before the guest runs on that thread. */
	int (*thread_start)(void *ctx, struct vcpu *v, struct error *err);
	/* Set, with release semantics, once the VM stops: every vCPU thread then returns. */
	const bool *stopping;
};

/* A VM's vCPUs. */
struct vcpus {
	struct vcpu_host host;
	unsigned int n;
	struct vcpu *cpu;
	/* Requests for the vCPUs' state and their answers (vcpu_query_all). */
	pthread_mutex_t info_lock;
	pthread_cond_t info_cond; /* on CLOCK_MONOTONIC */
};

/* Sets up n vCPUs that do not exist yet (destroyed with vcpus_destroy, also when this
 * fails), then creates each with its CPUID (APIC ID = id), MSRs and FPU state. */
int vcpus_init(struct vcpus *all, const struct vcpu_host *host, unsigned int n, struct error *err);
void vcpus_destroy(struct vcpus *all);
int vcpu_start(struct vcpu *v, struct error *err);
/* Makes the vCPU leave KVM_RUN soon. The thread then sees host.stopping and returns, or
 * answers a pending request and goes on running. Main thread only. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* Whether the vCPU's thread is still in its run loop, and if so whether it is inside
 * KVM_RUN (*in_run) or handling an exit (a device access, which may block on the host). */
bool vcpu_running(struct vcpu *v, bool *in_run);
/* The signal used to kick; installed once before any vCPU starts. */
void vcpu_setup_kick_signal(void);
/* Asks every vCPU to read the parts (VCPU_INFO_*) of its state and waits up to
 * timeout_s for all answers; out[i] gets vCPU i's, answered or not. parts 0 asks no vCPU
 * and gives only ids, thread ids and whether the threads run. Main thread only. */
void vcpu_query_all(struct vcpus *all, unsigned int parts, struct vcpu_info *out, int timeout_s);

#endif
