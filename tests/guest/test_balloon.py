#!/usr/bin/env python3
"""The balloon guest drives slabvm's virtio-balloon (virtio-pci, polling, no interrupts):
it inflates one 2 MiB-aligned block of 512 pages plus 3 pages of the next block, with three
invalid PFNs in the same buffer, then deflates 2 + 3 of those pages and one page it never
inflated. At each step this script checks what `slabvm ctl SOCK query-balloon` and
`query-granules` report against the granule states derived from the pages the guest holds.
With no pinning listener (no vfio) and memfd backing in 4 KiB pages (`--hugepages off`),
every inflated page is released at once. With the default thp backing on a host whose
transparent huge pages are on for anonymous memory only (query-granules' `ram-memory` says
`anonymous`), a granule is released only when all its pages are inflated, and the pages of
a partial granule keep their contents.

With stats=1 the guest also sends statistics, and slabvm's timer asks for fresh ones: the
second buffer's values must reach query-balloon and qom-get guest-stats.

usage: test_balloon.py SLABVM BALLOON_BIN
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import guestrun
from guestrun import KiB, MiB

PAGE = 4 * KiB
MEM = "64M"
# firmware/balloon.c: INFL_BASE, INFL_FULL, INFL_EXTRA, DEFL_FULL.
INFL_BASE = 8 * MiB
INFLATED = [INFL_BASE + i * PAGE for i in range(512)] + \
    [INFL_BASE + 2 * MiB + i * PAGE for i in range(3)]
DEFLATED = [INFL_BASE + i * PAGE for i in range(2)] + \
    [INFL_BASE + 2 * MiB + i * PAGE for i in range(3)]
INVALID_INFLATE = 3  # past the end of RAM, in the PCI hole, a repeat
INVALID_DEFLATE = 1  # never inflated


def ctl(sock, command, *args, ok=True):
    """Runs `slabvm ctl SOCK COMMAND ARGS`; returns (exit status, parsed reply)."""
    cmd = [SLABVM, "ctl", sock, command] + list(args)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=20)
    guestrun.check_sanitizers(r.stderr, guestrun.describe(r))
    try:
        reply = json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        raise AssertionError("%s: output is not JSON: %s" % (" ".join(cmd), guestrun.describe(r)))
    if ok and (r.returncode != 0 or not isinstance(reply, dict) or "return" not in reply):
        raise AssertionError("%s failed: %s" % (" ".join(cmd), guestrun.describe(r)))
    return r.returncode, reply


def granule_counts(granule, held):
    """The state counts query-granules should show for low RAM when the balloon holds held."""
    ram = guestrun.parse_size(MEM)
    ppg = granule // PAGE
    per = {}
    for gpa in held:
        per[gpa // granule] = per.get(gpa // granule, 0) + 1
    discarded = sum(1 for n in per.values() if n == ppg)
    partial = len(per) - discarded
    return {"unplugged": 0, "mapped": ram // granule - len(per), "partial": partial,
            "discarded": discarded}


def whole_granules(sock):
    """Whether slabvm releases whole granules only: anonymous boot RAM (thp)."""
    _, rep = ctl(sock, "query-granules")
    return rep["return"].get("ram-memory") == "anonymous"


def released_pages(granule, inflated, whole):
    """The inflated pages whose backing is released: all, or those of whole granules."""
    if not whole:
        return list(inflated)
    per = {}
    for gpa in inflated:
        per[gpa // granule] = per.get(gpa // granule, 0) + 1
    return [p for p in inflated if per[p // granule] == granule // PAGE]


def check_state(sock, granule, held, invalid, g, released=None):
    ram = guestrun.parse_size(MEM)
    nbytes = len(held) * PAGE
    rbytes = nbytes if released is None else len(released) * PAGE
    _, rep = ctl(sock, "query-balloon")
    b = rep["return"]
    want = {"actual": ram - nbytes, "target": ram, "inflated": nbytes, "released": rbytes,
            "inflated-pinned": nbytes - rbytes, "invalid-pfns": invalid}
    got = {k: b.get(k) for k in want}
    assert got == want, "query-balloon: got %s, want %s (reply %s)\n%s" % (
        got, want, b, g.report())
    _, rep = ctl(sock, "query-granules")
    q = rep["return"]
    counts = granule_counts(granule, held)
    want = dict(counts, **{"granule-size": granule, "plugged-bytes": ram,
                           "inflated-bytes": nbytes, "released-bytes": rbytes,
                           "inflated-pinned-bytes": nbytes - rbytes})
    got = {k: q.get(k) for k in want}
    assert got == want, "query-granules: got %s, want %s\n%s" % (got, want, g.report())
    regions = q.get("regions", [])
    assert len(regions) == 1 and regions[0].get("granules") == counts, \
        "query-granules regions: %s, want one low RAM region with %s" % (regions, counts)


def guest(sock, granule, extra=()):
    return guestrun.Guest(SLABVM, ["--firmware", BALLOON, "--balloon", "--qmp", sock,
                                   "--mem", MEM, "--granule", granule] + list(extra))


def case(granule_arg, extra=(), backing=("--hugepages", "off")):
    def run():
        granule = guestrun.parse_size(granule_arg)
        with tempfile.TemporaryDirectory(prefix="slabvm-balloon-") as d:
            sock = os.path.join(d, "qmp.sock")
            with guest(sock, granule_arg, list(backing) + list(extra)) as g:
                pos = g.wait_for("balloon: inflated", timeout=60)
                whole = whole_granules(sock)
                if backing:
                    assert not whole, "--hugepages off, yet whole granules: " + g.report()
                released = released_pages(granule, INFLATED, whole)
                pos = g.wait_for("\n", start=pos)
                assert "inflated 518 pfns (515 valid, 3 invalid), actual 515\n" in g.stdout(), \
                    "unexpected inflate report: " + g.report()
                moved = "balloon: moving BAR4 to " in g.stdout()
                if extra:
                    assert "balloon: moving BAR4 to 0xdfff0000 (bar4=" in g.stdout(), \
                        "the guest did not move BAR4: " + g.report()
                else:
                    # bootinfo.h: the 64-bit PCI window is identity-mapped too.
                    assert not moved and re.search(r"BAR4 at 0x1[0-9a-f]{8}\n", g.stdout()), \
                        "BAR4 not in the 64-bit window, or not mapped there: " + g.report()
                check_state(sock, granule, INFLATED, INVALID_INFLATE, g, released)
                if granule == 2 * MiB:
                    # The full block is one discarded granule, the 3 pages one partial.
                    assert granule_counts(granule, INFLATED)["discarded"] == 1
                g.send(b"x")
                pos = g.wait_for("balloon: deflated", start=pos, timeout=60)
                pos = g.wait_for("\n", start=pos)
                out = g.stdout()
                assert "deflated 6 pfns (5 valid, 1 invalid), actual 510," in out, \
                    "unexpected deflate report: " + g.report()
                # Released pages come back as fresh zero pages: the markers are gone; the
                # pages of a granule that was never whole keep theirs.
                kept = len([p for p in DEFLATED if p not in released])
                assert "%d of 5 pages kept their contents" % kept in out, \
                    "want %d deflated pages with their old contents: %s" % (kept, g.report())
                held = [p for p in INFLATED if p not in DEFLATED]
                check_state(sock, granule, held, INVALID_INFLATE + INVALID_DEFLATE, g,
                            [p for p in released if p not in DEFLATED])
                if granule == 2 * MiB:
                    counts = granule_counts(granule, held)
                    assert counts["discarded"] == 0 and counts["partial"] == 1
                g.send(b"q")
                g.wait_for("balloon: bye\n", start=pos)
                status = g.wait(timeout=20)
                assert status == 0, "want exit status 0: " + g.report()
    return " ".join(["--granule", granule_arg] + list(backing) + list(extra)), run


def test_target():
    """`balloon value=V` sets num_pages to (RAM - V) / 4 KiB, which the guest reads."""
    ram = guestrun.parse_size(MEM)
    value = ram - 8 * MiB
    with tempfile.TemporaryDirectory(prefix="slabvm-balloon-") as d:
        sock = os.path.join(d, "qmp.sock")
        with guest(sock, "2M") as g:
            pos = g.wait_for("balloon: inflated", timeout=60)
            ctl(sock, "balloon", "value=%d" % value)
            _, rep = ctl(sock, "query-balloon")
            assert rep["return"].get("target") == value, \
                "query-balloon after balloon value=%d: %s" % (value, rep)
            g.send(b"x")
            m = re.compile(r"balloon: num_pages (\d+)\n")
            pos = g.wait_for("balloon: num_pages", start=pos)
            pos = g.wait_for("\n", start=pos)
            got = m.search(g.stdout())
            assert got and int(got.group(1)) == 8 * MiB // PAGE, \
                "guest read num_pages %s, want %d: %s" % (
                    got and got.group(1), 8 * MiB // PAGE, g.report())
            # Out of range: an error reply and a non-zero exit status, nothing changes.
            for bad in ("value=0", "value=%d" % (ram + PAGE)):
                rc, rep = ctl(sock, "balloon", bad, ok=False)
                assert rc != 0 and rep and "error" in rep, \
                    "balloon %s: want an error, got status %d reply %s" % (bad, rc, rep)
            _, rep = ctl(sock, "query-balloon")
            assert rep["return"].get("target") == value, \
                "target changed by a refused request: %s" % rep
            g.wait_for("balloon: deflated", start=pos, timeout=60)
            g.send(b"q")
            g.wait_for("balloon: bye\n", start=pos)
            status = g.wait(timeout=20)
            assert status == 0, "want exit status 0: " + g.report()


# firmware/balloon.c: STATS_FREE_1, STATS_FREE_2, STATS_TOTAL.
STATS_FREE_1, STATS_FREE_2, STATS_TOTAL = 0x1111000, 0x2222000, 0x4000000


def test_stats():
    """The main loop's timer returns the guest's stats buffer; the guest refills it."""
    with tempfile.TemporaryDirectory(prefix="slabvm-balloon-") as d:
        sock = os.path.join(d, "vm.sock")
        with guest(sock, "2M", ["--cmdline", "stats=1"]) as g:
            pos = g.wait_for("balloon: stats sent\n", timeout=60)
            # The first buffer is read at once; the device keeps it until its timer asks.
            # Until then the guest waits, so this reads the first buffer's values.
            pos = g.wait_for("balloon: inflated", start=pos, timeout=60)
            _, rep = ctl(sock, "qom-get", "path=/machine/peripheral/balloon0",
                         "property=guest-stats")
            gs = rep["return"]
            assert gs["stats"]["stat-total-memory"] == STATS_TOTAL, gs
            assert gs["stats"]["stat-free-memory"] in (STATS_FREE_1, STATS_FREE_2), gs
            assert gs["stats"]["stat-swap-in"] == -1 and gs["last-update"] > 0, gs
            # The timer (every 5 s) asks; the guest sends the buffer again.
            pos = g.wait_for("balloon: stats sent again\n", start=pos, timeout=60)
            for _ in range(100):
                _, rep = ctl(sock, "query-balloon")
                if rep["return"]["guest-stats"]["stats"]["stat-free-memory"] == STATS_FREE_2:
                    break
            else:
                raise AssertionError("the second stats buffer never arrived: %s" % rep)
            g.send(b"x")
            pos = g.wait_for("balloon: deflated", start=pos, timeout=60)
            g.send(b"q")
            g.wait_for("balloon: bye\n", start=pos)
            status = g.wait(timeout=20)
            assert status == 0, "want exit status 0: " + g.report()


if __name__ == "__main__":
    SLABVM, BALLOON = sys.argv[1:3]
    guestrun.main([
        case("2M"),
        case("4K"),
        # The guest moves BAR 4 from the 64-bit window to the 32-bit one before using it:
        # the notify addresses (ioeventfds) must follow the BAR.
        case("2M", ["--cmdline", "bar4=0xdfff0000"]),
        # The default backing (thp): whole granules only where boot RAM is anonymous.
        case("2M", backing=()),
        ("balloon target", test_target),
        ("statistics on the timer", test_stats),
    ])
