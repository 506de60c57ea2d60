# nvme (level 2): an NVMe controller of level 1's QEMU, assigned by slabvm with --vfio, is
# driven by this kernel's own nvme driver (built in) with MSI-X: 64 MiB of random data
# written with O_DIRECT, read back, checksums equal; the controller's MSI-X vectors took
# interrupts. guests/scenarios/vfio-nvme.sh starts it and checks level 1's side.

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
dd if=/dev/urandom of=/tmp/data bs=1M count=64 2>/dev/null || fail "no random data"
sum=$(md5sum </tmp/data)
dd if=/tmp/data of=/dev/nvme0n1 bs=1M oflag=direct 2>/dev/null || fail "the write failed"
dd if=/dev/nvme0n1 of=/tmp/back bs=1M count=64 iflag=direct 2>/dev/null || fail "the read failed"
back=$(md5sum </tmp/back)
[ "$sum" = "$back" ] || fail "64 MiB read back differ: $sum written, $back read"
log "nvme: 64 MiB written and read back, md5 ${sum%% *}"
irqs=$(awk '/nvme/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' \
	/proc/interrupts)
grep nvme /proc/interrupts | head -4
[ "$irqs" -gt 0 ] || fail "no nvme interrupt in /proc/interrupts"
grep nvme /proc/interrupts | grep -q MSI ||
	fail "nvme's interrupts are not MSI-X: $(grep nvme /proc/interrupts | head -2)"
log "nvme: $irqs interrupts ($((64 * MiB / 1048576)) MiB each way)"
pass
