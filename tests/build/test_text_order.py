#!/usr/bin/env python3
"""A static slabvm linked with its hot-text order (meson.build): the functions listed in
src/hot-text.order must still be in the binary, and lie together at the start of its text.

usage: test_text_order.py SLABVM ORDER_FILE

Fails when lld did not apply the order, or when start-up code has changed so much that the
list has gone stale (fewer than 90% of its functions left): then run tools/text-order.
"""
import subprocess
import sys

WINDOW = 64 << 10       # Linux's fault_around_bytes: what one page fault maps


def main():
    binary, order_file = sys.argv[1], sys.argv[2]
    with open(order_file) as f:
        wanted = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    assert len(wanted) > 100, "%s lists only %d functions" % (order_file, len(wanted))
    nm = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True,
                        text=True, check=True).stdout
    funcs = {}
    for line in nm.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            funcs.setdefault(f[3], []).append((int(f[0], 16), int(f[1], 16)))
        elif len(f) == 3 and f[1] in "tTwW":    # no size: crtbegin.o's, listed too
            funcs.setdefault(f[2], []).append((int(f[0], 16), 0))
    sections = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True,
                              check=True).stdout
    text = [l.split() for l in sections.splitlines() if " .text " in l]
    assert text, "%s has no .text section" % binary
    f = text[0][text[0].index(".text") + 2:]
    text_start = int(f[0], 16)

    found = [n for n in wanted if n in funcs]
    missing = [n for n in wanted if n not in funcs]
    print("%d of %d listed functions in %s" % (len(found), len(wanted), binary))
    assert len(found) >= 0.9 * len(wanted), \
        "the hot-text order is stale: %d of its %d functions are gone (%s...): run " \
        "tools/text-order" % (len(missing), len(wanted), ", ".join(missing[:5]))

    pieces = [p for n in found for p in funcs[n]]
    size = sum(s for _, s in pieces)
    start = min(a for a, _ in pieces)
    end = max(a + s for a, s in pieces)
    print("they take %d KiB and lie in 0x%x..0x%x (%d KiB); .text starts at 0x%x"
          % (size >> 10, start, end, (end - start) >> 10, text_start))
    assert start - text_start < WINDOW, \
        "the listed functions start %d KiB into .text, not at its start: was the order " \
        "applied (lld's --symbol-ordering-file)?" % ((start - text_start) >> 10)
    # Objects of glibc's archive hold more than the function listed (vfprintf's holds its
    # helpers): allow half as much again, but not the whole text.
    assert end - start <= 1.5 * size + WINDOW, \
        "the listed functions are spread over %d KiB for %d KiB of their own: was the order " \
        "applied?" % ((end - start) >> 10, size >> 10)


if __name__ == "__main__":
    main()
