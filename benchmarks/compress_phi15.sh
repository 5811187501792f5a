#!/usr/bin/env bash
# Compresses a synthetic phi-1.5-shaped checkpoint to 30% of its parameters with randomized
# SVD and reports the wall time and peak RSS (the target on the 2-core machine: <= 5 minutes).
# Usage: benchmarks/compress_phi15.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build="${1:-build}"
work="${2:-/tmp/qcw-bench}"
q="$build/bin/qcompress"
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$work"
[ -f "$work/phi15-f16/config.json" ] || "$q" synth --shape phi-1_5 --dtype F16 --seed 1 --out "$work/phi15-f16"
/usr/bin/time -f "wall %e s, peak RSS %M KB" "$q" compress "$work/phi15-f16" --target-params 0.3 --method svd \
  --randomized --out "$work/phi15-svd30" --replace
"$q" inspect "$work/phi15-svd30" --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print("compressed params", j["params"], "on disk", j["bytes_on_disk"])'
