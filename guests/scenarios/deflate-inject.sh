# deflate-inject: the held deflate buffer (docs/design.md, "The balloon with a pinning
# listener") against level 1's real type1 IOMMU, with a real failure injected: slabvm runs a
# level-2 Linux (scenarios/l2/balloon.sh) with level 1's edu assigned at a 2M granule, and
#  1. level 1 inflates the balloon by 64 MiB over QMP: the wholly inflated granules are
#     unmapped and released, and slabvm's VmLck (the mm's locked_vm, which type1 charges for
#     every page it pins) drops by exactly the released bytes;
#  2. slabvm's soft RLIMIT_MEMLOCK is set (slabtest-memlock, prlimit(2); busybox has no
#     prlimit) to one granule below what it has locked now. slabvm mapped its RAM at start
#     with CAP_IPC_LOCK but has no capability left (CapEff 0), and type1 checks the limit of
#     a task without CAP_IPC_LOCK at each MAP_DMA (vfio_pin_pages_remote), so the deflate's
#     first map of a released granule fails with ENOMEM and level 1's kernel says
#     "RLIMIT_MEMLOCK (LIMIT) exceeded";
#  3. level 1 deflates to the whole RAM: SLABVM_BALLOON_DEFLATE_STALLED comes (waiting-pfns
#     > 0, "Cannot allocate memory"); query-balloon's deflate object shows the held buffer
#     (held, waiting-pfns, restore-failures, last-error), and once a retry has failed too
#     (slabvm retries 1 s after the stall, then 2 s and 4 s later) still shows it held with
#     more restore failures, while actual and level 2's MemTotal stay where they are
#     (MemTotal exactly the bytes still ballooned below its first), and level 2 answers on
#     its console;
#  4. the limit goes back: the next retry (at most 8 s later) maps every granule,
#     SLABVM_BALLOON_DEFLATE_DONE comes with returned true, actual and MemTotal come back
#     exactly, one stall and one return in all, every granule mapped and VmLck what it was,
#     and level 2 writes a tmpfs file larger than its free memory while the buffer was held
#     (so into memory it got back) from urandom, with its md5 as written and as read back
#     equal; then level 2 has edu read 2 KiB by DMA from each granule (RAM -> edu, which
#     leaves the guest's memory as it is): every one is mapped in level 1's IOMMU again.
#     No DMA remapping fault in level 1's log, and slabvm ends with status 0.
# A failure prints slabvm_report. The last line:
#   deflate-inject: LIMIT held N pfns for T s (R restore failures), returned after the
#   limit went back in T2 s, M MiB written back

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
command -v slabtest-memlock >/dev/null || fail "level 1 has no slabtest-memlock (build-testbed --tool)"
slabvm ctl --help 2>&1 | grep -q -- "--wait" || fail "this slabvm has no 'slabvm ctl --wait'"

phase bind
edu=$(pci_find 1234 11e8)
[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
group=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
log "edu $edu is bound to vfio-pci, IOMMU group $group"

MiB=1048576
# Level 2's RAM, small so that the fill in "use it" (free memory while the buffer is held,
# plus 8 MiB, from urandom: 1-2 MiB/s under TCG) stays short: with 64 MiB ballooned, 136 MiB
# leave level 2 about 7 MiB free (its kernel and initramfs hold 28 MiB), a 15 MiB fill; at
# 160 MiB it had 30 MiB free and wrote 38 MiB, twice as long.
memmib=136
mem=$((memmib * MiB))
inflate=$((64 * MiB))
want=$((mem - inflate))
L2_QMP=/tmp/q.sock

# json_bool JSON NAME: the first true or false named NAME in JSON.
json_bool() {
	echo "$1" | grep -o "\"$2\": *\(true\|false\)" | head -1 | sed 's/.*: *//'
}
# json_str JSON NAME: the first string named NAME in JSON.
json_str() {
	echo "$1" | grep -o "\"$2\": *\"[^\"]*\"" | head -1 | sed 's/^[^:]*: *"//; s/"$//'
}
# vm_lck: slabvm's VmLck (locked_vm) in kB.
vm_lck() {
	awk '/^VmLck:/ { print $2 }' "/proc/$L2_PID/status"
}
# dmar_faults: level 1's DMA remapping fault lines so far.
dmar_faults() {
	dmesg | grep -cE "DMAR: \[DMA (Read|Write)|DRHD: handling fault|DMAR: .*fault"
}
# mem_total: level 2's MemTotal and MemFree in kB, through its console (a round trip).
mem_total() {
	seq=$((seq + 1))
	l2_cmd $seq 60 mem
	# shellcheck disable=SC2086 # split into words
	set -- $REPLY
	[ "$1" = MEM ] || l2_fail "level 2's mem reply is not MEM: $REPLY"
	MEMTOTAL=$2 MEMFREE=$3
}

phase boot
faults0=$(dmar_faults)
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr slabtest.scenario=balloon"
l2_start deflate --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem "${memmib}M" --granule 2M \
	--cpus 1 --balloon=stats --qmp "$L2_QMP" --vfio "$edu" --cmdline "$cmdline"
l2_ready 180
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total0=$2
seq=0
cap=$(awk '/^CapEff:/ { print $2 }' "/proc/$L2_PID/status")
[ "$cap" = 0000000000000000 ] ||
	l2_fail "slabvm still holds capabilities (CapEff $cap): MAP_DMA would ignore RLIMIT_MEMLOCK"
lck0=$(vm_lck)
[ "$lck0" -ge $((mem / 1024)) ] ||
	l2_fail "slabvm's VmLck is $lck0 kB, less than its $((mem / 1024)) kB of RAM, all pinned"

phase "inflate $((inflate / MiB)) MiB"
l2_balloon $want 120
q=$CTL
released=$(json_num "$q" released)
pinned=$(json_num "$q" inflated-pinned)
[ "$(json_num "$q" inflated)" = $inflate ] && [ $((released + pinned)) = $inflate ] ||
	l2_fail "released and inflated-but-pinned do not add up to the $inflate inflated: $q"
[ "$released" -gt 0 ] || l2_fail "no granule released: nothing for the deflate to map: $q"
l2_ctl query-granules
g=$CTL
gsize=$(json_num "$g" granule-size)
[ "$gsize" = $((2 * MiB)) ] || l2_fail "the granule is $gsize bytes, not 2 MiB: $g"
discarded=$(json_num "$g" discarded)
[ $((discarded * gsize)) = "$released" ] ||
	l2_fail "$discarded discarded granules are not the $released bytes released: $g"
lck1=$(vm_lck)
[ $((lck0 - lck1)) = $((released / 1024)) ] ||
	l2_fail "VmLck went from $lck0 to $lck1 kB, not down by the $((released / 1024)) kB released"
mem_total
[ "$MEMTOTAL" = $((total0 - inflate / 1024)) ] ||
	l2_fail "level 2's MemTotal is $MEMTOTAL kB, not $total0 - $((inflate / 1024)) kB"
log "inflated $inflate bytes: released $released ($discarded granules unmapped), \
inflated-but-pinned $pinned; VmLck $lck0 -> $lck1 kB; MemTotal $total0 -> $MEMTOTAL kB"

phase "lower RLIMIT_MEMLOCK"
limit=$((lck1 * 1024 - gsize))
old=$(slabtest-memlock "$L2_PID" $limit) || l2_fail "slabtest-memlock $L2_PID $limit failed"
# shellcheck disable=SC2086 # split into words
set -- $old
soft0=$1
now=$(slabtest-memlock "$L2_PID") || l2_fail "slabtest-memlock $L2_PID failed"
[ "${now%% *}" = $limit ] || l2_fail "slabvm's RLIMIT_MEMLOCK is $now after setting $limit"
log "slabvm's RLIMIT_MEMLOCK: $old -> $now (VmLck $lck1 kB)"
warn0=$(dmesg | grep -c "RLIMIT_MEMLOCK ($limit) exceeded")

phase "deflate held"
t_stall=$(slabtest_uptime)
CTL=$(timeout 60 slabvm ctl --wait SLABVM_BALLOON_DEFLATE_STALLED --timeout 45 "$L2_QMP" \
	balloon value=$mem 2>&1) ||
	l2_fail "slabvm ctl --wait SLABVM_BALLOON_DEFLATE_STALLED balloon value=$mem: exit \
status $?: $CTL"
ev=$(echo "$CTL" | grep SLABVM_BALLOON_DEFLATE_STALLED)
log "stalled after $(slabtest_since "$t_stall") s: $ev"
[ "$(json_num "$ev" waiting-pfns)" -gt 0 ] && [ "$(json_str "$ev" error)" = "Cannot allocate memory" ] ||
	l2_fail "SLABVM_BALLOON_DEFLATE_STALLED does not say pages wait for ENOMEM: $ev"
l2_ctl query-balloon
q1=$CTL
actual1=$(json_num "$q1" actual)
[ "$(json_bool "$q1" held)" = true ] && [ "$(json_num "$q1" waiting-pfns)" -gt 0 ] &&
	[ "$(json_num "$q1" restore-failures)" -gt 0 ] &&
	[ "$(json_str "$q1" last-error)" = "Cannot allocate memory" ] ||
	l2_fail "query-balloon does not show the held deflate buffer: $q1"
[ "$actual1" -lt $mem ] || l2_fail "actual is back to $mem with a buffer held: $q1"
mem_total
held_total=$MEMTOTAL held_free=$MEMFREE
[ "$MEMTOTAL" = $((total0 - (mem - actual1) / 1024)) ] ||
	l2_fail "level 2's MemTotal is $MEMTOTAL kB with actual $actual1: not $total0 kB less \
the $(((mem - actual1) / 1024)) kB still ballooned"
# The next retry (1 s after the stall, then 2 and 4 s later) must fail while nothing moves.
fails1=$(json_num "$q1" restore-failures)
end=$(($(slabtest_uptime | cut -d. -f1) + 20))
while :; do
	l2_ctl query-balloon
	q2=$CTL
	[ "$(json_num "$q2" restore-failures)" -gt "$fails1" ] && break
	[ "$(json_bool "$q2" held)" = true ] && [ "$(json_num "$q2" actual)" = "$actual1" ] ||
		break
	[ "$(slabtest_uptime | cut -d. -f1)" -lt "$end" ] ||
		l2_fail "no retry of the held buffer within 20 s: $q1 then $q2"
	sleep 0.2
done
t_retry=$(slabtest_since "$t_stall")
[ "$(json_bool "$q2" held)" = true ] && [ "$(json_num "$q2" actual)" = "$actual1" ] &&
	[ "$(json_num "$q2" restore-failures)" -gt "$(json_num "$q1" restore-failures)" ] &&
	[ "$(json_num "$q2" retries)" -gt 0 ] ||
	l2_fail "the held buffer did not stay held with failing retries: $q1 then $q2"
mem_total
[ "$MEMTOTAL" = "$held_total" ] ||
	l2_fail "level 2's MemTotal moved from $held_total to $MEMTOTAL kB with the buffer held"
[ "$(vm_lck)" = "$lck1" ] || l2_fail "VmLck moved from $lck1 to $(vm_lck) kB with the limit lower"
warn=$(dmesg | grep -c "RLIMIT_MEMLOCK ($limit) exceeded")
[ "$warn" -gt "$warn0" ] ||
	l2_fail "level 1's kernel did not say 'RLIMIT_MEMLOCK ($limit) exceeded': $(dmesg | tail -5)"
[ "$(dmar_faults)" = "$faults0" ] || l2_fail "DMA remapping faults in level 1: $(dmesg | grep DMAR | tail -5)"
log "held: actual $actual1, MemTotal $MEMTOTAL kB, MemFree $held_free kB; a retry failed \
$t_retry s after the deflate command: $q2; level 1: $(dmesg | grep "RLIMIT_MEMLOCK ($limit) exceeded" | tail -1)"

phase "limit back"
t_back=$(slabtest_uptime)
timeout 60 slabvm ctl --wait SLABVM_BALLOON_DEFLATE_DONE --timeout 45 "$L2_QMP" query-balloon \
	>/tmp/done.out 2>&1 &
ctl=$!
# The command's reply first: the wait began before the limit goes back.
for _ in $(seq 100); do [ -s /tmp/done.out ] && break; sleep 0.1; done
[ -s /tmp/done.out ] || l2_fail "slabvm ctl --wait SLABVM_BALLOON_DEFLATE_DONE did not answer"
slabtest-memlock "$L2_PID" "$soft0" >/dev/null || l2_fail "slabtest-memlock $L2_PID $soft0 failed"
wait $ctl || l2_fail "slabvm ctl --wait SLABVM_BALLOON_DEFLATE_DONE: exit status $?: \
$(cat /tmp/done.out)"
ev=$(grep SLABVM_BALLOON_DEFLATE_DONE /tmp/done.out)
t_done=$(slabtest_since "$t_back")
[ "$(json_bool "$ev" returned)" = true ] || l2_fail "the held buffer was not returned: $ev"
log "returned $t_done s after the limit went back: $ev"
l2_wait_actual $mem 60
q=$CTL
[ "$(json_bool "$q" held)" = false ] && [ "$(json_num "$q" waiting-pfns)" = 0 ] &&
	[ "$(json_num "$q" stalls)" = 1 ] && [ "$(json_num "$q" returned)" = 1 ] &&
	[ "$(json_num "$q" dropped)" = 0 ] && [ "$(json_num "$q" inflated)" = 0 ] ||
	l2_fail "query-balloon after the return: not one stall and one return, or pages left: $q"
l2_ctl query-granules
g=$CTL
[ "$(json_num "$g" mapped)" = $((mem / gsize)) ] || l2_fail "not every granule mapped: $g"
[ "$(vm_lck)" = "$lck0" ] || l2_fail "VmLck is $(vm_lck) kB after the deflate, not $lck0 kB"
mem_total
[ "$MEMTOTAL" = "$total0" ] || l2_fail "MemTotal $MEMTOTAL kB after the deflate, not $total0 kB"

phase "use it"
# More than was free while the buffer was held: some of it lands in what came back.
fill=$((held_free / 1024 + 8))
[ $((fill + 16)) -le $((MEMFREE / 1024)) ] ||
	l2_fail "level 2 has $MEMFREE kB free, too little for $fill MiB and 16 MiB to spare"
seq=$((seq + 1))
l2_cmd $seq 120 fill $fill urandom
case "$REPLY" in FILL\ OK*) ;; *) l2_fail "level 2's fill of $fill MiB failed: $REPLY" ;; esac
log "level 2 wrote and read back $fill MiB (MemFree $MEMFREE kB, $held_free kB while held): $REPLY"
# Every granule takes edu's DMA again: one read (RAM -> edu) from each, by level 2, and no
# fault in level 1's IOMMU.
seq=$((seq + 1))
l2_cmd $seq 120 dmaread "$gsize" $mem
[ "$REPLY" = "DMAREAD $((mem / gsize))" ] ||
	l2_fail "level 2's edu did not read from each of the $((mem / gsize)) granules: $REPLY"
[ "$(dmar_faults)" = "$faults0" ] || l2_fail "DMA remapping faults in level 1: $(dmesg | grep DMAR | tail -5)"

phase "power-off"
l2_finish $((seq + 1))
echo "deflate-inject: RLIMIT_MEMLOCK $limit held $(json_num "$q1" waiting-pfns) pfns \
($(json_num "$q2" restore-failures) restore failures by then), returned $t_done s after the \
limit went back, $fill MiB written back, $((mem / gsize)) granules read by edu"
budget_end
pass
