#!/usr/bin/env python3
"""Compares memscope's peak heap with heaptrack's on the same program (heaptrack is the oracle
for the peak): memscope's summary.peak_bytes must be within 1% of heaptrack_print's "peak heap
memory consumption". Use C++ programs: heaptrack's own library loads libstdc++, whose
72,704-byte exception pool then counts towards heaptrack's peak in a C program too."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

UNITS = {"B": 1, "K": 1000, "M": 1000**2, "G": 1000**3}


def heaptrack_peak(cmd, work):
    out = os.path.join(work, "ht")
    subprocess.run(["heaptrack", "-o", out] + cmd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    files = [f for f in os.listdir(work) if f.startswith("ht.")]
    if not files:
        sys.exit("heaptrack wrote no data file for %s" % cmd)
    text = subprocess.run(["heaptrack_print", os.path.join(work, files[0])],
                          capture_output=True, text=True).stdout
    m = re.search(r"peak heap memory consumption: ([0-9.]+)([BKMG])", text)
    if not m:
        sys.exit("heaptrack_print printed no peak:\n" + text[-2000:])
    return float(m.group(1)) * UNITS[m.group(2)], m.group(0)


def memscope_peak(memscope, cmd, work):
    trace = os.path.join(work, "ms.mstrace")
    r = subprocess.run([memscope, "run", "--no-summary", "-o", trace, "--"] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not os.path.exists(trace):
        sys.exit("memscope wrote no trace: " + r.stderr)
    rep = subprocess.run([memscope, "report", trace, "--format", "json"], capture_output=True,
                         text=True, check=True)
    return json.loads(rep.stdout)["summary"]["peak_bytes"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not shutil.which("heaptrack"):
        print("SKIP heaptrack is not installed")
        return 0
    work = tempfile.mkdtemp(prefix="ms-heaptrack-")
    try:
        ht, ht_text = heaptrack_peak(cmd, work)
        ms = memscope_peak(a.memscope, cmd, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    diff = abs(ms - ht) / max(ht, 1)
    verdict = "PASS" if diff <= 0.01 else "FAIL"
    print("%s peak of %s: heaptrack %r (%d bytes), memscope %d bytes, difference %.3f%%"
          % (verdict, " ".join(cmd), ht_text, ht, ms, 100 * diff))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
