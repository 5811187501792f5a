#!/usr/bin/env bash
# Aggregate tokens/s of `qcompress serve` with 1 and with 4 slots under 16 concurrent streaming
# clients, one stream alone, and `qcompress bench` on the same model for comparison. Loopback only.
# Usage: benchmarks/serve_load.sh [BUILD_DIR] [MODEL] [MAX_TOKENS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
model="${2:-$here/../resources/models/demo-phi}"
max="${3:-64}"
q="$build/bin/qcompress"
name="$(basename "$model")"
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: $("$q" bench "$model" --decode-tokens "$max" --json 2>/dev/null)"
for slots in 1 4; do
  log="$(mktemp)"
  "$q" serve "$model" --port 0 --parallel "$slots" --queue 32 --api-key bench --quiet 2>"$log" &
  pid=$!
  until grep -q "ready on" "$log"; do sleep 0.2; kill -0 "$pid" || { cat "$log"; exit 1; }; done
  port="$(sed -n 's|.*ready on http://127.0.0.1:\([0-9]*\)/v1.*|\1|p' "$log")"
  for clients in 1 16; do
    echo "slots $slots, clients $clients: $(python3 "$here/serve_load.py" --base "http://127.0.0.1:$port" --key bench \
      --model "$name" --clients "$clients" --max-tokens "$max")"
  done
  kill -TERM "$pid"; wait "$pid" || true; rm -f "$log"
done
