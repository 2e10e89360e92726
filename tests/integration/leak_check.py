#!/usr/bin/env python3
"""On-demand leak scans (issue 8, item 1): ms_leak_check() and MEMSCOPE_SCAN_SIGNAL give, for
the blocks live at that moment, the four totals valgrind's VALGRIND_DO_LEAK_CHECK gives at the
same point of the same program (tests/programs/leak_check.c), also while another thread runs
(memscope run stops it for the snapshot and scans its stack and registers); a check made outside memscope run's summary, says why it was not scanned; a program that takes the
signal for itself keeps it; a running program scanned by `kill -USR2` gets one scan per signal.

usage: leak_check.py --memscope M --programs DIR"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = 0

KINDS = ["definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable"]


def check(name, ok, detail=""):
    global failures
    failures += not ok
    detail = detail if len(detail) < 400 or not ok else detail[:400] + "..."
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))
    return ok


def report(ms, trace):
    rep = subprocess.run([ms, "report", "--format", "json", "--top", "0", trace],
                         capture_output=True, timeout=600)
    text = subprocess.run([ms, "report", trace], capture_output=True, timeout=600)
    if not check("memscope report " + os.path.basename(trace),
                 rep.returncode == 0 and text.returncode == 0,
                 (rep.stderr + text.stderr).decode()[-300:]):
        return None, ""
    return json.loads(rep.stdout), text.stdout.decode()


def run(ms, work, name, argv, opts=()):
    trace = os.path.join(work, name + ".mstrace")
    r = subprocess.run([ms, "run", "-o", trace] + list(opts) + ["--"] + argv,
                       capture_output=True, timeout=600, cwd=work)
    check(name + ": memscope run exits as the program", r.returncode == 0,
          r.stderr.decode()[-300:])
    rep, text = report(ms, trace)
    return rep, text, r.stdout.decode(), r.stderr.decode()


def valgrind_summaries(prog, args, work, log_text=None):
    """The four totals of each LEAK SUMMARY valgrind printed, in order."""
    out = log_text
    if out is None:
        log = os.path.join(work, "vg.log")
        subprocess.run(["valgrind", "--leak-check=full", "--log-file=" + log, prog] + args,
                       capture_output=True, timeout=600)
        out = open(log).read()
    sums = []
    for block in out.split("LEAK SUMMARY:")[1:]:
        got = {}
        for k, label in zip(KINDS, ["definitely lost", "indirectly lost", "possibly lost",
                                    "still reachable"]):
            m = re.search(label + r": ([\d,]+) bytes in ([\d,]+) blocks", block)
            got[k] = (int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))) \
                if m else None
        sums.append(got)
    return sums


def kinds_of(x):
    return {k: (x[k]["bytes"], x[k]["blocks"]) for k in KINDS}


def against_valgrind(ms, work, prog):
    rep, text, out, err = run(ms, work, "checks", [prog], ["--scan-signal=USR2"])
    if not rep:
        return
    vg = valgrind_summaries(prog, ["native"], work)
    if not check("valgrind: four leak summaries (three checks, exit)", len(vg) == 4, str(vg)):
        return
    checks = rep["leak_checks"]
    check("three checks, all recorded", rep["leak_checks_asked"] == 3 and len(checks) == 3,
          str(rep["leak_checks_asked"]))
    check("check 1 is ms_leak_check's, check 2 the signal's",
          [c["cause"] for c in checks] == ["ms_leak_check", "signal", "ms_leak_check"],
          str([c["cause"] for c in checks]))
    for i in range(3):
        c = checks[i]
        got = kinds_of(c["leak_kinds"]) if c["leak_kinds"] else None
        check("check %d: kinds equal valgrind's check" % (i + 1), got == vg[i],
              "memscope %s, valgrind %s" % (got, vg[i]))
    third = checks[2]
    check("check 3: made with the other thread stopped", not third.get("not_scanned")
          and third.get("leak_kinds") is not None, str(third)[:300])
    kept_by_thread = [x for x in third.get("lost", []) if x["bytes"] == 900]
    check("check 3: the block only the other thread's stack holds is not lost",
          not kept_by_thread, str(kept_by_thread))
    exit_kinds = rep["summary"]["leak_kinds"]
    check("the kinds at exit equal valgrind's",
          exit_kinds and kinds_of(exit_kinds) == vg[3], "%s vs %s" % (exit_kinds, vg[3]))
    check("ms_leak_check returned 0 both times", "checks: 0 0" in out, out)
    check("the summary line gives the checks",
          "leak checks during the run: 3 asked, 3 scanned" in err, err[-500:])
    lost = sorted((x["kind"], x["bytes"], x["blocks"]) for x in checks[1]["lost"])
    want = sorted([("definitely_lost", 600, 1), ("definitely_lost", 400, 1),
                   ("definitely_lost", 200, 1), ("definitely_lost", 100, 1),
                   ("possibly_lost", 500, 1), ("indirectly_lost", 300, 1),
                   ("indirectly_lost", 300, 1)])
    check("check 2: its lost blocks by stack", lost == want, str(lost))
    check("the text report lists the checks",
          "LEAK CHECKS DURING THE RUN" in text and "3 asked, 3 scanned" in text and
          "lost at check #3" in text, text[-600:])


def suppressed(ms, work, prog):
    """A suppression (leak:lose_block) leaves the checks' kinds as valgrind's with the same
    suppression, and counts what it took."""
    trace = os.path.join(work, "checks.mstrace")
    supp = os.path.join(work, "lsan.supp")
    with open(supp, "w") as f:
        f.write("leak:lose_block\n")
    vsupp = os.path.join(work, "vg.supp")
    with open(vsupp, "w") as f:
        f.write("{\n   lose_block\n   Memcheck:Leak\n   match-leak-kinds: all\n   ...\n"
                "   fun:lose_block\n   ...\n}\n")
    r = subprocess.run([ms, "report", "--format", "json", "--top", "0", "--suppressions", supp,
                        trace], capture_output=True, timeout=600)
    if not check("suppressed: memscope report", r.returncode == 0, r.stderr.decode()[-300:]):
        return
    checks = json.loads(r.stdout)["leak_checks"]
    log = os.path.join(work, "vgs.log")
    subprocess.run(["valgrind", "--leak-check=full", "--suppressions=" + vsupp,
                    "--log-file=" + log, prog, "native"], capture_output=True, timeout=600)
    out = open(log).read()
    vg = valgrind_summaries(prog, ["native"], work, log_text=out)
    sup = re.findall(r"suppressed: ([\d,]+) bytes in ([\d,]+) blocks", out)
    for i in range(2):
        got = kinds_of(checks[i]["leak_kinds"])
        check("suppressed: check %d's kinds equal valgrind's" % (i + 1), got == vg[i],
              "memscope %s, valgrind %s" % (got, vg[i]))
        want = tuple(int(x.replace(",", "")) for x in sup[i]) if len(sup) > i else None
        s = checks[i]["leak_kinds"]["suppressed"]
        check("suppressed: check %d's suppressed bytes equal valgrind's" % (i + 1),
              (s["bytes"], s["blocks"]) == want, "%s vs %s" % (s, want))
    check("suppressed: no suppressed stack among the lost",
          all("lose_block" not in [f["function"] for f in x["stack"]]
              for c in checks[:2] for x in c["lost"]), "")


def without_summary(ms, work, prog):
    rep, text, out, err = run(ms, work, "nosummary", [prog], ["--scan-signal=USR2", "--no-summary"])
    if not rep:
        return
    checks = rep["leak_checks"]
    why = "the program was not run by memscope run with its summary"
    check("--no-summary: every check says why it was not scanned",
          len(checks) == 3 and all(c["not_scanned"] == why for c in checks),
          str([c["not_scanned"] for c in checks]))
    check("--no-summary: ms_leak_check returned 1 (no scanner)", "checks: 1 1" in out, out)


def after_exec(ms, work, prog):
    """The program memscope run started exec's another: that one's checks are not made (memscope
    run scans only the program it started) and do not wait for a scan."""
    rep, text, out, err = run(ms, work, "exec", [prog, "exec"])
    check("exec: the exec'd program's checks are not made (no scanner)",
          "after exec: 1 1" in out, out + err[-300:])


def idle_thread(ms, work, prog):
    """Two checks while another thread sleeps in read() with its events unwritten: both made and
    scanned, the second without waiting for the first (its thread's SYNC record lets memscope
    run's replay deliver the first check at once), the idle thread's block still reachable."""
    rep, text, out, err = run(ms, work, "idle", [prog, "idle"])
    check("idle: both checks made, neither waited", "idle: 0 0" in out, out + err[-300:])
    if not rep:
        return
    checks = rep["leak_checks"]
    check("idle: both scanned", len(checks) == 2 and all(c["leak_kinds"] for c in checks),
          str([c["not_scanned"] for c in checks]))
    if len(checks) == 2 and all(c["leak_kinds"] for c in checks):
        lost = [c["leak_kinds"]["definitely_lost"]["bytes"] for c in checks]
        kept = [c["leak_kinds"]["still_reachable"]["bytes"] for c in checks]
        check("idle: 100 then 300 bytes lost, the thread's 1100 still reachable",
              lost == [100, 300] and all(k >= 1100 for k in kept), "%s %s" % (lost, kept))


def program_takes_signal(ms, work, prog):
    """leak_check native ignores SIGUSR2 itself: memscope gives the signal up, raise() does
    nothing, and only the two ms_leak_check calls are checks."""
    rep, text, out, err = run(ms, work, "owned", [prog, "native"], ["--scan-signal=USR2"])
    if not rep:
        return
    check("a program that sets the signal's disposition keeps it",
          [c["cause"] for c in rep["leak_checks"]] == ["ms_leak_check", "ms_leak_check"],
          str([c["cause"] for c in rep["leak_checks"]]))


def by_kill(ms, work, prog):
    """A running program, scanned from outside: one scan per signal, each later one finding at
    least the lost bytes of the one before (the program loses 700 bytes every 10 ms)."""
    trace = os.path.join(work, "killed.mstrace")
    p = subprocess.Popen([ms, "run", "-o", trace, "--scan-signal=USR2", "--", prog, "wait"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work)
    line = p.stdout.readline()
    check("wait: the program is waiting", line == b"waiting\n", str(line))
    pid = None
    for _ in range(100):
        r = subprocess.run(["pgrep", "-f", "^" + re.escape(prog) + " wait$"], capture_output=True)
        if r.stdout.split():
            pid = int(r.stdout.split()[0])
            break
        time.sleep(0.05)
    if not check("wait: the program's pid", pid is not None):
        p.kill()
        return
    for _ in range(3):
        os.kill(pid, signal.SIGUSR2)
        time.sleep(0.3)
    os.kill(pid, signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    check("wait: memscope run exits as the program", p.returncode == 0, err.decode()[-300:])
    rep, _ = report(ms, trace)
    if not rep:
        return
    checks = rep["leak_checks"]
    check("wait: 2 checks from the program, 3 by kill, all scanned",
          len(checks) == 5 and all(c["leak_kinds"] for c in checks) and
          [c["cause"] for c in checks[2:]] == ["signal"] * 3, str([c["not_scanned"] for c in checks]))
    lost = [c["leak_kinds"]["definitely_lost"]["bytes"] for c in checks if c["leak_kinds"]]
    # a signal that comes before the first 700-byte block is lost (or while the last one is
    # still in a register) finds what the one before found
    check("wait: the lost bytes grow from scan to scan",
          all(a <= b for a, b in zip(lost[1:], lost[2:])) and lost[-1] > lost[1], str(lost))
    check("wait: the 700-byte blocks are definitely lost at the last scan",
          any(x["kind"] == "definitely_lost" and x["bytes"] % 700 == 0 and x["blocks"] > 1
              for x in checks[-1]["lost"]), str(checks[-1]["lost"][:3]))


def real_program(ms, work):
    """python3, busy allocating (signals land inside memscope's hooks too) while a thread of its
    sleeps: every signal gives a scan, and each scan's four kinds add up to the blocks live at
    that moment; at exit, with the thread still asleep, the kinds too."""
    py = shutil.which("python3.11") or "/usr/bin/python3"
    trace = os.path.join(work, "python.mstrace")
    # with a second thread, asleep: memscope run stops it for each scan
    code = ("import sys, threading, time\n"
            "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            "t = time.time(); l = []\nprint('go', flush=True)\n"
            "while time.time() - t < 2:\n    l.append([str(i) for i in range(100)])\n"
            "    l = l[-500:]\n")
    p = subprocess.Popen([ms, "run", "-o", trace, "--scan-signal=USR2", "--", py, "-c", code],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work)
    p.stdout.readline()
    r = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True)
    pid = int(r.stdout.split()[0]) if r.stdout.split() else None
    if not check("python3: its pid", pid is not None):
        p.kill()
        return
    for _ in range(4):
        os.kill(pid, signal.SIGUSR2)
        time.sleep(0.25)
    _, err = p.communicate(timeout=300)
    check("python3: memscope run exits as the program", p.returncode == 0, err.decode()[-300:])
    rep, _ = report(ms, trace)
    if not rep:
        return
    checks = rep["leak_checks"]
    check("python3: 4 signals, 4 scans", len(checks) == 4 and all(c["leak_kinds"] for c in checks),
          str([c["not_scanned"] for c in checks]))
    sums = [(sum(c["leak_kinds"][k]["bytes"] for k in KINDS), c["live"]["bytes"],
             c["leak_kinds"]["not_scanned_blocks"]) for c in checks if c["leak_kinds"]]
    check("python3: each scan's kinds add up to the blocks live then",
          all(a == b and n == 0 for a, b, n in sums), str(sums))
    check("python3: kinds at exit, its thread still asleep", rep["summary"]["leak_kinds"]
          is not None, str(rep["summary"].get("leak_kinds_missing")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--programs", required=True)
    args = ap.parse_args()
    ms = os.path.abspath(args.memscope)
    prog = os.path.join(os.path.abspath(args.programs), "leak_check")
    work = tempfile.mkdtemp(prefix="ms-leak-check-")
    try:
        if shutil.which("valgrind"):
            against_valgrind(ms, work, prog)
            suppressed(ms, work, prog)
        else:
            check("valgrind is installed (scripts/install-deps.sh)", False)
        after_exec(ms, work, prog)
        idle_thread(ms, work, prog)
        without_summary(ms, work, prog)
        program_takes_signal(ms, work, prog)
        by_kill(ms, work, prog)
        real_program(ms, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
