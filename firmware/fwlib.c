// SPDX-License-Identifier: MIT
/*
 * COM1 is driven by polling: the guest has no IDT, so it never enables UART interrupts.
 * Output goes out byte by byte as the monitor's 16550 model reports THR empty.
 */
#include "fwlib.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_RBR 0
#define UART_LSR 5
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

void fw_exit(unsigned int code)
{
	outb(BOOTINFO_PORT_EXIT, code & 0xff);
	/* Only a broken monitor lets the guest run on; hlt would block in KVM_RUN for good. */
	for (;;)
		cpu_relax();
}

void fw_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
		cpu_relax();
	outb(COM1 + UART_THR, (uint8_t)c);
}

void fw_puts(const char *s)
{
	while (*s)
		fw_putc(*s++);
}

char fw_getc(void)
{
	while (!(inb(COM1 + UART_LSR) & UART_LSR_DR))
		cpu_relax();
	return (char)inb(COM1 + UART_RBR);
}

/* pad '-' means: align left, fill with spaces. */
static void put_padded(const char *s, size_t len, unsigned int width, char pad)
{
	size_t fill = width > len ? width - len : 0;

	if (pad != '-') {
		for (; fill; fill--)
			fw_putc(pad);
	}
	while (len--)
		fw_putc(*s++);
	for (; fill; fill--)
		fw_putc(' ');
}

static void put_number(uint64_t v, unsigned int base, int negative, unsigned int width, char pad)
{
	static const char digits[] = "0123456789abcdef";
	char buf[21];
	size_t i = sizeof(buf);

	do {
		buf[--i] = digits[v % base];
		v /= base;
	} while (v);
	if (negative) {
		if (pad == '0') {
			fw_putc('-');
			if (width)
				width--;
		} else {
			buf[--i] = '-';
		}
	}
	put_padded(buf + i, sizeof(buf) - i, width, pad);
}

void fw_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		unsigned int width = 0, lng = 0;
		char pad = ' ';
		uint64_t u;
		int64_t d;

		if (*fmt != '%') {
			fw_putc(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0' || *fmt == '-')
			pad = *fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned int)(*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
			d = lng ? va_arg(ap, long) : va_arg(ap, int);
			u = d < 0 ? -(uint64_t)d : (uint64_t)d;
			put_number(u, 10, d < 0, width, pad);
			break;
		case 'u':
		case 'x':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			put_number(u, *fmt == 'u' ? 10 : 16, 0, width, pad);
			break;
		case 'c':
			fw_putc((char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (!s)
				s = "(null)";
			put_padded(s, fw_strlen(s), width, pad == '-' ? '-' : ' ');
			break;
		}
		case '%':
			fw_putc('%');
			break;
		case '\0':
			return;
		default:
			fw_putc('%');
			fw_putc(*fmt);
			break;
		}
	}
}

void fw_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fw_vprintf(fmt, ap);
	va_end(ap);
}

size_t fw_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int fw_strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			break;
	}
	return 0;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++) {
		if (*x != *y)
			return *x - *y;
	}
	return 0;
}

static int digit_value(char c, unsigned int base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return v < (int)base ? v : -1;
}

static int parse_u64(const char *s, uint64_t *val)
{
	unsigned int base = 10;
	uint64_t v = 0;
	int dv;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0' || *s == ' ')
		return -1;
	for (; *s && *s != ' '; s++) {
		dv = digit_value(*s, base);
		if (dv < 0 || v > (UINT64_MAX - (uint64_t)dv) / base)
			return -1;
		v = v * base + (uint64_t)dv;
	}
	*val = v;
	return 0;
}

int fw_cmdline_u64(const char *cmdline, const char *key, uint64_t *val)
{
	size_t klen = fw_strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!fw_strncmp(p, key, klen) && p[klen] == '=')
			return parse_u64(p + klen + 1, val);
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

int fw_check_bootinfo(const struct bootinfo *bi)
{
	if (bi->magic != BOOTINFO_MAGIC || bi->version != BOOTINFO_VERSION) {
		fw_printf("bad bootinfo: magic 0x%x version %u (want 0x%x version %u)\n", bi->magic,
			  bi->version, BOOTINFO_MAGIC, BOOTINFO_VERSION);
		return -1;
	}
	if (bi->nregions > BOOTINFO_MAX_REGIONS) {
		fw_printf("bad bootinfo: %u regions (at most %u)\n", bi->nregions,
			  BOOTINFO_MAX_REGIONS);
		return -1;
	}
	return 0;
}
