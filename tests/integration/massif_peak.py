#!/usr/bin/env python3
"""The peak heap that memscope reports equals massif's exact peak (valgrind --tool=massif
--heap-admin=0 --peak-inaccuracy=0 --threshold=0) on programs whose peak does not depend on how
their threads interleave (massif runs one thread at a time): for instance a thread's blocks that
its joiner frees after pthread_join.

usage: massif_peak.py --memscope M -- CMD ARGS..."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--repeat", type=int, default=5, help="memscope runs (races differ per run)")
    ap.add_argument("--certain", action="store_true",
                    help="the threads' order is fixed (by joins): the report's bounds on the peak "
                         "over other interleavings must both be the peak")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    work = tempfile.mkdtemp(prefix="ms-massif-")
    try:
        out = os.path.join(work, "massif.out")
        r = subprocess.run(["valgrind", "--tool=massif", "--heap-admin=0", "--peak-inaccuracy=0",
                            "--threshold=0", "--massif-out-file=" + out] + cmd,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or not os.path.exists(out):
            print("massif failed: " + r.stderr[-500:])
            return 2
        peak = max(int(m) for m in re.findall(r"^mem_heap_B=(\d+)$", open(out).read(), re.M))
        failed = 0
        for i in range(a.repeat):
            trace = os.path.join(work, "t%d.mstrace" % i)
            r = subprocess.run([a.memscope, "run", "--no-summary", "-o", trace, "--"] + cmd,
                               capture_output=True, text=True, timeout=300)
            rep = subprocess.run([a.memscope, "report", trace, "--format", "json"],
                                 capture_output=True, text=True, timeout=300)
            if rep.returncode != 0:
                print("FAIL memscope report: " + rep.stderr)
                return 1
            summary = json.loads(rep.stdout)["summary"]
            got = summary["peak_bytes"]
            ok = got == peak
            failed += not ok
            print("%s peak: massif %d, memscope %d (run %d)" % ("PASS" if ok else "FAIL", peak, got,
                                                               i + 1))
            low, high = summary["peak_low_bytes"], summary["peak_high_bytes"]
            ok = low <= got <= high and (not a.certain or low == high == got)
            failed += not ok
            print("%s peak in any order: %d to %d (run %d)" % ("PASS" if ok else "FAIL", low, high,
                                                              i + 1))
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
