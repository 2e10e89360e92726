#!/usr/bin/env python3
"""The summary `memscope run` prints is replayed while the program runs (the live replay,
src/analysis/stream_merge.c); it must equal what `memscope report` reads from the finished
trace, whatever the program does: one thread or many, threads handing blocks to each other,
forked children, exec, a process killed with SIGKILL or by a signal. Each case runs a few
times (thread interleavings differ) and every trace's summary line is compared with the
report's JSON summary. The live replay of a one-thread program is never given up (a replay of
the whole trace anew is only for threads whose events come late); MEMSCOPE_LIVE_STATS makes
`memscope run` say how many events it replayed live, and whether it gave up. How many events
are replayed before the program ends depends on the machine's load, so it is printed, not
checked (tests/unit/test_live_replay.c checks, deterministically, that events are delivered
as their chunks are written).

usage: live_summary.py --memscope M --bin BINDIR --programs PROGDIR [--repeat N]"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

LINE = re.compile(r"memscope:   .* \(pid (\d+)\): ([\d,]+) allocations, ([\d,]+) frees, "
                  r"([\d,]+) bytes allocated, peak ([\d,]+) bytes; ([\d,]+) bytes in ([\d,]+) "
                  r"blocks still allocated at exit")
LIVE = re.compile(r"live summary: (\d+) of (\d+) events replayed while the program ran(; "
                  r"replayed again from the start)?")
TRACE = re.compile(r"memscope: trace written: (\S+)")


def cases(a):
    b, p = a.bin, a.programs
    return [
        # (name, command, one thread: the live replay must not be given up; None: the
        # program damages its trace, which neither the summary nor the report may read)
        ("churn", [b + "/ms-bench-churn", "400000"], True),
        ("mix", [b + "/ms-bench-mix", "300000"], True),
        ("realloc_growth", [b + "/ms-bench-realloc_growth", "20000"], True),
        ("containers", [b + "/ms-bench-containers", "2"], True),
        ("churn_mt", [b + "/ms-bench-churn_mt", "200000"], False),
        ("threads", [p + "/threads"], False),
        ("join_peak", [p + "/join_peak"], False),
        ("thread_burst", [p + "/thread_burst"], False),
        ("handover", [p + "/handover"], False),
        ("fork_leak", [p + "/fork_leak"], False),
        # 30 children of a two-thread process: their summaries start from the parent's model at
        # each fork (ms_analysis_run_numbers_family), each must equal its report.
        ("fork_storm", [p + "/fork_storm", "30", "20000"], False),
        ("exec_self", [p + "/exec_self"], False),
        ("killed", [p + "/killed", "kill", "4", "20000"], False),
        ("reraise", [p + "/killed", "reraise"], True),
        # The main thread's stack nodes stay unwritten while the workers' chunks, which name
        # them, arrive (found by review: half of the runs lost the workers' events).
        ("tree", [p + "/live_order", "tree"], False),
        # The program truncates or overwrites its own trace: the summary must not describe it.
        ("truncate", [p + "/live_order", "rewrite", "{trace}", "truncate"], None),
        ("overwrite", [p + "/live_order", "rewrite", "{trace}", "overwrite"], None),
        ("python", ["python3", "-c", "import json; d=[dict(a=i) for i in range(100000)]; "
                    "print(len(json.dumps(d)))"], True),
        ("perl", ["perl", "-e", "my %h; $h{$_} = [1 .. 10] for 1 .. 20000; "
                  "print scalar(keys %h), qq(\\n)"], True),
        ("sqlite3", ["sqlite3", ":memory:", "create table t(a); with recursive c(x) as (select 1 "
                     "union all select x + 1 from c where x < 100000) insert into t select x "
                     "from c; select count(*) from t;"], True),
        ("bash", ["bash", "-c", "for i in $(seq 1 3000); do x=$x$i; done; echo ${#x}"], True),
    ]


def summary_of(memscope, trace):
    r = subprocess.run([memscope, "report", trace, "--format", "json"], capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        return None, r.stderr.strip()
    s = json.loads(r.stdout)["summary"]
    return (s["allocs"], s["frees"], s["bytes_allocated"], s["peak_bytes"], s["leaked_bytes"],
            s["leaked_blocks"]), None


def run_case(a, work, name, cmd, one_thread, i):
    out = os.path.join(work, "%s.%d.mstrace" % (name, i))
    env = dict(os.environ, MEMSCOPE_LIVE_STATS="1")
    cmd = [out if c == "{trace}" else c for c in cmd]
    r = subprocess.run([a.memscope, "run", "-o", out, "--"] + cmd, capture_output=True,
                       text=True, env=env, timeout=300, cwd=work)
    errors = []
    if one_thread is None:
        want, err = summary_of(a.memscope, out)
        if LINE.search(r.stderr) or "unreadable" not in r.stderr or want is not None:
            errors.append("%s: a damaged trace was summarized (report: %s):\n%s" %
                          (name, err or want, r.stderr[-1000:]))
        return errors, 0, 0
    traces = TRACE.findall(r.stderr)
    lines = LINE.findall(r.stderr)
    lives = LIVE.findall(r.stderr)
    if not traces or len(traces) != len(lines) or len(lines) != len(lives):
        return ["%s: %d traces, %d summaries, %d live lines in:\n%s" %
                (name, len(traces), len(lines), len(lives), r.stderr[-2000:])], 0, 0
    live_events = total = 0
    for trace, line, live in zip(traces, lines, lives):
        got = tuple(int(x.replace(",", "")) for x in line[1:])
        want, err = summary_of(a.memscope, trace)
        if want is None:
            errors.append("%s: report of %s failed: %s" % (name, trace, err))
        elif got != want:
            errors.append("%s: %s: summary line %s, report %s" % (name, trace, got, want))
        if trace == out:
            live_events, total = int(live[0]), int(live[1])
            if live[2]:
                print("  %s: the live replay was given up, the trace replayed anew" % name)
            if live[2] and one_thread:
                errors.append("%s: the live replay of a one-thread program was given up" % name)
    return errors, live_events, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--bin", required=True, help="directory of the ms-bench-* workloads")
    ap.add_argument("--programs", required=True, help="directory of the test programs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--case", action="append", help="run only these cases")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ms-live-")
    failures = []
    try:
        for name, cmd, one_thread in cases(a):
            if a.case and name not in a.case:
                continue
            if not os.path.isabs(cmd[0]) and not shutil.which(cmd[0]):
                print("skip %s: %s not installed" % (name, cmd[0]))
                continue
            for i in range(a.repeat):
                errors, live, total = run_case(a, work, name, cmd, one_thread, i)
                failures += errors
                print("%s %s run %d: %d of %d events live" %
                      ("FAIL" if errors else "ok  ", name, i, live, total))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
