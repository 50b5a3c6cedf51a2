#!/bin/bash
# Everything of bench/realdata in order: boxes from the CryoPPP masks, the check of that, the peers,
# chance level and the table (README.md beside this file). Usage: run_all.sh [OUT] (default /tmp/realdata)
set -euo pipefail
OUT=${1:-/tmp/realdata}
here=$(cd "$(dirname "$0")" && pwd)
export CUPICK=${CUPICK:-/tmp/cupick-eval}
py=${PYTHON:-python3}
nice -n 10 "$py" "$here/masks_to_boxes.py" --overlay "$OUT" | tee "$OUT.masks.log"
(cd "$here" && nice -n 10 "$py" check_masks_to_boxes.py "$OUT/check") | tee "$OUT.check.log"
for s in 10028 10059 10947; do
  "$CUPICK" evaluate -p "$OUT/check/$s/fit" -t "$OUT/check/$s/truth" -o "$OUT/check/$s" | tee -a "$OUT.check.log"
done
nice -n 10 "$py" "$here/relion_log.py" "$OUT" | tee "$OUT.relion.log"
nice -n 10 "$py" "$here/topaz_pick.py" "$OUT" | tee "$OUT.topaz.log"
nice -n 10 "$py" "$here/random_baseline.py" "$OUT" | tee "$OUT.random.log"
"$py" "$here/table.py" "$OUT" > "$OUT/table.md"
"$py" "$here/table.py" "$OUT" --all > "$OUT/table_all.md"
cat "$OUT/table.md"
