#!/usr/bin/env bash
# gpu-check.sh: checks litmus on a machine with an NVIDIA GPU, from binaries
# built elsewhere (the GPU machine needs the NVIDIA driver, nothing else: no
# Rust toolchain, no network, no model download). A few minutes.
#
#   bash scripts/gpu-check.sh [BUNDLE_DIR] [OUT_DIR]
#
# BUNDLE_DIR (default: $LITMUS_GPU_BUNDLE, else ./gpu-bundle) holds:
#   bin/evals        an eval target built with litmus's `cuda` feature
#                    (any: it answers the hidden --litmus-devices flag)
#   bin/bench        litmus-llama's bench example, built with `cuda`
#   bin/synth-gguf   litmus-gguf's synth-gguf example (no GPU needed)
#   bin/llama-bench  llama.cpp's llama-bench built with CUDA from the same
#                    llama.cpp sources litmus links (llama-cpp-sys-2's copy)
#   lib/             libcudart.so.12, libcublas.so.12, libcublasLt.so.12
#                    (and whatever else `ldd bin/*` asks for besides the
#                    driver's libcuda.so.1)
#
# It runs, each step with a time limit, writing everything to OUT_DIR
# (default ./gpu-check-out) and a summary to OUT_DIR/summary.md:
#   1. nvidia-smi, if present;
#   2. the device inventory (text and JSON), which must list a CUDA device;
#   3. a synthetic F16 model of ~400 MiB (random weights, llama layout);
#   4. that model fully offloaded: pp512 and tg128 tokens/s from litmus's
#      engine beside llama-bench's on the same file;
#   5. the placement plan of two configurations (the synthetic model and a
#      smaller one) on this machine's devices.
#
# Building the bundle (on a Linux x86-64 machine with Rust and a CUDA
# toolkit; the toolkit can come from registry wheels: nvidia-cuda-nvcc-cu12,
# nvidia-cuda-runtime-cu12, nvidia-cublas-cu12, nvidia-cuda-cccl-cu12, with
# CUDAToolkit_ROOT pointing at a directory that merges their bin/, include/
# and lib/ folders), from the repository root:
#
#   export CUDA_ARCH=90   # sm_90 = H100/H200; 89 = L4/RTX 40xx; 80 = A100; 86 = RTX 30xx
#   export CMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH
#   export RUSTFLAGS="-C target-cpu=x86-64-v3"   # not `native`: the GPU host's CPU may differ
#   cargo test --release -p litmus-evals --features litmus/cuda --test evals --no-run
#   #   (prints the eval target's path: target/release/deps/evals-<hash>)
#   cargo build --release -p litmus-llama --features cuda --example bench
#   cargo build --release -p litmus-gguf --example synth-gguf
#   LLAMA=$(ls -d ~/.cargo/registry/src/*/llama-cpp-sys-2-0.1.161/llama.cpp)
#   cmake -S "$LLAMA" -B build-llama -DGGML_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
#         -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
#         -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
#   cmake --build build-llama --target llama-bench -j
#   mkdir -p gpu-bundle/bin gpu-bundle/lib
#   cp target/release/deps/evals-<hash> gpu-bundle/bin/evals
#   cp target/release/examples/bench target/release/examples/synth-gguf gpu-bundle/bin/
#   cp build-llama/bin/llama-bench gpu-bundle/bin/
#   # the CUDA runtime and cuBLAS from the wheels (or the toolkit's lib64/):
#   pip download --no-deps nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 -d wheels
#   for w in wheels/*.whl; do unzip -o -q "$w" 'nvidia/*/lib/*.so*' -d wheels/x; done
#   cp -L wheels/x/nvidia/*/lib/*.so* gpu-bundle/lib/
#   tar czf gpu-bundle.tgz gpu-bundle scripts/gpu-check.sh
#
# Then on the GPU machine: tar xzf gpu-bundle.tgz && bash scripts/gpu-check.sh gpu-bundle
# and copy OUT_DIR/summary.md into BENCHMARKS.md ("GPU check").

set -u -o pipefail

BUNDLE=${1:-${LITMUS_GPU_BUNDLE:-./gpu-bundle}}
OUT=${2:-./gpu-check-out}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
MODEL_MIB=${MODEL_MIB:-400}

fail=0
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
SUMMARY="$OUT/summary.md"
: >"$SUMMARY"

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
note_fail() {
    say "FAILED: $*"
    fail=1
}

if [ ! -d "$BUNDLE/bin" ]; then
    echo "gpu-check: no bundle at $BUNDLE (expected $BUNDLE/bin/evals ...); see the comments at the top of this script" >&2
    exit 2
fi
BUNDLE=$(cd "$BUNDLE" && pwd)
for b in evals bench synth-gguf llama-bench; do
    if [ ! -x "$BUNDLE/bin/$b" ]; then
        echo "gpu-check: $BUNDLE/bin/$b is missing or not executable" >&2
        exit 2
    fi
done
export LD_LIBRARY_PATH="$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# run NAME CMD...: runs a step with a time limit, output to OUT/NAME.log.
run() {
    local name=$1
    shift
    local t0 t1 rc
    t0=$(date +%s)
    timeout "$STEP_TIMEOUT" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    t1=$(date +%s)
    echo "# $name: exit $rc in $((t1 - t0)) s" >>"$OUT/steps.txt"
    return $rc
}

say "# GPU check"
say ""
say "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "- host: $(uname -srm), $(nproc) CPUs"
say "- bundle: $BUNDLE"
if command -v nvidia-smi >/dev/null 2>&1; then
    run nvidia-smi nvidia-smi --query-gpu=index,name,memory.total,memory.used,driver_version --format=csv,noheader
    while IFS= read -r line; do say "- nvidia-smi: $line"; done <"$OUT/nvidia-smi.log"
else
    say "- nvidia-smi: not found"
fi
for b in evals bench llama-bench; do
    if ldd "$BUNDLE/bin/$b" 2>/dev/null | grep -q 'not found'; then
        note_fail "$b: missing shared libraries: $(ldd "$BUNDLE/bin/$b" | grep 'not found' | tr -s ' \t' ' ' | tr '\n' ';')"
    fi
done

# 1. Devices.
say ""
say "## Devices (\`cargo eval devices\`)"
say ""
if run devices "$BUNDLE/bin/evals" --litmus-devices '{"format":"text"}'; then
    say '```'
    tee -a "$SUMMARY" <"$OUT/devices.log"
    say '```'
else
    note_fail "devices: see $OUT/devices.log"
fi
run devices-json "$BUNDLE/bin/evals" --litmus-devices '{"format":"json"}' || note_fail "devices --format json"
if ! grep -q '"backend": "CUDA"' "$OUT/devices-json.log"; then
    note_fail "no CUDA device in the inventory (is the eval target built with --features litmus/cuda? is the driver loaded?)"
fi

# 2. A synthetic model.
MODEL="$OUT/synth-${MODEL_MIB}m.gguf"
SMALL="$OUT/synth-150m.gguf"
if ! run synth "$BUNDLE/bin/synth-gguf" "$MODEL" "$MODEL_MIB" ||
    ! run synth-small "$BUNDLE/bin/synth-gguf" "$SMALL" 150; then
    note_fail "writing the synthetic models: see $OUT/synth.log"
fi
say ""
say "Model: $(cat "$OUT/synth.log" 2>/dev/null)"

# 3. Speed, fully offloaded: litmus's engine and llama-bench.
say ""
say "## Fully offloaded: litmus engine vs llama-bench (same file, same llama.cpp sources)"
say ""
if run bench-litmus "$BUNDLE/bin/bench" --model "$MODEL" --reps 3 pp512 tg128; then
    grep -E '^\| (test|pp512|tg128) ' "$OUT/bench-litmus.log" | tee -a "$SUMMARY"
    grep -E '^# opened' "$OUT/bench-litmus.log" | sed 's/^# /- litmus: /' | tee -a "$SUMMARY"
else
    note_fail "litmus bench: see $OUT/bench-litmus.log"
fi
say ""
if run bench-llama "$BUNDLE/bin/llama-bench" -m "$MODEL" -p 512 -n 128 -ngl 99 -r 3 -o md; then
    grep -E '^\|' "$OUT/bench-llama.log" | tee -a "$SUMMARY"
else
    note_fail "llama-bench: see $OUT/bench-llama.log"
fi
if grep -q 'CUDA' "$OUT/bench-llama.log" 2>/dev/null; then :; else
    note_fail "llama-bench did not report a CUDA backend"
fi

# 4. A two-configuration plan.
say ""
say "## Plan of two configurations (\`cargo eval devices --plan\`)"
say ""
JOB=$(printf '{"format":"text","plan":[{"name":"synth-%sm","backend":"llama","source":"%s"},{"name":"synth-150m","backend":"llama","source":"%s","parallel":8}]}' \
    "$MODEL_MIB" "$MODEL" "$SMALL")
if run plan "$BUNDLE/bin/evals" --litmus-devices "$JOB"; then
    say '```'
    sed -n '/^$/,$p' "$OUT/plan.log" | sed '1d' | tee -a "$SUMMARY"
    say '```'
    grep -q 'CUDA' "$OUT/plan.log" || note_fail "the plan puts nothing on a GPU"
else
    note_fail "plan: see $OUT/plan.log"
fi

say ""
if [ "$fail" -eq 0 ]; then
    say "gpu-check: all steps passed"
else
    say "gpu-check: some steps FAILED (logs in $OUT)"
fi
echo "summary: $SUMMARY" >&2
exit "$fail"
