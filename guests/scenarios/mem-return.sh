# mem-return (a benchmark, not a test): how much of what a real Linux balloon driver gives
# up comes back to the host, with a device assigned and without. Level 2 (the balloon
# scenario's level-2 script, guests/scenarios/l2/balloon.sh) boots with --balloon=stats;
# level 1 inflates it to half its RAM over QMP and reads, before and after, its own Shmem
# plus AnonPages (slabvm's boot RAM is a memfd or, with the default thp where level 1 gives
# huge pages to anonymous memory only, anonymous memory: the host memory it holds) and
# query-balloon's inflated, released and inflated-but-pinned bytes. Runs: no device
# (granule 2M: anonymous RAM releases whole granules, a memfd every inflated page), then
# edu assigned at granules 4K, 64K and 2M (192 MiB of RAM: 4K granules of 256 MiB would exceed type1's
# dma_entry_limit) and 1G (1 GiB of RAM). Before the inflate level 2 writes half its RAM
# plus 16 MiB to tmpfs and deletes it (as the balloon scenario does), so that without a
# device the memory the balloon takes is backed too, and every run starts from the same
# guest state; not at 1G, where half the RAM can never fill a granule. With a device all
# RAM is pinned from the start, so level 1 holds all of it before the inflate.
# Each run prints one "mem-return:" line (docs/design.md, "Measured").

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"

phase bind
edu=$(pci_find 1234 11e8)
[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
group=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
log "edu $edu is bound to vfio-pci, IOMMU group $group"

MiB=1048576
L2_QMP=/tmp/q.sock
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr slabtest.scenario=balloon"
# Level 1's memory in guest RAM's two kinds, kB: Shmem (memfd backing) plus AnonPages
# (anonymous boot RAM, the default where level 1 gives THP to anonymous memory only).
shmem() {
	awk '/^(Shmem|AnonPages):/ { s += $2 } END { print s }' /proc/meminfo
}
seq=0
for run in "none 2M 192" "edu 4K 192" "edu 64K 192" "edu 2M 192" "edu 1G 1024"; do
	# shellcheck disable=SC2086 # split into words
	set -- $run
	dev=$1 g=$2 memmib=$3
	mem=$((memmib * MiB))
	phase "$dev, granule $g, ${memmib} MiB"
	vfio=
	[ "$dev" = edu ] && vfio="--vfio $edu"
	s_before=$(shmem)
	# shellcheck disable=SC2086 # $vfio is empty or two words
	l2_start balloon --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem "${memmib}M" \
		--granule "$g" --cpus 1 --balloon=stats --qmp "$L2_QMP" $vfio --cmdline "$cmdline"
	l2_reply 0 180
	case "$REPLY" in READY*) ;; *) l2_fail "level 2's first reply is not READY: $REPLY" ;; esac
	for _ in $(seq 50); do [ -S "$L2_QMP" ] && break; sleep 0.1; done
	seq=1
	if [ "$g" != 1G ]; then
		l2_cmd $seq 600 fill $((memmib / 2 + 16)) zero
		case "$REPLY" in FILL\ OK*) ;; *) l2_fail "level 2's fill failed: $REPLY" ;; esac
		seq=$((seq + 1))
	fi
	s0=$(shmem)
	l2_ctl balloon value=$((mem / 2))
	l2_wait_actual $((mem / 2)) 600
	q=$CTL
	sleep 1
	s1=$(shmem)
	inflated=$(json_num "$q" inflated)
	released=$(json_num "$q" released)
	pinned=$(json_num "$q" inflated-pinned)
	[ "$inflated" = $((mem / 2)) ] || l2_fail "inflated is $inflated, not $((mem / 2)): $q"
	awk -v dev="$dev" -v g="$g" -v m="$memmib" -v i="$inflated" -v r="$released" \
		-v p="$pinned" -v b="$s_before" -v s0="$s0" -v s1="$s1" 'BEGIN {
		M = 1048576
		printf "mem-return: device %s, granule %s, RAM %d MiB: inflated %.1f MiB, released " \
			"%.1f MiB (%.1f%%), inflated-but-pinned %.1f MiB; level 1 Shmem+AnonPages %.1f -> %.1f " \
			"MiB, returned %.1f MiB (%.1f%% of inflated)\n", dev, g, m, i / M, r / M,
			100 * r / i, p / M, (s0 - b) / 1024, (s1 - b) / 1024, (s0 - s1) / 1024,
			100 * (s0 - s1) * 1024 / i }'
	l2_cmd "$seq" 30 "done"
	l2_end 60
	[ "$L2_STATUS" = 0 ] || slabvm_fail "slabvm exited with status $L2_STATUS" "$L2_STATUS" \
		"$L2_OUT" "$L2_ERR"
done
budget_end
pass
