#!/usr/bin/env bash
# A whole eval run through the harness against llama-batched-bench, same model, same threads.
#
# Usage: crates/litmus-llama/benches/whole_run.sh [ROUNDS] [OTHER_SHORT_RUN_BINARY]
#
# Each round runs, back to back:
#   llama-batched-bench -npp 30 -ntg 80 -npl 32 (S_TG: generation of full 32-sequence steps)
#   the short_run example (40 text evals x 5 samples, 80 tokens, 32 sequences; wall time
#   from the first request to the last sample scored)
#   the same with the engine on a thread of the harness (LITMUS_LLAMA_ISOLATION=thread)
#   instead of an engine worker process (the default)
#   optionally another build of short_run (e.g. an older commit) for a before/after
# llama-batched-bench runs without weight repacking, as litmus does by default.
# Compare within a round: this machine's speed drifts by several percent within minutes.
# Needs llama.cpp's tools (scripts/llama-tools.sh, or set LLAMA_BIN) and the
# default model in the litmus cache (any `cargo eval` fetches it).
set -euo pipefail
rounds=${1:-3}
other=${2:-}
root=$(cd "$(dirname "$0")/../../.." && pwd)
model=${LITMUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/litmus/models}/gemma-3-270m-q4_k_m.gguf
bin=${LLAMA_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/llama-reference/bin}
cfg=$root/crates/litmus/examples/short_run.toml
(cd "$root" && cargo build --release -p litmus --example short_run >&2)
ex=${CARGO_TARGET_DIR:-$root/target}/release/examples/short_run
run() { "$1" --config "$cfg" --no-cache --quiet --no-snapshots 2>&1 | awk '$1 == "gemma3-270m" { print $(NF-2) }'; }
for r in $(seq 1 "$rounds"); do
  echo "## round $r $(date +%T) (load $(cut -d' ' -f1-3 /proc/loadavg))"
  s_tg=$("$bin/llama-batched-bench" -m "$model" -t 2 -c 8192 -b 2048 -ub 512 -npp 30 -ntg 80 -npl 32 --no-repack 2>/dev/null |
    awk -F'|' '$4+0 == 32 && $2 ~ /[0-9]/ { gsub(/ /, "", $9); print $9 }')
  echo "llama-batched-bench S_TG $s_tg t/s"
  now=$(run "$ex")
  echo "litmus whole run $now t/s, ratio $(echo "$now / $s_tg" | bc -l | cut -c1-4)x"
  thread=$(LITMUS_LLAMA_ISOLATION=thread run "$ex")
  echo "litmus whole run, engine on a thread: $thread t/s, ratio $(echo "$thread / $s_tg" | bc -l | cut -c1-4)x"
  if [ -n "$other" ]; then
    was=$(run "$other")
    echo "other build $was t/s, ratio $(echo "$was / $s_tg" | bc -l | cut -c1-4)x"
  fi
done
