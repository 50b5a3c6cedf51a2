#!/usr/bin/env bash
# The demo: installs what is missing, builds cupick, and runs `cupick demo` in demo/: simulated
# micrographs with known particles, training, picking the held-out ones, precision/recall/F1.
#   scripts/demo.sh [cupick demo options, e.g. --epochs 30 or --cpu]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
export PATH="$PATH:${CUDA_HOME:-/usr/local/cuda}/bin"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build cupick
exec build/cupick demo --out demo "$@"
