/* SPDX-License-Identifier: MIT */
/*
 * The whole runtime of the firmware test guests: COM1 output and input, the exit port, a
 * small printf and the string helpers the compiler may call on its own (memcpy, memset).
 * No libc, no interrupts, no SSE: every call here polls the UART or touches one port.
 */
#ifndef SLABVM_FWLIB_H
#define SLABVM_FWLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "bootinfo.h"

/* Each guest defines it; _start passes the bootinfo pointer and exits with the result. */
int main(struct bootinfo *bi);

/* Ends slabvm with exit status code (0..255). */
__attribute__((noreturn)) void fw_exit(unsigned int code);

void fw_putc(char c);
void fw_puts(const char *s);
/* Waits for a byte from COM1. */
char fw_getc(void);

/*
 * printf for %s %c %d %u %x, with l/ll length modifiers, a '0' or '-' flag and a field
 * width (%016lx, %-4s), and %%. Returns nothing: output cannot fail.
 */
__attribute__((format(printf, 1, 2))) void fw_printf(const char *fmt, ...);
void fw_vprintf(const char *fmt, va_list ap);

size_t fw_strlen(const char *s);
int fw_strncmp(const char *a, const char *b, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/*
 * Finds "key=value" among the space-separated words of cmdline and parses value as a
 * decimal or 0x-prefixed hexadecimal number that must end the word. Returns 0 and sets
 * *val, or -1 if the key is absent or the value is not a number that fits in 64 bits.
 */
int fw_cmdline_u64(const char *cmdline, const char *key, uint64_t *val);

/* Checks magic and version; prints why and returns -1 if they are not what we speak. */
int fw_check_bootinfo(const struct bootinfo *bi);

/* Port I/O, for the UART, the exit port and PCI configuration mechanism #1. */
static inline void outb(uint16_t port, uint8_t val)
{
	__asm__ volatile("outb %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t val;

	__asm__ volatile("inb %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline void outl(uint16_t port, uint32_t val)
{
	__asm__ volatile("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t val;

	__asm__ volatile("inl %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

#endif
