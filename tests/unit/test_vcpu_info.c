// SPDX-License-Identifier: MIT
/* human-monitor-command: the text of info registers, info lapic and info cpus from given
 * KVM structures, and the command's handling through a QMP session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "control/qmp.h"
#include "control/vcpu_info.h"

static const struct kvm_segment code64 = {
	.limit = 0xffffffff,
	.selector = 0x08,
	.type = 11,
	.present = 1,
	.s = 1,
	.l = 1,
	.g = 1,
};
static const struct kvm_segment data64 = {
	.limit = 0xffffffff,
	.selector = 0x10,
	.type = 3,
	.present = 1,
	.s = 1,
	.db = 1,
	.g = 1,
};

/* A vCPU in long mode, halted, as a firmware guest's BSP could be. */
static void long_mode_vcpu(struct vcpu_info *v)
{
	memset(v, 0, sizeof(*v));
	v->id = 0;
	v->answer = VCPU_INFO_ANSWERED;
	v->regs = (struct kvm_regs){
		.rax = 0x1122334455667788ULL,
		.rbx = 1,
		.rcx = 2,
		.rdx = 3,
		.rsi = 4,
		.rdi = 0xff001000,
		.rsp = 0xff1fffe8,
		.rbp = 5,
		.r8 = 8,
		.r9 = 9,
		.r10 = 10,
		.r11 = 11,
		.r12 = 12,
		.r13 = 13,
		.r14 = 14,
		.r15 = 0xffffffffffffffffULL,
		.rip = 0xff200192,
		.rflags = 0x246,
	};
	v->sregs.cs = code64;
	v->sregs.ds = v->sregs.es = v->sregs.fs = v->sregs.gs = v->sregs.ss = data64;
	v->sregs.ldt = (struct kvm_segment){.limit = 0xffff, .type = 2, .present = 1};
	v->sregs.tr = (struct kvm_segment){.limit = 0xffff, .type = 11, .present = 1};
	v->sregs.gdt = (struct kvm_dtable){.base = 0xff000000, .limit = 23};
	v->sregs.idt = (struct kvm_dtable){.base = 0, .limit = 0xffff};
	v->sregs.cr0 = 0x80010033;
	v->sregs.cr2 = 0xdeadbeef;
	v->sregs.cr3 = 0xff010000;
	v->sregs.cr4 = 0x20;
	v->sregs.efer = 0x500;
	v->mp.mp_state = KVM_MP_STATE_HALTED;
}

static char *text_of(size_t (*fmt)(const struct vcpu_info *, char *, size_t),
		     const struct vcpu_info *v)
{
	size_t len = fmt(v, NULL, 0);
	char *buf = malloc(len + 1);

	assert_non_null(buf);
	assert_int_equal(fmt(v, buf, len + 1), len);
	assert_int_equal(strlen(buf), len);
	return buf;
}

/* Fails with the whole text when line is not one of its lines. */
static void expect_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_registers_long_mode(void **state)
{
	static const char want[] =
		"CPU#0\n"
		"RAX=1122334455667788 RBX=0000000000000001 RCX=0000000000000002 "
		"RDX=0000000000000003\n"
		"RSI=0000000000000004 RDI=00000000ff001000 RBP=0000000000000005 "
		"RSP=00000000ff1fffe8\n"
		"R8 =0000000000000008 R9 =0000000000000009 R10=000000000000000a "
		"R11=000000000000000b\n"
		"R12=000000000000000c R13=000000000000000d R14=000000000000000e "
		"R15=ffffffffffffffff\n"
		"RIP=00000000ff200192 RFL=00000246 [---Z-P-] CPL=0 HLT=1\n"
		"ES =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]\n"
		"CS =0008 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]\n"
		"SS =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]\n"
		"DS =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]\n"
		"FS =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]\n"
		"GS =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]\n"
		"LDT=0000 0000000000000000 0000ffff 00008200 DPL=0 LDT\n"
		"TR =0000 0000000000000000 0000ffff 00008b00 DPL=0 TSS64-busy\n"
		"GDT=     00000000ff000000 00000017\n"
		"IDT=     0000000000000000 0000ffff\n"
		"CR0=80010033 CR2=00000000deadbeef CR3=00000000ff010000 CR4=00000020\n"
		"EFER=0000000000000500\n"
		"MP_STATE=halted\n";
	struct vcpu_info v;
	char *text;

	(void)state;
	long_mode_vcpu(&v);
	text = text_of(vcpu_info_registers, &v);
	assert_string_equal(text, want);
	free(text);
}

static void test_registers_flags_cpl(void **state)
{
	struct vcpu_info v;
	char *text;

	(void)state;
	long_mode_vcpu(&v);
	v.id = 3;
	v.regs.rflags = 0xcd7; /* OF DF SF ZF AF PF CF */
	v.sregs.ss.dpl = 3;
	v.sregs.cs.dpl = 3;
	v.mp.mp_state = KVM_MP_STATE_RUNNABLE;
	text = text_of(vcpu_info_registers, &v);
	assert_memory_equal(text, "CPU#3\n", 6);
	expect_line(text, "RIP=00000000ff200192 RFL=00000cd7 [ODSZAPC] CPL=3 HLT=0");
	expect_line(text, "CS =0008 0000000000000000 ffffffff 00a0fb00 DPL=3 CS64 [-RA]");
	expect_line(text, "MP_STATE=runnable");
	free(text);

	/* Virtual-8086 mode runs at 3 whatever SS says. */
	v.sregs.ss.dpl = 0;
	v.regs.rflags = 0x20002;
	text = text_of(vcpu_info_registers, &v);
	expect_line(text, "RIP=00000000ff200192 RFL=00020002 [-------] CPL=3 HLT=0");
	free(text);
}

/* An AP that was never started: real mode, the reset state, no descriptions. */
static void test_registers_reset_state(void **state)
{
	struct vcpu_info v;
	char *text;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.id = 1;
	v.regs.rip = 0xfff0;
	v.regs.rflags = 2;
	v.sregs.cs = (struct kvm_segment){.base = 0xffff0000,
					  .limit = 0xffff,
					  .selector = 0xf000,
					  .type = 11,
					  .present = 1,
					  .s = 1};
	v.sregs.ss =
		(struct kvm_segment){.limit = 0xffff, .type = 3, .present = 1, .s = 1, .dpl = 3};
	v.sregs.cr0 = 0x60000010;
	v.mp.mp_state = KVM_MP_STATE_UNINITIALIZED;
	text = text_of(vcpu_info_registers, &v);
	expect_line(text, "CPU#1");
	expect_line(text, "RIP=000000000000fff0 RFL=00000002 [-------] CPL=0 HLT=0");
	expect_line(text, "CS =f000 00000000ffff0000 0000ffff 00009b00");
	expect_line(text, "CR0=60000010 CR2=0000000000000000 CR3=0000000000000000 CR4=00000000");
	expect_line(text, "MP_STATE=uninitialized (wait for SIPI)");
	free(text);
}

static void test_mp_state_names(void **state)
{
	char *text;
	struct vcpu_info v;

	(void)state;
	assert_string_equal(vcpu_info_mp_state_name(KVM_MP_STATE_RUNNABLE), "runnable");
	assert_string_equal(vcpu_info_mp_state_name(KVM_MP_STATE_UNINITIALIZED),
			    "uninitialized (wait for SIPI)");
	assert_string_equal(vcpu_info_mp_state_name(KVM_MP_STATE_INIT_RECEIVED), "init_received");
	assert_string_equal(vcpu_info_mp_state_name(KVM_MP_STATE_HALTED), "halted");
	assert_string_equal(vcpu_info_mp_state_name(KVM_MP_STATE_SIPI_RECEIVED), "sipi_received");
	assert_string_equal(vcpu_info_mp_state_name(KVM_MP_STATE_STOPPED), "stopped");
	assert_string_equal(vcpu_info_mp_state_name(9), "ap_reset_hold");
	assert_string_equal(vcpu_info_mp_state_name(10), "suspended");
	assert_null(vcpu_info_mp_state_name(11));
	long_mode_vcpu(&v);
	v.mp.mp_state = 77;
	text = text_of(vcpu_info_registers, &v);
	expect_line(text, "MP_STATE=unknown (77)");
	expect_line(text, "RIP=00000000ff200192 RFL=00000246 [---Z-P-] CPL=0 HLT=0");
	free(text);
}

static void set_apic_reg(struct vcpu_info *v, unsigned int off, uint32_t val)
{
	memcpy(v->lapic.regs + off, &val, sizeof(val));
}

static void set_vector(struct vcpu_info *v, unsigned int base, unsigned int vec)
{
	uint32_t word;

	memcpy(&word, v->lapic.regs + base + (vec / 32) * 16, sizeof(word));
	word |= 1U << (vec % 32);
	memcpy(v->lapic.regs + base + (vec / 32) * 16, &word, sizeof(word));
}

static void test_lapic(void **state)
{
	struct vcpu_info v;
	char *text;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.id = 5;
	set_apic_reg(&v, 0x20, 5U << 24);
	set_apic_reg(&v, 0x30, 0x50014);
	set_apic_reg(&v, 0x80, 0x20);
	set_apic_reg(&v, 0xa0, 0x30);
	set_apic_reg(&v, 0xf0, 0x1ff);
	set_apic_reg(&v, 0x320, 0x200ef); /* periodic, vector 239 */
	set_apic_reg(&v, 0x350, 0x10700); /* masked ExtINT */
	set_apic_reg(&v, 0x360, 0x0a400); /* NMI, active low, level */
	set_apic_reg(&v, 0x370, 0x110fe); /* masked, pending, vector 254 */
	set_apic_reg(&v, 0x380, 1000000);
	set_apic_reg(&v, 0x390, 12345);
	set_apic_reg(&v, 0x3e0, 0xb); /* divide by 1 */
	set_vector(&v, 0x100, 48);
	set_vector(&v, 0x100, 255);
	set_vector(&v, 0x200, 32);
	set_vector(&v, 0x200, 33);
	set_vector(&v, 0x200, 200);
	set_vector(&v, 0x180, 100); /* the TMR, between the two: in neither list */
	text = text_of(vcpu_info_lapic, &v);
	assert_memory_equal(text, "CPU#5\n", 6);
	expect_line(text, "ID       0x05000000 APIC ID 5, version 0x00050014");
	expect_line(text, "LVTT     0x000200ef vec 239 unmasked periodic");
	expect_line(text, "Timer    DCR=0xb (divide by 1) initial_count = 1000000 "
			  "current_count = 12345");
	expect_line(text, "LVT0     0x00010700 vec 0 masked ExtINT active-hi edge");
	expect_line(text, "LVT1     0x0000a400 vec 0 unmasked NMI active-lo level");
	expect_line(text, "LVTERR   0x000110fe vec 254 masked pending");
	expect_line(text, "SPIV     0x000001ff APIC enabled, focus=on, spurious vec 255");
	expect_line(text, "ISR      48 255");
	expect_line(text, "IRR      32 33 200");
	expect_line(text, "TPR 0x20 PPR 0x30 LDR 0x00000000 DFR 0x00000000");
	free(text);

	/* Every divide configuration, and the other timer modes. */
	{
		static const unsigned int div[8] = {2, 4, 8, 16, 32, 64, 128, 1};
		static const char *const mode[4] = {"one-shot", "periodic", "tsc-deadline",
						    "reserved"};
		char line[128];
		unsigned int i;

		for (i = 0; i < 8; i++) {
			set_apic_reg(&v, 0x3e0, (i & 3) | ((i & 4) << 1));
			set_apic_reg(&v, 0x320, 0x10000 | (i & 3) << 17 | 0x40);
			text = text_of(vcpu_info_lapic, &v);
			snprintf(line, sizeof(line),
				 "Timer    DCR=0x%x (divide by %u) initial_count = 1000000 "
				 "current_count = 12345",
				 (i & 3) | ((i & 4) << 1), div[i]);
			expect_line(text, line);
			snprintf(line, sizeof(line), "LVTT     0x%08x vec 64 masked %s",
				 0x10000 | (i & 3) << 17 | 0x40, mode[i & 3]);
			expect_line(text, line);
			free(text);
		}
	}

	/* Nothing pending or in service. */
	memset(v.lapic.regs + 0x100, 0, 0x80);
	memset(v.lapic.regs + 0x200, 0, 0x80);
	text = text_of(vcpu_info_lapic, &v);
	expect_line(text, "ISR      (none)");
	expect_line(text, "IRR      (none)");
	free(text);
}

static void test_missing_answers(void **state)
{
	static const char head[] = "CPU#1: no answer within 2 s\nCPU#2: not running\nCPU#3: ";
	struct vcpu_info v[4];
	char buf[512];

	(void)state;
	memset(v, 0, sizeof(v));
	long_mode_vcpu(&v[0]);
	v[1] = v[0];
	v[1].id = 1;
	v[1].answer = VCPU_INFO_NO_ANSWER;
	v[2].id = 2;
	v[2].answer = VCPU_INFO_ENDED;
	v[3].id = 3;
	v[3].answer = VCPU_INFO_ANSWERED;
	v[3].failed = "KVM_GET_SREGS";
	v[3].err = EBADF;
	vcpu_info_registers(&v[1], buf, sizeof(buf));
	assert_string_equal(buf, "CPU#1: no answer within 2 s\n");
	vcpu_info_lapic(&v[1], buf, sizeof(buf));
	assert_string_equal(buf, "CPU#1: no answer within 2 s\n");
	vcpu_info_registers(&v[2], buf, sizeof(buf));
	assert_string_equal(buf, "CPU#2: not running\n");
	vcpu_info_registers(&v[3], buf, sizeof(buf));
	snprintf(buf + 256, 256, "CPU#3: KVM_GET_SREGS: %s\n", strerror(EBADF));
	assert_string_equal(buf, buf + 256);

	/* The whole answer: blocks in vCPU order. */
	vcpu_info_format(VCPU_INFO_CMD_REGISTERS, v + 1, 3, buf, sizeof(buf));
	assert_memory_equal(buf, head, strlen(head));
}

static void test_cpus_and_truncation(void **state)
{
	struct vcpu_info v[3];
	char buf[256], small[20];
	size_t len;

	(void)state;
	memset(v, 0, sizeof(v));
	v[0] = (struct vcpu_info){.id = 0, .tid = 4242};
	v[1] = (struct vcpu_info){.id = 1, .tid = 4243, .answer = VCPU_INFO_ENDED};
	v[2] = (struct vcpu_info){.id = 2};
	len = vcpu_info_format(VCPU_INFO_CMD_CPUS, v, 3, buf, sizeof(buf));
	assert_string_equal(buf, "* CPU #0: thread_id=4242\n"
				 "  CPU #1: thread_id=4243 (not running)\n"
				 "  CPU #2:\n");
	assert_int_equal(len, strlen(buf));

	/* Too small a buffer: cut and terminated, the length still that of the whole. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(vcpu_info_format(VCPU_INFO_CMD_CPUS, v, 3, small, sizeof(small)), len);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, buf, sizeof(small) - 1);
	long_mode_vcpu(&v[0]);
	len = vcpu_info_format(VCPU_INFO_CMD_REGISTERS, v, 1, NULL, 0);
	assert_true(len > 1000);
	assert_int_equal(vcpu_info_format(VCPU_INFO_CMD_REGISTERS, v, 1, small, sizeof(small)),
			 len);
	assert_string_equal(small, "CPU#0\nRAX=112233445"); /* 19 bytes and the NUL */
	assert_int_equal(vcpu_info_format(VCPU_INFO_CMD_LAPIC, v, 1, small, 1),
			 vcpu_info_lapic(v, NULL, 0));
	assert_string_equal(small, "");
}

static void test_parse(void **state)
{
	(void)state;
	assert_int_equal(vcpu_info_parse("info registers"), VCPU_INFO_CMD_REGISTERS);
	assert_int_equal(vcpu_info_parse("info registers -a"), VCPU_INFO_CMD_REGISTERS);
	assert_int_equal(vcpu_info_parse("  info\tregisters   -a "), VCPU_INFO_CMD_REGISTERS);
	assert_int_equal(vcpu_info_parse("info lapic"), VCPU_INFO_CMD_LAPIC);
	assert_int_equal(vcpu_info_parse("info cpus"), VCPU_INFO_CMD_CPUS);
	assert_int_equal(vcpu_info_parse("info foo"), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parse("info"), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parse(""), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parse("info registersx"), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parse("info registers -b"), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parse("info registers -a -a"), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parse("info lapic 1"), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parse("infos cpus"), VCPU_INFO_CMD_UNKNOWN);
	assert_int_equal(vcpu_info_parts(VCPU_INFO_CMD_REGISTERS), VCPU_INFO_REGS);
	assert_int_equal(vcpu_info_parts(VCPU_INFO_CMD_LAPIC), VCPU_INFO_LAPIC);
	assert_int_equal(vcpu_info_parts(VCPU_INFO_CMD_CPUS), 0);
}

/* ---- through a QMP session, with two fake vCPUs ---- */

#define HMP_MAX_MSGS 16

struct hmp {
	struct qmp_session *s;
	struct json_object *msg[HMP_MAX_MSGS];
	int n;
	int collects;
	unsigned int parts;
};

static void hmp_write(void *opaque, const char *buf, size_t len)
{
	struct hmp *h = opaque;
	struct json_tokener *tok = json_tokener_new();

	assert_non_null(tok);
	assert_true(h->n < HMP_MAX_MSGS);
	h->msg[h->n] = json_tokener_parse_ex(tok, buf, (int)len);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_non_null(h->msg[h->n]);
	json_tokener_free(tok);
	h->n++;
}

static int fake_collect(void *ctx, unsigned int parts, struct vcpu_info **cpus, unsigned int *n,
			struct error *err)
{
	struct hmp *h = ctx;
	struct vcpu_info *v = calloc(2, sizeof(*v));

	(void)err;
	assert_non_null(v);
	h->collects++;
	h->parts = parts;
	long_mode_vcpu(&v[0]);
	v[0].tid = 100;
	v[1].id = 1;
	v[1].tid = 101;
	v[1].answer = VCPU_INFO_NO_ANSWER;
	*cpus = v;
	*n = 2;
	return 0;
}

static int cmd_hmp(void *ctx, struct json_object *args, struct json_object **ret, struct error *err)
{
	return vcpu_info_hmp(args, fake_collect, ctx, ret, err);
}

static const struct qmp_command hmp_cmds[] = {
	{"human-monitor-command", cmd_hmp},
	{NULL, NULL},
};

/* Sends one request and returns the reply (owned by h). */
static struct json_object *hmp_request(struct hmp *h, const char *req)
{
	int before = h->n;

	qmp_session_input(h->s, req, strlen(req));
	assert_int_equal(h->n, before + 1);
	return h->msg[h->n - 1];
}

static void expect_hmp_error(struct json_object *msg, const char *desc)
{
	struct json_object *e, *v;

	assert_true(json_object_object_get_ex(msg, "error", &e));
	assert_true(json_object_object_get_ex(e, "class", &v));
	assert_string_equal(json_object_get_string(v), "GenericError");
	assert_true(json_object_object_get_ex(e, "desc", &v));
	assert_string_equal(json_object_get_string(v), desc);
}

static const char *hmp_return(struct json_object *msg)
{
	struct json_object *r;

	assert_true(json_object_object_get_ex(msg, "return", &r));
	assert_true(json_object_is_type(r, json_type_string));
	return json_object_get_string(r);
}

static void test_hmp_dispatch(void **state)
{
	struct hmp h = {0};
	struct error err = {0};
	const char *text;
	int i;

	(void)state;
	h.s = qmp_session_new(hmp_cmds, &h, hmp_write, &h, &err);
	assert_non_null(h.s);
	hmp_request(&h, "{\"execute\": \"qmp_capabilities\"}");

	expect_hmp_error(hmp_request(&h, "{\"execute\": \"human-monitor-command\"}"),
			 "Parameter 'command-line' is missing");
	expect_hmp_error(hmp_request(&h, "{\"execute\": \"human-monitor-command\", "
					 "\"arguments\": {\"command-line\": 42}}"),
			 "Invalid parameter type for 'command-line', expected: string");
	expect_hmp_error(hmp_request(&h, "{\"execute\": \"human-monitor-command\", "
					 "\"arguments\": {\"command-line\": null}}"),
			 "Invalid parameter type for 'command-line', expected: string");
	expect_hmp_error(hmp_request(&h, "{\"execute\": \"human-monitor-command\", "
					 "\"arguments\": {\"command-line\": \"info cpus\", "
					 "\"cpu\": 1}}"),
			 "Parameter 'cpu' is unexpected");
	expect_hmp_error(hmp_request(&h, "{\"execute\": \"human-monitor-command\", "
					 "\"arguments\": {\"command-line\": \"info foo\"}}"),
			 "unknown command: 'info foo'");
	assert_int_equal(h.collects, 0);

	text = hmp_return(hmp_request(&h, "{\"execute\": \"human-monitor-command\", "
					  "\"arguments\": {\"command-line\": \"info cpus\"}}"));
	assert_string_equal(text, "* CPU #0: thread_id=100\n  CPU #1: thread_id=101\n");
	assert_int_equal(h.collects, 1);
	assert_int_equal(h.parts, 0);

	text = hmp_return(hmp_request(&h,
				      "{\"execute\": \"human-monitor-command\", "
				      "\"arguments\": {\"command-line\": \"info registers -a\"}, "
				      "\"id\": 7}"));
	assert_int_equal(h.parts, VCPU_INFO_REGS);
	assert_memory_equal(text, "CPU#0\nRAX=1122334455667788 ", 27);
	expect_line(text, "RIP=00000000ff200192 RFL=00000246 [---Z-P-] CPL=0 HLT=1");
	expect_line(text, "CPU#1: no answer within 2 s");

	text = hmp_return(hmp_request(&h, "{\"execute\": \"human-monitor-command\", "
					  "\"arguments\": {\"command-line\": \"info lapic\"}}"));
	assert_int_equal(h.parts, VCPU_INFO_LAPIC);
	expect_line(text, "ID       0x00000000 APIC ID 0, version 0x00000000");
	assert_int_equal(h.collects, 3);

	for (i = 0; i < h.n; i++)
		json_object_put(h.msg[i]);
	qmp_session_free(h.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers_long_mode),
		cmocka_unit_test(test_registers_flags_cpl),
		cmocka_unit_test(test_registers_reset_state),
		cmocka_unit_test(test_mp_state_names),
		cmocka_unit_test(test_lapic),
		cmocka_unit_test(test_missing_answers),
		cmocka_unit_test(test_cpus_and_truncation),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_hmp_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
