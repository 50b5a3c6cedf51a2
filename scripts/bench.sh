#!/usr/bin/env bash
# Our benchmarks and the PyTorch peer in one run, and the table of ratios (bench/RESULTS.md keeps them).
#   scripts/bench.sh bundle                    (here) build for sm_90 and pack gpu-bundle/ (scripts/gpu.sh bundle)
#   scripts/bench.sh [--quick] [OUT_DIR]       (GPU machine, from gpu-bundle/) GPU suite + peer on the GPU
#   scripts/bench.sh --cpu [--quick] [OUT_DIR] (any machine) build into $BUILD_DIR (default build/), CPU suite + peer
# OUT_DIR (default $OUT, else out/) receives bench.md (the tables), ours_layers.json, ours_networks.json,
# ours_predict.json (Google Benchmark), peer.json, peer_check.json and bench.log. --quick: fewer repetitions and batches.
# The peer needs Python with torch, numpy and safetensors: $PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=0 quick=0 out=${OUT:-out}
commit_of_tree() {
  local c; c=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then echo "working tree on top of $c"; else echo "$c"; fi
}
for arg in "$@"; do
  case "$arg" in
    bundle) scripts/gpu.sh bundle; commit_of_tree >gpu-bundle/COMMIT; exit ;;
    --cpu) cpu=1 ;;
    --quick) quick=1 ;;
    -*) echo "usage: scripts/bench.sh bundle | [--cpu] [--quick] [OUT_DIR]" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in bench/peers/
ref=$(mktemp -d /tmp/cupick-peer.XXXXXX)  # weights and reference outputs, ~460 MB: not in $OUT
trap 'rm -rf "$ref"' EXIT
exec > >(tee "$out/bench.log") 2>&1

if [ $cpu = 1 ]; then
  build=${BUILD_DIR:-build}
  export PATH="$PATH:${CUDA_HOME:-/usr/local/cuda}/bin"
  [ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build" -j2 cupick_bench_layers cupick_bench_networks cupick_bench_predict cupick_peer_reference
  run() { local exe=$1; shift; "$build/$exe" "$@"; }
  device=cpu filter='^cpu/' driver=''
  min_time=$([ $quick = 1 ] && echo 0.01 || echo 0.2)
  # Ours: inference batch 1, training batch 1 and 4 (quick: batch 1); the peer the same.
  net_filter=$([ $quick = 1 ] && echo '^cpu/.*/batch:1/' || echo '^cpu/')
  infer_batches=1 train_batches=$([ $quick = 1 ] && echo 1 || echo 1,4)
  # predict: crYOLO's network at 512 (quick) or also PhosaurusNet at 1024 (about a minute more).
  predict_filter=$([ $quick = 1 ] && echo '^cpu/predict/crYOLO/' || echo '^cpu/predict/')
  repeat=1 min_seconds=0 peer_configs=
else
  [ -x gpu-bundle/run.sh ] || { echo "bench.sh: no gpu-bundle/: run 'scripts/bench.sh bundle' on the build machine first" >&2; exit 1; }
  run() { gpu-bundle/run.sh "$@"; }
  device=cuda filter='^gpu/'
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1 || true)
  min_time=$([ $quick = 1 ] && echo 0.05 || echo 0.3)
  net_filter='^gpu/' infer_batches=1,4,8 train_batches=1,4,8 predict_filter='^gpu/predict/'
  repeat=$([ $quick = 1 ] && echo 5 || echo 20) min_seconds=$([ $quick = 1 ] && echo 0.2 || echo 1)
  # torch.compile takes about a minute per network and batch: PhosaurusNet only, and not with --quick.
  peer_configs=$([ $quick = 1 ] && echo --configs=fp32,bf16,bf16+graph || echo --compile-archs=PhosaurusNet)
fi
commit=$(cat gpu-bundle/COMMIT 2>/dev/null || commit_of_tree)
[ $cpu = 1 ] && commit=$(commit_of_tree)
echo "bench.sh: $device, commit $commit, $(date -u +%FT%TZ)"

echo "== reference outputs and the peer's check"
run cupick_peer_reference "$ref"
"$py" bench/peers/peer.py check "$ref" --device $device --out "$out/peer_check.json"

echo "== ours: layers, whole networks, then predict end to end"
run cupick_bench_layers --benchmark_filter="$filter" --benchmark_min_time=$min_time \
  --benchmark_out="$out/ours_layers.json" --benchmark_out_format=json
run cupick_bench_networks --benchmark_filter="$net_filter" --benchmark_min_time=$min_time \
  --benchmark_out="$out/ours_networks.json" --benchmark_out_format=json
run cupick_bench_predict --benchmark_filter="$predict_filter" --benchmark_min_time=$min_time \
  --benchmark_out="$out/ours_predict.json" --benchmark_out_format=json

echo "== the peer"
"$py" bench/peers/peer.py time "$ref" --device $device --infer-batches $infer_batches \
  --train-batches $train_batches --repeat $repeat --min-seconds $min_seconds $peer_configs --out "$out/peer.json"

echo "== table"
"$py" bench/peers/table.py --networks "$out/ours_networks.json" --layers "$out/ours_layers.json" \
  --predict "$out/ours_predict.json" \
  --peer "$out/peer.json" --check "$out/peer_check.json" --commit "$commit" --driver "$driver" --out "$out/bench.md"
echo "bench.sh: tables in $out/bench.md"
