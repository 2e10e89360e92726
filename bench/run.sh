#!/usr/bin/env bash
# bench/run.sh: measures memscope's overhead against native runs and heaptrack on the workloads
# in bench/workloads, side by side and best of N, and prints (and writes to bench/out/results.md)
# tables of CPU/wall time, added ns per event, trace size and report speed. Builds nothing: run
# `make` first. See bench/README.md for what each column means.
set -uo pipefail

ALL_WORKLOADS=(churn churn_mt realloc_growth mix containers deep_stack)
# Known but run only when named with --workloads: deep_stack limited to 1024 distinct call paths,
# so stacks repeat as in most real programs (heaptrack 1.4's interpreter dies with bad_alloc on
# it at the full size: expect FAIL in its column).
EXTRA_WORKLOADS=(deep_stack_paths compile)
# Arguments per workload: full run, then --quick (about a tenth); the program is ms-bench-<name>
# unless PROG says otherwise.
declare -A FULL_ARG=([churn]=10000000 [churn_mt]=10000000 [realloc_growth]=10000
    [mix]=10000000 [containers]=200 [deep_stack]=1000000 [deep_stack_paths]="1000000 1024")
declare -A QUICK_ARG=([churn]=1000000 [churn_mt]=1000000 [realloc_growth]=1000
    [mix]=1000000 [containers]=20 [deep_stack]=100000 [deep_stack_paths]="100000 1024")
declare -A PROG=([deep_stack_paths]=deep_stack)
MODES=(none fp libunwind)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# compile: gcc's cc1plus compiling bench/workloads/compile_input.cpp (the same either size).
FULL_ARG[compile]="-quiet -imultiarch x86_64-linux-gnu -D_GNU_SOURCE -mtune=generic -march=x86-64"
FULL_ARG[compile]+=" -fasynchronous-unwind-tables $here/workloads/compile_input.cpp -o /dev/null"
QUICK_ARG[compile]=${FULL_ARG[compile]}
root=$(cd "$here/.." && pwd)
cmdline="bench/run.sh${*:+ $*}"

usage() {
    cat <<EOF
usage: bench/run.sh [--quick] [--workloads a,b,...] [--reps N] [--no-heaptrack] [--keep-traces]
                    [--backend NAME] [--sample-bytes N] [--check] [--build-dir DIR] [--out DIR]
  --quick           about a tenth of the default iterations
  --workloads LIST  comma-separated list from: ${ALL_WORKLOADS[*]} (the default)
                    and ${EXTRA_WORKLOADS[*]}
  --reps N          repetitions per measurement, the best (minimum) is kept (default 3)
  --no-heaptrack    skip heaptrack even if it is installed
  --keep-traces     keep the trace files in OUT/traces instead of deleting them
  --backend NAME    every memscope run uses this capture backend (lockfree, core, async,
                    unified; default: memscope's own default, unified); run once per backend to
                    compare them
  --sample-bytes N  every memscope run samples allocations by bytes with mean N
                    (MEMSCOPE_SAMPLE_BYTES; default: no sampling)
  --check           every memscope run is a --check run (docs/check.md); with BASELINE set to
                    the same memscope, its default command is measured beside it
  --build-dir DIR   where \`make\` built (default: <repo>/build)
  --out DIR         results and logs (default: <repo>/bench/out)
Environment: MEMSCOPE (memscope CLI, default BUILD/bin/memscope), HEAPTRACK (default: heaptrack),
BASELINE (another memscope CLI, e.g. an older commit's build: its default command and its
libunwind --no-summary run are measured in the same run, for before/after ratios).
EOF
}

quick=0 reps=3 use_heaptrack=1 keep_traces=0 run_opt=()
build="$root/build" out="$here/out"
workloads=("${ALL_WORKLOADS[@]}")
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --workloads)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        IFS=, read -r -a workloads <<<"$2"
        shift
        ;;
    --workloads=*) IFS=, read -r -a workloads <<<"${1#*=}" ;;
    --reps)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        reps=$2
        shift
        ;;
    --no-heaptrack) use_heaptrack=0 ;;
    --keep-traces) keep_traces=1 ;;
    --backend)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        run_opt+=(--backend="$2")
        shift
        ;;
    --backend=*) run_opt+=(--backend="${1#*=}") ;;
    --sample-bytes)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        run_opt+=(--sample-bytes="$2")
        shift
        ;;
    --sample-bytes=*) run_opt+=(--sample-bytes="${1#*=}") ;;
    --check) run_opt+=(--check) ;;
    --build-dir)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        build=$(cd "$2" && pwd) || exit 2
        shift
        ;;
    --out)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        out=$2
        shift
        ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if ! [[ "$reps" =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: --reps needs a positive integer" >&2
    exit 2
fi
for w in "${workloads[@]}"; do
    if [ -z "${FULL_ARG[$w]+x}" ]; then
        echo "run.sh: unknown workload '$w' (known: ${ALL_WORKLOADS[*]}" \
            "${EXTRA_WORKLOADS[*]})" >&2
        exit 2
    fi
done

bin="$build/bin"
MEMSCOPE=${MEMSCOPE:-$bin/memscope}
CPUTIME="$bin/ms-bench-cputime"
if [ ! -x "$MEMSCOPE" ]; then
    echo "run.sh: error: $MEMSCOPE is missing; build first with \`make\` (in $root)" >&2
    exit 1
fi
for w in cputime "${workloads[@]}"; do
    [ "$w" = compile ] && continue
    if [ ! -x "$bin/ms-bench-${PROG[$w]:-$w}" ]; then
        echo "run.sh: error: $bin/ms-bench-${PROG[$w]:-$w} is missing;" \
            "build first with \`make\`" >&2
        exit 1
    fi
done
HEAPTRACK=${HEAPTRACK:-heaptrack}
BASELINE=${BASELINE:-}
if [ -n "$BASELINE" ] && [ ! -x "$BASELINE" ]; then
    echo "run.sh: error: BASELINE=$BASELINE is not an executable memscope" >&2
    exit 1
fi
if [ "$use_heaptrack" = 1 ] && ! command -v "$HEAPTRACK" >/dev/null 2>&1; then
    echo "run.sh: note: heaptrack not found, its columns will say n/a" >&2
    use_heaptrack=0
fi

mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
logs="$out/logs"
traces="$out/traces"
rm -rf "$logs" "$traces"
mkdir -p "$logs" "$traces" || exit 1
failures=0

note() { echo "run.sh: $*" >&2; }

# --- small arithmetic helpers (awk; "n/a" propagates) -------------------------------------------
calc() { # calc FORMAT EXPR VAR=VALUE...: n/a if a value is n/a, empty or FAIL, or on error
    local fmt=$1 expr=$2 v
    shift 2
    local args=()
    for v in "$@"; do
        case "${v#*=}" in '' | n/a | FAIL) echo "n/a"; return ;; esac
        args+=(-v "$v")
    done
    awk "${args[@]}" -v fmt="$fmt" "BEGIN { printf fmt \"\\n\", ($expr) }" 2>/dev/null || echo "n/a"
}
min() { # min OLD NEW: the smaller, treating empty as +infinity
    [ -z "$1" ] && { echo "$2"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { print (b < a ? b : a) }'
}
max() {
    [ -z "$1" ] && { echo "$2"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'
}

# --- one timed run --------------------------------------------------------------------------------
declare -A CPU WALL RSS
timed_stdout="" # when set, where timed sends CMD's stdout instead of logs/LOGNAME.out
# timed KEY LOGNAME CMD...: runs CMD under ms-bench-cputime with stdout/stderr in logs/LOGNAME.*,
# keeps the minimum CPU and wall time and the maximum RSS under KEY. Returns CMD's status.
timed() {
    local key=$1 logname=$2
    shift 2
    local tf="$logs/$logname.time" rc=0
    rm -f "$tf"
    "$CPUTIME" -o "$tf" -- "$@" >"${timed_stdout:-$logs/$logname.out}" 2>"$logs/$logname.err" ||
        rc=$?
    if [ "$rc" != 0 ] || [ ! -s "$tf" ]; then
        note "FAILED (status $rc): $* -- see $logs/$logname.err"
        CPU[$key]=FAIL WALL[$key]=FAIL
        failures=$((failures + 1))
        return 1
    fi
    local wall user sys rss
    read -r wall user sys rss < <(sed -E 's/[a-z_]+=//g' "$tf")
    local cpu
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.6f", u + s }')
    if [ "${CPU[$key]:-}" != FAIL ]; then
        CPU[$key]=$(min "${CPU[$key]:-}" "$cpu")
        WALL[$key]=$(min "${WALL[$key]:-}" "$wall")
    fi
    RSS[$key]=$(max "${RSS[$key]:-}" "$rss")
    return 0
}

# check_output KEY LOGNAME REF: the traced program must print the native checksum line.
check_output() {
    if ! grep -Fxq -- "$3" "$logs/$2.out"; then
        note "FAILED: output of $2 lacks the native checksum '$3' (see $logs/$2.out)"
        CPU[$1]=FAIL WALL[$1]=FAIL
        failures=$((failures + 1))
    fi
}

# trace_file BASE: the file a tool wrote for output path BASE (as given, or BASE.<ext>).
trace_file() {
    local f
    for f in "$1" "$1".zst "$1".gz "$1".*; do
        if [ -f "$f" ]; then
            echo "$f"
            return
        fi
    done
}

# summary_field JSONFILE NAME: an integer from the report's "summary" object.
summary_field() {
    if command -v jq >/dev/null 2>&1; then
        local v
        v=$(jq -e ".summary.$2" "$1" 2>/dev/null) && [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" && return
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["summary"][sys.argv[2]]))' "$1" "$2" 2>/dev/null && return
    else
        sed -n '/"summary"/,$p' "$1" | grep -Eo "\"$2\" *: *[0-9]+" | head -n1 |
            grep -Eo '[0-9]+$' && return
    fi
    echo "n/a"
}

# --- header ---------------------------------------------------------------------------------------
cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: *//')
ms_version=$("$MEMSCOPE" --version 2>/dev/null | head -n1)
ht_version=n/a
[ "$use_heaptrack" = 1 ] && ht_version=$("$HEAPTRACK" --version 2>/dev/null | head -n1)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "none")
results="$out/results.md"
{
    echo "# memscope benchmark results"
    echo
    echo "- command: \`$cmdline\`" \
        "(reps=$reps, $([ $quick = 1 ] && echo quick || echo full) iterations)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- machine: nproc=$(nproc), CPU: ${cpu_model:-unknown}, kernel: $(uname -srm)"
    echo "- memscope run options: ${run_opt[*]:-none (backend unified, no sampling)}"
    echo "- memscope: ${ms_version:-unknown} ($MEMSCOPE), commit $commit;" \
        "heaptrack: ${ht_version:-unknown}"
    echo
} | tee "$results"

# --- measurements ---------------------------------------------------------------------------------
declare -A EVENTS TRACE_B HT_B REPORT_WALL REPORT_RSS
for w in "${workloads[@]}"; do
    if [ "$quick" = 1 ]; then
        read -r -a args <<<"${QUICK_ARG[$w]}"
    else
        read -r -a args <<<"${FULL_ARG[$w]}"
    fi
    prog="$bin/ms-bench-${PROG[$w]:-$w}"
    [ "$w" = compile ] && prog=$(g++ -print-prog-name=cc1plus 2>/dev/null)
    note "$w ${args[*]}: $reps x (native, memscope ${MODES[*]}" \
        "$([ $use_heaptrack = 1 ] && echo "+ heaptrack"))"
    ref=""
    for ((r = 1; r <= reps; r++)); do
        if timed "$w.native" "$w.native.$r" "$prog" "${args[@]}" && [ -z "$ref" ]; then
            ref=$(head -n1 "$logs/$w.native.$r.out")
        fi
        for m in "${MODES[@]}"; do
            # --no-summary: the capture's cost only. The summary `memscope run` prints by
            # default replays the trace, which costs what the report column shows.
            tr="$traces/$w.$m.mstrace"
            rm -f "$tr" "$tr".*
            if timed "$w.$m" "$w.$m.$r" \
                "$MEMSCOPE" run "${run_opt[@]}" --no-summary -o "$tr" --unwind="$m" -- \
                "$prog" "${args[@]}"; then
                [ -n "$ref" ] && check_output "$w.$m" "$w.$m.$r" "$ref"
            fi
        done
        # The default command, as users run it: libunwind stacks and the summary it prints.
        tr="$traces/$w.default.mstrace"
        rm -f "$tr" "$tr".*
        if timed "$w.default" "$w.default.$r" "$MEMSCOPE" run "${run_opt[@]}" -o "$tr" -- \
            "$prog" "${args[@]}"; then
            [ -n "$ref" ] && check_output "$w.default" "$w.default.$r" "$ref"
        fi
        rm -f "$tr" "$tr".*
        if [ -n "$BASELINE" ]; then
            for how in base:--no-summary basedef:; do
                tr="$traces/$w.${how%%:*}.mstrace"
                rm -f "$tr" "$tr".*
                if timed "$w.${how%%:*}" "$w.${how%%:*}.$r" "$BASELINE" run ${how#*:} -o "$tr" \
                    -- "$prog" "${args[@]}"; then
                    [ -n "$ref" ] && check_output "$w.${how%%:*}" "$w.${how%%:*}.$r" "$ref"
                fi
                rm -f "$tr" "$tr".*
            done
        fi
        if [ "$use_heaptrack" = 1 ]; then
            ht="$traces/$w.heaptrack"
            rm -f "$ht" "$ht".*
            if timed "$w.heaptrack" "$w.heaptrack.$r" \
                "$HEAPTRACK" -o "$ht" "$prog" "${args[@]}"; then
                [ -n "$ref" ] && check_output "$w.heaptrack" "$w.heaptrack.$r" "$ref"
            fi
        fi
    done

    # Events: allocs + frees from the report of each mode's trace (they should agree).
    for m in "${MODES[@]}"; do
        f=$(trace_file "$traces/$w.$m.mstrace")
        TRACE_B[$w.$m]=n/a
        EVENTS[$w.$m]=n/a
        [ -n "$f" ] || continue
        TRACE_B[$w.$m]=$(stat -c %s "$f")
        json="$logs/$w.$m.report.json"
        if "$MEMSCOPE" report "$f" --format json >"$json" 2>"$logs/$w.$m.report.err"; then
            a=$(summary_field "$json" allocs)
            fr=$(summary_field "$json" frees)
            EVENTS[$w.$m]=$(calc "%.0f" "a + f" a="$a" f="$fr")
        else
            note "FAILED: memscope report $f (see $logs/$w.$m.report.err)"
            failures=$((failures + 1))
        fi
    done
    EVENTS[$w]=${EVENTS[$w.libunwind]}
    for m in none fp; do
        if [ "${EVENTS[$w.$m]}" != "${EVENTS[$w]}" ]; then
            note "warning: $w: events differ between modes: $m=${EVENTS[$w.$m]}" \
                "libunwind=${EVENTS[$w]}"
        fi
    done
    HT_B[$w]=n/a
    if [ "$use_heaptrack" = 1 ]; then
        f=$(trace_file "$traces/$w.heaptrack")
        [ -n "$f" ] && HT_B[$w]=$(stat -c %s "$f")
    fi

    # Report speed on the libunwind trace (the largest), best of reps.
    REPORT_WALL[$w]=n/a REPORT_RSS[$w]=n/a
    f=$(trace_file "$traces/$w.libunwind.mstrace")
    if [ -n "$f" ]; then
        timed_stdout=/dev/null
        for ((r = 1; r <= reps; r++)); do
            timed "$w.report" "$w.report.$r" "$MEMSCOPE" report "$f" --format json || break
        done
        timed_stdout=""
        REPORT_WALL[$w]=${WALL[$w.report]:-n/a}
        REPORT_RSS[$w]=${RSS[$w.report]:-n/a}
    fi
    [ "$keep_traces" = 1 ] || rm -f "$traces/$w".*
done

# --- tables ---------------------------------------------------------------------------------------
row() { # row CELL...: one markdown table row
    local IFS='|'
    local cells="$*"
    echo "| ${cells//|/ | } |"
}
cw() { # "cpu / wall" cell for KEY
    local c=${CPU[$1]:-n/a} wl=${WALL[$1]:-n/a}
    case "$c" in FAIL | n/a) echo "$c"; return ;; esac
    printf '%.3f / %.3f' "$c" "$wl"
}
added() { # added() W KEY: ns/event that KEY added over W's native CPU time
    calc "%.1f" "(m - n) / e * 1e9" m="${CPU[$2]:-n/a}" n="${CPU[$1.native]:-n/a}" e="${EVENTS[$1]}"
}
ratio() { # ratio ARRAYNAME W [MODE]: heaptrack / memscope MODE (default libunwind) in that array
    local -n arr=$1
    calc "%.2f" "h / l" h="${arr[$2.heaptrack]:-n/a}" l="${arr[$2.${3:-libunwind}]:-n/a}"
}
share() { # share ARRAYNAME W MODE: memscope MODE's added time over heaptrack's added time
    local -n arr=$1
    calc "%.3f" "(m - n) / (h - n)" m="${arr[$2.$3]:-n/a}" n="${arr[$2.native]:-n/a}" \
        h="${arr[$2.heaptrack]:-n/a}"
}
per_event() { # per_event BYTES EVENTS
    calc "%.2f" "b / e" b="$1" e="$2"
}
{
    echo "Times in seconds, best of $reps, CPU (user+sys of the whole process tree) / wall."
    echo "events = allocs + frees from \`memscope report --format json\`" \
        "(a realloc counts as both)."
    echo
    echo "The memscope columns none, fp and libunwind are \`memscope run --no-summary\`" \
        "(the capture alone); default is \`memscope run\` as users run it (libunwind stacks and" \
        "the summary it prints)."
    echo
    row workload events native "memscope none" "memscope fp" "memscope libunwind" \
        "memscope default" heaptrack
    row --- ---: ---: ---: ---: ---: ---: ---:
    for w in "${workloads[@]}"; do
        row "$w" "${EVENTS[$w]}" "$(cw "$w.native")" "$(cw "$w.none")" "$(cw "$w.fp")" \
            "$(cw "$w.libunwind")" "$(cw "$w.default")" "$(cw "$w.heaptrack")"
    done
    echo
    echo "Added CPU per event, ns: (mode CPU - native CPU) / events * 1e9." \
        "hk/lu, hk/def: heaptrack time / memscope libunwind (--no-summary) or default time." \
        "def/hk added: the default command's added time (over native) as a share of" \
        "heaptrack's added time."
    echo
    row workload "none ns/ev" "fp ns/ev" "libunwind ns/ev" "default ns/ev" "heaptrack ns/ev" \
        "hk/lu CPU" "hk/lu wall" "hk/def CPU" "hk/def wall" "def/hk added CPU" \
        "def/hk added wall"
    row --- ---: ---: ---: ---: ---: ---: ---: ---: ---: ---: ---:
    for w in "${workloads[@]}"; do
        row "$w" "$(added "$w" "$w.none")" "$(added "$w" "$w.fp")" "$(added "$w" "$w.libunwind")" \
            "$(added "$w" "$w.default")" "$(added "$w" "$w.heaptrack")" "$(ratio CPU "$w")" \
            "$(ratio WALL "$w")" "$(ratio CPU "$w" default)" "$(ratio WALL "$w" default)" \
            "$(share CPU "$w" default)" "$(share WALL "$w" default)"
    done
    if [ -n "$BASELINE" ]; then
        echo
        echo "Against BASELINE=$BASELINE in the same run: CPU / wall, and added CPU per event."
        echo
        row workload "baseline libunwind" "libunwind" "baseline default" "default" \
            "baseline lu ns/ev" "lu ns/ev" "baseline def ns/ev" "def ns/ev"
        row --- ---: ---: ---: ---: ---: ---: ---: ---:
        for w in "${workloads[@]}"; do
            row "$w" "$(cw "$w.base")" "$(cw "$w.libunwind")" "$(cw "$w.basedef")" \
                "$(cw "$w.default")" "$(added "$w" "$w.base")" "$(added "$w" "$w.libunwind")" \
                "$(added "$w" "$w.basedef")" "$(added "$w" "$w.default")"
        done
    fi
    echo
    echo "Trace size in bytes per event (file size / events). Report: \`memscope report TRACE" \
        "--format json >/dev/null\` on the libunwind trace, best wall time of $reps."
    echo
    row workload "trace B/ev none" fp libunwind "heaptrack B/ev" "report Mev/s" "report wall s" \
        "report peak RSS MiB"
    row --- ---: ---: ---: ---: ---: ---: ---:
    for w in "${workloads[@]}"; do
        e=${EVENTS[$w]}
        row "$w" "$(per_event "${TRACE_B[$w.none]}" "$e")" "$(per_event "${TRACE_B[$w.fp]}" "$e")" \
            "$(per_event "${TRACE_B[$w.libunwind]}" "$e")" "$(per_event "${HT_B[$w]}" "$e")" \
            "$(calc "%.2f" "e / t / 1e6" e="$e" t="${REPORT_WALL[$w]}")" \
            "$(calc "%.3f" "t" t="${REPORT_WALL[$w]}")" \
            "$(calc "%.1f" "k / 1024" k="${REPORT_RSS[$w]}")"
    done
    echo
    if [ "$failures" -gt 0 ]; then
        echo "**$failures measurement(s) FAILED; see $logs.**"
        echo
    fi
} | tee -a "$results"
note "results written to $results (logs in $logs)"
[ "$failures" -eq 0 ]
