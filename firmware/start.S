	.section .text.start, "ax"
	.globl _start
_start:
	hlt
