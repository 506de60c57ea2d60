"""Shared helpers for the guest tests: run slabvm with a firmware guest, talk to it, check.

Every test script takes the slabvm binary as its first argument (firmware images after it),
skips with exit status 77 when /dev/kvm cannot be opened read-write, and runs a list of
cases; a case fails by raising AssertionError with a message that shows what slabvm said.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback

SKIP = 77
KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

# The x86 layout slabvm promises (src/mem/memmap.h): boot RAM below the PCI hole, the rest at
# 4 GiB. The defaults are the ones `slabvm --help` states.
LOW_END = 3 * GiB
HIGH_BASE = 4 * GiB
DEFAULT_MEM = 256 * MiB
DEFAULT_GRANULE = 2 * MiB
DEFAULT_CPUS = 1


def skip_without_kvm():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        print("SKIP: cannot open /dev/kvm read-write: %s" % e.strerror)
        sys.exit(SKIP)
    os.close(fd)


def parse_size(s):
    """Parses a size the way slabvm's CLI does: a number with an optional K/M/G suffix."""
    m = re.fullmatch(r"(\d+)([KMG]?)", s)
    if not m:
        raise ValueError("bad size %r" % s)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def boot_ram(mem):
    """The boot RAM regions (base, size) for --mem: low RAM first, the rest above 4 GiB."""
    low = min(mem, LOW_END)
    regions = [(0, low)]
    if mem > low:
        regions.append((HIGH_BASE, mem - low))
    return regions


# What ASan, LSan and UBSan print when slabvm is built with -Db_sanitize: UBSan goes on
# running unless told otherwise, so its report is a failure even when the status is right.
SANITIZER_REPORT = re.compile(r"runtime error:|ERROR: (Address|Leak)Sanitizer")


def check_sanitizers(stderr, report):
    if SANITIZER_REPORT.search(stderr):
        raise AssertionError("sanitizer report: " + report)


def describe(proc_result):
    return "exit status %s\n--- stdout ---\n%s--- stderr ---\n%s" % (
        proc_result.returncode, proc_result.stdout, proc_result.stderr)


def run(slabvm, args, timeout=60):
    """Runs `slabvm run ARGS` to completion; stdout and stderr are returned as text."""
    cmd = [slabvm, "run"] + list(args)
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        err = (e.stderr or b"").decode(errors="replace")
        raise AssertionError("%s did not end within %d s\n--- stdout ---\n%s--- stderr ---\n%s"
                             % (" ".join(cmd), timeout, out, err))
    check_sanitizers(r.stderr, describe(r))
    return r


def run_ok(slabvm, args, timeout=60):
    r = run(slabvm, args, timeout)
    if r.returncode != 0:
        raise AssertionError("slabvm run %s failed: %s" % (" ".join(args), describe(r)))
    return r


class Guest:
    """A slabvm that runs in the background with stdin on a pipe; output is collected."""

    def __init__(self, slabvm, args):
        self.cmd = [slabvm, "run"] + list(args)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out = bytearray()
        self._err = bytearray()
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._pump, args=(f, buf), daemon=True)
                         for f, buf in ((self.proc.stdout, self._out),
                                        (self.proc.stderr, self._err))]
        for t in self._readers:
            t.start()

    def _pump(self, f, buf):
        while True:
            data = os.read(f.fileno(), 4096)
            with self._cond:
                if not data:
                    self._cond.notify_all()
                    return
                buf.extend(data)
                self._cond.notify_all()

    @property
    def pid(self):
        return self.proc.pid

    def stdout(self):
        with self._cond:
            return self._out.decode(errors="replace")

    def stderr(self):
        with self._cond:
            return self._err.decode(errors="replace")

    def report(self):
        return "exit status %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            self.proc.returncode, self.stdout(), self.stderr())

    def wait_for(self, text, timeout=20, start=0):
        """Waits until stdout holds text at or after offset start; returns its end offset."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        with self._cond:
            while True:
                i = self._out.find(needle, start)
                if i >= 0:
                    return i + len(needle)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(t.is_alive() for t in self._readers)):
                    break
                self._cond.wait(min(left, 0.1))
        raise AssertionError("no %r from the guest within %d s: %s"
                             % (text, timeout, self.report()))

    def send(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise AssertionError("slabvm stopped reading stdin: %s" % self.report())

    def wait(self, timeout=10):
        """Waits for slabvm to exit and for all of its output; returns the exit status."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("slabvm did not exit within %d s: %s"
                                 % (timeout, self.report()))
        for t in self._readers:
            t.join(timeout)
        check_sanitizers(self.stderr(), self.report())
        return self.proc.returncode

    def close(self):
        """Kills slabvm if it still runs (a failed case must not leave it behind)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client:
    """A QMP client of slabvm's control socket (--qmp). It reads the greeting and negotiates
    capabilities, unless raw (for tests of the greeting and of what the server does before
    negotiation), and keeps the events that replies come after, for event() to find."""

    def __init__(self, path, raw=False):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(path)
        self.buf = b""
        self.events = []
        self.dec = json.JSONDecoder()
        if not raw:
            self.recv()  # the greeting
            assert self.execute("qmp_capabilities") == {"return": {}}

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

    def send(self, raw):
        """Sends raw bytes or text as they are."""
        self.s.sendall(raw if isinstance(raw, bytes) else raw.encode())

    def reply(self):
        """The next reply (return or error); the events before it are kept."""
        while True:
            obj = self.recv()
            if "event" in obj:
                self.events.append(obj)
            else:
                return obj

    def execute(self, cmd, **args):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.send(json.dumps(req) + "\n")
        return self.reply()

    def ok(self, cmd, **args):
        r = self.execute(cmd, **args)
        assert "return" in r, "%s %r: %r" % (cmd, args, r)
        return r["return"]

    def event(self, name, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)["data"]
            self.s.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                obj = self.recv()
            except socket.timeout:
                raise AssertionError("no %s event; have %r" % (name, self.events))
            self.events.append(obj)


def main(cases):
    """Runs every case (name, function); exit status 1 if any failed."""
    skip_without_kvm()
    failed = 0
    for name, fn in cases:
        t0 = time.monotonic()
        try:
            fn()
        except AssertionError as e:
            failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
            continue
        except Exception:
            failed += 1
            print("FAIL %s:\n%s" % (name, traceback.format_exc()), flush=True)
            continue
        print("ok   %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)
    print("%d of %d cases failed" % (failed, len(cases)) if failed else
          "all %d cases passed" % len(cases))
    sys.exit(1 if failed else 0)
