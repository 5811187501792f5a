#!/usr/bin/env bash
# Dense vs 30%-compressed phi-1.5-shaped model on this machine's CPU, side by side in one run:
# load time, peak RSS, prefill and decode speed (batch 1), and their ratios.
# Needs the checkpoints of load_phi15.sh and compress_phi15.sh.
# Usage: benchmarks/speed_phi15.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build="${1:-build}"
work="${2:-/tmp/qcw-bench}"
q="$build/bin/qcompress"
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for m in phi15-f16 phi15-svd30; do
  [ -f "$work/$m/config.json" ] || { echo "missing $work/$m: run load_phi15.sh and compress_phi15.sh first" >&2; exit 1; }
done
"$q" bench "$work/phi15-f16" --prefill-tokens 64 --decode-tokens 16 --threads "$(nproc)" --json > "$work/speed-dense.json"
"$q" bench "$work/phi15-svd30" --prefill-tokens 64 --decode-tokens 16 --threads "$(nproc)" --json > "$work/speed-svd30.json"
python3 - "$work/speed-dense.json" "$work/speed-svd30.json" <<'PY'
import json, sys
d, c = (json.load(open(p)) for p in sys.argv[1:3])
print("| | dense | compressed to 30% (SVD) | ratio |")
print("|---|---|---|---|")
print(f"| parameters | {d['params']:,} | {c['params']:,} | {c['params']/d['params']:.3f} |")
print(f"| peak RSS (MB) | {d['peak_memory_mb']:.0f} | {c['peak_memory_mb']:.0f} | {c['peak_memory_mb']/d['peak_memory_mb']:.3f} |")
print(f"| load (s) | {d['load_seconds']:.1f} | {c['load_seconds']:.1f} | {c['load_seconds']/d['load_seconds']:.3f} |")
print(f"| prefill 1x64 (tok/s) | {d['prefill_tok_s']:.1f} | {c['prefill_tok_s']:.1f} | {c['prefill_tok_s']/d['prefill_tok_s']:.2f}x |")
print(f"| decode batch 1 (tok/s) | {d['decode_tok_s']:.2f} | {c['decode_tok_s']:.2f} | {c['decode_tok_s']/d['decode_tok_s']:.2f}x |")
PY
