// SPDX-License-Identifier: MIT
#include "kvm/vcpu.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/thread.h"

#define VCPU_KICK_SIGNAL SIGUSR1

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE (1ULL << 11)
#define MTRR_TYPE_WB 6ULL

#define CPUID_HYPERVISOR (1U << 31)

/* The leaves that carry an APIC ID get this vCPU's; everything else is what KVM offers. */
static int vcpu_set_cpuid(struct vcpu *v, struct error *err)
{
	const struct kvm_cpuid2 *sup = v->all->host.kvm->cpuid;
	size_t bytes = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(bytes);
	unsigned int i;
	int ret = 0;

	if (!c)
		return error_set(err, -ENOMEM, "out of memory");
	memcpy(c, sup, bytes);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffU) | (v->id << 24) |
				 ((v->all->n & 0xffU) << 16);
			e->ecx |= CPUID_HYPERVISOR;
			break;
		case 0xb:
		case 0x1f:
			e->edx = v->id;
			break;
		}
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		ret = error_set(err, -errno, "vCPU %u: KVM_SET_CPUID2: %s", v->id, strerror(errno));
	free(c);
	return ret;
}

static int vcpu_set_msrs(struct vcpu *v, struct error *err)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_LSTAR, 0},
		{MSR_CSTAR, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB},
	};
	enum { N = sizeof(init) / sizeof(init[0]) };
	/* kvm_msrs ends in a flexible array: room for N entries behind its header. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + N * sizeof(struct kvm_msr_entry)];
	} msrs = {.hdr.nmsrs = N};
	unsigned int i;
	int ret;

	for (i = 0; i < N; i++) {
		msrs.hdr.entries[i].index = init[i].index;
		msrs.hdr.entries[i].data = init[i].data;
	}
	ret = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (ret < 0)
		return error_set(err, -errno, "vCPU %u: KVM_SET_MSRS: %s", v->id, strerror(errno));
	if (ret != N)
		return error_set(err, -EINVAL, "vCPU %u: KVM refused MSR 0x%x", v->id,
				 init[ret].index);
	return 0;
}

static int vcpu_set_fpu(struct vcpu *v, struct error *err)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return error_set(err, -errno, "vCPU %u: KVM_SET_FPU: %s", v->id, strerror(errno));
	return 0;
}

static int vcpu_init(struct vcpu *v, struct vcpus *all, unsigned int id, struct error *err)
{
	const struct kvm *k = all->host.kvm;
	int ret;

	v->all = all;
	v->id = id;
	snprintf(v->name, sizeof(v->name), "vcpu%u", id);
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return error_set(err, -errno, "vCPU %u: KVM_CREATE_VCPU: %s", id, strerror(errno));
	v->run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return error_set(err, -errno, "vCPU %u: mmap kvm_run: %s", id, strerror(errno));
	}
	ret = vcpu_set_cpuid(v, err);
	if (!ret)
		ret = vcpu_set_msrs(v, err);
	if (!ret)
		ret = vcpu_set_fpu(v, err);
	return ret;
}

int vcpus_init(struct vcpus *all, const struct vcpu_host *host, unsigned int n, struct error *err)
{
	pthread_condattr_t cattr;
	unsigned int i;
	int ret;

	memset(all, 0, sizeof(*all));
	all->host = *host;
	pthread_mutex_init(&all->info_lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&all->info_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	all->cpu = calloc(n, sizeof(*all->cpu));
	if (!all->cpu)
		return error_set(err, -ENOMEM, "out of memory");
	all->n = n;
	for (i = 0; i < n; i++)
		all->cpu[i].fd = -1;
	for (i = 0; i < n; i++) {
		ret = vcpu_init(&all->cpu[i], all, i, err);
		if (ret)
			return ret;
	}
	return 0;
}

void vcpus_destroy(struct vcpus *all)
{
	unsigned int i;

	if (!all->host.kvm)
		return; /* never set up */
	for (i = 0; i < all->n; i++) {
		struct vcpu *v = &all->cpu[i];

		if (v->run)
			munmap(v->run, (size_t)all->host.kvm->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(all->cpu);
	pthread_cond_destroy(&all->info_cond);
	pthread_mutex_destroy(&all->info_lock);
	memset(all, 0, sizeof(*all));
}

/* Port I/O: string instructions hand over count items of size bytes each. */
static void vcpu_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned int size = run->io.size;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, data += size) {
		uint64_t val = 0;

		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&val, data, size);
			bus_write(v->all->host.pio, run->io.port, size, val);
		} else {
			bus_read(v->all->host.pio, run->io.port, size, &val);
			memcpy(data, &val, size);
		}
	}
}

static void vcpu_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned int len = run->mmio.len;
	uint64_t val = 0;

	if (len == 0 || len > 8)
		return;
	if (run->mmio.is_write) {
		memcpy(&val, run->mmio.data, len);
		bus_write(v->all->host.mmio, run->mmio.phys_addr, len, val);
	} else {
		bus_read(v->all->host.mmio, run->mmio.phys_addr, len, &val);
		memcpy(run->mmio.data, &val, len);
	}
}

/* One ioctl that reads state into out; the first that fails is recorded there. */
static void vcpu_get(struct vcpu *v, unsigned long req, const char *name, void *arg,
		     struct vcpu_info *out)
{
	if (!out->failed && ioctl(v->fd, req, arg) < 0) {
		out->failed = name;
		out->err = errno;
	}
}

/* Reads the parts (VCPU_INFO_*) of the vCPU's state; only its own thread may, outside
 * KVM_RUN. */
static void vcpu_read_state(struct vcpu *v, unsigned int parts, struct vcpu_info *out)
{
	memset(out, 0, sizeof(*out));
	out->id = v->id;
	out->answer = VCPU_INFO_ANSWERED;
	if (parts & VCPU_INFO_REGS) {
		vcpu_get(v, KVM_GET_REGS, "KVM_GET_REGS", &out->regs, out);
		vcpu_get(v, KVM_GET_SREGS, "KVM_GET_SREGS", &out->sregs, out);
		vcpu_get(v, KVM_GET_MP_STATE, "KVM_GET_MP_STATE", &out->mp, out);
	}
	if (parts & VCPU_INFO_LAPIC)
		vcpu_get(v, KVM_GET_LAPIC, "KVM_GET_LAPIC", &out->lapic, out);
}

/* The registers on a vCPU error, in the control socket's `info registers` layout. */
static void vcpu_dump(struct vcpu *v)
{
	struct vcpu_info info;
	char text[4096];
	const char *line, *end;

	vcpu_read_state(v, VCPU_INFO_REGS, &info);
	vcpu_info_registers(&info, text, sizeof(text));
	for (line = text; (end = strchr(line, '\n')); line = end + 1)
		fprintf(stderr, "slabvm: %.*s\n", (int)(end - line), line);
}

static void vcpu_stop(struct vcpu *v, enum stop_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Stops the VM for reason, with what happened in words. */
static void vcpu_stop(struct vcpu *v, enum stop_reason reason, const char *fmt, ...)
{
	struct stop s = {.reason = reason};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s.detail, sizeof(s.detail), fmt, ap);
	va_end(ap);
	v->all->host.stop(v->all->host.stop_ctx, &s);
}

/* Handles one exit; returns false when the VM must stop (it was told). */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_mmio(v);
		return true;
	case KVM_EXIT_HLT:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_stop(v, STOP_GUEST_RESET, "vCPU %u: triple fault", v->id);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vcpu_stop(v, STOP_GUEST_POWEROFF, "vCPU %u: system event shutdown", v->id);
		} else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			vcpu_stop(v, STOP_GUEST_RESET, "vCPU %u: system event reset", v->id);
		} else {
			vcpu_dump(v);
			vcpu_stop(v, STOP_VCPU_ERROR, "vCPU %u: system event %u", v->id,
				  run->system_event.type);
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_dump(v);
		vcpu_stop(v, STOP_VCPU_ERROR, "vCPU %u: KVM internal error, suberror %u", v->id,
			  run->internal.suberror);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vcpu_dump(v);
		vcpu_stop(v, STOP_VCPU_ERROR, "vCPU %u: VM entry failed, reason 0x%llx", v->id,
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vcpu_dump(v);
		vcpu_stop(v, STOP_VCPU_ERROR, "vCPU %u: unexpected KVM exit %u", v->id,
			  run->exit_reason);
		return false;
	}
}

static bool vcpu_stopping(struct vcpu *v)
{
	return __atomic_load_n(v->all->host.stopping, __ATOMIC_ACQUIRE);
}

/*
 * Answers the control socket's request, if one is pending. Called only when KVM_RUN
 * returned EINTR or EAGAIN, never right after an exit to userspace: until KVM_RUN is
 * entered again the exit's instruction is not complete and the state not consistent (KVM's
 * API documentation), and the kick's immediate_exit makes that KVM_RUN complete it and
 * return at once, without running the guest on.
 */
static void vcpu_answer(struct vcpu *v)
{
	struct vcpus *all = v->all;

	pthread_mutex_lock(&all->info_lock);
	if (v->info_done != v->info_asked) {
		vcpu_read_state(v, v->info_parts, &v->info);
		v->info_done = v->info_asked;
		pthread_cond_broadcast(&all->info_cond);
	}
	pthread_mutex_unlock(&all->info_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vcpus *all = v->all;
	struct error err = {0};
	sigset_t set;

	pthread_mutex_lock(&all->info_lock);
	v->tid = gettid();
	pthread_mutex_unlock(&all->info_lock);
	/* Before the guest runs a single instruction on this thread. */
	if (all->host.thread_start && all->host.thread_start(all->host.stop_ctx, v, &err)) {
		vcpu_stop(v, STOP_MONITOR_ERROR, "%s", err.msg);
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!vcpu_stopping(v)) {
		int ret;

		__atomic_store_n(&v->in_run, true, __ATOMIC_RELAXED);
		ret = ioctl(v->fd, KVM_RUN, 0);
		__atomic_store_n(&v->in_run, false, __ATOMIC_RELAXED);
		if (ret < 0) {
			int e = errno;

			if (e == EINTR || e == EAGAIN) {
				/* An exchange, not a plain store, reads the latest value: a kick
				 * whose immediate_exit it clears is one whose stop or request it
				 * then sees (release in vcpu_kick); a later kick leaves 1 for the
				 * next KVM_RUN. */
				__atomic_exchange_n(&v->run->immediate_exit, 0, __ATOMIC_ACQ_REL);
				vcpu_answer(v);
				continue;
			}
			vcpu_dump(v);
			vcpu_stop(v, STOP_VCPU_ERROR, "vCPU %u: KVM_RUN: %s", v->id, strerror(e));
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
out:
	pthread_mutex_lock(&all->info_lock);
	v->running = false;
	pthread_cond_broadcast(&all->info_cond);
	pthread_mutex_unlock(&all->info_lock);
	return NULL;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

/* SA_RESTART: a kick for a request may now come while a vCPU thread is in some other
 * system call (a device writing the console); that call goes on. KVM_RUN still returns
 * EINTR, which is never restarted. */
void vcpu_setup_kick_signal(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

int vcpu_start(struct vcpu *v, struct error *err)
{
	struct vcpus *all = v->all;
	int ret;

	/* Running from now on, so that a request made before the thread gets going waits for
	 * its answer instead of finding the vCPU not running. */
	pthread_mutex_lock(&all->info_lock);
	v->running = true;
	pthread_mutex_unlock(&all->info_lock);
	ret = thread_start(&v->thread, vcpu_thread, v);
	if (ret) {
		pthread_mutex_lock(&all->info_lock);
		v->running = false;
		pthread_mutex_unlock(&all->info_lock);
		return error_set(err, -ret, "vCPU %u: thread: %s", v->id, strerror(ret));
	}
	v->started = true;
	return 0;
}

/* immediate_exit covers the window where the thread checked host.stopping (or for a
 * request) but has not yet entered KVM_RUN: the next KVM_RUN returns at once. The signal
 * covers a thread inside KVM_RUN, including one blocked in a halted or wait-for-SIPI
 * state. Neither stops the vCPU: host.stopping does. */
void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (!v->started)
		return;
	pthread_join(v->thread, NULL);
	v->started = false;
}

bool vcpu_running(struct vcpu *v, bool *in_run)
{
	bool running;

	pthread_mutex_lock(&v->all->info_lock);
	running = v->running;
	pthread_mutex_unlock(&v->all->info_lock);
	*in_run = __atomic_load_n(&v->in_run, __ATOMIC_RELAXED);
	return running;
}

void vcpu_query_all(struct vcpus *all, unsigned int parts, struct vcpu_info *out, int timeout_s)
{
	struct timespec deadline;
	unsigned int i;
	bool waiting;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	pthread_mutex_lock(&all->info_lock);
	for (i = 0; parts && i < all->n; i++) {
		struct vcpu *v = &all->cpu[i];

		/* A request that went unanswered is replaced: the vCPU answers the last. */
		v->info_parts = parts;
		v->info_asked++;
	}
	pthread_mutex_unlock(&all->info_lock);
	for (i = 0; parts && i < all->n; i++)
		vcpu_kick(&all->cpu[i]);

	pthread_mutex_lock(&all->info_lock);
	do {
		waiting = false;
		for (i = 0; parts && i < all->n; i++)
			if (all->cpu[i].running && all->cpu[i].info_done != all->cpu[i].info_asked)
				waiting = true;
	} while (waiting &&
		 pthread_cond_timedwait(&all->info_cond, &all->info_lock, &deadline) != ETIMEDOUT);
	for (i = 0; i < all->n; i++) {
		const struct vcpu *v = &all->cpu[i];

		if (parts && v->info_done == v->info_asked) {
			out[i] = v->info;
		} else {
			memset(&out[i], 0, sizeof(out[i]));
			out[i].answer = !v->running ? VCPU_INFO_ENDED
					: parts	    ? VCPU_INFO_NO_ANSWER
						    : VCPU_INFO_ANSWERED;
		}
		out[i].id = v->id;
		out[i].tid = v->tid;
	}
	pthread_mutex_unlock(&all->info_lock);
}
