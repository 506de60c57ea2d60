#!/usr/bin/env python3
"""A guest's exit-port write becomes slabvm's exit status, all 8 bits of it.

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
    return "cmdline %r -> %d" % (cmdline, status), run


if __name__ == "__main__":
    SLABVM, EXITCODE = sys.argv[1:3]
    guestrun.main([case("exit=%d" % n, n) for n in (0, 1, 42, 255)] + [
        case("console=ttyS0 exit=0x2a quiet", 42),
        case(None, 100),
        case("exit=256", 100),
    ])
