#!/usr/bin/env python3
"""The C API end to end (include/memscope.h): runs tests/programs/api_tasks natively, built with
-DMEMSCOPE_DISABLE, and under memscope, and checks that the program prints and returns the same
in all three, that memscope says each kind of bad call once on stderr, and the exact figures of
the report's variables, scopes, tasks and api_errors (the program's comment gives them).

usage: api_expect.py --memscope M --program P --disabled P_DISABLED"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--program", required=True)
    ap.add_argument("--disabled", required=True)
    args = ap.parse_args()

    native = subprocess.run([args.program], capture_output=True, text=True)
    disabled = subprocess.run([args.disabled], capture_output=True, text=True)
    check("native exit status", native.returncode, 0)
    check("native stderr (no memscope: the API says nothing)", native.stderr, "")
    check("-DMEMSCOPE_DISABLE output", (disabled.stdout, disabled.returncode),
          (native.stdout, native.returncode))

    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "api.mstrace")
        run = subprocess.run([args.memscope, "run", "-o", trace, "--", args.program],
                             capture_output=True, text=True)
        check("output under memscope", (run.stdout, run.returncode),
              (native.stdout, native.returncode))
        for call, message in [("ms_track", "a C API call was given a NULL pointer"),
                              ("ms_task_end", "a task id that ms_task_begin never returned"),
                              ("ms_task_end", "a task that had already ended")]:
            lines = [l for l in run.stderr.splitlines()
                     if l.startswith(f"memscope: {call}: {message}")]
            check(f"stderr lines for '{message}'", len(lines), 1)
        rep = subprocess.run([args.memscope, "report", "--format", "json", trace],
                             capture_output=True, text=True)
        check("report exit status", rep.returncode, 0)
        text = subprocess.run([args.memscope, "report", trace], capture_output=True, text=True)
        for section in ["VARIABLES (blocks named with the C API", "SCOPES", "TASKS (", "C API: 1 call"]:
            if section not in text.stdout:
                failures.append(f"text report has no '{section}'")
    if rep.returncode != 0:
        print(rep.stderr)
        return 1
    d = json.loads(rep.stdout)

    tasks = {t["name"]: t for t in d["tasks"]}
    check("task names", sorted(tasks),
          ["A", "B", "X", "Y", "Z", "child", "left open", "producer", "twice"])
    want = {"producer": (10, 1000, 600, 1000), "child": (1, 7, 7, 7), "A": (4, 40, 40, 40),
            "B": (2, 40, 40, 40), "twice": (0, 0, 0, 0), "left open": (1, 30, 30, 30),
            "X": (0, 0, 0, 0), "Y": (1, 11, 11, 11), "Z": (0, 0, 0, 0)}
    for name, (allocs, bytes_, live, peak) in want.items():
        t = tasks.get(name, {})
        check(f"task {name} allocs, bytes, live, peak",
              (t.get("allocs"), t.get("bytes_allocated"), t.get("live_bytes"),
               t.get("peak_bytes")), (allocs, bytes_, live, peak))
        check(f"task {name} ended", t.get("ended"), name != "left open")
        check(f"task {name} threads", t.get("thread_count"), 1)
    if "producer" in tasks and "child" in tasks:
        check("child's parent", tasks["child"]["parent"], tasks["producer"]["id"])
        check("producer's children", tasks["producer"]["children"], [tasks["child"]["id"]])
        check("producer's thread is the main thread", tasks["producer"]["threads"],
              [d["process"]["pid"]])
        if not tasks["producer"]["cpu_ns"] > 0 or not tasks["producer"]["duration_ns"] > 0:
            failures.append("producer has no CPU time or duration")
        if tasks["producer"]["cpu_ns"] > tasks["producer"]["duration_ns"]:
            failures.append("producer's CPU time exceeds its duration")
    for name in ["A", "B", "twice", "X", "Z", "left open"]:
        check(f"task {name} parent", tasks.get(name, {}).get("parent"), 0)
    if "X" in tasks and "Y" in tasks:
        check("Y's parent", tasks["Y"]["parent"], tasks["X"]["id"])
    # A thread that exits with its task open closes the task's CPU time.
    if not tasks.get("left open", {}).get("cpu_ns", 0) > 0:
        failures.append("task 'left open' has no CPU time (its thread exited with it current)")

    variables = {v["name"]: v for v in d["variables"]}
    check("variable names", sorted(variables), ["buf", "pt"])
    buf = variables.get("buf", {})
    check("buf after realloc: size, freed, type", (buf.get("size"), buf.get("freed"),
          buf.get("type")), (100000, True, None))
    check("buf's function and line", (buf.get("func"), buf.get("line") > 0), ("main", True))
    pt = variables.get("pt", {})
    check("pt: type, type_size, size", (pt.get("type"), pt.get("type_size"), pt.get("size")),
          ("struct point", 16, 8))
    if not any("MS_TRACK_AS" in n and "pt (struct point, 16 bytes)" in n for n in d["notes"]):
        failures.append("no note says pt's block is smaller than struct point")

    scopes = {s["name"]: s for s in d["scopes"]}
    check("scope parse", {k: scopes.get("parse", {}).get(k) for k in
                          ["entries", "allocs", "bytes_allocated", "outlived_bytes",
                           "outlived_blocks"]},
          {"entries": 1, "allocs": 3, "bytes_allocated": 150, "outlived_bytes": 100,
           "outlived_blocks": 2})
    check("scope rec (recursive)", {k: scopes.get("rec", {}).get(k) for k in
                                    ["entries", "allocs", "bytes_allocated", "outlived_bytes",
                                     "outlived_blocks"]},
          {"entries": 3, "allocs": 3, "bytes_allocated": 300, "outlived_bytes": 300,
           "outlived_blocks": 3})
    check("scope loop", {k: scopes.get("loop", {}).get(k) for k in
                         ["entries", "allocs", "bytes_allocated", "outlived_bytes"]},
          {"entries": 5, "allocs": 5, "bytes_allocated": 150, "outlived_bytes": 0})

    check("api_errors", d["api_errors"],
          {"null_pointer": 1, "unknown_task": 1, "task_ended": 1, "strings_full": 0,
           "unknown_pointer": 1, "scope_not_open": 0, "ref_not_held": 0, "scope_too_deep": 0,
           "bad_argument": 1, "not_handed_over": 1})

    for f in failures:
        print("FAIL", f)
    print(f"api_expect: {'FAILED' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
