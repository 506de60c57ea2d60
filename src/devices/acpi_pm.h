/* SPDX-License-Identifier: MIT */
/*
 * ACPI fixed hardware, as the FADT (acpi.c) describes it: the PM1a event block (PM1_STS
 * and PM1_EN, 16 bits each) at PLATFORM_ACPI_PM1A_EVT, the PM1a control register at
 * PLATFORM_ACPI_PM1A_CNT and the reset register at PLATFORM_RESET_PORT.
 *
 * - ACPI is always enabled (the FADT has no SMI_CMD), so PM1_CNT.SCI_EN reads as 1.
 * - Writing SLP_EN with SLP_TYP = PLATFORM_ACPI_S5_TYP (the DSDT's \_S5) powers off; other
 *   sleep types are ignored, since the DSDT offers none.
 * - Writing PLATFORM_RESET_VALUE to the reset register resets the machine; other values
 *   are only stored and read back.
 * - The one event source is the fixed-feature power button (acpi_pm_power_button()): it
 *   sets PM1_STS.PWRBTN_STS, and the SCI is asserted (level) while a status bit and its
 *   enable bit are both set. Status bits are write-1-to-clear.
 *
 * Locking and callback context: every entry point takes pm->lock, and the SCI level is
 * sent with it held. poweroff and reset are called after the lock is dropped, on the
 * thread that made the access (a vCPU, inside a bus access: they must not change the bus),
 * once per triggering write; a guest may write again (Linux retries S5 after 10 seconds),
 * so they must tolerate repeated calls, and they should only ask the VM to stop.
 */
#ifndef SLABVM_ACPI_PM_H
#define SLABVM_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/irq.h"

#define ACPI_PM_EVT_WINDOW 4 /* PM1_STS at offset 0, PM1_EN at offset 2 */
#define ACPI_PM_CNT_WINDOW 2
#define ACPI_PM_RESET_WINDOW 1

#define ACPI_PM1_STS 0
#define ACPI_PM1_EN 2

/* PM1_STS and PM1_EN bits (ACPI 6.3, 4.8.3.1). */
#define ACPI_PM1_TMR (1u << 0)
#define ACPI_PM1_GBL (1u << 5)
#define ACPI_PM1_PWRBTN (1u << 8)
#define ACPI_PM1_SLPBTN (1u << 9)
#define ACPI_PM1_RTC (1u << 10)
#define ACPI_PM1_PCIEXP_WAKE (1u << 14)
#define ACPI_PM1_WAK_STS (1u << 15)

/* PM1_CNT bits (ACPI 6.3, 4.8.3.2.1). */
#define ACPI_PM1_CNT_SCI_EN (1u << 0)
#define ACPI_PM1_CNT_BM_RLD (1u << 1)
#define ACPI_PM1_CNT_GBL_RLS (1u << 2)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP (7u << ACPI_PM1_CNT_SLP_TYP_SHIFT)
#define ACPI_PM1_CNT_SLP_EN (1u << 13)

struct acpi_pm_callbacks {
	void (*poweroff)(void *ctx); /* the guest entered S5 */
	void (*reset)(void *ctx);    /* the guest wrote the reset value */
	void *ctx;
};

/* Fields are private to acpi_pm.c; tests and the fuzz harness only read them. */
struct acpi_pm {
	pthread_mutex_t lock;
	struct irq_line sci;
	struct acpi_pm_callbacks cb;
	uint16_t sts;
	uint16_t en;
	uint16_t cnt; /* the stored bits: BM_RLD and SLP_TYP */
	uint8_t reset;
	bool sci_level; /* last level sent to the SCI line */
};

/* sci and cb are copied; either may be NULL (no interrupt, no callbacks). */
void acpi_pm_init(struct acpi_pm *pm, const struct irq_line *sci,
		  const struct acpi_pm_callbacks *cb);
void acpi_pm_destroy(struct acpi_pm *pm);

/*
 * opaque = struct acpi_pm *, one ops per window. Any offset and size (at most 8 bytes are
 * used) is accepted: an access covers the bytes of the registers it overlaps, bytes beyond
 * the window read as ones and their writes are dropped.
 */
extern const struct io_ops acpi_pm_evt_io_ops;
extern const struct io_ops acpi_pm_cnt_io_ops;
extern const struct io_ops acpi_pm_reset_io_ops;

/*
 * Presses the power button: sets PWRBTN_STS and raises the SCI if the guest enabled the
 * button. Returns whether it had (a guest without ACPI, or still booting, never sees it).
 */
bool acpi_pm_power_button(struct acpi_pm *pm);

#endif
