#!/usr/bin/env python3
"""Allocator misuse (docs/misuse.md) against valgrind, on tests/programs/misuse.cpp.

For each mode the program runs natively, under valgrind (memcheck) and under
`memscope run` (default, and with --free-stacks). Checks:
  * the program's stdout and exit status under memscope equal the native run's
    (glibc aborts some modes: memscope must not change how it dies);
  * memscope's errors[] have valgrind's errors, in order: "Invalid free() /
    delete / delete[] / realloc()" is double_free, invalid_free or
    realloc_freed (told apart by valgrind's "Address ... is N bytes inside a
    block of size M free'd / alloc'd" line), "Mismatched free() / delete /
    delete []" is mismatched_free;
  * the block's size and offset equal valgrind's;
  * the first program frame (function, line) of the bad call, of the earlier
    free and of the allocation equal valgrind's, wherever memscope recorded
    the stack; with --free-stacks every one of them must be recorded.
usage: misuse.py --memscope BIN --program PATH
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

MODES = ["double_free", "double_delete", "invalid_stack", "interior", "mismatches",
         "realloc_freed"]


def vg_frames(lines):
    """(function, line) of the program frames in valgrind's stack lines."""
    out = []
    for l in lines:
        m = re.search(r"(?:at|by) 0x[0-9A-F]+: (\S+?)(?:\(.*\))? \((\S+?):(\d+)\)", l)
        if m and m.group(2).endswith(".cpp"):
            out.append((m.group(1), int(m.group(3))))
    return out


def valgrind_errors(prog, mode, work):
    log = os.path.join(work, "vg.%s" % mode)
    subprocess.run(["valgrind", "-q", "--num-callers=12", "--log-file=" + log, prog, mode],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    text = [re.sub(r"^==\d+== ?", "", l) for l in open(log).read().splitlines()]
    errs, cur, part = [], None, None
    for l in text:
        if l.startswith("Invalid free()") or l.startswith("Mismatched free()"):
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
        if e["head"].startswith("Mismatched"):
            e["kind"] = "mismatched_free"
        elif m and m.group(3) == "free'd" and m.group(1) == "0":
            e["kind"] = "realloc_freed" if "realloc" in e["call"][0] else "double_free"
        else:
            e["kind"] = "invalid_free"
        e["offset"], e["size"] = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        for k in ("call", "free", "alloc"):
            e[k] = vg_frames(e[k])
    return errs


def first_frame(stack):
    for f in stack or []:
        if f.get("file") and f["file"].endswith(".cpp"):
            return (f["function"].split("(")[0], f["line"])
    return None


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
        for mode in MODES:
            native = run([a.program, mode])
            vg = valgrind_errors(a.program, mode, work)
            check(len(vg) > 0, "%s: valgrind reports an error" % mode)
            for extra in ([], ["--free-stacks"]):
                tag = "%s%s" % (mode, " --free-stacks" if extra else "")
                trace = os.path.join(work, "t.%s%d" % (mode, len(extra)))
                r = run([a.memscope, "run", "-o", trace] + extra + ["--", a.program, mode])
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
                for e, v in zip(ms, vg):
                    if v["size"] is not None:
                        check(e["size"] == v["size"] and e["offset"] == v["offset"],
                              "%s: %s block size %s offset %s (valgrind %s %s)" %
                              (tag, e["kind"], e["size"], e["offset"], v["size"], v["offset"]))
                    pairs = [("stack", "call"), ("alloc_stack", "alloc")]
                    if v["free"]:
                        pairs.append(("free_stack", "free"))
                    for mk, vk in pairs:
                        got = first_frame(e.get(mk))
                        want = v[vk][0] if v[vk] else None
                        if got is None and not extra and mk != "alloc_stack":
                            print("NOTE %s: %s %s not recorded (default run)" % (tag, e["kind"], mk))
                            continue
                        check(got == want, "%s: %s %s at %s (valgrind %s)" %
                              (tag, e["kind"], mk, got, want))
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
