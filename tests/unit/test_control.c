// SPDX-License-Identifier: MIT
/*
 * The control socket without a VM: a real socket in a temporary directory, served from an
 * event loop the test runs, against a fake ops table that records what it was asked. Every
 * command's reply and every error reply, and the events (BALLOON_CHANGE, the deflate
 * stall events, SHUTDOWN).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "control/control.h"
#include "host/evloop.h"

#define MiB (1ULL << 20)
#define RAM (256 * MiB)

/* The VM as the control socket sees it, and what it was asked. */
struct fake {
	bool has_balloon;
	struct control_balloon balloon;
	int set_calls;
	uint64_t set_bytes;
	int set_ret;
	unsigned int interval_calls;
	struct control_memory memory;
	int power_button_calls;
	int quit_calls;
	bool running;
	unsigned int vcpu_parts;
	/* DIMM ops: the last call's arguments, and an error to answer with */
	int dimm_calls;
	char dimm_op[16], dimm_type[32], dimm_id[32], dimm_memdev[32];
	uint64_t dimm_size, dimm_addr;
	uint32_t dimm_slot;
	int dimm_ret;
	struct control_dimms dimms;
	struct control_pci pci;
	int pci_calls;
};

static bool fake_balloon_info(void *ctx, struct control_balloon *out)
{
	struct fake *f = ctx;

	if (f->has_balloon)
		*out = f->balloon;
	return f->has_balloon;
}

static int fake_balloon_set(void *ctx, uint64_t bytes, struct error *err)
{
	struct fake *f = ctx;

	f->set_calls++;
	f->set_bytes = bytes;
	if (f->set_ret)
		return error_set(err, f->set_ret, "balloon: refused");
	return 0;
}

static void fake_balloon_stats_interval(void *ctx, unsigned int seconds)
{
	struct fake *f = ctx;

	f->interval_calls++;
	f->balloon.stats_interval_s = seconds;
}

static void fake_memory(void *ctx, struct control_memory *out)
{
	struct fake *f = ctx;

	*out = f->memory;
}

static void fake_power_button(void *ctx)
{
	struct fake *f = ctx;

	f->power_button_calls++;
}

static int fake_vcpu_info(void *ctx, unsigned int parts, struct vcpu_info **cpus, unsigned int *n,
			  struct error *err)
{
	struct fake *f = ctx;
	struct vcpu_info *v = calloc(2, sizeof(*v));
	unsigned int i;

	(void)err;
	assert_non_null(v);
	f->vcpu_parts = parts;
	for (i = 0; i < 2; i++) {
		v[i].id = i;
		v[i].tid = 1000 + (pid_t)i;
		v[i].answer = VCPU_INFO_ANSWERED;
	}
	*cpus = v;
	*n = 2;
	return 0;
}

static void fake_quit(void *ctx)
{
	struct fake *f = ctx;

	f->quit_calls++;
	f->running = false;
}

static bool fake_running(void *ctx)
{
	struct fake *f = ctx;

	return f->running;
}

static int fake_dimm_call(struct fake *f, const char *op, const char *id, struct error *err)
{
	f->dimm_calls++;
	snprintf(f->dimm_op, sizeof(f->dimm_op), "%s", op);
	snprintf(f->dimm_id, sizeof(f->dimm_id), "%s", id);
	if (f->dimm_ret)
		return error_set(err, f->dimm_ret, "%s %s: refused", op, id);
	return 0;
}

static int fake_memdev_add(void *ctx, const char *type, const char *id, uint64_t size,
			   struct error *err)
{
	struct fake *f = ctx;

	snprintf(f->dimm_type, sizeof(f->dimm_type), "%s", type);
	f->dimm_size = size;
	return fake_dimm_call(f, "memdev_add", id, err);
}

static int fake_memdev_del(void *ctx, const char *id, struct error *err)
{
	return fake_dimm_call(ctx, "memdev_del", id, err);
}

static int fake_dimm_add(void *ctx, const char *id, const char *memdev, uint64_t addr,
			 uint32_t slot, struct error *err)
{
	struct fake *f = ctx;

	snprintf(f->dimm_memdev, sizeof(f->dimm_memdev), "%s", memdev);
	f->dimm_addr = addr;
	f->dimm_slot = slot;
	return fake_dimm_call(f, "dimm_add", id, err);
}

static int fake_dimm_del(void *ctx, const char *id, struct error *err)
{
	return fake_dimm_call(ctx, "dimm_del", id, err);
}

static void fake_dimms(void *ctx, struct control_dimms *out)
{
	struct fake *f = ctx;

	*out = f->dimms;
}

static void fake_pci(void *ctx, struct control_pci *out)
{
	struct fake *f = ctx;

	f->pci_calls++;
	*out = f->pci;
}

static const struct control_ops fake_ops = {
	.pci = fake_pci,
	.memdev_add = fake_memdev_add,
	.memdev_del = fake_memdev_del,
	.dimm_add = fake_dimm_add,
	.dimm_del = fake_dimm_del,
	.dimms = fake_dimms,
	.balloon_info = fake_balloon_info,
	.balloon_set = fake_balloon_set,
	.balloon_stats_interval = fake_balloon_stats_interval,
	.memory = fake_memory,
	.power_button = fake_power_button,
	.vcpu_info = fake_vcpu_info,
	.quit = fake_quit,
	.running = fake_running,
};

struct env {
	char dir[64];
	char path[96];
	struct evloop loop;
	struct control c;
	struct fake f;
	int fd; /* the client */
	char buf[65536];
	size_t len;
};

/* A guest of 256 MiB in one region, with a balloon that holds 16 MiB of a 32 MiB target. */
static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->has_balloon = true;
	f->running = true;
	f->balloon.id = "balloon0";
	f->balloon.ram = RAM;
	f->balloon.stats_interval_s = 5;
	f->balloon.info.target_bytes = 32 * MiB;
	f->balloon.info.actual_bytes = 16 * MiB;
	f->balloon.info.inflated_bytes = 16 * MiB;
	f->balloon.info.released_bytes = 12 * MiB;
	f->balloon.info.inflated_pinned_bytes = 4 * MiB;
	f->balloon.info.stats.invalid_pfns = 3;
	f->balloon.info.stats.held_pages = 2;
	f->balloon.info.stats.failed_pfns = 5;
	f->balloon.info.iommu_mapped_granules = 122;
	f->balloon.info.stats.inflate_buffers = 7;
	f->balloon.info.stats.inflate_ns = 1234567;
	f->balloon.info.stats.deflate_buffers = 2;
	f->balloon.info.stats.deflate_ns = 89;
	f->memory.stats.pinned_granules = 122;
	f->memory.granule = 2 * MiB;
	f->memory.stats.plugged_bytes = RAM;
	f->memory.stats.inflated_bytes = 16 * MiB;
	f->memory.stats.released_bytes = 12 * MiB;
	f->memory.stats.inflated_pinned_bytes = 4 * MiB;
	f->memory.stats.granules[GRANULE_MAPPED] = 120;
	f->memory.stats.granules[GRANULE_PARTIAL] = 2;
	f->memory.stats.granules[GRANULE_DISCARDED] = 6;
	f->memory.nregions = 1;
	f->memory.region[0] = (struct control_region){
		MEMMAP_RAM_LOW, 0, RAM, true, {0, 120, 2, 6},
	};
}

/* Runs the loop until the client has a whole message; returns it parsed. */
static struct json_object *recv_msg(struct env *e)
{
	int rounds;

	for (rounds = 0; rounds < 100; rounds++) {
		char *nl = memchr(e->buf, '\n', e->len);
		ssize_t n;

		if (nl) {
			struct json_object *o;
			size_t line = (size_t)(nl - e->buf) + 1;

			assert_true(line >= 2 && nl[-1] == '\r');
			nl[-1] = '\0';
			o = json_tokener_parse(e->buf);
			assert_non_null(o);
			memmove(e->buf, e->buf + line, e->len - line);
			e->len -= line;
			return o;
		}
		evloop_run_once(&e->loop, 200);
		n = recv(e->fd, e->buf + e->len, sizeof(e->buf) - e->len - 1, MSG_DONTWAIT);
		if (n > 0)
			e->len += (size_t)n;
	}
	fail_msg("no message from the control socket");
	return NULL;
}

/* The next message that is not an event. */
static struct json_object *reply(struct env *e)
{
	for (;;) {
		struct json_object *o = recv_msg(e), *ev;

		if (!json_object_object_get_ex(o, "event", &ev))
			return o;
		json_object_put(o);
	}
}

static void send_text(struct env *e, const char *text)
{
	size_t len = strlen(text);

	assert_int_equal(send(e->fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Sends {"execute": cmd, "arguments": args} (args JSON text or NULL), returns the reply. */
static struct json_object *execute(struct env *e, const char *cmd, const char *args)
{
	char req[4096];

	if (args)
		snprintf(req, sizeof(req), "{\"execute\": \"%s\", \"arguments\": %s}\n", cmd, args);
	else
		snprintf(req, sizeof(req), "{\"execute\": \"%s\"}\n", cmd);
	send_text(e, req);
	return reply(e);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no member '%s' in %s", key, json_object_to_json_string(o));
	return v;
}

static bool has(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* The reply is a return; gives its value (owned by r). */
static struct json_object *ret_of(struct json_object *r)
{
	if (!has(r, "return"))
		fail_msg("expected a return, got %s", json_object_to_json_string(r));
	return get(r, "return");
}

/* The reply is an error of class cls whose desc holds text. */
static void expect_error(struct json_object *r, const char *cls, const char *text)
{
	struct json_object *err;

	if (!has(r, "error"))
		fail_msg("expected an error, got %s", json_object_to_json_string(r));
	err = get(r, "error");
	assert_string_equal(json_object_get_string(get(err, "class")), cls);
	if (text && !strstr(json_object_get_string(get(err, "desc")), text))
		fail_msg("error '%s' does not say '%s'", json_object_get_string(get(err, "desc")),
			 text);
	json_object_put(r);
}

static void expect_ok(struct json_object *r)
{
	struct json_object *v = ret_of(r);

	assert_true(json_object_is_type(v, json_type_object));
	assert_int_equal(json_object_object_length(v), 0);
	json_object_put(r);
}

static uint64_t u64(struct json_object *o, const char *key)
{
	return json_object_get_uint64(get(o, key));
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct error err = {0};
	struct json_object *o;

	assert_non_null(e);
	strcpy(e->dir, "/tmp/test_control.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/vm.sock", e->dir);
	fake_init(&e->f);
	assert_int_equal(evloop_init(&e->loop, &err), 0);
	if (control_init(&e->c, &fake_ops, &e->f, &e->loop, e->path, &err))
		fail_msg("control_init: %s", err.msg);
	e->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(e->fd >= 0);
	strcpy(sa.sun_path, e->path);
	assert_int_equal(connect(e->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	o = recv_msg(e);
	assert_true(has(o, "QMP"));
	json_object_put(o);
	expect_ok(execute(e, "qmp_capabilities", NULL));
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	close(e->fd);
	control_destroy(&e->c);
	evloop_destroy(&e->loop);
	/* control_destroy removed the socket file: the directory is empty. */
	assert_int_equal(rmdir(e->dir), 0);
	free(e);
	return 0;
}

static void test_query_commands(void **state)
{
	static const char *const want[] = {
		"qmp_capabilities",
		"query-commands",
		"balloon",
		"human-monitor-command",
		"query-balloon",
		"query-granules",
		"query-status",
		"query-version",
		"qom-get",
		"qom-set",
		"quit",
		"system_powerdown",
		"object-add",
		"object-del",
		"device_add",
		"device_del",
		"query-memory-devices",
		"query-memory-size-summary",
		"query-pci",
	};
	struct env *e = *state;
	struct json_object *r = execute(e, "query-commands", NULL), *list = ret_of(r);
	unsigned int i;
	size_t j;

	assert_int_equal(json_object_array_length(list), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool found = false;

		for (j = 0; j < json_object_array_length(list); j++)
			if (!strcmp(json_object_get_string(
					    get(json_object_array_get_idx(list, j), "name")),
				    want[i]))
				found = true;
		if (!found)
			fail_msg("query-commands lacks %s", want[i]);
	}
	json_object_put(r);
}

static void test_query_version(void **state)
{
	struct env *e = *state;
	struct json_object *r = execute(e, "query-version", NULL), *v = ret_of(r);

	assert_true(has(get(v, "qemu"), "major"));
	assert_non_null(strstr(json_object_get_string(get(v, "package")), "slabvm"));
	json_object_put(r);
	expect_error(execute(e, "query-version", "{\"x\": 1}"), "GenericError",
		     "Parameter 'x' is unexpected");
}

static void test_query_status(void **state)
{
	struct env *e = *state;
	struct json_object *r = execute(e, "query-status", NULL), *v = ret_of(r);

	assert_string_equal(json_object_get_string(get(v, "status")), "running");
	assert_true(json_object_get_boolean(get(v, "running")));
	json_object_put(r);
	e->f.running = false;
	r = execute(e, "query-status", NULL);
	v = ret_of(r);
	assert_string_equal(json_object_get_string(get(v, "status")), "shutdown");
	assert_false(json_object_get_boolean(get(v, "running")));
	json_object_put(r);
	expect_error(execute(e, "query-status", "{\"x\": 1}"), "GenericError", "unexpected");
}

static void test_balloon(void **state)
{
	struct env *e = *state;

	/* QMP's value is the guest's size: the balloon is to hold the rest. */
	expect_ok(execute(e, "balloon", "{\"value\": 201326592}"));
	assert_int_equal(e->f.set_calls, 1);
	assert_int_equal(e->f.set_bytes, RAM - 192 * MiB);
	expect_ok(execute(e, "balloon", "{\"value\": 268435456}"));
	assert_int_equal(e->f.set_bytes, 0);

	expect_error(execute(e, "balloon", NULL), "GenericError", "Parameter 'value' is missing");
	expect_error(execute(e, "balloon", "{\"value\": \"1G\"}"), "GenericError",
		     "Invalid parameter type for 'value', expected: uint64");
	expect_error(execute(e, "balloon", "{\"value\": -1}"), "GenericError", "uint64");
	expect_error(execute(e, "balloon", "{\"value\": 0}"), "GenericError",
		     "must be from 1 to the guest's RAM, 268435456 bytes");
	expect_error(execute(e, "balloon", "{\"value\": 268435457}"), "GenericError",
		     "must be from 1 to the guest's RAM");
	expect_error(execute(e, "balloon", "{\"value\": 1, \"x\": 2}"), "GenericError",
		     "Parameter 'x' is unexpected");
	assert_int_equal(e->f.set_calls, 2);

	/* The balloon's own refusal reaches the client. */
	e->f.set_ret = -EINVAL;
	expect_error(execute(e, "balloon", "{\"value\": 1048576}"), "GenericError",
		     "balloon: refused");
	e->f.has_balloon = false;
	expect_error(execute(e, "balloon", "{\"value\": 1048576}"), "DeviceNotActive",
		     "No balloon device has been activated");
	assert_int_equal(e->f.set_calls, 3);
}

static void test_query_balloon(void **state)
{
	struct env *e = *state;
	struct json_object *r = execute(e, "query-balloon", NULL), *v = ret_of(r), *d;

	assert_int_equal(u64(v, "actual"), RAM - 16 * MiB);
	assert_int_equal(u64(v, "target"), RAM - 32 * MiB);
	assert_int_equal(u64(v, "inflated"), 16 * MiB);
	assert_int_equal(u64(v, "released"), 12 * MiB);
	assert_int_equal(u64(v, "inflated-pinned"), 4 * MiB);
	assert_int_equal(u64(v, "invalid-pfns"), 3);
	assert_int_equal(u64(v, "held-pfns"), 2);
	assert_int_equal(u64(v, "failed-pfns"), 5);
	assert_int_equal(u64(v, "iommu-mapped-granules"), 122);
	assert_int_equal(u64(v, "inflate-buffers"), 7);
	assert_int_equal(u64(v, "inflate-ns"), 1234567);
	assert_int_equal(u64(v, "deflate-buffers"), 2);
	assert_int_equal(u64(v, "deflate-ns"), 89);
	d = get(v, "deflate");
	assert_false(json_object_get_boolean(get(d, "held")));
	assert_int_equal(u64(d, "waiting-pfns"), 0);
	assert_int_equal(u64(d, "stalls"), 0);
	assert_false(has(d, "last-error"));
	/* No statistics before the driver negotiated them. */
	assert_false(has(v, "guest-stats"));
	json_object_put(r);

	/* A deflate buffer waits for a page whose MAP_DMA failed twice. */
	e->f.balloon.info.deflate_held = true;
	e->f.balloon.info.deflate_waiting_pages = 3;
	e->f.balloon.info.deflate_retries = 1;
	e->f.balloon.info.stats.deflate_stalls = 2;
	e->f.balloon.info.stats.deflate_returned = 1;
	e->f.balloon.info.stats.deflate_restore_failures = 4;
	e->f.balloon.info.stats.deflate_last_error = -ENOMEM;
	r = execute(e, "query-balloon", NULL);
	d = get(ret_of(r), "deflate");
	assert_true(json_object_get_boolean(get(d, "held")));
	assert_int_equal(u64(d, "waiting-pfns"), 3);
	assert_int_equal(u64(d, "retries"), 1);
	assert_int_equal(u64(d, "stalls"), 2);
	assert_int_equal(u64(d, "returned"), 1);
	assert_int_equal(u64(d, "dropped"), 0);
	assert_int_equal(u64(d, "restore-failures"), 4);
	assert_string_equal(json_object_get_string(get(d, "last-error")), strerror(ENOMEM));
	json_object_put(r);
	expect_error(execute(e, "query-balloon", "{\"x\": 1}"), "GenericError", "unexpected");
	e->f.has_balloon = false;
	expect_error(execute(e, "query-balloon", NULL), "DeviceNotActive", NULL);
}

/* The driver says how much it holds: a guest that claims more than its RAM makes actual 0,
 * not a number near 2^64. */
static void test_query_balloon_clamps_actual(void **state)
{
	struct env *e = *state;
	struct json_object *r, *v;

	e->f.balloon.info.actual_bytes = 0xffffffffULL * 4096;
	r = execute(e, "query-balloon", NULL);
	v = ret_of(r);
	assert_int_equal(u64(v, "actual"), 0);
	json_object_put(r);
	e->f.balloon.info.actual_bytes = RAM;
	r = execute(e, "query-balloon", NULL);
	assert_int_equal(u64(ret_of(r), "actual"), 0);
	json_object_put(r);
	e->f.balloon.info.actual_bytes = RAM - 4096;
	r = execute(e, "query-balloon", NULL);
	assert_int_equal(u64(ret_of(r), "actual"), 4096);
	json_object_put(r);
}

/* QEMU's guest-stats shape: every name, -1 where the guest never reported a value. */
static void check_guest_stats(struct json_object *gs, int64_t last_update)
{
	struct json_object *stats = get(gs, "stats");

	assert_int_equal(json_object_object_length(stats), BALLOON_S_NR);
	assert_int_equal(json_object_get_int64(get(stats, "stat-swap-in")), 11);
	assert_int_equal(json_object_get_int64(get(stats, "stat-free-memory")), 100 * MiB);
	assert_int_equal(json_object_get_int64(get(stats, "stat-total-memory")), 240 * MiB);
	assert_int_equal(json_object_get_int64(get(stats, "stat-swap-out")), -1);
	assert_int_equal(json_object_get_int64(get(stats, "stat-major-faults")), -1);
	assert_int_equal(json_object_get_int64(get(stats, "stat-minor-faults")), -1);
	assert_int_equal(json_object_get_int64(get(stats, "stat-available-memory")), -1);
	assert_int_equal(json_object_get_int64(get(stats, "stat-disk-caches")), -1);
	assert_int_equal(json_object_get_int64(get(stats, "stat-htlb-pgalloc")), -1);
	assert_int_equal(json_object_get_int64(get(stats, "stat-htlb-pgfail")), -1);
	assert_int_equal(json_object_get_int64(get(stats, "stat-direct-reclaims")), -1);
	assert_int_equal(json_object_get_int64(get(gs, "last-update")), last_update);
}

static void set_guest_stats(struct fake *f)
{
	struct balloon_guest_stats *g = &f->balloon.info.guest;

	f->balloon.info.features |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	g->updates = 2;
	g->last_update = 1700000000;
	g->valid = 1U << BALLOON_S_SWAP_IN | 1U << BALLOON_S_MEMFREE | 1U << BALLOON_S_MEMTOT;
	g->val[BALLOON_S_SWAP_IN] = 11;
	g->val[BALLOON_S_MEMFREE] = 100 * MiB;
	g->val[BALLOON_S_MEMTOT] = 240 * MiB;
}

static void test_query_balloon_stats(void **state)
{
	struct env *e = *state;
	struct json_object *r, *v;

	set_guest_stats(&e->f);
	r = execute(e, "query-balloon", NULL);
	v = ret_of(r);
	check_guest_stats(get(v, "guest-stats"), 1700000000);
	json_object_put(r);
}

static void test_qom_get(void **state)
{
	struct env *e = *state;
	struct json_object *r, *gs;

	/* Negotiated but never updated: every value -1, last-update 0. */
	e->f.balloon.info.features |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	r = execute(e, "qom-get",
		    "{\"path\": \"/machine/peripheral/balloon0\", \"property\": \"guest-stats\"}");
	gs = ret_of(r);
	assert_int_equal(json_object_get_int64(get(get(gs, "stats"), "stat-swap-in")), -1);
	assert_int_equal(json_object_get_int64(get(gs, "last-update")), 0);
	json_object_put(r);

	set_guest_stats(&e->f);
	r = execute(e, "qom-get",
		    "{\"path\": \"/machine/peripheral/balloon0\", \"property\": \"guest-stats\"}");
	check_guest_stats(ret_of(r), 1700000000);
	json_object_put(r);

	r = execute(e, "qom-get",
		    "{\"path\": \"/machine/peripheral/balloon0\", "
		    "\"property\": \"guest-stats-polling-interval\"}");
	assert_int_equal(json_object_get_int64(ret_of(r)), 5);
	json_object_put(r);

	expect_error(execute(e, "qom-get",
			     "{\"path\": \"/machine/peripheral/balloon1\", "
			     "\"property\": \"guest-stats\"}"),
		     "DeviceNotFound", "Device '/machine/peripheral/balloon1' not found");
	expect_error(
		execute(e, "qom-get", "{\"path\": \"balloon0\", \"property\": \"guest-stats\"}"),
		"DeviceNotFound", NULL);
	expect_error(execute(e, "qom-get",
			     "{\"path\": \"/machine/peripheral/balloon0\", \"property\": \"x\"}"),
		     "GenericError", "Property 'x' not found");
	expect_error(execute(e, "qom-get", "{\"path\": \"/machine/peripheral/balloon0\"}"),
		     "GenericError", "Parameter 'property' is missing");
	expect_error(execute(e, "qom-get", "{\"property\": \"guest-stats\"}"), "GenericError",
		     "Parameter 'path' is missing");
	expect_error(execute(e, "qom-get",
			     "{\"path\": \"/machine/peripheral/balloon0\", \"property\": 1}"),
		     "GenericError", "expected: string");
	expect_error(execute(e, "qom-get",
			     "{\"path\": \"/machine/peripheral/balloon0\", "
			     "\"property\": \"guest-stats\", \"x\": 1}"),
		     "GenericError", "Parameter 'x' is unexpected");
	e->f.has_balloon = false;
	expect_error(execute(e, "qom-get",
			     "{\"path\": \"/machine/peripheral/balloon0\", "
			     "\"property\": \"guest-stats\"}"),
		     "DeviceNotFound", NULL);
}

static void test_qom_set(void **state)
{
	struct env *e = *state;
	struct json_object *r;

	expect_ok(execute(e, "qom-set",
			  "{\"path\": \"/machine/peripheral/balloon0\", "
			  "\"property\": \"guest-stats-polling-interval\", \"value\": 2}"));
	assert_int_equal(e->f.interval_calls, 1);
	r = execute(e, "qom-get",
		    "{\"path\": \"/machine/peripheral/balloon0\", "
		    "\"property\": \"guest-stats-polling-interval\"}");
	assert_int_equal(json_object_get_int64(ret_of(r)), 2);
	json_object_put(r);
	/* 0 stops the requests. */
	expect_ok(execute(e, "qom-set",
			  "{\"path\": \"/machine/peripheral/balloon0\", "
			  "\"property\": \"guest-stats-polling-interval\", \"value\": 0}"));
	assert_int_equal(e->f.balloon.stats_interval_s, 0);

	expect_error(execute(e, "qom-set",
			     "{\"path\": \"/machine/peripheral/balloon0\", "
			     "\"property\": \"guest-stats-polling-interval\", \"value\": -1}"),
		     "GenericError", "must be from 0 to");
	expect_error(execute(e, "qom-set",
			     "{\"path\": \"/machine/peripheral/balloon0\", "
			     "\"property\": \"guest-stats-polling-interval\", \"value\": \"2\"}"),
		     "GenericError", "expected: integer");
	expect_error(execute(e, "qom-set",
			     "{\"path\": \"/machine/peripheral/balloon0\", "
			     "\"property\": \"guest-stats-polling-interval\"}"),
		     "GenericError", "Parameter 'value' is missing");
	expect_error(execute(e, "qom-set",
			     "{\"path\": \"/machine/peripheral/balloon0\", "
			     "\"property\": \"guest-stats\", \"value\": 1}"),
		     "GenericError", "Property 'guest-stats' cannot be set");
	expect_error(execute(e, "qom-set",
			     "{\"path\": \"/machine/peripheral/x\", "
			     "\"property\": \"guest-stats-polling-interval\", \"value\": 1}"),
		     "DeviceNotFound", NULL);
	assert_int_equal(e->f.interval_calls, 2);
}

static void test_query_granules(void **state)
{
	struct env *e = *state;
	struct json_object *r = execute(e, "query-granules", NULL), *v = ret_of(r), *regions, *r0;

	assert_int_equal(u64(v, "granule-size"), 2 * MiB);
	assert_int_equal(u64(v, "unplugged"), 0);
	assert_int_equal(u64(v, "mapped"), 120);
	assert_int_equal(u64(v, "partial"), 2);
	assert_int_equal(u64(v, "discarded"), 6);
	assert_int_equal(u64(v, "plugged-bytes"), RAM);
	assert_int_equal(u64(v, "inflated-bytes"), 16 * MiB);
	assert_int_equal(u64(v, "released-bytes"), 12 * MiB);
	assert_int_equal(u64(v, "inflated-pinned-bytes"), 4 * MiB);
	assert_int_equal(u64(v, "iommu-mapped-granules"), 122);
	regions = get(v, "regions");
	assert_int_equal(json_object_array_length(regions), 1);
	r0 = json_object_array_get_idx(regions, 0);
	assert_string_equal(json_object_get_string(get(r0, "kind")), "ram-low");
	assert_int_equal(u64(r0, "base"), 0);
	assert_int_equal(u64(r0, "size"), RAM);
	assert_true(json_object_get_boolean(get(r0, "plugged")));
	assert_int_equal(u64(get(r0, "granules"), "mapped"), 120);
	assert_int_equal(u64(get(r0, "granules"), "discarded"), 6);
	json_object_put(r);
	expect_error(execute(e, "query-granules", "{\"x\": 1}"), "GenericError", "unexpected");
}

static void test_system_powerdown(void **state)
{
	struct env *e = *state;

	expect_ok(execute(e, "system_powerdown", NULL));
	assert_int_equal(e->f.power_button_calls, 1);
	expect_error(execute(e, "system_powerdown", "{\"x\": 1}"), "GenericError", "unexpected");
	assert_int_equal(e->f.power_button_calls, 1);
}

static void test_quit(void **state)
{
	struct env *e = *state;

	expect_error(execute(e, "quit", "{\"x\": 1}"), "GenericError", "unexpected");
	assert_int_equal(e->f.quit_calls, 0);
	expect_ok(execute(e, "quit", NULL));
	assert_int_equal(e->f.quit_calls, 1);
	/* The connection stays open for the SHUTDOWN event. */
	control_shutdown_event(&e->c, STOP_QMP_QUIT);
	{
		struct json_object *ev = recv_msg(e), *data = get(ev, "data");

		assert_string_equal(json_object_get_string(get(ev, "event")), "SHUTDOWN");
		assert_string_equal(json_object_get_string(get(data, "reason")), "host-qmp-quit");
		assert_false(json_object_get_boolean(get(data, "guest")));
		json_object_put(ev);
	}
}

static void test_human_monitor_command(void **state)
{
	struct env *e = *state;
	struct json_object *r =
		execute(e, "human-monitor-command", "{\"command-line\": \"info cpus\"}");
	const char *text = json_object_get_string(ret_of(r));

	assert_non_null(strstr(text, "* CPU #0: thread_id=1000"));
	assert_non_null(strstr(text, "  CPU #1: thread_id=1001"));
	assert_int_equal(e->f.vcpu_parts, 0);
	json_object_put(r);
	r = execute(e, "human-monitor-command", "{\"command-line\": \"info registers\"}");
	ret_of(r);
	assert_int_equal(e->f.vcpu_parts, VCPU_INFO_REGS);
	json_object_put(r);
	expect_error(execute(e, "human-monitor-command", "{\"command-line\": \"info qtree\"}"),
		     "GenericError", "unknown command: 'info qtree'");
	expect_error(execute(e, "human-monitor-command", NULL), "GenericError",
		     "Parameter 'command-line' is missing");
}

static void test_unknown_command(void **state)
{
	struct env *e = *state;

	expect_error(execute(e, "device_list_properties", NULL), "CommandNotFound",
		     "The command device_list_properties has not been found");
}

/* BALLOON_CHANGE once per new size, with the size clamped like query-balloon's. */
static void test_balloon_change(void **state)
{
	struct env *e = *state;
	struct json_object *ev, *r;

	e->f.balloon.info.actual_bytes = 64 * MiB;
	control_poll(&e->c);
	ev = recv_msg(e);
	assert_string_equal(json_object_get_string(get(ev, "event")), "BALLOON_CHANGE");
	assert_int_equal(u64(get(ev, "data"), "actual"), RAM - 64 * MiB);
	assert_true(has(ev, "timestamp"));
	json_object_put(ev);
	/* Unchanged: nothing more; the next message is the reply. */
	control_poll(&e->c);
	send_text(e, "{\"execute\": \"query-status\"}\n");
	r = recv_msg(e);
	assert_true(has(r, "return"));
	json_object_put(r);

	e->f.balloon.info.actual_bytes = 2 * RAM;
	control_poll(&e->c);
	ev = recv_msg(e);
	assert_string_equal(json_object_get_string(get(ev, "event")), "BALLOON_CHANGE");
	assert_int_equal(u64(get(ev, "data"), "actual"), 0);
	json_object_put(ev);
}

static void expect_deflate_event(struct env *e, const char *name, const char *key,
				 struct json_object *want)
{
	struct json_object *ev = recv_msg(e), *v;

	assert_string_equal(json_object_get_string(get(ev, "event")), name);
	assert_true(has(ev, "timestamp"));
	v = get(get(ev, "data"), key);
	if (!json_object_equal(v, want))
		fail_msg("%s: %s is %s", name, key, json_object_to_json_string(v));
	json_object_put(ev);
	json_object_put(want);
}

/* Nothing queued for the client: the next message is the reply to this. */
static void expect_no_event(struct env *e)
{
	struct json_object *r;

	send_text(e, "{\"execute\": \"query-status\"}\n");
	r = recv_msg(e);
	assert_true(has(r, "return"));
	json_object_put(r);
}

/*
 * A deflate that stalls is reported once, and once when it ends, returned or dropped; a
 * stall that began and ended between two looks is reported as both, in order.
 */
static void test_deflate_events(void **state)
{
	struct env *e = *state;
	struct balloon_info *i = &e->f.balloon.info;

	control_poll(&e->c);
	expect_no_event(e);

	i->deflate_held = true;
	i->deflate_waiting_pages = 1;
	i->stats.deflate_stalls = 1;
	i->stats.deflate_restore_failures = 1;
	i->stats.deflate_last_error = -ENOMEM;
	control_poll(&e->c);
	expect_deflate_event(e, "SLABVM_BALLOON_DEFLATE_STALLED", "waiting-pfns",
			     json_object_new_uint64(1));
	/* Retries that fail say nothing new. */
	i->stats.deflate_restore_failures = 3;
	i->deflate_retries = 2;
	control_poll(&e->c);
	expect_no_event(e);

	i->deflate_held = false;
	i->deflate_waiting_pages = 0;
	i->stats.deflate_returned = 1;
	control_poll(&e->c);
	expect_deflate_event(e, "SLABVM_BALLOON_DEFLATE_DONE", "returned",
			     json_object_new_boolean(true));
	control_poll(&e->c);
	expect_no_event(e);

	/* Stalled, returned, stalled again and dropped by a reset, all within one look. */
	i->stats.deflate_stalls = 3;
	i->stats.deflate_returned = 2;
	i->stats.deflate_dropped = 1;
	control_poll(&e->c);
	expect_deflate_event(e, "SLABVM_BALLOON_DEFLATE_STALLED", "error",
			     json_object_new_string(strerror(ENOMEM)));
	expect_deflate_event(e, "SLABVM_BALLOON_DEFLATE_DONE", "returned",
			     json_object_new_boolean(true));
	expect_deflate_event(e, "SLABVM_BALLOON_DEFLATE_STALLED", "waiting-pfns",
			     json_object_new_uint64(0));
	expect_deflate_event(e, "SLABVM_BALLOON_DEFLATE_DONE", "returned",
			     json_object_new_boolean(false));
	expect_no_event(e);
}

/* object-add and object-del pass a memory backend to the VM; errors change nothing. */
static void test_object_add_del(void **state)
{
	struct env *e = *state;
	struct fake *f = &e->f;

	expect_ok(execute(e, "object-add",
			  "{\"qom-type\": \"memory-backend-memfd\", \"id\": \"m1\", "
			  "\"size\": 268435456}"));
	assert_string_equal(f->dimm_op, "memdev_add");
	assert_string_equal(f->dimm_type, "memory-backend-memfd");
	assert_string_equal(f->dimm_id, "m1");
	assert_int_equal(f->dimm_size, 256 * MiB);
	expect_ok(execute(e, "object-add",
			  "{\"qom-type\": \"memory-backend-ram\", \"id\": \"m2\", "
			  "\"size\": 134217728}"));
	assert_string_equal(f->dimm_type, "memory-backend-ram");
	assert_int_equal(f->dimm_calls, 2);

	expect_error(execute(e, "object-add",
			     "{\"qom-type\": \"memory-backend-file\", \"id\": \"m3\", "
			     "\"size\": 134217728}"),
		     "GenericError", "memory-backend-file");
	expect_error(execute(e, "object-add",
			     "{\"qom-type\": \"memory-backend-ram\", "
			     "\"id\": \"m3\"}"),
		     "GenericError", "size");
	expect_error(execute(e, "object-add",
			     "{\"qom-type\": \"memory-backend-ram\", "
			     "\"id\": \"m3\", \"size\": -1}"),
		     "GenericError", "size");
	expect_error(execute(e, "object-add",
			     "{\"qom-type\": \"memory-backend-ram\", \"size\": 134217728}"),
		     "GenericError", "id");
	expect_error(execute(e, "object-add",
			     "{\"qom-type\": \"memory-backend-ram\", "
			     "\"id\": \"m3\", \"size\": 1, \"x\": 1}"),
		     "GenericError", "'x'");
	assert_int_equal(f->dimm_calls, 2);
	f->dimm_ret = -EEXIST;
	expect_error(execute(e, "object-add",
			     "{\"qom-type\": \"memory-backend-ram\", "
			     "\"id\": \"m1\", \"size\": 134217728}"),
		     "GenericError", "memdev_add m1: refused");

	f->dimm_ret = 0;
	expect_ok(execute(e, "object-del", "{\"id\": \"m2\"}"));
	assert_string_equal(f->dimm_op, "memdev_del");
	assert_string_equal(f->dimm_id, "m2");
	expect_error(execute(e, "object-del", NULL), "GenericError", "id");
	f->dimm_ret = -EBUSY;
	expect_error(execute(e, "object-del", "{\"id\": \"m1\"}"), "GenericError",
		     "memdev_del m1: refused");
}

/* device_add of a pc-dimm (addr and slot optional) and device_del. */
static void test_device_add_del(void **state)
{
	struct env *e = *state;
	struct fake *f = &e->f;

	expect_ok(execute(e, "device_add",
			  "{\"driver\": \"pc-dimm\", \"id\": \"d1\", \"memdev\": \"m1\"}"));
	assert_string_equal(f->dimm_op, "dimm_add");
	assert_string_equal(f->dimm_id, "d1");
	assert_string_equal(f->dimm_memdev, "m1");
	assert_int_equal(f->dimm_addr, 0);
	assert_int_equal(f->dimm_slot, UINT32_MAX);
	expect_ok(execute(e, "device_add",
			  "{\"driver\": \"pc-dimm\", \"id\": \"d2\", \"memdev\": \"m2\", "
			  "\"addr\": 8589934592, \"slot\": 3}"));
	assert_int_equal(f->dimm_addr, 8ULL << 30);
	assert_int_equal(f->dimm_slot, 3);
	assert_int_equal(f->dimm_calls, 2);

	expect_error(execute(e, "device_add", "{\"driver\": \"virtio-net-pci\", \"id\": \"n\"}"),
		     "GenericError", "virtio-net-pci");
	expect_error(execute(e, "device_add", "{\"driver\": \"pc-dimm\", \"id\": \"d3\"}"),
		     "GenericError", "memdev");
	expect_error(execute(e, "device_add",
			     "{\"driver\": \"pc-dimm\", \"id\": \"d3\", \"memdev\": \"m3\", "
			     "\"slot\": 64}"),
		     "GenericError", "'slot' 64");
	expect_error(execute(e, "device_add",
			     "{\"driver\": \"pc-dimm\", \"id\": \"d3\", \"memdev\": \"m3\", "
			     "\"addr\": \"x\"}"),
		     "GenericError", "addr");
	assert_int_equal(f->dimm_calls, 2);
	f->dimm_ret = -ENOSPC;
	expect_error(execute(e, "device_add",
			     "{\"driver\": \"pc-dimm\", \"id\": \"d3\", \"memdev\": \"m3\"}"),
		     "GenericError", "dimm_add d3: refused");

	f->dimm_ret = 0;
	expect_ok(execute(e, "device_del", "{\"id\": \"d1\"}"));
	assert_string_equal(f->dimm_op, "dimm_del");
	assert_string_equal(f->dimm_id, "d1");
	expect_error(execute(e, "device_del", "{}"), "GenericError", "id");
	f->dimm_ret = -ENODEV;
	expect_error(execute(e, "device_del", "{\"id\": \"d9\"}"), "DeviceNotFound",
		     "dimm_del d9: refused");
}

/* The bus as a VM would report it: the host bridge, a virtio function with INTA, an I/O
 * BAR and a decoding 64-bit BAR, and an assigned function (hostdev0) whose 32-bit BAR
 * does not decode and whose 64-bit prefetchable one does. */
static void fake_pci_bus(struct control_pci *p)
{
	struct control_pci_fn *fn;

	memset(p, 0, sizeof(*p));
	p->n = 3;
	fn = &p->fn[0];
	fn->qdev_id = "";
	fn->info =
		(struct pci_dev_info){.vendor = 0x1b36, .device = 0x0008, .class_code = 0x060000};
	fn = &p->fn[1];
	fn->qdev_id = "balloon0";
	fn->info = (struct pci_dev_info){.slot = 1,
					 .vendor = 0x1af4,
					 .device = 0x1045,
					 .subsys_vendor = 0x1af4,
					 .subsys = 0x1100,
					 .class_code = 0x00ff00,
					 .irq_pin = 1,
					 .irq_line = 17};
	fn->info.bar[0] = (struct pci_bar_info){PCI_BAR_IO, 0x20, false, true, 0x1000};
	fn->info.bar[4] = (struct pci_bar_info){PCI_BAR_MEM64, 0x4000, false, true, 0x800000000ULL};
	fn = &p->fn[2];
	fn->qdev_id = "hostdev0";
	fn->info = (struct pci_dev_info){.slot = 3,
					 .vendor = 0x1234,
					 .device = 0x11e8,
					 .subsys_vendor = 0x1af4,
					 .subsys = 0x1100,
					 .class_code = 0x00ff00};
	fn->info.bar[0] = (struct pci_bar_info){PCI_BAR_MEM32, 0x100000, false, false, 0};
	fn->info.bar[2] =
		(struct pci_bar_info){PCI_BAR_MEM64, 0x200000, true, true, 0x840000000ULL};
}

static struct json_object *region_of(struct json_object *dev, unsigned int i)
{
	return json_object_array_get_idx(get(dev, "regions"), i);
}

static void test_query_pci(void **state)
{
	struct env *e = *state;
	struct json_object *r, *buses, *devs, *d, *reg;

	fake_pci_bus(&e->f.pci);
	r = execute(e, "query-pci", NULL);
	assert_int_equal(e->f.pci_calls, 1);
	buses = ret_of(r);
	assert_int_equal(json_object_array_length(buses), 1);
	assert_int_equal(u64(json_object_array_get_idx(buses, 0), "bus"), 0);
	devs = get(json_object_array_get_idx(buses, 0), "devices");
	assert_int_equal(json_object_array_length(devs), 3);

	d = json_object_array_get_idx(devs, 0);
	assert_int_equal(u64(get(d, "class_info"), "class"), 0x0600);
	assert_int_equal(u64(get(d, "id"), "vendor"), 0x1b36);
	assert_string_equal(json_object_get_string(get(d, "qdev_id")), "");
	assert_false(json_object_object_get_ex(d, "irq", NULL));
	assert_int_equal(json_object_array_length(get(d, "regions")), 0);

	d = json_object_array_get_idx(devs, 1);
	assert_int_equal(u64(d, "bus"), 0);
	assert_int_equal(u64(d, "slot"), 1);
	assert_int_equal(u64(d, "function"), 0);
	assert_int_equal(u64(d, "irq"), 17);
	assert_int_equal(u64(d, "irq_pin"), 1);
	assert_int_equal(u64(get(d, "id"), "device"), 0x1045);
	assert_int_equal(u64(get(d, "id"), "subsystem"), 0x1100);
	assert_int_equal(u64(get(d, "id"), "subsystem-vendor"), 0x1af4);
	assert_string_equal(json_object_get_string(get(d, "qdev_id")), "balloon0");
	assert_int_equal(json_object_array_length(get(d, "regions")), 2);
	reg = region_of(d, 0);
	assert_int_equal(u64(reg, "bar"), 0);
	assert_string_equal(json_object_get_string(get(reg, "type")), "io");
	assert_int_equal(u64(reg, "address"), 0x1000);
	assert_int_equal(u64(reg, "size"), 0x20);
	assert_false(json_object_object_get_ex(reg, "mem_type_64", NULL));
	assert_false(json_object_object_get_ex(reg, "prefetch", NULL));
	reg = region_of(d, 1);
	assert_int_equal(u64(reg, "bar"), 4);
	assert_string_equal(json_object_get_string(get(reg, "type")), "memory");
	assert_int_equal(u64(reg, "address"), 0x800000000ULL);
	assert_true(json_object_get_boolean(get(reg, "mem_type_64")));
	assert_false(json_object_get_boolean(get(reg, "prefetch")));

	d = json_object_array_get_idx(devs, 2);
	assert_string_equal(json_object_get_string(get(d, "qdev_id")), "hostdev0");
	assert_int_equal(u64(d, "slot"), 3);
	assert_int_equal(u64(d, "irq_pin"), 0);
	assert_false(json_object_object_get_ex(d, "irq", NULL));
	reg = region_of(d, 0);
	assert_int_equal(u64(reg, "bar"), 0);
	assert_int_equal(json_object_get_int64(get(reg, "address")), -1);
	assert_int_equal(u64(reg, "size"), 0x100000);
	assert_false(json_object_get_boolean(get(reg, "mem_type_64")));
	reg = region_of(d, 1);
	assert_int_equal(u64(reg, "bar"), 2);
	assert_int_equal(u64(reg, "address"), 0x840000000ULL);
	assert_true(json_object_get_boolean(get(reg, "prefetch")));
	json_object_put(r);

	expect_error(execute(e, "query-pci", "{\"x\": 1}"), "GenericError", "'x'");
	assert_int_equal(e->f.pci_calls, 1);
}

static void test_query_memory_devices(void **state)
{
	struct env *e = *state;
	struct json_object *r, *list, *data;

	r = execute(e, "query-memory-devices", NULL);
	assert_int_equal(json_object_array_length(ret_of(r)), 0);
	json_object_put(r);
	e->f.dimms = (struct control_dimms){
		RAM,
		384 * MiB,
		2,
		{{"d1", "m1", 4ULL << 30, 256 * MiB, 0}, {"d2", "m2", 5ULL << 30, 128 * MiB, 3}}};
	r = execute(e, "query-memory-devices", NULL);
	list = ret_of(r);
	assert_int_equal(json_object_array_length(list), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(list, 0), "type")),
			    "dimm");
	data = get(json_object_array_get_idx(list, 1), "data");
	assert_string_equal(json_object_get_string(get(data, "id")), "d2");
	assert_string_equal(json_object_get_string(get(data, "memdev")), "/objects/m2");
	assert_int_equal(u64(data, "addr"), 5ULL << 30);
	assert_int_equal(u64(data, "size"), 128 * MiB);
	assert_int_equal(u64(data, "slot"), 3);
	assert_true(json_object_get_boolean(get(data, "hotplugged")));
	json_object_put(r);
	expect_error(execute(e, "query-memory-devices", "{\"x\": 1}"), "GenericError", "'x'");

	r = execute(e, "query-memory-size-summary", NULL);
	assert_int_equal(u64(ret_of(r), "base-memory"), RAM);
	assert_int_equal(u64(ret_of(r), "plugged-memory"), 384 * MiB);
	json_object_put(r);
	expect_error(execute(e, "query-memory-size-summary", "{\"x\": 1}"), "GenericError", "'x'");
}

static void test_dimm_events(void **state)
{
	struct env *e = *state;
	struct json_object *ev, *info;

	control_device_deleted_event(&e->c, "d1");
	ev = recv_msg(e);
	assert_string_equal(json_object_get_string(get(ev, "event")), "DEVICE_DELETED");
	assert_string_equal(json_object_get_string(get(get(ev, "data"), "device")), "d1");
	assert_string_equal(json_object_get_string(get(get(ev, "data"), "path")),
			    "/machine/peripheral/d1");
	json_object_put(ev);

	control_acpi_ost_event(&e->c, "d2", 5, 3, 0x82);
	ev = recv_msg(e);
	assert_string_equal(json_object_get_string(get(ev, "event")), "ACPI_DEVICE_OST");
	info = get(get(ev, "data"), "info");
	assert_string_equal(json_object_get_string(get(info, "device")), "d2");
	assert_string_equal(json_object_get_string(get(info, "slot")), "5");
	assert_string_equal(json_object_get_string(get(info, "slot-type")), "DIMM");
	assert_int_equal(u64(info, "source"), 3);
	assert_int_equal(u64(info, "status"), 0x82);
	json_object_put(ev);
}

static void expect_shutdown(struct env *e, enum stop_reason reason, const char *want, bool guest)
{
	struct json_object *ev, *data;

	control_shutdown_event(&e->c, reason);
	ev = recv_msg(e);
	assert_string_equal(json_object_get_string(get(ev, "event")), "SHUTDOWN");
	data = get(ev, "data");
	assert_string_equal(json_object_get_string(get(data, "reason")), want);
	assert_int_equal(json_object_get_boolean(get(data, "guest")), guest);
	json_object_put(ev);
}

static void test_shutdown_reasons(void **state)
{
	struct env *e = *state;

	expect_shutdown(e, STOP_GUEST_POWEROFF, "guest-shutdown", true);
	expect_shutdown(e, STOP_DEBUG_EXIT, "guest-shutdown", true);
	expect_shutdown(e, STOP_GUEST_RESET, "guest-reset", true);
	expect_shutdown(e, STOP_VCPU_ERROR, "host-error", false);
	expect_shutdown(e, STOP_MONITOR_ERROR, "host-error", false);
	expect_shutdown(e, STOP_SIGNAL, "host-signal", false);
	expect_shutdown(e, STOP_QMP_QUIT, "host-qmp-quit", false);
	expect_shutdown(e, STOP_CONSOLE_QUIT, "host-ui", false);
}

/* Events go only to clients past capabilities negotiation. */
static void test_events_need_negotiation(void **state)
{
	struct env *e = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct json_object *o;
	char buf[4096];
	ssize_t n;
	int i;

	assert_true(fd2 >= 0);
	strcpy(sa.sun_path, e->path);
	assert_int_equal(connect(fd2, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* Accepted and greeted. */
	for (i = 0; i < 100; i++) {
		evloop_run_once(&e->loop, 200);
		n = recv(fd2, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
		if (n > 0 && memchr(buf, '\n', (size_t)n))
			break;
	}
	n = recv(fd2, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"QMP\""));
	expect_shutdown(e, STOP_SIGNAL, "host-signal", false);
	/* The first client got it; the second, not negotiated, got nothing. */
	o = execute(e, "query-status", NULL);
	json_object_put(o);
	assert_int_equal(recv(fd2, buf, sizeof(buf), MSG_DONTWAIT), -1);
	close(fd2);
}

/* A second client, connected, greeted and negotiated (its greeting read). */
static int connect_client(struct env *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const char neg[] = "{\"execute\": \"qmp_capabilities\"}\n";
	char buf[4096];
	size_t got = 0;
	int i;

	assert_true(fd >= 0);
	strcpy(sa.sun_path, e->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, neg, strlen(neg), MSG_NOSIGNAL), (ssize_t)strlen(neg));
	/* The greeting and the capabilities' return: two lines. */
	for (i = 0; i < 100; i++) {
		ssize_t n;
		unsigned int lines = 0;
		size_t k;

		evloop_run_once(&e->loop, 200);
		n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		for (k = 0; k < got; k++)
			lines += buf[k] == '\n';
		if (lines == 2)
			return fd;
	}
	fail_msg("the second client was not greeted");
	return -1;
}

/*
 * Sends n requests on fd without reading any reply, running the loop whenever the socket
 * is full. Returns how many went out before the server closed the connection (n if it
 * never did).
 */
static unsigned int pipeline(struct env *e, int fd, const char *req, unsigned int n)
{
	size_t len = strlen(req), off = 0;
	unsigned int sent = 0;

	while (sent < n) {
		ssize_t k = send(fd, req + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			evloop_run_once(&e->loop, 200);
			continue;
		}
		if (k < 0)
			return sent; /* EPIPE, ECONNRESET: dropped */
		off += (size_t)k;
		if (off == len) {
			off = 0;
			sent++;
		}
		if (!(sent % 64))
			evloop_run_once(&e->loop, 0);
	}
	return sent;
}

/* Replies that do not fit in the socket wait in the client's queue and all arrive. */
static void test_slow_reader(void **state)
{
	struct env *e = *state;
	int fd = connect_client(e);
	const unsigned int n = 1000;
	unsigned int replies = 0, rounds;
	static char buf[1 << 16];

	assert_int_equal(pipeline(e, fd, "{\"execute\": \"query-granules\"}\n", n), n);
	for (rounds = 0; replies < n && rounds < 100000; rounds++) {
		ssize_t k, i;

		evloop_run_once(&e->loop, 10);
		k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		for (i = 0; i < k; i++)
			replies += buf[i] == '\n';
	}
	assert_int_equal(replies, n);
	close(fd);
}

/*
 * A client that pipelines requests and never reads is dropped once its unread output
 * passes CONTROL_MAX_QUEUED; the loop never waits for it, so another client's query is
 * answered and quit goes through.
 */
static void test_client_that_never_reads(void **state)
{
	struct env *e = *state;
	int hog = connect_client(e);
	unsigned int sent;
	struct json_object *r;

	/* Sending fails once the server closed its end. */
	sent = pipeline(e, hog, "{\"execute\": \"query-granules\"}\n", 200000);
	assert_true(sent < 200000);
	r = execute(e, "query-status", NULL);
	assert_true(json_object_get_boolean(get(ret_of(r), "running")));
	json_object_put(r);
	expect_ok(execute(e, "quit", NULL));
	assert_int_equal(e->f.quit_calls, 1);
	close(hog);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_query_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balloon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_balloon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_balloon_clamps_actual, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_balloon_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qom_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qom_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_granules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_powerdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_human_monitor_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balloon_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deflate_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_object_add_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_add_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_memory_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_pci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dimm_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_need_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_that_never_reads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
