# linux-boot: slabvm boots the level-2 Linux guest (the testbed's kernel and /l2/initrd.gz)
# with 2 vCPUs and 512 MiB; its scenario guests/scenarios/l2/boot.sh checks the CPUs, the
# RAM, the ACPI tables and the virtio-rng device and powers off, which must end slabvm with
# status 0 after `SLABTEST-L2: PASS`.
#
# Level-1 kernel arguments (run-testbed --append):
#   slabtest.runs=N        boot level 2 N times (default 1) and print the median boot time
#                          (bench/l2-boot)
#   slabtest.l2verbose=1   level 2 without `quiet`: its whole boot log, live, on the console
#   slabtest.l2timeout=S   seconds one level-2 boot may take (default 120)
#   slabtest.l2args=A+B    more level-2 kernel arguments, separated by '+' (e.g.
#                          slabtest.l2args=earlyprintk=ttyS0+nosmp)
#
# Level 2 boots with nokaslr, so that a level 2 which hangs can be shown with the names of
# its functions (l2_state in guests/slabtest.sh: RIP through level 1's /proc/kallsyms).
#
# Each run prints `linux-boot: run I: boot to init T s, ...`: T is the time from slabvm's
# start to the level-2 init's first line (`SLABTEST-L2: BEGIN`), both read on level 1's
# clock (/proc/uptime, 10 ms), as the line arrives on slabvm's stdout.

runs=1
verbose=
l2timeout=120
l2args=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.runs=*) runs=${arg#*=} ;;
	slabtest.l2verbose=*) verbose=${arg#*=} ;;
	slabtest.l2timeout=*) l2timeout=${arg#*=} ;;
	slabtest.l2args=*) l2args=$(echo "${arg#*=}" | tr + ' ') ;;
	esac
done

phase modules
log "loading kvm-amd"
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
for f in /l2/vmlinuz /l2/initrd.gz; do
	[ -s "$f" ] || fail "no level-2 image $f"
done
slabvm run --help 2>&1 | grep -q -- "--kernel" ||
	fail "this slabvm cannot boot Linux: no --kernel in 'slabvm run --help'"

# quiet: level 2's console is an emulated UART (an exit to slabvm per byte); its kernel
# log stays readable with dmesg, which l2/boot.sh searches. Errors still reach the console.
if [ "${verbose:-0}" != 0 ]; then
	verbose=1 quiet="ignore_loglevel"
else
	verbose='' quiet=quiet
fi
cmdline="console=ttyS0 panic=-1 $quiet cryptomgr.notests=1 nokaslr \
slabtest.scenario=boot slabtest.cpus=2 slabtest.mem=512${l2args:+ $l2args}"

cr=$(printf '\r')

# l2_run I: one boot of level 2. Its console goes to /tmp/l2-I.out, each line prefixed with
# the seconds since slabvm's start; slabvm's stderr to /tmp/l2-I.err, its exit status to
# /tmp/l2-I.status, the seconds it ran to /tmp/l2-I.time. A level 2 still running after
# $l2timeout s is looked at through slabvm's QMP socket (l2_state, into /tmp/l2-I.state)
# and then killed.
l2_run() {
	read -r t0 _ </proc/uptime
	rm -f "/tmp/l2-$1.sock" "/tmp/l2-$1.state"
	{
		slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus 2 --mem 512M \
			--qmp "/tmp/l2-$1.sock" --cmdline "$cmdline" 2>"/tmp/l2-$1.err" &
		pid=$!
		l2_watchdog "$pid" "$l2timeout" "/tmp/l2-$1.sock" "/tmp/l2-$1.state" \
			>/dev/null 2>&1 &
		watchdog=$!
		wait "$pid"
		echo $? >"/tmp/l2-$1.status"
		kill "$watchdog" 2>/dev/null
	} | while IFS= read -r line || [ -n "$line" ]; do
		read -r t _ </proc/uptime
		echo "$t ${line%"$cr"}"
	done | awk -v t0="$t0" '{ t = $1; sub(/^[^ ]* /, ""); printf "%6.2f %s\n", t - t0, $0
		fflush() }' | if [ -n "$verbose" ]; then
		# Live, so that the console shows how far level 2 got even if it hangs.
		tee "/tmp/l2-$1.out" | sed 's/^/l2| /'
	else
		cat >"/tmp/l2-$1.out"
	fi
	read -r t1 _ </proc/uptime
	awk -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f\n", t1 - t0 }' >"/tmp/l2-$1.time"
}

# l2_tail I WHY: fails run I, showing what level 2 and slabvm said (its console with the
# seconds since slabvm's start) and, for a level 2 that hung, what its vCPUs did.
l2_tail() {
	[ -s "/tmp/l2-$1.state" ] && cat "/tmp/l2-$1.state"
	slabvm_fail "run $1: $2" "$(cat "/tmp/l2-$1.status")" "/tmp/l2-$1.out" "/tmp/l2-$1.err"
}

times=
i=1
while [ "$i" -le "$runs" ]; do
	phase "run $i"
	log "run $i: slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus 2 --mem 512M \
--cmdline \"$cmdline\""
	l2_run "$i"
	out=/tmp/l2-$i.out
	status=$(cat "/tmp/l2-$i.status")

	# The times first, so that a failed run still tells how far and how fast it got.
	init=$(awk '/SLABTEST-L2: BEGIN/ { print $1; exit }' "$out")
	kinit=$(sed -n 's/.*boot: kernel ran \/init at \([0-9.?]*\) s.*/\1/p' "$out" | head -1)
	uinit=$(sed -n 's/.*SLABTEST-L2: BEGIN .* at uptime \([0-9.]*\) s.*/\1/p' "$out" | head -1)
	echo "linux-boot: run $i: boot to init ${init:-?} s (level-2 kernel: ran /init at \
${kinit:-?} s, init's first line at ${uinit:-?} s of its uptime), slabvm exited after \
$(cat "/tmp/l2-$i.time") s"

	case "$status" in
	0) ;;
	3) l2_tail "$i" "slabvm exited with status 3: level 2 rebooted (a panic, with panic=-1, \
or a triple fault)" ;;
	137 | 143) l2_tail "$i" "level 2 did not power off within ${l2timeout} s (slabvm killed)" ;;
	*) l2_tail "$i" "slabvm exited with status $status" ;;
	esac
	# A result line inside a longer line (other output without a newline) counts too.
	grep -q "SLABTEST-L2: PASS" "$out" || {
		result=$(grep -oE "SLABTEST-L2: (FAIL|SKIP).*" "$out" | head -1)
		l2_tail "$i" "no SLABTEST-L2: PASS from level 2 (${result:-no result line})"
	}
	[ -z "$verbose" ] && grep -E "SLABTEST-L2|\] " "$out" | sed 's/^/l2| /'
	[ -s "/tmp/l2-$i.err" ] && sed 's/^/slabvm stderr: /' "/tmp/l2-$i.err"
	times="$times $init"
	i=$((i + 1))
done

if [ "$runs" -gt 1 ]; then
	median=$(echo "$times" | tr ' ' '\n' | grep . | sort -n |
		awk '{ v[NR] = $1 } END { m = (NR + 1) / 2; printf "%.2f", (v[int(m)] + v[int(m + 0.5)]) / 2 }')
	echo "level-2 boot to init: median $median s (runs:$times)"
fi
budget_end
pass
