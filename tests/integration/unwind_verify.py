#!/usr/bin/env python3
"""Checks memscope's cached stack walk against libunwind on a real run.

With MEMSCOPE_UNWIND_VERIFY=1, libmemscope.so unwinds every stack that its cached walk of
standard frames handles a second time with libunwind's unw_backtrace and compares the two; at
the end of each traced process it prints

    memscope: unwind verify: F stacks by the fast path (R of them repeated walks, C continued
    from the previous walk), D differ from libunwind's; L left to libunwind

(and, for the first differences, both stacks). This script runs one command under
`memscope run` with that variable set and fails unless every process reports D = 0, at least
--min-fast stacks were checked in all (--min-repeats of them repeated walks, --min-continued of
them walks that went on as the previous walk did from one of its frames), and (with --min-left)
at least that many stacks were left to libunwind. The program's own output is discarded; its exit status must be 0 unless
--any-status.

usage: unwind_verify.py --memscope BIN [--run-arg ARG]... [--stdin FILE] [--min-fast N]
                        [--min-repeats N] [--min-continued N] [--min-left N] [--any-status]
                        -- CMD ARGS...
Exit status: 0 pass, 1 a check failed, 2 the harness could not run.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

LINE = re.compile(r"^memscope: unwind verify: (\d+) stacks by the fast path \((\d+) of them repeated walks, "
                  r"(\d+) continued from the previous walk\), (\d+) differ "
                  r"from libunwind's; (\d+) left to libunwind$")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--run-arg", action="append", default=[])
    ap.add_argument("--stdin")
    ap.add_argument("--min-fast", type=int, default=1)
    ap.add_argument("--min-left", type=int, default=0)
    ap.add_argument("--min-repeats", type=int, default=0)
    ap.add_argument("--min-continued", type=int, default=0)
    ap.add_argument("--any-status", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        print("unwind_verify.py: no command given after --", file=sys.stderr)
        return 2
    env = dict(os.environ, MEMSCOPE_UNWIND_VERIFY="1", PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="ms-unwind-") as work:
        stdin = open(a.stdin, "rb") if a.stdin else subprocess.DEVNULL
        p = subprocess.run([a.memscope, "run", "--no-summary", "-o", os.path.join(work, "t.mst"),
                            *a.run_arg, "--", *cmd], stdin=stdin, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env, cwd=work, timeout=600)
    err = p.stderr.decode(errors="replace")
    counts = [tuple(map(int, m.groups())) for m in map(LINE.match, err.splitlines()) if m]
    ok = True
    if p.returncode != 0 and not a.any_status:
        print(f"FAIL exit status {p.returncode}\n{err}")
        ok = False
    if not counts:
        print(f"FAIL no 'unwind verify' line on stderr (was the cached walk off?)\n{err}")
        return 1
    fast = sum(c[0] for c in counts)
    repeats = sum(c[1] for c in counts)
    continued = sum(c[2] for c in counts)
    differ = sum(c[3] for c in counts)
    left = sum(c[4] for c in counts)
    print(f"{len(counts)} process(es): {fast} stacks by the fast path ({repeats} repeated walks, "
          f"{continued} continued), "
          f"{differ} differ, {left} left to libunwind")
    if differ:
        print("FAIL the cached walk and libunwind disagree:")
        print("\n".join(l for l in err.splitlines() if "unwind verify" in l))
        ok = False
    if fast < a.min_fast:
        print(f"FAIL only {fast} stacks by the fast path (expected at least {a.min_fast})")
        ok = False
    if repeats < a.min_repeats:
        print(f"FAIL only {repeats} repeated walks (expected at least {a.min_repeats})")
        ok = False
    if continued < a.min_continued:
        print(f"FAIL only {continued} walks continued from the previous one (expected at least "
              f"{a.min_continued})")
        ok = False
    if left < a.min_left:
        print(f"FAIL only {left} stacks left to libunwind (expected at least {a.min_left})")
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
