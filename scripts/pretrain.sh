#!/usr/bin/env bash
# The pretrained start (nets/pretrained/, docs/ACCURACY.md): the CPU demo's small network
# (cupick-cpu-demo) trained on domain-randomised simulated micrographs (`cupick simulate --preset
# general`: every micrograph its own particle size, density, snr, contrast and polarity), at the
# pixel scale of a 1024^2 network input. `cupick train` starts from it when the config names no
# pretrained_weights, and `cupick predict` picks with it when given no weights.
#   scripts/pretrain.sh [WORK] [EPOCHS]    (default /tmp/cupick-pretrain, 30 epochs)
# On two CPU cores about 40 s an epoch (75 s with another training beside it). Writes nets/pretrained/cupick-cpu-demo.safetensors (fp16).
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(realpath -m "${1:-/tmp/cupick-pretrain}"); epochs=${2:-30}
B=$(realpath "${CUPICK:-build/cupick}")
mkdir -p "$W"
[ -d "$W/train/micrographs" ] || "$B" simulate "$W/train" --preset general --seed 11
[ -d "$W/valid/micrographs" ] || "$B" simulate "$W/valid" --preset general --seed 12 --count 8
# Anchor 64: the middle of the particle sizes (boxes 32-112). lr 1e-3 and batch 4, as the CPU demo.
"$B" config "$W/config.json" 64 --overwrite --architecture cupick-cpu-demo --input_size 512 \
  --train_image_folder "$W/train/micrographs" --train_annot_folder "$W/train/box" \
  --valid_image_folder "$W/valid/micrographs" --valid_annot_folder "$W/valid/box" \
  --learning_rate 1e-3 --batch_size 4 --train_times 2 --warmup 1 --nb_epoch "$epochs" \
  --saved_weights_name "$W/model.safetensors" --filtered_output "$W/filtered" --log_path "$W/logs"
"$B" train -c "$W/config.json" --from_scratch --early 8 --seed 1
"$B" convert "$W/model.safetensors" nets/pretrained/cupick-cpu-demo.safetensors -a cupick-cpu-demo --half \
  --note "scripts/pretrain.sh, $epochs epochs, commit $(git rev-parse --short HEAD)"
