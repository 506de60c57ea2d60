# balloon: slabvm's virtio-balloon against the level-2 kernel's own virtio_balloon driver.
# slabvm runs in the background with MEM of RAM (512 MiB; slabtest.balloonmem=MiB),
# --balloon and a QMP socket; this script drives the balloon with `slabvm ctl` and talks to
# level 2 (guests/scenarios/l2/balloon.sh) over its serial console: commands go into
# slabvm's stdin (a FIFO), the replies come back on slabvm's stdout (a file), as
# `L2ACK SEQ` and `L2REPLY SEQ ...` lines.
#
#  1. level 2 touches nearly all its RAM (a tmpfs file of MemFree - 64 MiB, deleted again:
#     the freed pages stay backed in level 1, free page reporting being off);
#  2. inflate to half of MEM (`balloon value=BYTES`) until query-balloon's actual is there:
#     level 2's MemTotal must drop by MEM/2 (+-16 MiB), slabvm's VmRSS by at least 90%
#     of query-balloon's inflated bytes;
#  3. deflate to MEM until actual is back: MemTotal back (+-4 MiB), nothing inflated;
#  4. level 2 touches all its free RAM again (the deflated pages refault), then writes MEM/8
#     from /dev/urandom to tmpfs, whose md5 as written and as read back must agree
#     (urandom and md5sum are slow here); then it powers off, and slabvm must exit with
#     status 0.
#
# Level-1 kernel arguments (run-testbed --append):
#   slabtest.l2verbose=1       level 2 without `quiet`
#   slabtest.balloonfeat=LIST  --balloon=LIST (default stats: no free page reporting,
#                              which would release the freed pages before the inflate)
#   slabtest.balloonmem=MiB    level 2's RAM (default 512). First touches of level-2 pages
#                              are nested faults under TCG (2-10 MiB/s): with 1024 the
#                              scenario took 420 s at load average 4-5, so give
#                              run-testbed a --timeout of 1200 for it.

verbose=
features=stats
memmib=512
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
fill2=$((memmib / 8))
qmp=/tmp/q.sock
out=/tmp/l2.out
err=/tmp/l2.err
fifo=/tmp/l2.in

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

# slabvm's pid, for its VmRSS and its exit status. Started directly (no timeout(1) in
# between); every wait below is bounded, and a failure kills it.
pid=

# show_tail WHY: fails, showing what level 2 and slabvm said.
show_tail() {
	echo "--- level-2 console (slabvm's stdout), last 40 lines ---"
	tail -n 40 "$out" | tr -d '\r'
	echo "--- slabvm's stderr ---"
	tail -n 30 "$err"
	slabtest_running "$pid" && [ -S "$qmp" ] && l2_state "$qmp"
	echo "---"
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	fail "$1"
}

# now: level 1's uptime in seconds.
now() {
	cut -d' ' -f1 /proc/uptime
}

# since T0: seconds since T0 (an uptime), two decimals.
since() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}

# The helpers below set variables rather than print, so that their failures (show_tail)
# end this script, not a command substitution's subshell.

# reply SEQ TIMEOUT [TAG]: waits for level 2's `TAG SEQ ...` line (TAG: L2REPLY); REPLY is
# what follows SEQ.
reply() {
	tag=${3:-L2REPLY}
	end=$(($(now | cut -d. -f1) + $2))
	while :; do
		REPLY=$(tr -d '\r' <"$out" | grep -o "$tag $1 .*" | head -1)
		[ -n "$REPLY" ] && { REPLY=${REPLY#"$tag $1 "}; return 0; }
		slabtest_running "$pid" ||
			show_tail "slabvm exited while level 1 waited for level 2's $tag $1"
		[ "$(now | cut -d. -f1)" -lt "$end" ] ||
			show_tail "no $tag $1 from level 2 within $2 s"
		sleep 0.2
	done
}

# l2 SEQ TIMEOUT COMMAND [ARGS]: sends a command to level 2; its reply in REPLY.
l2() {
	seq=$1 tmo=$2
	shift 2
	cmd=$1
	shift
	log "to level 2: $cmd $seq $*"
	echo "$cmd $seq $*" >&3
	reply "$seq" 30 L2ACK
	reply "$seq" "$tmo"
}

# ctl COMMAND [ARGS]: slabvm ctl; its reply JSON in CTL, fails on an error.
ctl() {
	CTL=$(timeout 20 slabvm ctl "$qmp" "$@" 2>&1) ||
		show_tail "slabvm ctl $*: exit status $?: $CTL"
}

# field JSON NAME: a number from query-balloon's reply.
field() {
	echo "$1" | sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p"
}

rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"
}

# wait_actual BYTES TIMEOUT: polls query-balloon until actual is BYTES; the last reply in
# CTL.
wait_actual() {
	t0=$(now)
	end=$(($(now | cut -d. -f1) + $2))
	while :; do
		ctl query-balloon
		[ "$(field "$CTL" actual)" = "$1" ] && break
		slabtest_running "$pid" ||
			show_tail "slabvm exited while the balloon moved to $1: last $CTL"
		[ "$(now | cut -d. -f1)" -lt "$end" ] ||
			show_tail "query-balloon's actual did not reach $1 within $2 s: last $CTL"
		sleep 0.5
	done
	log "actual $1 after $(since "$t0") s: $CTL"
}

rm -f "$fifo" "$out" "$err" "$qmp"
mkfifo "$fifo" || fail "mkfifo $fifo failed"
log "slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem ${memmib}M --cpus 1 \
--balloon=$features --qmp $qmp --cmdline \"$cmdline\" <$fifo >$out"
t_start=$(now)
slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --mem "${memmib}M" --cpus 1 \
	--balloon="$features" --qmp "$qmp" --cmdline "$cmdline" <"$fifo" >"$out" 2>"$err" &
pid=$!
# Held open to the end: slabvm's console input ends when the last writer closes.
exec 3>"$fifo"

# 0. Level 2 up, its balloon driver bound.
reply 0 120
case "$REPLY" in
READY*) ;;
*) show_tail "level 2's first reply is not READY: $REPLY" ;;
esac
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total0=$2
log "level 2 ready after $(since "$t_start") s: MemTotal $total0 kB, MemFree $3 kB"
[ "$(cat /proc/$pid/comm)" = slabvm ] || show_tail "pid $pid is $(cat /proc/$pid/comm), not slabvm"
for _ in $(seq 50); do [ -S "$qmp" ] && break; sleep 0.1; done
[ -S "$qmp" ] || show_tail "no QMP socket $qmp"
ctl query-balloon
log "query-balloon: $CTL"
[ "$(field "$CTL" actual)" = "$mem" ] || show_tail "actual is not $mem before any inflate: $CTL"

# The console works both ways.
l2 1 30 mem
log "level 2: $REPLY"

# 1. Level 2 touches nearly all its RAM.
l2 10 500 fill 0 zero
log "level 2: $REPLY"
case "$REPLY" in FILL\ OK*) ;; *) show_tail "level 2's first fill failed: $REPLY" ;; esac
sleep 1
rss0=$(rss)
log "slabvm VmRSS $rss0 kB after level 2 touched its RAM"

# 2. Inflate to half.
ctl balloon value=$target
log "balloon value=$target: $CTL"
wait_actual $target 180
q=$CTL
inflated=$(field "$q" inflated)
released=$(field "$q" released)
pinned=$(field "$q" inflated-pinned)
sleep 1
rss1=$(rss)
l2 20 30 mem
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total1=$2
drop_total=$((total0 - total1))
drop_rss=$((rss0 - rss1))
log "inflated to $target: MemTotal $total0 -> $total1 kB (-$drop_total kB), slabvm VmRSS \
$rss0 -> $rss1 kB (-$drop_rss kB); query-balloon inflated $inflated released $released \
inflated-pinned $pinned bytes"
[ "$inflated" = $((mem - target)) ] ||
	show_tail "query-balloon's inflated is $inflated bytes, not $((mem - target)): $q"
want=$(((mem - target) / 1024))
[ "$drop_total" -ge $((want - 16384)) ] && [ "$drop_total" -le $((want + 16384)) ] ||
	show_tail "level 2's MemTotal dropped by $drop_total kB, not $want kB (+-16 MiB)"
[ "$drop_rss" -ge $((inflated * 9 / 10240)) ] ||
	show_tail "slabvm's VmRSS dropped by $drop_rss kB, less than 90% of the \
$((inflated / 1024)) kB inflated (released $released bytes)"

# 3. Deflate.
ctl balloon value=$mem
log "balloon value=$mem: $CTL"
wait_actual $mem 180
q=$CTL
l2 30 30 mem
# shellcheck disable=SC2086 # split into words
set -- $REPLY
total2=$2
rss2=$(rss)
log "deflated to $mem: MemTotal $total2 kB (before the inflate $total0 kB), slabvm VmRSS \
$rss2 kB"
[ "$(field "$q" inflated)" = 0 ] || show_tail "bytes still inflated after the deflate: $q"
[ "$total2" -ge $((total0 - 4096)) ] && [ "$total2" -le $((total0 + 4096)) ] ||
	show_tail "level 2's MemTotal $total2 kB is not back to $total0 kB (+-4 MiB)"

# 4. Level 2 still works: it touches all its free RAM again, the deflated pages included,
# then random data goes through tmpfs, checksummed as written and as read back.
l2 40 500 fill 0 zero
log "level 2: $REPLY"
case "$REPLY" in FILL\ OK*) ;; *) show_tail "level 2's fill after the deflate failed: $REPLY" ;; esac
log "slabvm VmRSS $(rss) kB after level 2 touched its RAM again"
l2 45 500 fill $fill2 urandom
log "level 2: $REPLY"
case "$REPLY" in FILL\ OK*) ;; *) show_tail "level 2's checksummed fill failed: $REPLY" ;; esac
l2 50 30 done

# Level 2 powers off: slabvm must end with status 0 after SLABTEST-L2: PASS.
end=$(($(now | cut -d. -f1) + 60))
while slabtest_running "$pid" && [ "$(now | cut -d. -f1)" -lt "$end" ]; do sleep 0.2; done
slabtest_running "$pid" && show_tail "slabvm still runs 60 s after level 2's result"
wait "$pid"
status=$?
pid=
exec 3>&-
tr -d '\r' <"$out" | grep -E "SLABTEST-L2|\] " | sed 's/^/l2| /'
[ -s "$err" ] && sed 's/^/slabvm stderr: /' "$err"
[ "$status" = 0 ] || show_tail "slabvm exited with status $status"
grep -q "SLABTEST-L2: PASS" "$out" || show_tail "no SLABTEST-L2: PASS from level 2 \
($(tr -d '\r' <"$out" | grep -oE "SLABTEST-L2: (FAIL|SKIP).*" | head -1))"
log "balloon: slabvm ran $(since "$t_start") s, exit status 0"
pass
