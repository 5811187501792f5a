#!/usr/bin/env bash
# Reproduces the bundled demo model resources/models/demo-phi: a Phi-architecture model of
# 8.4 M parameters pretrained from scratch with `qcompress train` on
#   - the Python 3.11 documentation sources (Debian package python3.11-doc, the reStructuredText
#     under /usr/share/doc/python3.11/html/_sources; Python Software Foundation License
#     Version 2, see https://docs.python.org/3/license.html), and
#   - the bundled sample corporate corpus (resources/corpus, fictional, written for this
#     project), scrubbed of secrets by `qcompress data build` like any user corpus,
# with its own byte-level BPE tokenizer (4096 tokens) trained on the same scrubbed records.
#
# Usage: scripts/demo/make-demo-model.sh [STEPS]     (default 1100 steps of 8 x 256 tokens)
# Environment: QCOMPRESS (default build/bin/qcompress), WORK (default /tmp/qcw-demo),
#              THREADS (default: all cores), DEVICE (default cpu; cuda on the GPU machine, with
#              bf16 autocast: a qcompress built with benchmarks/gpu/run.sh's recipe). Interrupted? Run it again: training resumes from
#              the newest checkpoint in $WORK/pretrain/checkpoints.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
q="${QCOMPRESS:-$here/build/bin/qcompress}"
work="${WORK:-/tmp/qcw-demo}"
steps="${1:-1100}"
threads="${THREADS:-0}"
docs=/usr/share/doc/python3.11/html/_sources
out="$here/resources/models/demo-phi"

if [ ! -d "$docs" ]; then
  echo "installing python3.11-doc (the English pretraining text)"
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y python3.11-doc; else sudo apt-get install -y python3.11-doc; fi
fi
mkdir -p "$work"

# 1. One scrubbed dataset; 5% of the files (chosen by path) held out as eval.jsonl.
"$q" data build --in "$docs" --in "$here/resources/corpus" --exclude PLANTED_SECRETS.jsonl --no-pairs \
  --max-tokens 1000000 --eval-fraction 0.05 --out "$work/data" --replace --json > "$work/data-manifest.json"

# 2. The tokenizer, trained on the scrubbed training records only.
"$q" tokenize train --corpus "$work/data" --vocab-size 4096 --special "<|endoftext|>" \
  --out "$work/tokenizer.json" --json > "$work/tokenizer-report.json"

# 3. The starting point: N(0, 0.02) weights in the demo shape (scripts/demo/demo-phi-config.json).
"$q" synth --config "$here/scripts/demo/demo-phi-config.json" --spectrum init --dtype F32 --seed 1 \
  --tokenizer "$work/tokenizer.json" --out "$work/init" --replace --json > /dev/null

# 4. Pretraining: AdamW, 50 warmup steps, cosine from 1e-3 to 1e-4, checkpoints every 100 steps.
resume=()
if compgen -G "$work/pretrain/checkpoints/step-*" > /dev/null; then resume=(--resume); fi
"$q" train --student "$work/init" --out "$work/pretrain" --data "$work/data" --steps "$steps" \
  --batch 8 --seq-len 256 --lr 1e-3 --min-lr 1e-4 --warmup 50 --weight-decay 0.1 --clip 1 \
  --eval-every 100 --eval-windows 64 --save-every 100 --seed 1 --threads "$threads" \
  --export-dtype F16 --device "${DEVICE:-cpu}" --json "${resume[@]}" > "$work/pretrain-result.json"

# 5. Install: the exported 16-bit model replaces resources/models/demo-phi as a whole.
mkdir -p "$(dirname "$out")"
rm -rf "$out.tmp" && cp -r "$work/pretrain/model" "$out.tmp"
rm -rf "$out" && mv "$out.tmp" "$out"
"$q" inspect "$out"
echo "wrote $out"
