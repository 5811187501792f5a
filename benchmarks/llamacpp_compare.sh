#!/usr/bin/env bash
# qcompress against llama.cpp on this machine's CPU, side by side: the same phi-1.5-shaped
# checkpoint (1.42 B parameters, random fp16 weights) in our engine (dense and compressed, each
# weights form) and in llama.cpp (F16, Q8_0, Q4_0 GGUFs converted from the same file), run
# alternately, ROUNDS rounds, medians. Batch 1, 2 threads, 64-token prompt, 16 decoded tokens.
# Needs ../shared/tools/llamacpp installed into LLAMA_DIR (install.sh) and Debian's python3-numpy.
# Usage: benchmarks/llamacpp_compare.sh [BUILD_DIR] [WORK_DIR] [LLAMA_DIR] [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
work="${2:-/tmp/qcw-bench}"
llama="${3:-/tmp/llamacpp}"
rounds="${4:-3}"
tools="$here/../../shared/tools/llamacpp"
[ -d "$tools" ] || tools="$here/../shared/tools/llamacpp"
q="$(cd "$build" && pwd)/bin/qcompress"
np=64
ng=16
mkdir -p "$work"
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# The checkpoints: the dense fp16 file, SVD to 30% (16-bit and int8 factors), int8 per channel.
[ -f "$work/phi15-f16/config.json" ] || "$q" synth --shape phi-1_5 --dtype F16 --seed 1 --out "$work/phi15-f16"
[ -f "$work/phi15-svd30-f16/config.json" ] || "$q" compress "$work/phi15-f16" --target-params 0.3 --method svd \
  --randomized --store-dtype F16 --out "$work/phi15-svd30-f16" --replace
[ -f "$work/phi15-svd30-i8/config.json" ] || "$q" compress "$work/phi15-f16" --target-params 0.3 --method svd \
  --randomized --int8-factors --store-dtype F16 --out "$work/phi15-svd30-i8" --replace
[ -f "$work/phi15-int8/config.json" ] || "$q" compress "$work/phi15-f16" --target-params 1 --method int8 \
  --store-dtype F16 --out "$work/phi15-int8" --replace
for t in f16 q8_0 q4_0; do
  [ -f "$work/phi15-$t.gguf" ] || /usr/bin/python3 "$tools/phi_to_gguf.py" "$work/phi15-f16" "$work/phi15-$t.gguf" --outtype "$t"
done
[ -f "$llama/bench.mjs" ] || { echo "llama.cpp is not installed in $llama: run $tools/install.sh $llama" >&2; exit 1; }

# name | command (prints one JSON object on its last line)
configs=(
  "ours dense, fp32 compute (before)|$q bench $work/phi15-f16 --weights compute"
  "ours dense f16|$q bench $work/phi15-f16 --weights stored"
  "ours dense int8 file (q8 per row)|$q bench $work/phi15-int8 --weights stored"
  "ours dense q8 (at load)|$q bench $work/phi15-f16 --weights q8"
  "ours dense q4 (at load)|$q bench $work/phi15-f16 --weights q4"
  "ours SVD 30%, f16 factors|$q bench $work/phi15-svd30-f16 --weights stored"
  "ours SVD 30%, int8 factors|$q bench $work/phi15-svd30-i8 --weights stored"
  "llama.cpp F16|node $llama/bench.mjs $work/phi15-f16.gguf $np $ng"
  "llama.cpp Q8_0|node $llama/bench.mjs $work/phi15-q8_0.gguf $np $ng"
  "llama.cpp Q4_0|node $llama/bench.mjs $work/phi15-q4_0.gguf $np $ng"
)
raw="$work/compare-raw.jsonl"
: > "$raw"
for r in $(seq 1 "$rounds"); do
  for c in "${configs[@]}"; do
    name="${c%%|*}"
    cmd="${c#*|}"
    case "$cmd" in
      *qcompress*) cmd="$cmd --prefill-tokens $np --decode-tokens $ng --threads 2 --json" ;;
    esac
    # Peak RSS of the whole process (node's own ~100 MB included for llama.cpp).
    out=$( (cd "$llama" && /usr/bin/time -f "RSSKB %M" $cmd) 2>"$work/compare-stderr.txt" | tail -1 | sed 's/^BENCH //')
    rss=$(grep -o 'RSSKB [0-9]*' "$work/compare-stderr.txt" | tail -1 | cut -d' ' -f2)
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); j["name"]=sys.argv[2]; j["round"]=int(sys.argv[3]); j["rss_kb"]=int(sys.argv[4]); print(json.dumps(j))' \
      "$out" "$name" "$r" "${rss:-0}" >> "$raw"
    echo "round $r: $name done" >&2
  done
done

python3 - "$raw" "$work" <<'PY'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
work = sys.argv[2]
names = list(dict.fromkeys(r["name"] for r in rows))
def med(name, key):
    v = [r[key] for r in rows if r["name"] == name and r.get(key) is not None]
    return statistics.median(v) if v else float("nan")
def size(name):
    r = next(r for r in rows if r["name"] == name)
    if "bytes_on_disk" in r:
        return r["bytes_on_disk"]
    return os.path.getsize(r["model"])
def ready(name):
    return med(name, "ready_seconds") if name.startswith("ours") else med(name, "ready_s")
print(f"rounds: {max(r['round'] for r in rows)}; medians; batch 1, 2 threads, {rows[0].get('prefill_tokens', rows[0].get('n_prompt'))}-token prompt, 16 decoded tokens\n")
print("| engine, weights | file (GB) | weights read per token (GB) | peak RSS (MB) | ready (s) | prefill tok/s | decode tok/s | decode GB/s | step outside linear maps |")
print("|---|---|---|---|---|---|---|---|---|")
for n in names:
    ours = n.startswith("ours")
    per_tok = med(n, "weight_bytes_per_token") / 1e9 if ours else float("nan")
    gbs = med(n, "decode_weight_gb_s") if ours else float("nan")
    share = med(n, "decode_share_outside_linear") if ours else float("nan")
    f = lambda v, fmt: ("" if v != v else format(v, fmt))
    print(f"| {n} | {size(n)/1e9:.2f} | {f(per_tok, '.2f')} | {med(n, 'rss_kb')/1e3:,.0f} | {ready(n):.2f} | "
          f"{med(n, 'prefill_tok_s'):.1f} | {med(n, 'decode_tok_s'):.2f} | {f(gbs, '.1f')} | {f(share * 100 if share == share else share, '.0f')}{'%' if share == share else ''} |")
d = lambda n: med(n, "decode_tok_s")
p = lambda n: med(n, "prefill_tok_s")
print("\nRatios (decode; prefill), the issue's targets in brackets:")
pairs = [("ours dense f16", "llama.cpp F16", "dense 16-bit vs llama.cpp F16 [decode >= 1, prefill >= 1]"),
         ("ours dense int8 file (q8 per row)", "llama.cpp Q8_0", "dense 8-bit (int8 file) vs llama.cpp Q8_0 [decode >= 1]"),
         ("ours dense q8 (at load)", "llama.cpp Q8_0", "dense q8 vs llama.cpp Q8_0 [decode >= 1]"),
         ("ours dense q4 (at load)", "llama.cpp Q4_0", "dense q4 vs llama.cpp Q4_0"),
         ("ours SVD 30%, f16 factors", "ours dense f16", "SVD 30% f16 factors vs our dense 16-bit [decode >= 2.5]"),
         ("ours SVD 30%, int8 factors", "llama.cpp Q8_0", "SVD 30% int8 factors vs llama.cpp Q8_0 [decode >= 2]"),
         ("ours dense f16", "ours dense, fp32 compute (before)", "dense 16-bit, kernels vs the fp32 path before them")]
for a, b, what in pairs:
    if a in names and b in names:
        print(f"- {what}: decode {d(a)/d(b):.2f}x, prefill {p(a)/p(b):.2f}x")
f16 = "ours dense f16"
if f16 in names:
    print(f"- dense 16-bit peak RSS {med(f16, 'rss_kb')/1e3:,.0f} MB against its file {size(f16)/1e6:,.0f} MB + 400 MB "
          f"[target: at most]; ready {ready(f16):.2f} s [target <= 2 s]")
PY
