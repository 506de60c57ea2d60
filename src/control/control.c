// SPDX-License-Identifier: MIT
#include "control/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "control/qmp.h"

#define CONTROL_READ_CHUNK 4096
#define CONTROL_POLL_NS 100000000 /* how often the balloon's actual size is looked at */

/* ---- commands ---- */

static int control_no_args(struct json_object *args, struct error *err)
{
	static const char *const none[] = {NULL};

	return qmp_args_check(args, none, err);
}

static int control_no_balloon(struct error *err)
{
	return error_set(err, -ENOTCONN, "No balloon device has been activated");
}

/* The guest's logical size, QMP's "actual": its RAM less what the balloon holds. The
 * driver says what it holds, so the guest controls held: more than its RAM gives 0. */
static uint64_t control_balloon_actual(uint64_t ram, uint64_t held)
{
	return held < ram ? ram - held : 0;
}

static int cmd_query_version(void *ctx, struct json_object *args, struct json_object **ret,
			     struct error *err)
{
	struct json_object *v, *q;
	unsigned int major = 0, minor = 0, micro = 0;

	(void)ctx;
	if (control_no_args(args, err))
		return -EINVAL;
	v = json_object_new_object();
	q = json_object_new_object();
	sscanf(SLABVM_VERSION, "%u.%u.%u", &major, &minor, &micro);
	json_object_object_add(q, "major", json_object_new_int((int)major));
	json_object_object_add(q, "minor", json_object_new_int((int)minor));
	json_object_object_add(q, "micro", json_object_new_int((int)micro));
	json_object_object_add(v, "qemu", q);
	json_object_object_add(v, "package", json_object_new_string("slabvm " SLABVM_VERSION));
	*ret = v;
	return 0;
}

static int cmd_query_status(void *ctx, struct json_object *args, struct json_object **ret,
			    struct error *err)
{
	struct control *c = ctx;
	bool running;
	struct json_object *o;

	if (control_no_args(args, err))
		return -EINVAL;
	running = c->ops->running(c->ctx);
	o = json_object_new_object();
	json_object_object_add(o, "status",
			       json_object_new_string(running ? "running" : "shutdown"));
	json_object_object_add(o, "running", json_object_new_boolean(running));
	json_object_object_add(o, "singlestep", json_object_new_boolean(false));
	*ret = o;
	return 0;
}

static int cmd_balloon(void *ctx, struct json_object *args, struct json_object **ret,
		       struct error *err)
{
	static const char *const known[] = {"value", NULL};
	struct control *c = ctx;
	struct control_balloon b;
	uint64_t value;
	int rc;

	(void)ret;
	rc = qmp_args_check(args, known, err);
	if (!rc)
		rc = qmp_arg_u64(args, "value", true, &value, err);
	if (rc < 0)
		return rc;
	if (!c->ops->balloon_info(c->ctx, &b))
		return control_no_balloon(err);
	if (value == 0 || value > b.ram)
		return error_set(err, -EINVAL,
				 "Parameter 'value' must be from 1 to the guest's RAM, %llu bytes",
				 (unsigned long long)b.ram);
	/* QMP's value is the guest's logical size; the balloon holds the rest. */
	return c->ops->balloon_set(c->ctx, b.ram - value, err);
}

/* QEMU's names for the statistics tags (virtio 1.2, 5.5.6.3, and Linux's later ones). */
static const char *const control_stat_names[BALLOON_S_NR] = {
	[BALLOON_S_SWAP_IN] = "stat-swap-in",
	[BALLOON_S_SWAP_OUT] = "stat-swap-out",
	[BALLOON_S_MAJFLT] = "stat-major-faults",
	[BALLOON_S_MINFLT] = "stat-minor-faults",
	[BALLOON_S_MEMFREE] = "stat-free-memory",
	[BALLOON_S_MEMTOT] = "stat-total-memory",
	[BALLOON_S_AVAIL] = "stat-available-memory",
	[BALLOON_S_CACHES] = "stat-disk-caches",
	[BALLOON_S_HTLB_PGALLOC] = "stat-htlb-pgalloc",
	[BALLOON_S_HTLB_PGFAIL] = "stat-htlb-pgfail",
	[BALLOON_S_OOM_KILLS] = "stat-oom-kills",
	[BALLOON_S_ALLOC_STALL] = "stat-alloc-stalls",
	[BALLOON_S_ASYNC_SCAN] = "stat-async-scans",
	[BALLOON_S_DIRECT_SCAN] = "stat-direct-scans",
	[BALLOON_S_ASYNC_RECLAIM] = "stat-async-reclaims",
	[BALLOON_S_DIRECT_RECLAIM] = "stat-direct-reclaims",
};

/* The guest's last statistics in QEMU's guest-stats shape: {"stats": {name: value, ...},
 * "last-update": seconds}, -1 for a value the guest never reported, 0 for never updated. */
static struct json_object *control_guest_stats(const struct balloon_guest_stats *g)
{
	struct json_object *o = json_object_new_object(), *stats = json_object_new_object();
	unsigned int t;

	for (t = 0; t < BALLOON_S_NR; t++)
		json_object_object_add(stats, control_stat_names[t],
				       g->valid & (1U << t) ? json_object_new_uint64(g->val[t])
							    : json_object_new_int(-1));
	json_object_object_add(o, "stats", stats);
	json_object_object_add(o, "last-update", json_object_new_int64(g->last_update));
	return o;
}

/* The held deflate buffer, if any, and the history of stalls (balloon.h). */
static struct json_object *control_deflate(const struct balloon_info *i)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "held", json_object_new_boolean(i->deflate_held));
	json_object_object_add(o, "waiting-pfns", json_object_new_uint64(i->deflate_waiting_pages));
	json_object_object_add(o, "retries", json_object_new_uint64(i->deflate_retries));
	json_object_object_add(o, "stalls", json_object_new_uint64(i->stats.deflate_stalls));
	json_object_object_add(o, "returned", json_object_new_uint64(i->stats.deflate_returned));
	json_object_object_add(o, "dropped", json_object_new_uint64(i->stats.deflate_dropped));
	json_object_object_add(o, "restore-failures",
			       json_object_new_uint64(i->stats.deflate_restore_failures));
	if (i->stats.deflate_last_error)
		json_object_object_add(
			o, "last-error",
			json_object_new_string(strerror(-i->stats.deflate_last_error)));
	return o;
}

static int cmd_query_balloon(void *ctx, struct json_object *args, struct json_object **ret,
			     struct error *err)
{
	struct control *c = ctx;
	struct control_balloon b;
	struct json_object *o;

	if (control_no_args(args, err))
		return -EINVAL;
	if (!c->ops->balloon_info(c->ctx, &b))
		return control_no_balloon(err);
	o = json_object_new_object();
	json_object_object_add(
		o, "actual",
		json_object_new_uint64(control_balloon_actual(b.ram, b.info.actual_bytes)));
	json_object_object_add(
		o, "target",
		json_object_new_uint64(control_balloon_actual(b.ram, b.info.target_bytes)));
	json_object_object_add(o, "inflated", json_object_new_uint64(b.info.inflated_bytes));
	json_object_object_add(o, "released", json_object_new_uint64(b.info.released_bytes));
	json_object_object_add(o, "inflated-pinned",
			       json_object_new_uint64(b.info.inflated_pinned_bytes));
	json_object_object_add(o, "invalid-pfns",
			       json_object_new_uint64(b.info.stats.invalid_pfns));
	json_object_object_add(o, "held-pfns", json_object_new_uint64(b.info.stats.held_pages));
	json_object_object_add(o, "failed-pfns", json_object_new_uint64(b.info.stats.failed_pfns));
	json_object_object_add(o, "iommu-mapped-granules",
			       json_object_new_uint64(b.info.iommu_mapped_granules));
	json_object_object_add(o, "deflate", control_deflate(&b.info));
	json_object_object_add(o, "inflate-buffers",
			       json_object_new_uint64(b.info.stats.inflate_buffers));
	json_object_object_add(o, "inflate-ns", json_object_new_uint64(b.info.stats.inflate_ns));
	json_object_object_add(o, "deflate-buffers",
			       json_object_new_uint64(b.info.stats.deflate_buffers));
	json_object_object_add(o, "deflate-ns", json_object_new_uint64(b.info.stats.deflate_ns));
	if (b.info.features & (1ULL << VIRTIO_BALLOON_F_STATS_VQ))
		json_object_object_add(o, "guest-stats", control_guest_stats(&b.info.guest));
	*ret = o;
	return 0;
}

/* The balloon's QOM properties: the path must name it, as /machine/peripheral/ID. */
static int control_qom_balloon(struct control *c, struct json_object *args,
			       struct control_balloon *b, const char **property, struct error *err)
{
	const char *path;
	int rc = qmp_arg_string(args, "path", true, &path, err);

	if (rc >= 0)
		rc = qmp_arg_string(args, "property", true, property, err);
	if (rc < 0)
		return rc;
	if (!c->ops->balloon_info(c->ctx, b) ||
	    strncmp(path, CONTROL_QOM_PERIPHERAL, strlen(CONTROL_QOM_PERIPHERAL)) ||
	    strcmp(path + strlen(CONTROL_QOM_PERIPHERAL), b->id))
		return error_set(err, -ENODEV, "Device '%s' not found", path);
	return 0;
}

static int cmd_qom_get(void *ctx, struct json_object *args, struct json_object **ret,
		       struct error *err)
{
	static const char *const known[] = {"path", "property", NULL};
	struct control *c = ctx;
	struct control_balloon b;
	const char *property;
	int rc = qmp_args_check(args, known, err);

	if (!rc)
		rc = control_qom_balloon(c, args, &b, &property, err);
	if (rc < 0)
		return rc;
	if (!strcmp(property, "guest-stats"))
		*ret = control_guest_stats(&b.info.guest);
	else if (!strcmp(property, "guest-stats-polling-interval"))
		*ret = json_object_new_int64(b.stats_interval_s);
	else
		return error_set(err, -EINVAL, "Property '%s' not found", property);
	return 0;
}

static int cmd_qom_set(void *ctx, struct json_object *args, struct json_object **ret,
		       struct error *err)
{
	static const char *const known[] = {"path", "property", "value", NULL};
	struct control *c = ctx;
	struct control_balloon b;
	const char *property;
	int64_t value;
	int rc = qmp_args_check(args, known, err);

	(void)ret;
	if (!rc)
		rc = control_qom_balloon(c, args, &b, &property, err);
	if (rc < 0)
		return rc;
	if (strcmp(property, "guest-stats-polling-interval"))
		return error_set(err, -EINVAL, "Property '%s' cannot be set", property);
	rc = qmp_arg_int(args, "value", true, &value, err);
	if (rc < 0)
		return rc;
	if (value < 0 || value > UINT32_MAX)
		return error_set(err, -EINVAL, "Parameter 'value' must be from 0 to %u seconds",
				 UINT32_MAX);
	c->ops->balloon_stats_interval(c->ctx, (unsigned int)value);
	return 0;
}

static int cmd_query_granules(void *ctx, struct json_object *args, struct json_object **ret,
			      struct error *err)
{
	struct control *c = ctx;
	struct json_object *o, *regions;
	struct control_memory *m;
	unsigned int i, s;

	if (control_no_args(args, err))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return error_set(err, -ENOMEM, "out of memory");
	c->ops->memory(c->ctx, m);
	o = json_object_new_object();
	json_object_object_add(o, "granule-size", json_object_new_uint64(m->granule));
	json_object_object_add(o, "backing",
			       json_object_new_string(hugepages_mode_name(m->backing)));
	json_object_object_add(o, "backing-page-size", json_object_new_uint64(m->page_size));
	if (m->thp_setting)
		json_object_object_add(o, "thp-shmem-enabled",
				       json_object_new_string(m->thp_setting));
	if (m->thp_anon_setting)
		json_object_object_add(o, "thp-enabled",
				       json_object_new_string(m->thp_anon_setting));
	json_object_object_add(o, "ram-memory",
			       json_object_new_string(m->ram_anon ? "anonymous" : "memfd"));
	for (s = GRANULE_UNPLUGGED; s <= GRANULE_DISCARDED; s++)
		json_object_object_add(o, memmap_state_name(s),
				       json_object_new_uint64(m->stats.granules[s]));
	json_object_object_add(o, "plugged-bytes", json_object_new_uint64(m->stats.plugged_bytes));
	json_object_object_add(o, "inflated-bytes",
			       json_object_new_uint64(m->stats.inflated_bytes));
	json_object_object_add(o, "released-bytes",
			       json_object_new_uint64(m->stats.released_bytes));
	json_object_object_add(o, "inflated-pinned-bytes",
			       json_object_new_uint64(m->stats.inflated_pinned_bytes));
	json_object_object_add(o, "iommu-mapped-granules",
			       json_object_new_uint64(m->stats.pinned_granules));
	regions = json_object_new_array();
	for (i = 0; i < m->nregions && i < MEMMAP_MAX_REGIONS; i++) {
		const struct control_region *r = &m->region[i];
		struct json_object *ro = json_object_new_object(),
				   *counts = json_object_new_object();

		for (s = GRANULE_UNPLUGGED; s <= GRANULE_DISCARDED; s++)
			json_object_object_add(counts, memmap_state_name(s),
					       json_object_new_uint64(r->granules[s]));
		json_object_object_add(ro, "kind",
				       json_object_new_string(memmap_kind_name(r->kind)));
		json_object_object_add(ro, "base", json_object_new_uint64(r->base));
		json_object_object_add(ro, "size", json_object_new_uint64(r->size));
		json_object_object_add(ro, "plugged", json_object_new_boolean(r->plugged));
		json_object_object_add(ro, "granules", counts);
		json_object_array_add(regions, ro);
	}
	json_object_object_add(o, "regions", regions);
	free(m);
	*ret = o;
	return 0;
}

static int cmd_system_powerdown(void *ctx, struct json_object *args, struct json_object **ret,
				struct error *err)
{
	struct control *c = ctx;

	(void)ret;
	if (control_no_args(args, err))
		return -EINVAL;
	/* As on hardware, a guest that has not enabled the power button ignores it. */
	c->ops->power_button(c->ctx);
	return 0;
}

static int cmd_quit(void *ctx, struct json_object *args, struct json_object **ret,
		    struct error *err)
{
	struct control *c = ctx;

	(void)ret;
	if (control_no_args(args, err))
		return -EINVAL;
	/* The connection stays open until the VM is down, so that this client gets the
	 * SHUTDOWN event like every other; control_destroy closes it then. */
	c->ops->quit(c->ctx);
	return 0;
}

/* For debugging: info registers, info lapic, info cpus (src/control/vcpu_info.h). The
 * main loop waits for the vCPUs' answers (at most VCPU_INFO_TIMEOUT_S), which is fine for
 * a debugging aid. */
static int cmd_human_monitor_command(void *ctx, struct json_object *args, struct json_object **ret,
				     struct error *err)
{
	struct control *c = ctx;

	return vcpu_info_hmp(args, c->ops->vcpu_info, c->ctx, ret, err);
}

/* ---- DIMMs, in QEMU's shape: a memory backend object, then a pc-dimm device using it ---- */

static int cmd_object_add(void *ctx, struct json_object *args, struct json_object **ret,
			  struct error *err)
{
	static const char *const known[] = {"qom-type", "id", "size", NULL};
	struct control *c = ctx;
	const char *type, *id;
	uint64_t size;
	int rc;

	(void)ret;
	rc = qmp_args_check(args, known, err);
	if (!rc)
		rc = qmp_arg_string(args, "qom-type", true, &type, err);
	if (rc >= 0)
		rc = qmp_arg_string(args, "id", true, &id, err);
	if (rc < 0)
		return rc;
	if (strcmp(type, "memory-backend-memfd") && strcmp(type, "memory-backend-ram"))
		return error_set(err, -EINVAL,
				 "Object type '%s' is not supported: memory-backend-memfd or "
				 "memory-backend-ram",
				 type);
	rc = qmp_arg_u64(args, "size", true, &size, err);
	if (rc < 0)
		return rc;
	return c->ops->memdev_add(c->ctx, type, id, size, err);
}

static int cmd_object_del(void *ctx, struct json_object *args, struct json_object **ret,
			  struct error *err)
{
	static const char *const known[] = {"id", NULL};
	struct control *c = ctx;
	const char *id;
	int rc;

	(void)ret;
	rc = qmp_args_check(args, known, err);
	if (!rc)
		rc = qmp_arg_string(args, "id", true, &id, err);
	if (rc < 0)
		return rc;
	return c->ops->memdev_del(c->ctx, id, err);
}

static int cmd_device_add(void *ctx, struct json_object *args, struct json_object **ret,
			  struct error *err)
{
	static const char *const known[] = {"driver", "id", "memdev", "addr", "slot", NULL};
	struct control *c = ctx;
	const char *driver, *id, *memdev;
	uint64_t addr = 0;
	int64_t slot = -1;
	int rc;

	(void)ret;
	rc = qmp_args_check(args, known, err);
	if (!rc)
		rc = qmp_arg_string(args, "driver", true, &driver, err);
	if (rc < 0)
		return rc;
	if (strcmp(driver, "pc-dimm"))
		return error_set(err, -EINVAL, "Parameter 'driver' expects pc-dimm, not '%s'",
				 driver);
	rc = qmp_arg_string(args, "id", true, &id, err);
	if (rc >= 0)
		rc = qmp_arg_string(args, "memdev", true, &memdev, err);
	if (rc >= 0)
		rc = qmp_arg_u64(args, "addr", false, &addr, err);
	if (rc >= 0)
		rc = qmp_arg_int(args, "slot", false, &slot, err);
	if (rc < 0)
		return rc;
	/* QEMU's slot -1 is its default: any free slot. */
	if (slot < -1 || slot >= CONTROL_MAX_DIMMS)
		return error_set(err, -EINVAL, "Parameter 'slot' %lld: must be from 0 to %d",
				 (long long)slot, CONTROL_MAX_DIMMS - 1);
	return c->ops->dimm_add(c->ctx, id, memdev, addr, slot < 0 ? UINT32_MAX : (uint32_t)slot,
				err);
}

static int cmd_device_del(void *ctx, struct json_object *args, struct json_object **ret,
			  struct error *err)
{
	static const char *const known[] = {"id", NULL};
	struct control *c = ctx;
	const char *id;
	int rc;

	(void)ret;
	rc = qmp_args_check(args, known, err);
	if (!rc)
		rc = qmp_arg_string(args, "id", true, &id, err);
	if (rc < 0)
		return rc;
	return c->ops->dimm_del(c->ctx, id, err);
}

static int cmd_query_memory_devices(void *ctx, struct json_object *args, struct json_object **ret,
				    struct error *err)
{
	struct control *c = ctx;
	struct control_dimms d;
	struct json_object *list;
	unsigned int i;

	if (control_no_args(args, err))
		return -EINVAL;
	c->ops->dimms(c->ctx, &d);
	list = json_object_new_array();
	for (i = 0; i < d.n; i++) {
		const struct control_dimm *m = &d.dimm[i];
		struct json_object *data = json_object_new_object();
		struct json_object *dev = json_object_new_object();
		char path[CONTROL_MAX_PATH];

		snprintf(path, sizeof(path), "/objects/%s", m->memdev);
		json_object_object_add(data, "id", json_object_new_string(m->id));
		json_object_object_add(data, "addr", json_object_new_uint64(m->addr));
		json_object_object_add(data, "size", json_object_new_uint64(m->size));
		json_object_object_add(data, "slot", json_object_new_int(m->slot));
		json_object_object_add(data, "node", json_object_new_int(0));
		json_object_object_add(data, "memdev", json_object_new_string(path));
		json_object_object_add(data, "hotplugged", json_object_new_boolean(true));
		json_object_object_add(data, "hotpluggable", json_object_new_boolean(true));
		json_object_object_add(dev, "type", json_object_new_string("dimm"));
		json_object_object_add(dev, "data", data);
		json_object_array_add(list, dev);
	}
	*ret = list;
	return 0;
}

static int cmd_query_memory_size_summary(void *ctx, struct json_object *args,
					 struct json_object **ret, struct error *err)
{
	struct control *c = ctx;
	struct control_dimms d;

	if (control_no_args(args, err))
		return -EINVAL;
	c->ops->dimms(c->ctx, &d);
	*ret = json_object_new_object();
	json_object_object_add(*ret, "base-memory", json_object_new_uint64(d.base_memory));
	json_object_object_add(*ret, "plugged-memory", json_object_new_uint64(d.plugged_memory));
	return 0;
}

/* QEMU's shape: one bus, each function with its identity, INTx line and BARs. A BAR that
 * does not decode has address -1, as QEMU shows an unmapped one. */
static struct json_object *control_pci_function(const struct control_pci_fn *fn)
{
	const struct pci_dev_info *d = &fn->info;
	struct json_object *o = json_object_new_object(), *cls = json_object_new_object();
	struct json_object *id = json_object_new_object(), *regions = json_object_new_array();
	unsigned int i;

	json_object_object_add(o, "bus", json_object_new_int(0));
	json_object_object_add(o, "slot", json_object_new_int((int)d->slot));
	json_object_object_add(o, "function", json_object_new_int(0));
	json_object_object_add(cls, "class", json_object_new_int((int)(d->class_code >> 8)));
	json_object_object_add(o, "class_info", cls);
	json_object_object_add(id, "vendor", json_object_new_int(d->vendor));
	json_object_object_add(id, "device", json_object_new_int(d->device));
	json_object_object_add(id, "subsystem", json_object_new_int(d->subsys));
	json_object_object_add(id, "subsystem-vendor", json_object_new_int(d->subsys_vendor));
	json_object_object_add(o, "id", id);
	if (d->irq_pin)
		json_object_object_add(o, "irq", json_object_new_int(d->irq_line));
	json_object_object_add(o, "irq_pin", json_object_new_int(d->irq_pin));
	json_object_object_add(o, "qdev_id", json_object_new_string(fn->qdev_id));
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		const struct pci_bar_info *b = &d->bar[i];
		struct json_object *r;

		if (b->type == PCI_BAR_UNUSED)
			continue;
		r = json_object_new_object();
		json_object_object_add(r, "bar", json_object_new_int((int)i));
		json_object_object_add(
			r, "type", json_object_new_string(b->type == PCI_BAR_IO ? "io" : "memory"));
		json_object_object_add(r, "address",
				       b->decoding ? json_object_new_uint64(b->addr)
						   : json_object_new_int(-1));
		json_object_object_add(r, "size", json_object_new_uint64(b->size));
		if (b->type != PCI_BAR_IO) {
			json_object_object_add(r, "prefetch", json_object_new_boolean(b->prefetch));
			json_object_object_add(r, "mem_type_64",
					       json_object_new_boolean(b->type == PCI_BAR_MEM64));
		}
		json_object_array_add(regions, r);
	}
	json_object_object_add(o, "regions", regions);
	return o;
}

static int cmd_query_pci(void *ctx, struct json_object *args, struct json_object **ret,
			 struct error *err)
{
	struct control *c = ctx;
	struct json_object *list, *bus, *devices;
	struct control_pci *p;
	unsigned int i;

	if (control_no_args(args, err))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return error_set(err, -ENOMEM, "out of memory");
	c->ops->pci(c->ctx, p);
	devices = json_object_new_array();
	for (i = 0; i < p->n && i < PCI_SLOTS; i++)
		json_object_array_add(devices, control_pci_function(&p->fn[i]));
	free(p);
	bus = json_object_new_object();
	json_object_object_add(bus, "bus", json_object_new_int(0));
	json_object_object_add(bus, "devices", devices);
	list = json_object_new_array();
	json_object_array_add(list, bus);
	*ret = list;
	return 0;
}

static const struct qmp_command control_commands[] = {
	{"balloon", cmd_balloon},
	{"device_add", cmd_device_add},
	{"device_del", cmd_device_del},
	{"human-monitor-command", cmd_human_monitor_command},
	{"object-add", cmd_object_add},
	{"object-del", cmd_object_del},
	{"query-balloon", cmd_query_balloon},
	{"query-granules", cmd_query_granules},
	{"query-memory-devices", cmd_query_memory_devices},
	{"query-memory-size-summary", cmd_query_memory_size_summary},
	{"query-pci", cmd_query_pci},
	{"query-status", cmd_query_status},
	{"query-version", cmd_query_version},
	{"qom-get", cmd_qom_get},
	{"qom-set", cmd_qom_set},
	{"quit", cmd_quit},
	{"system_powerdown", cmd_system_powerdown},
	{NULL, NULL},
};

/* ---- the socket ---- */

/* Sends what the socket takes now; false when the client is gone. */
static bool control_client_send(struct control_client *cl, const char **buf, size_t *len)
{
	while (*len) {
		ssize_t n = send(cl->fd, *buf, *len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		*buf += n;
		*len -= (size_t)n;
	}
	return true;
}

static void control_client_flush(void *ctx);

static void control_client_write(void *opaque, const char *buf, size_t len)
{
	struct control_client *cl = opaque;
	size_t cap;

	if (cl->dead)
		return;
	/* Nothing queued: straight out, and only the rest waits. */
	if (!cl->out_len && !control_client_send(cl, &buf, &len)) {
		cl->dead = true;
		return;
	}
	if (!len)
		return;
	if (len > CONTROL_MAX_QUEUED - cl->out_len) {
		fprintf(stderr,
			"slabvm: control socket: dropping a client that left %zu bytes unread\n",
			cl->out_len + len);
		cl->dead = true;
		return;
	}
	if (cl->out_len + len > cl->out_cap) {
		char *p;

		for (cap = cl->out_cap ? cl->out_cap : 4096; cap < cl->out_len + len; cap *= 2)
			;
		p = realloc(cl->out, cap);
		if (!p) {
			cl->dead = true;
			return;
		}
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, buf, len);
	cl->out_len += len;
	evloop_set_writable(cl->c->loop, cl->fd, control_client_flush);
}

static void control_client_close(struct control_client *cl)
{
	evloop_remove(cl->c->loop, cl->fd);
	close(cl->fd);
	qmp_session_free(cl->session);
	free(cl->out);
	*cl = (struct control_client){.c = cl->c, .fd = -1};
}

/* The socket has room again: send the queue's head, and stop asking once it is empty. */
static void control_client_flush(void *ctx)
{
	struct control_client *cl = ctx;
	const char *p = cl->out;
	size_t len = cl->out_len;

	if (!control_client_send(cl, &p, &len)) {
		control_client_close(cl);
		return;
	}
	memmove(cl->out, p, len);
	cl->out_len = len;
	if (!len)
		evloop_set_writable(cl->c->loop, cl->fd, NULL);
}

static void control_client_ready(void *ctx)
{
	struct control_client *cl = ctx;
	char buf[CONTROL_READ_CHUNK];
	ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0 || qmp_session_input(cl->session, buf, (size_t)n) == QMP_CLOSE || cl->dead)
		control_client_close(cl);
}

static void control_accept(void *ctx)
{
	struct control *c = ctx;
	struct control_client *cl = NULL;
	struct error err = {0};
	unsigned int i;
	int fd;

	fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS && !cl; i++)
		if (c->client[i].fd < 0)
			cl = &c->client[i];
	if (!cl) {
		close(fd); /* too many clients: this one sees the connection closed */
		return;
	}
	cl->c = c;
	cl->fd = fd;
	cl->session = qmp_session_new(control_commands, c, control_client_write, cl, &err);
	if (!cl->session || evloop_add(c->loop, fd, control_client_ready, cl, &err)) {
		fprintf(stderr, "slabvm: control socket: %s\n", err.msg);
		qmp_session_free(cl->session);
		free(cl->out);
		close(fd);
		*cl = (struct control_client){.c = c, .fd = -1};
		return;
	}
	/* The greeting, written by qmp_session_new, was queued before the loop knew fd. */
	if (cl->out_len)
		evloop_set_writable(c->loop, fd, control_client_flush);
	if (cl->dead)
		control_client_close(cl);
}

void control_event(struct control *c, const char *name, struct json_object *data)
{
	unsigned int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *cl = &c->client[i];

		if (cl->fd < 0 || !qmp_session_command_mode(cl->session))
			continue;
		qmp_session_event(cl->session, name, json_object_get(data));
		if (cl->dead)
			control_client_close(cl);
	}
	json_object_put(data);
}

/*
 * The deflate stalls and their ends since the last look, in the order they happened: a
 * device holds one buffer at a time, so they alternate. The data is what the balloon
 * says now, so a stall that ended meanwhile reports the pages it waits for as 0.
 */
static void control_poll_deflate(struct control *c, const struct balloon_info *i)
{
	const struct balloon_stats *s = &i->stats;
	int error = s->deflate_last_error ? -s->deflate_last_error : EIO;
	struct json_object *data;
	uint64_t waiting;
	bool returned;

	while (c->last_stalls < s->deflate_stalls ||
	       c->last_returned + c->last_dropped < s->deflate_returned + s->deflate_dropped) {
		data = json_object_new_object();
		if (c->last_stalls == c->last_returned + c->last_dropped) {
			c->last_stalls++;
			waiting = c->last_stalls == s->deflate_stalls && i->deflate_held
					  ? i->deflate_waiting_pages
					  : 0;
			json_object_object_add(data, "waiting-pfns",
					       json_object_new_uint64(waiting));
			json_object_object_add(data, "error",
					       json_object_new_string(strerror(error)));
			control_event(c, CONTROL_EVENT_DEFLATE_STALLED, data);
			continue;
		}
		returned = c->last_returned < s->deflate_returned;
		if (returned)
			c->last_returned++;
		else
			c->last_dropped++;
		json_object_object_add(data, "returned", json_object_new_boolean(returned));
		control_event(c, CONTROL_EVENT_DEFLATE_DONE, data);
	}
}

/* BALLOON_CHANGE when the driver reports a new size, and the deflate stall events. The
 * balloon has no callback of its own: reading its state from the main loop keeps events
 * on the thread that owns the sessions. */
void control_poll(struct control *c)
{
	struct control_balloon b;
	struct json_object *data;
	uint64_t actual;

	if (!c->ops->balloon_info(c->ctx, &b))
		return;
	actual = control_balloon_actual(b.ram, b.info.actual_bytes);
	if (actual != c->last_actual) {
		c->last_actual = actual;
		data = json_object_new_object();
		json_object_object_add(data, "actual", json_object_new_uint64(actual));
		control_event(c, "BALLOON_CHANGE", data);
	}
	control_poll_deflate(c, &b.info);
}

static void control_tick(void *ctx)
{
	struct control *c = ctx;
	uint64_t expirations;

	if (read(c->timer_fd, &expirations, sizeof(expirations)) == sizeof(expirations))
		control_poll(c);
}

/* A socket file left by a slabvm that died is replaced; anything else at path is not. */
static int control_prepare_path(const char *path, struct error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, live;

	if (lstat(path, &st) < 0)
		return errno == ENOENT
			       ? 0
			       : error_usage(err, -EINVAL, "--qmp %s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return error_usage(err, -EINVAL, "--qmp %s: exists and is not a socket", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	if (live)
		return error_usage(err, -EINVAL, "--qmp %s: another process is serving it", path);
	unlink(path);
	return 0;
}

int control_init(struct control *c, const struct control_ops *ops, void *ctx, struct evloop *loop,
		 const char *path, struct error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct itimerspec its = {{0, CONTROL_POLL_NS}, {0, CONTROL_POLL_NS}};
	unsigned int i;
	struct control_balloon b;
	mode_t old;
	int ret;

	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ctx = ctx;
	c->loop = loop;
	c->listen_fd = c->timer_fd = -1;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->client[i].fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return error_usage(err, -EINVAL, "--qmp %s: longer than a socket path may be",
				   path);
	ret = control_prepare_path(path, err);
	if (ret)
		return ret;
	strcpy(sa.sun_path, path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0)
		return error_set(err, -errno, "socket: %s", strerror(errno));
	/* 0600 from the start: no window in which another user could connect. */
	old = umask(0177);
	ret = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0 || listen(c->listen_fd, 8) < 0)
		return error_usage(err, -EINVAL, "--qmp %s: %s", path, strerror(errno));
	c->path = strdup(path);
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!c->path || c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL) < 0)
		return error_set(err, -ENOMEM, "--qmp %s: cannot set up", path);
	if (ops->balloon_info(ctx, &b)) {
		c->last_actual = control_balloon_actual(b.ram, b.info.actual_bytes);
		c->last_stalls = b.info.stats.deflate_stalls;
		c->last_returned = b.info.stats.deflate_returned;
		c->last_dropped = b.info.stats.deflate_dropped;
	}
	ret = evloop_add(loop, c->listen_fd, control_accept, c, err);
	if (!ret)
		ret = evloop_add(loop, c->timer_fd, control_tick, c, err);
	return ret;
}

/* QMP's SHUTDOWN reasons (QEMU's ShutdownCause), and whether the guest asked. */
static const struct {
	const char *reason;
	bool guest;
} control_shutdown[STOP_NR] = {
	[STOP_GUEST_POWEROFF] = {"guest-shutdown", true},
	[STOP_GUEST_RESET] = {"guest-reset", true},
	[STOP_DEBUG_EXIT] = {"guest-shutdown", true},
	[STOP_VCPU_ERROR] = {"host-error", false},
	[STOP_MONITOR_ERROR] = {"host-error", false},
	[STOP_SIGNAL] = {"host-signal", false},
	[STOP_QMP_QUIT] = {"host-qmp-quit", false},
	[STOP_CONSOLE_QUIT] = {"host-ui", false},
};

void control_shutdown_event(struct control *c, enum stop_reason reason)
{
	struct json_object *data = json_object_new_object();

	if (reason >= STOP_NR)
		reason = STOP_MONITOR_ERROR;
	json_object_object_add(data, "guest",
			       json_object_new_boolean(control_shutdown[reason].guest));
	json_object_object_add(data, "reason",
			       json_object_new_string(control_shutdown[reason].reason));
	control_event(c, "SHUTDOWN", data);
}

void control_device_deleted_event(struct control *c, const char *id)
{
	struct json_object *data;
	char path[CONTROL_MAX_PATH];

	if (!c->ops)
		return;
	data = json_object_new_object();
	snprintf(path, sizeof(path), CONTROL_QOM_PERIPHERAL "%s", id);
	json_object_object_add(data, "device", json_object_new_string(id));
	json_object_object_add(data, "path", json_object_new_string(path));
	control_event(c, "DEVICE_DELETED", data);
}

void control_acpi_ost_event(struct control *c, const char *id, unsigned int slot, uint32_t source,
			    uint32_t status)
{
	struct json_object *data, *info;
	char name[16];

	if (!c->ops)
		return;
	data = json_object_new_object();
	info = json_object_new_object();
	snprintf(name, sizeof(name), "%u", slot);
	if (id)
		json_object_object_add(info, "device", json_object_new_string(id));
	json_object_object_add(info, "slot", json_object_new_string(name));
	json_object_object_add(info, "slot-type", json_object_new_string("DIMM"));
	json_object_object_add(info, "source", json_object_new_int64(source));
	json_object_object_add(info, "status", json_object_new_int64(status));
	json_object_object_add(data, "info", info);
	control_event(c, "ACPI_DEVICE_OST", data);
}

void control_destroy(struct control *c)
{
	unsigned int i;

	if (!c->ops)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *cl = &c->client[i];

		if (cl->fd < 0)
			continue;
		/* Last words (SHUTDOWN) for a client that reads; none waits for one that does not.
		 */
		if (cl->out_len && !cl->dead)
			control_client_flush(cl);
		if (cl->fd >= 0)
			control_client_close(cl);
	}
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		if (c->path)
			unlink(c->path);
	}
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	free(c->path);
	c->path = NULL;
	c->ops = NULL;
}
