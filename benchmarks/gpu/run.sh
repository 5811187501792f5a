#!/usr/bin/env bash
# One call on the GPU machine (see ../shared/docs/ENVIRONMENT.md for the image): builds the
# Qt-free core and qcompress against the PyTorch wheel's CUDA LibTorch, then, in priority
# order and each under a time limit:
#   1. Hugging Face PyTorch baseline (in the background while the C++ build runs; pinned to
#      CPUs 0-3, the build to the others),
#   2. CUDA numerics of the engine against transformers (tiny fixture; phi-1.5 shape),
#   3. qcompress bench of a phi-1.5-shaped bf16 model: batch 1 with and without CUDA graphs,
#      batch 8 decode and 8 x 512 prefill,
#   4. training the demo model on CUDA, bf16 autocast against fp32, same steps,
#   5. the same model compressed to 30% of its parameters (SVD), benched as in 3,
#   6. the loss-weighted rank search of the demo model with its forward passes on CUDA.
# Usage (repo root): OUT=/some/dir benchmarks/gpu/run.sh   -- results: $OUT/results.tgz, $OUT/run.log
set -u
DEST=${OUT:-/tmp/qcw-gpu-out}
W=${WORK:-/tmp/qcw-gpu}
OUT="$W/results"   # everything lands here; packed into $DEST/results.tgz at the end
mkdir -p "$OUT" "$DEST"
trap 'tar czf "$DEST/results.tgz" -C "$OUT" . 2>/dev/null; cp "$OUT/run.log" "$DEST/run.log" 2>/dev/null' EXIT
exec > >(tee -a "$OUT/run.log") 2>&1
T0=$(date +%s)
BUDGET=${BUDGET:-540}   # seconds; later steps are skipped when less than their need is left
el() { echo $(( $(date +%s) - T0 )); }
log() { echo "[$(el)s] $*"; }
left() { echo $(( BUDGET - $(el) )); }
B=${BUILD:-$PWD/build-gpu}

log "machine: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
log "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc)"
python3 -c 'import torch,transformers;print("torch",torch.__version__,"cuda",torch.version.cuda,"transformers",transformers.__version__)'

# 1. Hugging Face baseline in the background.
taskset -c 0-3 timeout 330 python3 benchmarks/gpu/hf_phi_bench.py --config tests/data/phi-1_5-config.json \
  --out "$OUT/hf.json" > "$OUT/hf.log" 2>&1 &
HF=$!

# Build.
mkdir -p /tmp/hdr && for f in .deps/*.deb; do dpkg -x "$f" /tmp/hdr; done
TP=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
GEN=""; command -v ninja >/dev/null && GEN="-G Ninja"
configure() {
  cmake -S . -B "$B" $GEN -DCMAKE_PREFIX_PATH="$TP" -DEigen3_DIR=/tmp/hdr/usr/share/eigen3/cmake \
    -Dnlohmann_json_DIR=/tmp/hdr/usr/share/cmake/nlohmann_json -DCLI11_DIR=/tmp/hdr/usr/share/cmake/CLI11 \
    -DCMAKE_BUILD_TYPE=Release -DQCW_BUILD_UI=OFF -DQCW_BUILD_TESTS=OFF -DQCW_USE_CCACHE=OFF -DQCW_CUDA=$1 > "$OUT/configure.log" 2>&1
}
CUDA_BUILD=ON
configure ON || { log "configure with QCW_CUDA=ON failed:"; tail -20 "$OUT/configure.log"; CUDA_BUILD=OFF; configure OFF; }
log "configured (QCW_CUDA=$CUDA_BUILD)"
if ! taskset -c 4-$(( $(nproc) - 1 )) timeout 330 cmake --build "$B" --target qcompress -j $(( $(nproc) - 4 )) > "$OUT/build.log" 2>&1; then
  log "build failed with QCW_CUDA=$CUDA_BUILD:"; grep -E "error|Error" "$OUT/build.log" | head -30
  if [ "$CUDA_BUILD" = ON ]; then
    CUDA_BUILD=OFF; configure OFF
    taskset -c 4-$(( $(nproc) - 1 )) timeout 200 cmake --build "$B" --target qcompress -j $(( $(nproc) - 4 )) >> "$OUT/build.log" 2>&1 \
      || { log "build failed again"; grep -E "error" "$OUT/build.log" | tail -20; }
  fi
fi
log "built (QCW_CUDA=$CUDA_BUILD)"
Q="$B/bin/qcompress"
[ -x "$Q" ] || { log "no qcompress; stopping"; wait $HF; cat "$OUT/hf.log"; exit 1; }

# 2a. Numerics on the tiny fixture.
timeout 60 python3 benchmarks/gpu/check_cuda_numerics.py --qcompress "$Q" --fixture tests/data/tiny-phi > "$OUT/numerics_tiny.json" 2> "$OUT/numerics_tiny.err"
log "numerics tiny: $(cat "$OUT/numerics_tiny.json"; tail -2 "$OUT/numerics_tiny.err")"

# 3. phi-1.5-shaped model, dense.
timeout 90 "$Q" synth --shape phi-1_5 --out "$W/phi15" --dtype BF16 --spectrum random --replace --json > "$OUT/synth.json" 2>&1
log "synth: $(tail -c 300 "$OUT/synth.json")"
bench() {  # name model args...
  local name=$1 model=$2; shift 2
  timeout 120 "$Q" bench "$model" --device cuda --dtype bfloat16 --json "$@" > "$OUT/bench_$name.json" 2> "$OUT/bench_$name.err"
  log "bench $name: $(cat "$OUT/bench_$name.json" | tr -d '\n' | cut -c1-900) $(tail -2 "$OUT/bench_$name.err")"
}
wait $HF; log "HF baseline done: $(tail -c 1500 "$OUT/hf.log")"
bench dense_b1_graphs "$W/phi15" --prefill-tokens 32 --decode-tokens 128
bench dense_b1_eager "$W/phi15" --prefill-tokens 32 --decode-tokens 128 --no-cuda-graphs
bench dense_b8_graphs "$W/phi15" --prefill-tokens 512 --decode-tokens 64 --batch 8

# 2b. Numerics at the phi-1.5 shape.
[ "$(left)" -gt 300 ] && { timeout 90 python3 benchmarks/gpu/check_cuda_numerics.py --qcompress "$Q" --snapshot "$W/phi15" > "$OUT/numerics_phi15.json" 2> "$OUT/numerics_phi15.err"; log "numerics phi15: $(cat "$OUT/numerics_phi15.json"; tail -2 "$OUT/numerics_phi15.err")"; }

# 4. Training the demo model on CUDA: bf16 autocast, then fp32, same steps and data.
if [ "$(left)" -gt 240 ]; then
  timeout 60 "$Q" data build --in resources/corpus --out "$W/ds" --tokenizer resources/models/demo-phi/tokenizer.json > "$OUT/data.log" 2>&1 || tail -3 "$OUT/data.log"
  for mode in bf16 fp32; do
    extra=""; [ $mode = fp32 ] && extra="--no-autocast"
    rm -rf "$W/train-$mode"
    timeout 90 "$Q" train --student resources/models/demo-phi --data "$W/ds" --out "$W/train-$mode" --steps 60 --batch 16 \
      --seq-len 256 --lr 3e-4 --warmup 5 --eval-every 30 --device cuda $extra --json > "$OUT/train_$mode.json" 2> "$OUT/train_$mode.err"
    log "train $mode: $(cat "$OUT/train_$mode.json" | tr -d '\n' | cut -c1-700) $(tail -2 "$OUT/train_$mode.err")"
  done
fi

# 5. Compressed to 30% of the parameters.
if [ "$(left)" -gt 120 ]; then
  timeout $(( $(left) - 60 )) "$Q" compress "$W/phi15" --target-params 0.3 --method svd --randomized --out "$W/phi15-30" --replace \
    > "$OUT/compress.log" 2>&1
  log "compress: rc=$? $(grep -E 'params|seconds' "$OUT/compress.log" | tail -3)"
  if [ -d "$W/phi15-30" ]; then
    bench svd30_b1_graphs "$W/phi15-30" --prefill-tokens 32 --decode-tokens 128
    [ "$(left)" -gt 20 ] && bench svd30_b1_eager "$W/phi15-30" --prefill-tokens 32 --decode-tokens 128 --no-cuda-graphs
    [ "$(left)" -gt 20 ] && bench svd30_b8_graphs "$W/phi15-30" --prefill-tokens 512 --decode-tokens 64 --batch 8
  fi
fi
# 6. Loss-weighted rank search with the forward passes on CUDA (the demo model; 148 loss evaluations).
if [ "$(left)" -gt 60 ] && [ -d "$W/ds" ]; then
  timeout 60 "$Q" ranks resources/models/demo-phi --target-params 0.3 --solver exact --weighting loss --calib-data "$W/ds" \
    --calib-windows 8 --calib-length 256 --device cuda --json > "$OUT/ranks_loss_cuda.json" 2> "$OUT/ranks_loss_cuda.err"
  log "ranks loss cuda: rc=$? $(python3 -c 'import json,sys;j=json.load(open(sys.argv[1]));print(j["objective"],j["uniform_objective"],j["seconds_total"])' "$OUT/ranks_loss_cuda.json" 2>/dev/null) $(tail -2 "$OUT/ranks_loss_cuda.err")"
fi
log "done"
