/* SPDX-License-Identifier: MIT */
/*
 * Entry of every firmware guest. The monitor jumps here in long mode with rdi = bootinfo
 * and rsp = BOOTINFO_STACK_TOP (16-byte aligned). The flat image does not carry .bss, so
 * it is cleared here; then main(bootinfo) runs and its result goes to the exit port.
 */
#include "bootinfo.h"

	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	cld
	mov	%rdi, %rbx
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	mov	%rbx, %rdi
	and	$-16, %rsp
	call	main
	mov	$BOOTINFO_PORT_EXIT, %dx
	outb	%al, %dx
	/* The monitor should have stopped us; never hlt (it would block KVM_RUN). */
1:	pause
	jmp	1b
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
