#!/usr/bin/env python3
"""The built-in demo guest: `slabvm run` with no kernel boots it, and the memory map it
prints must be the one the command line asked for (layout rules in guestrun.py).

usage: test_demo.py SLABVM
"""
import re
import sys

import guestrun
from guestrun import GiB, MiB, HIGH_BASE, LOW_END, DEFAULT_CPUS, DEFAULT_GRANULE, DEFAULT_MEM

REGION = re.compile(r"^\s+(low|high|dimm)\s+0x([0-9a-f]{16})\.\.0x([0-9a-f]{16})\s+(\d+) MiB "
                    r"(plugged|unplugged)$")


def parse(out):
    """Returns (granule, ncpus, cmdline, [(kind, base, end, plugged)]) from demo output."""
    assert "slabvm demo guest" in out, "no banner"
    assert "demo: done" in out, "the guest did not finish"
    m = re.search(r"^granule: (\d+) bytes$", out, re.M)
    assert m, "no granule line"
    granule = int(m.group(1))
    m = re.search(r"^cpus: (\d+)$", out, re.M)
    assert m, "no cpus line"
    ncpus = int(m.group(1))
    m = re.search(r"^cmdline: (.*)$", out, re.M)
    cmdline = m.group(1) if m else ""
    m = re.search(r"^regions: (\d+)$", out, re.M)
    assert m, "no regions line"
    regions = []
    for line in out.splitlines():
        r = REGION.match(line)
        if r:
            base, end = int(r.group(2), 16), int(r.group(3), 16)
            assert int(r.group(4)) == (end - base) // MiB, "size does not match: " + line
            regions.append((r.group(1), base, end, r.group(5) == "plugged"))
    assert len(regions) == int(m.group(1)), "%s regions announced, %d shown" % (
        m.group(1), len(regions))
    return granule, ncpus, cmdline, regions


def check_layout(regions, granule):
    """Rules every map obeys: sorted, disjoint, granule-aligned, nothing in the PCI hole."""
    prev_end = 0
    for kind, base, end, _ in regions:
        assert base >= prev_end and end > base, "regions overlap or are out of order"
        assert base % granule == 0 and end % granule == 0, \
            "%s region 0x%x..0x%x is not aligned to the granule" % (kind, base, end)
        assert end <= LOW_END or base >= HIGH_BASE, "%s region in the PCI hole" % kind
        prev_end = end


def demo(args, expect_mem, expect_granule=DEFAULT_GRANULE, dimm_bytes=0):
    """Runs the demo with args; checks boot RAM against --mem and the hotplug window."""
    r = guestrun.run_ok(SLABVM, args)
    try:
        granule, ncpus, cmdline, regions = parse(r.stdout)
        # --slots: an empty slot is listed with no memory.
        regions = [x for x in regions if not (x[0] == "dimm" and x[1] == x[2])]
        assert granule == expect_granule, "granule %d, want %d" % (granule, expect_granule)
        assert ncpus >= 1, "no CPU"
        check_layout(regions, granule)
        boot = [(kind, base, end - base, plugged) for kind, base, end, plugged in regions
                if kind != "dimm"]
        want = [(kind, base, size, True) for kind, (base, size)
                in zip(("low", "high"), guestrun.boot_ram(expect_mem))]
        assert boot == want, "boot RAM %s, want %s" % (boot, want)
        dimms = [(base, end, plugged) for kind, base, end, plugged in regions
                 if kind == "dimm"]
        assert sum(end - base for base, end, _ in dimms) == dimm_bytes, \
            "hotplug window of %d bytes, want %d" % (sum(e - b for b, e, _ in dimms),
                                                     dimm_bytes)
        assert not any(p for _, _, p in dimms), "a DIMM is plugged at boot"
        ram_end = max(base + size for _, base, size, _ in boot)
        assert all(base >= ram_end and base % GiB == 0 for base, _, _ in dimms), \
            "the hotplug window must start on a 1 GiB boundary after boot RAM"
        return cmdline, ncpus
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, guestrun.describe(r)))


def test_default():
    cmdline, ncpus = demo([], DEFAULT_MEM)
    assert ncpus == DEFAULT_CPUS, "%d CPUs, want %d" % (ncpus, DEFAULT_CPUS)
    assert cmdline == "", "cmdline %r, want none" % cmdline


def test_1g_4k():
    demo(["--mem", "1G", "--granule", "4K"], 1 * GiB, 4096)


def test_4g():
    demo(["--mem", "4G"], 4 * GiB)


def test_maxmem():
    """--slots leaves the window empty until device_add: the guest sees no DIMM at boot."""
    demo(["--mem", "1G", "--maxmem", "3G", "--slots", "2"], 1 * GiB)


def test_maxmem_high():
    demo(["--mem", "4G", "--maxmem", "6G", "--slots", "1", "--granule", "1G"], 4 * GiB, GiB)


def test_cmdline():
    cmdline, _ = demo(["--mem", "64M", "--cmdline", "hello from the test"], 64 * MiB)
    assert cmdline == "hello from the test", "cmdline %r" % cmdline


if __name__ == "__main__":
    SLABVM = sys.argv[1]
    guestrun.main([(name, fn) for name, fn in list(globals().items())
                   if name.startswith("test_")])
