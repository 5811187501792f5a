#!/usr/bin/env bash
# One entry point for set-up, build, run and test on Debian 12.
#   ./qcw.sh run    install what the build needs, build, run the workbench on the bundled
#                   demo model (a headless demo in the terminal when there is no display)
#   ./qcw.sh test   install, build, run the whole test suite (ctest)
#   ./qcw.sh build  install and build only
# Environment: BUILD_DIR (default ./build), JOBS (default: number of cores),
#              QCW_NO_INSTALL=1 skips the apt/npm step.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
build="${BUILD_DIR:-$here/build}"
jobs="${JOBS:-$(nproc)}"

debian_packages=(
  build-essential cmake ninja-build ccache pkg-config
  qt6-base-dev qt6-charts-dev libqt6opengl6-dev libgl-dev libxkbcommon-dev
  libqcustomplot-dev libqcustomplot2.1-qt6
  libtorch-dev libopenblas0-pthread
  libeigen3-dev nlohmann-json3-dev libcli11-dev libpoppler-cpp-dev
  libcpp-httplib-dev curl libcurl4-openssl-dev libssl-dev file
  xvfb xauth
)

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
    cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$build" -j "$jobs"
  # Test-only peers (the npm GPT-2 encoder the tokenizer is checked against, the openai client
  # that drives qcompress serve).
  if [ -x "$here/scripts/npm-test-deps.sh" ] && [ "${QCW_NO_INSTALL:-0}" != 1 ]; then
    "$here/scripts/npm-test-deps.sh" "$build" ||
      echo "qcw.sh: could not install the npm test peers; test_tokenizer will say what is missing" >&2
  fi
}

cmd="${1:-run}"
shift || true
case "$cmd" in
  build)
    install_deps; configure_and_build ;;
  test)
    install_deps; configure_and_build
    cd "$build" && ctest --output-on-failure "$@" ;;
  run)
    install_deps; configure_and_build
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$build/bin/qcw" ]; then
      exec "$build/bin/qcw" "$@"
    else
      echo "qcw.sh: no display; running the headless demo (qcompress demo)" >&2
      exec "$build/bin/qcompress" demo "$@"
    fi ;;
  *)
    echo "usage: ./qcw.sh run|test|build" >&2; exit 2 ;;
esac
