#!/usr/bin/env python3
"""A guest's exit-port write becomes slabvm's exit status, all 8 bits of it, and slabvm says
why it stopped unless the guest ended cleanly (status 0); a triple fault is a guest reset
(status 3), said so on stderr; a guest that jumps where no memory is stops slabvm with a vCPU
error (status 4), the vCPU's registers and the reason on stderr.

usage: test_exitcode.py SLABVM EXITCODE_BIN
"""
import os
import struct
import sys
import tempfile

import guestrun

# firmware/bootinfo.h: the firmware area ends here, and nothing is mapped above it.
FW_AREA_END = 0xFF400000


def case(cmdline, status):
    def run():
        args = ["--firmware", EXITCODE]
        if cmdline is not None:
            args += ["--cmdline", cmdline]
        r = guestrun.run(SLABVM, args)
        assert r.returncode == status, "want exit status %d: %s" % (
            status, guestrun.describe(r))
        assert "exitcode:" in r.stdout, "the guest said nothing: " + guestrun.describe(r)
        said = "slabvm: the guest wrote %d to the debug-exit port\n" % status
        if status:
            assert said in r.stderr, "want %r on stderr: %s" % (said, guestrun.describe(r))
        else:
            assert "slabvm:" not in r.stderr, "a clean end is silent: " + guestrun.describe(r)
    return "cmdline %r -> %d" % (cmdline, status), run


def triple_fault():
    r = guestrun.run(SLABVM, ["--firmware", EXITCODE, "--cmdline", "triple-fault=1"])
    assert r.returncode == 3, "want exit status 3: " + guestrun.describe(r)
    said = "slabvm: the guest reset the machine: vCPU 0: triple fault\n"
    assert said in r.stderr, "want %r on stderr: %s" % (said, guestrun.describe(r))



def vcpu_error():
    """movabs rax, FW_AREA_END; jmp rax: an instruction fetch from no memory, which KVM
    cannot emulate (KVM_EXIT_INTERNAL_ERROR)."""
    image = b"\x48\xb8" + struct.pack("<Q", FW_AREA_END) + b"\xff\xe0"
    with tempfile.TemporaryDirectory(prefix="slabvm-exitcode-") as d:
        path = os.path.join(d, "jump.bin")
        with open(path, "wb") as f:
            f.write(image)
        r = guestrun.run(SLABVM, ["--firmware", path])
    assert r.returncode == 4, "want exit status 4: " + guestrun.describe(r)
    assert "slabvm: RIP=" in r.stderr and "slabvm: CR0=" in r.stderr, \
        "want the registers on stderr: " + guestrun.describe(r)
    assert "slabvm: stopped on a vCPU error: vCPU 0: " in r.stderr, guestrun.describe(r)


if __name__ == "__main__":
    SLABVM, EXITCODE = sys.argv[1:3]
    guestrun.main([case("exit=%d" % n, n) for n in (0, 1, 42, 255)] + [
        case("console=ttyS0 exit=0x2a quiet", 42),
        case(None, 100),
        case("exit=256", 100),
        ("triple fault -> 3, said on stderr", triple_fault),
        ("vCPU error -> 4, registers and reason on stderr", vcpu_error),
    ])
