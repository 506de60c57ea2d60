# kvmtool-compare (a benchmark, not a test): issue 11's goals 4 and 5, slabvm against
# kvmtool in one level-1 run, the same level-2 kernel, initrd and kernel arguments for
# both, the VMMs taking turns (ABBA: slabvm first in odd pairs, kvmtool first in even
# ones, since a level 2 that runs in memory a previous one used runs slower).
#
# Boot: 1 vCPU, 512 MiB, slabvm's default devices (virtio-rng) and kvmtool with --rng,
# no network. One vCPU because kvmtool describes its vCPUs to an x86 guest only in an MP
# table, which the testbed's Debian cloud kernel does not read (CONFIG_X86_MPPARSE is
# off): with -c 2 its level 2 came up with one CPU, slabvm's (ACPI MADT) with two. Timed from just before the VMM is started to the level-2 init's first line
# (`SLABTEST-L2: BEGIN`, after init mounted and loaded the virtio modules), on level 1's
# clock as the line arrives on the VMM's stdout.
#
# Balloon (the issue's case): 1 vCPU, 512 MiB, slabvm --balloon=stats and kvmtool
# --balloon (which offers only the statistics queue). Level 2 (scenarios/l2/
# kvmtool-compare.sh) writes 380 MiB of zeros to tmpfs and deletes them, then says FILLED;
# level 1 asks for a 320 MiB balloon (`slabvm ctl SOCK balloon value=192MiB`, `lkvm
# balloon --name NAME --inflate 320`) and the inflate is timed from just before that
# command to level 2's INFLATED line, which it prints once its MemTotal has fallen by
# 320 MiB (it looks every 0.2 s). For slabvm, query-balloon's inflate-ns and
# inflate-buffers before and after give the device's own share (the main loop's time in
# the inflate queue's handler, the memory map's releases included).
#
# For each run, level 1's CPU time over it (it has one CPU) from /proc/stat: guest (level
# 2 running), user less guest (the VMM's own code, QEMU-TCG-emulated like everything in
# level 1), system (level 1's kernel: KVM's exits, nested page faults, the VMM's system
# calls) and idle.
#
# kvmtool is not part of the repository: testbed.py --tool-env LKVM=lkvm puts $LKVM into
# level 1 as /bin/lkvm (a static build); without it this skips.
#
# Level-1 kernel arguments: slabtest.runs=N boot pairs (default 4), slabtest.balloonruns=N
# balloon pairs (default 3). Figures are lines starting `kvmtool-compare: `.

runs=4
bruns=3
shmemthp='' hugepages=''
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.runs=*) runs=${arg#*=} ;;
	slabtest.balloonruns=*) bruns=${arg#*=} ;;
	slabtest.shmemthp=*) shmemthp=${arg#*=} ;;
	slabtest.hugepages=*) hugepages=${arg#*=} ;;
	esac
done

[ -x /bin/lkvm ] || skip "no /bin/lkvm in level 1: run with LKVM=/path/to/lkvm-static \
(testbed.py --tool-env LKVM=lkvm)"

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
for f in /l2/vmlinuz /l2/initrd.gz; do
	[ -s "$f" ] || fail "no level-2 image $f"
done
log "kvmtool: $(lkvm version 2>&1 | head -1)"
thp=/sys/kernel/mm/transparent_hugepage
if [ -n "$shmemthp" ]; then
	echo "$shmemthp" >$thp/shmem_enabled || fail "cannot set shmem_enabled to $shmemthp"
fi
echo "kvmtool-compare: level 1's THP: enabled $(cat $thp/enabled), shmem_enabled \
$(cat $thp/shmem_enabled); slabvm ${hugepages:+--hugepages $hugepages}"

MiB=1048576
cr=$(printf '\r')
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr \
slabtest.scenario=kvmtool-compare"
FILL=380
INFLATE=320
MEM=512

# stamp: stdin to stdout, each line prefixed with level 1's uptime when it arrived
# (builtins only: no process per line).
stamp() {
	while IFS= read -r line || [ -n "$line" ]; do
		read -r t _ </proc/uptime
		echo "$t ${line%"$cr"}"
	done
}

# cpu_ticks: level 1's CPU time so far (USER_HZ ticks) into CPU_USER (guest excluded),
# CPU_SYS (irq and softirq included), CPU_GUEST, CPU_IDLE.
cpu_ticks() {
	read -r _ c_u c_n c_s c_i c_w c_q c_sq _ c_g c_gn _ </proc/stat
	CPU_GUEST=$((c_g + c_gn))
	CPU_USER=$((c_u + c_n - CPU_GUEST))
	CPU_SYS=$((c_s + c_q + c_sq))
	CPU_IDLE=$((c_i + c_w))
}
cpu_start() {
	cpu_ticks
	C0="$CPU_USER $CPU_SYS $CPU_GUEST $CPU_IDLE"
}
# cpu_split: "guest G s, VMM user U s, kernel K s, idle I s" since cpu_start.
cpu_split() {
	cpu_ticks
	# shellcheck disable=SC2086 # four numbers
	set -- $C0
	CPU="guest $(((CPU_GUEST - $3) / 100)).$(((CPU_GUEST - $3) % 100 / 10)) s, VMM user \
$(((CPU_USER - $1) / 100)).$(((CPU_USER - $1) % 100 / 10)) s, kernel \
$(((CPU_SYS - $2) / 100)).$(((CPU_SYS - $2) % 100 / 10)) s, idle \
$(((CPU_IDLE - $4) / 100)).$(((CPU_IDLE - $4) % 100 / 10)) s"
}

# running PID: the process exists and is no zombie (builtins only).
running() {
	[ -r "/proc/$1/stat" ] || return 1
	read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 1
	[ "$st" != Z ]
}

# vm_start NAME VMM CPUS MEM-MIB CMDLINE [balloon]: starts slabvm or kvmtool (VMM: slabvm
# or lkvm) on the level-2 images, its stdout through stamp into /tmp/NAME.out (read on
# fd 4 by vm_wait), stderr into /tmp/NAME.err. VM_T0: level 1's uptime just before.
vm_start() {
	VM=$1 VMM=$2 VM_OUT=/tmp/$1.out VM_ERR=/tmp/$1.err VM_SOCK=/tmp/$1.sock
	rm -f "/tmp/$VM.pipe" "$VM_OUT" "$VM_ERR" "$VM_SOCK"
	mkfifo "/tmp/$VM.pipe" || fail "mkfifo failed"
	: >"$VM_OUT"
	stamp <"/tmp/$VM.pipe" >>"$VM_OUT" &
	VM_STAMP=$!
	VM_PENDING=
	read -r VM_T0 _ </proc/uptime
	if [ "$VMM" = slabvm ]; then
		if [ -n "$6" ]; then
			slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus "$3" --mem "$4M" \
				--balloon=stats --qmp "$VM_SOCK" ${hugepages:+--hugepages "$hugepages"} \
				--cmdline "$5" \
				</dev/null >"/tmp/$VM.pipe" 2>"$VM_ERR" &
		else
			slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus "$3" --mem "$4M" \
				${hugepages:+--hugepages "$hugepages"} \
				--cmdline "$5" </dev/null >"/tmp/$VM.pipe" 2>"$VM_ERR" &
		fi
	else
		lkvm run --name "$VM" -k /l2/vmlinuz -i /l2/initrd.gz -c "$3" -m "$4" --rng \
			--network mode=none --console serial ${6:+--balloon} -p "$5" \
			</dev/null >"/tmp/$VM.pipe" 2>"$VM_ERR" &
	fi
	VM_PID=$!
	exec 4<"$VM_OUT"
}

# vm_fail WHY: what the VMM said, then it is killed and the scenario fails.
vm_fail() {
	echo "=== $VMM ($VM): $1 ==="
	echo "--- its console, last 40 lines ---"
	tail -n 40 "$VM_OUT"
	echo "--- its stderr, last 20 lines ---"
	tail -n 20 "$VM_ERR"
	echo "--- level 1's kernel log, last 10 lines ---"
	dmesg | tail -n 10
	kill -9 "$VM_PID" 2>/dev/null
	fail "$VMM: $1"
}

# vm_wait TEXT TIMEOUT: reads the VMM's stamped lines (fd 4) until one holds TEXT; that
# line in LINE and its arrival (level 1's uptime) in LINE_T. Looks twice a second; a line
# read before its newline was written is kept and completed next time.
vm_wait() {
	read -r now _ </proc/uptime
	end=$((${now%.*} + $2))
	gone=
	while :; do
		while IFS= read -r l <&4; do
			LINE="$VM_PENDING$l"
			VM_PENDING=
			case "$LINE" in
			*"$1"*)
				LINE_T=${LINE%% *}
				return 0
				;;
			esac
		done
		VM_PENDING="$VM_PENDING$l"
		[ -n "$gone" ] && vm_fail "$VMM ended before '$1'"
		# Once it ended, one more look: stamp may not have written its last lines yet.
		running "$VM_PID" || gone=1
		read -r now _ </proc/uptime
		[ "${now%.*}" -lt "$end" ] || vm_fail "no '$1' within $2 s"
		sleep 0.5
	done
}

# vm_end: slabvm ends with level 2's power-off; kvmtool (no ACPI: Linux halts) is stopped
# with `lkvm stop`. VM_STATUS: the VMM's exit status.
vm_end() {
	if [ "$VMM" = lkvm ]; then
		lkvm stop --name "$VM" >/dev/null 2>&1 || log "lkvm stop --name $VM failed"
	fi
	read -r now _ </proc/uptime
	end=$((${now%.*} + 60))
	while running "$VM_PID"; do
		read -r now _ </proc/uptime
		[ "${now%.*}" -lt "$end" ] || vm_fail "$VMM still runs 60 s after level 2's result"
		sleep 0.2
	done
	wait "$VM_PID"
	VM_STATUS=$?
	wait "$VM_STAMP"
	exec 4<&-
	rm -f "/tmp/$VM.pipe"
	if [ "$VMM" = slabvm ] && [ "$VM_STATUS" != 0 ]; then
		slabvm_fail "$VM: slabvm exited with status $VM_STATUS" "$VM_STATUS" "$VM_OUT" "$VM_ERR"
	fi
}

# vm_result TIMEOUT: waits for level 2's result line; anything but PASS fails.
vm_result() {
	vm_wait "SLABTEST-L2: " "$1"
	case "$LINE" in
	*"SLABTEST-L2: PASS"*) ;;
	*) vm_fail "level 2: ${LINE#* }" ;;
	esac
}

secs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

median() {
	echo "$1" | tr ' ' '\n' | grep . | sort -n |
		awk '{ v[NR] = $1 } END { m = (NR + 1) / 2; printf "%.2f", (v[int(m)] + v[int(m + 0.5)]) / 2 }'
}

name() {
	[ "$1" = slabvm ] && echo slabvm || echo kvmtool
}

# order I: the two VMMs of pair I, slabvm first when I is odd.
order() {
	[ $(($1 % 2)) = 1 ] && echo "slabvm lkvm" || echo "lkvm slabvm"
}

boot_slabvm='' boot_lkvm=''
i=1
while [ "$i" -le "$runs" ]; do
	for vmm in $(order "$i"); do
		phase "boot $i $(name "$vmm")"
		cpu_start
		vm_start "boot-$vmm-$i" "$vmm" 1 "$MEM" "$cmdline"
		vm_wait "SLABTEST-L2: BEGIN" 180
		t=$(secs "$VM_T0" "$LINE_T")
		cpu_split
		vm_wait "L2CMP BOOT" 60
		boot=${LINE#*L2CMP BOOT }
		vm_result 60
		vm_end
		grep "L2CMP GAP" "$VM_OUT" | sed "s/^[0-9.]* L2CMP GAP/kernel gap ($VM):/"
		echo "kvmtool-compare: boot $i $(name "$vmm"): to init $t s ($boot; level 1 over it: $CPU)"
		eval "boot_$vmm=\"\$boot_$vmm $t\""
	done
	i=$((i + 1))
done

bal_slabvm='' bal_lkvm='' share=''
i=1
while [ "$i" -le "$bruns" ]; do
	for vmm in $(order "$i"); do
		phase "balloon $i $(name "$vmm")"
		vm_start "bal-$vmm-$i" "$vmm" 1 "$MEM" \
			"$cmdline slabtest.fill=$FILL slabtest.inflate=$INFLATE" balloon
		vm_wait "L2CMP FILLED" 900
		# shellcheck disable=SC2086 # words
		set -- ${LINE#*L2CMP FILLED }
		total=$1 fillsecs=$2
		if [ "$vmm" = slabvm ]; then
			q0=$(timeout 20 slabvm ctl "$VM_SOCK" query-balloon) ||
				vm_fail "query-balloon failed: $q0"
		fi
		cpu_start
		read -r t0 _ </proc/uptime
		if [ "$vmm" = slabvm ]; then
			out=$(timeout 20 slabvm ctl "$VM_SOCK" balloon value=$(((MEM - INFLATE) * MiB)) 2>&1) ||
				vm_fail "slabvm ctl balloon failed: $out"
		else
			out=$(lkvm balloon --name "$VM" --inflate "$INFLATE" 2>&1) ||
				vm_fail "lkvm balloon failed: $out"
		fi
		vm_wait "L2CMP INFLATED" 900
		t=$(secs "$t0" "$LINE_T")
		cpu_split
		# shellcheck disable=SC2086 # words
		set -- ${LINE#*L2CMP INFLATED }
		after=$1 guestsecs=$2
		extra=
		if [ "$vmm" = slabvm ]; then
			want=$(((MEM - INFLATE) * MiB))
			for _ in $(seq 20); do
				q1=$(timeout 20 slabvm ctl "$VM_SOCK" query-balloon) ||
					vm_fail "query-balloon failed: $q1"
				[ "$(json_num "$q1" actual)" = "$want" ] && break
				sleep 0.5
			done
			[ "$(json_num "$q1" actual)" = "$want" ] ||
				vm_fail "query-balloon's actual is not $want after level 2's INFLATED: $q1"
			ns=$(($(json_num "$q1" inflate-ns) - $(json_num "$q0" inflate-ns)))
			bufs=$(($(json_num "$q1" inflate-buffers) - $(json_num "$q0" inflate-buffers)))
			dev=$(awk -v n="$ns" 'BEGIN { printf "%.2f", n / 1e9 }')
			pct=$(awk -v n="$ns" -v t="$t" 'BEGIN { printf "%.1f", 100 * n / 1e9 / t }')
			extra="; slabvm's device: $dev s ($pct%) for $bufs buffers, released \
$(($(json_num "$q1" released) / MiB)) MiB"
			share="$share $pct"
		fi
		# The whole balloon back: level 2 waits for that to finish.
		read -r t0 _ </proc/uptime
		if [ "$vmm" = slabvm ]; then
			out=$(timeout 20 slabvm ctl "$VM_SOCK" balloon value=$((MEM * MiB)) 2>&1) ||
				vm_fail "slabvm ctl balloon failed: $out"
		else
			out=$(lkvm balloon --name "$VM" --deflate "$INFLATE" 2>&1) ||
				vm_fail "lkvm balloon failed: $out"
		fi
		vm_wait "L2CMP DEFLATED" 900
		deflate=$(secs "$t0" "$LINE_T")
		vm_result 60
		vm_end
		echo "kvmtool-compare: balloon $i $(name "$vmm"): inflate $INFLATE MiB in $t s (level \
2: MemTotal $total -> $after kB, $guestsecs s on its clock; it wrote $FILL MiB in $fillsecs \
s)$extra; level 1 over it: $CPU; deflate after it: $deflate s"
		eval "bal_$vmm=\"\$bal_$vmm $t\""
	done
	i=$((i + 1))
done

summary() {
	a=$(median "$2") b=$(median "$3")
	echo "kvmtool-compare: $1: slabvm median $a s (runs:$2), kvmtool median $b s (runs:$3), \
slabvm/kvmtool $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'); goal $4"
}
[ "$runs" -gt 0 ] && summary "level-2 boot to init" "$boot_slabvm" "$boot_lkvm" "<= 0.9"
if [ "$bruns" -gt 0 ]; then
	summary "balloon inflate $INFLATE MiB" "$bal_slabvm" "$bal_lkvm" "<= 0.7"
	echo "kvmtool-compare: slabvm's device share of its inflate: median $(median "$share")% \
(runs:$share)"
fi
budget_end
pass
