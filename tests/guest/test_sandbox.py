#!/usr/bin/env python3
"""Privileges and seccomp of a running slabvm (the echo guest keeps it running): every
thread of the process, as /proc shows it, runs as the unprivileged user with no
supplementary groups, no capability, no_new_privs and a seccomp filter; --user picks the
ids; --sandbox off leaves the filter out; a --console file is opened before the user
changes. Bad --user values are usage errors. (The refusal of a forbidden call is
tests/unit/test_sandbox.c's.)

usage: test_sandbox.py SLABVM ECHO_BIN
"""
import os
import pwd
import sys
import tempfile

import guestrun

SLABVM, ECHO = sys.argv[1], sys.argv[2]
ROOT = os.geteuid() == 0


def task_status(pid):
    """{tid: {field: value}} from /proc/PID/task/*/status."""
    out = {}
    for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            out[tid] = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return out


def check_running(args, uid, gid, seccomp):
    """Starts the echo guest with args and checks every thread's credentials."""
    with guestrun.Guest(SLABVM, ["--firmware", ECHO] + args) as g:
        g.wait_for("echo: ready\n")
        tasks = task_status(g.pid)
        # main, the vCPU and the console reader at least
        assert len(tasks) >= 3, "threads: %s" % sorted(tasks)
        for tid, st in tasks.items():
            where = "thread %s of %s" % (tid, " ".join(args) or "the defaults")
            ids = "%d\t%d\t%d\t%d" % ((uid,) * 4)
            assert st["Uid"] == ids, "%s: Uid %r, want %r" % (where, st["Uid"], ids)
            ids = "%d\t%d\t%d\t%d" % ((gid,) * 4)
            assert st["Gid"] == ids, "%s: Gid %r, want %r" % (where, st["Gid"], ids)
            assert st["Groups"].strip() == "", "%s: groups %r" % (where, st["Groups"])
            for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                assert int(st[cap], 16) == 0, "%s: %s %s" % (where, cap, st[cap])
            if ROOT:
                assert int(st["CapBnd"], 16) == 0, "%s: CapBnd %s" % (where, st["CapBnd"])
            assert st["NoNewPrivs"] == "1", "%s: NoNewPrivs %s" % (where, st["NoNewPrivs"])
            assert st["Seccomp"] == seccomp, "%s: Seccomp %s, want %s" % (
                where, st["Seccomp"], seccomp)
        g.send(b"x")
        g.wait_for("x")
        g.proc.terminate()
        status = g.wait()
        assert status == 128 + 15, "SIGTERM ended slabvm with %d: %s" % (status, g.report())
        assert "seccomp" not in g.stderr(), g.report()


def test_default_user():
    if ROOT:
        nobody = pwd.getpwnam("nobody")
        check_running([], nobody.pw_uid, nobody.pw_gid, "2")
    else:
        check_running([], os.getuid(), os.getgid(), "2")


def test_numeric_user():
    if not ROOT:
        print("(only as root: another user's ids need the privilege to switch)")
        return
    check_running(["--user", "12345:23456"], 12345, 23456, "2")


def test_sandbox_off():
    uid, gid = (pwd.getpwnam("nobody")[2:4]) if ROOT else (os.getuid(), os.getgid())
    check_running(["--sandbox", "off"], uid, gid, "0")


def test_console_file():
    """A file in a directory only the starting user may write: opened before the drop."""
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o700)
        path = os.path.join(d, "console.log")
        r = guestrun.run(SLABVM, ["--console", "file:" + path])
        assert r.returncode == 0, guestrun.describe(r)
        with open(path) as f:
            out = f.read()
        assert "demo: done" in out, "console file holds %r" % out


def test_bad_users():
    for user, why in (("root", "must not be 0"), ("0:0", "must not be 0"),
                      ("slabvm-no-such-user", "no such user"),
                      ("nobody:slabvm-no-such-group", "no such group"),
                      ("4000000", "not in the user database"),
                      ("a:b:c", "USER:GROUP"), (":x", "USER:GROUP")):
        r = guestrun.run(SLABVM, ["--user", user])
        assert r.returncode == 2 and why in r.stderr, \
            "--user %s: %s" % (user, guestrun.describe(r))
    r = guestrun.run(SLABVM, ["--sandbox", "maybe"])
    assert r.returncode == 2 and "--sandbox maybe" in r.stderr, guestrun.describe(r)


if __name__ == "__main__":
    guestrun.main([
        ("the default user", test_default_user),
        ("--user UID:GID", test_numeric_user),
        ("--sandbox off", test_sandbox_off),
        ("--console file: opened before the drop", test_console_file),
        ("bad --user and --sandbox", test_bad_users),
    ])
