# dimm: a 256 MiB DIMM plugged into and unplugged from a level-2 Linux over QMP
# (`slabvm ctl`), level 2 booted with memhp_default_state=online_movable
# (guests/scenarios/l2/dimm.sh) and a balloon, ten times. Plug: query-memory-devices lists
# it, level 2's MemTotal grows by 256 MiB (+-4 MiB) once the kernel has onlined it, level 1's
# Shmem by at least 90% of it (memmap_plug populates the memfd; --balloon=stats: no free
# page reporting, which would release the DIMM's free pages again). In the first cycle
# level 2 writes FILL MiB of text to a tmpfs file, most of which must land in ZONE_MOVABLE
# (the DIMM), and keeps it. Unplug: `slabvm ctl --wait DEVICE_DELETED ... device_del`:
# level 2 offlines the DIMM (migrating the file out of it) and ejects it, the event comes,
# query-memory-devices is empty, MemTotal is back, slabvm holds no DIMM memfd, level 1's
# Shmem has dropped by at least 90% of what the DIMM's memfd held (its allocated blocks, at
# least 90% of the DIMM) less what slabvm's other memfds grew by meanwhile (the file
# migrated into boot RAM), and the file's md5 is what it was when written (checked after
# the first and the last unplug). Once, between the first two cycles, the balloon is
# inflated by 32 MiB and deflated again, each until query-balloon's actual is there, and
# the nine plugs after it go on as before.

MiB=1048576
DIMM=$((256 * MiB))
FILL=32
CYCLES=10
MEM=$((384 * MiB))
L2_QMP=/tmp/q.sock

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
slabvm run --help 2>&1 | grep -q -- "--slots" || fail "this slabvm has no --slots"
slabvm ctl --help 2>&1 | grep -q -- "--wait" || fail "this slabvm has no 'slabvm ctl --wait'"

phase boot
t_start=$(slabtest_uptime)
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr slabtest.scenario=dimm \
memhp_default_state=online_movable"
l2_start dimm --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem 384M --maxmem 1408M \
	--slots 2 --cpus 1 --balloon=stats --qmp "$L2_QMP" --cmdline "$cmdline"
l2_ready 120
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total0=$2
log "level 2 ready after $(slabtest_since "$t_start") s: MemTotal $total0 kB, $3 blocks online"

# memfds KIND: the kB slabvm's memfds hold (their allocated blocks), those of DIMMs
# (KIND dimm) or all others (KIND rest).
memfds() {
	kb=0
	for f in /proc/"$L2_PID"/fd/*; do
		case "$(readlink "$f")" in
		/memfd:slabvm-dimm-*) [ "$1" = dimm ] || continue ;;
		/memfd:slabvm-*) [ "$1" = rest ] || continue ;;
		*) continue ;;
		esac
		kb=$((kb + $(stat -L -c %b "$f") / 2))
	done
	echo "$kb"
}

# Each cycle plugs and unplugs once. memmap_plug populates the DIMM's memfd with fallocate,
# which does not show in slabvm's VmRSS until the guest touches it, so the host memory the
# DIMM holds is counted as level 1's Shmem: it must grow by at least 90% of the DIMM and
# drop by as much again when the DIMM goes.
seq=100
sum=
for cycle in $(seq $CYCLES); do
	phase "plug $cycle"
	rss0=$(meminfo Shmem)
	l2_ctl object-add qom-type=memory-backend-memfd id=m$cycle size=$DIMM
	l2_ctl device_add driver=pc-dimm id=d$cycle memdev=m$cycle
	log "device_add d$cycle: $CTL"
	l2_ctl query-memory-devices
	log "query-memory-devices: $CTL"
	echo "$CTL" | grep -q "\"id\":\"d$cycle\"" ||
		l2_fail "query-memory-devices does not list d$cycle: $CTL"
	l2_wait_memtotal $((total0 + DIMM / 1024)) $seq
	seq=$((seq + 100))
	# shellcheck disable=SC2086 # split into words
	set -- $REPLY
	total=$2 blocks=$3
	rss1=$(meminfo Shmem)
	log "plugged: MemTotal $total0 -> $total kB, $blocks memory blocks online, level 1 \
Shmem $rss0 -> $rss1 kB"
	[ "$rss1" -ge $((rss0 + DIMM * 9 / 10240)) ] ||
		l2_fail "level 1's Shmem grew by $((rss1 - rss0)) kB, less than 90% of the DIMM"

	if [ "$cycle" = 1 ]; then
		phase "fill $FILL MiB"
		l2_cmd $seq 120 fill $FILL
		seq=$((seq + 1))
		# shellcheck disable=SC2086 # split into words
		set -- $REPLY
		[ "$1" = FILL ] || l2_fail "level 2's fill failed: $REPLY"
		sum=$2
		log "level 2 wrote $FILL MiB, md5 $sum; ZONE_MOVABLE free $3 -> $4 kB"
		[ $(($3 - $4)) -ge $((FILL * 1024 * 3 / 4)) ] ||
			l2_fail "ZONE_MOVABLE's free memory dropped by $(($3 - $4)) kB, less than \
3/4 of the $FILL MiB written: the file is not in the DIMM"
		rss1=$(meminfo Shmem)
	fi

	phase "unplug $cycle"
	held=$(memfds dimm) rest0=$(memfds rest)
	t0=$(slabtest_uptime)
	CTL=$(timeout 90 slabvm ctl --wait DEVICE_DELETED --match device=d$cycle --timeout 60 \
		"$L2_QMP" device_del id=d$cycle 2>&1) ||
		l2_fail "slabvm ctl --wait DEVICE_DELETED device_del id=d$cycle: exit status $?: $CTL"
	log "device_del d$cycle, then after $(slabtest_since "$t0") s: $(echo "$CTL" | tail -1)"
	echo "$CTL" | tail -1 | grep -q '"event":"DEVICE_DELETED"' ||
		l2_fail "no DEVICE_DELETED for d$cycle: $CTL"
	l2_ctl query-memory-devices
	[ "$CTL" = '{"return":[]}' ] || l2_fail "query-memory-devices after DEVICE_DELETED: $CTL"
	l2_wait_memtotal "$total0" $seq
	seq=$((seq + 100))
	# shellcheck disable=SC2086 # split into words
	set -- $REPLY
	total=$2 blocks=$3
	rss2=$(meminfo Shmem) left=$(memfds dimm) grown=$(($(memfds rest) - rest0))
	log "unplugged: MemTotal $total kB, $blocks memory blocks online; level 1 Shmem \
$rss1 -> $rss2 kB; the DIMM's memfd held $held kB, slabvm's other memfds grew by $grown kB"
	[ "$left" = 0 ] || l2_fail "slabvm still holds $left kB in DIMM memfds"
	[ "$held" -ge $((DIMM * 9 / 10240)) ] ||
		l2_fail "the DIMM's memfd held only $held kB before the unplug"
	[ $((rss1 - rss2)) -ge $(((held - grown) * 9 / 10)) ] ||
		l2_fail "level 1's Shmem dropped by $((rss1 - rss2)) kB, less than 90% of what \
the DIMM held ($held kB) less what the other memfds grew by ($grown kB)"
	l2_ctl object-del id=m$cycle
	# After the first unplug and the last (md5 of 32 MiB takes level 2 about 1.5 s).
	if [ "$cycle" = 1 ] || [ "$cycle" = $CYCLES ]; then
		l2_cmd $seq 120 check
		seq=$((seq + 1))
		[ "$REPLY" = "CHECK $sum" ] ||
			l2_fail "the file level 2 wrote into the DIMM changed: md5 $sum, now $REPLY"
	fi

	if [ "$cycle" = 1 ]; then
		phase balloon
		l2_balloon $((MEM - 32 * MiB)) 60
		l2_balloon $MEM 60
	fi
done

phase power-off
l2_finish $seq
log "dimm: slabvm ran $(slabtest_since "$t_start") s"
budget_end
pass
