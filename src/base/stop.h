/* SPDX-License-Identifier: MIT */
/*
 * Why a VM stopped, and what slabvm makes of it: its exit status, and what it says on
 * stderr. Whoever stops the VM (a vCPU, a device, the main loop, the control socket) names
 * one reason; the control socket maps the same reason to QMP's SHUTDOWN event.
 *
 * slabvm says why it stopped for every reason but the guest's own clean end (a power-off,
 * or a debug-exit write of 0, which is how test guests power off): a user who quits hears
 * it confirmed, and an unexpected stop is never silent.
 */
#ifndef SLABVM_STOP_H
#define SLABVM_STOP_H

#include <stddef.h>

/* Exit statuses besides the guest's own debug-exit value (see cli_usage). */
#define STOP_STATUS_POWEROFF 0
#define STOP_STATUS_ERROR 1
#define STOP_STATUS_USAGE 2
#define STOP_STATUS_RESET 3
#define STOP_STATUS_VCPU_ERROR 4
#define STOP_STATUS_SIGNAL_BASE 128

enum stop_reason {
	STOP_GUEST_POWEROFF, /* ACPI S5, or KVM's system event shutdown */
	STOP_GUEST_RESET,    /* the reset register, a triple fault, KVM's reset event */
	STOP_DEBUG_EXIT,     /* a write to the debug-exit port; value is the byte */
	STOP_VCPU_ERROR,     /* a vCPU met an exit it cannot handle, or KVM_RUN failed */
	STOP_MONITOR_ERROR,  /* slabvm itself failed (a thread did not start, ...) */
	STOP_SIGNAL,	     /* value is the signal number */
	STOP_QMP_QUIT,	     /* quit from the control socket */
	STOP_CONSOLE_QUIT,   /* Ctrl-A x on the console */
	STOP_NR,
};

struct stop {
	enum stop_reason reason;
	int value;	  /* STOP_DEBUG_EXIT: the byte written; STOP_SIGNAL: the signal */
	char detail[256]; /* what happened, e.g. "vCPU 1: KVM internal error, suberror 1" */
};

/* slabvm's exit status for the stop. */
int stop_status(const struct stop *s);
/*
 * What slabvm says on stderr about the stop, one line without a newline, like snprintf
 * (the length of the whole text); 0, and buf empty, when it says nothing.
 */
size_t stop_message(const struct stop *s, char *buf, size_t size);

#endif
