#!/usr/bin/env bash
# One entry point for set-up, build, run and test on Debian 12.
#   ./qcw.sh run    install what the build needs, build, run the workbench on the bundled
#                   demo model (a headless demo in the terminal when there is no display)
#   ./qcw.sh test   install, build, run the whole test suite (ctest)
#   ./qcw.sh build  install and build only
#   ./qcw.sh sanitize  the torch-free core libraries and their unit tests under ASan+UBSan
#                   (build-asan), the concurrent ones under ThreadSanitizer (build-tsan)
#   ./qcw.sh fuzz   the libFuzzer targets (clang, build-fuzz): replay the corpora, fuzz each
#                   briefly (FUZZ_SECONDS, default 5); longer campaigns: scripts/fuzz.sh
#   ./qcw.sh format [BASE]  the layout of the C++ lines changed since BASE (default: the
#                   previous commit), as .clang-format says (scripts/check-format.sh)
# Environment: BUILD_DIR (default ./build), JOBS (default: number of cores),
#              QCW_NO_INSTALL=1 skips the apt/npm step,
#              QCW_WERROR=1 builds with warnings as errors (-DQCW_WERROR=ON; CI does).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
build="${BUILD_DIR:-$here/build}"
jobs="${JOBS:-$(nproc)}"

debian_packages=(
  build-essential cmake ninja-build ccache pkg-config
  qt6-base-dev qt6-charts-dev libqt6opengl6-dev libgl-dev libxkbcommon-dev
  libqcustomplot-dev libqcustomplot2.1-qt6
  libtorch-dev libopenblas0-pthread libgloo-dev
  libeigen3-dev nlohmann-json3-dev libcli11-dev libpoppler-cpp-dev
  libcpp-httplib-dev curl libcurl4-openssl-dev libssl-dev file
  xvfb xauth
  clang-14 libclang-rt-14-dev clang-format-14
)

# CMake options from the environment, passed to every configure (and to an existing build
# directory again when set, so that CI's warnings-as-errors reaches a reused build too).
cmake_options=()
[ "${QCW_WERROR:-0}" = 1 ] && cmake_options+=(-DQCW_WERROR=ON)

install_deps() {
  [ "${QCW_NO_INSTALL:-0}" = 1 ] && return 0
  local missing=()
  for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node and npm run the tokenizer's peer check; any install of them will do.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "qcw.sh: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

configure_and_build() {
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_options[@]}"
  elif [ ${#cmake_options[@]} -gt 0 ]; then
    cmake "$build" "${cmake_options[@]}" >/dev/null
  fi
  cmake --build "$build" -j "$jobs"
  # Test-only peers (the npm GPT-2 encoder the tokenizer is checked against, the openai client
  # that drives qcompress serve).
  if [ -x "$here/scripts/npm-test-deps.sh" ] && [ "${QCW_NO_INSTALL:-0}" != 1 ]; then
    "$here/scripts/npm-test-deps.sh" "$build" ||
      echo "qcw.sh: could not install the npm test peers; test_tokenizer will say what is missing" >&2
  fi
}

# Unit tests of the torch-free libraries (io, tokenizer, data, the server's protocol and chat
# template), the fault tests and the fuzz corpora replayed, all under a sanitizer. The torch
# libraries are left out: LibTorch itself is not instrumented and one of its translation units
# takes minutes under ASan on 2 cores.
asan_tests=(test_io test_tokenizer test_data_processor test_scrub_adversary test_serve_protocol
            test_serve_chat_template test_faults test_limits)
# The tests that run threads: the server's admission queue and the tokenizer shared by threads.
tsan_tests=(test_serve_protocol test_tokenizer)

sanitized_build() {  # dir sanitizers tests...
  local dir="$1" san="$2"
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$here" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQCW_SANITIZE="$san" "${cmake_options[@]}"
  elif [ ${#cmake_options[@]} -gt 0 ]; then
    cmake "$dir" "${cmake_options[@]}" >/dev/null
  fi
  # (The fuzz corpora are replayed under ASan+UBSan by ./qcw.sh fuzz, in clang's build.)
  local targets=("$@")
  local present=()
  for t in "${targets[@]}"; do
    ninja -C "$dir" -t query "$t" >/dev/null 2>&1 && present+=("$t")
  done
  cmake --build "$dir" -j "$jobs" --target "${present[@]}"
  # The tokenizer's npm peer: the main build's, else installed here.
  if [ ! -e "$dir/npm" ]; then
    if [ -d "$build/npm" ]; then ln -s "$build/npm" "$dir/npm"
    elif [ -x "$here/scripts/npm-test-deps.sh" ]; then "$here/scripts/npm-test-deps.sh" "$dir" || true
    fi
  fi
}

run_sanitizers() {
  local asan="$here/build-asan" tsan="$here/build-tsan" regex
  sanitized_build "$asan" address,undefined "${asan_tests[@]}"
  regex="^($(IFS='|'; echo "${asan_tests[*]}"))\$"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan" --output-on-failure -R "$regex"
  sanitized_build "$tsan" thread "${tsan_tests[@]}"
  # Run directly: test_tokenizer's threaded case alone (its npm peer runs through QProcess,
  # whose clone() ThreadSanitizer's runtime cannot follow); Qt Test's own watchdog thread is
  # suppressed (tests/tsan.supp: Qt is not instrumented).
  local topts="halt_on_error=1:second_deadlock_stack=1:suppressions=$here/tests/tsan.supp"
  QT_QPA_PLATFORM=offscreen TSAN_OPTIONS="$topts" "$tsan/tests/serve/test_serve_protocol"
  QT_QPA_PLATFORM=offscreen TSAN_OPTIONS="$topts" "$tsan/tests/tokenizer/test_tokenizer" concurrentEncode
}

run_fuzz() {
  local fb="$here/build-fuzz"
  if [ ! -f "$fb/build.ninja" ]; then
    cmake -S "$here" -B "$fb" -G Ninja -DQCW_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER=clang++-14 -DQCW_FUZZ_SECONDS="${FUZZ_SECONDS:-5}"
  fi
  cmake --build "$fb" -j "$jobs"
  ctest --test-dir "$fb" --output-on-failure -L fuzz
}

cmd="${1:-run}"
shift || true
case "$cmd" in
  build)
    install_deps; configure_and_build ;;
  test)
    install_deps; configure_and_build
    cd "$build" && ctest --output-on-failure "$@" ;;
  sanitize)
    install_deps; run_sanitizers ;;
  fuzz)
    install_deps; run_fuzz ;;
  format)
    install_deps; "$here/scripts/check-format.sh" "$@" ;;
  run)
    install_deps; configure_and_build
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$build/bin/qcw" ]; then
      exec "$build/bin/qcw" "$@"
    else
      echo "qcw.sh: no display; running the headless demo (qcompress demo)" >&2
      exec "$build/bin/qcompress" demo "$@"
    fi ;;
  *)
    echo "usage: ./qcw.sh run|test|build|sanitize|fuzz|format" >&2; exit 2 ;;
esac
