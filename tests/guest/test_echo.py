#!/usr/bin/env python3
"""The echo guest reads COM1 and writes back what it got: stdin reaches the guest through
the UART model. While it waits, the running monitor is inspected (no capabilities left),
and it is stopped by signals, which must end slabvm with 128 + signal and lose no output.
A vCPU blocked writing guest output to a stdout nobody reads does not keep a SIGTERM from
ending slabvm.

usage: test_echo.py SLABVM ECHO_BIN
"""
import fcntl
import os
import signal
import subprocess
import sys
import termios
import threading
import time

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


def mappings(pid):
    """[(header line, size in kB, VmFlags words, Rss in kB)] of /proc/PID/smaps."""
    maps, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                cur = [line.strip(), 0, [], 0]
                maps.append(cur)
            elif first == "Size:":
                cur[1] = int(line.split()[1])
            elif first == "Rss:":
                cur[3] = int(line.split()[1])
            elif first == "VmFlags:":
                cur[2] = line.split()[1:]
    return maps


def test_firmware_area_not_huge():
    """The 4 MiB firmware area (anonymous, MAP_NORESERVE: VmFlags "nr") is advised
    MADV_NOHUGEPAGE ("nh"): where transparent huge pages are `always`, the few pages a
    firmware guest touches would otherwise make each 2 MiB half a huge page."""
    if not os.path.exists("/sys/kernel/mm/transparent_hugepage/enabled"):
        print("     (no transparent huge pages on this kernel: nothing to check)")
        return
    with guestrun.Guest(SLABVM, ["--firmware", ECHO]) as g:
        g.wait_for("echo: ready\n")
        areas = [m for m in mappings(g.pid) if m[1] == 4096 and "nr" in m[2]]
        g.send(b"q")
        g.wait()
    assert areas, "no 4 MiB MAP_NORESERVE mapping (the firmware area) in smaps"
    bad = [m for m in areas if "nh" not in m[2]]
    assert not bad, "firmware area without MADV_NOHUGEPAGE: %r" % bad


def test_firmware_area_resident():
    """The firmware area keeps resident only what the guest and its tables touch: the
    identity map covers RAM, the PCI hole and the BARs slabvm placed in the 64-bit window
    (a page directory per GiB with 2 MiB pages; none with 1 GiB pages), not the whole
    64 GiB window, whose 64 page directories alone were 256 KiB."""
    with guestrun.Guest(SLABVM, ["--firmware", ECHO]) as g:
        g.wait_for("echo: ready\n")
        areas = [m for m in mappings(g.pid) if m[1] == 4096 and "nr" in m[2]]
        g.send(b"q")
        g.wait()
    assert len(areas) == 1, "want one 4 MiB MAP_NORESERVE mapping: %r" % areas
    print("     firmware area: %d KiB resident" % areas[0][3])
    assert areas[0][3] <= 128, "firmware area %d KiB resident: %r" % (areas[0][3], areas)


def kthreads_named(name):
    """The pids of kernel threads whose comm is name."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/comm" % pid) as f:
                if f.read().strip() == name:
                    found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


def test_no_pit():
    """A firmware guest's VM has no PIT: KVM's in-kernel PIT runs a kernel thread
    "kvm-pit/PID" for the process that created it, and a VM with one took 12-16 ms longer
    to close (docs/bench.md). Linux guests keep theirs (the testbed boots them)."""
    with guestrun.Guest(SLABVM, ["--firmware", ECHO]) as g:
        g.wait_for("echo: ready\n")
        pit = kthreads_named("kvm-pit/%d" % g.pid)
        g.send(b"q")
        g.wait()
    assert not pit, "kvm-pit/%d exists (kernel thread %r): a PIT was created" % (g.pid, pit)


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


F_SETPIPE_SZ = 1031


def test_stalled_stdout():
    """stdout is a one-page pipe that stops being read: the echoed input fills it and the
    vCPU thread blocks writing guest output. A SIGTERM must still end slabvm: the stop
    drops output that cannot be written (before this was fixed, the teardown waited for
    that vCPU for ever and only SIGKILL ended slabvm)."""
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen([SLABVM, "run", "--firmware", ECHO], stdin=subprocess.PIPE,
                            stdout=w, stderr=subprocess.PIPE)
    os.close(w)
    err = bytearray()

    def pump():
        while True:
            data = os.read(proc.stderr.fileno(), 4096)
            if not data:
                return
            err.extend(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def report():
        return "exit status %s, stderr:\n%s" % (proc.poll(), err.decode(errors="replace"))

    def wait_until(cond, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline and proc.poll() is None, \
                "no %s: %s" % (what, report())
            time.sleep(0.05)

    def pipe_bytes():
        return int.from_bytes(fcntl.ioctl(r, termios.FIONREAD, b"\0\0\0\0"), "little")

    try:
        out = b""
        while b"echo: ready\n" not in out:
            data = os.read(r, 64)
            assert data, "slabvm closed stdout: " + report()
            out += data
        # From here on nobody reads stdout: the echo fills the pipe.
        feeder = threading.Thread(target=lambda: proc.stdin.write(b"x" * 16384), daemon=True)
        feeder.start()
        # A one-page pipe holding any bytes polls as full: the vCPU waits for room.
        wait_until(lambda: pipe_bytes() > 0, "echoed bytes in the stdout pipe")
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError("a vCPU blocked on stdout kept slabvm from stopping: " +
                                 report())
        reader.join(10)
        assert status == 128 + signal.SIGTERM, "want status %d: %s" % (
            128 + signal.SIGTERM, report())
        assert b"stopped by" in err, "no stop reason on stderr: " + report()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(r)


if __name__ == "__main__":
    SLABVM, ECHO = sys.argv[1:3]
    guestrun.main([("echo", test_echo),
                   ("firmware area not huge", test_firmware_area_not_huge),
                   ("firmware area resident", test_firmware_area_resident),
                   ("no PIT", test_no_pit),
                   stopped_by(signal.SIGTERM),
                   stopped_by(signal.SIGINT),
                   ("a stalled stdout reader", test_stalled_stdout)])
