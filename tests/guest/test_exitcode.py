#!/usr/bin/env python3
"""A guest's exit-port write becomes slabvm's exit status, all 8 bits of it, and slabvm says
why it stopped unless the guest ended cleanly (status 0); a triple fault is a guest reset
(status 3), said so on stderr.

usage: test_exitcode.py SLABVM EXITCODE_BIN
"""
import sys

import guestrun


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


if __name__ == "__main__":
    SLABVM, EXITCODE = sys.argv[1:3]
    guestrun.main([case("exit=%d" % n, n) for n in (0, 1, 42, 255)] + [
        case("console=ttyS0 exit=0x2a quiet", 42),
        case(None, 100),
        case("exit=256", 100),
        ("triple fault -> 3, said on stderr", triple_fault),
    ])
