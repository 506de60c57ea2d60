/* SPDX-License-Identifier: MIT */
/*
 * The seccomp sandbox: after setup, each slabvm thread runs under an allow-list of the
 * system calls its kind of thread makes at run time (sandbox.c has one table per kind),
 * with the arguments that matter checked: ioctl request numbers, no PROT_EXEC for mmap and
 * mprotect, memfd_create and fallocate flags, thread-only clone.
 *
 * A forbidden call is not executed: it raises SIGSYS (SECCOMP_RET_TRAP), whose handler
 * writes "slabvm: seccomp: forbidden system call NAME (NR) in thread THREAD" with the first
 * arguments on stderr, restores the terminal and exits with status 128 + SIGSYS. TRAP, not
 * KILL_PROCESS: a killed process cannot say which call it made, and the user would see only
 * "Bad system call". A thread cannot replace the handler: rt_sigaction on SIGSYS is
 * forbidden too, and a SIGSYS the thread blocks is delivered anyway (the kernel forces it).
 *
 * Filters are the kernel's per-thread state and a thread inherits its creator's; a later
 * filter can only narrow. So each thread installs its own filter first thing when it
 * starts, and the main thread installs the main loop's filter only after it created the
 * vCPU and console threads (which therefore never carry the main loop's). A thread created
 * after that (the teardown watchdog) inherits the main loop's filter and narrows it. No
 * thread handles anything the guest or a client controls before it filtered itself.
 *
 * One sandbox per process: sandbox_enable arms it (the SIGSYS handler, the syscall names
 * the handler prints); until then sandbox_enter does nothing, so code that runs threads
 * outside a VM (unit tests, `slabvm ctl`) is not filtered.
 */
#ifndef SLABVM_SANDBOX_H
#define SLABVM_SANDBOX_H

#include <stdbool.h>

#include "base/error.h"

enum sandbox_kind {
	SANDBOX_MAIN,	  /* the main loop: devices' queues, QMP, DIMMs, the teardown */
	SANDBOX_VCPU,	  /* KVM_RUN and the port I/O and MMIO exits it dispatches */
	SANDBOX_CONSOLE,  /* reads stdin into the UART */
	SANDBOX_WATCHDOG, /* reports a slow teardown, reads the signalfd meanwhile */
	SANDBOX_NR,
};

/* Arms the sandbox for this process. restore (may be NULL) runs in the SIGSYS handler
 * before the exit: it must be async-signal-safe (the terminal's restore). */
int sandbox_enable(void (*restore)(void), struct error *err);
bool sandbox_enabled(void);
/* What the main loop's DIMM plug may call to create backing: memfd_create with exactly
 * memfd_flags (default MFD_CLOEXEC; hugetlb adds MFD_HUGETLB and its size) and, if
 * madv_hugepage, madvise(MADV_HUGEPAGE). Set before the main loop enters its filter. */
void sandbox_set_backing(unsigned int memfd_flags, bool madv_hugepage);
/* Installs kind's filter on the calling thread, which the refusal message calls name (a
 * string that lives as long as the thread). Does nothing unless the sandbox is enabled. */
int sandbox_enter(enum sandbox_kind kind, const char *name, struct error *err);

#endif
