# vfio-edu: QEMU's edu device, bound to vfio-pci in level 1, assigned to a firmware guest
# (firmware/vfio_edu.c) with the balloon, at 4 KiB and 2 MiB granules, then a second edu
# with a 64-bit DMA mask at a 1 GiB granule with RAM above 4 GiB. The guest checks
# DMA through the IOMMU byte for byte, that a wholly inflated granule is unmapped (a DMA
# into it does not land) and mapped again on deflate, and that a half-inflated granule
# stays mapped. Here: slabvm's exit status (the guest's failure count), its output, and a
# new DMAR fault in level 1's log for each run (the DMA into the unmapped granule). Then the
# refusals: a device that does not exist, a granule too small for dma_entry_limit, a device
# bound to no driver, a group that is not viable.

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"

phase bind
# Two edus: run-testbed's own (28-bit DMA mask) and, at 00:10.0, one with a 64-bit mask
# that tests/testbed/meson.build adds for the 1 GiB granule and RAM above 4 GiB.
edu64=0000:00:10.0
edu=$(pci_find 1234 11e8 | grep -v "^$edu64$" | head -1)
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
	log "edu on the root bus: $(grep "reset" /tmp/edu.err || echo "no reset message")"
done

# The 1 GiB granule and RAM above 4 GiB: --mem 4G is three granules of low RAM and one at
# 4 GiB; all 4 GiB are pinned in level 1 (run with -m 6144).
if [ -d "/sys/bus/pci/devices/$edu64" ]; then
	phase "edu DMA, granule 1G, RAM above 4 GiB"
	group=$(vfio_bind "$edu64") || fail "cannot bind edu $edu64 to vfio-pci"
	fw=$edu
	edu=$edu64
	before=$(faults)
	slabvm run --firmware /fw/vfio_edu.bin --vfio "$edu64" --balloon --granule 1G --mem 4G \
		>/tmp/edu.out 2>/tmp/edu.err
	status=$?
	cat /tmp/edu.out
	[ $status -eq 0 ] || slabvm_fail "slabvm with edu at granule 1G ended with status $status" \
		$status /tmp/edu.out /tmp/edu.err
	grep -q "^edu: PASS" /tmp/edu.out || slabvm_fail "the edu guest did not pass at 1G" \
		$status /tmp/edu.out /tmp/edu.err
	grep -q "^edu: ok DMA RAM->edu->RAM, high RAM" /tmp/edu.out ||
		fail "the 1G run did not copy into RAM above 4 GiB"
	after=$(faults)
	[ "$after" -gt "$before" ] ||
		fail "no DMAR write fault from $edu64 in level 1's log at granule 1G: \
$(dmesg | grep DMAR | tail -3)"
	log "granule 1G with RAM above 4 GiB ($edu64, group $group): passed, DMAR write faults \
$before -> $after"
	edu=$fw
else
	fail "no 64-bit edu at $edu64 (tests/testbed/meson.build adds it)"
fi

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
# A device not bound to vfio-pci, then its group not viable: tests/testbed/meson.build puts
# a third edu and an NVMe controller behind one conventional PCI bridge, which makes them
# one IOMMU group; level 1's built-in nvme driver keeps the controller.
edub=$(pci_find 1234 11e8 | grep -v "^0000:00:" | head -1)
[ -n "$edub" ] || fail "no edu behind the PCI bridge"
slabvm run --firmware /fw/exitcode.bin --vfio "$edub" 2>/tmp/edu.err
status=$?
[ $status -eq 2 ] && grep -q "$edub: not bound to any driver" /tmp/edu.err ||
	fail "a device bound to no driver: status $status, $(cat /tmp/edu.err)"
log "refusals: $(tail -1 /tmp/edu.err)"
vfio_bind "$edub" >/dev/null || fail "cannot bind edu $edub to vfio-pci"
slabvm run --firmware /fw/exitcode.bin --vfio "$edub" 2>/tmp/edu.err
status=$?
[ $status -eq 1 ] && grep -q "$edub: IOMMU group [0-9]* is not viable.* is bound to nvme" \
	/tmp/edu.err || fail "a group that is not viable: status $status, $(cat /tmp/edu.err)"
log "refusals: $(tail -1 /tmp/edu.err)"

# The reset fallback: edu has no reset of its own (no FLR, no PM reset) and shares its bus
# with the NVMe controller, so vfio-pci offers no VFIO_DEVICE_RESET for it. With the
# controller bound to vfio-pci too, slabvm holds the whole group and resets edu through
# VFIO_DEVICE_PCI_HOT_RESET (a secondary bus reset) when the VM starts and when it stops,
# with nothing to say; edu on the root bus above has no bus reset, and slabvm said so.
phase "bus reset"
log "$edub reset_method: $(cat /sys/bus/pci/devices/$edub/reset_method 2>/dev/null || echo none)"
nvb=$(pci_find 1b36 0010 | grep -v "^0000:00:" | head -1)
[ -n "$nvb" ] || fail "no NVMe controller behind the PCI bridge"
vfio_bind "$nvb" >/dev/null || fail "cannot bind $nvb to vfio-pci"
slabvm run --firmware /fw/exitcode.bin --cmdline exit=7 --vfio "$edub" >/tmp/edu.out 2>/tmp/edu.err
status=$?
[ $status -eq 7 ] || slabvm_fail "slabvm with $edub on a bus it holds ended with status $status" \
	$status /tmp/edu.out /tmp/edu.err
grep -q "reset" /tmp/edu.err && fail "$edub was not reset through its bus: $(cat /tmp/edu.err)"
log "bus reset: $edub assigned with $nvb's group held, no reset complaint"

budget_end
pass
