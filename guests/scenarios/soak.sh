# soak: boots the level-2 kernel again and again (slabtest.soak=N times, default 20), to
# find testbed or slabvm hangs that show up once in many boots. Not in the meson suite:
#   guests/run-testbed --dir build/tests/testbed/images --timeout 3600 -v \
#       --append "slabtest.soak=100" soak
# run-testbed fails a level 1 that stops printing (its heartbeat) as hung; --silence.

n=20
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.soak=*) n=${arg#*=} ;;
	esac
done
modprobe kvm-amd || fail "modprobe kvm-amd failed"
i=1
while [ $i -le "$n" ]; do
	cpus=$((1 + i % 2))
	t0=$(slabtest_uptime)
	timeout 120 slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus $cpus \
		--mem 512M --cmdline "console=ttyS0 panic=-1 quiet cryptomgr.notests=1 \
slabtest.scenario=hello" >/tmp/soak.out 2>&1
	status=$?
	log "soak $i/$n: cpus $cpus, status $status, $(awk -v a="$t0" -v b="$(slabtest_uptime)" \
		'BEGIN { printf "%.1f", b - a }') s"
	[ $status -eq 0 ] || { tail -20 /tmp/soak.out; fail "boot $i: slabvm exited with status $status"; }
	i=$((i + 1))
done
pass
