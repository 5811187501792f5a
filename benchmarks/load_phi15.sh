#!/usr/bin/env bash
# Loads a synthetic phi-1.5-shaped checkpoint (1.42 B parameters, fp16 on disk, as the real
# microsoft/phi-1_5 is published) and reports load time and peak RSS against the fp32 size.
# Usage: benchmarks/load_phi15.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build="${1:-build}"
work="${2:-/tmp/qcw-bench}"
q="$build/bin/qcompress"
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; $(free -g | awk '/Mem:/{print $2}') GiB"
mkdir -p "$work"
if [ ! -f "$work/phi15-f16/config.json" ]; then
  /usr/bin/time -f "synth: %e s, peak RSS %M KB" "$q" synth --shape phi-1_5 --dtype F16 --seed 1 --out "$work/phi15-f16"
fi
du -sh "$work/phi15-f16"
sync
"$q" bench "$work/phi15-f16" --prefill-tokens 64 --decode-tokens 8 --json | tee "$work/load.json"
python3 - "$work/load.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
fp32 = j["params"] * 4 / 1e6
print(f"params {j['params']:,}; fp32 size {fp32:.0f} MB; fp16 file {j['bytes_on_disk']/1e6:.0f} MB")
print(f"load {j['load_seconds']:.1f} s; peak RSS after load {j['peak_rss_after_load_mb']:.0f} MB "
      f"= {j['peak_rss_after_load_mb']/fp32:.3f} x fp32 size (target <= 1.25)")
print(f"prefill {j['prefill_tok_s']:.1f} tok/s, decode {j['decode_tok_s']:.2f} tok/s (batch {j['batch']}, fp32 on CPU)")
PY
