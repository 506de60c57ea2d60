// SPDX-License-Identifier: MIT
#include "vm_dimm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/size.h"
#include "vm.h"

/* ---- a vCPU hands work to the main loop ---- */

static void vm_dimm_kick(struct vm_dimms *d)
{
	uint64_t one = 1;

	/* A full counter already wakes the loop: nothing to do on EAGAIN. */
	if (write(d->fd, &one, sizeof(one)) < 0)
		return;
}

static void vm_dimm_on_eject(void *ctx, unsigned int slot)
{
	struct vm_dimms *d = &((struct vm *)ctx)->dimms;

	pthread_mutex_lock(&d->lock);
	d->ejected |= 1ULL << slot;
	pthread_mutex_unlock(&d->lock);
	vm_dimm_kick(d);
}

static void vm_dimm_on_ost(void *ctx, unsigned int slot, uint32_t event, uint32_t status)
{
	struct vm_dimms *d = &((struct vm *)ctx)->dimms;

	pthread_mutex_lock(&d->lock);
	/* A guest that floods _OST while the main loop is busy loses reports, not memory. */
	if (d->nost < VM_DIMM_MAX_OST)
		d->ost[d->nost++] = (struct vm_dimm_ost){slot, event, status};
	pthread_mutex_unlock(&d->lock);
	vm_dimm_kick(d);
}

const struct memhp_ops vm_dimm_memhp_ops = {vm_dimm_on_eject, vm_dimm_on_ost};

/* The guest let the DIMM in slot go: take it out of the memory map and the controller. */
static void vm_dimm_ejected(struct vm *vm, unsigned int slot)
{
	struct vm_dimm *dimm = &vm->dimms.slot[slot];
	struct error err = {0};
	char id[VM_DIMM_ID_MAX];

	if (!dimm->id[0])
		return;
	/* A listener that refuses to let the memory go leaves the DIMM plugged; the guest
	 * has offlined it, so the VM runs on, but the failure must be seen. */
	if (memmap_unplug(&vm->mm, dimm->region, &err) ||
	    memmap_dimm_remove(&vm->mm, dimm->region, &err)) {
		fprintf(stderr, "slabvm: DIMM %s: %s\n", dimm->id, err.msg);
		return;
	}
	memhp_unplugged(&vm->memhp, slot);
	vm->dimms.memdev[dimm->memdev].slot = -1;
	memcpy(id, dimm->id, sizeof(id));
	memset(dimm, 0, sizeof(*dimm));
	control_device_deleted_event(&vm->control, id);
}

static void vm_dimm_ready(void *ctx)
{
	struct vm *vm = ctx;
	struct vm_dimms *d = &vm->dimms;
	struct vm_dimm_ost ost[VM_DIMM_MAX_OST];
	unsigned int i, nost;
	uint64_t ejected, count;

	if (read(d->fd, &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&d->lock);
	ejected = d->ejected;
	nost = d->nost;
	memcpy(ost, d->ost, nost * sizeof(*ost));
	d->ejected = 0;
	d->nost = 0;
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < nost; i++) {
		const char *id = ost[i].slot < MEMHP_MAX_SLOTS ? d->slot[ost[i].slot].id : "";

		control_acpi_ost_event(&vm->control, id[0] ? id : NULL, ost[i].slot, ost[i].event,
				       ost[i].status);
	}
	for (i = 0; i < MEMHP_MAX_SLOTS; i++)
		if (ejected & (1ULL << i))
			vm_dimm_ejected(vm, i);
}

int vm_dimms_init(struct vm *vm, struct error *err)
{
	struct vm_dimms *d = &vm->dimms;
	unsigned int i;

	pthread_mutex_init(&d->lock, NULL);
	d->ready = true;
	for (i = 0; i < VM_DIMM_MAX_MEMDEVS; i++)
		d->memdev[i].slot = -1;
	d->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->fd < 0)
		return error_set(err, -errno, "eventfd: %s", strerror(errno));
	return evloop_add(&vm->loop, d->fd, vm_dimm_ready, vm, err);
}

void vm_dimms_destroy(struct vm *vm)
{
	struct vm_dimms *d = &vm->dimms;

	if (!d->ready)
		return;
	if (d->fd >= 0) {
		evloop_remove(&vm->loop, d->fd);
		close(d->fd);
	}
	pthread_mutex_destroy(&d->lock);
	d->ready = false;
}

/* ---- what QMP asks ---- */

static struct vm_memdev *vm_memdev_find(struct vm_dimms *d, const char *id)
{
	unsigned int i;

	for (i = 0; i < VM_DIMM_MAX_MEMDEVS; i++)
		if (d->memdev[i].id[0] && !strcmp(d->memdev[i].id, id))
			return &d->memdev[i];
	return NULL;
}

static int vm_dimm_find(struct vm_dimms *d, const char *id)
{
	unsigned int i;

	for (i = 0; i < MEMHP_MAX_SLOTS; i++)
		if (d->slot[i].id[0] && !strcmp(d->slot[i].id, id))
			return (int)i;
	return -1;
}

static int vm_dimm_id_check(const char *what, const char *id, struct error *err)
{
	if (!id[0] || strlen(id) >= VM_DIMM_ID_MAX)
		return error_set(err, -EINVAL, "Parameter 'id' '%s': a %s id is 1 to %d characters",
				 id, what, VM_DIMM_ID_MAX - 1);
	return 0;
}

int vm_dimm_memdev_add(void *ctx, const char *type, const char *id, uint64_t size,
		       struct error *err)
{
	struct vm *vm = ctx;
	struct vm_dimms *d = &vm->dimms;
	struct vm_memdev *m = NULL;
	unsigned int i;

	if (vm_dimm_id_check("backend", id, err))
		return -EINVAL;
	if (vm_memdev_find(d, id))
		return error_set(err, -EEXIST, "Object '%s' already exists", id);
	if (!size || size % memmap_dimm_align(&vm->mm))
		return error_set(err, -EINVAL,
				 "Parameter 'size' %llu: must be a non-zero multiple of %s",
				 (unsigned long long)size, size_str(memmap_dimm_align(&vm->mm)).s);
	for (i = 0; i < VM_DIMM_MAX_MEMDEVS && !m; i++)
		if (!d->memdev[i].id[0])
			m = &d->memdev[i];
	if (!m)
		return error_set(err, -ENOSPC, "Object '%s': %d backends exist already", id,
				 VM_DIMM_MAX_MEMDEVS);
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->memfd = !strcmp(type, "memory-backend-memfd");
	m->size = size;
	m->slot = -1;
	return 0;
}

int vm_dimm_memdev_del(void *ctx, const char *id, struct error *err)
{
	struct vm *vm = ctx;
	struct vm_memdev *m = vm_memdev_find(&vm->dimms, id);

	if (!m)
		return error_set(err, -ENOENT, "object '%s' not found", id);
	if (m->slot >= 0)
		return error_set(err, -EBUSY, "object '%s' is in use, can not be deleted", id);
	memset(m->id, 0, sizeof(m->id));
	return 0;
}

int vm_dimm_add(void *ctx, const char *id, const char *memdev, uint64_t addr, uint32_t slot,
		struct error *err)
{
	struct vm *vm = ctx;
	struct vm_dimms *d = &vm->dimms;
	struct vm_memdev *m;
	struct vm_dimm *dimm;
	struct error ignored = {0};
	unsigned int index, s;
	int ret;

	if (vm_dimm_id_check("device", id, err))
		return -EINVAL;
	if (!vm->mm.nslots)
		return error_set(err, -ENODEV, "device_add %s: the VM has no DIMM slots (--slots)",
				 id);
	if (vm_dimm_find(d, id) >= 0)
		return error_set(err, -EEXIST, "Duplicate device ID '%s'", id);
	m = vm_memdev_find(d, memdev);
	if (!m)
		return error_set(err, -ENOENT, "Property 'pc-dimm.memdev' can't find value '%s'",
				 memdev);
	if (m->slot >= 0)
		return error_set(err, -EBUSY, "can't use already busy memdev: %s", memdev);
	ret = memmap_dimm_add(&vm->mm, slot, addr, m->size, &index, err);
	if (ret)
		return ret;
	s = index - vm->mm.dimm_first;
	/* Back and map it everywhere (devices can DMA to it) before the guest hears of it. */
	ret = memmap_plug(&vm->mm, index, err);
	if (ret) {
		memmap_dimm_remove(&vm->mm, index, &ignored);
		return ret;
	}
	dimm = &d->slot[s];
	*dimm = (struct vm_dimm){.memdev = (unsigned int)(m - d->memdev),
				 .region = index,
				 .addr = vm->mm.region[index].gpa,
				 .size = m->size};
	snprintf(dimm->id, sizeof(dimm->id), "%s", id);
	m->slot = (int)s;
	ret = memhp_plug(&vm->memhp, s, dimm->addr, dimm->size);
	if (ret) {
		error_set(err, ret, "device_add %s: the hotplug controller refused slot %u", id, s);
		memset(dimm, 0, sizeof(*dimm));
		m->slot = -1;
		memmap_unplug(&vm->mm, index, &ignored);
		memmap_dimm_remove(&vm->mm, index, &ignored);
		return ret;
	}
	return 0;
}

int vm_dimm_del(void *ctx, const char *id, struct error *err)
{
	struct vm *vm = ctx;
	int s = vm_dimm_find(&vm->dimms, id);
	int ret;

	if (s < 0)
		return error_set(err, -ENODEV, "Device '%s' not found", id);
	ret = memhp_request_unplug(&vm->memhp, (unsigned int)s);
	if (ret)
		return error_set(err, ret, "Device '%s' is being removed already", id);
	return 0;
}

void vm_dimm_list(void *ctx, struct control_dimms *out)
{
	struct vm *vm = ctx;
	struct vm_dimms *d = &vm->dimms;
	struct memmap_stats st;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < MEMHP_MAX_SLOTS && out->n < CONTROL_MAX_DIMMS; i++) {
		const struct vm_dimm *dimm = &d->slot[i];

		if (!dimm->id[0])
			continue;
		out->dimm[out->n++] = (struct control_dimm){dimm->id, d->memdev[dimm->memdev].id,
							    dimm->addr, dimm->size, i};
		out->plugged_memory += dimm->size;
	}
	memmap_get_stats(&vm->mm, &st);
	out->base_memory = st.plugged_bytes - out->plugged_memory;
}
