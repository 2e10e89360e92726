#!/usr/bin/env python3
"""Accuracy oracle for memscope: compare memscope's numbers with valgrind's.

Library + CLI, python3 standard library only.

For one command line the harness

  1. runs it natively (reference stdout and exit status);
  2. runs it under valgrind (memcheck, --trace-children=yes,
     --child-silent-after-fork=no, --leak-check=full --show-leak-kinds=all,
     --log-file=WORK/vg.%p) and parses every log into
     {pid, parent_pid, command, argv, allocs, frees, bytes_allocated,
      in_use_bytes, in_use_blocks, leaks: [{bytes, blocks, kind, frames}]};
  3. runs it under `memscope run -o WORK/t.mstrace -- CMD...`, collects every
     trace named on stderr (`memscope: trace written: PATH`) and runs
     `memscope report PATH --format json` on each;
  4. pairs processes of the two runs by command line (exe + argv) and, for
     equal command lines, by their place in the process tree (parent vs fork
     child: a child's ppid is its parent's pid in the same run);
  5. checks, for every pair: allocs, frees, bytes_allocated,
     leaked_bytes == in use at exit (bytes), leaked_blocks == in use at exit
     (blocks), the sum of the memscope leak records == leaked_bytes/blocks;
     for every `/* LEAK: name */` marker in the program's source: the
     valgrind leak records (grouped by stack) that have a frame at the marked
     line have memscope counterparts of the same bytes/blocks with a frame in
     the same function, same file basename and the marked line (and memscope
     has no extra leak at that line); optional `memscope-expect:` lines in
     the source header (threads=N, thread names);
  6. checks that stdout and exit status are identical natively, under
     valgrind and under memscope.

It prints one line per check (PASS/FAIL/NOTE), a diff on mismatch, and exits
with 0 (all checks passed), 1 (a check failed) or 2 (the harness could not
run: valgrind missing, memscope crashed, invalid JSON, ...).

Environment equalisation
------------------------
Programs that copy their environment into the heap (python's os.environ,
anything calling setenv) allocate differently when the environment differs.
Measured with valgrind on python 3.11: one more variable can add one
malloc (the dict holding os.environ is resized at fixed sizes), and a
variable whose value is longer than 512 bytes adds a malloc of that size
(pymalloc sends larger objects to malloc); the length of short values does
not change the malloc counts (pymalloc serves them from mmap'd arenas, which
neither tool counts) but can change bytes_allocated only through those
>512-byte objects.  So the harness makes the *set of names* (and the values,
where it can) the same in both runs:

  * Debian's /usr/bin/valgrind is a shell wrapper that exports
    LD_LIBRARY_PATH=/usr/lib/debug, GLIBCPP_FORCE_NEW=1, GLIBCXX_FORCE_NEW=1
    before exec'ing /usr/bin/valgrind.bin.  The harness runs valgrind.bin
    directly when it exists (override with --valgrind), so valgrind itself
    adds only LD_PRELOAD (its two vgpreload_*.so, ~120 characters).
  * Before the real runs the harness probes both tools with `/usr/bin/env
    -0` as the client: every variable memscope adds (other than those that
    valgrind also sets, i.e. LD_PRELOAD) is exported, with the same value,
    into the valgrind run; every variable valgrind adds that memscope does not
    is exported into the memscope run.  memscope hides its own variables,
    LD_PRELOAD included, from the program, so valgrind's LD_PRELOAD is stood
    in for by ORACLE_PAD (same name and value lengths) in the memscope run.  The memscope probe uses the same -o
    path as the real run, so path-valued MEMSCOPE_* variables have the same
    length.  Only LD_PRELOAD's value differs in length (both are far below
    512 bytes).  --no-match-env turns this off; --env NAME=VALUE adds a
    variable to all three runs (e.g. PYTHONHASHSEED=0).
  * The native run gets the caller's environment plus --env variables.

Processes without a counterpart
-------------------------------
A fork child that exec's (gcc -> cc1, exec_self) is one pid with two images.
valgrind prints no summary for the image that exec'd (the exec'd valgrind
even reuses its vg.<pid> log); memscope writes a trace for it with
"ended_by": "exec" (TRACE.<pid>, the new image gets TRACE.<pid>.1).  Those
traces are listed as NOTE and not compared.

Address-layout dependent programs
---------------------------------
cc1 (gcc's compiler proper) sizes its GC page table by the 16 MiB address
regions its GC heap occupies: one xcalloc(4096, 8) = 32,768 bytes per region,
kept until exit.  Where mmap puts that heap differs between valgrind and a
native run (and between native runs with ASLR on: 18,893 or 18,894 allocs),
so the gcc preset passes --tolerate-block-size 32768 --tolerate-in cc1: a
difference made only of k whole 32,768-byte blocks still in use at exit
(allocs, bytes_allocated, in-use bytes and blocks all off by exactly k
blocks, frees equal) is reported as a NOTE and accepted.  The --real presets
also run everything under `setarch ARCH -R` (ASLR off) so that repeated runs
of one tool agree.

Examples
--------
  python3 tests/integration/oracle.py --memscope build/bin/memscope \\
      --programs build/tests/programs --program leaks
  python3 tests/integration/oracle.py --memscope build/bin/memscope --real sqlite
  python3 tests/integration/oracle.py --valgrind-only --programs /tmp/p --program fork_leak
  python3 tests/integration/oracle.py --memscope build/bin/memscope -- /bin/ls -l
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_SOURCES = os.path.join(REPO, "tests", "programs")

EXIT_OK, EXIT_MISMATCH, EXIT_HARNESS = 0, 1, 2


class HarnessError(Exception):
    """The harness could not produce a comparison (not a mismatch)."""


# --------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------

@dataclass
class Frame:
    function: str
    file: Optional[str]
    line: Optional[int]
    module: Optional[str] = None
    address: Optional[str] = None

    def short(self) -> str:
        loc = f"{self.file}:{self.line}" if self.file else (self.module or "?")
        return f"{self.function} ({loc})"


@dataclass
class Leak:
    bytes: int
    blocks: int
    frames: List[Frame]
    kind: str = ""


@dataclass
class Proc:
    source: str                    # "valgrind" or "memscope"
    pid: int
    parent_pid: int
    exe: str                       # path as the tool reports it
    argv: List[str]                # argv; argv[0] may be the exe path
    allocs: Optional[int] = None
    frees: Optional[int] = None
    bytes_allocated: Optional[int] = None
    in_use_bytes: Optional[int] = None
    in_use_blocks: Optional[int] = None
    leaks: List[Leak] = field(default_factory=list)
    path: str = ""                 # log / trace file
    extra: dict = field(default_factory=dict)
    signature: tuple = ()

    def label(self) -> str:
        return f"{self.source} pid {self.pid} [{cmd_str([self.exe] + self.argv[1:])}]"


def cmd_str(argv: Sequence[str], limit: int = 110) -> str:
    s = " ".join(a if a and " " not in a else repr(a) for a in argv)
    return s if len(s) <= limit else s[: limit - 3] + "..."


# --------------------------------------------------------------------------
# valgrind
# --------------------------------------------------------------------------

_NUM = r"[\d,]+"
_RE_PREFIX = re.compile(r"^==(\d+)== ?(.*)$")
_RE_HEAP_USE = re.compile(rf"in use at exit: ({_NUM}) bytes in ({_NUM}) blocks")
_RE_TOTAL = re.compile(rf"total heap usage: ({_NUM}) allocs, ({_NUM}) frees, ({_NUM}) bytes allocated")
_RE_RECORD = re.compile(
    rf"^({_NUM}) (?:\(({_NUM}) direct, ({_NUM}) indirect\) )?bytes in ({_NUM}) blocks are "
    r"(definitely lost|indirectly lost|possibly lost|still reachable) in loss record")
_RE_FRAME = re.compile(r"^\s*(?:at|by) 0x([0-9A-Fa-f]+): (.*?)(?: \(([^()]*)\))?$")
_RE_SIGNAL = re.compile(r"Process terminating with default action of signal (\d+)")
_RE_KIND_TOTAL = re.compile(
    rf"^\s*(definitely lost|indirectly lost|possibly lost|still reachable|suppressed): ({_NUM}) bytes in "
    rf"({_NUM}) blocks")
LEAK_KINDS = ("definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable", "suppressed")
# --suppress NAME: `memscope report --suppressions FILE` for this run's reports
REPORT_ARGS: List[str] = []
_RE_HEURISTIC = re.compile(rf"^\s*(stdstring|length64|newarray|multipleinheritance)\s*: ({_NUM}) bytes in ({_NUM}) blocks")
HEURISTICS = ("stdstring", "length64", "newarray", "multipleinheritance")


def _n(s: str) -> int:
    return int(s.replace(",", ""))


def split_valgrind_command(cmd: str) -> List[str]:
    """valgrind prints `Command: exe arg...` escaping ' ' as '\\ ' and '\\'
    as '\\\\', and printing control characters (newline, tab, ...) as '_'
    (see norm_args)."""
    out, cur, i, started = [], [], 0, False
    while i < len(cmd):
        c = cmd[i]
        if c == "\\" and i + 1 < len(cmd):
            cur.append(cmd[i + 1])
            started = True
            i += 2
            continue
        if c == " ":
            if started:
                out.append("".join(cur))
            cur, started = [], False
        else:
            cur.append(c)
            started = True
        i += 1
    if started:
        out.append("".join(cur))
    return out


def parse_frame(text: str) -> Optional[Frame]:
    m = _RE_FRAME.match(text)
    if not m:
        return None
    addr, fn, loc = m.group(1), m.group(2).strip(), m.group(3)
    file = line = module = None
    if loc:
        if loc.startswith("in "):
            module = loc[3:]
        else:
            fm = re.match(r"^(.*):(\d+)$", loc)
            if fm:
                file, line = fm.group(1), int(fm.group(2))
            else:
                module = loc
    return Frame(function=fn, file=file, line=line, module=module, address="0x" + addr.lower())


_RE_ERRORS = re.compile(r"^ERROR SUMMARY: ([\d,]+) errors? from")


def parse_valgrind_log(path: str) -> Proc:
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    pid = None
    body: List[str] = []
    for ln in lines:
        m = _RE_PREFIX.match(ln)
        if m:
            pid = pid if pid is not None else int(m.group(1))
            body.append(m.group(2))
    if pid is None:
        raise HarnessError(f"{path}: not a valgrind log (no ==PID== lines)")
    proc = Proc(source="valgrind", pid=pid, parent_pid=-1, exe="", argv=[], path=path)
    i = 0
    while i < len(body):
        ln = body[i]
        if ln.startswith("Command: "):
            proc.argv = split_valgrind_command(ln[len("Command: "):])
            proc.exe = proc.argv[0] if proc.argv else ""
        elif ln.startswith("Parent PID: "):
            proc.parent_pid = int(ln.split(":")[1])
        elif (m := _RE_SIGNAL.search(ln)):
            proc.extra["signal"] = int(m.group(1))
        elif (m := _RE_ERRORS.match(ln)):
            proc.extra["errors"] = _n(m.group(1))
        elif (m := _RE_HEAP_USE.search(ln)):
            proc.in_use_bytes, proc.in_use_blocks = _n(m.group(1)), _n(m.group(2))
        elif (m := _RE_TOTAL.search(ln)):
            proc.allocs, proc.frees, proc.bytes_allocated = (_n(m.group(k)) for k in (1, 2, 3))
        elif (m := _RE_KIND_TOTAL.match(ln)):
            kinds = proc.extra.setdefault("leak_kinds", {})
            kinds[m.group(1).replace(" ", "_")] = (_n(m.group(2)), _n(m.group(3)))
        elif (m := _RE_HEURISTIC.match(ln)):
            proc.extra.setdefault("heuristics", {})[m.group(1)] = (_n(m.group(2)), _n(m.group(3)))
        elif (m := _RE_RECORD.match(ln)):
            total, direct, blocks, kind = m.group(1), m.group(2), m.group(4), m.group(5)
            frames: List[Frame] = []
            i += 1
            while i < len(body) and body[i].strip():
                fr = parse_frame(body[i])
                if fr:
                    frames.append(fr)
                i += 1
            proc.leaks.append(Leak(bytes=_n(direct) if direct else _n(total),
                                   blocks=_n(blocks), frames=frames, kind=kind))
            continue
        i += 1
    if proc.allocs is None:
        proc.extra["incomplete"] = True   # exec'd away or killed without summary
    return proc


def find_valgrind() -> List[str]:
    # Debian's /usr/bin/valgrind is a wrapper that exports extra variables;
    # use the real launcher when it is there (see module docstring).
    for cand in ("/usr/bin/valgrind.bin",):
        if os.access(cand, os.X_OK):
            return [cand]
    v = shutil.which("valgrind")
    if not v:
        raise HarnessError("valgrind not found in PATH")
    return [v]


def valgrind_args(logdir: str, num_callers: int) -> List[str]:
    return ["--tool=memcheck", "--leak-check=full", "--show-leak-kinds=all",
            "--errors-for-leak-kinds=none", "--trace-children=yes",
            "--child-silent-after-fork=no", f"--num-callers={num_callers}",
            "--run-libc-freeres=yes", "--run-cxx-freeres=yes",
            f"--log-file={os.path.join(logdir, 'vg.%p')}"]


# --------------------------------------------------------------------------
# memscope
# --------------------------------------------------------------------------

_RE_TRACE_WRITTEN = re.compile(r"^memscope: trace written: (.+?)\s*$")


def _req_int(d: dict, key: str, where: str) -> int:
    if key not in d:
        raise HarnessError(f"{where}: missing key {key!r}")
    v = d[key]
    if not isinstance(v, int) or isinstance(v, bool):
        raise HarnessError(f"{where}: {key!r} is {v!r}, expected an integer")
    return v


def parse_memscope_report(doc: dict, path: str) -> Proc:
    where = f"report of {path}"
    if not isinstance(doc, dict):
        raise HarnessError(f"{where}: top level is {type(doc).__name__}, expected an object")
    for k in ("process", "summary", "leaks"):
        if k not in doc:
            raise HarnessError(f"{where}: missing top-level key {k!r} (has {sorted(doc)})")
    p, s = doc["process"], doc["summary"]
    argv = p.get("argv")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise HarnessError(f"{where}: process.argv is {argv!r}, expected a list of strings")
    exe = p.get("exe")
    if not isinstance(exe, str):
        raise HarnessError(f"{where}: process.exe is {exe!r}, expected a string")
    proc = Proc(source="memscope", pid=_req_int(p, "pid", where + " process"),
                parent_pid=_req_int(p, "ppid", where + " process"), exe=exe, argv=argv,
                path=path)
    proc.allocs = _req_int(s, "allocs", where + " summary")
    proc.frees = _req_int(s, "frees", where + " summary")
    proc.bytes_allocated = _req_int(s, "bytes_allocated", where + " summary")
    proc.in_use_bytes = _req_int(s, "leaked_bytes", where + " summary")
    proc.in_use_blocks = _req_int(s, "leaked_blocks", where + " summary")
    for k in ("ended_by", "exit_signal", "fork_parent_pid", "exit_freeing"):
        if k in p:
            proc.extra[k] = p[k]
    for k in ("realloc_calls", "peak_bytes", "temporary_allocs", "threads", "duration_ns"):
        if k in s:
            proc.extra[k] = s[k]
    if isinstance(s.get("errors"), dict):
        proc.extra["errors"] = s["errors"].get("total")
    kinds = s.get("leak_kinds")
    if isinstance(kinds, dict):
        proc.extra["leak_kinds"] = {k: (_req_int(kinds[k], "bytes", where), _req_int(kinds[k], "blocks", where))
                                    for k in LEAK_KINDS}
        heur = kinds.get("reachable_via_heuristic", {})
        proc.extra["heuristics"] = {h: (_req_int(heur[h], "bytes", where), _req_int(heur[h], "blocks", where))
                                    for h in HEURISTICS if h in heur}
    else:
        proc.extra["leak_kinds_missing"] = s.get("leak_kinds_missing", "(no reason given)")
    if not isinstance(doc["leaks"], list):
        raise HarnessError(f"{where}: leaks is not a list")
    for j, lk in enumerate(doc["leaks"]):
        lw = f"{where} leaks[{j}]"
        stack = lk.get("stack", [])
        if not isinstance(stack, list):
            raise HarnessError(f"{lw}: stack is not a list")
        frames = []
        for fr in stack:
            if not isinstance(fr, dict):
                raise HarnessError(f"{lw}: frame {fr!r} is not an object")
            line = fr.get("line")
            frames.append(Frame(function=str(fr.get("function") or "???"),
                                file=fr.get("file") or None,
                                line=line if isinstance(line, int) and line > 0 else None,
                                module=fr.get("module"), address=str(fr.get("address"))))
        kind = lk.get("kind", "")
        if "leak_kinds" in proc.extra and kind not in LEAK_KINDS:
            raise HarnessError(f"{lw}: kind is {kind!r}, expected one of {LEAK_KINDS}")
        proc.leaks.append(Leak(bytes=_req_int(lk, "bytes", lw), blocks=_req_int(lk, "blocks", lw),
                               frames=frames, kind=kind.replace("_", " ")))
    threads = doc.get("threads")
    if isinstance(threads, list):
        proc.extra["thread_entries"] = threads
    return proc


def memscope_report(memscope: str, trace: str, timeout: float) -> Proc:
    cmd = [memscope, "report", trace, "--format", "json"] + REPORT_ARGS
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"`{cmd_str(cmd)}` timed out after {timeout}s")
    if r.returncode != 0:
        raise HarnessError(f"`{cmd_str(cmd)}` exited with {r.returncode}\n"
                           f"stderr:\n{r.stderr.decode(errors='replace')[-3000:]}")
    text = r.stdout.decode(errors="replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        snippet = text[max(0, e.pos - 200): e.pos + 200]
        raise HarnessError(f"`{cmd_str(cmd)}` printed invalid JSON: {e}\n"
                           f"near: ...{snippet!r}...\n(total {len(text)} chars)")
    return parse_memscope_report(doc, trace)


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------

@dataclass
class RunResult:
    stdout: bytes
    stderr: bytes
    returncode: int
    procs: List[Proc] = field(default_factory=list)


NO_ASLR_PREFIX: List[str] = []   # set by --no-aslr: ["setarch", ARCH, "-R"]


def _run(cmd: List[str], env: Dict[str, str], stdin_path: Optional[str], cwd: Optional[str],
         timeout: float, what: str) -> subprocess.CompletedProcess:
    cmd = NO_ASLR_PREFIX + list(cmd)
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        return subprocess.run(cmd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{what}: `{cmd_str(cmd)}` timed out after {timeout}s")
    except OSError as e:
        raise HarnessError(f"{what}: cannot run `{cmd_str(cmd)}`: {e}")
    finally:
        if stdin_path:
            stdin.close()


def run_native(cmd, env, stdin_path, cwd, timeout) -> RunResult:
    r = _run(cmd, env, stdin_path, cwd, timeout, "native run")
    return RunResult(r.stdout, r.stderr, r.returncode)


def run_valgrind(cmd, env, stdin_path, cwd, timeout, workdir, valgrind, num_callers) -> RunResult:
    logdir = os.path.join(workdir, "vg")
    os.makedirs(logdir, exist_ok=True)
    for f in os.listdir(logdir):
        os.unlink(os.path.join(logdir, f))
    full = valgrind + valgrind_args(logdir, num_callers) + ["--"] + cmd
    r = _run(full, env, stdin_path, cwd, timeout, "valgrind run")
    logs = sorted(os.listdir(logdir))
    if not logs:
        raise HarnessError(f"valgrind wrote no log in {logdir}\nstderr:\n"
                           f"{r.stderr.decode(errors='replace')[-3000:]}")
    procs = [parse_valgrind_log(os.path.join(logdir, f)) for f in logs]
    return RunResult(r.stdout, r.stderr, r.returncode, procs)


def run_memscope(cmd, env, stdin_path, cwd, timeout, workdir, memscope, unwind,
                 report_timeout, check=False) -> RunResult:
    trace = os.path.join(workdir, "t.mstrace")
    clean_traces(workdir)
    full = [memscope, "run", "-o", trace]
    if unwind:
        full.append(f"--unwind={unwind}")
    if check:
        full.append("--check")
    full += ["--"] + cmd
    r = _run(full, env, stdin_path, cwd, timeout, "memscope run")
    err = r.stderr.decode(errors="replace")
    paths = []
    for ln in err.splitlines():
        m = _RE_TRACE_WRITTEN.match(ln)
        if m:
            p = m.group(1)
            paths.append(p if os.path.isabs(p) else os.path.join(cwd or os.getcwd(), p))
    if not paths:
        on_disk = sorted(f for f in os.listdir(workdir) if f.startswith("t.mstrace"))
        raise HarnessError(
            f"memscope run printed no 'memscope: trace written: PATH' line "
            f"(exit status {r.returncode}; files on disk: {on_disk or 'none'})\n"
            f"command: {cmd_str(full, 400)}\nstderr (last 3000 chars):\n{err[-3000:]}")
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise HarnessError(f"memscope named traces that do not exist: {missing}")
    on_disk = sorted(os.path.join(workdir, f) for f in os.listdir(workdir)
                     if f.startswith("t.mstrace"))
    unnamed = [p for p in on_disk if os.path.realpath(p) not in {os.path.realpath(q) for q in paths}]
    res = RunResult(r.stdout, r.stderr, r.returncode)
    res.procs = [memscope_report(memscope, p, report_timeout) for p in paths]
    if unnamed:
        res.procs[0].extra["unnamed_traces"] = unnamed
    return res


def clean_traces(workdir: str) -> None:
    for f in os.listdir(workdir):
        if f.startswith("t.mstrace"):
            os.unlink(os.path.join(workdir, f))


def read_env0(data: bytes) -> Dict[str, str]:
    env = {}
    for item in data.decode(errors="surrogateescape").split("\0"):
        if "=" in item:
            k, v = item.split("=", 1)
            env[k] = v
    return env


def env_added(base: Dict[str, str], seen: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in seen.items() if base.get(k) != v}


def probe_envs(base_env, workdir, valgrind, memscope, timeout, log):
    """Return (extra_for_valgrind_run, extra_for_memscope_run, notes)."""
    envbin = shutil.which("env") or "/usr/bin/env"
    notes = []
    # valgrind
    vdir = os.path.join(workdir, "envprobe-vg")
    os.makedirs(vdir, exist_ok=True)
    r = _run(valgrind + ["-q", f"--log-file={os.path.join(vdir, 'vg.%p')}", "--", envbin, "-0"],
             base_env, None, None, timeout, "valgrind env probe")
    vg_added = env_added(base_env, read_env0(r.stdout))
    # memscope (same -o path as the real run so path-valued vars match)
    ms_added: Dict[str, str] = {}
    if memscope:
        trace = os.path.join(workdir, "t.mstrace")
        clean_traces(workdir)
        try:
            r = _run([memscope, "run", "-o", trace, "--", envbin, "-0"], base_env, None, None,
                     timeout, "memscope env probe")
            if r.returncode != 0:
                notes.append(f"memscope env probe exited {r.returncode}; environment not matched")
            else:
                ms_added = env_added(base_env, read_env0(r.stdout))
        except HarnessError as e:
            notes.append(f"memscope env probe failed ({e}); environment not matched")
        clean_traces(workdir)
    # never carry a tool's preload (or loader settings) into the other run
    never = {"LD_PRELOAD", "LD_AUDIT"}
    for_vg = {k: v for k, v in ms_added.items() if k not in vg_added and k not in never}
    if memscope and ms_added:
        for_ms = {k: v for k, v in vg_added.items() if k not in ms_added and k not in never}
    else:
        for_ms = {}   # memscope not probed (or probe failed): nothing to match against
    lp_v, lp_m = vg_added.get("LD_PRELOAD", ""), ms_added.get("LD_PRELOAD", "")
    # memscope hides its own variables (LD_PRELOAD included) from the program; valgrind's client
    # sees valgrind's LD_PRELOAD. A variable of the same name and value lengths stands in for it
    # in the memscope run, so that both programs see as many variables of the same sizes.
    if memscope and "LD_PRELOAD" in vg_added and "LD_PRELOAD" not in ms_added:
        for_ms["ORACLE_PAD"] = "x" * len(lp_v)
    notes.append(f"env: valgrind adds {sorted(vg_added)}; memscope adds {sorted(ms_added)}; "
                 f"exported into valgrind run: {sorted(for_vg)}; into memscope run: {sorted(for_ms)}; "
                 f"LD_PRELOAD length valgrind={len(lp_v)} memscope={len(lp_m)}")
    return for_vg, for_ms, notes


# --------------------------------------------------------------------------
# matching processes
# --------------------------------------------------------------------------

def exe_names(exe: str, argv0: Optional[str]) -> set:
    names = set()
    for p in (exe, argv0):
        if not p:
            continue
        names.add(os.path.basename(p))
        full = p if "/" in p else (shutil.which(p) or p)
        try:
            names.add(os.path.basename(os.path.realpath(full)))
        except OSError:
            pass
    return names


# gcc passes randomly named temporary files (/tmp/ccAbC123.s) to cc1 and as;
# the name has a fixed length, so only the name differs between runs.
_RE_TMPNAME = re.compile(r"(^|/)cc[A-Za-z0-9]{6}(\.[A-Za-z0-9]+)$")


_RE_CTRL = re.compile(r"[\x00-\x1f\x7f]")


def norm_args(args: Sequence[str]) -> List[str]:
    # valgrind's Command: line shows control characters as '_'
    return [_RE_CTRL.sub("_", _RE_TMPNAME.sub(r"\1ccXXXXXX\2", x)) for x in args]


def same_command(a: Proc, b: Proc) -> bool:
    if norm_args(a.argv[1:]) != norm_args(b.argv[1:]):
        return False
    return bool(exe_names(a.exe, a.argv[0] if a.argv else None)
                & exe_names(b.exe, b.argv[0] if b.argv else None))


class CommandClasses:
    """Command-line equivalence classes shared by the two runs."""

    def __init__(self):
        self.reps: List[Proc] = []

    def key(self, p: Proc):
        for q in self.reps:
            if same_command(p, q):
                break
        else:
            self.reps.append(p)
            q = p
        return (os.path.basename(q.exe), tuple(norm_args(q.argv[1:])))


def assign_signatures(procs: List[Proc], classes: CommandClasses) -> None:
    """For the processes of ONE run: signature = (parent's signature,
    command, ordinal among same-command siblings by pid).  Roots are the
    processes whose parent is not in the run."""
    by_pid: Dict[int, Proc] = {}
    for p in procs:
        by_pid.setdefault(p.pid, p)   # first one wins if a pid repeats

    def parent_of(p: Proc) -> Optional[Proc]:
        q = by_pid.get(p.parent_pid)
        return q if q is not None and q is not p else None

    done: Dict[int, tuple] = {}

    def sig(p: Proc, depth: int = 0) -> tuple:
        if id(p) in done:
            return done[id(p)]
        par = parent_of(p) if depth < 50 else None
        psig = sig(par, depth + 1) if par else ("root",)
        k = classes.key(p)
        sibs = sorted((q for q in procs if parent_of(q) is par and classes.key(q) == k),
                      key=lambda q: (q.pid, q.path))
        s = (psig, k, sibs.index(p))
        done[id(p)] = s
        return s

    for p in procs:
        p.signature = sig(p)


def match_processes(vg: List[Proc], ms: List[Proc]):
    """Pair processes: same command line, same place in the process tree."""
    classes = CommandClasses()
    assign_signatures(vg, classes)
    assign_signatures(ms, classes)
    pairs, used = [], set()
    for v in vg:
        cand = [m for m in ms if id(m) not in used and m.signature == v.signature]
        if not cand:  # fallback: same command, same depth
            cand = [m for m in ms if id(m) not in used and same_command(m, v)
                    and sig_depth(m.signature) == sig_depth(v.signature)]
        if cand:
            used.add(id(cand[0]))
            pairs.append((v, cand[0]))
        else:
            pairs.append((v, None))
    extra = [m for m in ms if id(m) not in used]
    return pairs, extra


def sig_depth(s) -> int:
    """0 for a root process, 1 for its children, ..."""
    d = 0
    s = s[0] if s else ("root",)
    while s != ("root",):
        s = s[0]
        d += 1
    return d


# --------------------------------------------------------------------------
# leak markers
# --------------------------------------------------------------------------

_RE_MARKER = re.compile(r"/\*\s*LEAK:\s*([A-Za-z0-9_.-]+)\s*\*/")
_RE_EXPECT = re.compile(r"memscope-expect(?:-([a-z-]+))?:\s*(.+)$")


@dataclass
class Marker:
    name: str
    file: str      # basename
    line: int


def read_markers(source: str) -> Tuple[List[Marker], dict]:
    markers, expect = [], {}
    with open(source, errors="replace") as f:
        for no, text in enumerate(f, 1):
            for m in _RE_MARKER.finditer(text):
                markers.append(Marker(m.group(1), os.path.basename(source), no))
            e = _RE_EXPECT.search(text)
            if e and no < 60:
                if e.group(1) == "thread-names":
                    expect["thread_names"] = [x.strip() for x in e.group(2).split(",") if x.strip()]
                elif e.group(1) is None:
                    for kv in e.group(2).split():
                        if "=" in kv:
                            k, v = kv.split("=", 1)
                            expect[k] = int(v) if v.isdigit() else v
    return markers, expect


def norm_function(name: str) -> str:
    """'make_widget(int)' -> 'make_widget'; 'f() const' -> 'f'; C names unchanged."""
    s = re.sub(r"\+0x[0-9a-fA-F]+$", "", name.strip())   # memscope: 'xmalloc+0x1c'
    if s.endswith(" const"):
        s = s[:-6]
    if s.endswith(")"):
        depth = 0
        for i in range(len(s) - 1, -1, -1):
            if s[i] == ")":
                depth += 1
            elif s[i] == "(":
                depth -= 1
                if depth == 0:
                    if i > 0:
                        s = s[:i]
                    break
    return s.strip()


def frame_at(fr: Frame, mk: Marker) -> bool:
    return fr.file is not None and os.path.basename(fr.file) == mk.file and fr.line == mk.line


def stack_key(lk: Leak):
    return tuple((f.function, f.file, f.line, f.module if not f.file else None) for f in lk.frames)


def group_valgrind_leaks(leaks: List[Leak]) -> List[Leak]:
    """valgrind splits one allocation stack into several loss records by
    leak kind; memscope groups by stack only.  Merge by stack."""
    groups: Dict[tuple, Leak] = {}
    for lk in leaks:
        k = stack_key(lk)
        if k in groups:
            groups[k].bytes += lk.bytes
            groups[k].blocks += lk.blocks
            groups[k].kind += "+" + lk.kind
        else:
            groups[k] = Leak(lk.bytes, lk.blocks, list(lk.frames), lk.kind)
    return list(groups.values())


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

class Report:
    def __init__(self, verbose: bool = False):
        self.failed = 0
        self.passed = 0
        self.verbose = verbose

    def check(self, name: str, ok: bool, detail: str = "", diff: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {name}" + (f": {detail}" if detail else ""))
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
            if diff:
                for ln in diff.rstrip("\n").splitlines():
                    print(f"     | {ln}")
        sys.stdout.flush()
        return ok

    def note(self, text: str) -> None:
        for i, ln in enumerate(text.splitlines()):
            print(("NOTE " if i == 0 else "     ") + ln)
        sys.stdout.flush()


def _text_diff(a: bytes, b: bytes, an: str, bn: str) -> str:
    import difflib
    al = a.decode(errors="replace").splitlines(keepends=True)
    bl = b.decode(errors="replace").splitlines(keepends=True)
    d = "".join(list(difflib.unified_diff(al, bl, an, bn))[:60])
    return d or f"(bytes differ: {len(a)} vs {len(b)} bytes)"


def status_str(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name} ({rc})"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def same_status(native: int, other: int) -> Tuple[bool, str]:
    if native == other:
        return True, status_str(native)
    if native < 0 and other == 128 - native:
        return True, (f"native {status_str(native)}, tool exited {other} = 128+{-native} "
                      f"(accepted as the same status)")
    return False, f"native {status_str(native)} vs {status_str(other)}"


def fmt_leak(lk: Leak, max_frames: int = 6) -> str:
    fr = "; ".join(f.short() for f in lk.frames[:max_frames])
    return f"{lk.bytes} bytes in {lk.blocks} blocks {('[' + lk.kind + '] ') if lk.kind else ''}at {fr}"


def tolerated(v: Proc, m: Proc, block_size: Optional[int]) -> Optional[str]:
    """--tolerate-block-size S: accept a difference made only of k whole
    S-byte blocks that are allocated and still in use at exit (cc1's GC page
    table: one 32 KiB xcalloc per 16 MiB address region its GC heap touches,
    which depends on where mmap places the heap, and that differs between
    valgrind and a native run)."""
    if not block_size or None in (v.allocs, m.allocs, v.in_use_blocks, m.in_use_blocks):
        return None
    k = m.allocs - v.allocs
    if k == 0 or m.frees != v.frees:
        return None
    if (m.in_use_blocks - v.in_use_blocks == k and m.bytes_allocated - v.bytes_allocated == k * block_size
            and m.in_use_bytes - v.in_use_bytes == k * block_size):
        return f"tolerated: {k:+d} whole blocks of {block_size} bytes still in use at exit (--tolerate-block-size)"
    return None


def freeres_skipped(v: Proc, m: Proc) -> Optional[str]:
    """memscope does not run glibc's exit-time freeing while other threads still run (valgrind
    stops them first, then runs it), and says so in process.exit_freeing. Accept exactly that
    difference: the same allocations, k fewer frees, k more blocks in use at exit, and the extra
    bytes all in blocks allocated inside glibc."""
    if not str(m.extra.get("exit_freeing", "")).startswith("skipped"):
        return None
    k = (v.frees or 0) - (m.frees or 0)
    extra = (m.in_use_bytes or 0) - (v.in_use_bytes or 0)
    if (m.allocs != v.allocs or m.bytes_allocated != v.bytes_allocated or k <= 0
            or (m.in_use_blocks or 0) - (v.in_use_blocks or 0) != k or extra <= 0):
        return None
    in_libc = sum(lk.bytes for lk in m.leaks
                  if any("libc.so" in (f.module or "") for f in lk.frames))
    if in_libc < extra:
        return None
    return (f"accepted: exit-time freeing skipped (threads still running at exit): {k} glibc "
            f"block(s), {extra} bytes, still in use in memscope and freed by valgrind's freeres")


# Why a process may lack leak kinds (memscope's summary.leak_kinds_missing) without a failure:
# memscope scans only the root process when it exits (other threads stopped for the snapshot),
# unsampled.
_KINDS_EXCUSED = re.compile(r"did not end by returning|does not say how the process ended|is sampled|was forked")


def compare_leak_kinds(rep: Report, v: Proc, m: Proc, tag: str, is_root: bool, tol) -> bool:
    """The LEAK SUMMARY's four lines against summary.leak_kinds, exactly. Returns whether both
    tools gave kinds that agree (then the markers are compared kind by kind)."""
    vk, mk = v.extra.get("leak_kinds"), m.extra.get("leak_kinds")
    if vk is None:
        return False  # valgrind printed no leak summary (exec'd away, killed)
    vk = {k: vk.get(k, (0, 0)) for k in LEAK_KINDS}
    if mk is None:
        why = m.extra.get("leak_kinds_missing", "")
        excused = not is_root or bool(_KINDS_EXCUSED.search(why))
        if excused:
            rep.note(f"{tag} no leak kinds from memscope: {why}")
        else:
            rep.check(f"{tag} leak kinds", False, f"memscope has none: {why}")
        return False
    if tol is not None and tol.startswith("accepted: exit-time freeing skipped"):
        # the blocks valgrind's freeres freed are glibc's own, reachable from its globals
        dbytes = (m.in_use_bytes or 0) - (v.in_use_bytes or 0)
        dblocks = (m.in_use_blocks or 0) - (v.in_use_blocks or 0)
        r = vk["still_reachable"]
        vk["still_reachable"] = (r[0] + dbytes, r[1] + dblocks)
        rep.note(f"{tag} valgrind's still reachable taken with the {dblocks} block(s), "
                 f"{dbytes} bytes its freeres freed")
    elif tol is not None and (v.in_use_bytes, v.in_use_blocks) != (m.in_use_bytes, m.in_use_blocks):
        rep.note(f"{tag} leak kinds not compared: {tol}")
        return False
    ok = True
    for k in LEAK_KINDS:
        ok &= rep.check(f"{tag} {k.replace('_', ' ')}", vk[k] == mk[k],
                        f"valgrind={vk[k][0]} bytes in {vk[k][1]} blocks, memscope={mk[k][0]} bytes in {mk[k][1]} blocks")
    # valgrind lists the heuristics only when one reached a block
    vh = v.extra.get("heuristics", {})
    mh = {h: b for h, b in m.extra.get("heuristics", {}).items() if b != (0, 0)}
    if vh or mh:
        ok &= rep.check(f"{tag} still reachable via heuristic", vh == mh,
                        f"valgrind {sorted(vh.items())}, memscope {sorted(mh.items())}")
    return ok


def compare_pair(rep: Report, v: Proc, m: Proc, markers: List[Marker], expect: dict, tag: str,
                 is_root: bool = True, tolerate_block: Optional[int] = None):
    tol = tolerated(v, m, tolerate_block) or freeres_skipped(v, m)
    if tol:
        rep.note(f"{tag} {tol}")
    fields = [("allocs", v.allocs, m.allocs),
              ("frees", v.frees, m.frees),
              ("bytes_allocated", v.bytes_allocated, m.bytes_allocated),
              ("leaked_bytes == in use at exit bytes", v.in_use_bytes, m.in_use_bytes),
              ("leaked_blocks == in use at exit blocks", v.in_use_blocks, m.in_use_blocks)]
    for name, a, b in fields:
        rep.check(f"{tag} {name}",
                  a == b or (tol is not None and (name != "frees" or tol.startswith("accepted"))),
                  f"valgrind={a} memscope={b}" +
                  (f" (diff {b - a:+d})" if isinstance(a, int) and isinstance(b, int) and a != b else "") +
                  (f" [{tol}]" if tol and a != b else ""))
    sb, sk = sum(l.bytes for l in m.leaks), sum(l.blocks for l in m.leaks)
    rep.check(f"{tag} memscope leaks[] add up to summary", (sb, sk) == (m.in_use_bytes, m.in_use_blocks),
              f"sum of leaks = {sb} bytes/{sk} blocks, summary = {m.in_use_bytes}/{m.in_use_blocks}")

    kinds_ok = compare_leak_kinds(rep, v, m, tag, is_root, tol)
    vg_groups = group_valgrind_leaks(v.leaks)
    ms_groups = group_valgrind_leaks([lk for lk in m.leaks if lk.kind != "suppressed"])
    if (v.in_use_bytes, v.in_use_blocks) != (m.in_use_bytes, m.in_use_blocks):
        d = leak_histogram_diff(vg_groups, ms_groups)
        if d:
            rep.note(f"{tag} in-use blocks by first non-allocator function, where they differ:\n" + d)
    for mk in markers:
        if kinds_ok:
            # each kind's bytes and blocks at the marker's line, as valgrind's loss records say
            per = {}
            for src, leaks in (("valgrind", v.leaks), ("memscope", m.leaks)):
                d = per.setdefault(src, {})
                for lk in leaks:
                    if lk.kind == "suppressed":
                        continue  # valgrind lists no suppressed loss record
                    if any(frame_at(f, mk) for f in lk.frames):
                        b = d.setdefault(lk.kind, [0, 0])
                        b[0] += lk.bytes
                        b[1] += lk.blocks
            if per["valgrind"] or per["memscope"]:
                rep.check(f"{tag} leak kinds at marker {mk.name} ({mk.file}:{mk.line})",
                          per["valgrind"] == per["memscope"],
                          f"valgrind {sorted(per['valgrind'].items())}, memscope {sorted(per['memscope'].items())}")
        vg_at = [g for g in vg_groups if any(frame_at(f, mk) for f in g.frames)]
        ms_at = [l for l in ms_groups if any(frame_at(f, mk) for f in l.frames)]
        cname = f"{tag} leak marker {mk.name} ({mk.file}:{mk.line})"
        if not vg_at and not ms_at:
            continue  # this process does not leak at this marker (e.g. the other fork side)
        want = sorted((g.bytes, g.blocks) for g in vg_at)
        got = sorted((l.bytes, l.blocks) for l in ms_at)
        funcs_v = sorted({norm_function(f.function) for g in vg_at for f in g.frames if frame_at(f, mk)})
        funcs_m = sorted({norm_function(f.function) for l in ms_at for f in l.frames if frame_at(f, mk)})
        ok = want == got and funcs_v == funcs_m
        diff = ""
        if not ok:
            diff = ("valgrind (grouped by stack):\n" + "".join(f"  {fmt_leak(g)}\n" for g in vg_at) +
                    "memscope:\n" + ("".join(f"  {fmt_leak(l)}\n" for l in ms_at) or "  (no leak with a frame at this line)\n"))
            if not ms_at and m.leaks:
                diff += "memscope leaks in this process (first 8):\n" + \
                    "".join(f"  {fmt_leak(l)}\n" for l in sorted(m.leaks, key=lambda x: -x.bytes)[:8])
        rep.check(cname, ok, f"valgrind {want} in {funcs_v}, memscope {got} in {funcs_m}", diff)

    if "threads" in expect and is_root:
        t = m.extra.get("threads")
        rep.check(f"{tag} summary.threads", t == expect["threads"], f"expected {expect['threads']}, memscope {t}")
    if "thread_names" in expect and is_root:
        entries = m.extra.get("thread_entries") or []
        names = {str(e.get("name")) for e in entries if isinstance(e, dict)}
        missing = [n for n in expect["thread_names"] if n not in names]
        rep.check(f"{tag} thread names", not missing,
                  f"missing {missing}; memscope thread names {sorted(names)}" if missing else
                  f"all of {expect['thread_names']} present")


_ALLOCATORS = re.compile(r"^(malloc|calloc|realloc|free|memalign|posix_memalign|aligned_alloc|valloc|"
                         r"pvalloc|reallocarray|strn?dup|operator new(\[\])?|operator delete(\[\])?|"
                         r"__libc_\w+|_Zn[wa]\w*)$")


def _first_user_function(lk: Leak) -> str:
    for f in lk.frames:
        fn = re.sub(r"^__GI_+", "", norm_function(f.function))
        mod = os.path.basename(f.module) if f.module else ""
        if fn in ("???", "", mod) or _ALLOCATORS.match(fn):
            continue   # allocator, or a frame the tool could not name
        return fn
    return "?"


def leak_histogram_diff(vg_groups: List[Leak], ms_leaks: List[Leak], limit: int = 12) -> str:
    """Lines describing where the leaked bytes/blocks differ, aggregated by
    the first non-allocator function of each leak stack (the two tools may
    split one call path into a different number of stack groups)."""
    def agg(leaks):
        d: Dict[str, List[int]] = {}
        for lk in leaks:
            e = d.setdefault(_first_user_function(lk), [0, 0])
            e[0] += lk.bytes
            e[1] += lk.blocks
        return d
    av, am = agg(vg_groups), agg(ms_leaks)
    rows = [(k, av.get(k, [0, 0]), am.get(k, [0, 0])) for k in set(av) | set(am)
            if av.get(k, [0, 0]) != am.get(k, [0, 0])]
    rows.sort(key=lambda r: -abs(r[1][0] - r[2][0]))
    out = [f"  {k}: valgrind {a[0]} bytes/{a[1]} blocks, memscope {b[0]} bytes/{b[1]} blocks"
           for k, a, b in rows[:limit]]
    if len(rows) > limit:
        out.append(f"  ... {len(rows) - limit} more")
    return "\n".join(out)


def valgrind_sanity(rep: Report, vg: List[Proc], markers: List[Marker]):
    for v in vg:
        if v.extra.get("incomplete"):
            rep.note(f"valgrind log {v.path} ({cmd_str(v.argv)}) has no HEAP SUMMARY (process exec'd or was killed)")
    for mk in markers:
        hit = any(frame_at(f, mk) for v in vg for lk in v.leaks for f in lk.frames)
        if not hit and REPORT_ARGS:
            rep.note(f"valgrind reports no leak at marker {mk.name}: suppressed (--suppress)")
            continue
        rep.check(f"valgrind reports a leak at marker {mk.name} ({mk.file}:{mk.line})", hit,
                  "" if hit else "the test program or the marker is wrong")


def print_valgrind(vg: List[Proc]):
    for v in vg:
        print(f"VG   pid={v.pid} ppid={v.parent_pid} cmd=[{cmd_str(v.argv)}] allocs={v.allocs} "
              f"frees={v.frees} bytes={v.bytes_allocated} in_use={v.in_use_bytes}/{v.in_use_blocks} "
              f"records={len(v.leaks)}" + (f" signal={v.extra['signal']}" if "signal" in v.extra else ""))


def print_memscope(ms: List[Proc]):
    for m in ms:
        print(f"MS   pid={m.pid} ppid={m.parent_pid} exe={m.exe} argv=[{cmd_str(m.argv)}] allocs={m.allocs} "
              f"frees={m.frees} bytes={m.bytes_allocated} leaked={m.in_use_bytes}/{m.in_use_blocks} "
              f"leak-groups={len(m.leaks)} trace={m.path}")


# --------------------------------------------------------------------------
# presets for real programs
# --------------------------------------------------------------------------

PY_SCRIPT = ("d = {}\n"
             "for i in range(2000):\n"
             "    d['key%d' % i] = [i, str(i) * 3, (i, i + 1)]\n"
             "lst = sorted(d, key=lambda k: len(d[k][1]))\n"
             "s = ','.join(lst[:500]) + '|' + '-'.join(str(len(v[1])) for v in d.values())\n"
             "print(len(d), len(lst), len(s), s[:40])\n")


PERL_SCRIPT = ('my %h; for my $i (1..2000) { $h{"k$i"} = [$i, "x" x ($i % 50)]; } '
               'my @k = sort keys %h; print scalar(@k), " ", length(join(",", @k)), "\\n";')
BASH_SCRIPT = ('declare -A m; for i in {1..300}; do m[k$i]=$((i*i)); a[$i]="v$i"; done; '
               's=""; for k in "${!m[@]}"; do s+="$k"; done; echo ${#m[@]} ${#a[@]} ${#s}')


def real_preset(name: str, programs: Optional[str], workdir: str):
    """Return (cmd, stdin_path, extra_env, cwd)."""
    if name == "python":
        py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")
        # the real interpreter, not a pyenv shim (a shell script that would
        # add bash/pyenv processes to the comparison).
        py = os.path.realpath(py)
        # not -I / -E: those make python ignore PYTHONHASHSEED, and a random
        # hash seed changes dict/set layouts and so the allocation counts.
        return [py, "-c", PY_SCRIPT], None, {"PYTHONHASHSEED": "0"}, None
    if name == "sqlite":
        sql = os.path.join(HERE, "data", "script.sql")
        return [shutil.which("sqlite3") or "/usr/bin/sqlite3", ":memory:"], sql, {}, None
    if name == "gcc":
        src = os.path.join(DEFAULT_SOURCES, "leaks.c")
        out = os.path.join(workdir, "gcc-out.o")
        # -pipe would make gcc keep cc1 and as alive together; without it gcc
        # runs cc1 then as one after the other, each exec'd from a fork.
        return [shutil.which("gcc") or "/usr/bin/gcc", "-c", "-O0", "-g", src, "-o", out], None, {}, None
    if name == "perl":
        return [shutil.which("perl") or "/usr/bin/perl", "-e", PERL_SCRIPT], None, {"PERL_HASH_SEED": "0"}, None
    if name == "bash":
        return [shutil.which("bash") or "/bin/bash", "--norc", "--noprofile", "-c", BASH_SCRIPT], None, {}, None
    if name == "git":
        # a repository of its own, made here, so that the run does not depend on the checkout
        repo = os.path.join(workdir, "repo")
        if not os.path.isdir(repo):
            genv = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
            subprocess.run(["git", "init", "-q", repo], check=True, env=genv)
            for i in range(3):
                with open(os.path.join(repo, f"f{i}.txt"), "w") as f:
                    f.write("line\n" * (i + 1))
                subprocess.run(["git", "-C", repo, "add", "."], check=True, env=genv)
                subprocess.run(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t",
                                "commit", "-q", "-m", f"c{i}"], check=True, env=genv)
        return ([shutil.which("git") or "/usr/bin/git", "--no-pager", "-C", repo, "log", "--stat"], None,
                {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_PAGER": "cat"}, None)
    raise HarnessError(f"unknown --real preset {name!r} (python, sqlite, gcc, perl, bash, git)")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def find_source(name: str, sources: str) -> Optional[str]:
    for ext in (".c", ".cpp", ".cc"):
        p = os.path.join(sources, name + ext)
        if os.path.exists(p):
            return p
    return None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memscope", help="path to the memscope CLI (build/bin/memscope)")
    ap.add_argument("--programs", help="directory holding the built test programs")
    ap.add_argument("--program", help="test program name (binary in --programs, source in --sources)")
    ap.add_argument("--sources", default=DEFAULT_SOURCES, help="test program sources (default: %(default)s)")
    ap.add_argument("--source", help="source file with LEAK markers for a custom command")
    ap.add_argument("--real", choices=["python", "sqlite", "gcc", "perl", "bash", "git"],
                    help="a real-program preset")
    ap.add_argument("--arg", action="append", default=[], help="extra argument for --program (repeatable)")
    ap.add_argument("--stdin", help="file to feed on standard input")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="variable for all runs (repeatable)")
    ap.add_argument("--no-match-env", action="store_true", help="do not equalise the environments (see docs)")
    ap.add_argument("--valgrind", help="valgrind launcher (default: /usr/bin/valgrind.bin or valgrind)")
    ap.add_argument("--valgrind-arg", action="append", default=[], metavar="ARG",
                    help="extra valgrind option, e.g. --soname-synonyms=somalloc=libjemalloc.so* (repeatable)")
    ap.add_argument("--valgrind-only", action="store_true", help="only run natively and under valgrind, print parsed logs")
    ap.add_argument("--unwind", help="pass --unwind=MODE to memscope run")
    ap.add_argument("--check", action="store_true",
                    help="run memscope run --check (docs/check.md): the same figures, and no "
                         "error where valgrind reports none")
    ap.add_argument("--no-aslr", action="store_true",
                    help="run every run under `setarch ARCH -R` (default for --real)")
    ap.add_argument("--aslr", action="store_true", help="keep ASLR on even for --real")
    ap.add_argument("--tolerate-block-size", type=int, metavar="BYTES",
                    help="accept differences made only of whole blocks of BYTES still in use at exit "
                         "(in the processes named by --tolerate-in; the gcc preset sets 32768 for cc1)")
    ap.add_argument("--tolerate-in", action="append", default=[], metavar="EXE",
                    help="executable basename the tolerance applies to (repeatable)")
    ap.add_argument("--num-callers", type=int, default=40)
    ap.add_argument("--suppress", action="append", default=[], metavar="FUNCTION",
                    help="suppress the leaks whose stack holds FUNCTION: leak:^FUNCTION$ for memscope "
                         "report, a Memcheck:Leak suppression for valgrind (repeatable)")
    ap.add_argument("--timeout", type=float, default=300.0, help="per run (seconds)")
    ap.add_argument("--workdir", help="keep logs and traces here (default: a temp dir, removed on success)")
    ap.add_argument("--json", action="store_true", help="also print the parsed processes as JSON")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS... (custom command)")
    a = ap.parse_args(argv)

    cmd = list(a.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    user_workdir = a.workdir
    workdir = os.path.abspath(user_workdir) if user_workdir else tempfile.mkdtemp(prefix="memscope-oracle-")
    os.makedirs(workdir, exist_ok=True)

    extra_env: Dict[str, str] = {}
    for kv in a.env:
        if "=" not in kv:
            print(f"ERROR --env wants NAME=VALUE, got {kv!r}")
            return EXIT_HARNESS
        k, v = kv.split("=", 1)
        extra_env[k] = v
    stdin_path, cwd, source = a.stdin, None, a.source
    if a.real:
        cmd, sp, penv, cwd = real_preset(a.real, a.programs, workdir)
        stdin_path = stdin_path or sp
        extra_env = {**penv, **extra_env}
        if a.real == "gcc" and a.tolerate_block_size is None:
            # cc1's GC page table (see tolerated()) is address-layout dependent
            a.tolerate_block_size, a.tolerate_in = 32768, a.tolerate_in or ["cc1"]
    elif a.program:
        if not a.programs:
            print("ERROR --program needs --programs DIR")
            return EXIT_HARNESS
        binp = os.path.abspath(os.path.join(a.programs, a.program))
        if not os.access(binp, os.X_OK):
            print(f"ERROR test program {binp} does not exist or is not executable")
            return EXIT_HARNESS
        cmd = [binp] + a.arg
        source = source or find_source(a.program, a.sources)
    if not cmd:
        ap.error("give --program NAME, --real NAME or -- CMD ARGS...")
    if (a.no_aslr or a.real) and not a.aslr:
        # real programs may size tables by pointer hashes; the test programs
        # must not depend on addresses, so they run with ASLR on by default.
        setarch = shutil.which("setarch")
        if setarch:
            NO_ASLR_PREFIX[:] = [setarch, os.uname().machine, "-R"]
            print("ASLR: off (setarch -R) for all runs")
        else:
            print("NOTE setarch not found; ASLR stays on")
    if not a.valgrind_only and not a.memscope:
        ap.error("--memscope PATH is required (or --valgrind-only)")
    memscope = os.path.abspath(a.memscope) if a.memscope else None
    if memscope and not os.access(memscope, os.X_OK):
        print(f"ERROR memscope binary {memscope} does not exist or is not executable")
        return EXIT_HARNESS

    rep = Report()
    print(f"command: {cmd_str(cmd, 300)}" + (f" < {stdin_path}" if stdin_path else ""))
    print(f"workdir: {workdir}")
    markers, expect = read_markers(source) if source else ([], {})
    if source:
        print(f"source: {source} ({len(markers)} LEAK markers)")

    keep = True
    try:
        valgrind = ([a.valgrind] if a.valgrind else find_valgrind()) + a.valgrind_arg
        if a.suppress:
            lsan, vgs = os.path.join(workdir, "lsan.supp"), os.path.join(workdir, "valgrind.supp")
            with open(lsan, "w") as f:
                f.write("".join(f"leak:^{fn}$\n" for fn in a.suppress))
            with open(vgs, "w") as f:
                # valgrind matches mangled names: *NAME* finds a C++ function's too
                f.write("".join(f"{{\n s{i}\n Memcheck:Leak\n ...\n fun:*{fn}*\n}}\n"
                                for i, fn in enumerate(a.suppress)))
            valgrind.append(f"--suppressions={vgs}")
            REPORT_ARGS.extend(["--suppressions", lsan])
        base_env = dict(os.environ)
        base_env.update(extra_env)
        vg_env, ms_env = dict(base_env), dict(base_env)
        if not a.no_match_env:
            for_vg, for_ms, notes = probe_envs(base_env, workdir, valgrind,
                                               None if a.valgrind_only else memscope, a.timeout, rep)
            vg_env.update(for_vg)
            ms_env.update(for_ms)
            for n in notes:
                rep.note(n)

        nat = run_native(cmd, base_env, stdin_path, cwd, a.timeout)
        print(f"native: {status_str(nat.returncode)}, {len(nat.stdout)} bytes of stdout")
        vgr = run_valgrind(cmd, vg_env, stdin_path, cwd, a.timeout, workdir, valgrind, a.num_callers)
        print_valgrind(vgr.procs)
        ok, d = same_status(nat.returncode, vgr.returncode)
        rep.check("valgrind run: same exit status as native", ok, d)
        rep.check("valgrind run: same stdout as native", nat.stdout == vgr.stdout,
                  f"{len(nat.stdout)} bytes", "" if nat.stdout == vgr.stdout else
                  _text_diff(nat.stdout, vgr.stdout, "native", "valgrind"))
        valgrind_sanity(rep, vgr.procs, markers)
        if a.json:
            print(json.dumps([p.__dict__ for p in vgr.procs], default=lambda o: o.__dict__, indent=1))
        if a.valgrind_only:
            keep = rep.failed > 0 or bool(user_workdir)
            print(f"summary (valgrind only): {rep.passed} passed, {rep.failed} failed")
            return EXIT_MISMATCH if rep.failed else EXIT_OK

        msr = run_memscope(cmd, ms_env, stdin_path, cwd, a.timeout, workdir, memscope, a.unwind,
                           a.timeout, a.check)
        print_memscope(msr.procs)
        if msr.procs and msr.procs[0].extra.get("unnamed_traces"):
            rep.note(f"trace files on disk not named on stderr: {msr.procs[0].extra['unnamed_traces']}")
        ok, d = same_status(nat.returncode, msr.returncode)
        rep.check("memscope run: same exit status as native", ok, d)
        rep.check("memscope run: same stdout as native", nat.stdout == msr.stdout,
                  f"{len(nat.stdout)} bytes", "" if nat.stdout == msr.stdout else
                  _text_diff(nat.stdout, msr.stdout, "native", "memscope"))
        if a.json:
            print(json.dumps([p.__dict__ for p in msr.procs], default=lambda o: o.__dict__, indent=1))

        vg_procs = [v for v in vgr.procs if not v.extra.get("incomplete")]
        # An image replaced by exec (a fork child before it exec's cc1, ...)
        # never exits: valgrind prints no summary for it (the exec'd
        # valgrind even reuses its vg.<pid> log), memscope writes a trace
        # with "ended_by": "exec".  Such traces have nothing to compare.
        for m in [m for m in msr.procs if m.extra.get("ended_by") == "exec"]:
            rep.note(f"not compared (image replaced by exec; valgrind has no summary for it): "
                     f"{m.label()} allocs={m.allocs} frees={m.frees} {m.path}")
        msr.procs = [m for m in msr.procs if m.extra.get("ended_by") != "exec"]
        nontrivial = [m for m in msr.procs if (m.allocs or 0) or (m.frees or 0)]
        rep.check("process count", len(vg_procs) == len(nontrivial),
                  f"valgrind {len(vg_procs)} (with summary), memscope {len(nontrivial)} traces with allocations"
                  + (f" (+{len(msr.procs) - len(nontrivial)} empty)" if len(nontrivial) != len(msr.procs) else ""))
        pairs, extra = match_processes(vg_procs, msr.procs)
        for n, (v, m) in enumerate(pairs):
            role = "root" if sig_depth(v.signature) == 0 else f"depth {sig_depth(v.signature)}"
            tag = f"[{os.path.basename(v.exe)} {cmd_str(v.argv[1:], 40)} ({role})#{v.signature[2]}]"
            if m is None:
                rep.check(f"{tag} matched in memscope run", False,
                          f"no memscope trace for valgrind process {v.label()}",
                          "memscope traces:\n" + "".join(f"  {x.label()} ppid {x.parent_pid}\n" for x in msr.procs))
                continue
            print(f"---- pair: {v.label()}  <->  {m.label()}")
            compare_pair(rep, v, m, markers, expect, tag, is_root=sig_depth(v.signature) == 0,
                         tolerate_block=a.tolerate_block_size if os.path.basename(v.exe) in a.tolerate_in else None)
            if a.check and v.extra.get("errors") == 0:
                rep.check(f"{tag} --check: no error, as valgrind", m.extra.get("errors") == 0,
                          f"valgrind 0, memscope {m.extra.get('errors')}")
        for m in extra:
            trivial = (m.allocs or 0) == 0 and (m.frees or 0) == 0
            if trivial:
                rep.note(f"memscope trace with no valgrind counterpart and no allocations "
                         f"(e.g. a fork child that exec'd): {m.label()} {m.path}")
            else:
                rep.check("memscope trace matched in valgrind run", False,
                          f"extra memscope process {m.label()} ppid {m.parent_pid} allocs={m.allocs}",
                          "valgrind processes:\n" + "".join(f"  {x.label()} ppid {x.parent_pid}\n" for x in vg_procs))
        keep = rep.failed > 0 or bool(user_workdir)
    except HarnessError as e:
        print(f"ERROR {e}")
        print(f"(logs and traces kept in {workdir})")
        return EXIT_HARNESS
    finally:
        if not keep and not user_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"summary: {rep.passed} passed, {rep.failed} failed" +
          (f" (logs and traces kept in {workdir})" if rep.failed else ""))
    return EXIT_MISMATCH if rep.failed else EXIT_OK


def main_real_bash_rerun() -> int:
    """bash keeps its own pid and its parent's as strings ($$, $PPID, BASHPID...), so its heap
    depends on how many digits they have: `memscope run` of the bash preset under `unshare -p`
    (pid 3, parent 1) allocated 929,486 bytes, without it (pid 30550) 929,529. valgrind's bash and
    memscope run's have different pids and parents: when their lengths differ the two runs differ
    by a few bytes (a 2-byte mismatch failed a CI run). A mismatch of the bash presets is run
    once more, with new pids; a real one fails twice."""
    rc = main()
    argv = sys.argv[1:]
    if rc == EXIT_MISMATCH and "--real" in argv and argv[argv.index("--real") + 1:][:1] == ["bash"]:
        print("NOTE bash's $PPID length depends on its parent's pid: running the comparison again")
        NO_ASLR_PREFIX[:] = []
        REPORT_ARGS[:] = []
        rc = main()
    return rc


if __name__ == "__main__":
    sys.exit(main_real_bash_rerun())
