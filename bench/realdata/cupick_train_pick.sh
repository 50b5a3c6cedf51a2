#!/usr/bin/env bash
# cupick on the real CryoPPP sets (docs/ACCURACY.md): trains on the first N training micrographs of
# a set with crYOLO's usual settings (lr 1e-4, batch 4, train_times 10, warm-up 3), validates on
# the set's validation micrograph, picks the test micrographs and scores them with cupick evaluate.
#   bench/realdata/cupick_train_pick.sh OUT EMPIAR N WORK
# OUT: what masks_to_boxes.py wrote (OUT/<EMPIAR>/{train,valid,test}/{images,box}, boxsize.json).
# CUPICK: the binary (default build/cupick). The CPU demo's small network at input 1024, on the
# CPU: about 15-30 s an epoch on two cores. TRAIN_FLAGS: more train flags (--from_scratch: random
# initial weights instead of the pretrained start).
set -euo pipefail
ds=$2; n=$3; W=$(realpath -m "$4")  # absolute: the config is read from inside $W
B=$(realpath "${CUPICK:-build/cupick}"); R=$(realpath "$1")/$ds
box=$(python3 -c "import json;print(json.load(open('$R/boxsize.json'))['box_size'])")
rm -rf "$W/one"; mkdir -p "$W/one/images" "$W/one/box"
for first in $(ls "$R/train/images" | head -n "$n"); do
  stem=${first%.*}
  ln -sf "$(realpath "$R/train/images/$first")" "$W/one/images/"; cp "$R/train/box/$stem.box" "$W/one/box/"
done
cd "$W"
"$B" config cfg.json "$box" --overwrite --architecture cupick-cpu-demo --input_size 1024 --train_image_folder "$W/one/images" \
  --train_annot_folder "$W/one/box" --valid_image_folder "$R/valid/images" --valid_annot_folder "$R/valid/box" \
  --learning_rate 1e-4 --batch_size 4 --train_times 10 --warmup 3 --nb_epoch 60 \
  --saved_weights_name "$W/model.safetensors" --filtered_output "$W/filtered" --log_path "$W/logs"
nice -n 5 "$B" train -c cfg.json --cpu ${TRAIN_FLAGS:-} > train.log 2>&1
rm -rf picks; "$B" predict -c cfg.json -w model.safetensors -i "$R/test/images" -o picks --cpu > predict.log 2>&1
"$B" evaluate -p picks/CBOX -t "$R/test/box" > eval.log 2>&1
echo "$ds, $n training micrograph(s): $(grep best eval.log)"
