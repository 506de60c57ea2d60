/* SPDX-License-Identifier: MIT */
/*
 * What a running guest's vCPUs are doing, for debugging: the control socket's
 * human-monitor-command (QMP's way of running a monitor command line, as QEMU clients use
 * it) with `info registers`, `info lapic` and `info cpus`, in the layout of QEMU's monitor.
 *
 * Everything here is pure: it formats the structures KVM returns and handles the command's
 * argument, so it is unit-tested without /dev/kvm. Reading the state is the monitor's
 * (vcpu_query_all in vcpu.c: each vCPU reads its own, between two KVM_RUNs).
 */
#ifndef SLABVM_VCPU_INFO_H
#define SLABVM_VCPU_INFO_H

#include <json-c/json_object.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* How long the control socket waits for the vCPUs to answer. */
#define VCPU_INFO_TIMEOUT_S 2

/* The parts of its state a vCPU is asked to read. */
#define VCPU_INFO_REGS 1U  /* KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_MP_STATE */
#define VCPU_INFO_LAPIC 2U /* KVM_GET_LAPIC */

enum vcpu_info_answer {
	VCPU_INFO_ANSWERED,  /* the vCPU read what it was asked (but see failed) */
	VCPU_INFO_NO_ANSWER, /* none within VCPU_INFO_TIMEOUT_S */
	VCPU_INFO_ENDED,     /* the vCPU's thread is not running */
};

struct vcpu_info {
	unsigned int id;
	pid_t tid; /* the host thread's id, 0 if the thread never started */
	enum vcpu_info_answer answer;
	const char *failed; /* the ioctl that failed (its errno in err), NULL if none did */
	int err;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_mp_state mp;
	struct kvm_lapic_state lapic;
};

enum vcpu_info_cmd {
	VCPU_INFO_CMD_UNKNOWN,
	VCPU_INFO_CMD_REGISTERS, /* info registers, info registers -a */
	VCPU_INFO_CMD_LAPIC,	 /* info lapic */
	VCPU_INFO_CMD_CPUS,	 /* info cpus */
};

/* The command a monitor command line names (words separated by blanks). */
enum vcpu_info_cmd vcpu_info_parse(const char *line);
/* The VCPU_INFO_* parts the command needs read; 0 when no vCPU has to be asked. */
unsigned int vcpu_info_parts(enum vcpu_info_cmd cmd);
/* KVM's mp_state by name (runnable, halted, uninitialized (wait for SIPI), ...); NULL for
 * a value this build does not know. */
const char *vcpu_info_mp_state_name(uint32_t mp_state);

/*
 * Like snprintf: write at most size bytes of text into buf (NUL-terminated if size > 0)
 * and return the length of the whole text. Lines end in "\n".
 * vcpu_info_registers and vcpu_info_lapic format one vCPU's block; vcpu_info_format the
 * command's whole answer for n vCPUs.
 */
size_t vcpu_info_registers(const struct vcpu_info *v, char *buf, size_t size);
size_t vcpu_info_lapic(const struct vcpu_info *v, char *buf, size_t size);
size_t vcpu_info_format(enum vcpu_info_cmd cmd, const struct vcpu_info *cpus, unsigned int n,
			char *buf, size_t size);

/*
 * Fills *cpus with a new array (freed by the caller) of *n entries, one per vCPU, holding
 * the parts asked for; returns 0, or a negative errno with err set.
 */
typedef int vcpu_info_collect_fn(void *ctx, unsigned int parts, struct vcpu_info **cpus,
				 unsigned int *n, struct error *err);

/*
 * The QMP command human-monitor-command: args holds "command-line", a string; the reply
 * is the text, as QEMU's is. An unknown command line is an error naming it; collect is
 * called only for a command line that is known.
 */
int vcpu_info_hmp(struct json_object *args, vcpu_info_collect_fn *collect, void *ctx,
		  struct json_object **ret, struct error *err);

#endif
