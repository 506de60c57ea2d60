# balloon-soak: the balloon again and again, to find what fails once in many inflates (as
# soak.sh does for boots). Not in the meson suite:
#   guests/run-testbed --dir build/tests/testbed/images --timeout 7200 --silence 300 \
#       --append "slabtest.soakrounds=60" balloon-soak
#
# slabvm runs level 2 (scenarios/l2/balloon.sh) several times, with 1 and 2 vCPUs in turn,
# and each run does several rounds of:
#  1. level 2 touches FILL MiB (a tmpfs file, deleted again);
#  2. inflate to a random target between LOW (3/8 of MEM) and MEM - 8 MiB; once query-balloon's
#     actual is there: query-balloon's target and inflated match it, everything inflated is
#     released and nothing pinned (no vfio device), query-granules' counts add up (every
#     granule in one state, the regions' counts summing to the totals, the discarded and
#     partial granules holding what is inflated) and agree with query-balloon, slabvm's
#     VmRSS is at most what is not released plus 16 MiB, and level 2 answers on its
#     console with a MemTotal exactly the inflated bytes below its first;
#  3. deflate to MEM: nothing inflated, every granule mapped, MemTotal back exactly.
# Every wait is bounded; a failure prints slabvm_report (exit status, stderr, console tail,
# the vCPUs and threads of a slabvm that still runs, level 1's kernel log). The last line:
#   balloon-soak: N rounds in R runs (1 vCPU: A, 2 vCPUs: B), seed S, T s
#
# Level-1 kernel arguments (run-testbed --append):
#   slabtest.soakrounds=N   rounds in all (default 20)
#   slabtest.soakper=R      rounds per slabvm run (default 5)
#   slabtest.soakmem=MiB    level 2's RAM (default 256)
#   slabtest.soakfill=MiB   what level 2 touches each round (default MEM/4)
#   slabtest.soaklow=MiB    LOW, the smallest target (default 3/8 of MEM)
#   slabtest.soakfeat=LIST  --balloon=LIST (default stats,free-page-reporting: slabvm's
#                           own default, as a user runs it)
#   slabtest.soakseed=S     the seed of the targets (default: the time); the same seed
#                           gives the same targets

rounds=20
per=5
memmib=256
fill=
low=
features=stats,free-page-reporting
seed=$(date +%s)
vfio=0
granule=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.soakrounds=*) rounds=${arg#*=} ;;
	slabtest.soakper=*) per=${arg#*=} ;;
	slabtest.soakmem=*) memmib=${arg#*=} ;;
	slabtest.soakfill=*) fill=${arg#*=} ;;
	slabtest.soaklow=*) low=${arg#*=} ;;
	slabtest.soakfeat=*) features=${arg#*=} ;;
	slabtest.soakseed=*) seed=${arg#*=} ;;
	slabtest.soakvfio=*) vfio=${arg#*=} ;;
	slabtest.soakgranule=*) granule=${arg#*=} ;;
	esac
done
fill=${fill:-$((memmib / 4))}
low=${low:-$((memmib * 3 / 8))}
MiB=1048576
mem=$((memmib * MiB))
L2_QMP=/tmp/soak.sock
log "balloon-soak: $rounds rounds, $per per run, ${memmib} MiB, touching $fill MiB a round, \
targets $low-$((memmib - 8)) MiB, --balloon=$features, seed $seed, vfio $vfio, \
granule ${granule:-default}"

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
extra=
if [ "$vfio" = 1 ]; then
	modprobe vfio-pci || fail "modprobe vfio-pci failed"
	edu=$(pci_find 1234 11e8)
	[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
	group=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
	log "edu $edu is bound to vfio-pci, IOMMU group $group"
	extra="--vfio $edu"
fi
[ -n "$granule" ] && extra="$extra --granule $granule"

# target ROUND: round ROUND's balloon target in bytes, from the seed: LOW to MEM - 8 MiB, in
# whole MiB.
target() {
	awk -v s="$seed" -v r="$1" -v lo="$low" -v hi=$((memmib - 8)) \
		'BEGIN { srand(s * 7919 + r); printf "%d\n", (lo + int(rand() * (hi - lo + 1))) * 1048576 }'
}

# check_granules WANT_INFLATED WANT_RELEASED WANT_PINNED: query-granules agrees with
# query-balloon's inflated, released and inflated-but-pinned bytes, and its counts add up.
check_granules() {
	l2_ctl query-granules
	g=$CTL
	gsize=$(json_num "$g" granule-size)
	n_unplugged=$(json_num "$g" unplugged)
	n_mapped=$(json_num "$g" mapped)
	n_partial=$(json_num "$g" partial)
	n_discarded=$(json_num "$g" discarded)
	for s in unplugged mapped partial discarded; do
		# The first is the total, the others the regions'.
		echo "$g" | grep -o "\"$s\": *[0-9]*" | sed 's/.*: *//' |
			awk 'NR == 1 { n = $1; next } { t += $1 } END { exit n != t }' ||
			l2_fail "round $round: query-granules' $s granules are not its regions' sum: $g"
	done
	all=$((n_unplugged + n_mapped + n_partial + n_discarded))
	[ "$all" = $((mem / gsize)) ] ||
		l2_fail "round $round: query-granules counts $all granules, not $((mem / gsize)): $g"
	[ "$n_unplugged" = 0 ] || l2_fail "round $round: unplugged granules without DIMMs: $g"
	[ "$(json_num "$g" plugged-bytes)" = "$mem" ] ||
		l2_fail "round $round: plugged-bytes is not $mem: $g"
	[ "$(json_num "$g" inflated-bytes)" = "$1" ] && [ "$(json_num "$g" released-bytes)" = "$2" ] &&
		[ "$(json_num "$g" inflated-pinned-bytes)" = "$3" ] ||
		l2_fail "round $round: query-granules' bytes disagree with query-balloon's \
inflated $1 released $2 inflated-pinned $3: $g"
	# With a pinning listener exactly the wholly inflated granules are released.
	[ "$vfio" != 1 ] || [ $((n_discarded * gsize)) = "$2" ] ||
		l2_fail "round $round: $2 bytes released with a device assigned, not the \
$n_discarded discarded granules of $gsize bytes: $g"
	[ $((n_discarded * gsize)) -le "$1" ] &&
		[ "$1" -le $(((n_discarded + n_partial) * gsize)) ] ||
		l2_fail "round $round: $1 bytes inflated do not fit $n_discarded discarded and \
$n_partial partial granules of $gsize bytes: $g"
}

# mem_total: level 2's MemTotal in kB, through its console (a round trip).
mem_total() {
	seq=$((seq + 1))
	l2_cmd $seq 60 mem
	# shellcheck disable=SC2086 # split into words
	set -- $REPLY
	MEMTOTAL=$2
}

quiet="quiet"
cmdline="console=ttyS0 panic=-1 $quiet cryptomgr.notests=1 nokaslr slabtest.scenario=balloon"
round=0
run=0
runs1=0
runs2=0
t_soak=$(slabtest_uptime)
while [ $round -lt "$rounds" ]; do
	run=$((run + 1))
	cpus=$((2 - run % 2))
	eval "runs$cpus=\$((runs$cpus + 1))"
	phase "run $run: boot ($cpus vCPUs)"
	# shellcheck disable=SC2086 # $extra is a list of options
	l2_start soak --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem "${memmib}M" \
		--cpus $cpus --balloon="$features" --qmp "$L2_QMP" $extra --cmdline "$cmdline"
	l2_reply 0 180
	case "$REPLY" in
	READY*) ;;
	*) l2_fail "run $run: level 2's first reply is not READY: $REPLY" ;;
	esac
	# shellcheck disable=SC2086 # split into words
	set -- $REPLY
	total0=$2
	for _ in $(seq 50); do [ -S "$L2_QMP" ] && break; sleep 0.1; done
	[ -S "$L2_QMP" ] || l2_fail "run $run: no QMP socket $L2_QMP"
	seq=0
	i=0
	while [ $i -lt "$per" ] && [ $round -lt "$rounds" ]; do
		i=$((i + 1))
		round=$((round + 1))
		t_round=$(slabtest_uptime)
		want=$(target $round)
		inflate=$((mem - want))

		phase "round $round: touch $fill MiB"
		seq=$((seq + 1))
		l2_cmd $seq 600 fill "$fill" zero
		case "$REPLY" in FILL\ OK*) ;; *) l2_fail "round $round: fill failed: $REPLY" ;; esac

		phase "round $round: inflate $((inflate / MiB)) MiB"
		l2_ctl balloon value="$want"
		l2_wait_actual "$want" 300
		q=$CTL
		released=$(json_num "$q" released)
		pinned=$(json_num "$q" inflated-pinned)
		if [ "$vfio" = 1 ]; then
			[ $((released + pinned)) = $inflate ] || l2_fail "round $round: released \
$released and inflated-pinned $pinned bytes do not add up to the $inflate inflated: $q"
		else
			[ "$released" = $inflate ] && [ "$pinned" = 0 ] || l2_fail "round $round: \
not everything inflated ($inflate) released, or some pinned, without a device: $q"
		fi
		[ "$(json_num "$q" target)" = "$want" ] && [ "$(json_num "$q" inflated)" = $inflate ] ||
			l2_fail "round $round: query-balloon does not add up for target $want \
(inflated $inflate): $q"
		check_granules $inflate "$released" "$pinned"
		rss=$(l2_rss)
		[ "$rss" -le $(((mem - released) / 1024 + 16384)) ] ||
			l2_fail "round $round: slabvm's VmRSS $rss kB is more than the \
$(((mem - released) / 1024)) kB not released plus 16 MiB"
		mem_total
		[ "$MEMTOTAL" = $((total0 - inflate / 1024)) ] ||
			l2_fail "round $round: level 2's MemTotal is $MEMTOTAL kB, not $total0 - \
$((inflate / 1024)) kB"
		log "round $round: inflated $inflate bytes, released $released: MemTotal $MEMTOTAL kB, \
VmRSS $rss kB, granules mapped $n_mapped partial $n_partial discarded $n_discarded"

		phase "round $round: deflate"
		l2_ctl balloon value=$mem
		l2_wait_actual $mem 300
		q=$CTL
		[ "$(json_num "$q" inflated)" = 0 ] && [ "$(json_num "$q" released)" = 0 ] ||
			l2_fail "round $round: bytes still inflated after the deflate: $q"
		check_granules 0 0 0
		[ "$n_mapped" = $((mem / gsize)) ] ||
			l2_fail "round $round: not every granule mapped after the deflate: $g"
		mem_total
		[ "$MEMTOTAL" = "$total0" ] ||
			l2_fail "round $round: MemTotal $MEMTOTAL kB after the deflate, not $total0 kB"
		log "round $round/$rounds (run $run, $cpus vCPUs): OK, target $want, \
$(slabtest_since "$t_round") s"
	done
	phase "run $run: power-off"
	seq=$((seq + 1))
	l2_cmd $seq 30 "done"
	l2_end 60
	[ "$L2_STATUS" = 0 ] || slabvm_fail "run $run: slabvm exited with status $L2_STATUS" \
		"$L2_STATUS" "$L2_OUT" "$L2_ERR"
	grep -q "SLABTEST-L2: PASS" "$L2_OUT" || slabvm_fail "run $run: no SLABTEST-L2: PASS \
($(tr -d '\r' <"$L2_OUT" | grep -oE "SLABTEST-L2: (FAIL|SKIP).*" | head -1))" 0 "$L2_OUT" \
		"$L2_ERR"
done
echo "balloon-soak: $round rounds in $run runs (1 vCPU: $runs1, 2 vCPUs: $runs2), seed $seed, \
vfio $vfio, $(slabtest_since "$t_soak") s"
budget_end
pass
