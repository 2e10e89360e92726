#!/usr/bin/env python3
"""`memscope run` compresses the trace of the program it runs itself (src/analysis/
trace_compact.c): the program stores its chunks raw (MEMSCOPE_DEFER_COMPRESSION) and memscope
run compresses them on the core the program leaves free. Checked here, on real runs:

- the trace comes out compressed (its EVENTS chunks carry the zstd flag) with and without the
  summary, and reads exactly as a trace the program wrote raw (--compression=0) or compressed
  itself (a file size limit, under which memscope run leaves the compression to the program);
- --compression=0 leaves it raw; forked and exec'd children compress their own traces;
- a program killed with SIGKILL: the chunks sealed from its spool are compressed too, and
  nothing is lost;
- no other file is left in the trace's directory, and the program, which lists that
  directory, sees what it sees with the program compressing (the trace and its spool);
- a program that rewrites its own trace: memscope run leaves the damage as it is.

usage: deferred_compression.py --memscope M --bin BINDIR --programs PROGDIR"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

ZSTD = 1
EVENTS = 2


def chunks(path):
    """(type, flags, stored, raw) of every chunk of the trace at path."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 16
    while off + 32 <= len(data):
        typ, flags, _, stored, raw = struct.unpack_from("<BBHII", data, off)
        out.append((typ, flags, stored, raw))
        off += 32 + stored
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--programs", required=True)
    a = ap.parse_args()
    failures = []

    def check(name, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
        if not ok:
            failures.append(name)

    def run(tmp, name, cmd, opts=(), pre=None, env=None):
        trace = os.path.join(tmp, name + ".mstrace")
        r = subprocess.run([a.memscope, "run", "-o", trace, *opts, "--"] + cmd,
                           capture_output=True, text=True, preexec_fn=pre, timeout=300,
                           env=env)
        return trace, r

    def summary(trace):
        r = subprocess.run([a.memscope, "report", "--format", "json", "--top", "0", trace],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            return None
        s = json.loads(r.stdout)["summary"]
        return {k: s[k] for k in ("allocs", "frees", "bytes_allocated", "peak_bytes",
                                  "leaked_bytes", "leaked_blocks")}

    def compressed(trace):
        """How many of the trace's EVENTS chunks of more than 4 KiB are compressed, of how
        many (zstd cannot shrink every small one)."""
        ev = [c for c in chunks(trace) if c[0] == EVENTS and c[3] > 4096]
        return sum(1 for c in ev if c[1] & ZSTD), len(ev)

    env = dict(os.environ, PYTHONHASHSEED="0")
    programs = [
        ("churn", [a.bin + "/ms-bench-churn", "300000"]),
        ("containers", [a.bin + "/ms-bench-containers", "1"]),
        ("churn_mt", [a.bin + "/ms-bench-churn_mt", "100000"]),
        ("python", [sys.executable, "-c", "import json; print(len(json.dumps("
                    "[dict(a=i) for i in range(50000)])))"]),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in programs:
            raw, r0 = run(tmp, name + "-raw", cmd, ["--compression=0"], env=env)
            dflt, r1 = run(tmp, name, cmd, env=env)
            quiet, r2 = run(tmp, name + "-quiet", cmd, ["--no-summary"], env=env)
            # With a file size limit, the program compresses its trace itself.
            own, r3 = run(tmp, name + "-own", cmd, env=env, pre=lambda: __import__(
                "resource").setrlimit(__import__("resource").RLIMIT_FSIZE, (1 << 34, 1 << 34)))
            ok = all(r.returncode == 0 and r.stdout == r0.stdout for r in (r1, r2, r3))
            check(name + ": the program ran as with a raw trace", ok,
                  " / ".join(r.stderr[-300:] for r in (r0, r1, r2, r3)))
            z0, n0 = compressed(raw)
            check(name + ": --compression=0 leaves the trace raw", z0 == 0 and n0 > 0,
                  "%d of %d compressed" % (z0, n0))
            for label, t in (("default", dflt), ("--no-summary", quiet),
                             ("compressed by the program", own)):
                z, n = compressed(t)
                check("%s, %s: EVENTS chunks compressed" % (name, label),
                      n > 0 and z == n, "%d of %d" % (z, n))
                check("%s, %s: smaller than raw" % (name, label),
                      os.path.getsize(t) < os.path.getsize(raw),
                      "%d >= %d" % (os.path.getsize(t), os.path.getsize(raw)))
            # The counts are the program's (churn and containers are deterministic; the
            # others' peaks differ between runs).
            sums = [summary(t) for t in (raw, dflt, quiet, own)]
            check(name + ": every trace reads", all(sums), str(sums))
            if name in ("churn", "containers") and all(sums):
                check(name + ": same counts, raw or compressed either way",
                      all(s == sums[0] for s in sums), str(sums))
            leftovers = [f for f in os.listdir(tmp) if "ms-compact" in f]
            check(name + ": no copy left behind", not leftovers, str(leftovers))

        # Children: a forked child's and an exec'd image's traces are theirs to compress.
        for name, cmd in (("fork", [a.programs + "/fork_leak"]),
                          ("exec", [a.programs + "/exec_self"])):
            trace, r = run(tmp, name, cmd)
            kids = sorted(f for f in os.listdir(tmp) if f.startswith(name + ".mstrace."))
            check(name + ": ran, children traced", r.returncode == 0 and kids,
                  r.stderr[-500:] + str(kids))
            for t in [trace] + [os.path.join(tmp, k) for k in kids]:
                z, n = compressed(t)
                check("%s: %s compressed" % (name, os.path.basename(t)), z == n,
                      "%d of %d" % (z, n))
                check("%s: %s reads" % (name, os.path.basename(t)), summary(t) is not None)

        # SIGKILL while four threads hold events: the sealed chunks are compressed as well.
        trace, r = run(tmp, "killed", [a.programs + "/killed", "kill", "4", "20000"])
        s = summary(trace)
        z, n = compressed(trace)
        check("killed: status -9", r.returncode == -9 or r.returncode == 137, str(r.returncode))
        check("killed: every event recovered", s and s["frees"] == 72000 and
              s["leaked_blocks"] >= 8000, str(s))
        check("killed: compressed, sealed chunks included", n > 0 and z == n,
              "%d of %d" % (z, n))

        # The program lists the trace's directory at its end: it sees the trace (and, while it
        # runs, its spool) as when it compressed the trace itself, and no copy.
        sub = os.path.join(tmp, "listing")
        os.mkdir(sub)
        lister = [sys.executable, "-c", "import os,sys; [bytearray(100) for i in range(100000)]; "
                  "print(sorted(os.listdir(sys.argv[1])))", sub]
        t1, r1 = run(sub, "a", lister)
        os.remove(t1)
        t2, r2 = run(sub, "a", lister, pre=lambda: __import__("resource").setrlimit(
            __import__("resource").RLIMIT_FSIZE, (1 << 34, 1 << 34)))
        # (the run's manifest has a random suffix)
        seen = [re.sub(r"traces-\w+", "traces-*", r.stdout) for r in (r1, r2)]
        check("listing: the program sees the same directory", seen[0] == seen[1] and
              r1.returncode == 0, " / ".join(seen))
        check("listing: only the trace is left", os.listdir(sub) == ["a.mstrace"],
              str(os.listdir(sub)))

        # A program that sets a file size limit itself: from then on it compresses its trace
        # (raw, this one would reach the limit and stop being tracked).
        trace, r = run(tmp, "ownlimit", [sys.executable, "-c", "import resource; "
                       "resource.setrlimit(resource.RLIMIT_FSIZE, (1000000, 1000000)); "
                       "x = [bytearray(600) for i in range(150000)]; del x; "
                       "y = [bytearray(600) for i in range(150000)]"])
        s = summary(trace)
        check("own limit: tracked to the end", r.returncode == 0 and "size limit" not in
              r.stderr and s and s["allocs"] > 300000, r.stderr[-400:] + str(s))
        z, n = compressed(trace)
        check("own limit: compressed from the limit on", n > 0 and z >= n - 2,
              "%d of %d" % (z, n))

        # memscope run inside the program of another: the inner one compresses its own.
        outer = os.path.join(tmp, "outer.mstrace")
        inner = os.path.join(tmp, "inner.mstrace")
        r = subprocess.run([a.memscope, "run", "-o", outer, "--", a.memscope, "run", "-o", inner,
                            "--", a.bin + "/ms-bench-churn", "200000"], capture_output=True,
                           text=True, timeout=300)
        z, n = compressed(inner)
        check("nested: the inner run's trace compressed", r.returncode == 0 and n > 0 and z == n,
              "%d of %d; %s" % (z, n, r.stderr[-300:]))

        # A trace name as long as a file name can be; a program that changes its trace's mode.
        long_name = "l" * (255 - len(".mstrace")) + ".mstrace"
        trace = os.path.join(tmp, long_name)
        r = subprocess.run([a.memscope, "run", "-o", trace, "--", sys.executable, "-c",
                            "import os, sys; os.chmod(sys.argv[1], 0o644); "
                            "x = [bytearray(600) for i in range(100000)]", trace],
                           capture_output=True, text=True, timeout=300)
        z, n = compressed(trace)
        check("long name: compressed", r.returncode == 0 and n > 0 and z == n and
              "uncompressed" not in r.stderr, "%d of %d; %s" % (z, n, r.stderr[-300:]))
        mode = os.stat(trace).st_mode & 0o777
        check("the program's chmod of its trace stays", mode == 0o644, oct(mode))
        leftovers = [f for f in os.listdir(tmp) if "ms-compact" in f]
        check("long name: no copy left behind", not leftovers, str(leftovers))

        # A disk that fills up: the copy gives way (and frees its blocks) before the program's
        # trace runs short, which stays whole and raw. Needs a private mount namespace for a
        # 66 MiB tmpfs (64 MiB are kept free); skipped where that is not allowed.
        full = os.path.join(tmp, "full")
        os.mkdir(full)
        script = ('mount -t tmpfs -o size=66m tmpfs "$1" || exit 77; '
                  '"$2" run -o "$1/t.mstrace" -- "$3" 300000 >/dev/null 2>"$1/err" || exit 1; '
                  'cat "$1/err"; "$2" report --format json --top 0 "$1/t.mstrace"')
        r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", full, a.memscope,
                            a.bin + "/ms-bench-churn"], capture_output=True, text=True,
                           timeout=300)
        if r.returncode == 77 or "unshare" in r.stderr:
            print("skip disk full: no private tmpfs here (%s)" % r.stderr.strip()[-200:])
        else:
            out = r.stdout
            check("disk full: the copy gave way, said so", "left the trace" in out and
                  "less than 64 MiB left on its disk" in out, out[:600])
            rep = json.loads(out[out.index("{"):]) if "{" in out else {}
            check("disk full: the trace whole", rep.get("summary", {}).get("allocs") == 300001,
                  str(rep.get("summary"))[:300] + r.stderr[-300:])

        # The program overwrites the start of its own trace: the damage stays (the report
        # cannot read it), memscope run does not put its copy in its place.
        trace = os.path.join(tmp, "rewrite.mstrace")
        r = subprocess.run([a.memscope, "run", "-o", trace, "--", a.programs + "/live_order",
                            "rewrite", trace, "overwrite"], capture_output=True, text=True,
                           timeout=300)
        with open(trace, "rb") as f:
            head = f.read(8)
        check("rewrite: the program's damage is left as it is", head == b"x" * 8, repr(head))

    print("%d failures" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
