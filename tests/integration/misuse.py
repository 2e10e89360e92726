#!/usr/bin/env python3
"""Allocator misuse (docs/misuse.md) and --check (docs/check.md) against valgrind,
on tests/programs/misuse.cpp.

For each misuse mode the program runs natively, under valgrind (memcheck) and
under `memscope run` (default, with --free-stacks, and with --check); each
memory-error mode (writes past a block, writes after free) under valgrind and
`memscope run --check` only, since plain tracking cannot see them. Checks:
  * the program's stdout and exit status under memscope equal the native run's
    (glibc aborts some modes: memscope must not change how it dies);
  * memscope's errors[] have valgrind's errors, in order: "Invalid free() /
    delete / delete[] / realloc()" is double_free, invalid_free or
    realloc_freed (told apart by valgrind's "Address ... is N bytes inside a
    block of size M free'd / alloc'd" line), "Mismatched free() / delete /
    delete []" is mismatched_free;
  * the block's size and offset equal valgrind's;
  * the first two program frames (function, line) of the bad call, of the
    earlier free and of the allocation equal valgrind's, wherever memscope recorded
    the stack; with --free-stacks and --check every one of them must be
    recorded (for overflows and writes after free, valgrind's first stack is
    the write itself, which --check does not see: only the allocation's and
    the free's are compared);
  * under --check the program's stdout and exit status equal valgrind's run
    (bad frees are refused, so the program goes on as under valgrind), bad
    frees say "refused", and each memory error says when it was found.
usage: misuse.py --memscope BIN --program PATH
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

MODES = ["double_free", "double_free_loop", "double_delete", "invalid_stack", "interior", "mismatches",
         "realloc_freed"]
# Memory errors only --check finds, and when it finds them.
CHECK_MODES = {"overflow": ["free"], "underflow": ["free"], "overflow_live": ["exit"],
               "array_overflow": ["free"], "use_after_free": ["exit"],
               "use_after_free_evicted": ["quarantine"],
               # a thread's last freed blocks enter the quarantine as it exits; those of a
               # thread still running at exit are checked there
               "use_after_free_thread": ["quarantine"], "use_after_free_thread_live": ["exit"]}


def vg_frames(lines):
    """(function, line) of the program frames in valgrind's stack lines."""
    out = []
    for l in lines:
        m = re.search(r"(?:at|by) 0x[0-9A-F]+: (\S+?)(?:\(.*\))? \((\S+?):(\d+)\)", l)
        if m and m.group(2).endswith(".cpp"):
            out.append((m.group(1), int(m.group(3))))
    return out


def valgrind_errors(prog, mode, work):
    """valgrind's errors, and its run (stdout, exit status)."""
    log = os.path.join(work, "vg.%s" % mode)
    r = subprocess.run(["valgrind", "-q", "--num-callers=12", "--log-file=" + log, prog, mode],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    text = [re.sub(r"^==\d+== ?", "", l) for l in open(log).read().splitlines()]
    errs, cur, part = [], None, None
    for l in text:
        if (l.startswith("Invalid free()") or l.startswith("Mismatched free()") or
                l.startswith("Invalid write of size")):
            cur = {"head": l, "call": [], "free": [], "alloc": [], "where": None}
            errs.append(cur)
            part = "call"
        elif cur is None:
            continue
        elif l.strip().startswith("Address "):
            cur["where"] = l.strip()
            part = "free" if "free'd" in l else "alloc"
        elif l.strip().startswith("Block was alloc'd"):
            part = "alloc"
        elif not l.strip():
            cur, part = None, None
        else:
            cur[part].append(l)
    for e in errs:
        m = re.search(r"is (\d+) bytes inside a block of size (\d+) (free'd|alloc'd)",
                      e["where"] or "")
        w = re.search(r"is (\d+) bytes (after|before) a block of size (\d+) alloc'd",
                      e["where"] or "")
        if e["head"].startswith("Invalid write"):
            if w:
                k, size = int(w.group(1)), int(w.group(3))
                e["kind"], e["size"] = "overflow", size
                e["offset"] = size + k if w.group(2) == "after" else -k
            else:
                e["kind"] = "use_after_free" if m and m.group(3) == "free'd" else "invalid_write"
                e["offset"], e["size"] = (int(m.group(1)), int(m.group(2))) if m else (None, None)
            e["call"] = []  # the write itself: --check sees only its damage
            for k in ("free", "alloc"):
                e[k] = vg_frames(e[k])
            continue
        if e["head"].startswith("Mismatched"):
            e["kind"] = "mismatched_free"
        elif m and m.group(3) == "free'd" and m.group(1) == "0":
            e["kind"] = "realloc_freed" if "realloc" in e["call"][0] else "double_free"
        else:
            e["kind"] = "invalid_free"
        e["offset"], e["size"] = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        for k in ("call", "free", "alloc"):
            e[k] = vg_frames(e[k])
    return errs, r


def first_frames(stack, n=2):
    """The first n program frames (function, line) of a memscope stack, or None."""
    out = [(f["function"].split("(")[0], f["line"]) for f in stack or []
           if f.get("file") and f["file"].endswith(".cpp")]
    return tuple(out[:n]) or None


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--program", required=True)
    a = ap.parse_args()
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("PASS " if ok else "FAIL ") + what)
        failures += 0 if ok else 1

    with tempfile.TemporaryDirectory() as work:
        for mode in MODES + list(CHECK_MODES):
            native = run([a.program, mode])
            vg, vg_run = valgrind_errors(a.program, mode, work)
            check(len(vg) > 0, "%s: valgrind reports an error" % mode)
            runs = [["--check"]] if mode in CHECK_MODES else [[], ["--free-stacks"], ["--check"]]
            for extra in runs:
                tag = "%s%s" % (mode, " " + extra[0] if extra else "")
                trace = os.path.join(work, "t.%s%s" % (mode, extra[0] if extra else ""))
                r = run([a.memscope, "run", "-o", trace] + extra + ["--", a.program, mode])
                if extra == ["--check"]:
                    check(r.stdout == vg_run.stdout and r.returncode == vg_run.returncode,
                          "%s: stdout and exit status as under valgrind (%d, %d)" %
                          (tag, vg_run.returncode, r.returncode))
                else:
                    check(r.stdout == native.stdout and r.returncode == native.returncode,
                          "%s: stdout and exit status as natively (%d, %d)" %
                          (tag, native.returncode, r.returncode))
                rep = run([a.memscope, "report", trace, "--format", "json"])
                if rep.returncode != 0:
                    check(False, "%s: report: %s" % (tag, rep.stderr.decode()))
                    continue
                j = json.loads(rep.stdout)
                ms = j["errors"]
                check([e["kind"] for e in ms] == [e["kind"] for e in vg],
                      "%s: kinds %s (valgrind %s)" % (tag, [e["kind"] for e in ms],
                                                     [e["kind"] for e in vg]))
                check(j["summary"]["errors"]["total"] == len(vg),
                      "%s: summary.errors.total %d" % (tag, j["summary"]["errors"]["total"]))
                if mode in CHECK_MODES:
                    check([e["found"] for e in ms] == CHECK_MODES[mode],
                          "%s: found %s (expected %s)" % (tag, [e["found"] for e in ms],
                                                          CHECK_MODES[mode]))
                elif extra == ["--check"]:
                    bad = ("double_free", "invalid_free", "realloc_freed")
                    check(all(e["refused"] == (e["kind"] in bad) for e in ms),
                          "%s: bad frees refused %s" % (tag, [e["refused"] for e in ms]))
                for e, v in zip(ms, vg):
                    if v["size"] is not None:
                        check(e["size"] == v["size"] and e["offset"] == v["offset"],
                              "%s: %s block size %s offset %s (valgrind %s %s)" %
                              (tag, e["kind"], e["size"], e["offset"], v["size"], v["offset"]))
                    pairs = [("stack", "call"), ("alloc_stack", "alloc")]
                    if v["free"]:
                        pairs.append(("free_stack", "free"))
                    if not v["call"]:
                        pairs = pairs[1:]  # a write: valgrind's stack is the write's
                    for mk, vk in pairs:
                        got = first_frames(e.get(mk))
                        want = tuple(v[vk][:2]) if v[vk] else None
                        if got is None and not extra and mk != "alloc_stack":
                            print("NOTE %s: %s %s not recorded (default run)" % (tag, e["kind"], mk))
                            continue
                        check(got == want, "%s: %s %s at %s (valgrind %s)" %
                              (tag, e["kind"], mk, got, want))
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
