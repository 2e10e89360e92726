#!/usr/bin/env bash
# Checks that every C and C++ source of the tree (src/, tests/, fuzz/, bench/, examples/, any
# new file git does not ignore) is formatted with the checked-in .clang-format; changes nothing.
# Prints each file that is not, with clang-format's first complaints, and exits 1.
# Fix with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || scripts/install-deps.sh --ci
pattern=('*.c' '*.h' '*.cpp' '*.cc' '*.hpp')
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- "${pattern[@]}" |
        while read -r f; do [ -f "$f" ] && echo "$f"; done | sort -u)
else
    mapfile -t files < <(find src tests fuzz bench examples include \
        \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.cc' -o -name '*.hpp' \) \
        -type f 2>/dev/null | sort)
fi
echo "$(clang-format --version), ${#files[@]} files"
bad=()
for f in "${files[@]}"; do
    if ! out=$(clang-format --dry-run -Werror "$f" 2>&1); then
        bad+=("$f")
        printf '%s\n' "$out" | head -n 6
    fi
done
if [ ${#bad[@]} -gt 0 ]; then
    echo "check-format: ${#bad[@]} of ${#files[@]} files are not clang-formatted:"
    printf '  %s\n' "${bad[@]}"
    echo "fix with: clang-format -i ${bad[*]}"
    exit 1
fi
echo "check-format: all ${#files[@]} files are clang-formatted"
