#!/usr/bin/env bash
# Teacher-forced scoring speed vs llama.cpp's prompt processing, in the same
# invocation: ROUNDS rounds of `llama-bench -p 512 -n 0` (pp512), then
# litmus's examples/fidelity_speed on the same model and threads (no logits,
# llama-perplexity's half-chunk logits, every position's logits), then
# llama-perplexity itself on the same text (its logits for every position).
#
#   CARGO_TARGET_DIR=... bash crates/litmus-llama/benches/fidelity_speed.sh [THREADS] [ROUNDS] [MODEL]
set -euo pipefail
threads=${1:-2}
rounds=${2:-2}
model=${3:-$HOME/.cache/litmus/models/gemma-3-270m-q4_k_m.gguf}
bin=${LLAMA_REFERENCE_BIN:-$HOME/.cache/llama-reference/bin}
here=$(cd "$(dirname "$0")/../../.." && pwd)
cargo build --release -q -p litmus-llama --example fidelity_speed --manifest-path "$here/Cargo.toml"
example=${CARGO_TARGET_DIR:-$here/target}/release/examples/fidelity_speed
text=$here/crates/litmus-llama/tests/data/coriolanus.txt
for r in $(seq 1 "$rounds"); do
  echo "== round $r: $(uptime)"
  "$bin/llama-bench" -m "$model" -t "$threads" -p 512 -n 0 -r 3 -o md 2>/dev/null | grep -E "pp512|model"
  "$example" "$model" "$threads"
  start=$(date +%s.%N)
  out=$("$bin/llama-perplexity" -m "$model" -f "$text" -c 512 -t "$threads" 2>&1)
  end=$(date +%s.%N)
  chunks=$(grep -oE "over [0-9]+ chunks" <<<"$out" | grep -oE "[0-9]+")
  echo "llama-perplexity (every position's logits): $chunks × 512 tokens in $(echo "$end - $start" | bc) s, including load: $(echo "$chunks * 512 / ($end - $start)" | bc -l | cut -c1-6) tokens/s"
done
