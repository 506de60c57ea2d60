# vfio-bench (a benchmark, not a test): bench/vfio_map on the real type1 container of edu,
# bound to vfio-pci in level 1: 1 GiB of RAM mapped granule by granule at 4K, 64K, 2M and
# 1G against one MAP_DMA of the whole GiB, and the balloon's inflate and deflate of all of
# it with the container listening. Its lines are the result (docs/bench.md).

phase modules
modprobe vfio-pci || fail "modprobe vfio-pci failed"

phase bind
edu=$(pci_find 1234 11e8)
[ -n "$edu" ] || fail "no edu device (1234:11e8) on the PCI bus"
group=$(vfio_bind "$edu") || fail "cannot bind edu $edu to vfio-pci"
log "edu $edu is bound to vfio-pci, IOMMU group $group; dma_entry_limit" \
	"$(cat /sys/module/vfio_iommu_type1/parameters/dma_entry_limit)"

phase "vfio_map"
vfio_map "$edu" 1024 >/tmp/bench.out 2>/tmp/bench.err
status=$?
cat /tmp/bench.out /tmp/bench.err
[ $status -eq 0 ] || fail "vfio_map ended with status $status"
pass
