# linux-demo: what the README's first command shows a newcomer. slabvm boots the level-2
# Debian kernel with its initramfs, 2 vCPUs and 512 MiB, console on this console; the
# level-2 guest says hello and powers off, which ends slabvm with status 0.

phase modules
modprobe kvm-amd || fail "modprobe kvm-amd failed"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
phase boot
log "slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus 2 --mem 512M"
slabvm run --kernel /l2/vmlinuz --initrd /l2/initrd.gz --cpus 2 --mem 512M \
	--cmdline "console=ttyS0 panic=-1 cryptomgr.notests=1 slabtest.scenario=hello"
status=$?
log "slabvm exited with status $status"
# Its console and stderr are above, on this console.
[ $status -eq 0 ] || slabvm_fail "slabvm exited with status $status" $status
budget_end
pass
