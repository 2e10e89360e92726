#!/usr/bin/env python3
"""The capture backends end to end (include/memscope.h, MEMSCOPE_BACKEND): tests/programs/
backend_stats.c prints what ms_stats says of 10 allocations of 100 bytes of which it frees 4,
under each backend, and the trace's report names the backend and why; with MEMSCOPE_OUTPUT=none
no file is written and the core backend lists the leaked block on stderr at exit.

usage: backends.py --memscope M --library LIBMEMSCOPE --program BACKEND_STATS"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def figures(stdout):
    m = re.search(r"^backend=.*$", stdout, re.M)
    return dict(kv.split("=", 1) for kv in m.group(0).split()) if m else {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--program", required=True)
    args = ap.parse_args()
    counts = {"allocs": "10", "frees": "4", "bytes": "1000", "live_blocks": "6",
              "thread_allocs": "10", "peak_ok": "1"}
    cases = [  # (name, memscope run options, program mode, figures, report backend, reason)
        ("unified", [], "plain",
         dict(counts, backend="lockfree", exact="0", live_bytes="0", task_allocs="0"),
         "lockfree", "unified's choice: nothing asks for more than lockfree"),
        ("unified with a task", [], "task",
         dict(counts, backend="async", exact="0", task_allocs="10", task_bytes="1000",
              task_live_bytes="0"),
         "async", "unified's choice: the first task began"),
        ("core", ["--backend=core"], "task",
         dict(counts, backend="core", exact="1", live_bytes="600", thread_live_bytes="600",
              task_allocs="10", task_bytes="1000", task_live_bytes="600"),
         "core", "MEMSCOPE_BACKEND"),
        ("lockfree", ["--backend=lockfree"], "task",
         dict(counts, backend="lockfree", exact="0", task_allocs="0"),
         "lockfree", "MEMSCOPE_BACKEND"),
        ("ms_init", [], "init-core",
         dict(counts, backend="core", live_bytes="600", thread_live_bytes="600"),
         "core", "the program called ms_init"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, opts, mode, want, backend, reason) in enumerate(cases):
            trace = os.path.join(tmp, f"t{n}.mstrace")
            run = subprocess.run([args.memscope, "run", *opts, "--no-summary", "-o", trace, "--",
                                  args.program, mode], capture_output=True, text=True)
            check(f"{name}: exit status", run.returncode, 0)
            got = figures(run.stdout)
            check(f"{name}: ms_stats", {k: got.get(k) for k in want}, want)
            if want["backend"] == "core":
                check(f"{name}: ms_leaks_print lists the 6 blocks of 100 bytes",
                      "600 bytes in 6 blocks" in run.stderr, True)
            else:
                check(f"{name}: ms_leaks_print says it needs core",
                      "keeps no table of live blocks" in run.stderr, True)
            check(f"{name}: ms_init of an unknown backend is said once",
                  run.stderr.count("ms_init: "), 1)
            rep = subprocess.run([args.memscope, "report", "--format", "json", trace],
                                 capture_output=True, text=True)
            doc = json.loads(rep.stdout)
            check(f"{name}: report's backend", (doc["process"]["backend"],
                                                 doc["process"]["backend_reason"]),
                  (backend, reason))
            check(f"{name}: bad_argument counted", doc["api_errors"]["bad_argument"], 1)
            text = subprocess.run([args.memscope, "report", trace], capture_output=True,
                                  text=True).stdout
            check(f"{name}: text report names the backend", f"backend: {backend} (" in text,
                  True)
        # No trace at all: nothing is written, and the core backend lists the leak at exit.
        work = os.path.join(tmp, "none")
        os.mkdir(work)
        env = dict(os.environ, LD_PRELOAD=args.library, MEMSCOPE_OUTPUT="none")
        run = subprocess.run([args.program, "plain"], cwd=work, env=env, capture_output=True,
                             text=True)
        check("none: exit status", run.returncode, 0)
        check("none: figures", figures(run.stdout).get("backend"), "core")
        check("none: no file written", os.listdir(work), [])
        check("none: the leak list at exit", re.findall(
            r"memscope: at exit: (\d+) bytes live in (\d+) blocks", run.stderr), [("100", "1")])
        # A backend memscope does not know: said once, the default used.
        env = dict(os.environ, LD_PRELOAD=args.library, MEMSCOPE_OUTPUT="none",
                   MEMSCOPE_BACKEND="turbo")
        run = subprocess.run([args.program, "plain"], cwd=work, env=env, capture_output=True,
                             text=True)
        check("unknown MEMSCOPE_BACKEND said", "MEMSCOPE_BACKEND=turbo" in run.stderr, True)
        check("unknown MEMSCOPE_BACKEND: unified's choice", figures(run.stdout).get("backend"),
              "core")
        # Review findings: ms_stats in TLS destructors (the orphan slot's lock), core off and on
        # again, a fatal signal with no trace (the exit list must not run in the handler).
        for b in ["lockfree", "core"]:
            env = dict(os.environ, LD_PRELOAD=args.library, MEMSCOPE_OUTPUT="none",
                       MEMSCOPE_BACKEND=b)
            try:
                run = subprocess.run([args.program, "dtor"], cwd=work, env=env,
                                     capture_output=True, text=True, timeout=60)
                check(f"dtor under {b}", (run.returncode, run.stdout), (0, "dtor done\n"))
            except subprocess.TimeoutExpired:
                failures.append(f"dtor under {b}: hangs")
        env = dict(os.environ, LD_PRELOAD=args.library, MEMSCOPE_OUTPUT="none")
        run = subprocess.run([args.program, "switch"], cwd=work, env=env, capture_output=True,
                             text=True, timeout=60)
        check("core off and on: nothing stale", run.stdout, "switch live_bytes=0 exact=2\n")
        for i in range(5):
            try:
                run = subprocess.run([args.program, "abort"], cwd=work, env=env,
                                     capture_output=True, timeout=60)
                check(f"abort {i}: dies by SIGABRT", run.returncode, -6)
            except subprocess.TimeoutExpired:
                failures.append(f"abort {i}: hangs")
        # Real programs under each backend print and return what they do natively.
        programs = [["sh", "-c", "echo one; printf '%s\\n' two three | sort -r"],
                    ["python3", "-c", "import json; print(json.dumps({'a': [1, 2]}))"]]
        for prog in programs:
            native = subprocess.run(prog, capture_output=True)
            for b in ["lockfree", "async", "core"]:
                trace = os.path.join(tmp, f"real.{b}.{prog[0]}.mstrace")
                run = subprocess.run([args.memscope, "run", f"--backend={b}", "--no-summary",
                                      "-o", trace, "--", *prog], capture_output=True)
                check(f"{prog[0]} under {b}: output and status",
                      (run.stdout, run.returncode), (native.stdout, native.returncode))
            env = dict(os.environ, LD_PRELOAD=args.library, MEMSCOPE_OUTPUT="none")
            run = subprocess.run(prog, cwd=work, env=env, capture_output=True)
            check(f"{prog[0]} with no trace: output and status",
                  (run.stdout, run.returncode), (native.stdout, native.returncode))
        check("no trace: still no file written", os.listdir(work), [])
    for f in failures:
        print("FAIL", f)
    print("backends:", "FAILED" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
