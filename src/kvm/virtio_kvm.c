// SPDX-License-Identifier: MIT
#include "kvm/virtio_kvm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void virtio_kvm_ready(void *ctx)
{
	struct virtio_kvm_queue *vq = ctx;
	uint64_t n;

	if (read(vq->efd, &n, sizeof(n)) == sizeof(n))
		virtio_pci_kick(vq->vk->vp, vq->q);
}

/* The same eventfd the guest's notify signals: the rescheduled queue waits its turn
 * behind the events already pending in the main loop. */
static void virtio_kvm_kick_later(void *ctx, unsigned int q)
{
	struct virtio_kvm *vk = ctx;
	uint64_t one = 1;

	if (q < vk->nq && write(vk->queue[q].efd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "slabvm: %s: cannot reschedule queue %u: %s\n", vk->vp->name, q,
			strerror(errno));
}

static uint64_t virtio_kvm_notify_gpa(uint64_t bar, unsigned int q)
{
	return bar + virtio_pci_notify_offset(q);
}

static void virtio_kvm_bind(struct virtio_kvm *vk, uint64_t bar, bool assign)
{
	struct error err = {0};
	unsigned int q;

	for (q = 0; q < vk->nq; q++) {
		/* Unbound, the notify write exits to the vCPU and reaches the transport over
		 * the bus instead: slower, never lost. */
		if (kvm_ioeventfd(vk->kvm, virtio_kvm_notify_gpa(bar, q), vk->queue[q].efd, assign,
				  &err))
			fprintf(stderr, "slabvm: %s: %s\n", vk->vp->name, err.msg);
	}
}

int virtio_kvm_init(struct virtio_kvm *vk, struct kvm *k, struct evloop *loop,
		    struct virtio_pci *vp, unsigned int nq, struct error *err)
{
	unsigned int q;
	int ret;

	memset(vk, 0, sizeof(*vk));
	vk->kvm = k;
	vk->vp = vp;
	if (nq > VIRTIO_PCI_MAX_QUEUES)
		return error_set(err, -EINVAL, "%s: %u queues is too many", vp->name, nq);
	for (q = 0; q < nq; q++) {
		vk->queue[q] = (struct virtio_kvm_queue){vk, q, -1};
		vk->queue[q].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vk->queue[q].efd < 0)
			return error_set(err, -errno, "eventfd: %s", strerror(errno));
		vk->nq = q + 1;
		ret = evloop_add(loop, vk->queue[q].efd, virtio_kvm_ready, &vk->queue[q], err);
		if (ret)
			return ret;
	}
	virtio_pci_set_kick_later(vp, virtio_kvm_kick_later, vk);
	return 0;
}

void virtio_kvm_destroy(struct virtio_kvm *vk)
{
	unsigned int q;

	for (q = 0; q < vk->nq; q++)
		if (vk->queue[q].efd >= 0)
			close(vk->queue[q].efd);
	vk->nq = 0;
}

void virtio_kvm_bar_changed(struct virtio_kvm *vk, bool mapped, uint64_t addr)
{
	if (vk->bar)
		virtio_kvm_bind(vk, vk->bar, false);
	vk->bar = 0;
	if (mapped && addr) {
		virtio_kvm_bind(vk, addr, true);
		vk->bar = addr;
	}
}
