#!/usr/bin/env python3
"""--hugepages on /dev/kvm. Refusals first (exit status 2 and a message that says what to
do), then, with 2 MiB huge pages in the pool, guests on hugetlb backing: the demo guest,
the balloon guest (a granule goes back to the pool whole, or not at all), and a DIMM
plugged at run time under the sandbox, whose memfd_create carries the hugetlb flags. And
thp: query-granules names the backing and the host's shmem_enabled setting.

The pool: when fewer 2 MiB pages are free than the guests need, the script, as root, raises
/proc/sys/vm/nr_hugepages by what is missing and puts the old value back at the end; not
as root it skips (exit status 77) and says how to reserve them. meson runs it alone
(is_parallel: false), since it changes the pool other tests may measure.

usage: test_hugepages.py SLABVM BALLOON_BIN DIMM_BIN
"""
import os
import re
import sys
import tempfile

import guestrun
from guestrun import MiB

import test_balloon as tb
import test_dimm as td

HP = 2 * MiB
SYSFS = "/sys/kernel/mm/hugepages/hugepages-2048kB/"
NR = "/proc/sys/vm/nr_hugepages"
MEM = 64 * MiB
DIMM = 128 * MiB
NEED = (MEM + DIMM) // HP  # the DIMM case's boot RAM and one DIMM
MAX_POOL = 600  # never reserve more than this many pages (1.2 GiB) on a shared machine


def read_int(path):
    with open(path) as f:
        return int(f.read())


def available():
    """Pages a new mapping can get: free less reserved (the surplus pool is not counted)."""
    return read_int(SYSFS + "free_hugepages") - read_int(SYSFS + "resv_hugepages")


class Unavailable(Exception):
    """The pool cannot give the pages the hugetlb cases need (the reason is printed)."""


class Pool:
    """Makes `need` 2 MiB pages available for the run; restores nr_hugepages after."""

    def __init__(self, need):
        self.need = need
        self.old = None

    def __enter__(self):
        if not os.path.isdir(SYSFS):
            print("SKIP: this kernel has no 2 MiB huge page pool (%s)" % SYSFS)
            raise Unavailable()
        short = self.need - available()
        if short <= 0:
            return self
        nr = read_int(NR)
        if os.geteuid() != 0 or nr + short > MAX_POOL:
            print("SKIP: %d free 2 MiB huge pages needed, %d free; as root: echo %d > %s"
                  % (self.need, available(), nr + short, NR))
            raise Unavailable()
        self.old = nr
        with open(NR, "w") as f:
            f.write("%d\n" % (nr + short))
        if available() < self.need:
            got = available()
            self.__exit__()
            print("SKIP: the kernel found only %d of %d 2 MiB huge pages (memory too "
                  "fragmented?)" % (got, self.need))
            raise Unavailable()
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            with open(NR, "w") as f:
                f.write("%d\n" % self.old)
            self.old = None


def expect_usage(args, want):
    r = guestrun.run(SLABVM, args)
    assert r.returncode == 2 and want in r.stderr, \
        "want exit status 2 and %r: %s" % (want, guestrun.describe(r))


def test_refusals():
    expect_usage(["--hugepages", "hugetlb", "--granule", "4K"],
                 "--hugepages hugetlb: --granule 4K is smaller than a huge page; use "
                 "--granule 2M or larger")
    expect_usage(["--hugepages", "hugetlb:1G"],
                 "--hugepages hugetlb:1G: --granule 2M is smaller than a huge page")
    expect_usage(["--hugepages", "huge"], "--hugepages huge: use off, thp, hugetlb")
    # More RAM than the pool has free (whatever it holds now): refused before the guest.
    pages = available() + 8
    pages += pages % 512 == 0  # a size in M in the message, not G
    mem = max(pages * HP, 16 * MiB)
    expect_usage(["--hugepages", "hugetlb", "--mem", "%dM" % (mem // MiB)],
                 "%dM of RAM needs %d free 2M huge pages, %d are free; as root: echo "
                 % (mem // MiB, mem // HP, available()))


def test_demo():
    before = available()
    r = guestrun.run(SLABVM, ["--hugepages", "hugetlb", "--mem", "64M"])
    assert r.returncode == 0 and "demo: done" in r.stdout, guestrun.describe(r)
    assert available() == before, "huge pages not given back: %d free, %d before" % (
        available(), before)


def balloon_state(sock, inflated, released, pinned, partial, discarded, g):
    _, rep = tb.ctl(sock, "query-balloon")
    b = rep["return"]
    want = {"actual": MEM - inflated, "inflated": inflated, "released": released,
            "inflated-pinned": pinned}
    got = {k: b.get(k) for k in want}
    assert got == want, "query-balloon: got %s, want %s\n%s" % (got, want, g.report())
    _, rep = tb.ctl(sock, "query-granules")
    q = rep["return"]
    want = {"backing": "hugetlb", "backing-page-size": HP, "granule-size": HP,
            "inflated-bytes": inflated, "released-bytes": released,
            "inflated-pinned-bytes": pinned, "partial": partial, "discarded": discarded,
            "mapped": MEM // HP - partial - discarded}
    got = {k: q.get(k) for k in want}
    assert got == want, "query-granules: got %s, want %s\n%s" % (got, want, g.report())


def test_balloon():
    """firmware/balloon.c inflates one whole 2 MiB block and 3 pages of the next, then
    deflates 2 pages of the block and the 3 pages. Only the whole block is released."""
    page = tb.PAGE
    with tempfile.TemporaryDirectory(prefix="slabvm-hp-") as d:
        sock = os.path.join(d, "qmp.sock")
        base = available()
        args = ["--firmware", BALLOON, "--balloon", "--qmp", sock, "--mem", "64M",
                "--hugepages", "hugetlb"]
        with guestrun.Guest(SLABVM, args) as g:
            pos = g.wait_for("balloon: inflated", timeout=60)
            pos = g.wait_for("\n", start=pos)
            assert "inflated 518 pfns (515 valid, 3 invalid), actual 515\n" in g.stdout(), \
                g.report()
            balloon_state(sock, 515 * page, 512 * page, 3 * page, 1, 1, g)
            # The whole block's huge page went back to the pool; the other 31 are held.
            assert available() == base - MEM // HP + 1, \
                "pool: %d available, want %d" % (available(), base - MEM // HP + 1)
            g.send(b"x")
            pos = g.wait_for("balloon: deflated", start=pos, timeout=60)
            pos = g.wait_for("\n", start=pos)
            out = g.stdout()
            assert "deflated 6 pfns (5 valid, 1 invalid), actual 510," in out, g.report()
            # The 2 pages of the released block come back zeroed, in a fresh huge page;
            # the 3 of the partial granule were never released and kept their contents.
            assert "3 of 5 pages kept their contents" in out, g.report()
            balloon_state(sock, 510 * page, 0, 510 * page, 1, 0, g)
            assert available() == base - MEM // HP, "pool: deflate did not take its page"
            g.send(b"q")
            g.wait_for("balloon: bye\n", start=pos)
            assert g.wait(timeout=20) == 0, g.report()
        assert available() == base, "huge pages not given back after exit"


def test_dimm():
    """A DIMM plugged under the sandbox gets a hugetlb memfd; a second one, with the pool
    empty, is refused with the count of pages missing and the VM goes on."""
    with tempfile.TemporaryDirectory(prefix="slabvm-hp-") as d:
        path = os.path.join(d, "vm.sock")
        args = ["--firmware", DIMM_BIN, "--mem", "64M", "--maxmem", "%dM" % (64 + 256),
                "--slots", "2", "--qmp", path, "--hugepages", "hugetlb"]
        free0 = available()
        with guestrun.Guest(SLABVM, args) as g:
            at = g.wait_for("dimm: ready\n")
            c = td.Client(path)
            q = c.ok("query-granules")
            assert q["backing"] == "hugetlb" and q["backing-page-size"] == HP, q
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "m1",
                                  "size": DIMM})
            c.ok("device_add", driver="pc-dimm", id="d1", memdev="m1")
            out, at = td.command(g, "p", at)
            want = "plugged 0 0x%x 0x%x ok" % (td.WINDOW_BASE, DIMM)
            assert want in out, "guest said %r, want %r" % (out, want)
            left = free0 - (MEM + DIMM) // HP
            assert available() == left, "pool: %d available, want %d" % (available(), left)
            c.ok("object-add", **{"qom-type": "memory-backend-memfd", "id": "m2",
                                  "size": DIMM})
            if left < DIMM // HP:
                r = c.execute("device_add", driver="pc-dimm", id="d2", memdev="m2")
                msg = r.get("error", {}).get("desc", "")
                assert "128M needs 64 free 2M huge pages, the pool has fewer" \
                    in msg, r
                assert len(c.ok("query-memory-devices")) == 1
            out, at = td.command(g, "c", at)
            assert "checked 0 ok" in out, out
            g.send(b"q")
            status = g.wait()
            assert status == 0, g.report()
            assert "seccomp" not in g.stderr(), g.report()


def thp_word(name, inherit_ok=True):
    """The bracketed word of transparent_hugepage/NAME, or of its 2 MiB size's own file
    when that says something other than inherit; "unknown" when unreadable."""
    word = "unknown"
    try:
        with open("/sys/kernel/mm/transparent_hugepage/" + name) as f:
            word = re.search(r"\[(\w+)\]", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    try:
        with open("/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/" + name) as f:
            own = re.search(r"\[(\w+)\]", f.read()).group(1)
            word = word if own == "inherit" else own
    except (OSError, AttributeError):
        pass
    return word


def test_thp():
    """query-granules: the thp backing and the host's words for it, as sysfs has them; boot
    RAM is anonymous memory where only anonymous memory gets transparent huge pages."""
    shmem = thp_word("shmem_enabled")
    anon = thp_word("enabled")
    shmem_on = shmem in ("always", "within_size", "advise", "force")
    anon_on = anon in ("always", "madvise")
    honoured = shmem_on or anon_on
    with tempfile.TemporaryDirectory(prefix="slabvm-hp-") as d:
        sock = os.path.join(d, "qmp.sock")
        for extra, warn in (([], False), (["--hugepages", "thp"], not honoured)):
            args = ["--firmware", BALLOON, "--balloon", "--qmp", sock, "--mem", "64M"]
            with guestrun.Guest(SLABVM, args + extra) as g:
                g.wait_for("balloon: inflated", timeout=60)
                _, rep = tb.ctl(sock, "query-granules")
                q = rep["return"]
                want = {"backing": "thp", "thp-shmem-enabled": shmem, "thp-enabled": anon,
                        "backing-page-size": HP if honoured else tb.PAGE,
                        "ram-memory": "anonymous" if anon_on and not shmem_on else "memfd"}
                got = {k: q.get(k) for k in want}
                assert got == want, "query-granules %s: got %s, want %s" % (extra, got, want)
                said = "--hugepages thp: the host's transparent huge pages are off" in \
                    g.stderr()
                assert said == warn, "warning %s, want %s: %s" % (said, warn, g.report())
                g.close()
        # off is a memfd whatever the host allows.
        args = ["--firmware", BALLOON, "--balloon", "--qmp", sock, "--mem", "64M",
                "--hugepages", "off"]
        with guestrun.Guest(SLABVM, args) as g:
            g.wait_for("balloon: inflated", timeout=60)
            _, rep = tb.ctl(sock, "query-granules")
            q = rep["return"]
            got = {k: q.get(k) for k in ("backing", "ram-memory", "backing-page-size")}
            want = {"backing": "off", "ram-memory": "memfd", "backing-page-size": tb.PAGE}
            assert got == want, "--hugepages off: got %s, want %s" % (got, want)
            g.close()


def run(cases):
    try:
        guestrun.main(cases)
    except SystemExit as e:
        return e.code
    return 0


if __name__ == "__main__":
    SLABVM, BALLOON, DIMM_BIN = sys.argv[1:4]
    tb.SLABVM = td.SLABVM = SLABVM
    guestrun.skip_without_kvm()
    # These need no huge pages: they run (and can fail) on any host.
    status = run([("refusals", test_refusals), ("thp", test_thp)])
    try:
        with Pool(NEED):
            status = run([("hugetlb demo", test_demo), ("hugetlb balloon", test_balloon),
                          ("hugetlb DIMM under the sandbox", test_dimm)]) or status
    except Unavailable:
        sys.exit(status or guestrun.SKIP)
    sys.exit(status)
