#!/usr/bin/env python3
"""The hostile-guest suite: one firmware guest per kind of abuse (firmware/hostile_*.c) runs
against slabvm with the balloon and virtio-rng, and prints a line per check and a verdict
(firmware/hostile.h). At each "hostile: sync NAME" the guest waits while this script reads
query-balloon and compares it with what the guest's actions must have left (SYNCS below),
then lets it go on. After the verdict the guest halts with interrupts off, blocked in
KVM_RUN; SIGTERM must end slabvm with 128 + 15 and its stop reason, and nothing else on
stderr: no sanitizer report (the sanitizer build runs this suite in CI), no device error.
A second run of the guest is ended the same way in the middle of its abuse.

usage: test_hostile.py SLABVM NAME IMAGE [SLABVM-RUN-ARGS...]
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

import guestrun

PAGE = 4096
MEM = "64M"
# memfd backing in 4 KiB pages (not the default thp, which on a host whose transparent huge
# pages are on for anonymous memory only releases whole granules): every inflated page is
# released at once, which the counts in SYNCS assume. test_balloon.py checks the default.
BACKING = ["--hugepages", "off"]


def race_applied(got, state):
    """hostile_reset.c: 50 buffers of 4 pages, each reset under: whole buffers or none."""
    pages = got["inflated"] // PAGE
    state["raced"] = pages
    print("reset race: %d of 200 pages inflated before their reset" % pages)
    if got["inflated"] % PAGE or pages % 4 or pages > 200 or got["invalid-pfns"] != 0 \
            or got["released"] != got["inflated"]:
        return "a buffer was applied in part, or counted wrong"
    return None


def race_deflated(got, state):
    """All 200 pages deflated: those the race inflated come back, the rest are refused."""
    if got["inflated"] != 0 or got["invalid-pfns"] != 200 - state["raced"]:
        return "want inflated 0 and invalid-pfns %d" % (200 - state["raced"])
    return None


def stats_arrived(got, state):
    """hostile_pfns.c's second stats buffer: unknown tags and a ragged tail ignored."""
    stats = got.get("guest-stats", {}).get("stats", {})
    want = {"stat-free-memory": 0xdeadbeef000, "stat-total-memory": 0x4000000}
    if {k: stats.get(k) for k in want} != want:
        return "want guest stats %s" % want
    return None


# What query-balloon must say at each sync point: a subset of its reply, or a function of
# the reply and a dict kept for the run that returns what is wrong (None if nothing).
SYNCS = {
    # hostile_loops.c: chains that loop carry 4 valid PFNs; none may be applied.
    "loops-inflate-self": {"inflated": 0, "invalid-pfns": 0},
    "loops-inflate-indirect": {"inflated": 0, "invalid-pfns": 0},
    "loops-inflated": {"inflated": 4 * PAGE, "released": 4 * PAGE, "invalid-pfns": 0},
    "loops-deflate-pair": {"inflated": 4 * PAGE, "invalid-pfns": 0},
    "loops-deflate-nested": {"inflated": 4 * PAGE, "invalid-pfns": 0},
    "loops-deflated": {"inflated": 0, "released": 0, "invalid-pfns": 0},
    "loops-stats": {"inflated": 0, "invalid-pfns": 0},
    "loops-report": {"inflated": 0, "released": 0, "invalid-pfns": 0},
    # hostile_pfns.c: every refused PFN is counted, every valid one applied once.
    "pfns-wild-inflate": {"inflated": 0, "released": 0, "invalid-pfns": 15},
    "pfns-dup-inflate": {"inflated": 3 * PAGE, "released": 3 * PAGE, "invalid-pfns": 18},
    "pfns-reinflate": {"inflated": 4 * PAGE, "invalid-pfns": 21},
    "pfns-deflate-never": {"inflated": 4 * PAGE, "invalid-pfns": 26},
    "pfns-deflate-dup": {"inflated": 2 * PAGE, "invalid-pfns": 28},
    "pfns-deflate-twice": {"inflated": 1 * PAGE, "invalid-pfns": 30},
    # 11 bytes: two PFNs and a 3-byte tail, refused as one.
    "pfns-odd-length": {"inflated": 3 * PAGE, "invalid-pfns": 31},
    # 16384 PFNs read (one new page, 16383 repeats) and 8 bytes past the cap (2 PFNs).
    "pfns-oversized": {"inflated": 4 * PAGE, "invalid-pfns": 31 + 16383 + 2},
    "pfns-writable": {"inflated": 4 * PAGE, "invalid-pfns": 31 + 16383 + 2},
    "pfns-empty": {"inflated": 0, "released": 0, "invalid-pfns": 31 + 16383 + 2},
    # design.md: QMP's actual (RAM less what the driver says it holds) is clamped at 0.
    "pfns-actual-wild": {"actual": 0},
    "pfns-actual-zero": {"actual": guestrun.parse_size(MEM)},
    "pfns-stats": stats_arrived,
    # The reported range that holds an inflated page: that page refused, nothing else.
    "pfns-report": {"inflated": PAGE, "released": PAGE, "invalid-pfns": 31 + 16383 + 3},
    "pfns-report-broken": {"inflated": PAGE, "invalid-pfns": 31 + 16383 + 3},
    "pfns-final": {"inflated": 0, "released": 0, "invalid-pfns": 31 + 16383 + 3},
    # hostile_bars.c: the inflate buffer that waited through a BAR move.
    "bars-balloon": {"inflated": 2 * PAGE, "invalid-pfns": 0},
    # hostile_garbage.c: one page in and out after the storm.
    "garbage-after": {"inflated": 0, "released": 0},
    "reset-balloon-race": race_applied,
    "reset-balloon-empty": race_deflated,
}

# Lines slabvm may print on stderr in these runs: its stop reason for SIGTERM.
EXPECTED_STDERR = re.compile(r"slabvm: stopped by Terminated \(signal 15.*\)")


def query_balloon(sock):
    r = subprocess.run([SLABVM, "ctl", sock, "query-balloon"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    guestrun.check_sanitizers(r.stderr, guestrun.describe(r))
    if r.returncode != 0:
        raise AssertionError("query-balloon failed: " + guestrun.describe(r))
    return json.loads(r.stdout)["return"]


def end_with_sigterm(g):
    """SIGTERM ends slabvm with 128 + 15, and stderr holds nothing but the stop reason."""
    g.proc.send_signal(signal.SIGTERM)
    status = g.wait(timeout=20)
    assert status == 128 + signal.SIGTERM, \
        "want exit status %d after SIGTERM: %s" % (128 + signal.SIGTERM, g.report())
    other = [l for l in g.stderr().splitlines() if not EXPECTED_STDERR.fullmatch(l)]
    assert not other, "unexpected stderr: %s" % g.report()


def run_guest():
    with tempfile.TemporaryDirectory(prefix="slabvm-hostile-") as d:
        sock = os.path.join(d, "vm.sock")
        args = ["--firmware", IMAGE, "--balloon", "--qmp", sock, "--mem", MEM] + BACKING + EXTRA
        with guestrun.Guest(SLABVM, args) as g:
            pos = 0
            state = {}
            line = re.compile(r"hostile: (sync (\S+)|verdict [^\n]*)\n")
            while True:
                pos = g.wait_for("hostile: ", timeout=120, start=pos)
                end = g.wait_for("\n", timeout=60, start=pos)
                m = line.match(g.stdout(), pos - len("hostile: "))
                pos = end
                if not m:
                    continue
                if m.group(2):
                    name = m.group(2)
                    want = SYNCS.get(name)
                    assert want is not None, "unknown sync point %r: %s" % (name, g.report())
                    got = query_balloon(sock)
                    if callable(want):
                        wrong = want(got, state)
                        assert wrong is None, "at %s query-balloon says %s: %s: %s" % (
                            name, got, wrong, g.report())
                    else:
                        sub = {k: got.get(k) for k in want}
                        assert sub == want, "at %s query-balloon says %s, want %s: %s" % (
                            name, sub, want, g.report())
                    g.send(b"g")
                    continue
                verdict = m.group(1)
                break
            fails = [l for l in g.stdout().splitlines() if "hostile: FAIL" in l]
            assert verdict.startswith("verdict pass") and not fails, \
                "the guest's verdict: %s\n%s\n%s" % (verdict, "\n".join(fails), g.report())
            # slabvm must still answer, then end on SIGTERM while the vCPU sits in hlt.
            query_balloon(sock)
            end_with_sigterm(g)
            print(verdict)


def sigterm_midway():
    """SIGTERM in the middle of the abuse (after the guest's sixth check), not after it."""
    with tempfile.TemporaryDirectory(prefix="slabvm-hostile-") as d:
        sock = os.path.join(d, "vm.sock")
        args = ["--firmware", IMAGE, "--balloon", "--qmp", sock, "--mem", MEM] + BACKING + EXTRA
        with guestrun.Guest(SLABVM, args) as g:
            pos, checks = 0, 0
            while checks < 6:
                pos = g.wait_for("hostile: ", timeout=120, start=pos)
                g.wait_for("\n", timeout=60, start=pos)
                if g.stdout().startswith("sync ", pos):
                    g.send(b"g")
                elif g.stdout().startswith("ok ", pos):
                    checks += 1
            end_with_sigterm(g)


if __name__ == "__main__":
    SLABVM, NAME, IMAGE = sys.argv[1:4]
    EXTRA = sys.argv[4:]
    guestrun.main([(NAME, run_guest), (NAME + ": SIGTERM midway", sigterm_midway)])
