#!/usr/bin/env python3
"""With its summary, `memscope run` has the program write its trace uncompressed and
compresses it itself as it follows it (src/analysis/trace_pack.h). Checked here, on the
finished traces:
- every EVENTS chunk of the program's trace is compressed, and the report equals the report of
  an uncompressed run of the same deterministic program (MEMSCOPE_COMPRESSION=0);
- nothing but the traces is left in the directory;
- forked children compress their own traces; --no-summary leaves compression to the program,
  even with MEMSCOPE_PACKED_BY_RUN=1 in the environment;
- a program killed with SIGKILL: its trace is sealed, then compressed;
- a program that raises its file size limit past memscope's: the copy stops short of the
  limit, memscope says the trace stays uncompressed, and is not killed by SIGXFSZ.

usage: packed_run.py --memscope M --bin BINDIR --programs PROGDIR"""
import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile

EVENTS, ZSTD = 2, 1


def chunks(path):
    """(type, flags, stored, raw) of each chunk of the trace at path."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 16
    while off + 32 <= len(data):
        typ, flags, _, stored, raw = struct.unpack_from("<BBHII", data, off)
        out.append((typ, flags, stored, raw))
        off += 32 + stored
    return out


def big_events(path):
    """The EVENTS chunks large enough that zstd always makes them smaller (a small one may be
    stored as it is by either compressor)."""
    return [c for c in chunks(path) if c[0] == EVENTS and c[3] >= 4096]


def summary(memscope, trace):
    r = subprocess.run([memscope, "report", trace, "--format", "json"], capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        return None
    s = json.loads(r.stdout)["summary"]
    return {k: s[k] for k in ("allocs", "frees", "bytes_allocated", "peak_bytes",
                              "leaked_bytes", "leaked_blocks")}


def run(memscope, work, name, cmd, env=None, extra=(), preexec=None):
    out = os.path.join(work, name)
    r = subprocess.run([memscope, "run", "-o", out] + list(extra) + ["--"] + cmd,
                       capture_output=True, text=True, timeout=300, cwd=work,
                       env=dict(os.environ, **(env or {})), preexec_fn=preexec)
    return out, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--programs", required=True)
    a = ap.parse_args()
    fails = []

    def check(ok, what):
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            fails.append(what)

    work = tempfile.mkdtemp(prefix="ms-packed-")
    try:
        churn = [os.path.join(a.bin, "ms-bench-churn"), "300000"]
        packed, r = run(a.memscope, work, "packed.mstrace", churn)
        ev = big_events(packed)
        check(r.returncode == 0 and ev and all(c[1] & ZSTD for c in ev),
              "default run: all %d EVENTS chunks compressed" % len(ev))
        check(sorted(os.listdir(work)) == ["packed.mstrace"],
              "default run: nothing else left (%s)" % os.listdir(work))
        check(oct(os.stat(packed).st_mode & 0o777) == "0o600", "default run: mode 0600")
        raw, r = run(a.memscope, work, "raw.mstrace", churn, env={"MEMSCOPE_COMPRESSION": "0"})
        ev_raw = [c for c in chunks(raw) if c[0] == EVENTS]
        check(ev_raw and not any(c[1] & ZSTD for c in ev_raw),
              "MEMSCOPE_COMPRESSION=0: nothing compressed")
        s1, s2 = summary(a.memscope, packed), summary(a.memscope, raw)
        check(s1 is not None and s1 == s2, "report of the packed trace %s == uncompressed %s" %
              (s1, s2))
        check(os.path.getsize(packed) < 0.9 * os.path.getsize(raw),
              "packed %d bytes < uncompressed %d" % (os.path.getsize(packed),
                                                       os.path.getsize(raw)))

        nosum, r = run(a.memscope, work, "nosum.mstrace", churn,
                       env={"MEMSCOPE_PACKED_BY_RUN": "1"}, extra=["--no-summary"])
        ev = big_events(nosum)
        check(ev and all(c[1] & ZSTD for c in ev),
              "--no-summary: the program compresses (MEMSCOPE_PACKED_BY_RUN=1 overridden)")

        fork, r = run(a.memscope, work, "fork.mstrace", [os.path.join(a.programs, "fork_leak")])
        kids = [f for f in os.listdir(work) if f.startswith("fork.mstrace.")]
        check(r.returncode == 0 and kids, "fork_leak: children's traces %s" % kids)
        for k in kids:
            ev = big_events(os.path.join(work, k))
            check(all(c[1] & ZSTD for c in ev), "fork_leak: %s compressed by the child" % k)

        killed, r = run(a.memscope, work, "killed.mstrace",
                        [os.path.join(a.programs, "killed"), "kill", "4", "20000"])
        ev = big_events(killed)
        check(r.returncode == -9 and ev and all(c[1] & ZSTD for c in ev),
              "killed: exit %d, sealed trace compressed" % r.returncode)
        check(not any(f.startswith("killed.mstrace.") for f in os.listdir(work)),
              "killed: no spool or copy left")

        # A program that raises its own file size limit: its trace may grow past memscope's
        # limit, the copy beside it must then stop short of it (SIGXFSZ would end memscope).
        limit = 64 << 10

        def fsize():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

        prog = ("import resource; inf = resource.RLIM_INFINITY; "
                "resource.setrlimit(resource.RLIMIT_FSIZE, (inf, inf)); "
                "x = [bytes(600 + i % 7) for i in range(100000)]; print(len(x))")
        lim, r = run(a.memscope, work, "limited.mstrace", [sys.executable, "-c", prog], preexec=fsize)
        check(r.returncode == 0 and r.stdout == "100000\n" and "stays uncompressed" in r.stderr
              and "ulimit -f" in r.stderr,
              "file size limit: exit %d, said why: %s" % (r.returncode, r.stderr.strip()[-300:]))
        check(os.path.getsize(lim) > limit and summary(a.memscope, lim) is not None
              and sorted(f for f in os.listdir(work) if f.startswith("limited")) ==
              ["limited.mstrace"], "file size limit: the trace stays whole and alone")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if fails:
        print("%d failure(s)" % len(fails))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
