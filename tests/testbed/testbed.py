#!/usr/bin/env python3
"""Runs one testbed scenario for meson: builds the testbed images (cached), then boots them.

    testbed.py --guests DIR --cache DIR --slabvm PATH [--firmware PATH ...] [--tool PATH ...]
               [--tool-env VAR=NAME ...] [--show PREFIX] SCENARIO
               [-- RUN-TESTBED-ARGS...]

DIR is the source tree's guests/ (build-testbed, run-testbed, the scenarios); the images
are cached in --cache. RUN-TESTBED-ARGS go to run-testbed after the scenario's name (e.g.
`--smp 2 -- -device nvme,...`). Exit status: 0 pass, 1 fail, 77 skip, also when QEMU,
cpio or the kernel package cannot be had here. A run in which level 1 hung (run-testbed's
status 3: its heartbeat stopped, a fault of the QEMU TCG testbed, not of slabvm) is
repeated once, after its diagnostics are printed; a second hang fails.

--tool-env VAR=NAME: a program outside the repository that a benchmark compares against
(kvmtool: LKVM=lkvm), named by the environment variable VAR, goes into level 1 as
/bin/NAME. It must be statically linked (its libraries are not copied). It is appended to
a copy of the level-1 image, SCENARIO-initrd.img in the cache, so that the shared images
stay as they are. The scenario skips (77) when VAR is unset or names no executable file.
--show PREFIX: after the run, prints the console lines that start with PREFIX (a
benchmark's figures), which are otherwise only in the log.
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
    p.add_argument("--tool-env", action="append", default=[])
    p.add_argument("--show")
    p.add_argument("scenario")
    args = p.parse_args(argv)

    # Checked before the build, which downloads the kernel.
    for tool, package in [("qemu-system-x86_64", "qemu-system-x86"), ("cpio", "cpio")]:
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (Debian package %s)" % (tool, package))
            return SKIP

    extra_tools = []
    for spec in args.tool_env:
        var, _, name = spec.partition("=")
        path = os.environ.get(var)
        if not path:
            print("SKIP: %s is not set: this benchmark needs %s (e.g. %s=/path/to/lkvm-static)"
                  % (var, name, var))
            return SKIP
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print("SKIP: %s=%s is not an executable file" % (var, path))
            return SKIP
        print("%s=%s goes into level 1 as /bin/%s" % (var, path, name), flush=True)
        extra_tools.append((path, name))

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
    run = [args.guests + "/run-testbed", "--dir", args.cache]
    if extra_tools:
        run += ["--initrd", with_tools(args.cache, args.scenario, extra_tools)]
    run += [args.scenario] + extra
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
    if args.show:
        log = os.path.join(args.cache, args.scenario + ".log")
        with open(log, errors="replace") as f:
            for line in f:
                if line.startswith(args.show):
                    print(line.rstrip("\n"))
    return status


def with_tools(cache, scenario, tools):
    """A copy of the level-1 image with the programs [(path, name)] appended as /bin/NAME
    (the kernel unpacks concatenated archives, a later file replacing an earlier one)."""
    stage = os.path.join(cache, "stage-" + scenario + "-tools")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(os.path.join(stage, "bin"))
    for path, name in tools:
        shutil.copyfile(path, os.path.join(stage, "bin", name))
        os.chmod(os.path.join(stage, "bin", name), 0o755)
    out = os.path.join(cache, scenario + "-initrd.img")
    with open(out + ".tmp", "wb") as f:
        with open(os.path.join(cache, "initrd-l1.img"), "rb") as base:
            shutil.copyfileobj(base, f)
        # The kernel finds an uncompressed archive only at a 4-byte boundary; it skips
        # the zeros before it.
        f.write(b"\0" * (-f.tell() % 4))
        f.flush()
        subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=stage,
                       input=b"bin\n" + b"".join(("bin/%s\n" % n).encode() for _, n in tools),
                       stdout=f, check=True)
    os.replace(out + ".tmp", out)
    return out


if __name__ == "__main__":
    sys.exit(main())
