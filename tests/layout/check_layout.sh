#!/usr/bin/env bash
# The layout rules of CONTRIBUTING.md that a machine can check (issue 18):
#   - ui/ and app/qcompress list their sources explicitly: every file in the folder is in the
#     CMake list and every listed file exists;
#   - no file in ui/ is over 600 lines;
#   - qcw's main() (app/qcw/main.cpp) is under 80 lines;
#   - no method strings are compared outside the strategy table (core/decompose/strategies):
#     the decomposition methods are dispatched through the table only.
# Usage: tests/layout/check_layout.sh [SOURCE_DIR]   (exit 1 naming each file that breaks a rule)
set -uo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$root" || exit 2
bad=0
say() { echo "$*" >&2; bad=1; }

listed() {  # CMAKE_FILE: the words of the file (source names are single words there)
  tr -s ' \t()' '\n' < "$1" | sed 's#^${CMAKE_CURRENT_SOURCE_DIR}/##'
}
ui_list="$(listed ui/CMakeLists.txt)"
for f in ui/*.cpp ui/*.h; do
  b="$(basename "$f")"
  grep -qxF "$b" <<<"$ui_list" || say "$f: not listed in ui/CMakeLists.txt (QCW_UI_SOURCES)"
done
for b in $(grep -E '^[A-Za-z0-9_]+\.(cpp|h)$' <<<"$ui_list"); do
  [ -f "ui/$b" ] || say "ui/CMakeLists.txt: lists $b, which is not in ui/"
done
cli_list="$(listed app/qcompress/CMakeLists.txt)"
for f in app/qcompress/cmd_*.cpp; do
  grep -qxF "$(basename "$f")" <<<"$cli_list" || say "$f: not listed in app/qcompress/CMakeLists.txt (QCW_CLI_COMMANDS)"
done
for b in $(grep -E '^cmd_[A-Za-z0-9_]+\.cpp$' <<<"$cli_list"); do
  [ -f "app/qcompress/$b" ] || say "app/qcompress/CMakeLists.txt: lists $b, which does not exist"
done

for f in ui/*.cpp ui/*.h; do
  n=$(wc -l < "$f")
  [ "$n" -le 600 ] || say "$f: $n lines (the limit is 600: split it into widgets with one concern each)"
done

# main(): from its signature to the first closing brace in column 0.
n=$(awk '/^int main\(/{on=1} on{c++} on&&/^}/{print c; exit}' app/qcw/main.cpp)
if [ -z "$n" ]; then say "app/qcw/main.cpp: no 'int main(' found"
elif [ "$n" -ge 80 ]; then say "app/qcw/main.cpp: main() is $n lines (the limit is 79)"; fi

methods='svd|asvd|tucker|tucker-xl|tt|int8|custom'
hits=$(grep -rnE "(==|!=) *(QLatin1String\(|QStringLiteral\()?\"($methods)\"|\"($methods)\"\)? *(==|!=)" \
         core ui app plugins --include=*.cpp --include=*.h | grep -v '^core/decompose/strategies/')
[ -z "$hits" ] || say "method strings compared outside core/decompose/strategies (dispatch through the table):
$hits"
[ "$bad" = 0 ] && echo "layout: ui/ and CLI lists complete, ui/ files <= 600 lines, qcw main() $n lines, no method dispatch outside the table"
exit "$bad"
