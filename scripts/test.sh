#!/usr/bin/env bash
# The test suite, as CI runs it: prerequisites, llama.cpp's own llama-server
# (a real OpenAI-compatible server for the HTTP backend tests), then
# `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The default model, which the backend tests load (litmus fetches it the same
# way on first use; fetching it first keeps those tests' timings stable).
export LITMUS_TEST_MODEL=${LITMUS_TEST_MODEL:-$(bash scripts/fetch-model.sh | tail -n 1)}
# llama.cpp's own programs (llama-server for the HTTP backend tests,
# llama-perplexity for the fidelity test), built once into ~/.cache.
if [ -z "${LLAMA_SERVER_BIN:-}" ]; then
  bin=$(bash scripts/llama-tools.sh | tail -n 1)
  export LLAMA_SERVER_BIN="$bin/llama-server"
fi
# The suite needs about 6 GiB of disk (target directory and the tests' temp
# files, measured on a fresh clone); say so up front rather than fail later in
# a linker or a quantization with a cryptic error.
read -r free_kib mount < <(df -Pk . | awk 'NR == 2 {print $4, $6}') || true
if [ -n "${free_kib:-}" ] && [ "$free_kib" -lt $((8 * 1024 * 1024)) ]; then
  echo "warning: $((free_kib / 1024)) MiB free on $mount; the tests need about 6 GiB" >&2
fi
# No incremental compilation state: a test run builds once, and its dozens of
# test binaries' incremental caches were gigabytes on a disk that CI shares.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
cargo test --workspace "$@"
# The engine benchmark, briefly: a benchmark that cannot run is a failure.
cargo run --quiet -p litmus-llama --example bench -- --quick --parallel 8 pp512 tg128 same8 short ragged
