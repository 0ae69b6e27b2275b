#!/usr/bin/env bash
# The litmus engine against llama.cpp's own tools, same model, same threads, one run.
#
# Usage: crates/litmus-llama/benches/compare.sh [ROUNDS] [THREADS] [MODEL.gguf]
#
# Each round runs, back to back:
#   llama-bench pp512/tg128        vs  examples/bench pp512 tg128
#   llama-batched-bench 128+128, 1 and 8 sequences sharing the prompt (-pps)
#                                  vs  examples/bench same8
#   llama-batched-bench 30+80, P sequences (P = $PARALLEL, default 32)
#                                  vs  examples/bench short (40 prompts x 5 samples)
# llama.cpp's tools run without weight repacking (`--repack 0`, `--no-repack`), as
# litmus does by default (option `repack`).
# Shared machines are noisy: rounds are interleaved so that both sides see the same
# conditions; compare within a round, and prefer the quietest round (highest figures).
#
# Needs llama.cpp's tools (scripts/llama-tools.sh builds them into
# ~/.cache/llama-reference/bin, or set LLAMA_BIN). Builds the example with
# RUSTFLAGS="-C target-cpu=native" and LLAMA_LIB_PROFILE=Release, as llama.cpp's own
# tools are built (-march=native -O3); set CARGO_TARGET_DIR to a dir used for such builds.
set -euo pipefail
rounds=${1:-3}
threads=${2:-2}
model=${3:-${LITMUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/litmus/models}/gemma-3-270m-q4_k_m.gguf}
parallel=${PARALLEL:-32}
bin=${LLAMA_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/llama-reference/bin}
root=$(cd "$(dirname "$0")/../../.." && pwd)
export RUSTFLAGS="${RUSTFLAGS:--C target-cpu=native}"
export LLAMA_LIB_PROFILE="${LLAMA_LIB_PROFILE:-Release}"
(cd "$root" && cargo build --release -p litmus-llama --example bench >&2)
ex=${CARGO_TARGET_DIR:-$root/target}/release/examples/bench

s_tg() { # S_TG column of llama-batched-bench's row with B = $1
  awk -F'|' -v b="$1" '$4+0 == b && $2 ~ /[0-9]/ { gsub(/ /, "", $9); print $9 }'
}

for r in $(seq 1 "$rounds"); do
  echo "## round $r ($(uptime | sed 's/.*load/load/'))"
  "$bin/llama-bench" -m "$model" -t "$threads" -p 512 -n 128 -r 3 --repack 0 -o csv 2>/dev/null |
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); col[$i] = i } next }
             { gsub(/"/, ""); t = ($col["n_prompt"] > 0) ? "pp512" : "tg128";
               printf "llama-bench %s %.1f t/s\n", t, $col["avg_ts"] }'
  "$ex" --model "$model" --threads "$threads" --reps 3 pp512 tg128 | grep -E '^\| (pp512|tg128) ' |
    awk -F'|' '{ printf "litmus      %s %s\n", $2, $3 }'
  out=$("$bin/llama-batched-bench" -m "$model" -t "$threads" -c 4096 -b 2048 -ub 512 -npp 128 -ntg 128 -npl 1,8 -pps --no-repack 2>/dev/null)
  one=$(echo "$out" | s_tg 1); eight=$(echo "$out" | s_tg 8)
  echo "llama-batched-bench 128+128 shared: 1 seq $one t/s, 8 seq $eight t/s, ratio $(echo "$eight / $one" | bc -l | cut -c1-4)x"
  "$ex" --model "$model" --threads "$threads" --reps 1 same8 | grep -E '^\| same8 '
  out=$("$bin/llama-batched-bench" -m "$model" -t "$threads" -c 8192 -b 2048 -ub 512 -npp 30 -ntg 80 -npl "$parallel" --no-repack 2>/dev/null)
  echo "llama-batched-bench 30+80 x $parallel: S_TG $(echo "$out" | s_tg "$parallel") t/s"
  "$ex" --model "$model" --threads "$threads" --reps 1 --parallel "$parallel" short | grep -E '^\| short'
done
