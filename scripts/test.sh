#!/usr/bin/env bash
# The test suite, as CI runs it: prerequisites, llama.cpp's own llama-server
# (a real OpenAI-compatible server for the HTTP backend tests), then
# `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${LLAMA_SERVER_BIN:-}" ]; then
  ref=../shared/tools/llama-reference.sh
  if [ -f "$ref" ]; then
    bin=$(bash "$ref" | tail -n 1)
    export LLAMA_SERVER_BIN="$bin/llama-server"
  fi
fi
cargo test --workspace "$@"
