# nvme (level 2): an NVMe controller of level 1's QEMU, assigned by slabvm with --vfio, is
# driven by this kernel's own nvme driver (built in) with MSI-X: 64 MiB of random data
# written with O_DIRECT, read back, checksums equal, at alternating halves of the
# namespace, slabtest.rounds=N times (default 1) and on until level 1 has inflated and
# deflated the balloon slabtest.cycles=C times (default 0; its virtio_balloon module is
# loaded at boot); the controller's MSI-X vectors took interrupts.
# guests/scenarios/vfio-nvme.sh starts it and checks level 1's side.

MiB=1048576
n=0
until [ -b /dev/nvme0n1 ]; do
	n=$((n + 1))
	[ $n -lt 300 ] || fail "no /dev/nvme0n1 after 60 s: $(dmesg | grep -i nvme | tail -5 |
		tr '\n' ';')"
	sleep 0.2
done
log "nvme: $(cat /sys/block/nvme0n1/size) sectors; $(dmesg | grep -i 'nvme nvme0' | head -2 |
	tr '\n' ';')"
rounds=1 cycles=0 edubuf=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.rounds=*) rounds=${arg#*=} ;;
	slabtest.cycles=*) cycles=${arg#*=} ;;
	slabtest.edubuf=*) edubuf=${arg#*=} ;;
	esac
done

# edu, when level 1 assigned it too (slabtest.edubuf=ADDR names 1 MiB of RAM that the
# kernel command line reserved with memmap=1M$ADDR, below edu's 28-bit DMA limit): driven
# from here with devmem on its registers (BAR0: 0x80 source, 0x88 destination, 0x90
# count, 0x98 command: bit 0 start, bit 1 edu -> RAM) and dd on /dev/mem for the buffer,
# which the kernel lets through because the range is reserved, not RAM. 2 KiB of fresh
# random data go RAM -> edu -> RAM into a zeroed second buffer, compared byte for byte.
edu=$(pci_find 1234 11e8)
if [ -n "$edu" ]; then
	[ -n "$edubuf" ] || fail "edu is assigned but slabtest.edubuf names no reserved buffer"
	edudev=/sys/bus/pci/devices/$edu
	edubar=$(($(cut -d' ' -f1 "$edudev/resource" | head -1)))
	[ "$edubar" -ne 0 ] || fail "edu's BAR0 has no address: $(head -1 "$edudev/resource")"
	# No driver has it: turn on memory decoding and bus mastering (COMMAND = 0x0006).
	printf '\006\000' | dd of="$edudev/config" bs=1 seek=4 count=2 conv=notrunc 2>/dev/null ||
		fail "cannot write edu's COMMAND register"
	[ "$(devmem $edubar 32)" = 0x010000ED ] ||
		fail "edu's identification register reads $(devmem $edubar 32), not 0x010000ED"
	log "edu: $edu, BAR0 at $(printf 0x%x $edubar), buffer at $edubuf"
fi
# edu_wait: until edu's DMA command has finished (bit 0 clear), at most 10 s.
edu_wait() {
	n=0
	while [ $(($(devmem $((edubar + 0x98)) 32) & 1)) -ne 0 ]; do
		n=$((n + 1))
		[ $n -lt 100 ] || fail "edu's DMA did not finish within 10 s"
		sleep 0.1
	done
}
# edu_dma ROUND: one DMA from a buffer to edu and back into another, checked.
edu_dma() {
	a=$((edubuf)) b=$((edubuf + 65536))
	dd if=/dev/urandom of=/tmp/edu.a bs=2048 count=1 2>/dev/null
	dd if=/dev/zero of=/dev/mem bs=2048 count=1 seek=$((b / 2048)) conv=notrunc 2>/dev/null &&
		dd if=/tmp/edu.a of=/dev/mem bs=2048 count=1 seek=$((a / 2048)) conv=notrunc \
			2>/dev/null || fail "round $1: cannot write edu's buffers through /dev/mem"
	devmem $((edubar + 0x80)) 32 $a
	devmem $((edubar + 0x88)) 32 0x40000
	devmem $((edubar + 0x90)) 32 2048
	devmem $((edubar + 0x98)) 32 1
	edu_wait
	devmem $((edubar + 0x80)) 32 0x40000
	devmem $((edubar + 0x88)) 32 $b
	devmem $((edubar + 0x90)) 32 2048
	devmem $((edubar + 0x98)) 32 3
	edu_wait
	dd if=/dev/mem of=/tmp/edu.b bs=2048 count=1 skip=$((b / 2048)) 2>/dev/null ||
		fail "round $1: cannot read edu's buffer through /dev/mem"
	cmp /tmp/edu.a /tmp/edu.b >/dev/null ||
		fail "round $1: edu's DMA did not bring the 2 KiB back: $(cmp /tmp/edu.a /tmp/edu.b 2>&1)"
	log "edu: round $1: 2 KiB RAM -> edu -> RAM by DMA, equal"
}
# The balloon's cycles as this kernel sees them: MemTotal falls while virtio_balloon holds
# pages (no deflate-on-OOM) and comes back when it gives them up. A cycle is a fall of at
# least 16 MiB followed by the return to the full size; read with the shell's own read,
# no process per sample.
read -r _ full _ </proc/meminfo
echo 0 >/tmp/cycles
(
	low=0 seen=0
	while :; do
		read -r _ now _ </proc/meminfo
		if [ "$now" -lt $((full - 16384)) ]; then
			low=1
		elif [ $low = 1 ] && [ "$now" -ge "$full" ]; then
			low=0 seen=$((seen + 1))
			echo $seen >/tmp/cycles
		fi
		sleep 0.2
	done
) &
watcher=$!
# At least slabtest.rounds rounds, then more (up to 4 times as many) until the balloon has
# gone through slabtest.cycles cycles; every round writes fresh random data.
echo "NVME-IO-START"
r=1
while [ $r -le "$rounds" ] || { [ "$(cat /tmp/cycles)" -lt "$cycles" ] &&
	[ $r -le $((4 * rounds)) ]; }; do
	at=$(((r % 2) * 64))
	dd if=/dev/urandom of=/tmp/data bs=1M count=64 2>/dev/null || fail "no random data"
	sum=$(md5sum </tmp/data)
	dd if=/tmp/data of=/dev/nvme0n1 bs=1M seek=$at oflag=direct 2>/dev/null ||
		fail "round $r: the write failed"
	dd if=/dev/nvme0n1 of=/tmp/back bs=1M skip=$at count=64 iflag=direct 2>/dev/null ||
		fail "round $r: the read failed"
	back=$(md5sum </tmp/back)
	rm -f /tmp/back
	[ "$sum" = "$back" ] || fail "round $r: 64 MiB read back differ: $sum written, $back read"
	log "nvme: round $r: 64 MiB written at ${at} MiB and read back, md5 ${sum%% *}," \
		"balloon cycles so far $(cat /tmp/cycles)"
	[ -z "$edu" ] || edu_dma $r
	r=$((r + 1))
done
echo "NVME-IO-DONE"
kill $watcher
irqs=$(awk '/nvme/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' \
	/proc/interrupts)
grep nvme /proc/interrupts | head -4
[ "$irqs" -gt 0 ] || fail "no nvme interrupt in /proc/interrupts"
grep nvme /proc/interrupts | grep -q MSI ||
	fail "nvme's interrupts are not MSI-X: $(grep nvme /proc/interrupts | head -2)"
log "nvme: $irqs interrupts ($((64 * MiB / 1048576)) MiB each way)"
pass
