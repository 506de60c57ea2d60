/* SPDX-License-Identifier: MIT */
/*
 * The smallest guest bench/startup gives kvmtool and QEMU: a 128 KiB BIOS image that prints
 * one line on the COM1 UART and ends the VM. Both load it so that its last 128 KiB sit at
 * guest-physical 0xe0000..0xfffff (kvmtool's --firmware; QEMU's -bios, whose last 128 KiB
 * are aliased there), and both start it in real mode at f000:fff0. It runs in real mode and
 * only does port I/O, so it needs no tables and no memory set-up.
 * Build: as --32 -o g.o startup-guest.S && ld -m elf_i386 -Ttext=0 --oformat binary -o g.bin g.o
 */
	.code16
	.text
	.globl _start
_start:
	mov	$0x3f8, %dx
	lea	msg, %si
1:	cs lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx
	jmp	1b
	/* QEMU's isa-debug-exit at 0xf4 ends QEMU with status 1; kvmtool ignores the port. */
2:	mov	$0xf4, %dx
	xor	%al, %al
	out	%al, %dx
	/* An i8042 reset command ends kvmtool with status 0. */
	mov	$0xfe, %al
	out	%al, $0x64
	/* Never hlt: with an in-kernel irqchip it would block in KVM_RUN. */
3:	pause
	jmp	3b
msg:	.asciz	"tiny guest: hello\n"

	/* The reset vector, 16 bytes below the end: jump to the image's start at 0xe0000. */
	.org	0x1fff0
	ljmp	$0xe000, $_start
	.org	0x20000
