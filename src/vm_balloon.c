// SPDX-License-Identifier: MIT
#include "vm_balloon.h"

#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vm.h"
#include "vm_virtio.h"

struct vm_balloon {
	struct balloon b;
	struct vm_virtio vv;
	bool balloon_ready;
	struct vm *vm;
	const char *id;
	int stats_timer; /* timerfd on the main loop: asks for statistics */
	unsigned int stats_interval_s;
	int retry_timer; /* one-shot timerfd on the main loop: retries a held deflate */
};

static void vm_balloon_bar_changed(void *opaque, unsigned int bar, bool mapped, uint64_t addr,
				   uint64_t size)
{
	struct vm_balloon *vb = opaque;

	(void)size;
	vm_virtio_bar_changed(&vb->vv, bar, mapped, addr);
}

static void vm_balloon_destroy(void *opaque)
{
	struct vm_balloon *vb = opaque;

	if (vb->stats_timer >= 0) {
		evloop_remove(&vb->vm->loop, vb->stats_timer);
		close(vb->stats_timer);
	}
	if (vb->retry_timer >= 0) {
		evloop_remove(&vb->vm->loop, vb->retry_timer);
		close(vb->retry_timer);
	}
	vm_virtio_destroy(&vb->vv);
	if (vb->balloon_ready)
		balloon_destroy(&vb->b);
	free(vb);
}

static const struct vm_device_ops vm_balloon_ops = {
	.bar_changed = vm_balloon_bar_changed,
	.destroy = vm_balloon_destroy,
};

/* -EAGAIN, the driver did not negotiate statistics or has not answered the last request,
 * and -EIO, the queue broke (the device then waits for a reset), leave nothing to do. */
static void vm_balloon_stats_tick(void *ctx)
{
	struct vm_balloon *vb = ctx;
	uint64_t expirations;

	if (read(vb->stats_timer, &expirations, sizeof(expirations)) == sizeof(expirations))
		balloon_request_stats(&vb->b);
}

static void vm_balloon_arm(struct vm_balloon *vb, unsigned int seconds)
{
	struct itimerspec its = {{seconds, 0}, {seconds, 0}};

	vb->stats_interval_s = seconds;
	timerfd_settime(vb->stats_timer, 0, &its, NULL);
}

static void vm_balloon_retry_in(struct vm_balloon *vb, unsigned int seconds)
{
	struct itimerspec its = {{0, 0}, {seconds, 0}};

	timerfd_settime(vb->retry_timer, 0, &its, NULL);
}

/* A deflate buffer became held (any thread): the first retry comes a second later. */
static void vm_balloon_stalled(void *opaque)
{
	vm_balloon_retry_in(opaque, VM_BALLOON_RETRY_MIN_S);
}

/* 1, 2, 4, 8, 8, ... seconds between retries of one held buffer. */
static void vm_balloon_retry_tick(void *ctx)
{
	struct vm_balloon *vb = ctx;
	struct balloon_info info;
	uint64_t expirations;
	unsigned int delay = VM_BALLOON_RETRY_MIN_S;

	if (read(vb->retry_timer, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	if (!balloon_retry_deflate(&vb->b))
		return;
	balloon_get_info(&vb->b, &info);
	while (delay < VM_BALLOON_RETRY_MAX_S && info.deflate_retries-- > 0)
		delay *= 2;
	vm_balloon_retry_in(vb, delay < VM_BALLOON_RETRY_MAX_S ? delay : VM_BALLOON_RETRY_MAX_S);
}

int vm_balloon_add(struct vm *vm, const struct balloon_config *cfg, unsigned int slot,
		   struct error *err)
{
	struct vm_balloon *vb = calloc(1, sizeof(*vb));
	struct vm_device d = {
		.type = VM_BALLOON_TYPE,
		.id = "balloon0",
		.ops = &vm_balloon_ops,
		.opaque = vb,
		.slot = slot,
	};
	int ret;

	if (!vb)
		return error_set(err, -ENOMEM, "out of memory");
	vb->vm = vm;
	vb->id = d.id;
	vb->stats_timer = vb->retry_timer = -1;
	ret = balloon_init(&vb->b, &vm->mm, &vb->vv.pci.transport, cfg);
	if (ret) {
		free(vb);
		return error_set(err, ret, "virtio-balloon: cannot set up");
	}
	vb->balloon_ready = true;
	ret = vm_virtio_init(&vb->vv, vm, &balloon_ops, &vb->b, err);
	d.pci = &vb->vv.pci.pci;
	if (!ret) {
		vb->stats_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (vb->stats_timer < 0)
			ret = error_set(err, -errno, "virtio-balloon: timerfd: %s",
					strerror(errno));
		else
			ret = evloop_add(&vm->loop, vb->stats_timer, vm_balloon_stats_tick, vb,
					 err);
	}
	if (!ret) {
		vb->retry_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (vb->retry_timer < 0)
			ret = error_set(err, -errno, "virtio-balloon: timerfd: %s",
					strerror(errno));
		else
			ret = evloop_add(&vm->loop, vb->retry_timer, vm_balloon_retry_tick, vb,
					 err);
	}
	if (ret) {
		vm_balloon_destroy(vb);
		return ret;
	}
	balloon_set_stall_hook(&vb->b, vm_balloon_stalled, vb);
	if (cfg->stats)
		vm_balloon_arm(vb, VM_BALLOON_STATS_INTERVAL_S);
	return vm_device_add(vm, &d, err);
}

static struct vm_balloon *vm_balloon_find(struct vm *vm)
{
	struct vm_device *d = vm_device_find(vm, VM_BALLOON_TYPE);

	return d ? d->opaque : NULL;
}

bool vm_balloon_info(struct vm *vm, struct control_balloon *out)
{
	struct vm_balloon *vb = vm_balloon_find(vm);
	struct memmap_stats st;

	if (!vb)
		return false;
	memmap_get_stats(&vm->mm, &st);
	out->id = vb->id;
	out->ram = st.plugged_bytes;
	out->stats_interval_s = vb->stats_interval_s;
	balloon_get_info(&vb->b, &out->info);
	return true;
}

int vm_balloon_set(struct vm *vm, uint64_t bytes, struct error *err)
{
	struct vm_balloon *vb = vm_balloon_find(vm);

	if (!vb)
		return error_set(err, -ENOTCONN, "no balloon");
	return balloon_set_target(&vb->b, bytes, err);
}

void vm_balloon_stats_interval(struct vm *vm, unsigned int seconds)
{
	struct vm_balloon *vb = vm_balloon_find(vm);

	if (vb)
		vm_balloon_arm(vb, seconds);
}
