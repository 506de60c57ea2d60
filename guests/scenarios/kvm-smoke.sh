# kvm-smoke: level 1 has real (nested) KVM, an IOMMU and vfio-pci, and slabvm runs its
# firmware guests on that KVM.

phase modules
log "loading kvm-amd and vfio-pci"
modprobe kvm-amd || fail "modprobe kvm-amd failed"
modprobe vfio-pci || fail "modprobe vfio-pci failed"
# vfio names its IOMMU backend only as a soft dependency: the image's modules.dep has it.
[ -d /sys/module/vfio_iommu_type1 ] || fail "vfio_iommu_type1 is not loaded"

[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
dmesg | grep -q "Nested Virtualization enabled" ||
	fail "kvm-amd did not enable nested virtualization: $(dmesg | grep kvm | tail -3)"
dmesg | grep -q "Nested Paging enabled" ||
	fail "kvm-amd did not enable nested paging: $(dmesg | grep kvm | tail -3)"

[ -n "$(ls /sys/class/iommu)" ] || fail "no IOMMU in /sys/class/iommu: $(dmesg | grep DMAR)"
[ -n "$(ls /sys/kernel/iommu_groups)" ] || fail "the IOMMU made no groups"

phase vfio
edu=$(pci_find 1234 11e8)
[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
group=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
[ -c /dev/vfio/vfio ] || fail "no /dev/vfio/vfio"
log "edu $edu is bound to vfio-pci, IOMMU group $group"

phase "slabvm: exitcode"
slabvm run --firmware /fw/exitcode.bin --cmdline exit=42
status=$?
[ $status -eq 42 ] || slabvm_fail "slabvm with exitcode.bin exit=42 ended with status $status" \
	$status

phase "slabvm: privileges after setup"
# With every capability at hand (root in level 1), slabvm must raise RLIMIT_MEMLOCK to
# cover all pluggable RAM (--maxmem) before it drops them all.
mkfifo /tmp/echo-in
slabvm run --firmware /fw/echo.bin --mem 512M --maxmem 2G --slots 1 </tmp/echo-in >/tmp/echo-out &
pid=$!
exec 3>/tmp/echo-in
i=0
until grep -q "echo: ready" /tmp/echo-out; do
	i=$((i + 1))
	[ $i -lt 100 ] || slabvm_fail "the echo guest never became ready" - /tmp/echo-out "" "" $pid
	sleep 0.1
done
caps=$(awk '/^Cap(Inh|Prm|Eff|Amb)/ {printf "%s ", $2}' /proc/$pid/status)
memlock=$(awk '/^Max locked memory/ {print $4}' /proc/$pid/limits)
printf q >&3
exec 3>&-
wait $pid
status=$?
[ $status -eq 0 ] || slabvm_fail "slabvm with echo.bin ended with status $status" $status \
	/tmp/echo-out
[ "$caps" = "0000000000000000 0000000000000000 0000000000000000 0000000000000000 " ] ||
	fail "slabvm kept capabilities after setup: $caps"
[ "$memlock" -ge $((2048 << 20)) ] ||
	fail "RLIMIT_MEMLOCK is $memlock, less than the 2G of pluggable RAM"
log "capabilities dropped, RLIMIT_MEMLOCK $memlock"

phase "slabvm: granules"
out=$(slabvm run --firmware /fw/granules.bin --mem 256M)
status=$?
echo "$out"
[ $status -eq 0 ] || slabvm_fail "slabvm with granules.bin ended with status $status" $status
echo "$out" | grep -q "^granules=" || fail "granules.bin printed no granules= line"

phase "slabvm: demo"
slabvm run
status=$?
[ $status -eq 0 ] || slabvm_fail "slabvm's demo guest ended with status $status" $status

budget_end
pass
