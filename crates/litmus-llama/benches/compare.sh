#!/usr/bin/env bash
# Runs llama.cpp's own benchmarks and the litmus engine's example benchmark on the
# same model and thread count, one after the other, so the ratios come from one run.
#
# Usage: crates/litmus-llama/benches/compare.sh [MODEL.gguf] [THREADS]
# Needs llama.cpp's tools (../../shared/tools/llama-reference.sh builds them into
# ~/.cache/llama-reference/bin, or set LLAMA_BIN) and builds the example with
# RUSTFLAGS="-C target-cpu=native" (llama.cpp is otherwise compiled for baseline x86-64).
set -euo pipefail
model=${1:-${LITMUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/litmus/models}/gemma-3-270m-q4_k_m.gguf}
threads=${2:-2}
bin=${LLAMA_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/llama-reference/bin}
root=$(cd "$(dirname "$0")/../../.." && pwd)
export RUSTFLAGS="${RUSTFLAGS:--C target-cpu=native}"
(cd "$root" && cargo build --release -p litmus-llama --example bench)
ex=${CARGO_TARGET_DIR:-$root/target}/release/examples/bench

echo "## llama-bench (pp512, tg128), $threads threads"
"$bin/llama-bench" -m "$model" -t "$threads" -p 512 -n 128 -r 5
echo "## llama-batched-bench: 128 shared prompt + 128 generated, 1 and 8 sequences"
"$bin/llama-batched-bench" -m "$model" -t "$threads" -c 4096 -b 2048 -ub 512 -npp 128 -ntg 128 -npl 1,8 -pps 2>/dev/null | grep -E '^\|'
echo "## llama-batched-bench: 30 prompt + 80 generated, 32 sequences"
"$bin/llama-batched-bench" -m "$model" -t "$threads" -c 4096 -b 2048 -ub 512 -npp 30 -ntg 80 -npl 32 2>/dev/null | grep -E '^\|'
echo "## litmus engine (examples/bench.rs)"
"$ex" --model "$model" --threads "$threads"
