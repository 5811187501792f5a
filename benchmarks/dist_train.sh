#!/usr/bin/env bash
# Data-parallel training throughput: the same full fine-tune (a synthetic "small" Phi, 8.4 M
# parameters, random token windows) as 1 process and as 2 ranks of `qcompress launch` (Gloo
# over localhost), side by side in one run. Reports tokens/s and, from the step logs, the
# all-reduce time per step against the step time. On a 2-core machine two ranks share the
# same two cores, so little speed-up is expected: the figure that transfers is the share of
# the step spent in the all-reduce.
# Usage: benchmarks/dist_train.sh [BUILD_DIR] [WORK_DIR] [STEPS]
set -euo pipefail
build="${1:-build}"
work="${2:-/tmp/qcw-bench-dist}"
steps="${3:-30}"
q="$(cd "$(dirname "$build/bin/qcompress")" && pwd)/qcompress"
cores=$(nproc)
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $cores cores"
rm -rf "$work"
mkdir -p "$work/data"
"$q" synth --shape small --dtype F32 --seed 1 --spectrum init --out "$work/model" >/dev/null
python3 - "$work/data/ids.safetensors" <<'PY'
import json, random, struct, sys
rows, length = 128, 128
random.seed(5)
ids = [random.randrange(4096) for _ in range(rows * length)]
header = json.dumps({"input_ids": {"dtype": "I64", "shape": [rows, length], "data_offsets": [0, 8 * rows * length]}}).encode()
header += b" " * (-len(header) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header + struct.pack(f"<{rows * length}q", *ids))
PY
common=(--student "$work/model" --data "$work/data" --steps "$steps" --batch 8 --lr 1e-4 --save-every 0 --save-minutes 0 --json)
# Three runs back to back: 1 process with 1 thread (the per-rank work of the 2-rank run),
# 1 process with every core, 2 ranks of cores/2 threads.
echo "1 process, 1 thread:"
nice -n 10 "$q" train "${common[@]}" --out "$work/one1" --threads 1 --step-log "$work/one1.log" > "$work/one1.json"
echo "1 process, $cores threads:"
nice -n 10 "$q" train "${common[@]}" --out "$work/one" --threads "$cores" --step-log "$work/one.log" > "$work/one.json"
echo "2 processes, $((cores / 2 > 0 ? cores / 2 : 1)) thread(s) each:"
nice -n 10 "$q" launch --nproc 2 train "${common[@]}" --out "$work/two" --step-log "$work/two.log" > "$work/two.json"
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work" "$steps" <<'PY'
import json, sys, statistics
work, steps = sys.argv[1], int(sys.argv[2])
def lines(p):
    return [json.loads(l) for l in open(p) if l.strip()]
one, two = json.load(open(f"{work}/one.json")), json.load(open(f"{work}/two.json"))
one1 = json.load(open(f"{work}/one1.json"))
r0, r1 = lines(f"{work}/two.log.rank0"), lines(f"{work}/two.log.rank1")
skip = 2  # the first steps warm up the allocator
def med(rows, key):
    return statistics.median(r[key] for r in rows[skip:])
print(f"tokens/s: 1 process x 1 thread {one1['tokens_per_s']:.0f}, 1 process x all cores {one['tokens_per_s']:.0f}, "
      f"2 processes {two['tokens_per_s']:.0f} (2 processes / 1 process all cores {two['tokens_per_s'] / one['tokens_per_s']:.2f}, "
      f"/ 1 process 1 thread {two['tokens_per_s'] / one1['tokens_per_s']:.2f})")
for name, rows in (("rank 0", r0), ("rank 1", r1)):
    st, ar = med(rows, "step_s"), med(rows, "allreduce_s")
    print(f"{name}: median step {st * 1000:.1f} ms, all-reduce {ar * 1000:.1f} ms = {ar / st:.1%} of the step")
print(f"1 process: median step {med(lines(f'{work}/one1.log'), 'step_s') * 1000:.1f} ms (1 thread), "
      f"{med(lines(f'{work}/one.log'), 'step_s') * 1000:.1f} ms (all cores)")
same = all(a["weights"] == b["weights"] for a, b in zip(r0, r1))
print(f"weights equal on both ranks after every step: {same}; final loss 1 process {one['final_loss']:.6f} / "
      f"{one1['final_loss']:.6f}, 2 processes {two['final_loss']:.6f}")
PY
