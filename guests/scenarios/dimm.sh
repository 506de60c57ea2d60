# dimm: a 256 MiB DIMM plugged into and unplugged from a level-2 Linux over QMP
# (`slabvm ctl`), level 2 booted with memhp_default_state=online_movable
# (guests/scenarios/l2/dimm.sh), three times. Plug: query-memory-devices lists it, level 2's
# MemTotal grows by 256 MiB (+-4 MiB) once the kernel has onlined it, level 1's Shmem by at
# least 90% of it. Unplug: device_del, then level 2 offlines and ejects it:
# query-memory-devices is empty (the main loop emits DEVICE_DELETED in the same step that
# empties it), MemTotal is back and Shmem has dropped by 90% of the DIMM again.

MiB=1048576
DIMM=$((256 * MiB))
L2_QMP=/tmp/q.sock

# Polls level 2's MemTotal (reply seq from base up) until it is within 4 MiB of want kB.
wait_total() {
	want=$1 base=$2 n=0
	while [ $n -lt 60 ]; do
		l2_cmd $((base + n)) 30 mem
		# shellcheck disable=SC2086 # split into words
		set -- $REPLY
		total=$2 blocks=$3
		[ "$total" -ge $((want - 4096)) ] && [ "$total" -le $((want + 4096)) ] && return 0
		n=$((n + 1))
		sleep 0.5
	done
	l2_fail "level 2's MemTotal is $total kB, not $want kB (+-4 MiB)"
}

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
slabvm run --help 2>&1 | grep -q -- "--slots" || fail "this slabvm has no --slots"

phase boot
t_start=$(slabtest_uptime)
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr slabtest.scenario=dimm \
memhp_default_state=online_movable"
l2_start dimm --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem 384M --maxmem 1408M \
	--slots 2 --cpus 1 --qmp "$L2_QMP" --cmdline "$cmdline"
l2_reply 0 120
case "$REPLY" in
READY*) ;;
*) l2_fail "level 2's first reply is not READY: $REPLY" ;;
esac
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total0=$2
log "level 2 ready after $(slabtest_since "$t_start") s: MemTotal $total0 kB, $3 blocks online"
for _ in $(seq 50); do [ -S "$L2_QMP" ] && break; sleep 0.1; done
[ -S "$L2_QMP" ] || l2_fail "no QMP socket $L2_QMP"

# Each cycle plugs and unplugs once. memmap_plug populates the DIMM's memfd with fallocate,
# which does not show in slabvm's VmRSS until the guest touches it, so the host memory the
# DIMM holds is counted as level 1's Shmem: it must grow by at least 90% of the DIMM and
# drop by as much again when the DIMM goes.
shmem() {
	sed -n 's/^Shmem: *\([0-9]*\) kB/\1/p' /proc/meminfo
}

seq=100
for cycle in 1 2 3; do
	phase "plug $cycle"
	rss0=$(shmem)
	l2_ctl object-add qom-type=memory-backend-memfd id=m$cycle size=$DIMM
	l2_ctl device_add driver=pc-dimm id=d$cycle memdev=m$cycle
	log "device_add d$cycle: $CTL"
	l2_ctl query-memory-devices
	log "query-memory-devices: $CTL"
	echo "$CTL" | grep -q "\"id\":\"d$cycle\"" ||
		l2_fail "query-memory-devices does not list d$cycle: $CTL"
	wait_total $((total0 + DIMM / 1024)) $seq
	seq=$((seq + 100))
	rss1=$(shmem)
	log "plugged: MemTotal $total0 -> $total kB, $blocks memory blocks online, level 1 \
Shmem $rss0 -> $rss1 kB"
	[ "$rss1" -ge $((rss0 + DIMM * 9 / 10240)) ] ||
		l2_fail "level 1's Shmem grew by $((rss1 - rss0)) kB, less than 90% of the DIMM"

	phase "unplug $cycle"
	l2_ctl device_del id=d$cycle
	log "device_del d$cycle: $CTL"
	n=0
	while :; do
		l2_ctl query-memory-devices
		echo "$CTL" | grep -q '"return":\[\]' && break
		n=$((n + 1))
		[ $n -lt 100 ] || l2_fail "d$cycle is still plugged 20 s after device_del: $CTL"
		sleep 0.2
	done
	wait_total "$total0" $seq
	seq=$((seq + 100))
	rss2=$(shmem)
	log "unplugged: MemTotal $total kB, $blocks memory blocks online, level 1 Shmem $rss2 kB"
	[ "$rss2" -le $((rss1 - DIMM * 9 / 10240)) ] ||
		l2_fail "level 1's Shmem dropped by $((rss1 - rss2)) kB, less than 90% of the DIMM"
	l2_ctl object-del id=m$cycle
done

phase power-off
l2_cmd $seq 30 "done"
l2_end 60
tr -d '\r' <"$L2_OUT" | grep -E "SLABTEST-L2|\] " | sed 's/^/l2| /'
[ -s "$L2_ERR" ] && sed 's/^/slabvm stderr: /' "$L2_ERR"
[ "$L2_STATUS" = 0 ] || slabvm_fail "slabvm exited with status $L2_STATUS" "$L2_STATUS" \
	"$L2_OUT" "$L2_ERR"
grep -q "SLABTEST-L2: PASS" "$L2_OUT" || slabvm_fail "no SLABTEST-L2: PASS from level 2 \
($(tr -d '\r' <"$L2_OUT" | grep -oE "SLABTEST-L2: (FAIL|SKIP).*" | head -1))" 0 "$L2_OUT" \
	"$L2_ERR"
log "dimm: slabvm ran $(slabtest_since "$t_start") s"
budget_end
pass
