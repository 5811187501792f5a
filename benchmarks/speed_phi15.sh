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
# The quantization baseline users would pick instead: int8 weights, per output channel.
[ -f "$work/phi15-int8/config.json" ] || "$q" compress "$work/phi15-f16" --method int8 --target-params 1 --out "$work/phi15-int8" >&2
for m in f16 svd30 int8; do
  "$q" bench "$work/phi15-$m" --prefill-tokens 64 --decode-tokens 16 --threads "$(nproc)" --json > "$work/speed-$m.json"
done
python3 - "$work/speed-f16.json" "$work/speed-svd30.json" "$work/speed-int8.json" "$work" <<'PY'
import json, os, sys
d, c, q = (json.load(open(p)) for p in sys.argv[1:4])
disk = lambda m: sum(os.path.getsize(os.path.join(sys.argv[4], m, f)) for f in os.listdir(os.path.join(sys.argv[4], m)))
print("| | dense (fp16 file, fp32 compute) | SVD to 30% | ratio | int8 weights | ratio |")
print("|---|---|---|---|---|---|")
print(f"| parameters | {d['params']:,} | {c['params']:,} | {c['params']/d['params']:.3f} | {q['params']:,} | {q['params']/d['params']:.3f} |")
print(f"| on disk (MB) | {disk('phi15-f16')/1e6:.0f} | {disk('phi15-svd30')/1e6:.0f} | {disk('phi15-svd30')/disk('phi15-f16'):.3f} | {disk('phi15-int8')/1e6:.0f} | {disk('phi15-int8')/disk('phi15-f16'):.3f} |")
print(f"| peak RSS (MB) | {d['peak_memory_mb']:.0f} | {c['peak_memory_mb']:.0f} | {c['peak_memory_mb']/d['peak_memory_mb']:.3f} | {q['peak_memory_mb']:.0f} | {q['peak_memory_mb']/d['peak_memory_mb']:.3f} |")
print(f"| load (s) | {d['load_seconds']:.1f} | {c['load_seconds']:.1f} | {c['load_seconds']/d['load_seconds']:.3f} | {q['load_seconds']:.1f} | {q['load_seconds']/d['load_seconds']:.3f} |")
print(f"| prefill 1x64 (tok/s) | {d['prefill_tok_s']:.1f} | {c['prefill_tok_s']:.1f} | {c['prefill_tok_s']/d['prefill_tok_s']:.2f}x | {q['prefill_tok_s']:.1f} | {q['prefill_tok_s']/d['prefill_tok_s']:.2f}x |")
print(f"| decode batch 1 (tok/s) | {d['decode_tok_s']:.2f} | {c['decode_tok_s']:.2f} | {c['decode_tok_s']/d['decode_tok_s']:.2f}x | {q['decode_tok_s']:.2f} | {q['decode_tok_s']/d['decode_tok_s']:.2f}x |")
PY
