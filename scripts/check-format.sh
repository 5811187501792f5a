#!/usr/bin/env bash
# Checks the layout (.clang-format) of the C++ lines a change touches, not whole files: the
# lines that differ between BASE and the working tree (git clang-format). Existing code is
# not reformatted; a line you change or add is formatted as clang-format would.
# Usage: scripts/check-format.sh [--fix] [BASE]
#   BASE  the commit to compare with (default: HEAD~1, the previous commit, as in CI; a branch
#         is checked against where it left main with: scripts/check-format.sh "$(git merge-base main HEAD)")
#   --fix reformat those lines in the working tree instead of failing
# Exits 1 and prints the diff to apply when a changed line is not formatted. Without a base
# commit (a shallow clone of one commit) there is nothing to compare: it says so and passes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fix=0
if [ "${1:-}" = "--fix" ]; then fix=1; shift; fi
base="${1:-HEAD~1}"
tool=""
for t in git-clang-format-14 git-clang-format; do
  command -v "$t" >/dev/null && { tool="$t"; break; }
done
binary=""
for b in clang-format-14 clang-format; do
  command -v "$b" >/dev/null && { binary="$(command -v "$b")"; break; }
done
if [ -z "$tool" ] || [ -z "$binary" ]; then
  echo "check-format.sh: git-clang-format and clang-format are needed (Debian: apt-get install clang-format)" >&2
  exit 2
fi
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  echo "check-format.sh: no commit $base to compare with; nothing to check"
  exit 0
fi
exts="c,cc,cpp,cxx,h,hh,hpp,hxx"
if [ "$fix" = 1 ]; then
  "$tool" --binary "$binary" --extensions "$exts" --force "$base" -- || true
  exit 0
fi
set +e
out="$("$tool" --binary "$binary" --extensions "$exts" --diff "$base" -- 2>&1)"
rc=$?
set -e
# (git clang-format 14 exits 0 whether or not it found lines to format: read what it says.)
if [ "$rc" -ne 0 ]; then
  printf '%s\n' "$out" >&2
  echo "check-format.sh: git clang-format failed (exit $rc)" >&2
  exit 2
fi
case "$out" in
  "no modified files to format"* | "clang-format did not modify any files"*)
    echo "check-format.sh: the C++ lines changed since $(git rev-parse --short "$base") are formatted" ;;
  "diff --git"*)
    printf '%s\n' "$out"
    echo "check-format.sh: the lines above are not formatted as .clang-format says;" \
         "scripts/check-format.sh --fix $base formats them" >&2
    exit 1 ;;
  *)
    printf '%s\n' "$out" >&2
    echo "check-format.sh: unexpected answer from git clang-format" >&2
    exit 2 ;;
esac
