#!/usr/bin/env bash
# The pretrained start (nets/pretrained/, docs/ACCURACY.md): the CPU demo's small network
# (cupick-cpu-demo) trained on domain-randomised simulated micrographs (`cupick simulate --preset
# general`: every micrograph its own particle size, density, snr, contrast and polarity), at the
# pixel scale of a 1024^2 network input. `cupick train` starts from it when the config names no
# pretrained_weights, and `cupick predict` picks with it when given no weights.
#   scripts/pretrain.sh [WORK]    (default /tmp/cupick-pretrain)
# Two stages: 30 epochs at lr 1e-3 from random weights, then up to 20 more at 5e-4 from the first
# stage's best. On two CPU cores about 40 s an epoch (1-2 min with other trainings beside it).
# Writes nets/pretrained/cupick-cpu-demo.safetensors (fp16).
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(realpath -m "${1:-/tmp/cupick-pretrain}")
B=$(realpath "${CUPICK:-build/cupick}")
mkdir -p "$W"
[ -d "$W/train/micrographs" ] || "$B" simulate "$W/train" --preset general --seed 11
[ -d "$W/valid/micrographs" ] || "$B" simulate "$W/valid" --preset general --seed 12 --count 8
# Anchor 64: the middle of the particle sizes (boxes 32-112). Batch 4, as the CPU demo.
stage() {  # CONFIG WEIGHTS LR EPOCHS WARMUP [more config flags]
  local config=$1 weights=$2 lr=$3 epochs=$4 warmup=$5; shift 5
  "$B" config "$config" 64 --overwrite --architecture cupick-cpu-demo --input_size 512 \
    --train_image_folder "$W/train/micrographs" --train_annot_folder "$W/train/box" \
    --valid_image_folder "$W/valid/micrographs" --valid_annot_folder "$W/valid/box" \
    --learning_rate "$lr" --batch_size 4 --train_times 2 --warmup "$warmup" --nb_epoch "$epochs" \
    --saved_weights_name "$weights" --filtered_output "$W/filtered" --log_path "$W/logs" "$@"
}
stage "$W/config.json" "$W/model.safetensors" 1e-3 30 1
"$B" train -c "$W/config.json" --from_scratch --early 8 --seed 1
stage "$W/config2.json" "$W/model2.safetensors" 5e-4 20 0 --pretrained_weights "$W/model.safetensors"
"$B" train -c "$W/config2.json" --early 6 --seed 2
"$B" convert "$W/model2.safetensors" nets/pretrained/cupick-cpu-demo.safetensors -a cupick-cpu-demo --half \
  --note "scripts/pretrain.sh (two stages), commit $(git rev-parse --short HEAD)"
