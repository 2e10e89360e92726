#!/usr/bin/env python3
"""The analyses of memscope report (docs/analyses.md) on programs whose answer is known by
construction: each checks the figures behind a verdict, not only that a section exists.

usage: analyses.py --memscope M --programs DIR"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

failures = 0


def check(what, got, want):
    global failures
    if got != want:
        failures += 1
        print(f"FAIL {what}: {got!r}, expected {want!r}")
    else:
        print(f"ok   {what}: {got!r}")


def check_true(what, cond, detail=""):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL {what} {detail}")
    else:
        print(f"ok   {what} {detail}")


def report(memscope, work, cmd, child=False, extra=(), env=None):
    """The JSON report of cmd's trace (child: of the one process it forked), with the report
    options extra, or a list of them: one report for each."""
    trace = os.path.join(work, os.path.basename(cmd[0]) + ".mstrace")
    run = subprocess.run([memscope, "run", "--no-summary", "-o", trace, "--"] + cmd,
                         capture_output=True, text=True,
                         env=dict(os.environ, **env) if env else None)
    if run.returncode != 0:
        sys.exit(f"{cmd[0]} exited with {run.returncode}: {run.stderr}")
    docs = []
    paths = sorted(os.path.join(work, p) for p in os.listdir(work)
                   if p.startswith(os.path.basename(trace)))
    variants = extra if extra and isinstance(extra[0], list) else [list(extra)]
    for path in paths:
        for options in variants:
            out = subprocess.run([memscope, "report", path, "--format", "json", "--top", "0"] +
                                 options, capture_output=True, text=True, check=True)
            docs.append(json.loads(out.stdout))
    for path in paths:  # after all: a child's report reads its parent's trace
        os.unlink(path)
    if len(docs) != (2 if child else 1) * len(variants):
        sys.exit(f"{len(docs)} traces of {cmd[0]}")
    return docs


def site_of(doc, function):
    """The site whose innermost frame is in function."""
    found = [s for s in doc["sites"] if s["stack"] and s["stack"][0]["function"] == function]
    if len(found) != 1:
        sys.exit(f"{len(found)} sites allocate in {function}")
    return found[0]


def lifetimes(memscope, programs, work):
    doc, child = report(memscope, work, [os.path.join(programs, "lifetimes")], child=True)
    if doc["process"]["fork_parent_pid"]:
        doc, child = child, doc
    for s in doc["sites"]:
        l = s["lifetime"]
        f = s["stack"][0]["function"] if s["stack"] else "?"
        check(f"lifetimes {f}: histogram by time sums to the blocks ended",
              sum(b["blocks"] for b in l["by_time"]), l["ended"])
        check(f"lifetimes {f}: histogram by allocations sums to the blocks ended",
              sum(b["blocks"] for b in l["by_allocations_between"]), l["ended"])
        check(f"lifetimes {f}: every allocation ended or live at the end",
              l["ended"] + l["live_at_end"], s["allocs"])
    between = lambda l: [b["blocks"] for b in l["by_allocations_between"]]
    l = site_of(doc, "forever")["lifetime"]
    check("forever: live at the end", l["live_at_end"], 1)
    check("forever: long-lived (then the program sleeps 300 ms)", l["long_lived"], 1)
    check("forever: none ended", (l["ended"], l["mean_ns"]), (0, None))
    l = site_of(doc, "tiny_loop")["lifetime"]
    check("tiny_loop: ended", l["ended"], 1000)
    check("tiny_loop: no allocation in between", between(l), [1000, 0, 0, 0, 0, 0, 0, 0])
    # by the clock, freed at once: unless the machine stopped the loop for a millisecond
    check_true("tiny_loop: short-lived", l["short_lived"] >= 990, f"({l['short_lived']})")
    check("tiny_loop: freed by its own thread", l["freed_by_other_thread"], 0)
    check("tiny_loop: not long-lived", l["long_lived"], 0)
    l = site_of(doc, "batch")["lifetime"]
    check("batch: block k has the 99 - k after it in between", between(l),
          [1, 9, 90, 0, 0, 0, 0, 0])
    l = site_of(doc, "quiet")["lifetime"]
    # the free after a quiet spell has its own time (memscope run's clock), not the last one's
    check("quiet: lived 100 ms to 1 s", [b["blocks"] for b in l["by_time"]],
          [0, 0, 0, 0, 0, 0, 1, 0, 0])
    check_true("quiet: at least 100 ms", l["mean_ns"] >= 100000000, f"({l['mean_ns']} ns)")
    l = site_of(doc, "cross_thread")["lifetime"]
    check("cross_thread: all 50 freed by the worker", (l["ended"], l["freed_by_other_thread"]),
          (50, 50))
    l = site_of(doc, "own_blocks")["lifetime"]
    check("at_thread_exit: freed by their own thread's destructor",
          (l["ended"], l["freed_by_other_thread"]), (10, 0))
    l = site_of(doc, "inherited_blocks")["lifetime"]
    check("inherited: the parent frees its 100", (l["ended"], l["freed_by_other_thread"]),
          (100, 0))
    l = site_of(child, "inherited_blocks")["lifetime"]
    check("inherited, in the child: freed at once by its own thread, not long-lived",
          (l["ended"], l["freed_by_other_thread"], l["long_lived"]), (100, 0, 0))


def timeline(memscope, programs, work):
    doc, = report(memscope, work, [os.path.join(programs, "timeline")])
    s = doc["summary"]
    for key, pos in (("timeline", "time_ns"), ("timeline_by_allocated", "allocated_bytes")):
        b = doc[key]
        check(f"{key}: allocations in the buckets", sum(x["allocs"] for x in b), s["allocs"])
        check(f"{key}: frees in the buckets", sum(x["frees"] for x in b), s["frees"])
        check(f"{key}: bytes allocated in the buckets", sum(x["bytes_allocated"] for x in b),
              s["bytes_allocated"])
        check(f"{key}: the highest bucket is the peak", max(x["heap_max_bytes"] for x in b),
              s["peak_bytes"])
        check(f"{key}: the last bucket is what is left", b[-1]["heap_bytes"], s["leaked_bytes"])
        check_true(f"{key}: bounded", len(b) <= 512, f"({len(b)} buckets)")
        starts = [x[pos] for x in b]
        check(f"{key}: buckets in order, of equal width", starts,
              [i * doc["timeline_bucket_ns" if pos == "time_ns" else "timeline_bucket_bytes"]
               for i in range(len(b))])
    peaks = doc["peaks"]
    check("timeline: the two peaks", [p["heap_bytes"] for p in peaks], [2000000, 1000000])
    # 1 MB at the start for 100 ms, none for 100 ms, then 2 MB: with memscope run's clock the
    # second allocation is dated after the pauses (within the clock's 10 ms)
    t = [p["time_ns"] for p in peaks]
    check_true("timeline: the higher peak at about 200 ms", 190e6 <= t[0] <= 300e6, f"({t[0]})")
    check_true("timeline: the lower one at the start", t[1] <= 50e6, f"({t[1]})")
    check("timeline: bytes allocated in all", s["bytes_allocated"], 3000000)
    # memscope run's RSS samples, every 10 ms: the 2 MB written show between 200 and 300 ms,
    # not in the pause before
    rss = [(x["time_ns"], x["rss_bytes"]) for x in doc["timeline"] if x["rss_bytes"]]
    check_true("timeline: RSS sampled through the run", len(rss) >= 10, f"({len(rss)} buckets)")
    held = max((r for at, r in rss if t[0] + 20e6 <= at <= t[0] + 80e6), default=0)
    pause = min((r for at, r in rss if t[1] + 120e6 <= at <= t[1] + 180e6), default=0)
    check_true("timeline: RSS holds the 2 MB while they are in use", held - pause >= 1500000,
               f"({held} against {pause} in the pause)")


def orphan_peak(memscope, programs, work):
    """A main thread's events after its teardown (the orphan stream) are merged after its own:
    the peak is at least what the program itself had live, and within the bounds reported."""
    (doc,) = report(memscope, work, [os.path.join(programs, "orphan_peak")])
    s = doc["summary"]
    check_true("orphan_peak: peak at least the program's own 53,873 bytes",
               s["peak_bytes"] >= 53873, f"({s['peak_bytes']})")
    check_true("orphan_peak: the peak within its bounds",
               s["peak_low_bytes"] <= s["peak_bytes"] <= s["peak_high_bytes"],
               f"({s['peak_low_bytes']} <= {s['peak_bytes']} <= {s['peak_high_bytes']})")


def patterns(memscope, programs, work):
    """Sites whose pattern is known by construction (tests/programs/patterns.c)."""
    (doc,) = report(memscope, work, [os.path.join(programs, "patterns")])
    ev = lambda f: site_of(doc, f)["pattern_evidence"]
    verdict = lambda f: (site_of(doc, f)["pattern"], ev(f)["growth"])
    e = ev("grow")
    check("grow: growing without bound", verdict("grow"), ("growing", "unbounded"))
    check("grow: 1,000 bytes a time, never freed", e["live_end_bytes"], 1000000)
    check_true("grow: a straight line", e["r2"] >= 0.95, f"(R² {e['r2']})")
    # the line's rise over its window is what the site holds at the end (the rate, by its clock)
    rise = e["slope_bytes_per_s"] * e["growth_window_ns"] / 1e9
    check_true("grow: slope x window = the bytes it holds", abs(rise - 1e6) <= 0.15e6,
               f"({e['slope_bytes_per_s']:.0f} B/s over {e['growth_window_ns']} ns = {rise:.0f})")
    check("grow: ranked by growth", doc["rankings"]["by_growth"],
          [site_of(doc, "grow")["stack_id"]])
    e = ev("cache_put")
    check("cache_put: growth bounded, allocations steady", verdict("cache_put"),
          ("steady", "bounded"))
    check("cache_put: levels off at 200 blocks of 512 bytes", e["live_max_bytes"], 102400)
    check("tiny_loop: steady, no growth", verdict("tiny_loop"), ("steady", "none"))
    check_true("tiny_loop: the rate varies little", ev("tiny_loop")["allocs_cv"] < 0.5,
               f"(CV {ev('tiny_loop')['allocs_cv']})")
    e = ev("periodic")
    check("periodic: periodic", verdict("periodic"), ("periodic", "none"))
    check_true("periodic: 20 bursts", 18 <= e["bursts"] <= 22, f"({e['bursts']})")
    check_true("periodic: every 50 ms", 45e6 <= e["period_ns"] <= 55e6, f"({e['period_ns']} ns)")
    e = ev("one_burst")
    check("one_burst: bursty", verdict("one_burst"), ("bursty", "none"))
    check("one_burst: all in the busiest eighth", e["busiest_eighth_share"], 1)
    check("sporadic: sporadic", verdict("sporadic"), ("sporadic", "none"))
    check("sporadic: 3 allocations", ev("sporadic")["allocs"], 3)

    # Sizes and slack (glibc's size classes), reallocs.
    z = lambda f: site_of(doc, f)["sizes"]
    check("exact_24: 24 bytes each, no slack", (z("exact_24")["min"], z("exact_24")["max"],
          z("exact_24")["slack_bytes"]), (24, 24, 0))
    check("slack_25: 15 bytes of slack each", z("slack_25")["slack_bytes"], 15 * 1000)
    check("slack_25: all in the 32-byte bucket",
          [b["allocs"] for b in z("slack_25")["by_size"]][:3], [0, 1000, 0])
    r = z("grow_by_one")["reallocs"]
    check("grow_by_one: 999 reallocs, each a small step", (r["count"], r["small_steps"]),
          (999, 999))
    check("grow_by_one: each grows by under 25%, but the first ones",
          sum(b["reallocs"] for b in r["by_growth"][1:2]), 999 - 4)
    check_true("grow_by_one: a move copies the old size", r["moved"] <= r["count"] and
               r["bytes_copied"] <= sum(range(1, 1000)), f"({r})")

    # A quiet thread: its events are timed once in 10 ms, which is no period of the program's;
    # a cache filled at once has bounded growth.
    (doc,) = report(memscope, work, [os.path.join(programs, "patterns"), "quiet"])
    check("quiet_steady: steady, not the clock's comb", verdict("quiet_steady"),
          ("steady", "none"))
    check("fast_cache: filled at once, held: growth bounded", verdict("fast_cache")[1], "bounded")
    check("fast_cache: 5,000 blocks of 64 bytes", ev("fast_cache")["live_max_bytes"], 320000)

    # A forked child: the blocks it inherits are where its live bytes start, not its allocations.
    parent, child = report(memscope, work, [os.path.join(programs, "patterns"), "fork"],
                           child=True)
    if parent["process"]["fork_parent_pid"]:
        parent, child = child, parent
    doc = child
    check("fork, in the child: none of parent_work's allocations are the child's",
          (ev("parent_work")["allocs"], site_of(doc, "parent_work")["pattern"]), (0, "sporadic"))
    check("fork, in the child: child_work steady", verdict("child_work"), ("steady", "none"))
    doc = parent
    check("fork, in the parent: parent_work growing to the fork, then held",
          verdict("parent_work")[0] in ("growing", "steady"), True)

    # Sampled: the verdict reads the samples, and a few of them are not a burst.
    (doc,) = report(memscope, work, [os.path.join(programs, "patterns")],
                    env={"MEMSCOPE_SAMPLE_BYTES": "4096"})
    e = ev("tiny_loop")
    check_true("sampled: tiny_loop's samples are fewer than its allocations",
               0 < e["samples"] < e["allocs"], f"({e['samples']} of {e['allocs']})")
    check("sampled: tiny_loop steady", verdict("tiny_loop"), ("steady", "none"))
    check("sampled: grow still growing", verdict("grow"), ("growing", "unbounded"))
    check("sampled: reallocs not known (one only when both blocks are sampled)",
          site_of(doc, "grow_by_one")["sizes"]["reallocs"], None)


def hotspots(memscope, programs, work):
    """The hotspots: sites merged by stack, function, line and module."""
    modes = ["stack", "function", "line", "module"]
    docs = report(memscope, work, [os.path.join(programs, "patterns")],
                  extra=[["--group-by", m] for m in modes] + [["--alloc-fn", "tiny_*"]])
    allocs = docs[0]["summary"]["allocs"]
    for mode, doc in zip(modes + ["function --alloc-fn tiny_*"], docs):
        h = doc["hotspots"]
        check(f"hotspots by {mode}: every allocation in one group",
              sum(g["allocs"] for g in h["groups"]), allocs)
        check(f"hotspots by {mode}: ranked by allocations",
              [h["groups"][i]["allocs"] for i in h["by_allocs"]],
              sorted((g["allocs"] for g in h["groups"]), reverse=True))
    by = lambda doc, f: [g for g in doc["hotspots"]["groups"] if g["frame"]["function"] == f]
    g, = by(docs[1], "tiny_loop")
    check("hotspots by function: tiny_loop's 20 x 1,000", (g["allocs"], g["stacks"]), (20000, 1))
    check_true("hotspots: tiny_loop allocates 20,000 a second (1,000 ms of 1 ms iterations)",
               15000 <= g["allocs_per_s"] <= 25000, f"({g['allocs_per_s']})")
    b, = by(docs[1], "one_burst")
    check_true("hotspots: one_burst's 5,000 in a burst is the fastest",
               docs[1]["hotspots"]["groups"][docs[1]["hotspots"]["by_allocation_rate"][0]] == b
               and b["allocs_per_s"] > 1e6, f"({b['allocs_per_s']})")
    g, = by(docs[2], "tiny_loop")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "programs", "patterns.c")
    with open(src) as f:
        line = [i for i, l in enumerate(f, 1) if "malloc(16)" in l]
    check("hotspots by line: tiny_loop's line", [g["frame"]["line"]], line)
    mods = {os.path.basename(g["frame"]["module"] or "?") for g in docs[3]["hotspots"]["groups"]}
    check_true("hotspots by module: the program's", "patterns" in mods, f"({mods})")
    main_ = by(docs[4], "main")
    check_true("--alloc-fn tiny_*: tiny_loop's allocations are main's",
               not by(docs[4], "tiny_loop") and main_ and main_[0]["allocs"] >= 20000,
               f"({[(g['frame']['function'], g['allocs']) for g in docs[4]['hotspots']['groups']]})")
    # C++: the standard library's frames and operator new are not the allocating function
    doc, = report(memscope, work, [os.path.join(programs, "cxx_alloc")])
    names = [g["frame"]["function"] for g in doc["hotspots"]["groups"]]
    check_true("hotspots of C++: no std:: frame nor operator new",
               not [n for n in names if n.startswith(("std::", "operator new"))], f"({names})")
    check_true("hotspots of C++: main allocates through std::vector and std::map",
               "main" in names, f"({names})")


def bottlenecks(memscope, programs, work):
    """Each kind of bottleneck on a site built to have it, with its severity and evidence."""
    def found(doc):
        out = {}
        for b in doc["bottlenecks"]:
            where = (b["site"]["stack"][0]["function"] if b["site"] and b["site"]["stack"]
                     else b["task"]["name"] if b["task"] else None)
            out[(b["kind"], where)] = b
        return out
    (doc,) = report(memscope, work, [os.path.join(programs, "patterns")])
    f = found(doc)
    b = f.get(("tiny_allocations", "tiny_loop"))
    check("tiny_loop: tiny allocations, 20,000 of 16 bytes, most of the program's",
          b and (b["severity"], b["evidence"]["allocs"], b["evidence"]["mean_bytes"]),
          ("high", 20000, 16))
    b = f.get(("unbounded_growth", "grow"))
    check("grow: unbounded growth, 1,000,000 bytes", b and (b["severity"],
          b["evidence"]["live_max_bytes"]), ("high", 1000000))
    b = f.get(("realloc_churn", "grow_by_one"))
    check("grow_by_one: realloc churn, 999 small steps",
          b and (b["severity"], b["evidence"]["small_steps"]), ("low", 999))
    b = f.get(("short_lived_large", "large_short"))
    check_true("large_short: short-lived large blocks of 256 KiB",
               b and b["evidence"]["mean_bytes"] == 262144 and b["evidence"]["short_lived"] >= 190,
               f"({b})")
    check("no bottleneck for the steady, periodic or sporadic sites",
          sorted(w for (_, w) in f if w in ("periodic", "sporadic", "cache_put", "exact_24")), [])
    check_true("every bottleneck has a suggestion", all(x["suggestion"] for x in doc["bottlenecks"]))
    (doc,) = report(memscope, work, [os.path.join(programs, "patterns"), "threads"])
    f = found(doc)
    check("hot_tiny: a hot loop", f.get(("hot_loop", "hot_tiny"), {}).get("severity"), "high")
    check("hot_tiny: tiny allocations", f.get(("tiny_allocations", "hot_tiny"), {}).get("severity"),
          "high")
    b = f.get(("slack", "hot_tiny"))
    check("hot_tiny: slack, 15 bytes each of 200,000", b and (b["evidence"]["slack_bytes"],
          b["evidence"]["slack_share"]), (3000000, 0.375))
    b = f.get(("cross_thread_frees", "handed_over"))
    check("handed_over: all 5,000 freed by another thread",
          b and (b["evidence"]["freed_by_other_thread"], b["evidence"]["ended"]), (5000, 5000))
    check("handed_over: a batch built at once is no unbounded growth",
          ("unbounded_growth", "handed_over") in f, False)
    # Tasks that ended holding memory (the C API; api_expect.py has the figures)
    (doc,) = report(memscope, work, [os.path.join(programs, "api_tasks")])
    held = {b["task"]["name"]: b["evidence"]["live_bytes"] for b in doc["bottlenecks"]
            if b["kind"] == "task_held_memory"}
    want = {t["name"]: t["live_bytes"] for t in doc["tasks"] if t["ended"] and t["live_bytes"]}
    check("api_tasks: every ended task holding memory, and none other", held, want)
    check_true("api_tasks: some do", len(want) >= 2, f"({want})")


def scores(memscope, programs, work):
    """Efficiency scores: each part a share of waste, the score 100 x (1 - their mean)."""
    def consistent(what, sc):
        if sc is None:
            return
        mean = sum(p["waste"] * p["weight"] for p in sc["parts"])
        check(f"{what}: score = 100 x (1 - weighted waste)", sc["value"],
              int(100 * (1 - mean) + 0.5))
        check_true(f"{what}: weights sum to 1", abs(sum(p["weight"] for p in sc["parts"]) - 1) < 1e-6)
    (doc,) = report(memscope, work, [os.path.join(programs, "patterns")])
    part = lambda f, name: {p["name"]: p["waste"] for p in site_of(doc, f)["score"]["parts"]}[name]
    for s in doc["sites"]:
        consistent("site %s" % (s["stack"][0]["function"] if s["stack"] else "?"), s["score"])
    for t in doc["threads"]:
        consistent("thread %d" % t["tid"], t["score"])
    check_true("tiny_loop: all temporary", part("tiny_loop", "temporary") >= 0.99)
    check("tiny_loop: 8 of 24 usable bytes are slack", round(part("tiny_loop", "slack"), 4),
          round(8 / 24, 4))
    check("exact_24: no slack", part("exact_24", "slack"), 0)
    check("slack_25: 15 of 40", part("slack_25", "slack"), 0.375)
    check("grow: all leaked", part("grow", "leaked"), 1)
    check_true("tiny_loop: as many live at the peak as on average",
               abs(part("tiny_loop", "peak_over_average")) < 1e-9)
    check_true("grow and tiny_loop waste: scores below 100",
               site_of(doc, "grow")["score"]["value"] < 100 and
               site_of(doc, "tiny_loop")["score"]["value"] < 100)
    (doc,) = report(memscope, work, [os.path.join(programs, "api_tasks")])
    for t in doc["tasks"]:
        consistent("task %s" % t["name"], t["score"])
        busy = t["cpu_ns"] / t["duration_ns"] if t["duration_ns"] else 0
        want = ([k for k, c in (("cpu_bound", t["cpu_ns"] and busy >= 0.8),
                                ("waiting", t["cpu_ns"] and busy <= 0.2),
                                ("allocation_heavy", t["duration_ns"] and t["allocs"] >= 16 and
                                 t["allocs"] / (t["duration_ns"] / 1e9) >= 100000)) if c])
        check(f"task {t['name']}: kinds from its figures", t["kinds"], want)


def rankings(memscope, programs, work):
    """Threads and tasks ranked: each ranking is the table's entries sorted by its figure."""
    (doc,) = report(memscope, work, [os.path.join(programs, "api_tasks")])
    def order(rows, key, ident, value):
        vals = {r[ident]: value(r) for r in rows}
        got = doc[key]
        return (all(vals[got[i]] >= vals[got[i + 1]] for i in range(len(got) - 1)) and
                sorted(got) == sorted(k for k, v in vals.items() if v > 0))
    tasks, threads = doc["tasks"], doc["threads"]
    for name, value in (("by_peak", lambda t: t["peak_bytes"]),
                        ("by_bytes_allocated", lambda t: t["bytes_allocated"]),
                        ("by_allocs", lambda t: t["allocs"]),
                        ("by_leaked", lambda t: t["live_bytes"]),
                        ("by_cpu", lambda t: t["cpu_ns"]),
                        ("by_allocation_rate",
                         lambda t: t["allocs"] / t["duration_ns"] if t["duration_ns"] else 0),
                        ("by_score", lambda t: 101 - t["score"]["value"] if t["score"] else 0)):
        doc[name] = doc["task_rankings"][name]
        check_true(f"task ranking {name}: the tasks by that figure",
                   order(tasks, name, "id", value), f"({doc[name]})")
    for name, value in (("by_peak", lambda t: t["peak_bytes"]),
                        ("by_bytes_allocated", lambda t: t["bytes_allocated"]),
                        ("by_leaked", lambda t: t["leaked_bytes"]),
                        ("by_score", lambda t: 101 - t["score"]["value"] if t["score"] else 0)):
        doc[name] = doc["thread_rankings"][name]
        check_true(f"thread ranking {name}: the threads by that figure",
                   order(threads, name, "tid", value), f"({doc[name]})")
    check("threads: no rate or CPU ranking (not kept for threads)",
          sorted(doc["thread_rankings"]), ["by_allocs", "by_bytes_allocated", "by_leaked",
                                            "by_peak", "by_score"])


def task_profiles(memscope, programs, work):
    """Each task's profile: its blocks' live bytes over time and their lifetimes, against the
    task table's figures (api_tasks.c: producer 10 blocks, 4 freed by another thread, ...)."""
    (doc,) = report(memscope, work, [os.path.join(programs, "api_tasks")])
    by_name = {t["name"]: t for t in doc["tasks"]}
    for t in doc["tasks"]:
        p = t["profile"]
        if not t["allocs"]:
            check(f"task {t['name']}: no blocks, no profile", p, None)
            continue
        check(f"task {t['name']}: every block ended or live at the end",
              p["ended"] + p["live_at_end"], t["allocs"])
        check(f"task {t['name']}: lifetimes of the blocks ended",
              sum(b["blocks"] for b in p["lifetime_by_time"]), p["ended"])
        check(f"task {t['name']}: the curve's most is the task's peak",
              max(p["live_max_bytes"]), t["peak_bytes"])
        check_true(f"task {t['name']}: a bounded curve", 1 <= len(p["live_max_bytes"]) <= 32,
                   f"({len(p['live_max_bytes'])})")
    p = by_name["producer"]["profile"]
    check("task producer: 4 ended (freed by the consumer), 6 live",
          (p["ended"], p["live_at_end"]), (4, 6))
    check("task producer: the curve ends with what it holds", p["live_max_bytes"][-1] >= 600,
          True)


def window(memscope, programs, work):
    """memscope report --since/--until/--at on window.c's three phases, 200 ms apart: the
    window's boundaries are put in the pauses between them, found in the whole run's
    timeline."""
    trace = os.path.join(work, "window.mstrace")
    # with the summary: its scan at exit gives the leak kinds
    subprocess.run([memscope, "run", "-o", trace, "--", os.path.join(programs, "window")],
                   capture_output=True, check=True)

    def rep(*options):
        out = subprocess.run([memscope, "report", trace, "--format", "json", "--top", "0"] +
                             list(options), capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    whole = rep()
    check("window: none asked, none reported", whole["window"], None)
    width = whole["timeline_bucket_ns"]
    busy = [b["time_ns"] for b in whole["timeline"] if b["allocs"] or b["frees"]]
    phases = [[busy[0], busy[0] + width]]
    for t in busy[1:]:
        if t - phases[-1][1] > 50e6:
            phases.append([t, t + width])
        else:
            phases[-1][1] = t + width
    # then glibc's exit-time freeing, 100 ms after phase_c
    if len(phases) < 3:
        sys.exit(f"window: {len(phases)} phases in the timeline: {phases}")
    ab = (phases[0][1] + phases[1][0]) // 2
    bc = (phases[1][1] + phases[2][0]) // 2
    ns = lambda t: f"{t}ns"

    # phase_b alone: 50 allocated and freed over the 100 blocks of phase_a
    d = rep("--since", ns(ab), "--until", ns(bc))
    s, w = d["summary"], d["window"]
    check("window b: the window", (w["since_ns"], w["until_ns"], w["at"], w["ends_before_trace"]),
          (ab, bc, False, True))
    check("window b: in use as it opened", (w["start_live_bytes"], w["start_live_blocks"]),
          (100000, 100))
    check("window b: counts of the window", (s["allocs"], s["frees"], s["bytes_allocated"]),
          (50, 50, 100000))
    check("window b: the peak, certain", (s["peak_bytes"], s["peak_low_bytes"],
                                          s["peak_high_bytes"]), (200000, 200000, 200000))
    check_true("window b: the peak inside it", ab <= s["peak_time_ns"] <= bc,
               f"({s['peak_time_ns']})")
    check("window b: in use at its end", (s["leaked_bytes"], s["leaked_blocks"]), (100000, 100))
    check("window b: no leak kinds (the scan is at exit)", s["leak_kinds"], None)
    check("window b: phase_a allocated nothing in it, holds its 100,000",
          (site_of(d, "phase_a")["allocs"], site_of(d, "phase_a")["leaked_bytes"],
           site_of(d, "phase_a")["peak_bytes"]), (0, 100000, 100000))
    check("window b: phase_a has no sizes in it", site_of(d, "phase_a")["sizes"], None)
    b = site_of(d, "phase_b")
    check("window b: phase_b", (b["allocs"], b["lifetime"]["ended"],
                                sum(x["allocs"] for x in b["sizes"]["by_size"])), (50, 50, 50))
    tl = d["timeline"]
    check("window b: the timeline starts with the window", tl[0]["time_ns"], ab)
    check("window b: from the heap then", tl[0]["heap_max_bytes"] >= 100000, True)
    check("window b: the timeline's allocations are the window's",
          (sum(x["allocs"] for x in tl), sum(x["frees"] for x in tl)), (50, 50))
    check_true("window b: the timeline ends with it", tl[-1]["time_ns"] <= bc,
               f"({tl[-1]['time_ns']})")
    check("window b: the allocated axis counts the window's bytes",
          sum(x["bytes_allocated"] for x in d["timeline_by_allocated"]), 100000)
    check("window b: the peak of the timeline", [p["heap_bytes"] for p in d["peaks"]], [200000])
    check("window b: threads count the window",
          sorted((t["allocs"], t["frees"]) for t in d["threads"] if t["allocs"] or t["frees"]),
          [(50, 50)])

    # --at: what was live between b and c, the counts of the run up to it
    d = rep("--at", ns(bc))
    s, w = d["summary"], d["window"]
    check("window at: the window", (w["since_ns"], w["until_ns"], w["at"]), (None, bc, True))
    check("window at: counts up to it", (s["allocs"], s["frees"]), (150, 50))
    check("window at: live then", (s["leaked_bytes"], s["leaked_blocks"]), (100000, 100))
    check("window at: the peak before it", s["peak_bytes"], 200000)
    check("window at: live by site", [(site_of(d, f)["leaked_bytes"]) for f in
                                      ("phase_a", "phase_b")], [100000, 0])

    # from c to the end: the worker's 10 blocks, and its frees of 20 of phase_a's
    d = rep("--since", ns(bc))
    s, w = d["summary"], d["window"]
    check("window c: not cut", w["ends_before_trace"], False)
    w = whole["summary"]
    check("window c: counts, the run's after a and b",
          (s["allocs"], s["frees"], s["bytes_allocated"]),
          (w["allocs"] - 150, w["frees"] - 50, w["bytes_allocated"] - 200000))
    check("window c: the worker's", (site_of(d, "phase_c")["allocs"],
                                     site_of(d, "phase_c")["leaked_bytes"]), (10, 50000))
    check_true("window c: the peak: 100,000 and the worker's 50,000",
               s["peak_bytes"] >= 150000 and s["peak_bytes"] - 150000 < 1000,
               f"({s['peak_bytes']})")
    a = site_of(d, "phase_a")
    check("window c: phase_a's blocks freed by the worker",
          (a["allocs"], a["lifetime"]["ended"], a["lifetime"]["freed_by_other_thread"],
           a["leaked_blocks"]), (0, 20, 20, 80))
    check_true("window c: leak kinds (the window reaches the exit)",
               s["leak_kinds"] is not None and sum(
                   s["leak_kinds"][k]["bytes"] for k in ("definitely_lost", "indirectly_lost",
                                                         "possibly_lost", "still_reachable",
                                                         "suppressed")) == s["leaked_bytes"])

    # what was live at each peak, exactly: the events of one tick of the clock share its
    # time, so that a cut by time cannot tell the moment of the peak from the frees after it
    peaks = whole["peaks"]
    check("window: the whole run's peaks", [p["heap_bytes"] for p in peaks], [200000, 150272])
    for k, p in enumerate(peaks):
        d = rep("--at-alloc", str(p["at_alloc"]))
        s = d["summary"]
        check(f"window: --at-alloc of peak #{k + 1}: live then is the peak",
              (s["allocs"], s["leaked_bytes"], d["window"]["at_alloc"]),
              (p["at_alloc"], p["heap_bytes"], p["at_alloc"]))
        check_true(f"window: --at-alloc of peak #{k + 1}: at its time",
                   d["window"]["end_ns"] == p["time_ns"], f"({d['window']['end_ns']})")
    d = rep("--at-alloc", str(peaks[0]["at_alloc"]))
    check("window: live by site at the first peak",
          [site_of(d, f)["leaked_bytes"] for f in ("phase_a", "phase_b")], [100000, 100000])

    # a window where nothing happened (between a and b), and one after the end: empty, from
    # the heap as it was
    for opts, live in ((["--since", ns(ab), "--until", ns((ab + phases[1][0]) // 2)], 100000),
                       (["--since", "1000s"], whole["summary"]["leaked_bytes"])):
        d = rep(*opts)
        s = d["summary"]
        check(f"window {' '.join(opts)}: empty",
              (s["allocs"], s["frees"], s["peak_bytes"], s["leaked_bytes"],
               sum(b["allocs"] + b["frees"] for b in d["timeline"]),
               d["window"]["start_live_bytes"]), (0, 0, live, live, 0, live))
    # an end after an allocation that comes before the end in time: the allocation ends it
    d = rep("--until", "1000s", "--at-alloc", "100")
    check("window: --until and an earlier --at-alloc", (d["summary"]["allocs"],
          d["window"]["ended_by"], d["summary"]["leaked_bytes"]), (100, "at_alloc", 100000))
    check_true("window: --at-alloc ends the timeline with it",
               d["timeline"][-1]["time_ns"] <= d["window"]["end_ns"] and
               not any(b["rss_bytes"] for b in d["timeline"]
                       if b["time_ns"] > d["window"]["end_ns"]), f"({d['window']['end_ns']})")
    # ... and lifetimes measured against that end, as for the same end by time
    t = rep("--until", ns(d["window"]["end_ns"]))
    check("window: --at-alloc's long-lived blocks as --until's at its time",
          site_of(d, "phase_a")["lifetime"]["long_lived"],
          site_of(t, "phase_a")["lifetime"]["long_lived"])

    # a window before anything: nothing happened, nothing was live
    d = rep("--until", "0")
    s = d["summary"]
    check("window before the start", (s["allocs"], s["leaked_bytes"], len(d["timeline"])),
          (0, 0, 0))
    # the whole run as a window: the same figures
    d = rep("--since", "0", "--until", "1000s")
    check("window over the whole run: the same summary",
          {k: d["summary"][k] for k in ("allocs", "frees", "bytes_allocated", "peak_bytes",
                                        "leaked_bytes")},
          {k: whole["summary"][k] for k in ("allocs", "frees", "bytes_allocated", "peak_bytes",
                                            "leaked_bytes")})
    for bad, why in ((["--since", "1s", "--until", "0.5s"], "the window would be empty"),
                     (["--at", "1x"], "expected a time since the program started"),
                     (["--until", "1", "--at", "2"], "give one of them"),
                     (["--since"], "needs a value"),
                     (["--at-alloc", "x"], "expected a number of allocations")):
        r = subprocess.run([memscope, "report", trace] + bad, capture_output=True, text=True)
        check_true(f"window: {' '.join(bad)} refused", r.returncode == 2 and why in r.stderr
                   and r.stderr.count("\n") == 1, f"(rc {r.returncode}: {r.stderr.strip()})")
    os.unlink(trace)
    # a sampled trace has no timed counts: refused with the reason
    subprocess.run([memscope, "run", "--no-summary", "-o", trace, "--",
                    os.path.join(programs, "window")], capture_output=True, check=True,
                   env=dict(os.environ, MEMSCOPE_SAMPLE_BYTES="4096"))
    r = subprocess.run([memscope, "report", trace, "--since", "0.1"], capture_output=True,
                       text=True)
    check_true("window: a sampled trace refused", r.returncode == 1 and "sampled" in r.stderr,
               f"(rc {r.returncode}: {r.stderr.strip()})")
    os.unlink(trace)


def window_threads(memscope, programs, work):
    """handoff.c's four threads, whose events the replay reorders: a window ends at a point of
    the replay, so that the run split at any moment is the sum of its two windows, and the
    heap as the second opens is what the first ends with."""
    trace = os.path.join(work, "handoff.mstrace")
    subprocess.run([memscope, "run", "--no-summary", "-o", trace, "--",
                    os.path.join(programs, "handoff")], capture_output=True, check=True)

    def rep(*options):
        out = subprocess.run([memscope, "report", trace, "--format", "json", "--top", "1"] +
                             list(options), capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    whole = rep()
    keys = ("allocs", "frees", "bytes_allocated", "unknown_frees")
    want = tuple(whole["summary"][k] for k in keys) + (whole["summary"]["errors"]["total"],)
    busy = [b["time_ns"] for b in whole["timeline"] if b["allocs"]]
    lo, hi = busy[0], busy[-1]
    for i in range(1, 6):
        at = lo + (hi - lo) * i // 6
        a, b = rep("--until", f"{at}ns"), rep("--since", f"{at + 1}ns")
        got = tuple(a["summary"][k] + b["summary"][k] for k in keys) + (
            a["summary"]["errors"]["total"] + b["summary"]["errors"]["total"],)
        check(f"window threads: split at {at} ns adds up", got, want)
        check(f"window threads: split at {at} ns: the heap carried over",
              b["window"]["start_live_bytes"], a["summary"]["leaked_bytes"])
    os.unlink(trace)


def heap_and_rss(memscope, programs, work):
    """fragment.c: 10,000 free chunks of 1008 bytes between live ones, and glibc's figures
    (mallinfo2, sampled at memscope run's clock ticks) that say so."""
    trace = os.path.join(work, "fragment.mstrace")
    # not by default: asked
    subprocess.run([memscope, "run", "-o", trace, "--", os.path.join(programs, "fragment")],
                   capture_output=True, check=True)
    d = json.loads(subprocess.run([memscope, "report", trace, "--format", "json"],
                                  capture_output=True, text=True, check=True).stdout)
    check("heap and rss: not sampled unless asked",
          (sum(1 for b in d["timeline"] if b["allocator"]), d["memory_gap"]), (0, None))
    os.unlink(trace)
    subprocess.run([memscope, "run", "--allocator-stats", "-o", trace, "--",
                    os.path.join(programs, "fragment")], capture_output=True, check=True)
    out = subprocess.run([memscope, "report", trace, "--format", "json"], capture_output=True,
                         text=True, check=True)
    text = subprocess.run([memscope, "report", trace], capture_output=True, text=True,
                          check=True).stdout
    os.unlink(trace)
    d = json.loads(out.stdout)
    samples = [b["allocator"] for b in d["timeline"] if b["allocator"]]
    check_true("heap and rss: glibc's figures sampled", len(samples) >= 1, f"({len(samples)})")
    for a in samples:
        check("heap and rss: in use + free = the arenas", a["in_use_bytes"] + a["free_bytes"],
              a["arena_bytes"])
        check_true("heap and rss: in use covers the heap", a["in_use_bytes"] >= a["heap_bytes"],
                   f"({a['in_use_bytes']} >= {a['heap_bytes']})")
    after = [a for a in samples if a["heap_bytes"] < 10100000]
    check_true("heap and rss: a sample after the frees", after, f"({samples})")
    if after:
        a = after[-1]
        # 10,000 live blocks of 1000 bytes, each in a chunk of 1008; 7 of the freed chunks in
        # the thread's cache count as in use; the 16-byte block and libc's own a little more
        over = a["in_use_bytes"] - a["heap_bytes"]
        check_true("heap and rss: overhead of 8 bytes a block, and the cache",
                   10000 * 8 <= over <= 10000 * 8 + 7 * 1008 + 65536, f"({over})")
        check_true("heap and rss: the 9,993 free chunks between live blocks",
                   a["free_bytes"] >= 9993 * 1008, f"({a['free_bytes']})")
    g = d["memory_gap"]
    check_true("heap and rss: the gap", g is not None, "")
    if g:
        a = g["allocator"]
        check("heap and rss: the parts add up to the RSS",
              a["heap_bytes"] + g["overhead_bytes"] + g["free_bytes"] + g["other_bytes"],
              g["rss_bytes"])
        check("heap and rss: overhead", g["overhead_bytes"],
              a["in_use_bytes"] + a["mmapped_bytes"] - a["heap_bytes"])
    check_true("heap and rss: in the text report", "HEAP AND RSS" in text and
               "free in the allocator's arenas" in text, "")
    # without memscope run's clock (LD_PRELOAD alone) nothing is sampled
    lib = os.path.join(os.path.dirname(os.path.dirname(memscope)), "lib", "libmemscope.so")
    if os.path.exists(lib):
        env = dict(os.environ, LD_PRELOAD=lib, MEMSCOPE_OUTPUT=trace, MEMSCOPE_ALLOCATOR_STATS="1")
        subprocess.run([os.path.join(programs, "fragment")], env=env, check=True)
        # (the library names the trace after the process: TRACE.PID)
        (path,) = [os.path.join(work, p) for p in os.listdir(work)
                   if p.startswith(os.path.basename(trace))]
        d = json.loads(subprocess.run([memscope, "report", path, "--format", "json"],
                                      capture_output=True, text=True, check=True).stdout)
        check("heap and rss: no clock, no samples",
              (sum(1 for b in d["timeline"] if b["allocator"]), d["memory_gap"]), (0, None))
        os.unlink(path)
    # jemalloc in glibc's place: glibc's figures would describe an arena nobody uses
    je = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    if os.path.exists(je):
        subprocess.run([memscope, "run", "--allocator-stats", "-o", trace, "--", "env",
                        "LD_PRELOAD=" + je,
                        os.path.join(programs, "fragment")], capture_output=True, check=True)
        paths = [os.path.join(work, p) for p in os.listdir(work)
                 if p.startswith(os.path.basename(trace))]
        for path in paths:
            d = json.loads(subprocess.run([memscope, "report", path, "--format", "json"],
                                          capture_output=True, text=True, check=True).stdout)
            if d["process"]["exe"].endswith("/fragment"):
                check("heap and rss: with jemalloc, no glibc figures",
                      (d["summary"]["allocs"], sum(1 for b in d["timeline"] if b["allocator"])),
                      (20002, 0))
            os.unlink(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--programs", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ms-analyses-") as work:
        lifetimes(a.memscope, a.programs, work)
        timeline(a.memscope, a.programs, work)
        orphan_peak(a.memscope, a.programs, work)
        patterns(a.memscope, a.programs, work)
        hotspots(a.memscope, a.programs, work)
        bottlenecks(a.memscope, a.programs, work)
        scores(a.memscope, a.programs, work)
        rankings(a.memscope, a.programs, work)
        task_profiles(a.memscope, a.programs, work)
        window(a.memscope, a.programs, work)
        window_threads(a.memscope, a.programs, work)
        heap_and_rss(a.memscope, a.programs, work)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
