// SPDX-License-Identifier: MIT
#include "host/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/vfio.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>

/* ---- the allow-lists ---- */

/* One allowed system call, with at most two argument comparisons that must all hold. */
struct sandbox_rule {
	int nr;
	unsigned int narg;
	struct scmp_arg_cmp arg[2];
};

/* The kernel reads an int or unsigned int argument from the low half of its register: so
 * compare only that half, or a caller could pass an allowed value with junk above it and
 * be refused, or a refused one and be allowed. */
#define LOW32 0xffffffffULL
/* Argument n masked with mask equals v. */
#define CMP(n, mask, v)                                                                            \
	{                                                                                          \
		.arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (v)            \
	}
#define ANY(name)                                                                                  \
	{                                                                                          \
		SCMP_SYS(name), 0,                                                                 \
		{                                                                                  \
			CMP(0, 0, 0)                                                               \
		}                                                                                  \
	}
#define ARG32(name, n, v)                                                                          \
	{                                                                                          \
		SCMP_SYS(name), 1,                                                                 \
		{                                                                                  \
			CMP(n, LOW32, v)                                                           \
		}                                                                                  \
	}
/* Allowed when none of the bits in mask is set in argument n. */
#define NONE_OF(name, n, mask)                                                                     \
	{                                                                                          \
		SCMP_SYS(name), 1,                                                                 \
		{                                                                                  \
			CMP(n, mask, 0)                                                            \
		}                                                                                  \
	}

/*
 * Every thread: the C library's own needs (locks, memory, signals, thread exit), messages
 * on stderr, raise() and abort() on a crash, and the terminal's restore on the way out.
 * Memory never becomes executable. rt_sigaction only for the signals a crash resets to
 * their default (console.c's handler, abort()): never SIGSYS.
 */
static const struct sandbox_rule sandbox_common[] = {
	ANY(read),
	ANY(write),
	ANY(futex),
	ANY(poll),
	ANY(ppoll),
	ANY(exit),
	ANY(exit_group),
	ANY(restart_syscall),
	ANY(rt_sigreturn),
	ANY(rt_sigprocmask),
	ARG32(rt_sigaction, 0, SIGABRT),
	ARG32(rt_sigaction, 0, SIGSEGV),
	ARG32(rt_sigaction, 0, SIGBUS),
	ARG32(rt_sigaction, 0, SIGILL),
	ARG32(rt_sigaction, 0, SIGFPE),
	ANY(getpid),
	ANY(gettid),
	ANY(clock_gettime),
	ANY(clock_nanosleep),
	ANY(nanosleep),
	ANY(sched_yield),
	ANY(sysinfo), /* qsort asks how much memory there is before it sorts a large array */
	ANY(brk),
	NONE_OF(mmap, 2, PROT_EXEC),
	NONE_OF(mprotect, 2, PROT_EXEC),
	ANY(munmap),
	ANY(mremap), /* realloc of a large block; it keeps the old protection */
	ARG32(madvise, 2, MADV_DONTNEED),
	ARG32(madvise, 2, MADV_POPULATE_WRITE), /* anonymous guest RAM: the balloon's deflate */
};

/* A thread of this process, in no new namespace. */
#define CLONE_THREAD_FLAGS (CLONE_THREAD | CLONE_VM | CLONE_SIGHAND)
#define CLONE_NAMESPACES                                                                           \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)

/*
 * The main loop: ioeventfd notifications (virtqueues, the balloon's release with
 * fallocate's punch-hole and its repopulation), QMP clients (accept4, recv, send; no new
 * socket of any family), DIMM plug (memfd_create, ftruncate, mmap, memslot, IOMMU map) and
 * unplug, timers, the vfio devices' config space and interrupts, virtio-rng's entropy. At
 * the end it creates the watchdog thread (clone with thread flags only: clone3 answers
 * ENOSYS, so the C library falls back to clone, whose flags a filter can see), whose
 * first calls run under this filter, and tears everything down (close, munmap, unlink of
 * the QMP socket).
 */
static const struct sandbox_rule sandbox_main[] = {
	ANY(close),
	ANY(epoll_wait),
	ANY(epoll_pwait),
	ANY(epoll_ctl),
	ARG32(accept4, 3, SOCK_CLOEXEC | SOCK_NONBLOCK),
	ANY(recvfrom),
	ANY(sendto),
	ANY(eventfd2),
	ANY(timerfd_settime),
	/* memfd_create with the flags of guest RAM's backing: added in sandbox_build. */
	ANY(ftruncate),
	ARG32(fallocate, 1, 0),
	ARG32(fallocate, 1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
	ANY(pread64),
	ANY(pwrite64),
	ANY(getrandom),
	ANY(unlink),
	{SCMP_SYS(clone), 1, {CMP(0, CLONE_THREAD_FLAGS | CLONE_NAMESPACES, CLONE_THREAD_FLAGS)}},
	ANY(set_robust_list),
	ANY(rseq),
	/* A thread it creates installs a filter of its own, which can only narrow this one. */
	ARG32(seccomp, 0, SECCOMP_SET_MODE_FILTER),
	ARG32(seccomp, 0, SECCOMP_GET_ACTION_AVAIL),
};

/* vCPUs: exits dispatched to devices, which may write the console (poll, write), raise
 * interrupts (an MSI route: eventfd2, close on failure), read vfio config space and move
 * BARs (ioeventfds, memslots, IOMMU mappings, vfio interrupts). */
static const struct sandbox_rule sandbox_vcpu[] = {
	ANY(close), ANY(eventfd2), ANY(pread64), ANY(pwrite64), ANY(getrandom),
};

/* The console reader needs nothing beyond the common part and the UART's interrupt line. */
static const struct sandbox_rule sandbox_console[] = {
	ANY(close),
};

/* The watchdog polls, reads the signalfd, writes stderr and may _exit: all common. */
static const struct sandbox_rule sandbox_watchdog[] = {
	ANY(close),
};

/* ioctl requests, per kind; TCSETS (tcsetattr: the terminal's restore) for every kind, and
 * TCGETS, which glibc's tcsetattr issues after TCSETS to check what the driver kept (seen
 * in the testbed, where stdin is level 1's serial console). */
static const unsigned long sandbox_ioctl_common[] = {TCSETS, TCGETS};

/* Run-time KVM and vfio calls that follow guest-visible changes: memslots (DIMMs, BARs),
 * interrupts (lines, MSI routes and irqfds), ioeventfds, IOMMU mappings, vfio interrupts
 * and resets (a function's own, or a bus reset with what it needs to know first). The two
 * bus-reset requests share their numbers with VFIO_IOMMU_GET_INFO and VFIO_IOMMU_MAP_DMA
 * (vfio numbers per fd type), so the first also lets the container be asked for its info. */
#define SANDBOX_RUNTIME_IOCTLS                                                                     \
	KVM_SET_USER_MEMORY_REGION, KVM_IOEVENTFD, KVM_IRQFD, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI, \
		KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA,       \
		VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,       \
		VFIO_DEVICE_PCI_HOT_RESET

static const unsigned long sandbox_ioctl_main[] = {SANDBOX_RUNTIME_IOCTLS};

/* Plus KVM_RUN and the state the control socket asks a vCPU for (vcpu_read_state). */
static const unsigned long sandbox_ioctl_vcpu[] = {
	SANDBOX_RUNTIME_IOCTLS, KVM_RUN,	  KVM_GET_REGS,
	KVM_GET_SREGS,		KVM_GET_MP_STATE, KVM_GET_LAPIC,
};

/* Input raises the UART's interrupt line. */
static const unsigned long sandbox_ioctl_console[] = {KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS};

#ifdef SLABVM_SANITIZED
/*
 * The sanitizer runtimes (ASan, UBSan, LSan) in a -Db_sanitize build: their allocator and
 * shadow memory (madvise of any kind), /proc/self/maps and symbolization when they report,
 * and LSan's leak check at exit, which stops the world from a traced helper process. Never
 * in a release build: the sandbox is the same otherwise, so the sanitizer CI still runs
 * every guest under it.
 */
static const struct sandbox_rule sandbox_sanitizer[] = {
	ANY(madvise),
	ANY(sigaltstack),
	ANY(open), /* the runtimes' own syscall wrappers use open and getdents */
	ANY(openat),
	ANY(close),
	ANY(newfstatat),
	ANY(fstat),
	ANY(lseek),
	ANY(readlink),
	ANY(getdents),
	ANY(getdents64),
	ANY(prctl),
	ANY(ptrace),
	ANY(clone),
	ANY(wait4),
	ANY(waitid),
	ANY(kill),
	ANY(tgkill),
	ANY(pipe2),
	ANY(dup2),
	ANY(execve),
	ANY(sched_getaffinity),
	ANY(getppid),
	/* LSan's helper catches the synchronous signals; SIGSYS stays the sandbox's */
	ARG32(rt_sigaction, 0, SIGXCPU),
	ARG32(rt_sigaction, 0, SIGXFSZ),
	ANY(set_robust_list),
	ANY(rseq),
	ANY(getrlimit),
	ANY(prlimit64),
	ANY(uname),
};
#endif

struct sandbox_policy {
	const struct sandbox_rule *rules;
	size_t nrules;
	const unsigned long *ioctls;
	size_t nioctls;
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define POLICY(r, i)                                                                               \
	{                                                                                          \
		r, N(r), i, N(i)                                                                   \
	}

static const struct sandbox_policy sandbox_policy[SANDBOX_NR] = {
	[SANDBOX_MAIN] = POLICY(sandbox_main, sandbox_ioctl_main),
	[SANDBOX_VCPU] = POLICY(sandbox_vcpu, sandbox_ioctl_vcpu),
	[SANDBOX_CONSOLE] = POLICY(sandbox_console, sandbox_ioctl_console),
	[SANDBOX_WATCHDOG] = {sandbox_watchdog, N(sandbox_watchdog), NULL, 0},
};

/* ---- the refusal ---- */

/* Syscall names, looked up once when the sandbox is enabled (libseccomp's lookup
 * allocates), so that the SIGSYS handler only indexes. */
#define SANDBOX_MAX_NR 512
static const char *sandbox_names[SANDBOX_MAX_NR];
static void (*sandbox_restore)(void);
static bool sandbox_on;
static __thread const char *sandbox_thread;
/* What DIMM backing needs at run time (sandbox_set_backing). */
static unsigned int sandbox_memfd_flags = MFD_CLOEXEC;
static bool sandbox_madv_hugepage;

/* Async-signal-safe formatting for the handler. */
static size_t sandbox_put(char *buf, size_t pos, size_t size, const char *s)
{
	while (*s && pos + 1 < size)
		buf[pos++] = *s++;
	return pos;
}

static size_t sandbox_put_num(char *buf, size_t pos, size_t size, unsigned long v,
			      unsigned int base)
{
	char digits[24];
	size_t n = 0;

	if (base == 16)
		pos = sandbox_put(buf, pos, size, "0x");
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n && pos + 1 < size)
		buf[pos++] = digits[--n];
	return pos;
}

static void sandbox_sigsys(int sig, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	const int reg[] = {REG_RDI, REG_RSI, REG_RDX};
	unsigned int nr = (unsigned int)si->si_syscall, i;
	char msg[256];
	size_t pos;

	pos = sandbox_put(msg, 0, sizeof(msg), "slabvm: seccomp: forbidden system call ");
	pos = sandbox_put(msg, pos, sizeof(msg),
			  nr < SANDBOX_MAX_NR && sandbox_names[nr] ? sandbox_names[nr] : "?");
	pos = sandbox_put(msg, pos, sizeof(msg), " (");
	pos = sandbox_put_num(msg, pos, sizeof(msg), nr, 10);
	pos = sandbox_put(msg, pos, sizeof(msg), ") in thread ");
	pos = sandbox_put(msg, pos, sizeof(msg), sandbox_thread ? sandbox_thread : "?");
	pos = sandbox_put(msg, pos, sizeof(msg), ", arguments");
	for (i = 0; i < N(reg); i++) {
		pos = sandbox_put(msg, pos, sizeof(msg), i ? ", " : " ");
		pos = sandbox_put_num(msg, pos, sizeof(msg),
				      (unsigned long)uc->uc_mcontext.gregs[reg[i]], 16);
	}
	pos = sandbox_put(msg, pos, sizeof(msg), "\n");
	if (write(STDERR_FILENO, msg, pos) < 0) {
		/* Nowhere to say it: the exit status still does. */
	}
	if (sandbox_restore)
		sandbox_restore();
	_exit(128 + sig);
}

int sandbox_enable(void (*restore)(void), struct error *err)
{
	struct sigaction sa = {.sa_sigaction = sandbox_sigsys, .sa_flags = SA_SIGINFO};
	unsigned int nr;

	for (nr = 0; nr < SANDBOX_MAX_NR; nr++)
		if (!sandbox_names[nr])
			sandbox_names[nr] =
				seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return error_set(err, -errno, "sandbox: SIGSYS handler: %s", strerror(errno));
	sandbox_restore = restore;
	sandbox_on = true;
	return 0;
}

void sandbox_set_backing(unsigned int memfd_flags, bool madv_hugepage)
{
	sandbox_memfd_flags = memfd_flags;
	sandbox_madv_hugepage = madv_hugepage;
}

bool sandbox_enabled(void)
{
	return sandbox_on;
}

/* ---- building and loading a filter ---- */

static int sandbox_add_rules(scmp_filter_ctx ctx, const struct sandbox_rule *r, size_t n)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r[i].nr, r[i].narg, r[i].arg);
		if (ret)
			return ret;
	}
	return 0;
}

static int sandbox_add_ioctls(scmp_filter_ctx ctx, const unsigned long *req, size_t n)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, req[i]));
		if (ret)
			return ret;
	}
	return 0;
}

static int sandbox_build(scmp_filter_ctx ctx, const struct sandbox_policy *p)
{
	int ret;

	/* tgkill only to this process (raise, abort, the vCPUs' kick): its id is known now. */
	ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (!ret)
		ret = sandbox_add_rules(ctx, sandbox_common, N(sandbox_common));
	if (!ret)
		ret = sandbox_add_rules(ctx, p->rules, p->nrules);
	/* DIMM plug: the one memfd flag set guest RAM uses, and the THP request on it. */
	if (!ret && p == &sandbox_policy[SANDBOX_MAIN])
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(memfd_create), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, sandbox_memfd_flags));
	if (!ret && p == &sandbox_policy[SANDBOX_MAIN] && sandbox_madv_hugepage)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, LOW32, MADV_HUGEPAGE));
#ifdef SLABVM_SANITIZED
	if (!ret)
		ret = sandbox_add_rules(ctx, sandbox_sanitizer, N(sandbox_sanitizer));
#endif
	if (!ret)
		ret = sandbox_add_ioctls(ctx, sandbox_ioctl_common, N(sandbox_ioctl_common));
	if (!ret)
		ret = sandbox_add_ioctls(ctx, p->ioctls, p->nioctls);
	return ret;
}

int sandbox_enter(enum sandbox_kind kind, const char *name, struct error *err)
{
	scmp_filter_ctx ctx;
	int ret;

	sigset_t sys;

	if (!sandbox_on)
		return 0;
	sandbox_thread = name;
	/* A thread that blocks every signal (console, watchdog) must still take SIGSYS in the
	 * handler: the kernel would otherwise kill the process without a word. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return error_set(err, -ENOMEM, "sandbox: thread %s: seccomp_init failed", name);
	/* caps_drop_all set no_new_privs already: libseccomp need not (and prctl is not
	 * allowed to a thread that inherited a filter). */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!ret)
		ret = sandbox_build(ctx, &sandbox_policy[kind]);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	/* libseccomp built the filter in 100 KiB or more of heap, now free: give its pages
	 * back (MADV_DONTNEED and brk, both allowed above), or they stay resident for the whole
	 * run (docs/bench.md, "The resident set, third round"). Not under the sanitizers: their
	 * allocator serves malloc there, and a first call into glibc's own would set it up,
	 * with a getrandom the filter refuses. */
#ifndef SLABVM_SANITIZED
	malloc_trim(0);
#endif
	if (ret)
		return error_set(err, ret, "sandbox: thread %s: cannot install its filter: %s",
				 name, strerror(-ret));
	return 0;
}
