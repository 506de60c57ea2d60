# balloon: slabvm's virtio-balloon against the level-2 kernel's own virtio_balloon driver.
# slabvm runs in the background with MEM of RAM (384 MiB; slabtest.balloonmem=MiB),
# --balloon and a QMP socket; this script drives the balloon with `slabvm ctl` and talks to
# level 2 (guests/scenarios/l2/balloon.sh) over its serial console (l2_start and l2_cmd in
# slabtest.sh): commands go into slabvm's stdin (a FIFO), the replies come back on slabvm's
# stdout (a file), as `L2ACK SEQ` and `L2REPLY SEQ ...` lines.
#
# Each step does the work its check needs and no more; TOUCH is what the inflate must
# release (MEM/2) plus 32 MiB, which leaves level 2 plenty of free memory (a level 2 filled
# to its limit reclaims, and then writes 376 MiB in 284 s instead of 38 s). 384 MiB: every
# first touch of a level-2 page is a nested fault under TCG (2-10 MiB/s), so the touches
# dominate, and what the checks show does not grow with the size:
#  1. level 2 touches TOUCH (a tmpfs file, deleted again: the freed pages stay backed in
#     level 1, free page reporting being off), so that the pages the balloon takes are
#     backed;
#  2. inflate to half of MEM (`balloon value=BYTES`) until query-balloon's actual is there:
#     level 2's MemTotal must drop by MEM/2 (+-16 MiB), query-balloon's released bytes be
#     at least 75% of its inflated (whole granules only with anonymous boot RAM) and
#     slabvm's VmRSS drop by at least 90% of released;
#  3. deflate to MEM until actual is back: MemTotal back (+-4 MiB), nothing inflated;
#  4. level 2 touches TOUCH again (the deflated pages refault), then writes MEM/32 from
#     /dev/urandom to tmpfs, whose md5 as written and as read back must agree (urandom and
#     md5sum are slow here); then it powers off, and slabvm must exit with status 0.
# Each phase logs its seconds, and the end the total against run-testbed's --timeout.
#
# Level-1 kernel arguments (run-testbed --append):
#   slabtest.l2verbose=1       level 2 without `quiet`
#   slabtest.balloonfeat=LIST  --balloon=LIST (default stats: no free page reporting,
#                              which would release the freed pages before the inflate)
#   slabtest.balloonmem=MiB    level 2's RAM (default 384); give run-testbed a longer
#                              --timeout for more.

verbose=
features=stats
memmib=384
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.l2verbose=*) verbose=${arg#*=} ;;
	slabtest.balloonfeat=*) features=${arg#*=} ;;
	slabtest.balloonmem=*) memmib=${arg#*=} ;;
	esac
done

MiB=1048576
mem=$((memmib * MiB))
target=$((mem / 2))
touch=$(((mem - target) / MiB + 32))
random=$((memmib / 32))
L2_QMP=/tmp/q.sock

phase modules
log "loading kvm-amd"
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
slabvm run --help 2>&1 | grep -q -- "--balloon" ||
	fail "this slabvm has no virtio-balloon: no --balloon in 'slabvm run --help'"
slabvm ctl 2>&1 | grep -q "usage: slabvm ctl" ||
	fail "this slabvm has no 'slabvm ctl'"

quiet=quiet
[ "${verbose:-0}" != 0 ] && quiet=ignore_loglevel
cmdline="console=ttyS0 panic=-1 $quiet cryptomgr.notests=1 nokaslr slabtest.scenario=balloon"

# 0. Level 2 up, its balloon driver bound.
phase boot
t_start=$(slabtest_uptime)
l2_start balloon --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem "${memmib}M" --cpus 1 \
	--balloon="$features" --qmp "$L2_QMP" --cmdline "$cmdline"
l2_ready 120
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total0=$2
log "level 2 ready after $(slabtest_since "$t_start") s: MemTotal $total0 kB, MemFree $3 kB"
[ "$(cat /proc/$L2_PID/comm)" = slabvm ] ||
	l2_fail "pid $L2_PID is $(cat /proc/$L2_PID/comm), not slabvm"
l2_ctl query-balloon
log "query-balloon: $CTL"
[ "$(json_num "$CTL" actual)" = "$mem" ] || l2_fail "actual is not $mem before any inflate: $CTL"

# The console works both ways.
l2_cmd 1 30 mem
log "level 2: $REPLY"

# 1. Level 2 touches what the inflate will take, and some more.
phase "touch $touch MiB"
l2_cmd 10 300 fill $touch zero
log "level 2: $REPLY"
case "$REPLY" in FILL\ OK*) ;; *) l2_fail "level 2's first fill failed: $REPLY" ;; esac
sleep 1
rss0=$(l2_rss)
log "slabvm VmRSS $rss0 kB after level 2 touched $touch MiB"

# 2. Inflate to half.
phase inflate
l2_balloon $target 180
q=$CTL
inflated=$(json_num "$q" inflated)
released=$(json_num "$q" released)
pinned=$(json_num "$q" inflated-pinned)
sleep 1
rss1=$(l2_rss)
l2_cmd 20 30 mem
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total1=$2
drop_total=$((total0 - total1))
drop_rss=$((rss0 - rss1))
log "inflated to $target: MemTotal $total0 -> $total1 kB (-$drop_total kB), slabvm VmRSS \
$rss0 -> $rss1 kB (-$drop_rss kB); query-balloon inflated $inflated released $released \
inflated-pinned $pinned bytes"
[ "$inflated" = $((mem - target)) ] ||
	l2_fail "query-balloon's inflated is $inflated bytes, not $((mem - target)): $q"
want=$(((mem - target) / 1024))
[ "$drop_total" -ge $((want - 16384)) ] && [ "$drop_total" -le $((want + 16384)) ] ||
	l2_fail "level 2's MemTotal dropped by $drop_total kB, not $want kB (+-16 MiB)"
# Anonymous boot RAM (the default --hugepages thp) is released in whole granules only:
# Linux's driver fills 2 MiB granules to about seven eighths (docs/design.md, mem-return),
# so released is checked against inflated, and VmRSS against released.
[ "$released" -ge $((inflated * 3 / 4)) ] ||
	l2_fail "query-balloon's released is $released bytes, less than 75% of the $inflated \
inflated"
[ "$drop_rss" -ge $((released * 9 / 10240)) ] ||
	l2_fail "slabvm's VmRSS dropped by $drop_rss kB, less than 90% of the \
$((released / 1024)) kB released ($inflated bytes inflated)"

# 3. Deflate.
phase deflate
l2_balloon $mem 180
q=$CTL
l2_cmd 30 30 mem
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total2=$2
log "deflated to $mem: MemTotal $total2 kB (before the inflate $total0 kB), slabvm VmRSS \
$(l2_rss) kB"
[ "$(json_num "$q" inflated)" = 0 ] || l2_fail "bytes still inflated after the deflate: $q"
[ "$total2" -ge $((total0 - 4096)) ] && [ "$total2" -le $((total0 + 4096)) ] ||
	l2_fail "level 2's MemTotal $total2 kB is not back to $total0 kB (+-4 MiB)"

# 4. Level 2 still works: it touches as much again, the deflated pages among them, then
# random data goes through tmpfs, checksummed as written and as read back.
phase "touch $touch MiB again"
l2_cmd 40 300 fill $touch zero
log "level 2: $REPLY"
case "$REPLY" in FILL\ OK*) ;; *) l2_fail "level 2's fill after the deflate failed: $REPLY" ;; esac
log "slabvm VmRSS $(l2_rss) kB after level 2 touched $touch MiB again"
phase "checksum $random MiB"
l2_cmd 45 300 fill $random urandom
log "level 2: $REPLY"
case "$REPLY" in FILL\ OK*) ;; *) l2_fail "level 2's checksummed fill failed: $REPLY" ;; esac

# Level 2 powers off: slabvm must end with status 0 after SLABTEST-L2: PASS.
phase power-off
l2_finish 50
log "balloon: slabvm ran $(slabtest_since "$t_start") s, exit status 0"
budget_end
pass
