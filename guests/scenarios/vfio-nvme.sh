# vfio-nvme: level 1's QEMU NVMe controller (its namespace a scratch file of the testbed's),
# unbound from level 1's nvme driver and bound to vfio-pci, is assigned by slabvm to a
# level-2 Linux that drives it with its own nvme driver and MSI-X (guests/scenarios/l2/
# nvme.sh: 64 MiB of fresh random data written and read back per round, at least 3 rounds
# and on until it has seen 3 balloon cycles). While level 2 does its I/O, level 1 inflates
# the balloon by 32 MiB and deflates it again over QMP, as often as the I/O lasts (at least
# 3 times is required). edu is assigned beside it (two IOMMU groups in one container):
# every round level 2 also moves 2 KiB through edu by DMA from userspace, with devmem on
# its registers and a buffer the kernel command line reserves (memmap=1M$0x4000000).
# Here: slabvm's exit status (level 2 powers off after its result), the balloon cycles,
# and no DMAR fault from either device in level 1's log.
#
# The soak outside the suite: `run-testbed --append slabtest.nvmecycles=20 ... vfio-nvme`
# requires 20 cycles (level 2 does up to 4 x 3 rounds to see them); guests/README.md.

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"

phase bind
nvme=$(pci_find 1b36 0010)
[ -n "$nvme" ] || fail "no NVMe controller (1b36:0010) on the PCI bus"
group=$(vfio_bind "$nvme") || fail "cannot bind $nvme to vfio-pci"
log "NVMe $nvme is bound to vfio-pci, IOMMU group $group"
edu=$(pci_find 1234 11e8)
[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
edugroup=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
log "edu $edu is bound to vfio-pci, IOMMU group $edugroup"

want=3
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	slabtest.nvmecycles=*) want=${arg#*=} ;;
	esac
done

phase "level 2"
MiB=1048576
L2_QMP=/tmp/nvme.sock
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr slabtest.scenario=nvme \
slabtest.rounds=3 slabtest.cycles=$want memmap=1M\$0x4000000 slabtest.edubuf=0x4000000"
rm -f "$L2_QMP"
timeout -s KILL 400 slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus 1 \
	--mem 384M --vfio "$nvme" --vfio "$edu" --balloon --qmp "$L2_QMP" --cmdline "$cmdline" \
	</dev/null >/tmp/nvme.out 2>/tmp/nvme.err &
pid=$!
until grep -q "NVME-IO-START" /tmp/nvme.out 2>/dev/null; do
	slabtest_running $pid || break
	sleep 0.5
done
# Balloon cycles while the I/O runs: 32 MiB out and back, each waited for (bounded).
cycles=0
while slabtest_running $pid && ! grep -q "NVME-IO-DONE" /tmp/nvme.out; do
	for target in $((352 * MiB)) $((384 * MiB)); do
		slabvm ctl "$L2_QMP" balloon value=$target >/dev/null 2>&1 || break 2
		n=0
		while [ $n -lt 120 ] && slabtest_running $pid; do
			actual=$(json_num "$(slabvm ctl "$L2_QMP" query-balloon 2>/dev/null)" actual)
			[ "${actual:-0}" -eq $target ] && break
			n=$((n + 1))
			sleep 0.5
		done
	done
	[ "${actual:-0}" -eq $((384 * MiB)) ] && cycles=$((cycles + 1))
done
wait $pid
status=$?
log "balloon: $cycles inflate/deflate cycles of 32 MiB during the I/O"
grep -E "SLABTEST-L2|\] |nvme" /tmp/nvme.out | tr -d '\r' | sed 's/^/l2| /'
[ $status -eq 0 ] || slabvm_fail "slabvm with the NVMe controller ended with status $status" \
	$status /tmp/nvme.out /tmp/nvme.err
grep -q "SLABTEST-L2: PASS" /tmp/nvme.out || slabvm_fail "level 2 did not pass" $status \
	/tmp/nvme.out /tmp/nvme.err
[ $cycles -ge "$want" ] ||
	fail "$cycles balloon cycles completed during level 2's I/O, not $want"
for dev in "$nvme" "$edu"; do
	faults=$(dmesg | grep -c "DMAR: .*Request device \[${dev#0000:}\]")
	[ "$faults" -eq 0 ] || fail "$faults DMAR faults from $dev: $(dmesg | grep DMAR | tail -3)"
done

budget_end
pass
