#!/usr/bin/env bash
# GPU tests and benchmarks. The GPU machine has the NVIDIA driver, CUDA wheels (cuDNN, cuFFT) and
# Python but no build tools or Debian -dev packages: build and bundle here, run there.
#   scripts/gpu.sh bundle    (here)  Release build for sm_90 in build-gpu/, packed into gpu-bundle/
#   scripts/gpu.sh run       (there) device and cuDNN version, every test, the layer benchmarks
#   scripts/gpu.sh sanitize  (there) the GPU tests under compute-sanitizer memcheck and racecheck
# scripts/bench.sh (there, after 'scripts/bench.sh bundle' here) runs the benchmarks against PyTorch.
# Results go to $OUT (or out/) as tests.xml, bench.json and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
out=${OUT:-out}
case "$mode" in
  bundle)
    scripts/deps.sh
    export PATH="$PATH:${CUDA_HOME:-/usr/local/cuda}/bin"
    cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
    ninja -C build-gpu
    scripts/bundle.sh gpu-bundle build-gpu/cupick build-gpu/cupick_tests build-gpu/cupick_bench_* build-gpu/cupick_peer_reference
    ;;
  run)
    mkdir -p "$out"
    gpu-bundle/run.sh cupick info | tee "$out/info.txt"
    rc=0
    # On the GPU machine a GPU test that skips is a broken device: CUPICK_REQUIRE_GPU=1 fails it.
    CUPICK_REQUIRE_GPU=1 gpu-bundle/run.sh cupick_tests --gtest_output=xml:"$out/tests.xml" >"$out/tests.log" 2>&1 || rc=$?
    grep -E '^\[  (FAILED|PASSED|SKIPPED) |tests? ran' "$out/tests.log" | tail -40
    for bench in gpu-bundle/bin/cupick_bench_*; do
      name=$(basename "$bench")
      gpu-bundle/run.sh "$name" --benchmark_filter="${BENCH_FILTER:-^gpu/}" --benchmark_min_time="${BENCH_MIN_TIME:-0.1}" \
        --benchmark_out="$out/$name.json" \
        --benchmark_out_format=json 2>&1 | tee "$out/$name.log"
    done
    exit $rc
    ;;
  sanitize)
    mkdir -p "$out"
    cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)
    [ -n "$cs" ] || { echo "gpu.sh: compute-sanitizer not found on this machine" >&2; exit 1; }
    filter=${TEST_FILTER:-*Parity*}
    for tool in memcheck racecheck; do
      gpu-bundle/run.sh "$cs" --tool "$tool" --error-exitcode 1 gpu-bundle/bin/cupick_tests --gtest_filter="$filter" \
        2>&1 | tee "$out/sanitize-$tool.log" | tail -5
    done
    ;;
  *)
    echo "usage: scripts/gpu.sh bundle|run|sanitize" >&2
    exit 2
    ;;
esac
