#!/usr/bin/env bash
# bench/scale.sh: memscope report on traces of growing size (docs/performance.md, "Scale"): the
# churn workload recorded at 2 M, 20 M and 200 M events (or what --events says), each report's
# wall and CPU time, events per second and peak memory, to show that the report's memory does
# not grow with the events (only with live blocks, sites and timeline buckets) and how fast it
# replays. Builds nothing: run `make` first. Needs about 1.5 GB of disk in OUT for 200 M events.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
out=$root/bench/out/scale
sizes=(1000000 10000000 100000000) # churn iterations: two events each
reps=2

usage() {
    cat <<USAGE
usage: bench/scale.sh [--iterations N,N,...] [--reps N] [--build-dir DIR] [--out DIR]
  --iterations LIST  churn iterations per trace (two events each; default ${sizes[*]})
  --reps N           report runs per trace, the fastest kept (default $reps)
USAGE
}

fail() { echo "bench/scale.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --iterations | --reps | --build-dir | --out) [ $# -ge 2 ] || fail "$1 needs a value" ;;&
    --iterations) IFS=, read -r -a sizes <<<"$2"; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/scale.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "${sizes[@]}" "$reps"; do
    [[ $n =~ ^[1-9][0-9]{0,9}$ ]] || fail "'$n': the iterations and --reps are positive numbers"
done

memscope=$build/bin/memscope
cputime=$build/bin/ms-bench-cputime
churn=$build/bin/ms-bench-churn
for f in "$memscope" "$cputime" "$churn"; do
    [ -x "$f" ] || { echo "bench/scale.sh: $f is missing: build first (make)" >&2; exit 1; }
done
mkdir -p "$out"

# field NAME LINE: the value of NAME=... in a ms-bench-cputime line
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

printf '| events | trace MB | report wall s | report CPU s | M events/s | report max RSS MB |\n'
printf '|---:|---:|---:|---:|---:|---:|\n'
for n in "${sizes[@]}"; do
    trace=$out/churn.$n.mst
    rm -f "$trace" "$out/report.json"
    "$memscope" run --no-summary -o "$trace" -- "$churn" "$n" >/dev/null 2>"$out/run.err" ||
        fail "memscope run failed: $(tail -1 "$out/run.err")"
    best=""
    for ((r = 0; r < reps; r++)); do
        line=$("$cputime" -- "$memscope" report "$trace" --format json 2>&1 >"$out/report.json" |
            grep wall_s=) || fail "memscope report $trace failed"
        [ -s "$out/report.json" ] || fail "memscope report $trace wrote nothing"
        if [ -z "$best" ] || awk -v a="$(field wall_s "$line")" -v b="$(field wall_s "$best")" \
            'BEGIN { exit !(a < b) }'; then
            best=$line
        fi
    done
    events=$(python3 -c "import json; print(json.load(open('$out/report.json'))['summary']['events'])")
    wall=$(field wall_s "$best")
    cpu=$(awk -v u="$(field user_s "$best")" -v s="$(field sys_s "$best")" 'BEGIN { print u + s }')
    printf '| %s | %.0f | %.2f | %.2f | %.1f | %.0f |\n' "$events" \
        "$(($(stat -c %s "$trace") / 1000000))" "$wall" "$cpu" \
        "$(awk -v e="$events" -v w="$wall" 'BEGIN { print e / w / 1e6 }')" \
        "$(awk -v k="$(field maxrss_kb "$best")" 'BEGIN { print k / 1024 }')"
    rm -f "$trace"
done
