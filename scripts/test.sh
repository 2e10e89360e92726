#!/usr/bin/env bash
# Builds memscope and runs the whole test suite (unit, integration against valgrind, fuzz
# corpus replay). Extra arguments go to ctest, e.g. scripts/test.sh -R reader.
# With --preset NAME first, builds and tests that CMake preset in its own directory instead of
# the release build in build/: `dev` (-Werror, build-dev/) runs the same suite, `asan`
# (ASan+UBSan, build-asan/) the tests that do not preload libmemscope.so (see CMakePresets.json).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=release
case "${1:-}" in
--preset) [ $# -ge 2 ] || { echo "usage: scripts/test.sh [--preset NAME] [CTEST-ARGS...]" >&2; exit 2; }
    preset=$2; shift 2 ;;
--preset=*) preset=${1#--preset=}; shift ;;
esac
scripts/install-deps.sh --test
if [ "$preset" = release ]; then
    make >/dev/null
    cd build
    ctest --output-on-failure -j "$(nproc)" "$@"
    exit
fi
if ! ctest --list-presets 2>/dev/null | grep -qx "  \"$preset\""; then
    echo "scripts/test.sh: no test preset \"$preset\" in CMakePresets.json; the test presets are:" >&2
    ctest --list-presets >&2
    exit 2
fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" >/dev/null
ctest --preset "$preset" -j "$(nproc)" "$@"
