// SPDX-License-Identifier: MIT
#include "vfio/msix.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#define BITS 64

static uint64_t entry_addr(const struct vfio_msix *m, unsigned int v)
{
	const uint8_t *e = m->table + v * VFIO_MSIX_ENTRY_SIZE;
	uint64_t a = 0;
	unsigned int i;

	for (i = 0; i < 8; i++)
		a |= (uint64_t)e[PCI_MSIX_ENTRY_LOWER_ADDR + i] << (8 * i);
	return a;
}

static uint32_t entry_u32(const struct vfio_msix *m, unsigned int v, unsigned int off)
{
	const uint8_t *e = m->table + v * VFIO_MSIX_ENTRY_SIZE + off;

	return e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24;
}

static bool is_pending(const struct vfio_msix *m, unsigned int v)
{
	return m->pending[v / BITS] & (1ULL << (v % BITS));
}

static void set_pending(struct vfio_msix *m, unsigned int v, bool on)
{
	if (on)
		m->pending[v / BITS] |= 1ULL << (v % BITS);
	else
		m->pending[v / BITS] &= ~(1ULL << (v % BITS));
}

/* Tells the listener what changed for vector v, and delivers what it held back. */
static void update(struct vfio_msix *m, unsigned int v)
{
	const struct vfio_msix_listener *l = &m->listener;
	bool live = m->enabled && !m->masked &&
		    !(entry_u32(m, v, PCI_MSIX_ENTRY_VECTOR_CTRL) & PCI_MSIX_ENTRY_CTRL_MASKBIT);
	uint64_t addr = live ? entry_addr(m, v) : 0;
	uint32_t data = live ? entry_u32(m, v, PCI_MSIX_ENTRY_DATA) : 0;

	if (live == m->live[v] && addr == m->addr[v] && data == m->data[v])
		return;
	m->live[v] = live;
	m->addr[v] = addr;
	m->data[v] = data;
	if (l->vector_changed)
		l->vector_changed(l->ctx, v, live, addr, data);
	if (live && is_pending(m, v)) {
		set_pending(m, v, false);
		if (l->deliver)
			l->deliver(l->ctx, v, addr, data);
	}
}

int vfio_msix_init(struct vfio_msix *m, unsigned int nvec, const struct vfio_msix_listener *l,
		   struct error *err)
{
	unsigned int v;

	memset(m, 0, sizeof(*m));
	if (!nvec || nvec > VFIO_MSIX_MAX_VECTORS)
		return error_set(err, -EINVAL, "MSI-X with %u vectors", nvec);
	m->nvec = nvec;
	m->table = calloc(nvec, VFIO_MSIX_ENTRY_SIZE);
	m->pending = calloc((nvec + BITS - 1) / BITS, sizeof(*m->pending));
	m->live = calloc(nvec, sizeof(*m->live));
	m->addr = calloc(nvec, sizeof(*m->addr));
	m->data = calloc(nvec, sizeof(*m->data));
	if (!m->table || !m->pending || !m->live || !m->addr || !m->data) {
		vfio_msix_destroy(m);
		return error_set(err, -ENOMEM, "MSI-X table of %u vectors: out of memory", nvec);
	}
	if (l)
		m->listener = *l;
	for (v = 0; v < nvec; v++)
		m->table[v * VFIO_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] =
			PCI_MSIX_ENTRY_CTRL_MASKBIT;
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void vfio_msix_destroy(struct vfio_msix *m)
{
	if (m->table)
		pthread_mutex_destroy(&m->lock);
	free(m->table);
	free(m->pending);
	free(m->live);
	free(m->addr);
	free(m->data);
	memset(m, 0, sizeof(*m));
}

uint64_t vfio_msix_table_read(struct vfio_msix *m, uint64_t offset, unsigned int size)
{
	uint64_t len = (uint64_t)m->nvec * VFIO_MSIX_ENTRY_SIZE, v = 0;
	unsigned int i;

	if (size < 1 || size > 8)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < size && offset < len && i < len - offset; i++)
		v |= (uint64_t)m->table[offset + i] << (8 * i);
	pthread_mutex_unlock(&m->lock);
	return v;
}

/* Bits of each entry byte the guest may write: the address (dword aligned), the data, and
 * the mask bit of vector control. */
static uint8_t entry_wmask(unsigned int byte)
{
	if (byte == PCI_MSIX_ENTRY_LOWER_ADDR)
		return 0xfc;
	if (byte == PCI_MSIX_ENTRY_VECTOR_CTRL)
		return PCI_MSIX_ENTRY_CTRL_MASKBIT;
	if (byte > PCI_MSIX_ENTRY_VECTOR_CTRL)
		return 0;
	return 0xff;
}

void vfio_msix_table_write(struct vfio_msix *m, uint64_t offset, unsigned int size, uint64_t value)
{
	uint64_t len = (uint64_t)m->nvec * VFIO_MSIX_ENTRY_SIZE;
	unsigned int i, first, last;

	if (size < 1 || size > 8 || offset >= len)
		return;
	if (size > len - offset)
		size = len - offset;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < size; i++) {
		uint64_t o = offset + i;
		uint8_t w = entry_wmask(o % VFIO_MSIX_ENTRY_SIZE), b = value >> (8 * i);

		m->table[o] = (m->table[o] & ~w) | (b & w);
	}
	first = offset / VFIO_MSIX_ENTRY_SIZE;
	last = (offset + size - 1) / VFIO_MSIX_ENTRY_SIZE;
	for (i = first; i <= last; i++)
		update(m, i);
	pthread_mutex_unlock(&m->lock);
}

uint64_t vfio_msix_pba_read(struct vfio_msix *m, uint64_t offset, unsigned int size)
{
	uint64_t len = (m->nvec + BITS - 1) / BITS * 8, v = 0;
	unsigned int i;

	if (size < 1 || size > 8)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < size && offset < len && i < len - offset; i++)
		v |= (uint64_t)(m->pending[(offset + i) / 8] >> (8 * ((offset + i) % 8)) & 0xff)
		     << (8 * i);
	pthread_mutex_unlock(&m->lock);
	return v;
}

void vfio_msix_control(struct vfio_msix *m, bool enabled, bool masked)
{
	unsigned int v;

	pthread_mutex_lock(&m->lock);
	m->enabled = enabled;
	m->masked = masked;
	for (v = 0; v < m->nvec; v++)
		update(m, v);
	pthread_mutex_unlock(&m->lock);
}

void vfio_msix_notify(struct vfio_msix *m, unsigned int vector)
{
	const struct vfio_msix_listener *l = &m->listener;

	if (vector >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	/* Disabled, the function raises nothing; masked, it holds the message. */
	if (m->live[vector]) {
		if (l->deliver)
			l->deliver(l->ctx, vector, m->addr[vector], m->data[vector]);
	} else if (m->enabled) {
		set_pending(m, vector, true);
	}
	pthread_mutex_unlock(&m->lock);
}

void vfio_msix_reset(struct vfio_msix *m)
{
	unsigned int v;

	pthread_mutex_lock(&m->lock);
	memset(m->table, 0, (size_t)m->nvec * VFIO_MSIX_ENTRY_SIZE);
	memset(m->pending, 0, (m->nvec + BITS - 1) / BITS * sizeof(*m->pending));
	m->enabled = m->masked = false;
	for (v = 0; v < m->nvec; v++) {
		m->table[v * VFIO_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] =
			PCI_MSIX_ENTRY_CTRL_MASKBIT;
		update(m, v);
	}
	pthread_mutex_unlock(&m->lock);
}
