#!/usr/bin/env python3
"""DIMM hot-plug and hot-unplug through the memory hotplug controller's registers: the dimm
guest (firmware/dimm.c) polls the controller on commands from this script. A DIMM plugged
over QMP shows up with its base and size, and the guest writes and reads all of it; a
refused unplug (the guest's _OST: device busy) brings ACPI_DEVICE_OST and leaves the DIMM
plugged and usable; an accepted one (_EJ0) brings DEVICE_DELETED and an empty
query-memory-devices, after which the backend can be deleted and the slot used again.
`slabvm ctl --wait` sees both events, times out when none comes, and exits 3 when the VM
goes away while it waits.

usage: test_dimm.py SLABVM DIMM_BIN
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import guestrun
from guestrun import Client, MiB

GiB = 1024 * MiB
DIMM = 256 * MiB
WINDOW_BASE = 4 * GiB  # the hotplug window starts on the first 1 GiB boundary above 4 GiB


def command(g, c, start):
    """Sends a command to the guest; returns its output and the offset past it."""
    g.send(c.encode())
    end = g.wait_for("done %s\n" % c, start=start)
    return g.stdout()[start:end], end


def test_plug_refuse_eject():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        args = ["--firmware", DIMM_BIN, "--mem", "256M", "--maxmem", "%dM" % (1024 + 256),
                "--slots", "2", "--qmp", path]
        with guestrun.Guest(SLABVM, args) as g:
            at = g.wait_for("dimm: ready\n")
            c = Client(path)
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "m1",
                                  "size": DIMM})
            c.ok("device_add", driver="pc-dimm", id="d1", memdev="m1")
            devs = c.ok("query-memory-devices")
            assert [(x["data"]["id"], x["data"]["addr"], x["data"]["size"]) for x in devs] \
                == [("d1", WINDOW_BASE, DIMM)], devs
            out, at = command(g, "p", at)
            want = "plugged 0 0x%x 0x%x ok" % (WINDOW_BASE, DIMM)
            assert want in out, "guest said %r, want %r" % (out, want)
            summary = c.ok("query-memory-size-summary")
            assert summary == {"base-memory": 256 * MiB, "plugged-memory": DIMM}, summary

            # Refused: the DIMM stays, usable.
            c.ok("device_del", id="d1")
            out, at = command(g, "r", at)
            assert "refused 0" in out, out
            ost = c.event("ACPI_DEVICE_OST")["info"]
            assert (ost["device"], ost["slot"], ost["source"], ost["status"]) == \
                ("d1", "0", 3, 0x82), ost
            assert len(c.ok("query-memory-devices")) == 1
            out, at = command(g, "c", at)
            assert "checked 0 ok" in out, out
            r = c.execute("object-del", id="m1")
            assert "in use" in r["error"]["desc"], r

            # Accepted.
            c.ok("device_del", id="d1")
            out, at = command(g, "e", at)
            assert "ejected 0" in out, out
            deleted = c.event("DEVICE_DELETED")
            assert deleted == {"device": "d1", "path": "/machine/peripheral/d1"}, deleted
            assert c.ok("query-memory-devices") == []
            out, at = command(g, "c", at)
            assert "checked" not in out, "an ejected DIMM is still enabled: %r" % out
            c.ok("object-del", id="m1")

            # The slot and the window take a DIMM again.
            c.ok("object-add", **{"qom-type": "memory-backend-ram", "id": "m2",
                                  "size": DIMM})
            c.ok("device_add", driver="pc-dimm", id="d2", memdev="m2")
            out, at = command(g, "p", at)
            assert want in out, "guest said %r, want %r" % (out, want)
            g.send(b"q")
            assert g.wait() == 0, g.report()


def test_refusals():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        args = ["--firmware", DIMM_BIN, "--mem", "256M", "--maxmem", "%dM" % (256 + 256),
                "--slots", "1", "--qmp", path]
        with guestrun.Guest(SLABVM, args) as g:
            g.wait_for("dimm: ready\n")
            c = Client(path)
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "big",
                                  "size": 512 * MiB})
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "m1",
                                  "size": DIMM})
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "m2",
                                  "size": DIMM})
            for args, text in [
                    ({"id": "d1", "memdev": "nope"}, "nope"),
                    ({"id": "d1", "memdev": "big"}, "512M"),
                    ({"id": "d1", "memdev": "m1", "addr": WINDOW_BASE + MiB}, "0x100100000"),
                    ({"id": "d1", "memdev": "m1", "slot": 1}, "slot 1")]:
                r = c.execute("device_add", driver="pc-dimm", **args)
                assert "error" in r and text in r["error"]["desc"], (args, r)
                assert c.ok("query-memory-devices") == [], args
            c.ok("device_add", driver="pc-dimm", id="d1", memdev="m1")
            r = c.execute("device_add", driver="pc-dimm", id="d2", memdev="m2")
            assert "no free range" in r["error"]["desc"], r
            r = c.execute("device_add", driver="pc-dimm", id="d1", memdev="m2")
            assert "Duplicate device ID 'd1'" in r["error"]["desc"], r
            r = c.execute("device_del", id="d2")
            assert r["error"]["class"] == "DeviceNotFound", r
            assert len(c.ok("query-memory-devices")) == 1
            g.send(b"q")
            assert g.wait() == 0, g.report()


def ctl(path, *args, wait=None):
    """Starts `slabvm ctl [--wait ...] path args`; wait is a list of ctl options."""
    return subprocess.Popen([SLABVM, "ctl"] + (wait or []) + [path] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def done(p, timeout=20):
    """A ctl's exit status and its stdout's JSON lines, its stderr."""
    out, err = p.communicate(timeout=timeout)
    return p.returncode, [json.loads(x) for x in out.splitlines()], err


def replied(w):
    """Reads the reply a waiting ctl prints before it waits: its command has been done."""
    line = w.stdout.readline()
    assert line, "ctl printed no reply: %r" % (w.communicate(timeout=20),)
    reply = json.loads(line)
    assert reply == {"return": {}}, reply
    return reply


def test_ctl_wait():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        args = ["--firmware", DIMM_BIN, "--mem", "256M", "--maxmem", "%dM" % (256 + 256),
                "--slots", "1", "--qmp", path]
        with guestrun.Guest(SLABVM, args) as g:
            at = g.wait_for("dimm: ready\n")
            for cmd in [["object-add", "qom-type=memory-backend-memfd", "id=m1",
                         "size=%d" % DIMM],
                        ["device_add", "driver=pc-dimm", "id=d1", "memdev=m1"]]:
                status, out, err = done(ctl(path, *cmd))
                assert status == 0 and out == [{"return": {}}], (cmd, status, out, err)
            out, at = command(g, "p", at)
            assert "ok" in out, out

            # Usage errors: nothing is sent.
            for opts, text in [(["--wait", "X", "--timeout"], "want seconds"),
                               (["--match", "a=1"], "--match without --wait"),
                               (["--wait", "X", "--timeout", "0"], "--timeout 0")]:
                status, out, err = done(ctl(path, "device_del", "id=d1", wait=opts))
                assert status == 2 and out == [] and text in err, (opts, status, out, err)
            # An error reply is not waited for.
            t = time.monotonic()
            status, out, err = done(ctl(path, "device_del", "id=nope",
                                        wait=["--wait", "DEVICE_DELETED"]))
            assert status == 1 and out[0]["error"]["class"] == "DeviceNotFound", (status, out)
            assert time.monotonic() - t < 10, "ctl waited after an error reply"

            # The guest refuses: ACPI_DEVICE_OST with its status, no DEVICE_DELETED.
            w = ctl(path, "device_del", "id=d1",
                    wait=["--wait", "ACPI_DEVICE_OST", "--match", "info.device=d1",
                          "--match", "info.status!=132", "--timeout", "20"])
            replied(w)
            out, at = command(g, "r", at)
            assert "refused 0" in out, out
            status, out, err = done(w)
            assert status == 0 and len(out) == 1, (status, out, err)
            assert out[0]["event"] == "ACPI_DEVICE_OST" and "timestamp" in out[0], out
            assert out[0]["data"]["info"]["status"] == 0x82, out
            # Nobody ejects: the wait ends after its timeout with status 4.
            t = time.monotonic()
            status, out, err = done(ctl(path, "device_del", "id=d1",
                                        wait=["--wait", "DEVICE_DELETED", "--timeout", "1.5"]))
            took = time.monotonic() - t
            assert status == 4 and out == [{"return": {}}], (status, out, err)
            assert "no DEVICE_DELETED within 1.5 s" in err, err
            assert 1.4 < took < 10, took
            # The guest ejects: DEVICE_DELETED for d1, after the reply.
            w = ctl(path, "device_del", "id=d1",
                    wait=["--wait", "DEVICE_DELETED", "--match", "device=d1"])
            replied(w)
            out, at = command(g, "e", at)
            assert "ejected 0" in out, out
            status, out, err = done(w)
            assert status == 0 and len(out) == 1 and out[0]["data"] == \
                {"device": "d1", "path": "/machine/peripheral/d1"}, (status, out, err)

            # The VM goes away while a ctl waits: status 3, said so.
            w = ctl(path, "query-memory-devices", wait=["--wait", "DEVICE_DELETED"])
            assert json.loads(w.stdout.readline()) == {"return": []}
            g.send(b"q")
            assert g.wait() == 0, g.report()
            status, out, err = done(w)
            assert status == 3 and out == [] and "closed before DEVICE_DELETED" in err, \
                (status, out, err)


if __name__ == "__main__":
    SLABVM, DIMM_BIN = sys.argv[1:3]
    guestrun.main([("plug, refuse, eject", test_plug_refuse_eject),
                   ("refusals", test_refusals),
                   ("ctl --wait", test_ctl_wait)])
