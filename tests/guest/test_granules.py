#!/usr/bin/env python3
"""The granules guest writes and reads back one value per granule of plugged RAM. Its count
and checksum must equal what this script derives from the command line alone, so a granule
that is missing, mapped twice or mapped at the wrong address shows up.

usage: test_granules.py SLABVM GRANULES_BIN
"""
import re
import sys

import guestrun
from guestrun import DEFAULT_GRANULE

M64 = (1 << 64) - 1
RESULT = re.compile(r"^granules=(\d+) checksum=0x([0-9a-f]{16})$", re.M)


def splitmix64(x):
    """v(gpa) in firmware/granules.c: one splitmix64 step from state gpa."""
    z = (x + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def expected(mem, granule):
    gpas = [base + i * granule
            for base, size in guestrun.boot_ram(mem) for i in range(size // granule)]
    return len(gpas), sum(splitmix64(g) for g in gpas) & M64


def case(mem, granule=None):
    args = ["--firmware", GRANULES, "--mem", mem]
    if granule:
        args += ["--granule", granule]

    def run():
        g = guestrun.parse_size(granule) if granule else DEFAULT_GRANULE
        n, checksum = expected(guestrun.parse_size(mem), g)
        r = guestrun.run_ok(SLABVM, args, timeout=120)
        lines = RESULT.findall(r.stdout)
        assert len(lines) == 1, "want one result line: " + guestrun.describe(r)
        got = (int(lines[0][0]), int(lines[0][1], 16))
        assert got == (n, checksum), "guest says granules=%d checksum=0x%016x, want " \
            "granules=%d checksum=0x%016x" % (got + (n, checksum))
    return " ".join(args[2:]), run


if __name__ == "__main__":
    SLABVM, GRANULES = sys.argv[1:3]
    guestrun.main([
        case("64M", "4K"),
        case("256M"),
        case("4G", "2M"),
        case("4G", "1G"),
    ])
