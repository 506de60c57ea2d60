# soak: boots the level-2 kernel again and again (slabtest.soak=N times, default 20), with
# 1 and 2 vCPUs in turn, to find testbed or slabvm hangs that show up once in many boots.
# Not in the meson suite:
#   guests/run-testbed --dir build/tests/testbed/images --timeout 7200 -v \
#       --append "slabtest.soak=100" soak
# run-testbed fails a level 1 that stops printing (its heartbeat) as hung; --silence. A
# level 2 that does not power off within 120 s is shown through slabvm's QMP socket
# (registers with RIP's symbol, local APICs: l2_state) before it is killed; level 2 boots
# with nokaslr so that level 1's /proc/kallsyms names its addresses.

n=20
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.soak=*) n=${arg#*=} ;;
	esac
done
phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
qmp=/tmp/soak.sock
i=1
while [ $i -le "$n" ]; do
	cpus=$((1 + i % 2))
	phase "boot $i ($cpus vCPUs)"
	t0=$(slabtest_uptime)
	rm -f "$qmp"
	slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus $cpus --mem 512M \
		--qmp "$qmp" --cmdline "console=ttyS0 panic=-1 quiet cryptomgr.notests=1 \
nokaslr slabtest.scenario=hello" </dev/null >/tmp/soak.out 2>&1 &
	pid=$!
	rm -f /tmp/soak.state
	l2_watchdog $pid 120 "$qmp" /tmp/soak.state >/dev/null 2>&1 &
	watchdog=$!
	wait $pid
	status=$?
	kill $watchdog 2>/dev/null
	if [ -s /tmp/soak.state ]; then
		log "soak $i/$n: level 2 ($cpus vCPUs) still ran after 120 s"
		cat /tmp/soak.state
	fi
	log "soak $i/$n: cpus $cpus, status $status, $(awk -v a="$t0" -v b="$(slabtest_uptime)" \
		'BEGIN { printf "%.1f", b - a }') s"
	[ $status -eq 0 ] || slabvm_fail "boot $i: slabvm exited with status $status" $status \
		/tmp/soak.out
	i=$((i + 1))
done
budget_end
pass
