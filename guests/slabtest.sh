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

# meminfo NAME: the /proc/meminfo line NAME's number, in kB (MemTotal, Shmem, ...).
meminfo() {
	sed -n "s/^$1: *\([0-9]*\) kB/\1/p" /proc/meminfo
}

# kernel_log_clean BAD: fails, showing them, if lines of the kernel log match the extended
# regex BAD, leaving out the testbed's own warning about the XSAVE size (QEMU's TCG, see
# scenarios/l2/boot.sh), which a level 2 gets on every boot.
kernel_log_clean() {
	testbed_only="XSAVE consistency problem|WARNING: CPU: [0-9]+ PID: [0-9]+ at arch/x86/kernel/fpu/xstate.c"
	dmesg | grep -vE "$testbed_only" | grep -qE "$1" || return 0
	dmesg | grep -vE "$testbed_only" | grep -B1 -A3 -E "$1" | head -30
	fail "the kernel log has errors or warnings: $(dmesg | grep -vE "$testbed_only" |
		grep -E "$1" | head -3 | sed 's/^\[ *[0-9.]*\] //' | tr '\n' ';')"
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
			echo "    RIP is ${sym:-not in the kernel text (or level 2 runs with KASLR)}"
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

# --- Time budget ---------------------------------------------------------------------------
# A scenario names its phases; each phase's seconds are logged when the next begins, and
# budget_end logs the scenario's total against run-testbed's --timeout (slabtest.timeout=S,
# which run-testbed adds), so that a run shows where its time went and how close it came.

slabtest_phase_name=
slabtest_phase_t0=
slabtest_t0=

# slabtest_since T0: seconds since T0 (an uptime), one decimal.
slabtest_since() {
	awk -v a="$1" -v b="$(slabtest_uptime)" 'BEGIN { printf "%.1f", b - a }'
}

# phase NAME: ends the running phase, if any, and starts NAME.
phase() {
	[ -n "$slabtest_t0" ] || slabtest_t0=$(slabtest_uptime)
	[ -n "$slabtest_phase_name" ] &&
		log "phase $slabtest_phase_name: $(slabtest_since "$slabtest_phase_t0") s"
	slabtest_phase_name=$1
	slabtest_phase_t0=$(slabtest_uptime)
}

# budget_end: ends the last phase and logs the scenario's seconds, and level 1's uptime,
# against the timeout run-testbed gives the whole run (its boot of level 1 included).
budget_end() {
	phase ""
	timeout=$(sed -n 's/.*slabtest\.timeout=\([0-9]*\).*/\1/p' /proc/cmdline)
	log "budget: scenario $(slabtest_since "${slabtest_t0:-0}") s, level 1 up \
$(slabtest_uptime) s, of run-testbed's --timeout ${timeout:-?} s"
}

# --- What a slabvm that ended told ------------------------------------------------------

# slabvm_status_text STATUS: what slabvm's exit status means (README.md, src/vm.h).
slabvm_status_text() {
	case "$1" in
	0) echo "guest power-off" ;;
	1) echo "slabvm error" ;;
	2) echo "usage error: slabvm refused its configuration" ;;
	3) echo "guest reset: a reboot, a triple fault, or a panic with panic=-1" ;;
	4) echo "vCPU error: KVM could not run the guest on" ;;
	137) echo "killed by SIGKILL (a watchdog here, or level 1's OOM killer)" ;;
	1[2-9][0-9] | 2[0-5][0-9]) echo "ended by signal $(($1 - 128))" ;;
	*) echo "exit status $1" ;;
	esac
}

# slabvm_report WHY STATUS [OUT [ERR [SOCKET [PID]]]]: everything that tells a slabvm that
# stopped, or a guest that stopped answering, from the testbed: slabvm's exit status
# (STATUS, - while it still runs) and stderr (ERR), the guest's console tail (OUT), what
# its vCPUs do if it still runs (PID, SOCKET: l2_state), and level 1's kernel log tail.
# Missing files are left out; '' skips an argument.
slabvm_report() {
	echo "=== slabvm report: $1 ==="
	if [ "$2" = - ]; then
		echo "--- slabvm still runs (pid $6) ---"
		[ -n "$6" ] && grep -E "^(State|VmRSS|Threads):" "/proc/$6/status" 2>/dev/null
		# Each thread's state and where it waits: a teardown that hangs shows here.
		for t in "/proc/$6"/task/*; do
			[ -r "$t/stat" ] || continue
			echo "thread ${t##*/} $(cat "$t/comm") state $(cut -d' ' -f3 "$t/stat") \
wchan $(cat "$t/wchan" 2>/dev/null) syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
			sed 's/^/    /' "$t/stack" 2>/dev/null
		done
	else
		echo "--- slabvm's exit status: $2 ($(slabvm_status_text "$2")) ---"
	fi
	if [ -n "$4" ] && [ -e "$4" ]; then
		echo "--- slabvm's stderr ($4), last 30 lines ---"
		tail -n 30 "$4"
	fi
	if [ -n "$3" ] && [ -e "$3" ]; then
		echo "--- guest console ($3), last 40 lines ---"
		tail -n 40 "$3" | tr -d '\r'
	fi
	if [ "$2" = - ] && [ -n "$5" ] && [ -S "$5" ] && slabtest_running "$6"; then
		l2_state "$5"
	fi
	echo "--- level 1's kernel log, last 20 lines ---"
	dmesg | tail -n 20
	echo "=== end of slabvm report ==="
}

# slabvm_fail WHY STATUS [OUT [ERR [SOCKET [PID]]]]: slabvm_report, then kills slabvm (PID)
# if it still runs, and fails the scenario with WHY.
slabvm_fail() {
	slabvm_report "$@"
	[ -n "$6" ] && slabtest_running "$6" && kill -9 "$6" 2>/dev/null
	fail "$1"
}

# --- A level 2 driven over its console --------------------------------------------------
# l2_start runs slabvm in the background with its console input a FIFO that this shell holds
# open on fd 3 and its output a file; level 2's scenario (scenarios/l2/balloon.sh) reads
# `COMMAND SEQ [ARGS]` lines on its console and answers `L2ACK SEQ COMMAND` at once and
# `L2REPLY SEQ ...` when done. Every wait is bounded; any failure ends in slabvm_fail with
# the whole report. State: L2_PID, L2_OUT, L2_ERR, L2_QMP (the --qmp socket, if any).

L2_PID=
L2_QMP=

# l2_start NAME SLABVM-RUN-ARGS...: starts `slabvm run ARGS` with files /tmp/NAME.{in,out,err}.
l2_start() {
	L2_OUT=/tmp/$1.out L2_ERR=/tmp/$1.err L2_FIFO=/tmp/$1.in
	shift
	rm -f "$L2_FIFO" "$L2_OUT" "$L2_ERR"
	[ -n "$L2_QMP" ] && rm -f "$L2_QMP"
	mkfifo "$L2_FIFO" || fail "mkfifo $L2_FIFO failed"
	log "slabvm run $* <$L2_FIFO >$L2_OUT 2>$L2_ERR"
	# Started directly, not through timeout(1), so that L2_PID is slabvm's own.
	slabvm run "$@" <"$L2_FIFO" >"$L2_OUT" 2>"$L2_ERR" &
	L2_PID=$!
	# Held open to the end: slabvm's console input ends when the last writer closes.
	exec 3>"$L2_FIFO"
}

# l2_fail WHY: the report of the running (or ended) slabvm, then fail.
l2_fail() {
	if slabtest_running "$L2_PID"; then
		slabvm_fail "$1" - "$L2_OUT" "$L2_ERR" "$L2_QMP" "$L2_PID"
	fi
	wait "$L2_PID"
	slabvm_fail "$1" $? "$L2_OUT" "$L2_ERR"
}

# l2_reply SEQ TIMEOUT [TAG]: waits for level 2's `TAG SEQ ...` line (TAG: L2REPLY); REPLY
# is what follows SEQ. Only whole lines count: the console comes a byte at a time, and a
# line still being written (`L2REPLY 8 MEM` without its numbers) is not yet the reply.
# Most replies come within a few tenths of a second: the first looks are 0.05 s apart, the
# later 0.2 s; a cheap grep comes first, since every process level 1 starts takes time from
# level 2 (one vCPU under TCG).
l2_reply() {
	l2_tag=${3:-L2REPLY} l2_n=0
	read -r l2_end _ </proc/uptime
	l2_end=$((${l2_end%.*} + $2))
	while :; do
		if grep -q "$l2_tag $1 " "$L2_OUT"; then
			REPLY=$(head -n "$(wc -l <"$L2_OUT")" "$L2_OUT" | tr -d '\r' |
				grep -o "$l2_tag $1 .*" | head -1)
			[ -n "$REPLY" ] && { REPLY=${REPLY#"$l2_tag $1 "}; return 0; }
		fi
		slabtest_running "$L2_PID" ||
			l2_fail "slabvm ended while level 1 waited for level 2's $l2_tag $1"
		read -r l2_now _ </proc/uptime
		[ "${l2_now%.*}" -lt "$l2_end" ] || l2_fail "no $l2_tag $1 from level 2 within $2 s"
		l2_n=$((l2_n + 1))
		if [ $l2_n -le 6 ]; then sleep 0.05; else sleep 0.2; fi
	done
}

# l2_cmd SEQ TIMEOUT COMMAND [ARGS]: sends a command to level 2; its reply in REPLY.
l2_cmd() {
	l2_seq=$1 l2_tmo=$2 l2_what=$3
	shift 3
	log "to level 2: $l2_what $l2_seq $*"
	echo "$l2_what $l2_seq $*" >&3
	l2_reply "$l2_seq" 30 L2ACK
	l2_reply "$l2_seq" "$l2_tmo"
}

# l2_ready TIMEOUT: waits for level 2's first reply, `L2REPLY 0 READY ...` (REPLY: READY
# and what follows), then for slabvm's QMP socket L2_QMP, if it has one.
l2_ready() {
	l2_reply 0 "$1"
	case "$REPLY" in
	READY*) ;;
	*) l2_fail "level 2's first reply is not READY: $REPLY" ;;
	esac
	[ -n "$L2_QMP" ] || return 0
	for _ in $(seq 50); do
		[ -S "$L2_QMP" ] && return 0
		sleep 0.1
	done
	l2_fail "no QMP socket $L2_QMP"
}

# l2_wait_memtotal KB SEQ: asks level 2 for `mem` (seqs SEQ, SEQ+1, ..., at most 60 of
# them, 0.2 s apart) until its MemTotal is within 4 MiB of KB, as after a DIMM's plug or
# unplug, which level 2 onlines or offlines after the ACPI event. The last MemTotal in
# L2_MEMTOTAL, the last reply in REPLY.
l2_wait_memtotal() {
	l2_want=$1 l2_base=$2 l2_i=0
	while :; do
		l2_cmd $((l2_base + l2_i)) 30 mem
		L2_MEMTOTAL=$(echo "$REPLY" | cut -d' ' -f2)
		[ "$L2_MEMTOTAL" -ge $((l2_want - 4096)) ] &&
			[ "$L2_MEMTOTAL" -le $((l2_want + 4096)) ] && return 0
		l2_i=$((l2_i + 1))
		[ $l2_i -lt 60 ] ||
			l2_fail "level 2's MemTotal is $L2_MEMTOTAL kB, not $l2_want kB (+-4 MiB)"
		sleep 0.2
	done
}

# l2_ctl COMMAND [ARGS]: `slabvm ctl L2_QMP ...`; its reply JSON in CTL. Fails on an error.
l2_ctl() {
	CTL=$(timeout 20 slabvm ctl "$L2_QMP" "$@" 2>&1) ||
		l2_fail "slabvm ctl $*: exit status $?: $CTL"
}

# json_num JSON NAME: the first number named NAME in JSON.
json_num() {
	echo "$1" | grep -o "\"$2\": *[0-9]*" | head -1 | sed 's/.*: *//'
}

# l2_rss: slabvm's VmRSS in kB.
l2_rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$L2_PID/status"
}

# l2_wait_actual BYTES TIMEOUT: polls query-balloon until actual is BYTES; the last reply
# in CTL.
l2_wait_actual() {
	t0=$(slabtest_uptime)
	end=$(($(slabtest_uptime | cut -d. -f1) + $2))
	while :; do
		l2_ctl query-balloon
		[ "$(json_num "$CTL" actual)" = "$1" ] && break
		slabtest_running "$L2_PID" ||
			l2_fail "slabvm ended while the balloon moved to $1: last $CTL"
		[ "$(slabtest_uptime | cut -d. -f1)" -lt "$end" ] ||
			l2_fail "query-balloon's actual did not reach $1 within $2 s: last $CTL"
		sleep 0.2
	done
	log "actual $1 after $(slabtest_since "$t0") s: $CTL"
}

# l2_balloon BYTES TIMEOUT: `balloon value=BYTES`, then l2_wait_actual BYTES TIMEOUT; the
# last query-balloon reply in CTL.
l2_balloon() {
	l2_ctl balloon value="$1"
	log "balloon value=$1: $CTL"
	l2_wait_actual "$1" "$2"
}

# l2_end TIMEOUT: after level 2's last command, waits until slabvm has ended (at most
# TIMEOUT s); its exit status in L2_STATUS.
l2_end() {
	end=$(($(slabtest_uptime | cut -d. -f1) + $1))
	while slabtest_running "$L2_PID" && [ "$(slabtest_uptime | cut -d. -f1)" -lt "$end" ]; do
		sleep 0.2
	done
	slabtest_running "$L2_PID" && l2_fail "slabvm still runs $1 s after level 2's last reply"
	wait "$L2_PID"
	L2_STATUS=$?
	exec 3>&-
}

# l2_finish SEQ: sends level 2 `done` (seq SEQ), waits for slabvm to end (l2_end), copies
# level 2's result line and kernel messages and slabvm's stderr into this log, and fails
# unless slabvm exited with status 0 after level 2's `SLABTEST-L2: PASS`.
l2_finish() {
	l2_cmd "$1" 30 "done"
	l2_end 60
	tr -d '\r' <"$L2_OUT" | grep -E "SLABTEST-L2|\] " | sed 's/^/l2| /'
	[ -s "$L2_ERR" ] && sed 's/^/slabvm stderr: /' "$L2_ERR"
	[ "$L2_STATUS" = 0 ] || slabvm_fail "slabvm exited with status $L2_STATUS" "$L2_STATUS" \
		"$L2_OUT" "$L2_ERR"
	grep -q "SLABTEST-L2: PASS" "$L2_OUT" || slabvm_fail "no SLABTEST-L2: PASS from level 2 \
($(tr -d '\r' <"$L2_OUT" | grep -oE "SLABTEST-L2: (FAIL|SKIP).*" | head -1))" 0 "$L2_OUT" \
		"$L2_ERR"
}
