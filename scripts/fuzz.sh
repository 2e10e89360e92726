#!/usr/bin/env bash
# Builds the trace reader's libFuzzer target (the "fuzz" preset: clang, ASan+UBSan, build-fuzz/)
# and fuzzes it for SECONDS (default 60) from a temporary copy of fuzz/corpus, so the checked-in
# corpus never changes. On a crash, a leak or a hang the input is kept in build-fuzz/artifacts/
# and its path printed; add it to fuzz/corpus (as crash_<what>) with the fix.
# Usage: scripts/fuzz.sh [SECONDS] [LIBFUZZER-ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
case "$seconds" in
'' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [LIBFUZZER-ARGS...]" >&2; exit 2 ;;
esac
scripts/install-deps.sh --ci
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_trace_reader -j "$(nproc)" >/dev/null

# Each run keeps its failing inputs in a directory of its own (removed when empty).
artifacts=$PWD/build-fuzz/artifacts/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/memscope-fuzz.XXXXXX")
trap 'rm -rf "$work"; rmdir "$artifacts" 2>/dev/null || true' EXIT
cp -R fuzz/corpus "$work/corpus"
echo "fuzzing the trace reader for ${seconds}s from a copy of fuzz/corpus" \
    "($(find fuzz/corpus -type f | wc -l) inputs)"
# A bounded reader takes microseconds per input: one that takes 10 s is a hang.
rc=0
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    build-fuzz/bin/fuzz_trace_reader -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" "$work/corpus" \
    >"$work/log" 2>&1 || rc=$?
# libFuzzer prints a line per new input: on a failure, show the report from its first line (the
# whole log is kept beside the inputs), else the summary.
if [ "$rc" -ne 0 ]; then
    cp "$work/log" "$artifacts.log"
    awk '/^==[0-9]+==|ERROR: |runtime error: |^SUMMARY: / { on = 1 } on' "$work/log"
    echo "(the whole libFuzzer log: $artifacts.log)"
else
    grep -E '^(INFO: Seed|#[0-9]+[[:space:]]+(INITED|DONE)|Done |stat::)' "$work/log" || tail -n 20 "$work/log"
fi
mapfile -t found < <(find "$artifacts" -type f | sort)
if [ "$rc" -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    echo "fuzz: the trace reader FAILED (libFuzzer exit $rc); failing input(s):"
    for f in "${found[@]}"; do
        size=$(stat -c %s "$f")
        echo "  $f ($size bytes); reproduce: build-fuzz/bin/fuzz_trace_reader $f"
        # On a CI machine the log may be all that is left: small inputs are printed too.
        if [ "$size" -le 4096 ]; then
            echo "  base64 (decode with base64 -d):"
            base64 "$f" | sed 's/^/    /'
        fi
    done
    exit 1
fi
echo "fuzz: no failure in ${seconds}s"
