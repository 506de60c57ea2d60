#!/usr/bin/env python3
"""A guest that floods the virtio-rng queue (firmware/rngflood.c reposts every buffer the
moment it comes back) must not own the main loop: while the flood runs, the control socket
answers and SIGTERM ends slabvm with 128 + 15 and the signal's stop reason on stderr. The
bounds are generous (a monitor that never gets to them hangs until the bound); none of
them measures speed.

usage: test_rngflood.py SLABVM RNGFLOOD_BIN
"""
import json
import os
import signal
import socket
import sys
import tempfile

import guestrun


def qmp(path):
    """A connected, negotiated QMP session; returns (socket, execute)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile("rwb")

    def reply():
        while True:
            line = f.readline()
            assert line, "the control socket closed"
            obj = json.loads(line)
            if "return" in obj or "error" in obj or "QMP" in obj:
                return obj

    def execute(cmd):
        f.write(json.dumps({"execute": cmd}).encode() + b"\n")
        f.flush()
        return reply()

    assert "QMP" in reply()
    assert execute("qmp_capabilities") == {"return": {}}
    return s, execute


def test_flood():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        with guestrun.Guest(SLABVM, ["--firmware", RNGFLOOD, "--qmp", path]) as g:
            pos = g.wait_for("rngflood: flooding\n")
            # 2^14 buffers came back: the flood is under way, not just posted.
            pos = g.wait_for("rngflood: 16384\n", timeout=60, start=pos)
            s, execute = qmp(path)
            r = execute("query-status")
            assert r.get("return", {}).get("running") is True, r
            # Still flooding after the answer.
            g.wait_for("rngflood: ", timeout=60, start=pos)
            g.proc.send_signal(signal.SIGTERM)
            status = g.wait(timeout=10)
            s.close()
            assert status == 128 + signal.SIGTERM, \
                "want exit status %d: %s" % (128 + signal.SIGTERM, g.report())
            assert "(signal %d" % signal.SIGTERM in g.stderr(), \
                "no stop reason for SIGTERM: " + g.report()


if __name__ == "__main__":
    SLABVM, RNGFLOOD = sys.argv[1:3]
    guestrun.main([("flood", test_flood)])
