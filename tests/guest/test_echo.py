#!/usr/bin/env python3
"""The echo guest reads COM1 and writes back what it got: stdin reaches the guest through
the UART model. While it waits, the running monitor is inspected (no capabilities left),
and it is stopped by signals, which must end slabvm with 128 + signal and lose no output.

usage: test_echo.py SLABVM ECHO_BIN
"""
import os
import signal
import sys

import guestrun

CAPS = ("CapInh", "CapPrm", "CapEff", "CapAmb")


def capabilities(pid):
    """{tid: {CapXxx: value}} for every thread: capabilities are per thread."""
    caps = {}
    for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        caps[int(tid)] = {k: int(fields[k], 16) for k in CAPS if k in fields}
    return caps


def test_echo():
    with guestrun.Guest(SLABVM, ["--firmware", ECHO]) as g:
        pos = g.wait_for("echo: ready\n")
        caps = capabilities(g.pid)
        held = {tid: c for tid, c in caps.items() if any(c.values())}
        assert not held, "slabvm still holds capabilities after setup: %s" % ", ".join(
            "thread %d %s" % (tid, " ".join("%s=%016x" % kv for kv in c.items()))
            for tid, c in held.items())
        g.send(b"hello")
        pos = g.wait_for("hello", start=pos)
        g.send(b" world\n")
        pos = g.wait_for(" world\n", start=pos)
        g.send(b"q")
        g.wait_for("echo: bye\n", start=pos)
        status = g.wait()
        assert status == 0, "want exit status 0: " + g.report()


def stopped_by(sig):
    def run():
        with guestrun.Guest(SLABVM, ["--firmware", ECHO]) as g:
            pos = g.wait_for("echo: ready\n")
            g.send(b"still here")
            g.wait_for("still here", start=pos)
            g.proc.send_signal(sig)
            status = g.wait(timeout=5)
            assert status == 128 + sig, "want exit status %d after %s: %s" % (
                128 + sig, sig.name, g.report())
            assert "echo: ready\nstill here" in g.stdout(), \
                "output lost or mangled: " + g.report()
    return "stopped by " + signal.Signals(sig).name, run


if __name__ == "__main__":
    SLABVM, ECHO = sys.argv[1:3]
    guestrun.main([("echo", test_echo), stopped_by(signal.SIGTERM),
                   stopped_by(signal.SIGINT)])
