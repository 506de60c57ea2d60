// SPDX-License-Identifier: MIT
#include "control/vcpu_info.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/qmp.h"

/* Architectural bits the text decodes. */
#define CR0_PE (1ULL << 0)
#define EFER_LMA (1ULL << 10)
#define RFLAGS_VM (1ULL << 17)

/* Local APIC registers: offsets in the 1 KiB page KVM_GET_LAPIC returns. */
#define APIC_ID 0x20
#define APIC_LVR 0x30
#define APIC_TPR 0x80
#define APIC_PPR 0xa0
#define APIC_LDR 0xd0
#define APIC_DFR 0xe0
#define APIC_SPIV 0xf0
#define APIC_ISR 0x100 /* 256 bits, 32 per 16-byte register */
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define APIC_LVTT 0x320
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_LVTERR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0

#define LVT_VECTOR 0xffU
#define LVT_DELIVERY_MODE(v) (((v) >> 8) & 7U)
#define LVT_PENDING (1U << 12)
#define LVT_ACTIVE_LOW (1U << 13)
#define LVT_REMOTE_IRR (1U << 14)
#define LVT_LEVEL (1U << 15)
#define LVT_MASKED (1U << 16)
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3U)
#define SPIV_ENABLED (1U << 8)
#define SPIV_NO_FOCUS (1U << 9)

/* Text built piecewise into a caller's buffer, snprintf-style: len counts it all. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	bool room = o->len < o->size;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room ? o->size - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* ---- the command line ---- */

/* Splits line at blanks into at most max words; returns how many there are (maybe more). */
static unsigned int words(const char *line, const char **w, size_t *len, unsigned int max)
{
	unsigned int n = 0;

	for (;;) {
		line += strspn(line, " \t");
		if (!*line)
			return n;
		if (n < max) {
			w[n] = line;
			len[n] = strcspn(line, " \t");
		}
		n++;
		line += strcspn(line, " \t");
	}
}

static bool word_is(const char *w, size_t len, const char *s)
{
	return len == strlen(s) && !memcmp(w, s, len);
}

enum vcpu_info_cmd vcpu_info_parse(const char *line)
{
	const char *w[3];
	size_t len[3];
	unsigned int n = words(line, w, len, 3);

	if (n < 2 || n > 3 || !word_is(w[0], len[0], "info"))
		return VCPU_INFO_CMD_UNKNOWN;
	/* QEMU's -a asks for every vCPU; slabvm prints every vCPU without it too, having no
	 * notion of a monitor's current vCPU. */
	if (word_is(w[1], len[1], "registers") && (n == 2 || word_is(w[2], len[2], "-a")))
		return VCPU_INFO_CMD_REGISTERS;
	if (n == 2 && word_is(w[1], len[1], "lapic"))
		return VCPU_INFO_CMD_LAPIC;
	if (n == 2 && word_is(w[1], len[1], "cpus"))
		return VCPU_INFO_CMD_CPUS;
	return VCPU_INFO_CMD_UNKNOWN;
}

unsigned int vcpu_info_parts(enum vcpu_info_cmd cmd)
{
	switch (cmd) {
	case VCPU_INFO_CMD_REGISTERS:
		return VCPU_INFO_REGS;
	case VCPU_INFO_CMD_LAPIC:
		return VCPU_INFO_LAPIC;
	default:
		return 0;
	}
}

/* ---- info registers ---- */

const char *vcpu_info_mp_state_name(uint32_t mp_state)
{
	/* Indexed by KVM_MP_STATE_*, some newer than the oldest headers slabvm builds with. */
	static const char *const names[] = {
		"runnable",	 "uninitialized (wait for SIPI)",
		"init_received", "halted",
		"sipi_received", "stopped",
		"check_stop",	 "operating",
		"load",		 "ap_reset_hold",
		"suspended",
	};

	return mp_state < sizeof(names) / sizeof(names[0]) ? names[mp_state] : NULL;
}

/* The descriptor's attribute bits (bits 8-23 of its high dword), as QEMU shows them. */
static uint32_t seg_attributes(const struct kvm_segment *s)
{
	return (uint32_t)s->type << 8 | (uint32_t)s->s << 12 | (uint32_t)s->dpl << 13 |
	       (uint32_t)(s->present && !s->unusable) << 15 | (uint32_t)s->avl << 20 |
	       (uint32_t)s->l << 21 | (uint32_t)s->db << 22 | (uint32_t)s->g << 23;
}

/* A system descriptor's type: long mode has only the 64-bit kinds. */
static const char *seg_system_type(unsigned int type, bool lma)
{
	switch (type) {
	case 1:
		return lma ? "Reserved" : "TSS16-avl";
	case 2:
		return "LDT";
	case 3:
		return lma ? "Reserved" : "TSS16-busy";
	case 9:
		return lma ? "TSS64-avl" : "TSS32-avl";
	case 11:
		return lma ? "TSS64-busy" : "TSS32-busy";
	case 12:
		return lma ? "CallGate64" : "CallGate32";
	case 14:
		return lma ? "IntGate64" : "IntGate32";
	case 15:
		return lma ? "TrapGate64" : "TrapGate32";
	default:
		return "Reserved";
	}
}

static const char *seg_code_size(const struct kvm_segment *s)
{
	if (s->l)
		return "CS64";
	return s->db ? "CS32" : "CS16";
}

/* NAME=selector base limit attributes, then, in protected mode for a present segment,
 * its DPL and kind: CS64/CS32/CS16 [conforming readable accessed], DS [expand-down
 * writable accessed], or the system type. */
static void put_segment(struct out *o, const char *name, const struct kvm_segment *s, bool pe,
			bool lma)
{
	put(o, "%-3s=%04x %016llx %08x %08x", name, s->selector, (unsigned long long)s->base,
	    s->limit, seg_attributes(s));
	if (pe && s->present && !s->unusable) {
		put(o, " DPL=%u ", s->dpl);
		if (!s->s)
			put(o, "%s", seg_system_type(s->type, lma));
		else if (s->type & 8)
			put(o, "%s [%c%c%c]", seg_code_size(s), s->type & 4 ? 'C' : '-',
			    s->type & 2 ? 'R' : '-', s->type & 1 ? 'A' : '-');
		else
			put(o, "%s [%c%c%c]", s->db || lma ? "DS  " : "DS16",
			    s->type & 4 ? 'E' : '-', s->type & 2 ? 'W' : '-',
			    s->type & 1 ? 'A' : '-');
	}
	put(o, "\n");
}

/* A vCPU that has nothing to show says why on its CPU#N line; returns true then. */
static bool put_missing(struct out *o, const struct vcpu_info *v)
{
	switch (v->answer) {
	case VCPU_INFO_NO_ANSWER:
		put(o, "CPU#%u: no answer within %d s\n", v->id, VCPU_INFO_TIMEOUT_S);
		return true;
	case VCPU_INFO_ENDED:
		put(o, "CPU#%u: not running\n", v->id);
		return true;
	default:
		if (!v->failed)
			return false;
		put(o, "CPU#%u: %s: %s\n", v->id, v->failed, strerror(v->err));
		return true;
	}
}

size_t vcpu_info_registers(const struct vcpu_info *v, char *buf, size_t size)
{
	const struct kvm_regs *r = &v->regs;
	const struct kvm_sregs *s = &v->sregs;
	struct out o = {buf, size, 0};
	bool pe = s->cr0 & CR0_PE, lma = s->efer & EFER_LMA;
	unsigned long long fl = r->rflags;
	const char *mp = vcpu_info_mp_state_name(v->mp.mp_state);
	unsigned int cpl;

	if (size)
		buf[0] = '\0';
	if (put_missing(&o, v))
		return o.len;
	/* The CPL is SS's DPL in protected mode; real mode runs at 0, virtual-8086 at 3. */
	cpl = !pe ? 0 : fl & RFLAGS_VM ? 3 : s->ss.dpl;
	put(&o, "CPU#%u\n", v->id);
	put(&o, "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", r->rax, r->rbx, r->rcx,
	    r->rdx);
	put(&o, "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", r->rsi, r->rdi, r->rbp,
	    r->rsp);
	put(&o, "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", r->r8, r->r9, r->r10, r->r11);
	put(&o, "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", r->r12, r->r13, r->r14,
	    r->r15);
	/* The flags shown by letter: OF DF SF ZF AF PF CF. */
	put(&o, "RIP=%016llx RFL=%08llx [%c%c%c%c%c%c%c] CPL=%u HLT=%d\n", r->rip, fl,
	    fl & (1 << 11) ? 'O' : '-', fl & (1 << 10) ? 'D' : '-', fl & (1 << 7) ? 'S' : '-',
	    fl & (1 << 6) ? 'Z' : '-', fl & (1 << 4) ? 'A' : '-', fl & (1 << 2) ? 'P' : '-',
	    fl & (1 << 0) ? 'C' : '-', cpl, v->mp.mp_state == KVM_MP_STATE_HALTED);
	put_segment(&o, "ES", &s->es, pe, lma);
	put_segment(&o, "CS", &s->cs, pe, lma);
	put_segment(&o, "SS", &s->ss, pe, lma);
	put_segment(&o, "DS", &s->ds, pe, lma);
	put_segment(&o, "FS", &s->fs, pe, lma);
	put_segment(&o, "GS", &s->gs, pe, lma);
	put_segment(&o, "LDT", &s->ldt, pe, lma);
	put_segment(&o, "TR", &s->tr, pe, lma);
	put(&o, "GDT=     %016llx %08x\n", s->gdt.base, s->gdt.limit);
	put(&o, "IDT=     %016llx %08x\n", s->idt.base, s->idt.limit);
	put(&o, "CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx\n", s->cr0, s->cr2, s->cr3, s->cr4);
	put(&o, "EFER=%016llx\n", s->efer);
	if (mp)
		put(&o, "MP_STATE=%s\n", mp);
	else
		put(&o, "MP_STATE=unknown (%u)\n", v->mp.mp_state);
	return o.len;
}

/* ---- info lapic ---- */

static uint32_t apic_reg(const struct kvm_lapic_state *l, unsigned int off)
{
	uint32_t val;

	memcpy(&val, l->regs + off, sizeof(val));
	return val;
}

static const char *lvt_delivery_mode(uint32_t lvt)
{
	static const char *const modes[8] = {"Fixed", "Reserved", "SMI",      "Reserved",
					     "NMI",   "INIT",	  "Reserved", "ExtINT"};

	return modes[LVT_DELIVERY_MODE(lvt)];
}

/* LABEL 0xvalue vec N masked|unmasked: what every LVT entry has. */
static void put_lvt_head(struct out *o, const char *name, uint32_t lvt)
{
	put(o, "%-8s 0x%08x vec %u %s", name, lvt, lvt & LVT_VECTOR,
	    lvt & LVT_MASKED ? "masked" : "unmasked");
}

/* LINT0 and LINT1 also have a delivery mode, a polarity and a trigger mode. */
static void put_lvt_lint(struct out *o, const char *name, uint32_t lvt)
{
	put_lvt_head(o, name, lvt);
	put(o, " %s %s %s%s%s\n", lvt_delivery_mode(lvt),
	    lvt & LVT_ACTIVE_LOW ? "active-lo" : "active-hi", lvt & LVT_LEVEL ? "level" : "edge",
	    lvt & LVT_REMOTE_IRR ? " remote-irr" : "", lvt & LVT_PENDING ? " pending" : "");
}

/* The vectors whose bit is set in a 256-bit register (ISR, IRR), in decimal. */
static void put_vectors(struct out *o, const char *name, const struct kvm_lapic_state *l,
			unsigned int base)
{
	unsigned int vec;
	bool any = false;

	put(o, "%-8s", name);
	for (vec = 0; vec < 256; vec++) {
		if (apic_reg(l, base + (vec / 32) * 0x10) & (1U << (vec % 32))) {
			put(o, " %u", vec);
			any = true;
		}
	}
	put(o, "%s\n", any ? "" : " (none)");
}

size_t vcpu_info_lapic(const struct vcpu_info *v, char *buf, size_t size)
{
	static const char *const timer_modes[4] = {"one-shot", "periodic", "tsc-deadline",
						   "reserved"};
	const struct kvm_lapic_state *l = &v->lapic;
	struct out o = {buf, size, 0};
	uint32_t lvtt = apic_reg(l, APIC_LVTT), dcr = apic_reg(l, APIC_TDCR);
	uint32_t spiv = apic_reg(l, APIC_SPIV), lvterr = apic_reg(l, APIC_LVTERR);
	/* Divide configuration: bits 0, 1 and 3 make 0-6 for 2^(n+1), and 7 for 1. */
	unsigned int div = (dcr & 3) | ((dcr & 8) >> 1);

	if (size)
		buf[0] = '\0';
	if (put_missing(&o, v))
		return o.len;
	put(&o, "CPU#%u\n", v->id);
	/* Without KVM_CAP_X2APIC_API, KVM shows the ID in xAPIC form (bits 24-31) in x2APIC
	 * mode too; slabvm does not enable it. */
	put(&o, "ID       0x%08x APIC ID %u, version 0x%08x\n", apic_reg(l, APIC_ID),
	    apic_reg(l, APIC_ID) >> 24, apic_reg(l, APIC_LVR));
	put_lvt_head(&o, "LVTT", lvtt);
	put(&o, " %s%s\n", timer_modes[LVT_TIMER_MODE(lvtt)], lvtt & LVT_PENDING ? " pending" : "");
	put(&o, "Timer    DCR=0x%x (divide by %u) initial_count = %u current_count = %u\n", dcr,
	    div == 7 ? 1 : 2U << div, apic_reg(l, APIC_TMICT), apic_reg(l, APIC_TMCCT));
	put_lvt_lint(&o, "LVT0", apic_reg(l, APIC_LVT0));
	put_lvt_lint(&o, "LVT1", apic_reg(l, APIC_LVT1));
	put_lvt_head(&o, "LVTERR", lvterr);
	put(&o, "%s\n", lvterr & LVT_PENDING ? " pending" : "");
	put(&o, "ESR      0x%08x\n", apic_reg(l, APIC_ESR));
	put(&o, "SPIV     0x%08x APIC %s, focus=%s, spurious vec %u\n", spiv,
	    spiv & SPIV_ENABLED ? "enabled" : "disabled", spiv & SPIV_NO_FOCUS ? "off" : "on",
	    spiv & 0xff);
	put(&o, "ICR      0x%08x ICR2 0x%08x\n", apic_reg(l, APIC_ICR), apic_reg(l, APIC_ICR2));
	put_vectors(&o, "ISR", l, APIC_ISR);
	put_vectors(&o, "IRR", l, APIC_IRR);
	put(&o, "TPR 0x%02x PPR 0x%02x LDR 0x%08x DFR 0x%08x\n", apic_reg(l, APIC_TPR) & 0xff,
	    apic_reg(l, APIC_PPR) & 0xff, apic_reg(l, APIC_LDR), apic_reg(l, APIC_DFR));
	return o.len;
}

/* ---- the whole answer ---- */

size_t vcpu_info_format(enum vcpu_info_cmd cmd, const struct vcpu_info *cpus, unsigned int n,
			char *buf, size_t size)
{
	struct out o = {buf, size, 0};
	unsigned int i;

	if (size)
		buf[0] = '\0';
	for (i = 0; i < n; i++) {
		const struct vcpu_info *v = &cpus[i];
		bool room = o.len < o.size;
		char *at = room ? o.buf + o.len : NULL;
		size_t left = room ? o.size - o.len : 0;

		switch (cmd) {
		case VCPU_INFO_CMD_REGISTERS:
			o.len += vcpu_info_registers(v, at, left);
			break;
		case VCPU_INFO_CMD_LAPIC:
			o.len += vcpu_info_lapic(v, at, left);
			break;
		case VCPU_INFO_CMD_CPUS:
			/* QEMU marks the monitor's current vCPU, the first unless one is chosen;
			 * slabvm has no choosing, so it is always CPU #0. */
			put(&o, "%c CPU #%u:", i ? ' ' : '*', v->id);
			if (v->tid)
				put(&o, " thread_id=%d", (int)v->tid);
			put(&o, "%s\n", v->answer == VCPU_INFO_ENDED ? " (not running)" : "");
			break;
		default:
			break;
		}
	}
	return o.len;
}

/* ---- human-monitor-command ---- */

int vcpu_info_hmp(struct json_object *args, vcpu_info_collect_fn *collect, void *ctx,
		  struct json_object **ret, struct error *err)
{
	static const char *const known[] = {"command-line", NULL};
	struct vcpu_info *cpus = NULL;
	enum vcpu_info_cmd cmd;
	const char *line;
	unsigned int n = 0;
	size_t len;
	char *text;
	int rc;

	rc = qmp_args_check(args, known, err);
	if (!rc)
		rc = qmp_arg_string(args, "command-line", true, &line, err);
	if (rc < 0)
		return rc;
	cmd = vcpu_info_parse(line);
	if (cmd == VCPU_INFO_CMD_UNKNOWN)
		return error_set(err, -EINVAL, "unknown command: '%s'", line);
	rc = collect(ctx, vcpu_info_parts(cmd), &cpus, &n, err);
	if (rc < 0)
		return rc;
	len = vcpu_info_format(cmd, cpus, n, NULL, 0);
	text = malloc(len + 1);
	if (!text) {
		free(cpus);
		return error_set(err, -ENOMEM, "out of memory");
	}
	vcpu_info_format(cmd, cpus, n, text, len + 1);
	*ret = json_object_new_string_len(text, (int)len);
	free(text);
	free(cpus);
	return 0;
}
