#!/usr/bin/env bash
# Builds memscope, runs it on the bundled demo program and prints the report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make >/dev/null
trace=build/demo.mstrace
rm -f "$trace"
build/bin/memscope run -o "$trace" -- build/bin/ms-demo
build/bin/memscope report "$trace"
