#!/usr/bin/env python3
"""Runs a program under memscope and checks fields of its JSON report, for behaviour that has
no valgrind oracle (valgrind refuses the huge allocations that make operator new throw, say).

usage: json_expect.py --memscope M [--expect summary.KEY=VALUE]... [--frame FUNC] -- CMD ARGS

A VALUE of {NAME} is the figure the program printed as NAME=VALUE on its standard output (for
programs whose counts vary from run to run, such as those that count signals)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--expect", action="append", default=[],
                    help="dotted.path=value, e.g. summary.unknown_frees=0")
    ap.add_argument("--module", action="append", default=[],
                    help="a module path substring that must appear in some stack frame")
    ap.add_argument("--run-arg", action="append", default=[],
                    help="an option for memscope run, e.g. --unwind=fp")
    ap.add_argument("--leak-frame", action="append", default=[],
                    help="a function that must appear in the stack of some leak")
    ap.add_argument("--leak-frames", action="append", default=[],
                    help="A,B,...: every leak whose stack has a frame in A has frames in B,... "
                    "too (its stack is not cut short)")
    ap.add_argument("--no-module", action="append", default=[],
                    help="no stack frame (of sites and leaks) may be in a module matching this")
    ap.add_argument("--status", type=int,
                    help="the exit status the program must end with (memscope run passes it on)")
    ap.add_argument("--stdout", help="a string the program's standard output must contain")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the program this many times (for races), checking each run")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    failed = 0
    for _ in range(a.repeat):
        failed += check_once(a, cmd)
    return 1 if failed else 0


def check_once(a, cmd):
    work = tempfile.mkdtemp(prefix="ms-expect-")
    failed = 0
    try:
        trace = os.path.join(work, "t.mstrace")
        run = subprocess.run([a.memscope, "run", "--no-summary", "-o", trace] + a.run_arg +
                             ["--"] + cmd, capture_output=True, text=True)
        if not os.path.exists(trace):
            print("FAIL no trace written; memscope said:\n" + run.stderr)
            return 1
        if a.status is not None:
            ok = run.returncode == a.status
            failed += not ok
            print("%s exit status: want %d, got %d" % ("PASS" if ok else "FAIL", a.status,
                                                        run.returncode))
        if a.stdout is not None:
            ok = a.stdout in run.stdout
            failed += not ok
            print("%s standard output contains %r" % ("PASS" if ok else "FAIL", a.stdout))
        rep = subprocess.run([a.memscope, "report", trace, "--format", "json", "--top", "0"],
                             capture_output=True, text=True)
        if rep.returncode != 0:
            print("FAIL memscope report: " + rep.stderr)
            return 1
        doc = json.loads(rep.stdout)
        for e in a.expect:
            path, want = e.split("=", 1)
            if want.startswith("{") and want.endswith("}"):
                printed = re.search(r"\b%s=(\S+)" % re.escape(want[1:-1]), run.stdout)
                want = printed.group(1) if printed else "NOT PRINTED"
            v = doc
            try:
                for k in path.split("."):
                    v = v[int(k)] if isinstance(v, list) else v[k]
            except (KeyError, IndexError, ValueError):
                v = "MISSING"
            ok = str(v) == want
            failed += not ok
            print("%s %s: want %s, got %s" % ("PASS" if ok else "FAIL", path, want, v))
        modules = {f.get("module") or "" for s in doc["sites"] + doc["leaks"]
                   for f in s["stack"]}
        leak_functions = {f.get("function") for lk in doc["leaks"] for f in lk["stack"]}
        for fn in a.leak_frame:
            ok = fn in leak_functions
            failed += not ok
            print("%s a leak stack has a frame in %s" % ("PASS" if ok else "FAIL", fn))
        for spec in a.leak_frames:
            first, *rest = spec.split(",")
            with_first = [[f.get("function") for f in lk["stack"]] for lk in doc["leaks"]]
            with_first = [fns for fns in with_first if first in fns]
            short = [fns for fns in with_first if not all(r in fns for r in rest)]
            ok = with_first and not short
            failed += not ok
            print("%s %d leak stacks with %s, each with %s%s" % (
                "PASS" if ok else "FAIL", len(with_first), first, ", ".join(rest),
                "" if not short else "; not: %s" % short[:3]))
        for m in a.no_module:
            bad = sorted(x for x in modules if m in x)
            failed += bool(bad)
            print("%s no stack frame in a module matching %r%s" % (
                "FAIL" if bad else "PASS", m, (": " + ", ".join(bad)) if bad else ""))
        for m in a.module:
            ok = any(m in x for x in modules)
            failed += not ok
            print("%s a stack frame in a module matching %r" % ("PASS" if ok else "FAIL", m))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
