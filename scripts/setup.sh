#!/usr/bin/env bash
# Installs what building and testing litmus needs on a fresh Debian/Ubuntu
# machine: cmake and clang (llama.cpp through llama-cpp-2), bubblewrap (the
# sandbox for generated code), python3-pip (fetching the built-in model); then
# `cargo eval` itself (cargo-eval from this tree) when it is missing, of an
# older version, or built before a source file of this tree last changed.
# Idempotent: does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v clang >/dev/null || need+=(clang)
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
command -v bwrap >/dev/null || need+=(bubblewrap)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v g++ >/dev/null || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# cargo-eval does not link llama.cpp (eval targets do), so this takes about a
# minute. `cargo eval-dev` runs the tree's own build without installing it.
tree=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
installed=$(cargo eval --version 2>/dev/null | awk '{print $2}' || true)
bin=$(command -v cargo-eval || true)
# Same version but built before some source of this tree changed (a fresh
# clone, a pull): install again too.
newer=""
if [ -n "$bin" ]; then
  newer=$(find Cargo.toml Cargo.lock crates macros -newer "$bin" \( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock -o -name '*.css' -o -name '*.js' \) -print -quit 2>/dev/null || true)
fi
if [ -z "$installed" ] || [ -n "$newer" ] || [ "$(printf '%s\n%s\n' "$installed" "$tree" | sort -V | head -n 1)" != "$tree" ]; then
  echo "setup: installing cargo-eval $tree from crates/cargo-eval (installed: ${installed:-none}${newer:+, older than $newer})" >&2
  cargo install --quiet --locked --path crates/cargo-eval
fi
