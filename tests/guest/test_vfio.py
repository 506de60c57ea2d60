#!/usr/bin/env python3
"""--vfio refusals before the guest runs: a malformed PCI address and a function this host
does not have are usage errors (status 2), each with one message naming the device.

usage: test_vfio.py SLABVM EXITCODE_BIN
"""
import sys

import guestrun

# A function no machine has: device 0x1f, function 7 on a bus far past any this host has.
ABSENT = "0000:fe:1f.7"


def refused(bdf, said):
    def run():
        r = guestrun.run(SLABVM, ["--firmware", EXITCODE, "--vfio", bdf])
        assert r.returncode == 2, "want exit status 2: " + guestrun.describe(r)
        assert said in r.stderr, "want %r on stderr: %s" % (said, guestrun.describe(r))
        assert "exitcode:" not in r.stdout, "the guest ran: " + guestrun.describe(r)
    return "--vfio %s -> 2" % bdf, run


if __name__ == "__main__":
    SLABVM, EXITCODE = sys.argv[1:3]
    guestrun.main([
        refused("00:3.0", '"00:3.0" is not of the form'),
        refused("0000:00:03", '"0000:00:03" is not of the form'),
        refused(ABSENT, "vfio device %s: no such PCI device" % ABSENT),
        refused("fe:1f.7", "vfio device %s: no such PCI device" % ABSENT),
    ])
