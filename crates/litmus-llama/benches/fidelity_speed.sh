#!/usr/bin/env bash
# Teacher-forced scoring speed vs llama.cpp's prompt processing, in the same
# invocation, ROUNDS times:
#   1. `llama-bench -p 512 -n 0 --repack 0` (pp512), with llama.cpp's default
#      tiled K-quant kernel and with GGML_CPU_TILED_MM=0 (litmus's default);
#   2. litmus's examples/fidelity_speed on the same model and threads (no
#      logits; llama-perplexity's half-chunk logits; every position's logits
#      at each micro-batch size in UBATCHES), which prints llama_decode's own
#      rate next to the wall-clock rate: the floor with every logit;
#   3. llama-perplexity on the same text, wall time including the model
#      load, and the seconds per pass it reports itself. It asks for the
#      logits of the second half of each chunk only (what it scores; its
#      --kl-divergence-base file holds those), so it compares with litmus's
#      "second half scored" line; no llama.cpp tool decodes with every
#      position's logits, which is what fidelity_speed's "llama_decode alone"
#      rate of the "every position" line measures.
#
#   CARGO_TARGET_DIR=... bash crates/litmus-llama/benches/fidelity_speed.sh [THREADS] [ROUNDS] [MODEL]
#   (UBATCHES=512,256,128 by default)
set -euo pipefail
threads=${1:-2}
rounds=${2:-2}
model=${3:-$HOME/.cache/litmus/models/gemma-3-270m-q4_k_m.gguf}
ubatches=${UBATCHES:-512,256,128}
bin=${LLAMA_REFERENCE_BIN:-$HOME/.cache/llama-reference/bin}
here=$(cd "$(dirname "$0")/../../.." && pwd)
cargo build --release -q -p litmus-llama --example fidelity_speed --manifest-path "$here/Cargo.toml"
example=${CARGO_TARGET_DIR:-$here/target}/release/examples/fidelity_speed
text=$here/crates/litmus-llama/tests/data/coriolanus.txt
for r in $(seq 1 "$rounds"); do
  echo "== round $r: $(date -Is) load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$bin/llama-bench" -m "$model" -t "$threads" -p 512 -n 0 -r 3 --repack 0 -o md 2>/dev/null | grep -E "pp512" | sed 's/^/llama-bench (tiled kernel on):  /'
  GGML_CPU_TILED_MM=0 "$bin/llama-bench" -m "$model" -t "$threads" -p 512 -n 0 -r 3 --repack 0 -o md 2>/dev/null | grep -E "pp512" | sed 's/^/llama-bench GGML_CPU_TILED_MM=0: /'
  GGML_CPU_TILED_MM=0 "$example" "$model" "$threads" "$ubatches"
  start=$(date +%s.%N)
  out=$(GGML_CPU_TILED_MM=0 "$bin/llama-perplexity" -m "$model" -f "$text" -c 512 -t "$threads" --no-repack 2>&1)
  end=$(date +%s.%N)
  chunks=$(grep -oE "over [0-9]+ chunks" <<<"$out" | grep -oE "[0-9]+")
  n_seq=$(grep -oE "n_seq=[0-9]+" <<<"$out" | head -1 | cut -d= -f2)
  per_pass=$(grep -oE "[0-9.]+ seconds per pass" <<<"$out" | head -1)
  echo "llama-perplexity (second half's logits, GGML_CPU_TILED_MM=0): $chunks × 512 tokens in $(echo "$end - $start" | bc) s including load: $(echo "$chunks * 512 / ($end - $start)" | bc -l | cut -c1-6) tokens/s; it reports $per_pass for $n_seq chunks ($(echo "$n_seq * 512 / ${per_pass%% *}" | bc -l | cut -c1-6) tokens/s)"
done
