#!/usr/bin/env python3
"""memscope never harms the program it tracks: each case runs a command natively and under
`memscope run`, each in a fresh directory, and compares what the program printed (stdout and
stderr, without memscope run's own "trace written" lines), its exit status and every file it
wrote, byte for byte; then it checks that the trace is whole (it ends with the process's exit,
no damage) and holds what the program did (tests/programs/fd_abuse.c leaks 7 blocks of 1234
bytes from leak_marker and makes 300,000 allocations per churn).

usage: harmless.py --memscope M --programs DIR [--case NAME]..."""
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile

failures = 0
CLI_LINE = re.compile(r"^memscope: (trace written: .*|full report: .*|\d+ traces .*)$")
# The summary's lines under the trace's (the default command, with its leak scan at exit).
SUMMARY_LINE = re.compile(r"^memscope:   ")


def check(name, ok, detail=""):
    global failures
    failures += not ok
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))
    return ok


def files_in(d):
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            if ".mstrace" in n:
                continue
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def run_in(d, argv, preexec, stdin=None, timeout=120):
    r = subprocess.run(argv, cwd=d, capture_output=True, preexec_fn=preexec, stdin=stdin,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def closed_stdout():
    os.close(1)


def low_nofile():
    # Soft limit below the hard one: memscope's descriptors go above the soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard if hard > 256 else 256))


def file_size_limit(limit):
    def f():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return f


def report_json(ms, trace):
    r = subprocess.run([ms, "report", trace, "--format", "json", "--top", "0"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None, r.stderr
    return json.loads(r.stdout), ""


def compare(name, ms, argv, preexec=None, expect=None, native_argv=None, trace_checks=True,
            says=None, summary=False, opts=()):
    """expect: a function (report dict) -> list of (what, ok, detail); says: a regex for the one
    line memscope itself must print on stderr (it is then not part of the comparison); summary:
    the default command (the summary, its replay while the program runs and the leak scan at
    the program's exit), else --no-summary."""
    base = tempfile.mkdtemp(prefix="ms-harm-")
    try:
        nd, md = os.path.join(base, "native"), os.path.join(base, "memscope")
        os.makedirs(nd)
        os.makedirs(md)
        trace = os.path.join(md, "t.mstrace")
        native = run_in(nd, native_argv or argv, preexec)
        under = run_in(md, [ms, "run"] + ([] if summary else ["--no-summary"]) + list(opts) +
                       ["-o", trace, "--"] + argv, preexec)
        err_lines = under[2].decode(errors="replace").splitlines()
        kept = [l for l in err_lines if not CLI_LINE.match(l) and not (summary and SUMMARY_LINE.match(l))]
        if says:
            said = [l for l in kept if re.match(says, l)]
            check(name + ": memscope says so once", len(said) == 1, repr(kept[:4]))
            kept = [l for l in kept if not re.match(says, l)]
        m_err = ("\n".join(kept) + ("\n" if kept else "")).encode()
        check(name + ": exit status", native[0] == under[0], "native %d, memscope %d" %
              (native[0], under[0]))
        check(name + ": stdout", native[1] == under[1], "native %r, memscope %r" %
              (native[1][:200], under[1][:200]))
        check(name + ": stderr", native[2] == m_err, "native %r, memscope %r" %
              (native[2][:300], m_err[:300]))
        nf, mf = files_in(nd), files_in(md)
        check(name + ": files", nf == mf, "native %s, memscope %s" % (
            {k: v[:80] for k, v in nf.items()}, {k: v[:80] for k, v in mf.items()}))
        if not trace_checks:
            return
        if not check(name + ": trace written", os.path.exists(trace), under[2][-300:].decode(errors="replace")):
            return
        rep, err = report_json(ms, trace)
        if not check(name + ": trace readable", rep is not None, err):
            return
        notes = rep.get("notes", [])
        if expect is None:
            check(name + ": trace whole", rep["process"]["ended_by"] == "exit" and
                  not any("damaged" in n or "no end record" in n or "truncated" in n
                          or "could not be recorded" in n for n in notes), str(notes))
            s = rep["summary"]
            check(name + ": allocations recorded", s["allocs"] >= 300007, str(s["allocs"]))
            seven = [l for l in rep["leaks"] if l["blocks"] == 7 and l["bytes"] == 7 * 1234]
            check(name + ": the 7 leaked blocks", len(seven) == 1 and any(
                f.get("function") == "leak_marker" for f in seven[0]["stack"]),
                json.dumps(rep["leaks"][:3])[:300])
            if summary:
                # fd_abuse keeps them in a static array: still reachable, as valgrind says
                check(name + ": the 7 blocks still reachable", seven and
                      seven[0].get("kind") == "still_reachable",
                      str(s.get("leak_kinds_missing") or s.get("leak_kinds")))
        else:
            for what, ok, detail in expect(rep):
                check(name + ": " + what, ok, detail)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--programs", required=True)
    ap.add_argument("--case", action="append", default=[])
    a = ap.parse_args()
    ms = os.path.abspath(a.memscope)
    prog = os.path.join(os.path.abspath(a.programs), "fd_abuse")
    want = set(a.case)

    def on(name):
        return not want or name in want

    for mode in ("closeall", "close_range", "daemon"):
        if on(mode):
            compare(mode, ms, [prog, mode])
    # The same with the default command: the program pauses at exit while memscope run scans
    # its memory, and must see nothing else of it.
    for mode in ("closeall", "daemon", "stdout_closed"):
        if on(mode + "_summary"):
            compare(mode + " (with the summary)", ms, [prog, mode], summary=True,
                    preexec=closed_stdout if mode == "stdout_closed" else None)
    if on("clobber"):
        # The program puts its own file on every descriptor it finds open, memscope's included
        # (which it sees in /proc/self/fd: natively there are none, so the outputs differ), and
        # writes an x through each: its file holds exactly its own bytes, the trace is whole.
        base = tempfile.mkdtemp(prefix="ms-harm-clobber-")
        try:
            trace = os.path.join(base, "t.mstrace")
            r = subprocess.run([ms, "run", "--no-summary", "-o", trace, "--", prog, "clobber"],
                               cwd=base, capture_output=True, text=True, timeout=120)
            n = int(re.search(r"clobbered (\d+)", r.stdout).group(1)) if "clobbered" in r.stdout else -1
            data = open(os.path.join(base, "clobber.txt"), "rb").read()
            check("clobber: the program's file holds only its own bytes",
                  r.returncode == 0 and data == b"x" * n + b"\nend\n", "%d %r" % (n, data[:100]))
            rep, err = report_json(ms, trace)
            check("clobber: trace whole", rep is not None and rep["process"]["ended_by"] == "exit"
                  and rep["summary"]["allocs"] >= 600007, err or str(rep and rep["notes"]))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("exhaust"):
        compare("exhaust", ms, [prog, "exhaust"], preexec=low_nofile)
    if on("stdout_closed"):
        compare("stdout_closed", ms, [prog, "stdout_closed"], preexec=closed_stdout)
    if on("fork_fds"):
        # The child must not hold its parent's trace open (natively there is none: 0).
        base = tempfile.mkdtemp(prefix="ms-harm-fork-")
        try:
            trace = os.path.join(base, "t.mstrace")
            r = subprocess.run([ms, "run", "--no-summary", "-o", trace, "--", prog, "fork_fds",
                                trace], cwd=base, capture_output=True, text=True, timeout=120)
            check("fork_fds: child holds no descriptor of the parent's trace",
                  "child: 0 descriptor(s)" in r.stdout, r.stdout + r.stderr[-300:])
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("bash_exec_fd"):
        # A shell script that opens, writes and closes a low descriptor while memscope writes.
        # After memscope wrote its first chunks, the script opens files of its own on every
        # descriptor from 3 to 20 (as `exec 7>out.txt` does one), writes, and closes them.
        script = ('for i in $(seq 1 30000); do y="a$i"; done; '
                  'for fd in $(seq 3 20); do eval "exec $fd>f$fd"; done; '
                  'for i in $(seq 1 30000); do y="b$i"; done; '
                  'for fd in $(seq 3 20); do eval "echo hello $fd >&$fd; exec $fd>&-"; done; '
                  'echo done')
        compare("bash_exec_fd", ms, ["/bin/bash", "-c", script],
                expect=lambda rep: [("trace whole", rep["process"]["ended_by"] == "exit",
                                     str(rep.get("notes")))])
    if on("environment"):
        # The program sees the environment it sees natively: memscope's variables are hidden.
        compare("environment", ms, ["/usr/bin/env"],
                expect=lambda rep: [("trace whole", rep["process"]["ended_by"] == "exit",
                                     str(rep.get("notes")))])
    if on("setproctitle"):
        # The program overwrites its argv and environment strings, then execs /bin/true: its
        # trace is still where it was asked, and the exec'd program is still traced.
        def retitled(rep):
            s = rep["summary"]
            return [("trace whole, ended by exec", rep["process"]["ended_by"] == "exec",
                     str(rep.get("notes"))),
                    ("allocations recorded", s["allocs"] >= 100001, str(s["allocs"]))]
        compare("setproctitle", ms, [os.path.join(os.path.dirname(prog), "setproctitle")],
                expect=retitled)
        base = tempfile.mkdtemp(prefix="ms-harm-title-")
        try:
            trace = os.path.join(base, "t.mstrace")
            subprocess.run([ms, "run", "--no-summary", "-o", trace, "--",
                            os.path.join(os.path.dirname(prog), "setproctitle")], cwd=base,
                           capture_output=True, timeout=120)
            children = [f for f in os.listdir(base) if f.startswith("t.mstrace.")]
            check("setproctitle: the exec'd program is traced", len(children) == 1, str(children))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if on("signals"):
        # The dispositions the program sets and reads back, and what its handlers receive,
        # while memscope's trampoline sits in for each of its handlers.
        compare("signals", ms, [os.path.join(os.path.dirname(prog), "signal_query")],
                expect=lambda rep: [("trace whole", rep["process"]["ended_by"] == "exit",
                                     str(rep.get("notes")))])
    if on("signals_summary"):
        compare("signals (with the summary)", ms,
                [os.path.join(os.path.dirname(prog), "signal_query")], summary=True,
                expect=lambda rep: [("leak kinds", rep["summary"]["leak_kinds"] is not None,
                                     str(rep["summary"].get("leak_kinds_missing")))])
    if on("seccomp_summary"):
        # A program that a seccomp filter kills if it makes a process: no snapshot at exit.
        compare("seccomp (with the summary)", ms,
                [os.path.join(os.path.dirname(prog), "seccomp_nofork")], summary=True,
                expect=lambda rep: [("no kinds, and why", rep["summary"]["leak_kinds"] is None and
                                     "seccomp" in rep["summary"].get("leak_kinds_missing", ""),
                                     str(rep["summary"].get("leak_kinds_missing")))])
    if on("environment_summary"):
        compare("environment (with the summary)", ms, ["/usr/bin/env"], summary=True,
                expect=lambda rep: [("leak kinds", rep["summary"]["leak_kinds"] is not None,
                                     str(rep["summary"].get("leak_kinds_missing")))])
    if on("threads_blocked_summary"):
        # exit() with threads blocked in calls that a ptrace stop interrupts (epoll_wait fails
        # with EINTR): memscope run stops the others for the scan at exit, and leaves those.
        def scanned(rep):
            k = rep["summary"].get("leak_kinds")
            notes = " ".join(rep.get("notes", []))
            return [("leak kinds", k is not None, str(rep["summary"].get("leak_kinds_missing"))),
                    ("the block only a thread's stack holds is still reachable, the lost one "
                     "definitely lost", k is not None and k["definitely_lost"]["bytes"] == 100
                     and any(l["bytes"] == 300 and l["kind"] == "still_reachable"
                             for l in rep["leaks"]), str(k)),
                    ("the threads left running are named", "left running for the leak scan"
                     in notes, notes[-300:])]
        for _ in range(3):
            compare("threads_blocked (with the summary)", ms,
                    [os.path.join(os.path.dirname(prog), "threads_blocked")], summary=True,
                    expect=scanned)
    if on("threads_edge_summary"):
        # exit() after detached threads ended (their buffers never given back: the exit once
        # crashed), and with a thread in vfork() (no ptrace stop until its child is done: it
        # must not be left traced, memscope run must end)
        for mode in ("detached", "vfork"):
            compare("threads_edge %s (with the summary)" % mode, ms,
                    [os.path.join(os.path.dirname(prog), "threads_edge"), mode], summary=True,
                    expect=lambda rep: [("trace whole", rep["process"]["ended_by"] == "exit",
                                         str(rep.get("notes")))])
        # main gone (pthread_exit: a zombie leader, no memory to read through its pid): the
        # threads left are stopped, and the blocks come out as valgrind classifies them (its
        # totals differ: pthread_exit loads libgcc_s under valgrind, which memscope has loaded)
        def leader_kinds(rep):
            kinds = {(l["bytes"], l.get("kind")) for l in rep["leaks"]}
            return [("leak kinds", rep["summary"]["leak_kinds"] is not None,
                     str(rep["summary"].get("leak_kinds_missing"))),
                    ("the lost block definitely lost, the held one still reachable, the one "
                     "held by an interior pointer possibly lost",
                     {(100, "definitely_lost"), (200, "still_reachable"),
                      (300, "possibly_lost")} <= kinds, str(sorted(kinds)))]
        compare("threads_edge leader (with the summary)", ms,
                [os.path.join(os.path.dirname(prog), "threads_edge"), "leader"], summary=True,
                expect=leader_kinds)
    if on("at_peak"):
        # --scan-at-peak: a clone at each new high of the heap, from inside the allocation that
        # reaches it, while the program writes a file and reads its environment.
        script = ("import os\nx = [bytes(1000) for i in range(3000)]\n"
                  "open('out.txt', 'w').write(str(len(x)))\n"
                  "print(sorted(k for k in os.environ if 'MEMSCOPE' in k or 'PRELOAD' in k))")
        python = shutil.which("python3.11") or shutil.which("python3")
        compare("at_peak (python3, with the summary)", ms, [python, "-c", script], summary=True,
                opts=["--scan-at-peak"],
                expect=lambda rep: [("a scan at the peak", rep["at_peak"] is not None and
                                     rep["at_peak"]["live_bytes"] > 3000000, "")])
    if on("file_size_limit"):
        # ulimit -f below the trace's size: the program runs on as natively (no SIGXFSZ);
        # the trace says tracking stopped, and why.
        def stopped(rep):
            notes = " ".join(rep.get("notes", []))
            return [("trace says tracking stopped", rep["process"]["ended_by"] ==
                     "tracking stopped", rep["process"]["ended_by"]),
                    ("report names the file size limit", "file size limit" in notes, notes)]
        compare("file_size_limit", ms, [prog, "closeall"], preexec=file_size_limit(8192),
                expect=stopped, says=r"^memscope: the trace .* reached the file size limit")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
