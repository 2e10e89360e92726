#!/usr/bin/env python3
"""A process traced by hand (LD_PRELOAD, no `memscope run`) that is killed with SIGKILL leaves its
buffers in TRACE.spool: `memscope report` counts their events (reading the spool, not changing
it) and its notes say they were recovered.

usage: spool_recovery.py --memscope M --library LIBMEMSCOPE --killed PROGRAM"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--killed", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ms-spool-")
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        failed += not ok
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))
        return ok

    try:
        trace = os.path.join(work, "t.mstrace")
        env = dict(os.environ, LD_PRELOAD=a.library, MEMSCOPE_OUTPUT=trace,
                   MEMSCOPE_ROOT_PID="0")
        r = subprocess.run([a.killed, "kill", "2", "5000"], env=env, capture_output=True,
                           timeout=120)
        check("the program was killed", r.returncode == -9, str(r.returncode))
        traces = [f for f in os.listdir(work) if f.startswith("t.mstrace.") and
                  not f.endswith(".spool")]
        if not check("one trace", len(traces) == 1, str(os.listdir(work))):
            return 1
        path = os.path.join(work, traces[0])
        spool = path + ".spool"
        check("the spool is left beside it", os.path.exists(spool))
        before = open(spool, "rb").read() if os.path.exists(spool) else b""
        rep = subprocess.run([a.memscope, "report", path, "--format", "json"],
                             capture_output=True, text=True, timeout=120)
        if not check("report", rep.returncode == 0, rep.stderr):
            return 1
        d = json.loads(rep.stdout)
        check("every free recovered", d["summary"]["frees"] == 9000, str(d["summary"]["frees"]))
        check("the 1000 kept blocks", any(l["blocks"] == 1000 and l["bytes"] == 24000
                                          for l in d["leaks"]), str(d["leaks"][:2])[:300])
        check("notes say so", any("recovered from" in n for n in d["notes"]), str(d["notes"]))
        check("report leaves the spool alone",
              os.path.exists(spool) and open(spool, "rb").read() == before)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
