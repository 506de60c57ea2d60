# balloon (level 2): the Linux guest's own virtio_balloon driver, steered by level 1
# (guests/scenarios/balloon.sh) through slabvm's QMP socket. This side checks the device
# (modern virtio-pci 1af4:1045, bound to virtio_balloon, deflate-on-OOM not negotiated so
# that MemTotal follows the balloon) and then answers commands that level 1 writes to
# slabvm's stdin, which reach this script as lines on its console (ttyS0):
#
#   mem SEQ              ->  L2REPLY SEQ MEM <MemTotal kB> <MemFree kB>
#   fill SEQ MIB SOURCE  ->  L2REPLY SEQ FILL OK|BAD <MiB> MiB in <s> s ...
#       writes MIB MiB from SOURCE (zero or urandom) to a tmpfs file and deletes it: the
#       guest touches that much RAM, which stays backed in level 1 after the delete until
#       ballooned. From urandom the data's md5 as written and as read back must agree
#       (zero only touches the memory: checksums are slow).
#   dmaread SEQ STEP END ->  L2REPLY SEQ DMAREAD <n>|NONE
#       has level 1's edu (when assigned) read 2 KiB by DMA (RAM -> edu) at 1 MiB into each
#       STEP bytes of guest-physical memory below END, n reads; a read that the IOMMU does
#       not map faults in level 1's kernel log, which level 1 counts. Reads only: the
#       guest's memory is not touched. NONE without edu.
#   done SEQ             ->  L2REPLY SEQ DONE, then the result line; /init powers off
#
# Each command is acknowledged at once with `L2ACK SEQ COMMAND`.
# Before the first command it prints `L2REPLY 0 READY <MemTotal kB> <MemFree kB>`. A reply
# never looks like a command, so the echo of a command line cannot pass for its reply.

# The device: modern virtio-pci (0x1040 + 5) and the virtio_balloon driver on it.
bdf=$(pci_find 1af4 1045)
[ -n "$bdf" ] || fail "no virtio-balloon (1af4:1045) on PCI; devices: $(
	for d in /sys/bus/pci/devices/*; do
		printf '%s %s:%s; ' "${d##*/}" "$(cat "$d/vendor")" "$(cat "$d/device")"
	done)"
dev=/sys/bus/pci/devices/$bdf
vdev=$(ls -d "$dev"/virtio* 2>/dev/null | head -1)
[ -n "$vdev" ] || fail "virtio-pci made no virtio device for $bdf: $(dmesg | grep -i virtio | tail)"
[ -d /sys/module/virtio_balloon ] || modprobe virtio_balloon || fail "modprobe virtio_balloon failed"
vdrv=$(basename "$(readlink "$vdev/driver")")
[ "$vdrv" = virtio_balloon ] || fail "${vdev##*/} is bound to '$vdrv', not virtio_balloon: \
$(dmesg | grep -iE "virtio|balloon" | tail -10)"
# features: one character per bit, bit 0 first. 0 MUST_TELL_HOST, 1 STATS_VQ,
# 2 DEFLATE_ON_OOM, 3 FREE_PAGE_HINT, 4 PAGE_POISON, 5 REPORTING.
features=$(cat "$vdev/features")
log "balloon: $bdf ${vdev##*/} driver $vdrv, features $features (bit 0 first)"
[ "$(echo "$features" | cut -c3)" = 0 ] ||
	fail "deflate-on-OOM (feature bit 2) was negotiated: MemTotal would not drop on inflate"

# Commands come on the console; without echo they do not clutter level 1's view of it.
stty -echo 2>/dev/null

# Diagnosis of the console's input: ttyS0's receive count every 20 s.
(while sleep 20; do log "ttyS0: $(sed -n 's/^0: .*\(tx:[0-9]* rx:[0-9]*\).*/\1/p' \
	/proc/tty/driver/serial)"; done) &
ticker=$!
echo "L2REPLY 0 READY $(meminfo MemTotal) $(meminfo MemFree)"
mkdir -p /mnt/fill
finished=
while read -r cmd seq a b _; do
	echo "L2ACK $seq $cmd"
	case "$cmd" in
	mem)
		echo "L2REPLY $seq MEM $(meminfo MemTotal) $(meminfo MemFree)"
		;;
	fill)
		mib=$a
		read -r t0 _ </proc/uptime
		tw=$t0
		mount -t tmpfs -o size=$((mib + 16))m fill /mnt/fill
		if [ "$b" = zero ]; then
			# Only to touch the memory: no checksums, which take long here.
			dd if=/dev/zero of=/mnt/fill/f bs=1M count="$mib" 2>/dev/null
			w=- r1=-
		else
			w=$(dd if="/dev/$b" bs=1M count="$mib" 2>/dev/null | tee /mnt/fill/f |
				md5sum | cut -d' ' -f1)
			read -r tw _ </proc/uptime
			r1=$(md5sum /mnt/fill/f | cut -d' ' -f1)
		fi
		size=$(($(wc -c </mnt/fill/f) >> 20))
		free=$(meminfo MemFree)
		rm -f /mnt/fill/f
		umount /mnt/fill
		read -r t1 _ </proc/uptime
		# The seconds in all, and of them the read-back checksum's.
		t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
		tr=$(awk -v a="$tw" -v b="$t1" -v z="$t0" 'BEGIN { printf "%.1f", a == z ? 0 : b - a }')
		ok=BAD
		[ "$size" = "$mib" ] && [ "$w" = "$r1" ] && ok=OK
		echo "L2REPLY $seq FILL $ok $size MiB in $t s (read-back md5 $tr s) written $w read $r1 memfree-full $free"
		;;
	dmaread)
		edu=$(pci_find 1234 11e8)
		if [ -z "$edu" ]; then
			echo "L2REPLY $seq DMAREAD NONE"
			continue
		fi
		edudev=/sys/bus/pci/devices/$edu
		edubar=$(($(cut -d' ' -f1 "$edudev/resource" | head -1)))
		# No driver has it: memory decoding and bus mastering on (COMMAND = 0x0006).
		printf '\006\000' | dd of="$edudev/config" bs=1 seek=4 count=2 conv=notrunc 2>/dev/null
		[ "$(devmem $edubar 32)" = 0x010000ED ] ||
			fail "edu's identification register reads $(devmem $edubar 32), not 0x010000ED"
		n=0
		addr=0
		# Destination (edu's buffer) and count stay set from one transfer to the next.
		devmem $((edubar + 0x88)) 32 0x40000
		devmem $((edubar + 0x90)) 32 2048
		while [ $((addr + 0x100000 + 2048)) -le $((b)) ]; do
			devmem $((edubar + 0x80)) 32 $((addr + 0x100000))
			devmem $((edubar + 0x98)) 32 1
			# QEMU's edu ends a transfer 100 ms after its start; then until the command's
			# bit 0 (start) clears, at most 10 s.
			sleep 0.1
			w=0
			while [ $(($(devmem $((edubar + 0x98)) 32) & 1)) -ne 0 ]; do
				w=$((w + 1))
				[ $w -lt 500 ] || fail "edu's DMA from $((addr + 0x100000)) did not finish within 10 s"
				sleep 0.02
			done
			n=$((n + 1))
			addr=$((addr + a))
		done
		echo "L2REPLY $seq DMAREAD $n"
		;;
	done)
		echo "L2REPLY $seq DONE"
		finished=1
		break
		;;
	'') ;;
	*)
		echo "L2REPLY $seq UNKNOWN $cmd"
		;;
	esac
done
kill "$ticker"
[ -n "$finished" ] || fail "the console ended before level 1 sent 'done'"

# The balloon driver must not have upset the kernel.
kernel_log_clean "BUG:|WARNING:|Kernel panic|Oops|Out of memory|page allocation failure"
pass
