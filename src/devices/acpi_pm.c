// SPDX-License-Identifier: MIT
/*
 * Each window is handled as a little-endian byte array, so an access of any size at any
 * offset acts on exactly the register bytes it covers, as it would on a chipset.
 */
#include "devices/acpi_pm.h"

#include <string.h>

#include "x86/platform.h"

/*
 * Enable bits that stick. ACPICA checks that an enable bit it sets reads back, and reports
 * an error otherwise (GBL_EN, for the global lock, is set at every boot), so the enables of
 * every fixed event hold their value even though only the power button ever fires.
 */
#define ACPI_PM1_EN_BITS                                                                           \
	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC |          \
	 ACPI_PM1_PCIEXP_WAKE)
/* Events that raise the SCI when enabled (PCIEXP_WAKE_DIS in PM1_EN is a disable bit). */
#define ACPI_PM1_SCI_BITS                                                                          \
	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC)
#define ACPI_PM1_CNT_STORED (ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP)

#define ACPI_PM_MAX_ACCESS 8

/*
 * Takes the bytes of a write [offset, offset + size) that fall inside an n-byte window:
 * window byte k gets bytes[k], and bit k of the result tells that it was written.
 */
static unsigned int acpi_pm_slice(unsigned int n, uint64_t offset, unsigned int size,
				  uint64_t value, uint8_t *bytes)
{
	unsigned int i, mask = 0;

	for (i = 0; i < size && i < ACPI_PM_MAX_ACCESS; i++) {
		if (offset >= n || i >= n - offset)
			break;
		bytes[offset + i] = (uint8_t)(value >> (8 * i));
		mask |= 1u << (offset + i);
	}
	return mask;
}

/* The value of a read [offset, offset + size) from an n-byte window holding regs. */
static uint64_t acpi_pm_compose(const uint8_t *regs, unsigned int n, uint64_t offset,
				unsigned int size)
{
	uint64_t value = 0;
	unsigned int i;

	for (i = 0; i < size && i < ACPI_PM_MAX_ACCESS; i++) {
		uint64_t byte = 0xff;

		if (offset < n && i < n - offset)
			byte = regs[offset + i];
		value |= byte << (8 * i);
	}
	return value;
}

/* The bits of the 16-bit register at window byte at that a write with byte mask covers. */
static uint16_t acpi_pm_reg_mask(unsigned int mask, unsigned int at)
{
	return (uint16_t)(((mask >> at) & 1 ? 0x00ff : 0) | ((mask >> (at + 1)) & 1 ? 0xff00 : 0));
}

static uint16_t acpi_pm_get16(const uint8_t *bytes, unsigned int at)
{
	return (uint16_t)(bytes[at] | bytes[at + 1] << 8);
}

static void acpi_pm_put16(uint8_t *bytes, unsigned int at, uint16_t value)
{
	bytes[at] = (uint8_t)value;
	bytes[at + 1] = (uint8_t)(value >> 8);
}

/* Brings the SCI line up to date. Caller holds pm->lock. */
static void acpi_pm_update_sci(struct acpi_pm *pm)
{
	bool level = (pm->sts & pm->en & ACPI_PM1_SCI_BITS) != 0;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_line_set(&pm->sci, level);
	}
}

static uint64_t acpi_pm_evt_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint8_t regs[ACPI_PM_EVT_WINDOW];

	pthread_mutex_lock(&pm->lock);
	acpi_pm_put16(regs, ACPI_PM1_STS, pm->sts);
	acpi_pm_put16(regs, ACPI_PM1_EN, pm->en);
	pthread_mutex_unlock(&pm->lock);
	return acpi_pm_compose(regs, ACPI_PM_EVT_WINDOW, offset, size);
}

static void acpi_pm_evt_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint8_t bytes[ACPI_PM_EVT_WINDOW] = {0};
	unsigned int mask = acpi_pm_slice(ACPI_PM_EVT_WINDOW, offset, size, value, bytes);
	uint16_t sts_mask = acpi_pm_reg_mask(mask, ACPI_PM1_STS);
	uint16_t en_mask = acpi_pm_reg_mask(mask, ACPI_PM1_EN);

	pthread_mutex_lock(&pm->lock);
	pm->sts &= (uint16_t) ~(acpi_pm_get16(bytes, ACPI_PM1_STS) & sts_mask);
	pm->en = (uint16_t)((pm->en & ~en_mask) |
			    (acpi_pm_get16(bytes, ACPI_PM1_EN) & en_mask & ACPI_PM1_EN_BITS));
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static uint64_t acpi_pm_cnt_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint8_t regs[ACPI_PM_CNT_WINDOW];

	pthread_mutex_lock(&pm->lock);
	acpi_pm_put16(regs, 0, pm->cnt | ACPI_PM1_CNT_SCI_EN);
	pthread_mutex_unlock(&pm->lock);
	return acpi_pm_compose(regs, ACPI_PM_CNT_WINDOW, offset, size);
}

/*
 * SCI_EN cannot be cleared, GBL_RLS has no firmware to signal and SLP_EN acts at once, so
 * only BM_RLD and SLP_TYP are kept.
 */
static void acpi_pm_cnt_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint8_t bytes[ACPI_PM_CNT_WINDOW] = {0};
	unsigned int mask = acpi_pm_slice(ACPI_PM_CNT_WINDOW, offset, size, value, bytes);
	uint16_t wmask = acpi_pm_reg_mask(mask, 0);
	uint16_t written = acpi_pm_get16(bytes, 0) & wmask;
	unsigned int slp_typ;
	bool off = false;

	pthread_mutex_lock(&pm->lock);
	pm->cnt = (uint16_t)((pm->cnt & ~wmask) | (written & ACPI_PM1_CNT_STORED));
	slp_typ = (pm->cnt & ACPI_PM1_CNT_SLP_TYP) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;
	if ((written & ACPI_PM1_CNT_SLP_EN) && slp_typ == PLATFORM_ACPI_S5_TYP)
		off = true;
	pthread_mutex_unlock(&pm->lock);

	if (off && pm->cb.poweroff)
		pm->cb.poweroff(pm->cb.ctx);
}

static uint64_t acpi_pm_reset_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint8_t reg;

	pthread_mutex_lock(&pm->lock);
	reg = pm->reset;
	pthread_mutex_unlock(&pm->lock);
	return acpi_pm_compose(&reg, ACPI_PM_RESET_WINDOW, offset, size);
}

static void acpi_pm_reset_write(void *opaque, uint64_t offset, unsigned int size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint8_t reg = 0;

	if (!acpi_pm_slice(ACPI_PM_RESET_WINDOW, offset, size, value, &reg))
		return;
	pthread_mutex_lock(&pm->lock);
	pm->reset = reg;
	pthread_mutex_unlock(&pm->lock);

	if (reg == PLATFORM_RESET_VALUE && pm->cb.reset)
		pm->cb.reset(pm->cb.ctx);
}

const struct io_ops acpi_pm_evt_io_ops = {
	.read = acpi_pm_evt_read,
	.write = acpi_pm_evt_write,
};

const struct io_ops acpi_pm_cnt_io_ops = {
	.read = acpi_pm_cnt_read,
	.write = acpi_pm_cnt_write,
};

const struct io_ops acpi_pm_reset_io_ops = {
	.read = acpi_pm_reset_read,
	.write = acpi_pm_reset_write,
};

void acpi_pm_init(struct acpi_pm *pm, const struct irq_line *sci,
		  const struct acpi_pm_callbacks *cb)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	if (sci)
		pm->sci = *sci;
	if (cb)
		pm->cb = *cb;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

bool acpi_pm_power_button(struct acpi_pm *pm)
{
	bool enabled;

	pthread_mutex_lock(&pm->lock);
	pm->sts |= ACPI_PM1_PWRBTN;
	enabled = pm->en & ACPI_PM1_PWRBTN;
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return enabled;
}
