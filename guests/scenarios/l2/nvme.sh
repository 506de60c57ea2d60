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
rounds=1 cycles=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.rounds=*) rounds=${arg#*=} ;;
	slabtest.cycles=*) cycles=${arg#*=} ;;
	esac
done
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
