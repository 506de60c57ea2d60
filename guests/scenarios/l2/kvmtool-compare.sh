# kvmtool-compare (level 2): the same level-2 image under slabvm and under kvmtool
# (guests/scenarios/kvmtool-compare.sh). It needs no console input (kvmtool reads its
# console only from a terminal), so it runs on its own from its kernel command line:
#
# Without slabtest.fill: a boot. It prints when the kernel ran /init, the CPUs and RAM it
# has, and passes; level 1 timed the boot by init's first line (SLABTEST-L2: BEGIN).
#
# With slabtest.fill=MIB slabtest.inflate=MIB: the balloon. It checks that virtio_balloon
# drives a virtio-balloon device, writes MIB MiB of zeros to a tmpfs file and deletes it
# (the guest touches that RAM, which stays backed in level 1), prints
#   L2CMP FILLED <MemTotal kB> <seconds the fill took>
# and then reads MemTotal every 0.2 s until it has fallen by the inflate's MiB (the driver
# takes each page out of MemTotal as it hands it over; deflate-on-OOM would stop that and
# is checked off), and prints
#   L2CMP INFLATED <MemTotal kB> <seconds since FILLED, its own clock>
# Level 1 starts the inflate after FILLED and times it by INFLATED's arrival, then
# deflates the balloon again; once MemTotal is back it prints
#   L2CMP DEFLATED <MemTotal kB> <seconds since INFLATED>
# and passes. A boot prints its kernel log's five longest gaps (L2CMP GAP).

fill=
inflate=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.fill=*) fill=${arg#*=} ;;
	slabtest.inflate=*) inflate=${arg#*=} ;;
	esac
done

ran_init=$(dmesg | sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' | head -1)
echo "L2CMP BOOT kernel ran /init at ${ran_init:-?} s, uptime $(slabtest_uptime) s, CPUs \
$(cat /sys/devices/system/cpu/online), $(grep MemTotal /proc/meminfo | tr -s ' ')"
if [ -z "$fill" ]; then
	# Where the kernel's time went: its log's five longest gaps, each with the line that
	# ended it (the work before that line took the time).
	dmesg | awk '{ t = substr($0, 2, index($0, "]") - 2) + 0
		if (NR > 1) printf "%.3f %.3f %s\n", t - p, p, substr($0, index($0, "]") + 2)
		p = t }' | sort -rn | head -5 |
		awk '{ printf "L2CMP GAP %s s after %s s, then: ", $1, $2
			$1 = $2 = ""; print substr($0, 3) }'
	pass
fi

# memtotal: MemTotal in kB into MT, and whole seconds of uptime into UP, with shell
# builtins only: no process per look (a command substitution would fork one).
memtotal() {
	while read -r key MT _; do
		[ "$key" = MemTotal: ] && break
	done </proc/meminfo
	read -r UP _ </proc/uptime
	UP=${UP%.*}
}

# A virtio-balloon device (modern 1af4:1045 or transitional 1af4:1005) driven by
# virtio_balloon, without deflate-on-OOM (feature bit 2).
vdev=
for d in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
	[ -e "$d" ] && vdev=$d
done
[ -n "$vdev" ] || fail "no device bound to virtio_balloon: $(dmesg | grep -i virtio | tail -5)"
features=$(cat "$vdev/features")
[ "$(echo "$features" | cut -c3)" = 0 ] ||
	fail "deflate-on-OOM was negotiated: MemTotal would not follow the balloon"

read -r t0 _ </proc/uptime
mkdir -p /mnt/fill
mount -t tmpfs -o size=$((fill + 16))m fill /mnt/fill
dd if=/dev/zero of=/mnt/fill/f bs=1M count="$fill" 2>/dev/null
size=$(($(wc -c </mnt/fill/f) >> 20))
rm -f /mnt/fill/f
umount /mnt/fill
[ "$size" = "$fill" ] || fail "wrote $size MiB to tmpfs, not $fill"
read -r t1 _ </proc/uptime
memtotal
total=$MT
target=$((total - inflate * 1024))
echo "L2CMP FILLED $total $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"

read -r t0 _ </proc/uptime
end=$((${t0%.*} + 900))
while :; do
	memtotal
	[ "$MT" -le "$target" ] && break
	[ "$UP" -lt "$end" ] ||
		fail "MemTotal is $MT kB after 900 s, not yet $target kB (the inflate stalled)"
	sleep 0.2
done
read -r t1 _ </proc/uptime
echo "L2CMP INFLATED $MT $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"

# Level 1 reads the VMM's figures and then deflates the whole balloon: MemTotal coming back
# is how this side learns that level 1 is done (it has no console input).
t0=$t1
end=$((${t0%.*} + 900))
while :; do
	memtotal
	[ "$MT" -ge "$total" ] && break
	[ "$UP" -lt "$end" ] ||
		fail "MemTotal is $MT kB after 900 s, not yet back to $total kB (the deflate stalled)"
	sleep 0.2
done
read -r t1 _ </proc/uptime
echo "L2CMP DEFLATED $MT $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
pass
