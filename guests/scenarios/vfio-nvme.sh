# vfio-nvme: level 1's QEMU NVMe controller (its namespace a scratch file of the testbed's),
# unbound from level 1's nvme driver and bound to vfio-pci, is assigned by slabvm to a
# level-2 Linux that drives it with its own nvme driver and MSI-X (guests/scenarios/l2/
# nvme.sh: 64 MiB written and read back). Here: slabvm's exit status (level 2 powers off
# after its result) and no DMAR fault from the controller in level 1's log.

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"

phase bind
nvme=$(pci_find 1b36 0010)
[ -n "$nvme" ] || fail "no NVMe controller (1b36:0010) on the PCI bus"
group=$(vfio_bind "$nvme") || fail "cannot bind $nvme to vfio-pci"
log "NVMe $nvme is bound to vfio-pci, IOMMU group $group"

phase "level 2"
cmdline="console=ttyS0 panic=-1 quiet cryptomgr.notests=1 nokaslr slabtest.scenario=nvme"
timeout -s KILL 400 slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus 1 \
	--mem 384M --vfio "$nvme" --cmdline "$cmdline" >/tmp/nvme.out 2>/tmp/nvme.err
status=$?
grep -E "SLABTEST-L2|\] |nvme" /tmp/nvme.out | tr -d '\r' | sed 's/^/l2| /'
[ $status -eq 0 ] || slabvm_fail "slabvm with the NVMe controller ended with status $status" \
	$status /tmp/nvme.out /tmp/nvme.err
grep -q "SLABTEST-L2: PASS" /tmp/nvme.out || slabvm_fail "level 2 did not pass" $status \
	/tmp/nvme.out /tmp/nvme.err
faults=$(dmesg | grep -c "DMAR: .*Request device \[${nvme#0000:}\]")
[ "$faults" -eq 0 ] || fail "$faults DMAR faults from $nvme: $(dmesg | grep DMAR | tail -3)"

budget_end
pass
