#!/usr/bin/env bash
# Installs the Debian packages memscope needs to build and test, when some are missing.
# Run as root (or with sudo available); a no-op when everything is already there.
# --test adds what the test suite runs (valgrind, heaptrack, ...); --ci adds those and what the
# CI stages use besides (clang and its libFuzzer/sanitizer runtimes, clang-format).
set -euo pipefail
build=(cmake make gcc g++ pkg-config libunwind-dev libdw-dev libelf-dev libzstd-dev)
test=(valgrind python3 sqlite3 heaptrack libjemalloc-dev libgoogle-perftools-dev)
ci=(clang libclang-rt-dev clang-format)
want=("${build[@]}")
for arg in "$@"; do
    case "$arg" in
    --test) want+=("${test[@]}") ;;
    --ci) want+=("${test[@]}" "${ci[@]}") ;;
    *) echo "usage: scripts/install-deps.sh [--test] [--ci]" >&2; exit 2 ;;
    esac
done
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "memscope: installing missing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "memscope: missing packages ${missing[*]}: run this script as root, or install them with apt-get" >&2; exit 1; }
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
