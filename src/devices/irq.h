/* SPDX-License-Identifier: MIT */
/*
 * How device models raise interrupts without knowing about KVM: an irq_line is a GSI on
 * some interrupt controller. The monitor implements it with KVM_IRQ_LINE; tests and fuzz
 * harnesses with a recorder.
 */
#ifndef SLABVM_IRQ_H
#define SLABVM_IRQ_H

#include <stdbool.h>

struct irq_ops {
	void (*set_level)(void *ctx, unsigned int gsi, bool level);
};

struct irq_line {
	const struct irq_ops *ops;
	void *ctx;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *l, bool level)
{
	if (l->ops)
		l->ops->set_level(l->ctx, l->gsi, level);
}

#endif
