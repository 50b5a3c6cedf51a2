#!/usr/bin/env bash
# The hard simulated sets beside the real ones (docs/ACCURACY.md): `cupick simulate --preset
# realistic` (16 micrographs of 4096^2, box 160), laid out as masks_to_boxes.py lays out the CryoPPP
# sets, so that cupick_train_pick.sh and the peer scripts run on them unchanged:
#   OUT/sim-mrc/{train,valid,test}/{images,box}   the float32 MRCs (shot noise, MTF)
#   OUT/sim-jpg/...                               the same micrographs as 8-bit denoised JPEGs
# train: sim_0000-0009 (cupick_train_pick.sh takes the first N), valid: sim_0010, test: sim_0011-0015.
#   bench/realdata/simulated_sets.sh OUT
set -euo pipefail
OUT=$(realpath -m "$1"); B=$(realpath "${CUPICK:-build/cupick}")
[ -d "$OUT/simulated/micrographs" ] || "$B" simulate "$OUT/simulated" --preset realistic
for kind in mrc jpg; do
  S=$OUT/sim-$kind; folder=micrographs; [ $kind = jpg ] && folder=jpg
  rm -rf "$S"
  for i in $(seq 0 15); do
    name=$(printf 'sim_%04d' "$i")
    split=train; [ "$i" -eq 10 ] && split=valid; [ "$i" -gt 10 ] && split=test
    mkdir -p "$S/$split/images" "$S/$split/box"
    ln -s "$OUT/simulated/$folder/$name.$kind" "$S/$split/images/"
    ln -s "$OUT/simulated/box/$name.box" "$S/$split/box/"
  done
  echo '{"box_size": 160}' > "$S/boxsize.json"
done
echo "sets in $OUT/sim-mrc and $OUT/sim-jpg"
