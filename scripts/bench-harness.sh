#!/usr/bin/env bash
# Harness overhead and fully cached reruns, with the replay backend (no model):
# 70 evals x 10 samples = 700 samples, scored with ROUGE-L.
#   1. a run answered by the replay backend (no cache): harness cost per sample;
#   2. the same run again, answered by the response and score caches.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-harness}
rm -rf "$out"
python3 scripts/make_recording.py "$out/recording" 70 10 >/dev/null
cargo build -q --release -p litmus --no-default-features --example overhead
exe=${CARGO_TARGET_DIR:-target}/release/examples/overhead
args=(--model "replay:$out/recording" --samples 10 --output-dir "$out/results" -q --color never --no-snapshots)
t0=$(date +%s.%N); "$exe" "${args[@]}" --no-cache >/dev/null; t1=$(date +%s.%N)
"$exe" "${args[@]}" >/dev/null   # fills the cache
t2=$(date +%s.%N); "$exe" "${args[@]}" >/dev/null; t3=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
print(f"replay, no cache:   {t1 - t0:.3f} s for 700 samples = {(t1 - t0) / 700 * 1000:.2f} ms/sample")
print(f"fully cached rerun: {t3 - t2:.3f} s for 700 samples")
PY
