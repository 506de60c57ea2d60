#!/usr/bin/env python3
"""Runs one testbed scenario for meson: builds the testbed images (cached), then boots them.

    testbed.py --guests DIR --cache DIR --slabvm PATH [--firmware PATH ...] [--tool PATH ...]
               SCENARIO
               [-- RUN-TESTBED-ARGS...]

DIR is the source tree's guests/ (build-testbed, run-testbed, the scenarios); the images
are cached in --cache. RUN-TESTBED-ARGS go to run-testbed after the scenario's name (e.g.
`--smp 2 -- -device nvme,...`). Exit status: 0 pass, 1 fail, 77 skip, also when QEMU,
cpio or the kernel package cannot be had here. A run in which level 1 hung (run-testbed's
status 3: its heartbeat stopped, a fault of the QEMU TCG testbed, not of slabvm) is
repeated once, after its diagnostics are printed; a second hang fails.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

SKIP = 77
HUNG = 3  # run-testbed: level 1 stopped printing its heartbeat


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("--guests", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--slabvm", required=True)
    p.add_argument("--firmware", action="append", default=[])
    p.add_argument("--tool", action="append", default=[])
    p.add_argument("scenario")
    args = p.parse_args(argv)

    # Checked before the build, which downloads the kernel.
    for tool, package in [("qemu-system-x86_64", "qemu-system-x86"), ("cpio", "cpio")]:
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (Debian package %s)" % (tool, package))
            return SKIP

    start = time.monotonic()
    build = [args.guests + "/build-testbed", args.cache, "--slabvm", args.slabvm]
    for fw in args.firmware:
        build += ["--firmware", fw]
    for tool in args.tool:
        build += ["--tool", tool]
    r = subprocess.run(build, stdout=subprocess.DEVNULL)
    if r.returncode == SKIP:
        print("SKIP: the testbed images cannot be built here (see build-testbed's message)")
        return SKIP
    if r.returncode != 0:
        print("FAIL: build-testbed exited with status %d" % r.returncode)
        return 1
    print("testbed images ready in %.1f s" % (time.monotonic() - start), flush=True)

    # @SCRATCH@ in QEMU's arguments: a fresh 128 MiB sparse file (an NVMe namespace).
    if any("@SCRATCH@" in a for a in extra):
        scratch = os.path.join(args.cache, args.scenario + ".scratch")
        with open(scratch, "wb") as f:
            f.truncate(128 << 20)
        extra = [a.replace("@SCRATCH@", scratch) for a in extra]
    run = [args.guests + "/run-testbed", "--dir", args.cache, args.scenario] + extra
    status = subprocess.run(run).returncode
    if status == HUNG:
        # Level 1 itself stopped (no heartbeat): QEMU TCG or the level-1 kernel, which
        # slabvm, a process in level 1, cannot stop. Seen a few times in this project's runs
        # (guests/README.md); the diagnostics are above. One more try, said loudly.
        log = os.path.join(args.cache, args.scenario + ".log")
        if os.path.exists(log):
            os.replace(log, os.path.join(args.cache, args.scenario + ".hung.log"))
        print("testbed: level 1 hung (diagnostics above, log kept as %s.hung.log); running "
              "%s once more" % (args.scenario, args.scenario), flush=True)
        status = subprocess.run(run).returncode
        if status == HUNG:
            print("FAIL: level 1 hung twice")
            return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
