#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole suite through CTest.
#   scripts/test.sh             Release build in build/
#   scripts/test.sh --sanitize  AddressSanitizer + UBSan build in build-asan/ (CPU tests; GPU tests skip)
set -euo pipefail
cd "$(dirname "$0")/.."
# The real clients the tests check cupick's files with: RELION 3.1 (relion_preprocess extracts
# particles from cupick's STAR picks), h5dump (reads cupick's .h5) and Chromium (opens the review
# page, moves its sliders and takes screenshots into build/test_output/), xmllint (checks the SVG plots).
scripts/deps.sh relion hdf5-tools chromium libxml2-utils
cuda=${CUDA_HOME:-/usr/local/cuda}
export PATH="$PATH:$cuda/bin"
build=build; flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  build=build-asan; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUPICK_SANITIZE=ON -DCUPICK_BENCH=OFF)
  # The CUDA runtime maps memory where ASan keeps its shadow gap. LeakSanitizer stays on: this runs
  # the CPU tests (CI has no GPU), where no driver is loaded to report leaks of its own.
  export ASAN_OPTIONS=protect_shadow_gap=0:detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
# TensorBoard's reader, for the test that reads cupick's event files with it (tests only, never
# the product): into a virtual environment in the build folder; where pip cannot get it, that test
# skips and says so.
venv="$build/tensorboard-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tensorboard' 2>/dev/null; then
  { python3 -m venv "$venv" && "$venv/bin/pip" install -q tensorboard; } >/dev/null 2>&1 ||
    echo "test.sh: tensorboard could not be installed with pip; TensorBoard's reader test will skip" >&2
fi
[ -x "$venv/bin/python" ] && export CUPICK_PYTHON="$PWD/$venv/bin/python"
cmake -S . -B "$build" -G Ninja "${flags[@]}" >/dev/null
ninja -C "$build"
cd "$build" && ctest --output-on-failure -j "$(nproc)"
