# hello: the level-2 guest of linux-demo introduces itself and powers off.
echo
echo "Hello from Linux $(uname -r), booted by slabvm:"
echo "  CPUs online: $(cat /sys/devices/system/cpu/online)"
echo "  $(grep MemTotal /proc/meminfo)"
echo "  PCI devices: $(ls /sys/bus/pci/devices | tr '\n' ' ')"
echo
pass
