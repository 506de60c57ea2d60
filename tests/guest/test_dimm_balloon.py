#!/usr/bin/env python3
"""The balloon holds pages inside a DIMM when the DIMM goes. The dimm_balloon guest
(firmware/dimm_balloon.c) inflates pages of boot RAM and almost all of a plugged DIMM, then
ejects the DIMM with them still inflated. Over QMP this script checks that query-balloon,
query-granules and query-memory-size-summary add up before and after: the DIMM's pages leave
the inflated and released counts with it, the boot RAM's stay. The host's target (num_pages)
stays what it asked for and the driver's actual stays what the driver said; QMP's logical
sizes (RAM less either) then read 0, not a wrapped number, until the driver and the host
catch up. Deflating the pages that went with the DIMM is refused (invalid PFNs), and the
balloon goes on inflating and deflating boot RAM and a new DIMM in the same place, which
comes fresh. Every expected figure is computed here from the pages the guest is told to
inflate and deflate.

usage: test_dimm_balloon.py SLABVM DIMM_BALLOON_BIN
"""
import os
import sys
import tempfile

import guestrun
from guestrun import Client, KiB, MiB, GiB

PAGE = 4 * KiB
GRANULE = 2 * MiB
PPG = GRANULE // PAGE
MEM = 64 * MiB
DIMM = 128 * MiB
DIMM_BASE = 4 * GiB  # the hotplug window's first 1 GiB boundary above 4 GiB
RAM = MEM + DIMM

# Pages as (first address, count). Boot RAM below 2 MiB holds the guest's rings.
BOOT_INFL = [(16 * MiB, PPG), (18 * MiB, 3)]  # one granule whole, one partly
DIMM_INFL = [(DIMM_BASE, DIMM // PAGE - 5)]  # all but the last 5 pages of the DIMM
BOOT_INFL_2 = [(20 * MiB, PPG), (22 * MiB, 7)]
BOOT_DEFL = [(16 * MiB, 2), (18 * MiB, 3)]
NEW_DIMM_INFL = [(DIMM_BASE + GRANULE, 7)]


def pages(runs):
    """Every page address in runs."""
    return {first + i * PAGE for first, n in runs for i in range(n)}


def granules(held, base, size):
    """query-granules' counts for the region [base, base + size) when the balloon holds held
    (no pinning listener: a granule whose pages are all inflated is discarded)."""
    per = {}
    for gpa in held:
        if base <= gpa < base + size:
            per[(gpa - base) // GRANULE] = per.get((gpa - base) // GRANULE, 0) + 1
    discarded = sum(1 for n in per.values() if n == PPG)
    return {"unplugged": 0, "mapped": size // GRANULE - len(per),
            "partial": len(per) - discarded, "discarded": discarded}


def logical(ram, held_pages):
    """QMP's actual and target: the guest's RAM less what the balloon holds, at least 0."""
    return max(ram - held_pages * PAGE, 0)


class Run:
    def __init__(self, g, path):
        self.g = g
        self.at = g.wait_for("dimm_balloon: ready\n")
        self.c = Client(path)

    def guest(self, line):
        """Sends one command line; returns what the guest printed for it."""
        self.g.send((line + "\n").encode())
        end = self.g.wait_for("done %s\n" % line[0], start=self.at)
        out, self.at = self.g.stdout()[self.at:end], end
        assert "FAIL" not in out, "guest: %r" % out
        return out

    def balloon(self, op, runs):
        for first, n in runs:
            self.guest("%s 0x%x %d" % (op, first, n))

    def num_pages(self):
        out = self.guest("n")
        return int(out.split("num_pages ")[1].split()[0])

    def check(self, held, regions, actual_pages, target_pages, invalid, dimms):
        """What QMP says when the balloon holds held (addresses), the driver says it holds
        actual_pages, the host asked for target_pages, and regions (base, size) are RAM."""
        c = self.c
        ram = sum(size for _, size in regions)
        b = c.ok("query-balloon")
        got = {k: b[k] for k in ("actual", "target", "inflated", "released",
                                 "inflated-pinned", "invalid-pfns", "held-pfns",
                                 "failed-pfns")}
        want = {"actual": logical(ram, actual_pages), "target": logical(ram, target_pages),
                "inflated": len(held) * PAGE, "released": len(held) * PAGE,
                "inflated-pinned": 0, "invalid-pfns": invalid, "held-pfns": 0,
                "failed-pfns": 0}
        assert got == want, "query-balloon %r, want %r" % (got, want)

        q = c.ok("query-granules")
        per = [granules(held, base, size) for base, size in regions]
        want = {s: sum(p[s] for p in per) for s in per[0]}
        want.update({"granule-size": GRANULE, "plugged-bytes": ram,
                     "inflated-bytes": len(held) * PAGE, "released-bytes": len(held) * PAGE,
                     "inflated-pinned-bytes": 0})
        got = {k: q[k] for k in want}
        assert got == want, "query-granules %r, want %r" % (got, want)
        got = sorted((r["base"], r["size"], r["granules"]) for r in q["regions"]
                     if r["size"])
        want = sorted((base, size, p) for (base, size), p in zip(regions, per))
        assert got == want, "query-granules regions %r, want %r" % (got, want)

        s = c.ok("query-memory-size-summary")
        assert s == {"base-memory": MEM, "plugged-memory": ram - MEM}, s
        devs = [(d["data"]["id"], d["data"]["addr"], d["data"]["size"])
                for d in c.ok("query-memory-devices")]
        assert devs == dimms, "query-memory-devices %r, want %r" % (devs, dimms)

    def balloon_change(self, want, allowed):
        """Waits for BALLOON_CHANGE with actual want; any before it must be in allowed."""
        while True:
            got = self.c.event("BALLOON_CHANGE")["actual"]
            if got == want:
                return
            assert got in allowed, "BALLOON_CHANGE %d, want %d (or one of %r first)" % (
                got, want, allowed)


def test_unplug_with_pages_inflated():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vm.sock")
        args = ["--firmware", DIMM_BALLOON_BIN, "--mem", "%dM" % (MEM // MiB),
                "--maxmem", "%dM" % (RAM // MiB), "--slots", "1", "--granule", "2M",
                "--balloon", "--qmp", path,
                # Boot RAM in memfd pages released one by one, as the counts here assume
                # (the default thp may release whole granules only: test_balloon.py).
                "--hugepages", "off"]
        with guestrun.Guest(SLABVM, args) as g:
            r = Run(g, path)
            c = r.c
            boot, dimm = (0, MEM), (DIMM_BASE, DIMM)
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "m1",
                                  "size": DIMM})
            c.ok("device_add", driver="pc-dimm", id="d1", memdev="m1")
            out = r.guest("p")
            assert "plugged 0 0x%x 0x%x" % dimm in out, out
            r.balloon_change(RAM, [MEM])
            r.guest("b")

            # The host asks for what the guest will hold; the guest inflates it, partly in
            # the DIMM, and says so.
            held = pages(BOOT_INFL) | pages(DIMM_INFL)
            n = len(held)
            assert n * PAGE > MEM  # more than the boot RAM: logical sizes must not wrap
            c.ok("balloon", value=RAM - n * PAGE)
            assert r.num_pages() == n
            r.balloon("i", BOOT_INFL + DIMM_INFL)
            r.guest("a %d" % n)
            r.balloon_change(logical(RAM, n), [RAM])
            r.check(held, [boot, dimm], n, n, 0, [("d1", DIMM_BASE, DIMM)])

            # The DIMM goes with its pages inflated.
            c.ok("device_del", id="d1")
            out = r.guest("e")
            assert "ejected 0" in out, out
            assert c.event("DEVICE_DELETED") == {"device": "d1",
                                                 "path": "/machine/peripheral/d1"}
            held = pages(BOOT_INFL)
            r.balloon_change(0, [])
            r.check(held, [boot], n, n, 0, [])
            assert r.num_pages() == n, "the host's target changed by itself"

            # The driver and the host catch up; QMP refuses a size above the RAM left.
            r.guest("a %d" % len(held))
            r.balloon_change(logical(MEM, len(held)), [])
            e = c.execute("balloon", value=MEM + PAGE)
            assert "error" in e and str(MEM) in e["error"]["desc"], e
            c.ok("balloon", value=MEM - len(held) * PAGE)
            assert r.num_pages() == len(held)
            r.check(held, [boot], len(held), len(held), 0, [])

            # Deflating pages that went with the DIMM changes nothing but invalid-pfns.
            r.guest("d 0x%x 3" % DIMM_BASE)
            r.check(held, [boot], len(held), len(held), 3, [])

            # The balloon goes on working in boot RAM.
            r.balloon("i", BOOT_INFL_2)
            r.balloon("d", BOOT_DEFL)
            for first, count in BOOT_DEFL:
                assert "zero ok" in r.guest("z 0x%x %d" % (first, count))
            held = (held | pages(BOOT_INFL_2)) - pages(BOOT_DEFL)
            r.guest("a %d" % len(held))
            r.balloon_change(logical(MEM, len(held)), [])
            r.check(held, [boot], len(held), len(pages(BOOT_INFL)), 3, [])

            # A new DIMM in the same place comes fresh: none of the old pages are inflated.
            c.ok("object-del", id="m1")
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "m2",
                                  "size": DIMM})
            c.ok("device_add", driver="pc-dimm", id="d2", memdev="m2")
            out = r.guest("p")
            assert "plugged 0 0x%x 0x%x" % dimm in out, out
            r.balloon_change(logical(RAM, len(held)), [])
            r.check(held, [boot, dimm], len(held), len(pages(BOOT_INFL)), 3,
                    [("d2", DIMM_BASE, DIMM)])
            r.guest("d 0x%x 3" % DIMM_BASE)
            r.balloon("i", NEW_DIMM_INFL)
            held |= pages(NEW_DIMM_INFL)
            r.guest("a %d" % len(held))
            r.balloon_change(logical(RAM, len(held)), [])
            r.check(held, [boot, dimm], len(held), len(pages(BOOT_INFL)), 6,
                    [("d2", DIMM_BASE, DIMM)])
            g.send(b"q\n")
            assert g.wait() == 0, g.report()


if __name__ == "__main__":
    SLABVM, DIMM_BALLOON_BIN = sys.argv[1:3]
    guestrun.main([("unplug with pages inflated", test_unplug_with_pages_inflated)])
