#!/usr/bin/env bash
# Builds memscope and runs the whole test suite (unit, integration against valgrind, fuzz
# corpus replay). Extra arguments go to ctest, e.g. scripts/test.sh -R reader.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
make >/dev/null
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
