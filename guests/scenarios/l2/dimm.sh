# dimm (level 2): a Linux guest booted with memhp_default_state=online_movable, so that a
# DIMM plugged by level 1 (guests/scenarios/dimm.sh) is onlined into ZONE_MOVABLE and can be
# offlined again for an unplug. This side only reports MemTotal on commands that level 1
# writes to slabvm's stdin:
#
#   mem SEQ   ->  L2REPLY SEQ MEM <MemTotal kB> <memory blocks online>
#   done SEQ  ->  L2REPLY SEQ DONE, then the result line; /init powers off
#
# Each command is acknowledged at once with `L2ACK SEQ COMMAND`. Before the first command
# it prints `L2REPLY 0 READY <MemTotal kB> <memory blocks online>`.

meminfo() {
	sed -n "s/^$1: *\([0-9]*\) kB/\1/p" /proc/meminfo
}

online() {
	grep -l online /sys/devices/system/memory/memory*/state 2>/dev/null | wc -l
}

grep -q "memhp_default_state=online_movable" /proc/cmdline ||
	fail "level 2 was not booted with memhp_default_state=online_movable"
stty -echo 2>/dev/null
echo "L2REPLY 0 READY $(meminfo MemTotal) $(online)"
finished=
while read -r cmd seq _; do
	echo "L2ACK $seq $cmd"
	case "$cmd" in
	mem) echo "L2REPLY $seq MEM $(meminfo MemTotal) $(online)" ;;
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

bad="BUG:|WARNING:|Kernel panic|Oops|ACPI Error|ACPI BIOS Error"
testbed_only="XSAVE consistency problem|WARNING: CPU: [0-9]+ PID: [0-9]+ at arch/x86/kernel/fpu/xstate.c"
if dmesg | grep -vE "$testbed_only" | grep -qE "$bad"; then
	dmesg | grep -vE "$testbed_only" | grep -B1 -A3 -E "$bad" | head -30
	fail "the kernel log has errors: $(dmesg | grep -vE "$testbed_only" | grep -E "$bad" |
		head -3 | sed 's/^\[ *[0-9.]*\] //' | tr '\n' ';')"
fi
pass
