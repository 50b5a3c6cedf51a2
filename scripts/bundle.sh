#!/usr/bin/env bash
# Gathers executables and the shared libraries the GPU machine lacks into one folder that can travel there.
# Usage: bundle.sh OUT_DIR EXECUTABLE...
#   OUT_DIR/bin   the executables            OUT_DIR/lib  their non-system, non-CUDA shared libraries
#   OUT_DIR/run.sh  run this on the GPU machine: it finds the CUDA libraries there and runs a command.
# CUDA's own libraries (cuDNN, cuBLAS, cuFFT, NCCL, cudart) are NOT copied: the GPU machine has them as Python wheels.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR EXECUTABLE..." >&2; exit 2; }
out=$1; shift
rm -rf "$out"; mkdir -p "$out/bin" "$out/lib"
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|librt\.|libpthread\.|libstdc\+\+|libgcc_s|libcuda\.|libcudart|libcudnn|libcublas|libcufft|libcurand|libnccl|libnvrtc|libnvJitLink|libz\.)'
for exe in "$@"; do
  cp -L "$exe" "$out/bin/"
  # The pretrained start travels beside the binary, where cupick looks for it.
  [ -d "$(dirname "$exe")/pretrained" ] && cp -rL "$(dirname "$exe")/pretrained" "$out/bin/"
  ldd "$exe" | awk '/=> \//{print $1, $3}' | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -Ln "$path" "$out/lib/$name" 2>/dev/null || true
  done
done
cp "$(dirname "$0")/bundle-run.sh" "$out/run.sh"; chmod +x "$out/run.sh"
du -sh "$out" | awk '{print "bundle: " $1 " in " $2}'
ls "$out/lib"
