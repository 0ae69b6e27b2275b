#!/usr/bin/env bash
# Builds llama.cpp's own programs, the yardstick and the real server of litmus's tests and
# benchmarks: llama-server (the HTTP backend tests), llama-perplexity (the fidelity test),
# llama-bench and llama-batched-bench (scripts/bench-peer.sh, scripts/bench-harness.sh) and
# llama-quantize. They come from the llama.cpp sources vendored in the llama-cpp-python source
# distribution on the Python package registry (the same package and recipe as
# ../shared/tools/llama-reference.sh, so either one's build is reused by the other).
#
# Usage: scripts/llama-tools.sh [DEST]      (default DEST: ~/.cache/llama-reference)
# Prints the folder holding the programs on its last line. Needs cmake, g++, python3 -m pip
# (scripts/setup.sh installs them). About 6 minutes on 2 cores the first time; later calls
# return at once.
#
# On CPUs with AMX (`grep -w amx_tile /proc/cpuinfo`), llama.cpp's AMX matrix kernel crashes on
# Q4_K_M models (upstream ggml-org/llama.cpp#20824): run these programs there with `--repack 0`
# (llama-bench) or `--no-repack` (llama-server, llama-batched-bench, llama-perplexity), as
# litmus's tests and benchmarks do.
set -euo pipefail
dest=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/llama-reference}
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
bin=$dest/bin
tools=(llama-bench llama-batched-bench llama-server llama-quantize llama-perplexity)
missing=0
for t in "${tools[@]}"; do [[ -x $bin/$t ]] || missing=1; done
if [[ $missing == 0 ]]; then echo "$bin"; exit 0; fi
for t in cmake g++ python3; do
  command -v "$t" >/dev/null || { echo "llama-tools: needs $t (bash scripts/setup.sh installs it)" >&2; exit 1; }
done
echo "llama-tools: building ${tools[*]} from llama-cpp-python $version's sources into $bin (about 6 minutes)" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work" "llama-cpp-python==$version" >&2
tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src=$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" -j"$(nproc)" --target "${tools[@]}" >&2
mkdir -p "$bin"
for t in "${tools[@]}"; do cp "$work/build/bin/$t" "$bin/"; done
echo "$bin"
