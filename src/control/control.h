/* SPDX-License-Identifier: MIT */
/*
 * The control socket (--qmp PATH): a Unix socket, mode 0600, that speaks the QMP subset
 * in qmp.c to any number of clients from the main loop, with slabvm's commands (balloon,
 * query-balloon, query-granules, query-pci, query-status, query-version, system_powerdown, quit,
 * qom-get and qom-set of the balloon's guest-stats and guest-stats-polling-interval, and
 * for debugging human-monitor-command with info registers, info lapic and info cpus) and
 * events (BALLOON_CHANGE, SHUTDOWN, and slabvm's own: a deflate that stalls and ends).
 *
 * Clients are non-blocking: output a client does not read yet waits in a queue of its own
 * and goes out when the socket has room. A client that leaves more than CONTROL_MAX_QUEUED
 * bytes unread is dropped, so no client can stall the main loop or hold unbounded memory.
 *
 * The control plane knows the VM only through struct control_ops, so that every command
 * is unit-tested against a fake (tests/unit/test_control.c). Ops are called on the main
 * loop's thread.
 */
#ifndef SLABVM_CONTROL_H
#define SLABVM_CONTROL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "balloon/balloon.h"
#include "base/error.h"
#include "base/stop.h"
#include "control/vcpu_info.h"
#include "devices/pci.h"
#include "host/evloop.h"
#include "mem/memmap.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_MAX_QUEUED (1024 * 1024) /* output a client may leave unread */
#define CONTROL_QOM_PERIPHERAL "/machine/peripheral/"
#define CONTROL_MAX_PATH 256 /* a QOM path built from an id */
/* Not QEMU's: a deflate buffer held because a page could not be restored, and its end. */
#define CONTROL_EVENT_DEFLATE_STALLED "SLABVM_BALLOON_DEFLATE_STALLED"
#define CONTROL_EVENT_DEFLATE_DONE "SLABVM_BALLOON_DEFLATE_DONE"

/* The balloon as QMP shows it. */
struct control_balloon {
	const char *id; /* its QMP id: its QOM path is CONTROL_QOM_PERIPHERAL + id */
	uint64_t ram;	/* the guest's RAM now, what QMP's sizes are relative to */
	struct balloon_info info;
	unsigned int stats_interval_s; /* how often statistics are requested, 0 for never */
};

/* The memory map as query-granules shows it. */
struct control_region {
	enum memmap_kind kind;
	uint64_t base;
	uint64_t size;
	bool plugged;
	uint64_t granules[4]; /* per enum granule_state */
};

struct control_memory {
	uint64_t granule;
	enum hugepages_mode backing;
	uint64_t page_size;	 /* of the backing: 4K, or 2M or 1G when huge pages back it */
	const char *thp_setting; /* thp: the host's shmem_enabled word; else NULL */
	const char *thp_anon_setting; /* thp: the host's transparent_hugepage/enabled word */
	bool ram_anon;		      /* boot RAM is anonymous memory, not memfds */
	struct memmap_stats stats;
	unsigned int nregions;
	struct control_region region[MEMMAP_MAX_REGIONS];
};

/* A pc-dimm as query-memory-devices shows it. */
struct control_dimm {
	const char *id;
	const char *memdev; /* the backend's id; its QOM path is /objects/ + memdev */
	uint64_t addr, size;
	unsigned int slot;
};

#define CONTROL_MAX_DIMMS 64 /* MEMHP_MAX_SLOTS */

struct control_dimms {
	uint64_t base_memory;	 /* boot RAM */
	uint64_t plugged_memory; /* the DIMMs' total */
	unsigned int n;
	struct control_dimm dimm[CONTROL_MAX_DIMMS];
};

/* The PCI bus as query-pci shows it: every function present, the host bridge included. */
struct control_pci_fn {
	const char *qdev_id; /* QMP's device id, "" for none */
	struct pci_dev_info info;
};

struct control_pci {
	unsigned int n;
	struct control_pci_fn fn[PCI_SLOTS];
};

/* What the control plane asks of the VM; ctx is the VM's. */
struct control_ops {
	/* Fills out and returns true, or returns false when the VM has no balloon. */
	bool (*balloon_info)(void *ctx, struct control_balloon *out);
	/* Asks the balloon to hold bytes (balloon_set_target). */
	int (*balloon_set)(void *ctx, uint64_t bytes, struct error *err);
	/* Requests the guest's statistics every seconds seconds from now on, 0 for never. */
	void (*balloon_stats_interval)(void *ctx, unsigned int seconds);
	void (*memory)(void *ctx, struct control_memory *out);
	/* Presses the ACPI power button. */
	void (*power_button)(void *ctx);
	/* Every vCPU's state, for human-monitor-command. */
	vcpu_info_collect_fn *vcpu_info;
	/* Stops the VM for STOP_QMP_QUIT. */
	void (*quit)(void *ctx);
	/* Whether the VM still runs (it has not begun to stop). */
	bool (*running)(void *ctx);
	/* DIMMs (object-add, object-del, device_add, device_del). The VM checks and names what
	 * it refuses; on an error nothing changes. dimm_add: addr 0 places first fit, slot
	 * UINT32_MAX takes the lowest free one; the guest is told once the DIMM is mapped.
	 * dimm_del asks the guest; DEVICE_DELETED follows when it lets the DIMM go. */
	int (*memdev_add)(void *ctx, const char *type, const char *id, uint64_t size,
			  struct error *err);
	int (*memdev_del)(void *ctx, const char *id, struct error *err);
	int (*dimm_add)(void *ctx, const char *id, const char *memdev, uint64_t addr, uint32_t slot,
			struct error *err);
	int (*dimm_del)(void *ctx, const char *id, struct error *err);
	/* Fills out; the strings stay valid until the next op. */
	void (*dimms)(void *ctx, struct control_dimms *out);
	/* Fills out, in slot order; the ids stay valid until the next op. */
	void (*pci)(void *ctx, struct control_pci *out);
};

struct control;

struct control_client {
	struct control *c;
	int fd;
	struct qmp_session *session;
	char *out; /* output the socket did not take yet */
	size_t out_len, out_cap;
	bool dead; /* overflowed or failed: closed once no session callback runs */
};

struct control {
	const struct control_ops *ops; /* NULL when the socket is not set up */
	void *ctx;
	struct evloop *loop;
	char *path;
	int listen_fd;
	int timer_fd; /* polls the balloon's actual size for BALLOON_CHANGE */
	uint64_t last_actual;
	uint64_t last_stalls, last_returned, last_dropped; /* deflate stalls reported */
	struct control_client client[CONTROL_MAX_CLIENTS];
};

/* Creates the socket (refusing a path that exists and is not a stale socket: a usage
 * error) and starts serving it from loop. */
int control_init(struct control *c, const struct control_ops *ops, void *ctx, struct evloop *loop,
		 const char *path, struct error *err);
/* Sends an event to every client past capabilities negotiation; data is consumed. */
void control_event(struct control *c, const char *name, struct json_object *data);
/* Looks at the balloon's size now and sends BALLOON_CHANGE if it changed since the last
 * look, and an event for each deflate stall and each end of one since then (the socket's
 * own timer calls it every 100 ms). */
void control_poll(struct control *c);
/* SHUTDOWN, with QMP's reason for the stop and whether the guest asked for it. */
void control_shutdown_event(struct control *c, enum stop_reason reason);
/* DEVICE_DELETED for the device id; ACPI_DEVICE_OST for a DIMM's _OST report. Both do
 * nothing when the socket is not set up. */
void control_device_deleted_event(struct control *c, const char *id);
void control_acpi_ost_event(struct control *c, const char *id, unsigned int slot, uint32_t source,
			    uint32_t status);
/* Closes every client and removes the socket file. */
void control_destroy(struct control *c);

#endif
