#!/usr/bin/env bash
# Fuzz campaigns with libFuzzer (clang, AddressSanitizer + UndefinedBehaviorSanitizer).
#   scripts/fuzz.sh build                 configure and build the fuzz targets in build-fuzz/
#   scripts/fuzz.sh list                  the targets
#   scripts/fuzz.sh TARGET SECONDS        fuzz one target (fuzz_doc_pdf, or doc_pdf) for SECONDS
#   scripts/fuzz.sh all SECONDS           every target in turn, SECONDS each
# New inputs go to build-fuzz/tests/fuzz/work/<target>/ (the corpus in tests/fuzz/corpus is
# only read). A crash leaves build-fuzz/tests/fuzz/artifacts/<target>-crash-*: fix the parser,
# then copy the input to tests/fuzz/corpus/<corpus>/regress-<what> so ctest -L fuzz replays it.
# Environment: FUZZ_BUILD (default build-fuzz), CXX (default clang++-14), FUZZ_JOBS (default 1),
# FUZZ_NICE (default 10).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD:-$here/build-fuzz}"
cxx="${CXX:-clang++-14}"
command -v "$cxx" >/dev/null || cxx=clang++

build_targets() {
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$here" -B "$build" -G Ninja -DQCW_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx"
  fi
  cmake --build "$build" -j "${FUZZ_JOBS:-1}"
}

targets() { (cd "$build/tests/fuzz" && ls fuzz_* 2>/dev/null | grep -v '\.' || true); }

# The corpus folder of a target, from the ctest registration (one source of truth).
corpus_of() {
  local t="$1"
  ctest --test-dir "$build" -R "^fuzz_replay_$t\$" --show-only=json-v1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["tests"][0]["command"][-1])'
}

run_one() {
  local t="$1" secs="$2"
  [ -x "$build/tests/fuzz/$t" ] || t="fuzz_$t"
  [ -x "$build/tests/fuzz/$t" ] || { echo "fuzz.sh: no target $1 (scripts/fuzz.sh list)" >&2; exit 2; }
  local corpus work art
  corpus="$(corpus_of "$t")"
  work="$build/tests/fuzz/work/$t"
  art="$build/tests/fuzz/artifacts"
  mkdir -p "$work" "$art"
  echo "fuzz.sh: $t for ${secs}s (corpus $corpus)" >&2
  nice -n "${FUZZ_NICE:-10}" "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/$t-" "$work" "$corpus"
}

case "${1:-}" in
  build) build_targets ;;
  list) targets ;;
  all)
    [ $# -eq 2 ] || { echo "usage: scripts/fuzz.sh all SECONDS" >&2; exit 2; }
    build_targets
    for t in $(targets); do run_one "$t" "$2"; done ;;
  ""|-h|--help)
    sed -n '2,12p' "$0"; exit 2 ;;
  *)
    [ $# -eq 2 ] || { echo "usage: scripts/fuzz.sh TARGET SECONDS" >&2; exit 2; }
    build_targets
    run_one "$1" "$2" ;;
esac
