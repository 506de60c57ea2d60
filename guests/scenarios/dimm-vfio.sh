# dimm-vfio: a DIMM with a device assigned. QEMU's edu, bound to vfio-pci in level 1 (its
# dma_mask raised by run-testbed's -global, tests/testbed/meson.build), is assigned to
# firmware/vfio_dimm.c with --granule 2M and an empty slot. A 256 MiB DIMM plugged over QMP:
# edu's DMA into its first and last bytes lands (the guest checks what the CPU reads), so
# the DIMM was in the vfio container before the guest heard of it. device_del, the guest
# ejects, DEVICE_DELETED (slabvm ctl --wait); then edu's DMA to the DIMM's old base must
# fault in level 1's IOMMU (one more DMAR write fault from edu): its granules are gone from
# the container.

L2_QMP=/tmp/q.sock

# fw_wait TEXT: waits up to 60 s for a line of the guest's output holding TEXT.
fw_wait() {
	n=0
	until tr -d '\r' <"$L2_OUT" | grep -q "$1"; do
		slabtest_running "$L2_PID" || l2_fail "slabvm ended while waiting for '$1'"
		n=$((n + 1))
		[ $n -lt 300 ] || l2_fail "no '$1' from the guest within 60 s"
		sleep 0.2
	done
}

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
slabvm ctl --help 2>&1 | grep -q -- "--wait" || fail "this slabvm has no 'slabvm ctl --wait'"

phase bind
edu=$(pci_find 1234 11e8)
[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
group=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
log "edu $edu is bound to vfio-pci, IOMMU group $group"

faults() {
	dmesg | grep -c "DMAR: \[DMA Write.*Request device \[${edu#0000:}\]"
}

phase plug
l2_start vfio_dimm --firmware /fw/vfio_dimm.bin --vfio "$edu" --granule 2M --mem 64M \
	--maxmem 320M --slots 1 --qmp "$L2_QMP"
fw_wait "dimm: ready"
for _ in $(seq 50); do [ -S "$L2_QMP" ] && break; sleep 0.1; done
l2_ctl object-add qom-type=memory-backend-memfd id=m1 size=268435456
l2_ctl device_add driver=pc-dimm id=d1 memdev=m1
echo p >&3
fw_wait "done p"
tr -d '\r' <"$L2_OUT" | grep -E "^(plugged|edu:)" | sed 's/^/guest| /'
tr -d '\r' <"$L2_OUT" | grep -q "^plugged 0 0x100000000 0x10000000" ||
	l2_fail "the guest did not find the DIMM at 4 GiB"
tr -d '\r' <"$L2_OUT" | grep -q "edu: FAIL" && l2_fail "edu's DMA into the DIMM failed"
[ "$(tr -d '\r' <"$L2_OUT" | grep -c "edu: ok DMA into the fresh DIMM")" = 2 ] ||
	l2_fail "the guest did not check both ends of the DIMM"

phase unplug
timeout 90 slabvm ctl --wait DEVICE_DELETED --match device=d1 --timeout 60 "$L2_QMP" \
	device_del id=d1 >/tmp/ctl.out 2>&1 &
ctl=$!
n=0
until [ -s /tmp/ctl.out ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || l2_fail "no reply to device_del: $(cat /tmp/ctl.out)"
	sleep 0.2
done
echo e >&3
fw_wait "done e"
wait $ctl || l2_fail "slabvm ctl --wait DEVICE_DELETED: exit status $?: $(cat /tmp/ctl.out)"
log "device_del d1: $(tr '\n' ' ' </tmp/ctl.out)"
grep -q '"event":"DEVICE_DELETED"' /tmp/ctl.out || l2_fail "no DEVICE_DELETED"

phase "DMA after the unplug"
before=$(faults)
echo x >&3
fw_wait "done x"
sleep 1
after=$(faults)
log "DMAR write faults from edu: $before -> $after"
[ "$after" -gt "$before" ] || l2_fail "edu's DMA into the unplugged DIMM did not fault in \
level 1's IOMMU: $(dmesg | grep DMAR | tail -3)"
l2_ctl object-del id=m1

phase exit
echo q >&3
l2_end 30
tr -d '\r' <"$L2_OUT" | sed 's/^/guest| /' | tail -5
[ "$L2_STATUS" = 0 ] || slabvm_fail "slabvm exited with status $L2_STATUS (the guest's \
failures)" "$L2_STATUS" "$L2_OUT" "$L2_ERR"
budget_end
pass
