# dimm (level 2): a Linux guest booted with memhp_default_state=online_movable, so that a
# DIMM plugged by level 1 (guests/scenarios/dimm.sh) is onlined into ZONE_MOVABLE and can be
# offlined again for an unplug; or, for guests/scenarios/dimm-refuse.sh, with
# memhp_default_state=online_kernel, so that it goes to ZONE_NORMAL, where the kernel's
# own allocations go first (level 2's boot RAM is all below 4 GiB, in DMA32) and pin it. This side answers commands that level 1 writes to slabvm's
# stdin:
#
#   mem SEQ        ->  L2REPLY SEQ MEM <MemTotal kB> <memory blocks online>
#   fill SEQ MIB   ->  L2REPLY SEQ FILL <md5> <zone free kB before> <after>: writes MIB of
#                      text into a tmpfs file, which the page allocator takes from the
#                      DIMM's zone (Movable or Normal) first; the file stays
#   check SEQ      ->  L2REPLY SEQ CHECK <md5 of the file>
#   pin SEQ N      ->  L2REPLY SEQ PIN <Normal free kB before> <after> <SUnreclaim kB
#                      before> <after>: creates N small tmpfs files, whose inodes and
#                      dentries are slab pages the kernel cannot migrate
#   done SEQ       ->  L2REPLY SEQ DONE, then the result line; /init powers off
#
# Each command is acknowledged at once with `L2ACK SEQ COMMAND`. Before the first command
# it prints `L2REPLY 0 READY <MemTotal kB> <memory blocks online>`.

# Free pages of a zone (Movable or Normal: only the DIMM's memory is there), in kB.
zone_free() {
	awk -v z="$1" '$1 == "Node" { m = $4 == z; next }
		m && $1 == "pages" && $2 == "free" { f += $3 } END { print f * 4 }' /proc/zoneinfo
}

zone=Movable
grep -q "memhp_default_state=online_kernel" /proc/cmdline && zone=Normal

online() {
	grep -l online /sys/devices/system/memory/memory*/state 2>/dev/null | wc -l
}

grep -qE "memhp_default_state=online_(movable|kernel)" /proc/cmdline ||
	fail "level 2 was not booted with memhp_default_state=online_movable or online_kernel"
stty -echo 2>/dev/null
echo "L2REPLY 0 READY $(meminfo MemTotal) $(online)"
finished=
while read -r cmd seq args; do
	echo "L2ACK $seq $cmd"
	case "$cmd" in
	mem) echo "L2REPLY $seq MEM $(meminfo MemTotal) $(online)" ;;
	fill)
		mib=${args%% *}
		mkdir -p /mnt/fill
		mount -t tmpfs -o size=$((mib + 16))m fill /mnt/fill
		free0=$(zone_free $zone)
		yes "slabvm dimm fill $seq" | head -c $((mib << 20)) >/mnt/fill/f
		sync
		echo "L2REPLY $seq FILL $(md5sum </mnt/fill/f | cut -d' ' -f1) $free0 $(zone_free $zone)"
		;;
	pin)
		n=${args%% *}
		mkdir -p /mnt/pin
		mount -t tmpfs pin /mnt/pin
		free0=$(zone_free Normal) slab0=$(meminfo SUnreclaim)
		i=0
		while [ $i -lt "$n" ]; do
			: >/mnt/pin/f$i
			i=$((i + 1))
		done
		echo "L2REPLY $seq PIN $free0 $(zone_free Normal) $slab0 $(meminfo SUnreclaim)"
		;;
	check) echo "L2REPLY $seq CHECK $(md5sum </mnt/fill/f | cut -d' ' -f1)" ;;
	done)
		echo "L2REPLY $seq DONE"
		finished=1
		break
		;;
	'') ;;
	*) echo "L2REPLY $seq UNKNOWN $cmd" ;;
	esac
done
[ -n "$finished" ] || fail "the console ended before level 1 sent 'done'"

kernel_log_clean "BUG:|WARNING:|Kernel panic|Oops|ACPI Error|ACPI BIOS Error"
pass
