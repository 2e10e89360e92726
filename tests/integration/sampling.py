#!/usr/bin/env python3
"""Sampling by bytes (MEMSCOPE_SAMPLE_BYTES, `memscope run --sample-bytes`): counts, frees, realloc
calls, bytes allocated and per-call-site totals stay exact, the rest is scaled from the sample and
says so.

- tests/programs/sample_mix.c (a known stream: 200,000 x 64 B churned, 20,000 x 1000 B kept by two
  threads, 50 x 1 MiB, 1,000 reallocs, and a forked child): its counts equal valgrind's and the
  unsampled run's, for the parent and the child; its call sites' counts are the program's own;
  the estimated leak and peak lie within 7 standard deviations of the true ones, and the top
  leak's stack is keep()'s.
- killed.c, SIGKILLed: the counts the spool head pages held are recovered, by `memscope report`
  (reading the spool) and by `memscope run` (which seals the trace).
- signal_async.c: events of asynchronous signal handlers (deferred by the hooks) are counted
  exactly (the program prints its own counts).
- real programs (perl, python3, sqlite3, bash, made deterministic): the counts of a sampled run
  equal those of an unsampled one.
- the text report and `memscope run`'s summary mark the estimates.

usage: sampling.py --memscope M --library LIB --programs DIR"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

failures = 0


def check(name, ok, detail=""):
    global failures
    failures += not ok
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))
    return ok


EXACT = ("allocs", "frees", "realloc_calls", "bytes_allocated")
DETERMINISTIC = dict(PERL_HASH_SEED="0", PERL_PERTURB_KEYS="0", PYTHONHASHSEED="0", LC_ALL="C")


class Runner:
    def __init__(self, memscope, work):
        self.memscope = memscope
        self.work = work
        self.n = 0
        self.last_dir = None

    def run(self, argv, sample, env=None, stdin=None):
        """memscope run with --sample-bytes=sample; returns ({pid: report}, stderr)."""
        self.n += 1
        d = self.last_dir = os.path.join(self.work, "run%d" % self.n)
        os.mkdir(d)
        trace = os.path.join(d, "t")
        r = subprocess.run([self.memscope, "run", "--sample-bytes=%d" % sample, "-o", trace, "--"]
                           + argv, env=dict(os.environ, **(env or {})), stdin=stdin,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=300, cwd=d)
        reports = {}
        for f in sorted(os.listdir(d)):
            if f.startswith("t") and not f.endswith(".spool"):
                rep = self.report(os.path.join(d, f))
                if rep:
                    reports[rep["process"]["pid"]] = rep
        return reports, r.stderr

    def report(self, path, fmt="json"):
        r = subprocess.run([self.memscope, "report", "--format", fmt, "--top", "0", path],
                           capture_output=True, text=True, timeout=300)
        if not check("report " + os.path.basename(path), r.returncode == 0, r.stderr.strip()):
            return None
        return json.loads(r.stdout) if fmt == "json" else r.stdout


def by_order(reports):
    """Reports in pid order: the parent first (pids grow), then its children."""
    return [reports[p] for p in sorted(reports)]


def exact(name, got, want):
    g = {k: got["summary"][k] for k in EXACT}
    w = {k: want[k] if isinstance(want, dict) and k in want else want["summary"][k]
         for k in EXACT}
    check(name, g == w, "sampled %s, exact %s" % (g, w))


def near(name, got, want, sd):
    """got within 7 standard deviations (sd, relative) of want."""
    check(name, abs(got - want) <= 7 * sd * want,
          "%d vs %d (%.1f%%, allowed %.1f%%)" % (got, want, 100.0 * (got - want) / want, 700 * sd))


def valgrind_totals(argv):
    vg = shutil.which("valgrind")
    if not vg:
        return None
    r = subprocess.run([vg, "--tool=memcheck"] + argv, capture_output=True, text=True,
                       timeout=300)
    m = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated",
                  r.stderr)
    if not m:
        return None
    n = [int(x.replace(",", "")) for x in m.groups()]
    return {"allocs": n[0], "frees": n[1], "bytes_allocated": n[2]}


def sample_mix(run, programs):
    prog = os.path.join(programs, "sample_mix")
    n = 8192
    full, _ = run.run([prog, "fork"], 0)
    sampled, err = run.run([prog, "fork"], n)
    sampled_dir = run.last_dir
    if not check("sample_mix: a parent and a child, both runs", len(full) == 2 and
                 len(sampled) == 2, "%d and %d traces" % (len(full), len(sampled))):
        return
    for what, f, s in zip(("parent", "child"), by_order(full), by_order(sampled)):
        exact("sample_mix %s: exact counts" % what, s, f)
        sm = s["sampling"]
        check("sample_mix %s: sampling says N and what is estimated, temporaries unknown" % what,
              sm["mean_bytes"] == n and "summary.leaked_bytes" in sm["estimated"] and
              "leaks" in sm["estimated"] and 0 < sm["sampled_allocs"] < s["summary"]["allocs"]
              and s["summary"]["temporary_allocs"] is None and not s["rankings"]["by_temporary"]
              and f["sampling"]["estimated"] == [] and f["summary"]["temporary_allocs"] > 0,
              json.dumps({k: sm[k] for k in ("mean_bytes", "sampled_allocs", "estimated")}))
        # 20,000 blocks of 1000 B kept: each sampled with p = 1-e^(-1000/N); the estimate's
        # relative standard deviation is about sqrt((1-p)/(20000 p)).
        p = 1 - math.exp(-1000.0 / n)
        sd = math.sqrt((1 - p) / (20000 * p))
        near("sample_mix %s: estimated leak" % what, s["summary"]["leaked_bytes"],
             f["summary"]["leaked_bytes"], sd)
        near("sample_mix %s: estimated peak" % what, s["summary"]["peak_bytes"],
             f["summary"]["peak_bytes"], sd)
        top = s["leaks"][0] if s["leaks"] else {}
        check("sample_mix %s: the top leak is keep()'s" % what,
              any(fr["function"] == "keep" for fr in top.get("stack", [])),
              str(top.get("stack", [])[:2])[:300])
    parent = by_order(sampled)[0]
    sites = {}
    for c in parent["sampling"]["call_sites"]:
        k = sites.setdefault(c["function"], [0, 0])
        k[0] += c["allocs"]
        k[1] += c["bytes_allocated"]
    want = {"churn": [200000, 200000 * 64], "keep": [20000, 20000 * 1000],
            "big": [50, 50 << 20], "grow": [1000, 1024 * 1000 * 1001 // 2]}
    check("sample_mix: exact counts by call site",
          all(sites.get(f) == w for f, w in want.items()),
          str({f: sites.get(f) for f in want}))
    vg = valgrind_totals([prog])
    if vg is not None:
        alone, _ = run.run([prog], n)
        got = by_order(alone)[0] if alone else None
        check("sample_mix: counts equal valgrind's",
              got is not None and all(got["summary"][k] == vg[k] for k in vg),
              "%s vs valgrind %s" % (got and {k: got["summary"][k] for k in vg}, vg))
    check("run's summary marks the estimates", "peak ~" in err and "estimated from a sample" in err,
          err.strip()[:300])
    text = run.report(os.path.join(sampled_dir, sorted(
        f for f in os.listdir(sampled_dir) if not f.endswith(".spool"))[0]), "text")
    check("text report: says it is sampled and marks estimates",
          text is not None and "sampled: one sample per 8,192 bytes" in text and
          "(estimate)" in text and "CALL SITES, EXACT COUNTS" in text and
          "(estimated from the samples)" in text,
          (text or "")[:400])


def killed(run, library, programs):
    prog = os.path.join(programs, "killed")
    counts = {}
    for n in (0, 4096):
        d = os.path.join(run.work, "killed%d" % n)
        os.mkdir(d)
        env = dict(os.environ, LD_PRELOAD=library, MEMSCOPE_OUTPUT=os.path.join(d, "t"),
                   MEMSCOPE_ROOT_PID="0", MEMSCOPE_SAMPLE_BYTES=str(n))
        r = subprocess.run([prog, "kill", "2", "5000"], env=env, capture_output=True, timeout=120)
        check("killed (sample %d): SIGKILL" % n, r.returncode == -signal.SIGKILL, str(r.returncode))
        traces = [f for f in os.listdir(d) if not f.endswith(".spool")]
        rep = run.report(os.path.join(d, traces[0])) if len(traces) == 1 else None
        if rep:
            counts[n] = rep
    if len(counts) == 2:
        exact("killed, SIGKILL: the spool's counts recovered by memscope report", counts[4096],
              counts[0])
    sealed, _ = run.run([prog, "kill", "2", "5000"], 4096)
    if check("killed under memscope run: one trace", len(sealed) == 1) and len(counts) == 2:
        exact("killed, SIGKILL: the counts sealed into the trace by memscope run",
              by_order(sealed)[0], counts[0])


def edges(run, programs):
    """Ends inside a hook, a fork while another thread holds counts, small N, a cut trace."""
    prog = os.path.join(programs, "sample_edge")
    for n in (64, 524288):
        reps, _ = run.run([prog, "doublefree"], n)
        got = by_order(reps)[0] if reps else None
        exact("doublefree (glibc aborts inside free), N=%d: counts written" % n, got,
              {"allocs": 1011, "frees": 1002, "realloc_calls": 0, "bytes_allocated": 110064})
        reps, _ = run.run([prog, "sigexit"], n)
        s = by_order(reps)[0]["summary"] if reps else {}
        check("exit() from a handler inside malloc/free, N=%d: counts written" % n,
              s.get("allocs", 0) > 1000 and 0 <= s["allocs"] - s["frees"] <= 1,
              "%s allocations, %s frees" % (s.get("allocs"), s.get("frees")))
        reps, _ = run.run([prog, "sigfork"], n)
        if check("fork from a handler inside malloc/free, N=%d: parent and child" % n,
                 len(reps) == 2):
            parent, child = [r["summary"] for r in by_order(reps)]
            check("fork from a handler inside malloc/free, N=%d: the child has the parent's "
                  "counts" % n, parent["allocs"] > 1000 and
                  abs(child["allocs"] - parent["allocs"]) <= 1 and
                  abs(child["frees"] - parent["frees"]) <= 1,
                  "parent %d/%d, child %d/%d" % (parent["allocs"], parent["frees"],
                                                 child["allocs"], child["frees"]))
    for n in (0, 4096):
        for attempt in range(3):
            reps, err = run.run([prog, "sigforkrun"], n)
            check("a child forked by a handler inside malloc/free, returning, N=%d: both traces "
                  "whole" % n, len(reps) == 2 and not any(
                      any("damaged" in x for x in r["notes"]) for r in reps.values()),
                  str([r["notes"] for r in reps.values()])[:300])
    reps, _ = run.run([prog, "forkthread"], 4096)
    if check("forkthread: parent and child", len(reps) == 2):
        parent, child = by_order(reps)
        def worker(rep):
            return sorted(c["allocs"] for c in rep["sampling"]["call_sites"]
                          if c["function"] == "worker")
        check("forkthread: the parent has the thread's 5,000 and 3,000", worker(parent) ==
              [3000, 5000], str(worker(parent)))
        check("forkthread: the child's history has the thread's 5,000 from before the fork only",
              worker(child) == [5000], str(worker(child)))
    # N = 8, 200,000 blocks of 1 byte: each sampled with p = 1-e^(-1/8); an interval rounded
    # down instead of up made the estimate 12% too high.
    reps, _ = run.run([prog, "small", "200000"], 8)
    if reps:
        s = by_order(reps)[0]["summary"]
        p = 1 - math.exp(-1.0 / 8)
        near("small N: 200,000 one-byte blocks estimated", s["leaked_blocks"], 200000,
             math.sqrt((1 - p) / (200000 * p)))
        check("small N: blocks and bytes agree", s["leaked_bytes"] == s["leaked_blocks"],
              "%d bytes in %d blocks" % (s["leaked_bytes"], s["leaked_blocks"]))
    # A trace cut short still says it is sampled (the mean is in its PROCESS chunk).
    d = os.path.join(run.work, "cut")
    os.mkdir(d)
    trace = os.path.join(d, "t")
    subprocess.run([run.memscope, "run", "--sample-bytes=4096", "-o", trace, "--",
                    os.path.join(programs, "sample_mix")], capture_output=True, timeout=300)
    data = open(trace, "rb").read()
    cut = os.path.join(d, "cut")
    with open(cut, "wb") as f:
        f.write(data[:len(data) // 3])
    r = subprocess.run([run.memscope, "report", "--format", "json", cut], capture_output=True,
                       text=True, timeout=120)
    doc = json.loads(r.stdout) if r.stdout else {}
    check("a cut sampled trace is still reported as sampled",
          doc.get("sampling", {}).get("mean_bytes") == 4096, r.stderr.strip()[:200])


def signal_async(run, programs):
    prog = os.path.join(programs, "signal_async")
    d = os.path.join(run.work, "async")
    os.mkdir(d)
    trace = os.path.join(d, "t")
    r = subprocess.run([run.memscope, "run", "--sample-bytes=1000", "-o", trace, "--", prog],
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"allocs=(\d+) frees=(\d+)", r.stdout)
    rep = run.report(trace)
    if check("signal_async: ran and printed its counts", m is not None and rep is not None,
             r.stdout[-200:]):
        s = rep["summary"]
        check("signal_async: handlers' events counted exactly",
              (s["allocs"], s["frees"]) == (int(m.group(1)), int(m.group(2))),
              "trace %d/%d, program %s/%s" % (s["allocs"], s["frees"], m.group(1), m.group(2)))


def real_programs(run):
    sql = ("create table t(a, b);\n"
           "insert into t select value, randomblob(100) from generate_series(1, 20000);\n"
           "create index i on t(b);\nselect count(*) from t;\n")
    cases = [
        ("perl", ["perl", "-e", "my %h; $h{$_} = [1 .. 10] for 1 .. 20000; print scalar(keys %h)"],
         None),
        ("python3", ["/usr/bin/python3", "-c",
                     "import json; print(len(json.dumps({str(i): [i] * 5 for i in range(50000)})))"],
         None),
        ("sqlite3", ["sqlite3", ":memory:"], sql),
        ("bash", ["bash", "-c", "a=(); for i in $(seq 1 3000); do a+=(\"x$i\"); done; "
                  "echo ${#a[@]}"], None),
    ]
    for name, argv, stdin in cases:
        if not shutil.which(argv[0]):
            print("SKIP %s: not installed" % name)
            continue
        got = []
        for n in (0, 65536):
            f = None
            if stdin is not None:
                f = tempfile.TemporaryFile("w+")
                f.write(stdin)
                f.seek(0)
            reps, _ = run.run(argv, n, env=DETERMINISTIC, stdin=f)
            got.append(by_order(reps)[0] if reps else None)
        if check("%s: both runs" % name, None not in got):
            exact("%s: a sampled run's counts equal an unsampled one's" % name, got[1], got[0])
            check("%s: sampled" % name, got[1]["sampling"]["mean_bytes"] == 65536 and
                  got[1]["sampling"]["sampled_allocs"] < got[1]["summary"]["allocs"],
                  str(got[1]["sampling"]["sampled_allocs"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--programs", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ms-sampling-")
    try:
        run = Runner(a.memscope, work)
        sample_mix(run, a.programs)
        killed(run, a.library, a.programs)
        edges(run, a.programs)
        signal_async(run, a.programs)
        real_programs(run)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
