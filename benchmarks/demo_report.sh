#!/usr/bin/env bash
# Every demo-model figure the README quotes, from one run on this machine:
#   base     held-out perplexity of the demo model against a unigram baseline
#   methods  perplexity against kept fraction (0.9 0.7 0.5 0.3) for svd, asvd, tucker,
#            tucker-xl and tt (issue 4)
#   search   each rank solver's objective against the exact optimum and its time, and searched
#            against uniform ranks at the same parameter count, by perplexity (issue 5)
#   heal     compressed to 30%: perplexity before healing, after distillation, and dense (issue 7)
#   tune     LoRA fine-tuning on the sample corpus: domain multiple-choice accuracy before and
#            after, and the memorisation probe on the planted secrets (issue 7)
#   size     dense, int8 weights, SVD / activation-aware SVD to 30%, and the latter with int8
#            factors: parameters, bytes on disk, perplexity, weights in memory, prefill and decode
#            speed, side by side (issue 8)
# Usage: benchmarks/demo_report.sh [PARTS...]   (default: all of them)
# Environment: QCOMPRESS, MODEL (default resources/models/demo-phi), WORK (default /tmp/qcw-demo),
#              EVAL_TOKENS (held-out tokens scored per perplexity, default 20000),
#              HEAL_STEPS (default 200), TUNE_STEPS (default 150).
# Needs python3 (tables) and the held-out split of scripts/demo/make-demo-model.sh (rebuilt here
# when missing, which needs the python3.11-doc package).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
q="${QCOMPRESS:-$here/build/bin/qcompress}"
model="${MODEL:-$here/resources/models/demo-phi}"
work="${WORK:-/tmp/qcw-demo}"
tokens="${EVAL_TOKENS:-20000}"
heal_steps="${HEAL_STEPS:-200}"
tune_steps="${TUNE_STEPS:-150}"
out="$work/report"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(base methods search heal tune size)
mkdir -p "$out"
machine="$(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; $(free -g | awk '/Mem:/{print $2}') GiB"
echo "machine: $machine; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/machine.txt"
[ -f "$model/config.json" ] || { echo "no demo model at $model: run scripts/demo/make-demo-model.sh" >&2; exit 1; }
data="$work/data"
if [ ! -f "$data/eval.jsonl" ]; then
  [ -d /usr/share/doc/python3.11/html/_sources ] || { echo "needs python3.11-doc for the held-out split" >&2; exit 1; }
  "$q" data build --in /usr/share/doc/python3.11/html/_sources --in "$here/resources/corpus" --exclude PLANTED_SECRETS.jsonl \
    --no-pairs --max-tokens 1000000 --eval-fraction 0.05 --out "$data" --replace --json > /dev/null
fi
ppl() {  # MODEL OUT.json: held-out perplexity on the same EVAL_TOKENS tokens
  "$q" eval "$1" --data "$data" --max-tokens "$tokens" --window 256 --stride 128 --json "${@:3}" > "$2" 2>/dev/null
}
has() { local p; for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

if has base; then
  ppl "$model" "$out/base.json" --unigram "$data"
  "$q" inspect "$model" --json > "$out/inspect.json"
  du -b "$model/model.safetensors" | cut -f1 > "$out/base-bytes.txt"
fi

if has methods; then
  [ -f "$out/base.json" ] || ppl "$model" "$out/base.json"
  for f in 0.9 0.7 0.5 0.3; do
    for m in svd asvd tucker tucker-xl tt; do
      calib=(--calib-data "$data" --calib-windows 32 --calib-length 256)
      [ "$m" = svd ] && calib=()
      "$q" compress "$model" --target-params "$f" --method "$m" "${calib[@]}" --out "$work/m-$m-$f" --replace --json \
        > "$out/compress-$m-$f.json" 2>/dev/null
      ppl "$work/m-$m-$f" "$out/ppl-$m-$f.json"
      echo "methods: $m $f done" >&2
    done
  done
fi

if has search; then
  for s in exact greedy anneal sqa; do
    "$q" ranks "$model" --target-params 0.3 --solver "$s" --seed 1 --json > "$out/ranks-$s.json" 2>/dev/null
  done
  # QAOA simulates a statevector (at most 20 qubits): the full problem is refused with the reason.
  "$q" ranks "$model" --target-params 0.3 --solver qaoa --seed 1 --json > /dev/null 2> "$out/ranks-qaoa.err" || true
  tail -n 1 "$out/ranks-qaoa.err" > "$out/ranks-qaoa.txt"
  # Loss weighting measures each matrix's loss increase on 8 windows of the training split.
  for s in exact anneal; do
    "$q" ranks "$model" --target-params 0.3 --solver "$s" --seed 1 --weighting loss --calib-data "$data" \
      --calib-windows 8 --calib-length 256 --json > "$out/ranks-$s-loss.json" 2>/dev/null
  done
  # Each allocation compresses with each method: the ranks are the only difference between rows.
  for m in svd asvd; do
    calib=(--calib-data "$data" --calib-windows 32 --calib-length 256)
    [ "$m" = svd ] && calib=()
    for s in uniform exact anneal sqa exact-loss anneal-loss; do
      ranks=(--ranks "$out/ranks-$s.json")
      [ "$s" = uniform ] && ranks=()
      "$q" compress "$model" --target-params 0.3 --method "$m" "${calib[@]}" "${ranks[@]}" --seed 1 \
        --out "$work/s-$m-$s" --replace --json > "$out/search-compress-$m-$s.json" 2>/dev/null
      ppl "$work/s-$m-$s" "$out/search-ppl-$m-$s.json"
      echo "search: $m $s done" >&2
    done
  done
fi

if has heal; then
  [ -f "$out/base.json" ] || ppl "$model" "$out/base.json"
  "$q" compress "$model" --target-params 0.3 --method asvd --calib-data "$data" --calib-windows 32 --calib-length 256 \
    --out "$work/heal-student" --replace --json > "$out/heal-compress.json" 2>/dev/null
  ppl "$work/heal-student" "$out/heal-before.json" --teacher "$model"
  rm -rf "$work/heal"
  "$q" train --student "$work/heal-student" --teacher "$model" --out "$work/heal" --data "$data" --steps "$heal_steps" \
    --batch 8 --seq-len 256 --lr 5e-4 --min-lr 5e-5 --warmup 20 --temperature 2 --alpha 0.5 --eval-every 50 \
    --eval-windows 32 --seed 1 --json > "$out/heal-train.json" 2>/dev/null
  ppl "$work/heal/model" "$out/heal-after.json" --teacher "$model"
fi

if has tune; then
  corpus="$work/corpus-data"
  "$q" data build --out "$corpus" --eval-fraction 0.1 --replace --json > "$out/tune-data.json"
  "$q" eval "$model" --mc "$here/tests/data/domain-mc.jsonl" --qa "$corpus/eval.jsonl" --qa-limit 40 --qa-max-new 48 \
    --json > "$out/tune-mc-before.json" 2>/dev/null
  "$q" probe "$model" --json > "$out/tune-probe-before.json" 2>/dev/null
  rm -rf "$work/tune"
  "$q" train --student "$model" --out "$work/tune" --data "$corpus" --steps "$tune_steps" --lora-rank 16 \
    --batch 8 --seq-len 256 --lr 2e-3 --min-lr 2e-4 --warmup 10 --eval-every 25 --seed 1 --json \
    > "$out/tune-train.json" 2>/dev/null
  "$q" eval "$work/tune/model" --mc "$here/tests/data/domain-mc.jsonl" --qa "$corpus/eval.jsonl" --qa-limit 40 \
    --qa-max-new 48 --json > "$out/tune-mc-after.json" 2>/dev/null
  "$q" probe "$work/tune/model" --json > "$out/tune-probe-after.json" 2>/dev/null
  "$q" eval "$work/tune/model" --data "$corpus" --json > "$out/tune-ppl-after.json" 2>/dev/null
  "$q" eval "$model" --data "$corpus" --json > "$out/tune-ppl-before.json" 2>/dev/null
fi

if has size; then
  [ -f "$out/base.json" ] || ppl "$model" "$out/base.json"
  calib=(--calib-data "$data" --calib-windows 32 --calib-length 256)
  "$q" compress "$model" --target-params 1 --method int8 --out "$work/z-int8" --replace --json > "$out/size-compress-int8.json" 2>/dev/null
  "$q" compress "$model" --target-params 0.3 --method svd --out "$work/z-svd30" --replace --json > "$out/size-compress-svd30.json" 2>/dev/null
  "$q" compress "$model" --target-params 0.3 --method asvd "${calib[@]}" --out "$work/z-asvd30" --replace --json \
    > "$out/size-compress-asvd30.json" 2>/dev/null
  "$q" compress "$model" --target-params 0.3 --method asvd "${calib[@]}" --int8-factors --out "$work/z-asvd30-int8" --replace --json \
    > "$out/size-compress-asvd30-int8.json" 2>/dev/null
  for m in int8 svd30 asvd30 asvd30-int8; do ppl "$work/z-$m" "$out/size-ppl-$m.json"; done
  # Speed: each model in its own process, one after the other, the same settings.
  for m in dense int8 svd30 asvd30 asvd30-int8; do
    dir="$work/z-$m"; [ "$m" = dense ] && dir="$model"
    "$q" bench "$dir" --prefill-tokens 128 --decode-tokens 64 --json > "$out/size-bench-$m.json" 2>/dev/null
    du -b "$dir/model.safetensors" | cut -f1 > "$out/size-bytes-$m.txt"
  done
fi

python3 "$here/benchmarks/demo_report_tables.py" "$out" | tee "$out/report.md"
# The Pareto charts and the targets table, drawn by the workbench itself (offscreen).
qcw="$(dirname "$q")/qcw"
if [ -x "$qcw" ] && [ -f "$out/pareto.json" ]; then
  QT_QPA_PLATFORM=offscreen "$qcw" --report-plots "$out" && echo "charts: $out/quality_vs_params.png, $out/quality_vs_decode.png, $out/targets.md"
fi
