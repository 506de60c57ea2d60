# Helpers for testbed scenarios, sourced by /init in both levels before a scenario runs.
# A scenario ends with pass, fail REASON or skip REASON, which print the result line that
# run-testbed (level 1) or the level-1 scenario that started it (level 2) reads:
# "SLABTEST: PASS" in level 1, "SLABTEST-L2: PASS" in level 2, so that a level-2 guest's
# console, copied into level 1's, never passes for level 1's result.

SLABTEST_LEVEL=$(cat /etc/slabtest-level)
if [ "$SLABTEST_LEVEL" = 1 ]; then
	SLABTEST_TAG="SLABTEST:"
else
	SLABTEST_TAG="SLABTEST-L$SLABTEST_LEVEL:"
fi

slabtest_uptime() {
	cut -d' ' -f1 /proc/uptime
}

slabtest_result() {
	echo "$SLABTEST_TAG $*"
	echo "$*" >/tmp/slabtest-result
}

pass() {
	slabtest_result PASS
	exit 0
}

fail() {
	slabtest_result "FAIL $*"
	exit 1
}

skip() {
	slabtest_result "SKIP $*"
	exit 77
}

# log MESSAGE: a progress line with the time since boot.
log() {
	echo "[$(slabtest_uptime)] $*"
}

# pci_find VENDOR DEVICE: the addresses (0000:00:03.0) of the PCI devices with these IDs,
# given in hex without 0x.
pci_find() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = "0x$1" ] && [ "$(cat "$d/device")" = "0x$2" ]; then
			basename "$d"
		fi
	done
}

# vfio_bind BDF: binds one PCI device to vfio-pci (unbinding its driver first, e.g. the
# built-in nvme) and prints its IOMMU group once /dev/vfio/GROUP exists. driver_override
# binds exactly this device, where new_id would take every device with its IDs.
vfio_bind() {
	dev=/sys/bus/pci/devices/$1
	[ -d "$dev" ] || { echo "vfio_bind: no PCI device $1" >&2; return 1; }
	[ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci || return 1
	group=$(basename "$(readlink "$dev/iommu_group")")
	[ -n "$group" ] || { echo "vfio_bind: $1 is in no IOMMU group" >&2; return 1; }
	echo vfio-pci >"$dev/driver_override"
	[ -e "$dev/driver" ] && echo "$1" >"$dev/driver/unbind"
	echo "$1" >/sys/bus/pci/drivers_probe
	[ "$(basename "$(readlink "$dev/driver")")" = vfio-pci ] ||
		{ echo "vfio_bind: $1 did not bind to vfio-pci" >&2; return 1; }
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -c "/dev/vfio/$group" ] && { echo "$group"; return 0; }
		sleep 0.1
	done
	echo "vfio_bind: /dev/vfio/$group did not appear" >&2
	return 1
}

# slabtest_running PID: the process runs. An exited child stays a zombie until it is
# waited for, and kill -0 would still find it.
slabtest_running() {
	[ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q "^State:.*Z" "/proc/$1/status"
}

# l2_symbol ADDR: the level-1 kernel's symbol+offset for a level-2 kernel text address
# (16 hex digits), for a level 2 booted with `nokaslr` (its text at the link address) from
# the same kernel image as level 1, whose /proc/kallsyms gives the names. Empty otherwise.
l2_symbol() {
	# Reading /proc/kallsyms takes seconds under TCG: its text symbols are kept.
	[ -s /tmp/slabtest-kallsyms ] || grep " [tT] " /proc/kallsyms >/tmp/slabtest-kallsyms
	[ -n "$l1_text" ] || l1_text=$(awk '$3 == "_text" { print $1; exit }' /tmp/slabtest-kallsyms)
	[ -n "$l1_text" ] || return 0
	a=$(printf "%016x" $((0x$1 - 0xffffffff81000000 + 0x$l1_text)))
	awk -v a="$a" '($2 == "t" || $2 == "T") && $1 <= a && $1 >= b { s = $3; b = $1 }
		END { if (s != "") printf "%s (+%d bytes)", s, ("0x" substr(a, 9)) - ("0x" substr(b, 9)) }' \
		/tmp/slabtest-kallsyms
}

# l2_state SOCKET: what slabvm's vCPUs are doing, asked over its QMP socket (for a level 2
# that stopped answering): registers with RIP's symbol (see l2_symbol) and local APICs.
l2_state() {
	for what in "info registers" "info lapic"; do
		echo "--- slabvm: $what ---"
		timeout 10 slabvm ctl "$1" human-monitor-command command-line="$what" 2>&1 |
			sed -e 's/^{"return": *"//' -e 's/"}$//' -e 's/\\n/\n/g' -e 's/\\t/\t/g'
	done | while read -r line; do
		echo "$line"
		case "$line" in
		RIP=*)
			rip=${line#RIP=}
			rip=${rip%% *}
			sym=$(l2_symbol "$rip")
			echo "    RIP is ${sym:-not in the kernel's text (or level 2 runs with KASLR)}"
			;;
		esac
	done
}

# l2_watchdog PID SECONDS SOCKET FILE: kills slabvm (PID) if it still runs after SECONDS,
# first writing what its vCPUs do (l2_state SOCKET) into FILE. Meant to run in the
# background with its output redirected (a pipe it held would stay open while it sleeps);
# the caller kills it once slabvm has ended.
l2_watchdog() {
	sleep "$2"
	slabtest_running "$1" || return 0
	l2_state "$3" >"$4" 2>&1
	kill "$1"
	sleep 5
	kill -9 "$1" 2>/dev/null
}
