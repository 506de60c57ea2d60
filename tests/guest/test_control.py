#!/usr/bin/env python3
"""The control socket of a running slabvm (the echo guest keeps it running): a raw QMP
client checks the greeting, capabilities negotiation, replies and errors, that malformed,
truncated and oversized input leave the connection usable, the socket's mode, and that
quit ends slabvm with status 0 after a SHUTDOWN event, and that the balloon guest's new
size arrives as a BALLOON_CHANGE event, and query-pci shows its function's BARs.
`slabvm ctl` is checked too. human-monitor-command
(info registers, info lapic, info cpus) shows the vCPUs of a 2-vCPU echo guest, which goes
on running.

usage: test_control.py SLABVM ECHO_BIN BALLOON_BIN
"""
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time

import guestrun


# bootinfo.h: the firmware area, and where a firmware image is loaded and runs.
FW_AREA = (0xFF000000, 0xFF400000)
FW_IMAGE = (0xFF200000, 0xFF400000)
FW_PAGE_TABLES = 0xFF010000
CR0_PG = 1 << 31
# KVM's mp_state names as human-monitor-command gives them.
MP_STATES = {"runnable", "uninitialized (wait for SIPI)", "init_received", "halted",
             "sipi_received", "stopped", "check_stop", "operating", "load", "ap_reset_hold",
             "suspended"}


def check_socket_gone(path):
    """slabvm removes its socket at exit, unless it runs as a user that may not: started as
    root it ends as nobody, which cannot write the directory root made (README). A socket
    left then must be dead, so that the next slabvm on the path replaces it."""
    if not os.path.exists(path):
        return
    assert os.geteuid() == 0, "the socket file was left behind"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        raise AssertionError("something still listens on %s after slabvm ended" % path)
    except ConnectionRefusedError:
        pass
    finally:
        s.close()


def error_class(r):
    assert "error" in r, "expected an error, got %r" % r
    return r["error"]["class"]


def test_protocol():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        with guestrun.Guest(SLABVM, ["--firmware", ECHO, "--qmp", path]) as g:
            g.wait_for("echo: ready\n")
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode == 0o600, "socket mode %o, not 600" % mode
            c = guestrun.Client(path, raw=True)
            greeting = c.recv()
            assert "QMP" in greeting and "version" in greeting["QMP"], greeting
            assert error_class(c.execute("query-status")) == "CommandNotFound"
            assert c.execute("qmp_capabilities") == {"return": {}}
            r = c.execute("query-status")
            assert r["return"]["running"] is True, r
            assert "qemu" in c.execute("query-version")["return"]
            # id comes back, whatever JSON it is.
            c.send('{"execute": "query-status", "id": {"n": [1, "x"]}}')
            assert c.reply()["id"] == {"n": [1, "x"]}
            assert error_class(c.execute("no-such-command")) == "CommandNotFound"
            assert error_class(c.execute("query-status", bogus=1)) == "GenericError"
            # No balloon device: the balloon commands say so.
            assert error_class(c.execute("balloon", value=1 << 20)) == "DeviceNotActive"
            assert error_class(c.execute("query-balloon")) == "DeviceNotActive"
            # Malformed, then split across writes, then oversized: still usable.
            c.send("{this is not json}\n")
            assert error_class(c.reply()) == "GenericError"
            assert "return" in c.execute("query-status")
            c.send('{"execute": "query-')
            time.sleep(0.2)
            c.send('status"}')
            assert "return" in c.reply()
            c.send('{"execute": "query-status", "arguments": {"x": "' + "a" * 100000 + '"}}\n')
            assert error_class(c.reply()) == "GenericError"
            assert "return" in c.execute("query-status")
            gr = c.execute("query-granules")["return"]
            assert gr["granule-size"] == 2 << 20 and gr["mapped"] == 128, gr
            # slabvm ctl against the same VM, in parallel with this client.
            out = subprocess.run([SLABVM, "ctl", path, "query-status"], capture_output=True,
                                 text=True, timeout=30)
            assert out.returncode == 0 and json.loads(out.stdout)["return"]["running"], out
            out = subprocess.run([SLABVM, "ctl", path, "balloon", "value=1"],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 1 and "DeviceNotActive" in out.stdout, out
            # quit: a reply, a SHUTDOWN event, status 0, the socket file gone.
            c.send('{"execute": "quit"}')
            seen = [c.recv(), c.recv()]
            assert {"return": {}} in seen, seen
            ev = [o for o in seen if o.get("event") == "SHUTDOWN"]
            assert ev and ev[0]["data"]["reason"] == "host-qmp-quit", seen
            status = g.wait()
            assert status == 0, "quit ended slabvm with %d: %s" % (status, g.report())
            check_socket_gone(path)


def test_balloon_change():
    """The driver's new size reaches every client in command mode as BALLOON_CHANGE."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        args = ["--firmware", BALLOON, "--mem", "64M", "--balloon", "--qmp", path]
        with guestrun.Guest(SLABVM, args) as g:
            pos = g.wait_for("balloon: inflated", timeout=60)
            c = guestrun.Client(path, raw=True)
            c.recv()
            assert c.execute("qmp_capabilities") == {"return": {}}
            before = c.execute("query-balloon")["return"]["actual"]
            g.send(b"x")  # the guest deflates some pages and lowers its actual
            pos = g.wait_for("balloon: deflated", start=pos, timeout=60)
            deadline = time.monotonic() + 10
            while True:
                ev = c.recv()
                # The inflate's own event may still be on its way (the main loop looks
                # every 100 ms): wait for the deflate's, which makes the guest larger.
                if ev.get("event") == "BALLOON_CHANGE" and ev["data"]["actual"] > before:
                    break
                assert time.monotonic() < deadline, "no BALLOON_CHANGE"
            after = c.execute("query-balloon")["return"]["actual"]
            assert ev["data"]["actual"] == after and after > before, (ev, before, after)
            assert set(ev["timestamp"]) == {"seconds", "microseconds"}, ev
            # The balloon's QOM properties; this driver negotiated no statistics.
            path = "/machine/peripheral/balloon0"
            interval = "guest-stats-polling-interval"
            assert c.execute("qom-get", path=path, property=interval) == {"return": 5}
            assert c.execute("qom-set", path=path, property=interval, value=1) == {"return": {}}
            assert c.execute("qom-get", path=path, property=interval) == {"return": 1}
            gs = c.execute("qom-get", path=path, property="guest-stats")["return"]
            assert gs["last-update"] == 0 and gs["stats"]["stat-free-memory"] == -1, gs
            r = c.execute("qom-get", path="/machine/peripheral/rng9", property=interval)
            assert error_class(r) == "DeviceNotFound", r
            check_query_pci(c, path=os.path.join(d, "vm.sock"))
            g.send(b"q")
            assert g.wait() == 0, g.report()


def check_query_pci(c, path):
    """query-pci while the balloon driver runs: the host bridge and the balloon function,
    whose BARs decode where they were placed (naturally aligned); `slabvm ctl` says the
    same."""
    buses = c.execute("query-pci")["return"]
    assert len(buses) == 1 and buses[0]["bus"] == 0, buses
    devs = {d["slot"]: d for d in buses[0]["devices"]}
    assert devs[0]["class_info"]["class"] == 0x0600 and devs[0]["qdev_id"] == "", devs
    bl = [d for d in devs.values() if d["qdev_id"] == "balloon0"]
    assert len(bl) == 1, devs
    b = bl[0]
    assert b["id"]["vendor"] == 0x1af4 and b["id"]["device"] == 0x1045, b
    assert b["bus"] == 0 and b["function"] == 0 and b["slot"] > 0, b
    if b["irq_pin"]:
        assert b["irq"] > 0, b
    assert b["regions"], b
    for r in b["regions"]:
        assert r["type"] in ("memory", "io"), r
        assert r["address"] != -1 and r["address"] % r["size"] == 0, r
        if r["type"] == "memory":
            assert isinstance(r["mem_type_64"], bool) and isinstance(r["prefetch"], bool), r
    out = subprocess.run([SLABVM, "ctl", path, "query-pci"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out
    assert json.loads(out.stdout)["return"] == buses, out


def hmp(c, line):
    return c.execute("human-monitor-command", **{"command-line": line})


def hmp_text(c, line):
    r = hmp(c, line)
    assert isinstance(r.get("return"), str), "%r: %r" % (line, r)
    return r["return"]


def cpu_blocks(text):
    """{vCPU id: its lines} of an info registers or info lapic answer; every vCPU must have
    answered (no "CPU#N: no answer ..." line)."""
    blocks, cur = {}, None
    for line in text.splitlines():
        m = re.fullmatch(r"CPU#(\d+)(: .*)?", line)
        if m:
            assert m.group(2) is None, "a vCPU did not answer: %r in\n%s" % (line, text)
            cur = int(m.group(1))
            assert cur not in blocks, text
            blocks[cur] = []
        else:
            assert cur is not None, "text before the first CPU#N line:\n" + text
            blocks[cur].append(line)
    return {cpu: "\n".join(lines) + "\n" for cpu, lines in blocks.items()}


def field(block, pattern):
    m = re.search(pattern, block, re.M)
    assert m, "no %r in\n%s" % (pattern, block)
    return m.group(1)


def in_ram(addr, mem=guestrun.DEFAULT_MEM):
    return any(base <= addr < base + size for base, size in guestrun.boot_ram(mem))


def check_registers(text):
    blocks = cpu_blocks(text)
    assert sorted(blocks) == [0, 1], "want CPU#0 and CPU#1:\n" + text
    for cpu, b in blocks.items():
        for regs in ("RAX RBX RCX RDX", "RSI RDI RBP RSP", "R8  R9  R10 R11", "R12 R13 R14 R15"):
            names = regs.split()
            pattern = " ".join("%-3s=[0-9a-f]{16}" % n for n in names)
            assert re.search("^" + pattern + "$", b, re.M), "no %s line:\n%s" % (regs, b)
        rip = int(field(b, r"^RIP=([0-9a-f]{16}) RFL=[0-9a-f]{8} \[[-ODSZAPC]{7}\] CPL=[0-3] "
                           r"HLT=[01]$"), 16)
        assert in_ram(rip) or FW_AREA[0] <= rip < FW_AREA[1], \
            "CPU#%d: RIP %#x is neither RAM nor firmware:\n%s" % (cpu, rip, b)
        for seg in ("ES ", "CS ", "SS ", "DS ", "FS ", "GS ", "LDT", "TR "):
            field(b, r"^(%s=[0-9a-f]{4} [0-9a-f]{16} [0-9a-f]{8} [0-9a-f]{8})" % seg)
        field(b, r"^(GDT=     [0-9a-f]{16} [0-9a-f]{8})$")
        field(b, r"^(IDT=     [0-9a-f]{16} [0-9a-f]{8})$")
        field(b, r"^(CR0=[0-9a-f]{8} CR2=[0-9a-f]{16} CR3=[0-9a-f]{16} CR4=[0-9a-f]{8})$")
        field(b, r"^(EFER=[0-9a-f]{16})$")
        mp = field(b, r"^MP_STATE=(.*)$")
        assert mp in MP_STATES, "CPU#%d: mp_state %r" % (cpu, mp)
        assert ("HLT=1" in b) == (mp == "halted"), b
    bsp, ap = blocks[0], blocks[1]
    # The BSP runs the echo guest's code in long mode; the AP was never started.
    rip = int(field(bsp, r"^RIP=([0-9a-f]{16})"), 16)
    assert FW_IMAGE[0] <= rip < FW_IMAGE[1], "BSP RIP %#x not in the image:\n%s" % (rip, bsp)
    assert int(field(bsp, r"^CR0=([0-9a-f]{8})"), 16) & CR0_PG, "BSP without paging:\n" + bsp
    assert int(field(bsp, r" CR3=([0-9a-f]{16}) "), 16) == FW_PAGE_TABLES, bsp
    assert field(bsp, r"^MP_STATE=(.*)$") == "runnable", bsp
    # The code segment boot.c set up: selector 8, flat, 64-bit, ring 0.
    field(bsp, r"^(CS =0008 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 )")
    assert field(ap, r"^MP_STATE=(.*)$") == "uninitialized (wait for SIPI)", ap
    assert not int(field(ap, r"^CR0=([0-9a-f]{8})"), 16) & CR0_PG, ap


def test_hmp():
    """human-monitor-command on a running 2-vCPU guest, which must go on running."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        with guestrun.Guest(SLABVM, ["--firmware", ECHO, "--cpus", "2", "--qmp", path]) as g:
            pos = g.wait_for("echo: ready\n")
            c = guestrun.Client(path, raw=True)
            c.recv()
            assert c.execute("qmp_capabilities") == {"return": {}}
            check_registers(hmp_text(c, "info registers"))
            check_registers(hmp_text(c, "info registers -a"))

            lapic = cpu_blocks(hmp_text(c, "info lapic"))
            assert sorted(lapic) == [0, 1], lapic
            for cpu, b in lapic.items():
                assert int(field(b, r"^ID +0x[0-9a-f]{8} APIC ID (\d+),")) == cpu, b
                field(b, r"^(LVTT +0x[0-9a-f]{8} vec \d+ (un)?masked "
                         r"(one-shot|periodic|tsc-deadline))")
                field(b, r"^(Timer +DCR=0x[0-9a-f]+ \(divide by \d+\) initial_count = \d+ "
                         r"current_count = \d+)$")
                for name in ("LVT0", "LVT1", "LVTERR", "SPIV", "ISR", "IRR"):
                    field(b, r"^(%s )" % name)
                field(b, r"^(TPR 0x[0-9a-f]{2} PPR 0x[0-9a-f]{2} )")

            cpus = hmp_text(c, "info cpus").splitlines()
            assert len(cpus) == 2, cpus
            tids = []
            for i, line in enumerate(cpus):
                m = re.fullmatch(r"[* ] CPU #(\d+): thread_id=(\d+)", line)
                assert m and int(m.group(1)) == i, cpus
                tids.append(int(m.group(2)))
            for tid in tids:
                assert tid != g.pid and os.path.exists("/proc/%d/task/%d" % (g.pid, tid)), \
                    "thread %d is not one of slabvm's (%d)" % (tid, g.pid)
            assert len(set(tids)) == 2, cpus

            # Errors leave the connection usable.
            r = hmp(c, "info foo")
            assert error_class(r) == "GenericError", r
            assert r["error"]["desc"] == "unknown command: 'info foo'", r
            r = c.execute("human-monitor-command")
            assert error_class(r) == "GenericError" and "command-line" in r["error"]["desc"], r
            r = hmp(c, 7)
            assert error_class(r) == "GenericError" and "string" in r["error"]["desc"], r
            assert c.execute("query-status")["return"]["running"] is True

            # Asked over and over while the guest works: every vCPU answers every time.
            for i in range(10):
                g.send(b"%d," % i)
                check_registers(hmp_text(c, "info registers"))
            pos = g.wait_for("0,1,2,3,4,5,6,7,8,9,", start=pos)

            out = subprocess.run([SLABVM, "ctl", path, "human-monitor-command",
                                  "command-line=info registers"],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out
            check_registers(json.loads(out.stdout)["return"])

            g.send(b"still running")
            pos = g.wait_for("still running", start=pos)
            g.send(b"q")
            g.wait_for("echo: bye\n", start=pos)
            status = g.wait()
            assert status == 0, "want exit status 0: " + g.report()


def test_bad_paths():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "file")
        open(path, "w").close()
        r = guestrun.run(SLABVM, ["--firmware", ECHO, "--qmp", path])
        assert r.returncode == 2 and "not a socket" in r.stderr, guestrun.describe(r)
        r = subprocess.run([SLABVM, "ctl", os.path.join(d, "none"), "query-status"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 3, r


if __name__ == "__main__":
    SLABVM, ECHO, BALLOON = sys.argv[1:4]
    guestrun.main([("protocol", test_protocol), ("balloon change", test_balloon_change),
                   ("human-monitor-command", test_hmp), ("bad paths", test_bad_paths)])
