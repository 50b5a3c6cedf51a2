#!/usr/bin/env bash
# Installs the Debian packages cupick needs that this machine lacks (apt-get, as root or with sudo),
# and any named as arguments (scripts/test.sh adds the real clients its tests run).
# The CUDA toolkit with cuDNN's headers is expected under /usr/local/cuda (or CUDA_HOME).
set -euo pipefail
packages=(cmake ninja-build g++ nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev
          libopenblas-openmp-dev
          libtiff-dev libpng-dev libjpeg-dev libfftw3-dev libhdf5-dev "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cuda=${CUDA_HOME:-/usr/local/cuda}
if ! command -v nvcc >/dev/null && [ ! -x "$cuda/bin/nvcc" ]; then
  echo "deps: the CUDA toolkit (nvcc, cuDNN) was not found in PATH or $cuda; install it or set CUDA_HOME" >&2
  exit 1
fi
