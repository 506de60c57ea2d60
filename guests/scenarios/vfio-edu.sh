# vfio-edu: QEMU's edu device, bound to vfio-pci in level 1, assigned to a firmware guest
# (firmware/vfio_edu.c) with the balloon, at 4 KiB and 2 MiB granules. The guest checks
# DMA through the IOMMU byte for byte, that a wholly inflated granule is unmapped (a DMA
# into it does not land) and mapped again on deflate, and that a half-inflated granule
# stays mapped. Here: slabvm's exit status (the guest's failure count), its output, and a
# new DMAR fault in level 1's log for each run (the DMA into the unmapped granule). Then the
# refusals: a device that does not exist, a granule too small for dma_entry_limit.

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"

phase bind
edu=$(pci_find 1234 11e8)
[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
group=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
log "edu $edu is bound to vfio-pci, IOMMU group $group"

faults() {
	dmesg | grep -c "DMAR: \[DMA Write.*Request device \[${edu#0000:}\]"
}

for g in 4K 2M; do
	phase "edu DMA, granule $g"
	before=$(faults)
	slabvm run --firmware /fw/vfio_edu.bin --vfio "$edu" --balloon --granule $g --mem 64M \
		>/tmp/edu.out 2>/tmp/edu.err
	status=$?
	cat /tmp/edu.out
	[ $status -eq 0 ] || slabvm_fail "slabvm with edu at granule $g ended with status $status" \
		$status /tmp/edu.out /tmp/edu.err
	grep -q "^edu: PASS" /tmp/edu.out || slabvm_fail "the edu guest did not pass at $g" \
		$status /tmp/edu.out /tmp/edu.err
	after=$(faults)
	[ "$after" -gt "$before" ] ||
		fail "no DMAR write fault from $edu in level 1's log at granule $g: \
$(dmesg | grep DMAR | tail -3)"
	log "granule $g: passed, DMAR write faults $before -> $after"
done

phase refusals
slabvm run --firmware /fw/exitcode.bin --vfio 0000:00:1f.6 2>/tmp/edu.err
status=$?
[ $status -eq 2 ] && grep -q "0000:00:1f.6" /tmp/edu.err ||
	fail "a missing device: status $status, $(cat /tmp/edu.err)"
# 65535 mappings at most by default: 512 MiB of 4 KiB granules is 131072.
slabvm run --firmware /fw/exitcode.bin --vfio "$edu" --mem 512M --granule 4K 2>/tmp/edu.err
status=$?
[ $status -ne 0 ] && grep -q "dma_entry_limit" /tmp/edu.err ||
	fail "a granule too small for dma_entry_limit: status $status, $(cat /tmp/edu.err)"
log "refusals: $(tail -1 /tmp/edu.err)"

budget_end
pass
