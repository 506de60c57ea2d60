# dimm-refuse: a level-2 Linux that cannot let a DIMM go. Level 2 boots with
# memhp_default_state=online_kernel (guests/scenarios/l2/dimm.sh), so a 256 MiB DIMM is
# onlined into ZONE_NORMAL; its boot RAM is all in DMA32, so the kernel's own allocations
# go to the DIMM first. Level 2 writes FILL MiB of text to a tmpfs file there (md5 kept),
# then creates PIN empty tmpfs files, whose inodes and dentries are slab pages in the DIMM
# that Linux cannot migrate. `slabvm ctl --wait ACPI_DEVICE_OST --match info.status!=132`
# (132, 0x84: eject in progress) then device_del: Linux fails to offline the memory and
# reports a failure status through _OST, which must not be 0 (success); query-memory-devices
# still lists the DIMM, MemTotal has not moved, the file's md5 is unchanged and level 2
# powers off cleanly.
#
# slabtest.dimmpin=N (level 1's kernel arguments) makes N files instead of 4000; 0 skips
# the pinning, to see whether Linux refuses without it.

MiB=1048576
DIMM=$((256 * MiB))
FILL=32
PIN=4000
L2_QMP=/tmp/q.sock
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.dimmpin=*) PIN=${arg#*=} ;;
	esac
done

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
slabvm ctl --help 2>&1 | grep -q -- "--wait" || fail "this slabvm has no 'slabvm ctl --wait'"

phase boot
t_start=$(slabtest_uptime)
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr slabtest.scenario=dimm \
memhp_default_state=online_kernel"
l2_start dimm --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem 384M --maxmem 640M \
	--slots 1 --cpus 1 --qmp "$L2_QMP" --cmdline "$cmdline"
l2_ready 120
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total0=$2
log "level 2 ready after $(slabtest_since "$t_start") s: MemTotal $total0 kB"

phase plug
l2_ctl object-add qom-type=memory-backend-memfd id=m1 size=$DIMM
l2_ctl device_add driver=pc-dimm id=d1 memdev=m1
l2_wait_memtotal $((total0 + DIMM / 1024)) 100
total1=$L2_MEMTOTAL
log "plugged: MemTotal $total0 -> $total1 kB"

phase "fill and pin"
l2_cmd 200 120 fill $FILL
# shellcheck disable=SC2086 # split into words
set -- $REPLY
[ "$1" = FILL ] || l2_fail "level 2's fill failed: $REPLY"
sum=$2
log "level 2 wrote $FILL MiB, md5 $sum; ZONE_NORMAL free $3 -> $4 kB"
[ $(($3 - $4)) -ge $((FILL * 1024 * 3 / 4)) ] ||
	l2_fail "ZONE_NORMAL's free memory dropped by $(($3 - $4)) kB, less than 3/4 of the \
$FILL MiB written: the file is not in the DIMM"
if [ "$PIN" != 0 ]; then
	l2_cmd 201 120 pin "$PIN"
	# shellcheck disable=SC2086 # split into words
	set -- $REPLY
	log "level 2 made $PIN files: ZONE_NORMAL free $2 -> $3 kB, SUnreclaim $4 -> $5 kB"
	[ "$1" = PIN ] && [ "$3" -lt "$2" ] ||
		l2_fail "level 2's pin took nothing from the DIMM: $REPLY"
fi

phase "refused unplug"
t0=$(slabtest_uptime)
CTL=$(timeout 150 slabvm ctl --wait ACPI_DEVICE_OST --match info.device=d1 \
	--match info.status!=132 --timeout 120 "$L2_QMP" device_del id=d1 2>&1) ||
	l2_fail "slabvm ctl --wait ACPI_DEVICE_OST device_del id=d1: exit status $?: $CTL"
ost=$(echo "$CTL" | tail -1)
log "device_del d1, then after $(slabtest_since "$t0") s: $ost"
status=$(json_num "$ost" status)
[ -n "$status" ] && [ "$status" != 0 ] ||
	l2_fail "level 2 did not report a failure through _OST: $ost"
l2_ctl query-memory-devices
log "query-memory-devices: $CTL"
echo "$CTL" | grep -q '"id":"d1"' || l2_fail "query-memory-devices lost d1: $CTL"
l2_cmd 300 30 mem
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total=$2
[ "$total" = "$total1" ] || l2_fail "level 2's MemTotal moved from $total1 to $total kB"
l2_cmd 301 120 check
[ "$REPLY" = "CHECK $sum" ] || l2_fail "the file in the DIMM changed: md5 $sum, now $REPLY"
log "d1 stays plugged, MemTotal $total kB, the file's md5 unchanged"

phase power-off
l2_finish 400
log "dimm-refuse: slabvm ran $(slabtest_since "$t_start") s"
budget_end
pass
