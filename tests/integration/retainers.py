#!/usr/bin/env python3
"""Who keeps what alive (issue 8, item 3): retained sizes on a heap whose shape is known
(tests/programs/retain_tree.c), and on real programs the figures that must hold whatever the
heap: each retainer retains at least its own block, the blocks no other block dominates retain
all the memory the roots reach, and the cycles no root reaches are lost memory.

usage: retainers.py --memscope M --programs DIR"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = 0


def check(name, ok, detail=""):
    global failures
    failures += not ok
    detail = detail if len(detail) < 300 or not ok else detail[:300] + "..."
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))
    return ok


def run(ms, work, name, argv, env=None, opts=()):
    trace = os.path.join(work, name + ".mstrace")
    r = subprocess.run([ms, "run", "-o", trace] + list(opts) + ["--"] + argv,
                       capture_output=True, timeout=600,
                       env=dict(os.environ, **(env or {})), cwd=work)
    if not check(name + ": memscope run", r.returncode == 0, r.stderr.decode()[-300:]):
        return None, None
    rep = subprocess.run([ms, "report", "--format", "json", "--top", "0", trace],
                         capture_output=True, timeout=600)
    text = subprocess.run([ms, "report", trace], capture_output=True, timeout=600)
    if not check(name + ": memscope report", rep.returncode == 0 and text.returncode == 0,
                 (rep.stderr + text.stderr).decode()[-300:]):
        return None, None
    return json.loads(rep.stdout), text.stdout.decode()


def caller(entry):
    names = [f["function"] for f in entry["stack"]]
    return next((n for n in names if n not in ("block", "malloc")), None)


def known_tree(ms, work, prog):
    r, text = run(ms, work, "retain_tree", [prog])
    if not r:
        return
    got = sorted((caller(x), x["size"], x["retained_bytes"], x["retained_blocks"], x["name"])
                 for x in r["retainers"])
    want = sorted([("keep_single", 8000, 8000, 1, None),
                   ("build_tree", 1000, 7000, 3, "root_node"),
                   ("build_tree", 3000, 3000, 1, None)])
    check("retain_tree: the retainers and what each retains", got == want, str(got))
    check("retain_tree: most bytes retained first",
          [x["retained_bytes"] for x in r["retainers"]] == [8000, 7000, 3000])
    cycles = [sorted((caller(m), m["size"]) for m in c) for c in r["unreachable_cycles"]]
    check("retain_tree: one unreachable cycle, X and Y",
          cycles == [[("lose_cycle", 5000), ("lose_cycle", 6000)]], str(cycles))
    g = r["leak_graph"] or {}
    check("retain_tree: the graph's totals",
          (g.get("blocks"), g.get("edges"), g.get("top_level_blocks"),
           g.get("unreachable_cycles"), g.get("cycle_blocks"), g.get("cycle_bytes")) ==
          (7, 6 + 2, 3, 1, 2, 11000), str(g))
    check("retain_tree: the text report lists them",
          "retains 7,000 bytes in 3 blocks: a block of 1,000 bytes (root_node)" in text and
          "UNREACHABLE CYCLES" in text and "11,000 bytes in 2 blocks" in text, text[-1500:])


def kinds_of(k):
    """(bytes, blocks) of the four kinds, in valgrind's order."""
    return [(k[n]["bytes"], k[n]["blocks"]) for n in
            ("definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable")]


def valgrind_first_summary(prog, args, work):
    """The four totals of valgrind's first LEAK SUMMARY (its VALGRIND_DO_LEAK_CHECK)."""
    log = os.path.join(work, "vg.log")
    subprocess.run(["valgrind", "--leak-check=full", "--log-file=" + log, prog] + args,
                   capture_output=True, timeout=600)
    out, got = open(log).read(), []
    for kind in ("definitely lost", "indirectly lost", "possibly lost", "still reachable"):
        m = re.search(kind + r": ([\d,]+) bytes in ([\d,]+) blocks", out)
        got.append(tuple(int(x.replace(",", "")) for x in m.groups()) if m else None)
    return got


def at_peak(ms, work, prog):
    """--scan-at-peak on retain_tree peak: the graph at the peak is the known tree plus the
    ballast, its kinds are valgrind's at the same point, and the graph at exit is the cycle."""
    trace = os.path.join(work, "peak.mstrace")
    r = subprocess.run([ms, "run", "-o", trace, "--scan-at-peak", "--", prog, "peak"],
                       capture_output=True, timeout=600, cwd=work)
    err = r.stderr.decode()
    if not check("at_peak: memscope run", r.returncode == 0, err[-300:]):
        return
    check("at_peak: the summary gives the scan at the peak",
          "at the peak: the last of 1 snapshots" in err and "(the peak: " in err, err[-600:])
    rep = subprocess.run([ms, "report", "--format", "json", "--top", "0", trace],
                         capture_output=True, timeout=600)
    text = subprocess.run([ms, "report", trace], capture_output=True, timeout=600).stdout.decode()
    if not check("at_peak: memscope report", rep.returncode == 0, rep.stderr.decode()[-300:]):
        return
    d = json.loads(rep.stdout)
    p = d["at_peak"]
    if not check("at_peak: the report has the scan at the peak", p is not None):
        return
    check("at_peak: made at the peak itself", p["live_bytes"] == p["peak_bytes"] ==
          d["summary"]["peak_bytes"], str((p["live_bytes"], p["peak_bytes"])))
    got = sorted((caller(x), x["size"], x["retained_bytes"], x["retained_blocks"], x["name"])
                 for x in p["retainers"])
    want = sorted([("reach_peak", 100000, 100000, 1, None),
                   ("keep_single", 8000, 8000, 1, None),
                   ("build_tree", 1000, 7000, 3, "root_node"),
                   ("build_tree", 3000, 3000, 1, None)])
    check("at_peak: the retainers and what each retains then", got == want, str(got))
    cycles = [sorted((caller(m), m["size"]) for m in c) for c in p["unreachable_cycles"]]
    check("at_peak: the cycle", cycles == [[("lose_cycle", 5000), ("lose_cycle", 6000)]],
          str(cycles))
    peak_check = [c for c in d["leak_checks"] if c["seq"] == p["leak_check"]]
    check("at_peak: its check is listed, cause peak",
          len(peak_check) == 1 and peak_check[0]["cause"] == "peak", str(peak_check)[:300])
    check("at_peak: at exit only the cycle is left",
          [x["size"] for x in d["retainers"]] == [] and d["leak_graph"]["cycle_bytes"] == 11000,
          str(d["leak_graph"]))
    check("at_peak: the text report has the section",
          "WHO KEEPS WHAT ALIVE AT THE PEAK" in text and
          "retains 7,000 bytes in 3 blocks: a block of 1,000 bytes (root_node)" in text,
          text[-1500:])
    if not shutil.which("valgrind"):
        check("valgrind is installed (scripts/install-deps.sh)", False)
        return
    mine = kinds_of(peak_check[0]["leak_kinds"]) if peak_check and "leak_kinds" in \
        peak_check[0] else None
    vg = valgrind_first_summary(prog, ["peak"], work)
    check("at_peak: the kinds then equal valgrind's check at the same point", mine == vg,
          "memscope %s, valgrind %s" % (mine, vg))


def invariants(ms, work, name, argv, env=None, peak=False):
    """The figures that hold whatever the heap, for the graph at exit or (peak) at the peak."""
    r, _ = run(ms, work, name, argv, env, ["--scan-at-peak"] if peak else [])
    if not r:
        return
    if peak:
        p = r["at_peak"]
        if not check(name + ": the report has the scan at the peak", p is not None):
            return
        c = [x for x in r["leak_checks"] if x["seq"] == p["leak_check"]][0]
        name += " at the peak"
        g, k, rs = p["leak_graph"], c.get("leak_kinds"), p["retainers"]
        # a scan is made each time the live bytes reach 1/16 above the last one's
        check(name + ": made within 1/16 of the peak",
              p["live_bytes"] <= p["peak_bytes"] < p["live_bytes"] + p["live_bytes"] // 16,
              "%d live, peak %d" % (p["live_bytes"], p["peak_bytes"]))
        if k:
            check(name + ": the kinds add up to the bytes live then",
                  sum(b for b, _ in kinds_of(k)) + k["suppressed"]["bytes"] == p["live_bytes"],
                  "%s, %d live" % (kinds_of(k), p["live_bytes"]))
    else:
        g, k, rs = r["leak_graph"], r["summary"]["leak_kinds"], r["retainers"]
    if not check(name + ": the graph is in the report", g is not None and k is not None):
        return
    check(name + ": every retainer retains its own block at least",
          all(x["retained_bytes"] >= x["size"] and x["retained_blocks"] >= 1 for x in rs))
    check(name + ": most bytes retained first",
          all(a["retained_bytes"] >= b["retained_bytes"] for a, b in zip(rs, rs[1:])))
    reached = k["still_reachable"]["bytes"] + k["possibly_lost"]["bytes"] + \
        k["suppressed"]["bytes"]
    listed = sum(x["retained_bytes"] for x in rs)
    if g["top_level_blocks"] == len(rs):
        check(name + ": the top-level blocks retain all the memory the roots reach",
              listed == reached, "%d retained, %d reached" % (listed, reached))
    else:
        check(name + ": the listed retainers retain no more than the roots reach",
              listed <= reached, "%d retained, %d reached" % (listed, reached))
    lost = k["definitely_lost"]["bytes"] + k["indirectly_lost"]["bytes"] + k["suppressed"]["bytes"]
    check(name + ": the unreachable cycles are lost memory", g["cycle_bytes"] <= lost,
          "%d in cycles, %d lost" % (g["cycle_bytes"], lost))
    check(name + ": each cycle lists blocks of its own",
          all(len(c) >= 1 for c in r["unreachable_cycles"]) and
          len(r["unreachable_cycles"]) <= g["unreachable_cycles"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--programs", required=True)
    a = ap.parse_args()
    ms = os.path.abspath(a.memscope)
    work = tempfile.mkdtemp(prefix="ms-retainers-")
    try:
        known_tree(ms, work, os.path.join(os.path.abspath(a.programs), "retain_tree"))
        at_peak(ms, work, os.path.join(os.path.abspath(a.programs), "retain_tree"))
        # perl leaks definite, indirect and possible blocks at once; python3 keeps a large
        # reachable heap of objects that point to each other.
        if shutil.which("perl"):
            invariants(ms, work, "perl", ["perl", "-e", "1"], {"PERL_HASH_SEED": "0"})
        if shutil.which("python3"):
            invariants(ms, work, "python3", ["python3", "-c", "import json"])
            invariants(ms, work, "python3-peak", ["python3", "-c", "import json"], peak=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
