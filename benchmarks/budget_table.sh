#!/usr/bin/env bash
# Quality per byte on the demo model (issue 16): byte-budget compressions (searched and
# uniform allocations) against llama.cpp's F16, Q8_0 and Q4_0 files of the same model, every
# model scored by one scorer (benchmarks/score_logits.py) on the same held-out tokens: the
# first NWIN windows of 256 tokens of the demo data's eval split (78 windows: 19,890 scored
# tokens). Ours: `qcompress forward` logits; llama.cpp's: windows_logits.mjs.
# Usage: benchmarks/budget_table.sh            (env: QCOMPRESS, MODEL, WORK, DATA, LLAMA_DIR, NWIN, BITS)
# Needs /usr/bin/python3 with python3-numpy, llama.cpp installed by ../shared/tools/llamacpp/install.sh,
# and the demo data (benchmarks/demo_report.sh builds it; needs python3.11-doc).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
q="${QCOMPRESS:-$here/build/bin/qcompress}"
model="${MODEL:-$here/resources/models/demo-phi}"
work="${WORK:-/tmp/qcw-budget}"
data="${DATA:-/tmp/qcw-demo/data}"
llama="${LLAMA_DIR:-/tmp/llamacpp}"
nwin="${NWIN:-78}"
tools="$here/../shared/tools/llamacpp"
[ -d "$tools" ] || tools="$here/../../shared/tools/llamacpp"
py=/usr/bin/python3
score="$here/benchmarks/score_logits.py"
mkdir -p "$work"
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$work/machine.txt"

# The held-out tokens: the eval split's records joined, tokenized, cut into windows of 256.
if [ ! -f "$work/ids.bin" ]; then
  $py -c 'import json,sys; print("\n\n".join(json.loads(l)["text"] for l in open(sys.argv[1])), end="")' "$data/eval.jsonl" > "$work/eval.txt"
  "$q" tokenize "$model" --text-file "$work/eval.txt" --json > "$work/ids.json"
  $py - "$work" "$nwin" <<'PY'
import array, json, struct, sys
work, n = sys.argv[1], int(sys.argv[2]); T = 256
ids = json.load(open(f"{work}/ids.json"))["ids"][: n * T]
assert len(ids) == n * T, "not enough held-out tokens"
open(f"{work}/ids.bin", "wb").write(array.array("i", ids).tobytes())
data = array.array("q", ids).tobytes()
h = json.dumps({"input_ids": {"dtype": "I64", "shape": [n, T], "data_offsets": [0, len(data)]}}).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(f"{work}/ids.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
fi
ours() {  # NAME DIR: perplexity and bytes of one of our models. `forward` runs 13 windows at a
  # time: one batch of all 78 windows gave a different (wrong) perplexity on this build.
  local c total=0
  : > "$work/chunks-$1.jsonl"
  for c in $(seq 0 13 $((nwin - 1))); do
    $py - "$work" "$c" "$nwin" <<'PY'
import array, json, struct, sys
work, c, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]); T = 256; k = min(13, n - c)
ids = array.array("i"); ids.frombytes(open(f"{work}/ids.bin", "rb").read())
sub = ids[c * T:(c + k) * T]
open(f"{work}/chunk.bin", "wb").write(sub.tobytes())
data = array.array("q", list(sub)).tobytes()
h = json.dumps({"input_ids": {"dtype": "I64", "shape": [k, T], "data_offsets": [0, len(data)]}}).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(f"{work}/chunk.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
open(f"{work}/chunk.n", "w").write(str(k))
PY
    "$q" forward "$2" --ids "$work/chunk.safetensors" --out "$work/logits.safetensors" > /dev/null 2>&1
    $py "$score" "$work/chunk.bin" "$(cat "$work/chunk.n")" 256 "$work/logits.safetensors" >> "$work/chunks-$1.jsonl"
  done
  $py -c 'import json,math,sys; r=[json.loads(l) for l in open(sys.argv[1])]; t=sum(x["tokens"] for x in r); n=sum(x["nll"]*x["tokens"] for x in r)/t; print(json.dumps({"ppl":math.exp(n),"nll":n,"tokens":t}))' \
    "$work/chunks-$1.jsonl" > "$work/score-$1.json"
  stat -c %s "$2/model.safetensors" > "$work/bytes-$1.txt"
  rm -f "$work/logits.safetensors"
}
theirs() {  # TYPE: llama.cpp's file of the same model
  [ -f "$work/demo-$1.gguf" ] || $py "$tools/phi_to_gguf.py" "$model" "$work/demo-$1.gguf" --outtype "$1" > /dev/null
  (cd "$llama" && node windows_logits.mjs "$work/demo-$1.gguf" "$work/ids.bin" "$nwin" 256 "$work/logits-$1.bin" > /dev/null)
  $py "$score" "$work/ids.bin" "$nwin" 256 "$work/logits-$1.bin" > "$work/score-llama-$1.json"
  $py "$score" gguf-bytes "$work/demo-$1.gguf" > "$work/bytes-llama-$1.txt"
  rm -f "$work/logits-$1.bin"
}
[ -f "$work/score-dense.json" ] || ours dense "$model"
for t in q4_0 q8_0 f16; do [ -s "$work/score-llama-$t.json" ] || theirs "$t"; done
q4bytes=$(cat "$work/bytes-llama-q4_0.txt")
calib=(--calib-data "$data" --calib-windows 32 --calib-length 256)
# Targets: Q4_0's bytes, 60% of them, and 4, 3 and 2.5 bits per parameter, searched and uniform.
run() {  # NAME ARGS...
  [ -s "$work/score-$1.json" ] && return 0
  "$q" compress "$model" "${@:2}" "${calib[@]}" --out "$work/m-$1" --replace --json > "$work/compress-$1.json"
  ours "$1" "$work/m-$1"
}
run q4size --target-size "$q4bytes"
run q4size60 --target-size $((q4bytes * 60 / 100))
for b in ${BITS:-4 3 2.5}; do
  run "search-$b" --target-bits "$b"
  run "uniform-$b" --target-bits "$b" --allocation uniform
done
run "rtn-4" --target-bits 4 --no-gptq
$py - "$work" "$(cat "$work/bytes-dense.txt")" <<'PY'
import glob, json, os, sys
work, dense_bytes = sys.argv[1], int(sys.argv[2])
params = json.load(open(glob.glob(f"{work}/compress-*.json")[0]))["params_before"]
rows = []
for f in sorted(glob.glob(f"{work}/score-*.json")):
    name = os.path.basename(f)[6:-5]
    s = json.load(open(f))
    b = int(open(f"{work}/bytes-{name}.txt").read())
    rows.append((b, name, s["ppl"]))
dense = next(p for b, n, p in rows if n == "dense")
print(f"{params:,} parameters; {rows and json.load(open(glob.glob(f'{work}/score-dense.json')[0]))['tokens']:,} scored tokens\n")
print("| model | bytes of weights | bits per parameter | perplexity | vs dense |")
print("|---|---|---|---|---|")
for b, n, p in sorted(rows, reverse=True):
    print(f"| {n} | {b/1e6:.2f} MB | {8*b/params:.2f} | {p:.2f} | {100*(p/dense-1):+.2f}% |")
PY
