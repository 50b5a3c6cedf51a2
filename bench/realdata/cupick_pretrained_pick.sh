#!/usr/bin/env bash
# cupick's pretrained start with no training at all (docs/ACCURACY.md), as crYOLO's and Topaz's
# general models are used: a config for the set's box size, `cupick predict` without weights on the
# test micrographs, scored with cupick evaluate.
#   bench/realdata/cupick_pretrained_pick.sh OUT SET WORK
# OUT: masks_to_boxes.py's or simulated_sets.sh's folder (OUT/<SET>/test/{images,box}, boxsize.json).
# INPUT: the network input size (default 1024: the pretrained start's pixel scale on 1024^2 images).
set -euo pipefail
ds=$2; W=$(realpath -m "$3"); B=$(realpath "${CUPICK:-build/cupick}")
R=$(realpath "$1")/$ds
box=$(python3 -c "import json;print(json.load(open('$R/boxsize.json'))['box_size'])")
mkdir -p "$W"; cd "$W"
"$B" config cfg.json "$box" --overwrite --architecture cupick-cpu-demo --input_size "${INPUT:-1024}" \
  --filtered_output "$W/filtered" > /dev/null
# -t 0.01: CBOX keeps every box above min(0.1, threshold), and the evaluation sweeps them all.
rm -rf picks; "$B" predict -c cfg.json -i "$R/test/images" -o picks -t 0.01 --cpu > predict.log 2>&1
"$B" evaluate -p picks/CBOX -t "$R/test/box" > eval.log 2>&1
echo "$ds, pretrained start, no training: $(grep best eval.log)"
