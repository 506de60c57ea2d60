// SPDX-License-Identifier: MIT
/*
 * The balloon holds pages inside a DIMM when the DIMM goes (tests/guest/test_dimm_balloon.py).
 * The guest drives the memory hotplug controller as firmware/dimm.c does and virtio-balloon with
 * the hostile guests' polling driver (hostile.h), on command lines from COM1, so that the
 * test decides which pages go where and when:
 *   p          every slot with INSERT: clear it ("plugged SLOT BASE SIZE")
 *   e          every slot with REMOVE: clear it, _EJ0 ("ejected SLOT")
 *   b          set up the balloon: VERSION_1 and MUST_TELL_HOST, inflate and deflate queues
 *   i GPA N    inflate the N pages from GPA, in buffers of at most MAX_PFNS; the pages are
 *              written first if both ends of the range are RAM (boot RAM, or an enabled DIMM)
 *   d GPA N    deflate them
 *   z GPA N    check that they read as zero ("zero ok|bad")
 *   a N        write N to the config's actual (the pages the driver says it holds)
 *   n          print the config's num_pages ("num_pages N")
 *   q          exit 0
 * Numbers are decimal or 0x-prefixed hexadecimal. Each command ends with "done C"; one that
 * fails says "FAIL why" before it. The balloon's rings and PFN array live in the first
 * 2 MiB of RAM, which the test never inflates.
 */
#include "hostile.h"
#include "memhp_fw.h"

#define BLN_BAR 0xd0010000ULL
#define INFL_RING 0x110000ULL
#define DEFL_RING 0x120000ULL
#define PFNS 0x140000ULL /* up to 64 KiB of PFNs */
#define QSIZE 16
#define MAX_PFNS 16384u /* one 64 KiB buffer: BALLOON_MAX_CHAIN_BYTES */
#define F_MUST_TELL_HOST (1ULL << 0)
#define BCFG_NUM_PAGES 0
#define BCFG_ACTUAL 4
#define MARKER 0x5a5a5a5a5a5a5a5aULL
#define LINE_MAX 80

static struct hv_dev bln;
static struct hv_vq iq, dq;
static int bln_ready;

/* Whether gpa is memory this guest may write: plugged boot RAM, or an enabled DIMM. */
static int writable(const struct bootinfo *bi, uint64_t gpa)
{
	for (uint32_t i = 0; i < bi->nregions; i++)
		if (bi->region[i].plugged && gpa >= bi->region[i].base &&
		    gpa - bi->region[i].base < bi->region[i].size)
			return 1;
	for (unsigned int s = 0; s < MHP_SLOTS; s++)
		if ((mhp_get(s, MHP_STATUS) & MHP_ENABLED) && gpa >= mhp_base(s) &&
		    gpa - mhp_base(s) < mhp_size(s))
			return 1;
	return 0;
}

static void read_line(char *buf)
{
	unsigned int n = 0;
	char c;

	while ((c = fw_getc()) != '\n')
		if (n < LINE_MAX - 1)
			buf[n++] = c;
	buf[n] = 0;
}

/* The next number in *p, skipping spaces; -1 if there is none. */
static int next_u64(const char **p, uint64_t *val)
{
	const char *s = *p;
	unsigned int base = 10, digits = 0;
	uint64_t v = 0;

	while (*s == ' ')
		s++;
	if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		s += 2;
	}
	for (;; s++, digits++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		v = v * base + d;
	}
	*p = s;
	*val = v;
	return digits ? 0 : -1;
}

static int balloon_open(void)
{
	uint64_t f;

	if (hv_open(&bln, "virtio-balloon", HV_PCI_ID_BALLOON, BLN_BAR))
		return -1;
	f = hv_negotiate(&bln, HV_F_VERSION_1 | F_MUST_TELL_HOST);
	if (!(f & HV_F_VERSION_1) || hv_queue(&bln, &iq, 0, QSIZE, INFL_RING) ||
	    hv_queue(&bln, &dq, 1, QSIZE, DEFL_RING) || hv_driver_ok(&bln))
		return -1;
	fw_printf("balloon ready 0x%lx\n", (unsigned long)f);
	return 0;
}

static int zero(uint64_t first, uint64_t n)
{
	for (uint64_t p = 0; p < n; p++)
		for (uint64_t w = 0; w < HV_PAGE; w += 8)
			if (MMIO64(first + p * HV_PAGE + w))
				return 0;
	return 1;
}

static void command(const struct bootinfo *bi, const char *line)
{
	const char *args = line + 1;
	uint64_t gpa = 0, n = 0;
	unsigned int s;

	switch (line[0]) {
	case 'p':
	case 'e':
		for (s = 0; s < MHP_SLOTS; s++) {
			uint32_t st = mhp_get(s, MHP_STATUS);

			if (line[0] == 'p' && (st & MHP_INSERT)) {
				mhp_set(s, MHP_STATUS, MHP_INSERT);
				fw_printf("plugged %u 0x%lx 0x%lx\n", s, (unsigned long)mhp_base(s),
					  (unsigned long)mhp_size(s));
			} else if (line[0] == 'e' && (st & MHP_REMOVE)) {
				mhp_set(s, MHP_STATUS, MHP_REMOVE);
				mhp_set(s, MHP_STATUS, MHP_EJECT);
				fw_printf("ejected %u\n", s);
			}
		}
		return;
	case 'b':
		if (balloon_open())
			fw_puts("FAIL balloon set-up\n");
		else
			bln_ready = 1;
		return;
	case 'i':
	case 'd':
	case 'z':
		if (next_u64(&args, &gpa) || next_u64(&args, &n) || gpa % HV_PAGE) {
			fw_printf("FAIL %s: want a page address and a count\n", line);
			return;
		}
		if (line[0] == 'z') {
			fw_printf("zero %s\n", zero(gpa, n) ? "ok" : "bad");
			return;
		}
		if (!bln_ready) {
			fw_puts("FAIL the balloon is not set up\n");
			return;
		}
		if (line[0] == 'i' && n && writable(bi, gpa) &&
		    writable(bi, gpa + (n - 1) * HV_PAGE))
			for (uint64_t p = 0; p < n; p++)
				MMIO64(gpa + p * HV_PAGE) = MARKER;
		if (hv_balloon_send(&bln, line[0] == 'i' ? &iq : &dq, PFNS, MAX_PFNS, gpa, n, 1))
			fw_printf("FAIL %s: a buffer did not come back\n", line);
		return;
	case 'a':
	case 'n':
		if (!bln_ready || (line[0] == 'a' && next_u64(&args, &n))) {
			fw_printf("FAIL %s: no balloon or no count\n", line);
			return;
		}
		if (line[0] == 'a')
			MMIO32(bln.bar4 + HV_DEVCFG + BCFG_ACTUAL) = (uint32_t)n;
		else
			fw_printf("num_pages %u\n", MMIO32(bln.bar4 + HV_DEVCFG + BCFG_NUM_PAGES));
		return;
	}
	fw_printf("FAIL unknown command %s\n", line);
}

int main(struct bootinfo *bi)
{
	char line[LINE_MAX];

	if (fw_check_bootinfo(bi))
		return 1;
	fw_puts("dimm_balloon: ready\n");
	for (;;) {
		read_line(line);
		if (line[0] == 'q')
			return 0;
		command(bi, line);
		fw_printf("done %c\n", line[0]);
	}
}
