#!/usr/bin/env python3
"""Regression checks from a review of harmless capture (tests/programs/review_abuse.c): each
runs a program natively and under `memscope run` and compares what the program did, or checks
that no event was lost, or that the reader survives a hostile or stale spool.

usage: review_checks.py --memscope M --library LIBMEMSCOPE --programs DIR [--case NAME]..."""
import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

failures = 0
CLI_LINE = re.compile(r"^memscope: .*$")
SPOOL_MAGIC = 0x314c4f4f5053534d  # "MSSPOOL1", src/common/trace_format.h


def check(name, ok, detail=""):
    global failures
    failures += not ok
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))
    return ok


def low_nofile():
    # Soft limit below the hard one: memscope's descriptors go just above the soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


def run(d, argv, preexec=None, env=None, timeout=120):
    return subprocess.run(argv, cwd=d, capture_output=True, preexec_fn=preexec, env=env,
                          timeout=timeout)


def files(d):
    out = {}
    for n in sorted(os.listdir(d)):
        if ".mstrace" not in n:
            with open(os.path.join(d, n), "rb") as f:
                out[n] = f.read()
    return out


def compare(name, ms, argv, preexec=None, env=None):
    """The program's exit status, stdout, stderr (without memscope's lines) and files."""
    base = tempfile.mkdtemp(prefix="ms-review-")
    try:
        nd, md = os.path.join(base, "n"), os.path.join(base, "m")
        os.makedirs(nd)
        os.makedirs(md)
        native = run(nd, argv, preexec, env)
        under = run(md, [ms, "run", "--no-summary", "-o", os.path.join(md, "t.mstrace"), "--"]
                    + argv, preexec, env)
        err = b"".join(l + b"\n" for l in under.stderr.splitlines()
                       if not CLI_LINE.match(l.decode(errors="replace")))
        check(name + ": exit status", native.returncode == under.returncode,
              "native %d, memscope %d" % (native.returncode, under.returncode))
        check(name + ": stdout", native.stdout == under.stdout,
              "native %r, memscope %r" % (native.stdout[:200], under.stdout[:200]))
        check(name + ": stderr", native.stderr == err,
              "native %r, memscope %r" % (native.stderr[:200], err[:200]))
        check(name + ": files", files(nd) == files(md), "native %r, memscope %r" %
              (files(nd), files(md)))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(ms, trace, timeout=120):
    r = subprocess.run([ms, "report", trace, "--format", "json", "--top", "0"],
                       capture_output=True, text=True, timeout=timeout)
    return (json.loads(r.stdout) if r.returncode == 0 else None), r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--programs", required=True)
    ap.add_argument("--case", action="append", default=[])
    a = ap.parse_args()
    ms = os.path.abspath(a.memscope)
    prog = os.path.join(os.path.abspath(a.programs), "review_abuse")

    def on(name):
        return not a.case or name in a.case

    if on("fork_dup2"):
        # The program's own files on the numbers of memscope's trace and spool: a forked child
        # must keep them (memscope closed them blindly in the child).
        compare("fork_dup2", ms, [prog, "fork_dup2"], preexec=low_nofile)
    if on("vfork_exec"):
        # Each vfork child's exec left the child's environment array mapped in the parent.
        compare("vfork_exec", ms, [prog, "vfork_exec", "3000"])
    if on("system_setenv"):
        # system() in one thread, setenv and getenv in another: memscope's LD_PRELOAD string
        # was unmapped under the program (SIGSEGV) and its variables stayed in environ.
        compare("system_setenv", ms, [prog, "system_setenv"])
    if on("preload_spaces"):
        # The program's own LD_PRELOAD, separated by spaces, is what it sees natively.
        libs = [p for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libdl.so.2")
                if os.path.exists(p)]
        env = dict(os.environ, LD_PRELOAD=" ".join(libs))
        compare("preload_spaces", ms, ["/bin/sh", "-c", 'echo "[$LD_PRELOAD]"; '
                                       'sh -c \'echo "[$LD_PRELOAD]"\''], env=env)
    if on("nested_run"):
        # `memscope run` under memscope: the inner run's MEMSCOPE_* variables are its child's,
        # not the outer run's (the inner run found no trace).
        base = tempfile.mkdtemp(prefix="ms-review-nested-")
        try:
            inner = os.path.join(base, "inner.mstrace")
            r = run(base, [ms, "run", "--no-summary", "-o", os.path.join(base, "outer.mstrace"),
                           "--", ms, "run", "-o", inner, "--", "/bin/true"])
            err = r.stderr.decode(errors="replace")
            check("nested_run: the inner run wrote its trace", r.returncode == 0 and
                  os.path.exists(inner) and "no trace was written" not in err, err[-300:])
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("term_in_flush"):
        # SIGTERM while the thread flushes its own buffer: that buffer is not written, and the
        # spool that still holds it was removed anyway. Every counted allocation must be in the
        # report. (Random delays: about one run in twenty hits a flush.)
        base = tempfile.mkdtemp(prefix="ms-review-term-")
        try:
            rnd = random.Random(7)
            lost = []
            for i in range(40):
                d = os.path.join(base, str(i))
                os.makedirs(d)
                trace = os.path.join(d, "t.mstrace")
                run(d, [ms, "run", "--no-summary", "-o", trace, "--", prog, "term_in_flush",
                        "count", str(rnd.randrange(20000, 200000))])
                with open(os.path.join(d, "count"), "rb") as f:
                    n = int.from_bytes(f.read(8), "little")
                rep, err = report(ms, trace)
                got = rep["summary"]["allocs"] if rep else -1
                if got < n:
                    lost.append("run %d: counted %d, report %d %s" % (i, n, got, err[-200:]))
                shutil.rmtree(d, ignore_errors=True)
            check("term_in_flush: no allocation lost", not lost, "; ".join(lost[:3]))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("manifest_fifo"):
        # A FIFO in the manifest's place: the library opened it blocking and hung the program
        # before main.
        base = tempfile.mkdtemp(prefix="ms-review-manifest-")
        try:
            fifo = os.path.join(base, "manifest")
            os.mkfifo(fifo)
            env = dict(os.environ, LD_PRELOAD=os.path.abspath(a.library),
                       MEMSCOPE_OUTPUT=os.path.join(base, "t.mstrace"), MEMSCOPE_MANIFEST=fifo)
            try:
                r = run(base, ["/bin/echo", "hello"], env=env, timeout=20)
                check("manifest_fifo: the program runs", r.returncode == 0 and
                      r.stdout == b"hello\n", "exit %d" % r.returncode)
            except subprocess.TimeoutExpired:
                check("manifest_fifo: the program runs", False, "it hung")
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("default_name"):
        # Preloaded by hand without MEMSCOPE_OUTPUT: the trace is memscope.<program>.<pid>.mstrace
        # in the working directory (the name was built over itself, and no trace was written).
        base = tempfile.mkdtemp(prefix="ms-review-default-")
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCOPE_")}
            env["LD_PRELOAD"] = os.path.abspath(a.library)
            r = run(base, ["/bin/echo", "hello"], env=env)
            names = os.listdir(base)
            check("default_name: one trace, named memscope.echo.<pid>.mstrace",
                  r.returncode == 0 and len(names) == 1 and
                  re.fullmatch(r"memscope\.echo\.\d+\.mstrace", names[0]) is not None,
                  "files %s, stderr %r" % (names, r.stderr[-300:]))
            doc, err = report(ms, os.path.join(base, names[0])) if len(names) == 1 else (None, "")
            check("default_name: the trace reads", doc is not None, err)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("snapshot_reaped"):
        # The program spoils its own trace at exit: no leak scan reads its snapshot, which
        # memscope run must still kill and reap (it waited until memscope run was gone). As a
        # subreaper, this script would get the snapshot if memscope run left it behind.
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        base = tempfile.mkdtemp(prefix="ms-review-reap-")
        try:
            if check("snapshot_reaped: a subreaper", libc.prctl(36, 1, 0, 0, 0) == 0):
                trace = os.path.join(base, "t.mstrace")
                r = run(base, [ms, "run", "-o", trace, "--", prog, "spoil_trace", trace])
                err = r.stderr.decode(errors="replace")
                check("snapshot_reaped: the trace is unreadable", "unreadable" in err, err[-300:])
                try:
                    left = os.waitpid(-1, 0)
                except ChildProcessError:
                    left = None
                check("snapshot_reaped: no snapshot left behind", left is None, str(left))
                libc.prctl(36, 0, 0, 0, 0)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("orphans_kept"):
        # memscope run as a subreaper (or PID 1, in a container) gets the program's orphans as
        # its children: it kills the snapshots no scan took, never those (it once killed every
        # child it had left).
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        base = tempfile.mkdtemp(prefix="ms-review-orphan-")
        try:
            marker = os.path.join(base, "marker")
            r = subprocess.run([ms, "run", "-o", os.path.join(base, "t.mstrace"), "--", "/bin/sh",
                                "-c", "(sleep 3; touch %s) & exit 0" % marker],
                               cwd=base, capture_output=True, timeout=120,
                               preexec_fn=lambda: libc.prctl(36, 1, 0, 0, 0))
            check("orphans_kept: memscope run ran", r.returncode == 0, r.stderr.decode()[-300:])
            for _ in range(300):
                if os.path.exists(marker):
                    break
                time.sleep(0.05)
            check("orphans_kept: the program's background process ran to its end",
                  os.path.exists(marker))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("stale_spool") or on("hostile_spool"):
        base = tempfile.mkdtemp(prefix="ms-review-spool-")
        try:
            killed = os.path.join(os.path.dirname(prog), "killed")
            # Traced by hand (memscope run would complete the trace from its spool at once).
            old = os.path.join(base, "old.mstrace")
            run(base, [killed, "kill", "1", "20000"], env=dict(
                os.environ, LD_PRELOAD=os.path.abspath(a.library), MEMSCOPE_OUTPUT=old,
                MEMSCOPE_ROOT_PID="0"))
            old = ([os.path.join(base, f) for f in sorted(os.listdir(base))
                    if f.startswith("old.mstrace") and not f.endswith(".spool")] or [old])[0]
            new = os.path.join(base, "new.mstrace")
            run(base, [ms, "run", "--no-summary", "-o", new, "--", "/bin/true"])
            plain, err = report(ms, new)
            if on("stale_spool"):
                # A spool left by an earlier, killed process under the trace's name (its own
                # trace deleted) is not this process's.
                check("stale_spool: the killed process left a spool",
                      os.path.exists(old + ".spool"))
                shutil.copy(old + ".spool", new + ".spool")
                rep, err2 = report(ms, new)
                check("stale_spool: its events are not this trace's", rep is not None and
                      plain is not None and rep["summary"] == plain["summary"],
                      "%s / %s %s" % (plain and plain["summary"], rep and rep["summary"], err2))
            if on("hostile_spool"):
                # A huge sparse spool of tiny regions is read in bounded time.
                with open(new + ".spool", "wb") as f:
                    f.write(SPOOL_MAGIC.to_bytes(8, "little") + (1).to_bytes(4, "little") +
                            (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
                    f.truncate(64 << 30)
                t0 = time.monotonic()
                try:
                    rep, err2 = report(ms, new, timeout=60)
                    took = time.monotonic() - t0
                    check("hostile_spool: a sparse 64 GiB spool is read in bounded time",
                          rep is not None and took < 30, "%.1f s %s" % (took, err2))
                except subprocess.TimeoutExpired:
                    check("hostile_spool: a sparse 64 GiB spool is read in bounded time", False,
                          "timed out")
                os.unlink(new + ".spool")
                os.mkfifo(new + ".spool")
                try:
                    rep, err2 = report(ms, new, timeout=60)
                    check("hostile_spool: a FIFO named as the spool is ignored",
                          rep is not None and plain is not None and
                          rep["summary"] == plain["summary"], err2)
                except subprocess.TimeoutExpired:
                    check("hostile_spool: a FIFO named as the spool is ignored", False,
                          "timed out")
        finally:
            shutil.rmtree(base, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
