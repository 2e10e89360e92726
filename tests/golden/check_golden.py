#!/usr/bin/env python3
"""Golden-file test of the report outputs: builds the fixed trace with make_trace, runs
`memscope report` in text and JSON, and compares with the files in this folder (the trace path
is replaced by TRACE). With --update, rewrites the golden files instead."""
import argparse
import difflib
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--make-trace", required=True)
    ap.add_argument("--update", action="store_true")
    a = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory() as work:
        for variant, extra in (("full", []), ("truncated", ["--truncate"])):
            trace = os.path.join(work, variant + ".mstrace")
            subprocess.run([a.make_trace, trace] + extra, check=True)
            for fmt in ("text", "json"):
                r = subprocess.run([a.memscope, "report", trace, "--format", fmt],
                                   capture_output=True, text=True)
                got = (r.stdout + ("stderr: " + r.stderr if r.stderr else "")
                       ).replace(trace, "TRACE")
                name = os.path.join(here, "%s.%s.golden" % (variant, fmt))
                if a.update:
                    with open(name, "w") as f:
                        f.write(got)
                    print("updated", name)
                    continue
                want = open(name).read()
                ok = got == want and r.returncode == 0
                failed += not ok
                print("%s %s report of the %s trace" % ("PASS" if ok else "FAIL", fmt, variant))
                if not ok:
                    sys.stdout.writelines(difflib.unified_diff(
                        want.splitlines(True), got.splitlines(True), "golden", "now"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
