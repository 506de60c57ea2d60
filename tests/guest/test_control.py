#!/usr/bin/env python3
"""The control socket of a running slabvm (the echo guest keeps it running): a raw QMP
client checks the greeting, capabilities negotiation, replies and errors, that malformed,
truncated and oversized input leave the connection usable, the socket's mode, and that
quit ends slabvm with status 0 after a SHUTDOWN event, and that the balloon guest's new
size arrives as a BALLOON_CHANGE event. `slabvm ctl` is checked too.

usage: test_control.py SLABVM ECHO_BIN BALLOON_BIN
"""
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time

import guestrun


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""
        self.dec = json.JSONDecoder()

    def recv(self):
        """The next JSON object the server sent."""
        while True:
            text = self.buf.decode(errors="replace").lstrip()
            if text:
                try:
                    obj, end = self.dec.raw_decode(text)
                    self.buf = text[end:].encode()
                    return obj
                except ValueError:
                    pass
            data = self.s.recv(65536)
            assert data, "the server closed the connection; have %r" % self.buf
            self.buf += data

    def reply(self):
        """The next return or error, skipping events."""
        while True:
            obj = self.recv()
            if "return" in obj or "error" in obj:
                return obj

    def send(self, raw):
        self.s.sendall(raw if isinstance(raw, bytes) else raw.encode())

    def execute(self, cmd, **args):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.send(json.dumps(req) + "\n")
        return self.reply()


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
            c = Client(path)
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
            assert not os.path.exists(path), "the socket file was left behind"


def test_balloon_change():
    """The driver's new size reaches every client in command mode as BALLOON_CHANGE."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        args = ["--firmware", BALLOON, "--mem", "64M", "--balloon", "--qmp", path]
        with guestrun.Guest(SLABVM, args) as g:
            pos = g.wait_for("balloon: inflated", timeout=60)
            c = Client(path)
            c.recv()
            assert c.execute("qmp_capabilities") == {"return": {}}
            before = c.execute("query-balloon")["return"]["actual"]
            g.send(b"x")  # the guest deflates some pages and lowers its actual
            pos = g.wait_for("balloon: deflated", start=pos, timeout=60)
            deadline = time.monotonic() + 10
            while True:
                ev = c.recv()
                if ev.get("event") == "BALLOON_CHANGE":
                    break
                assert time.monotonic() < deadline, "no BALLOON_CHANGE"
            after = c.execute("query-balloon")["return"]["actual"]
            assert ev["data"]["actual"] == after and after > before, (ev, before, after)
            assert set(ev["timestamp"]) == {"seconds", "microseconds"}, ev
            g.send(b"q")
            assert g.wait() == 0, g.report()


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
                   ("bad paths", test_bad_paths)])
