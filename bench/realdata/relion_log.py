#!/usr/bin/env python3
"""RELION 3.1's Laplacian-of-Gaussian picker (relion_autopick --LoG) as a peer on the CryoPPP sets.

Needs masks_to_boxes.py's output folder and `relion_autopick` (Debian: apt-get install relion).
The PNGs are converted to MRC (common.png_to_mrc: rows bottom-up, so RELION's y is cupick's file y).
RELION works in Angstroms; the resized PNGs have no true pixel size, so --angpix 1 and every length
is in pixels of the 1024x1024 image. Settings, relative to the data set's box size D (the mask disc
diameter), as the RELION GUI builds them (--shrink 0 --lowpass L: LoG on the micrograph downscaled to
the lowpass's Nyquist):
  diameter range [dmin D, dmax D], lowpass L = D / l, --LoG_adjust_threshold a (0: RELION's own
  threshold; negative: more picks, which the confidence sweep then thresholds again), and
  --LoG_upper_threshold u (99999: none; 5: the tutorial's value against ice and carbon).
Scores: _rlnAutopickFigureOfMerit. See peers.py for tuning and scoring.

Usage: relion_log.py OUT [--sets 10028,10059,10947] [--quick]
"""
import itertools
import os
import subprocess

import peers

RELION = os.environ.get("RELION_AUTOPICK", "relion_autopick")


def read_star(path):
    """(x, y, fom) rows of a RELION coordinate STAR file."""
    labels, rows = [], []
    with open(path) as f:
        for line in f:
            t = line.split()
            if not t or t[0].startswith("#") or t[0].startswith("data_") or t[0] == "loop_":
                continue
            if t[0].startswith("_"):
                labels.append(t[0])
                continue
            rows.append(t)
    ix, iy, ifom = (labels.index(k) for k in ("_rlnCoordinateX", "_rlnCoordinateY", "_rlnAutopickFigureOfMerit"))
    return [(float(r[ix]), float(r[iy]), float(r[ifom])) for r in rows]


def pick(setting, split_dir, work):
    box = setting["box"]
    mrc = peers.ensure_mrc(split_dir)
    os.makedirs(work, exist_ok=True)
    dmin, dmax = setting["dmin"] * box, setting["dmax"] * box
    cmd = [RELION, "--i", "mrc/*.mrc", "--odir", os.path.abspath(work) + "/", "--pickname", "autopick",
           "--angpix", "1", "--LoG", "--LoG_diam_min", f"{dmin:.1f}", "--LoG_diam_max", f"{dmax:.1f}",
           "--shrink", "0", "--lowpass", f"{box / setting['lowpass_div']:.2f}",
           "--LoG_adjust_threshold", str(setting["adjust"]), "--LoG_upper_threshold", str(setting["upper"])]
    r = subprocess.run(cmd, cwd=split_dir, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} (in {split_dir}) failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    with open(os.path.join(work, "command.txt"), "w") as f:
        f.write(f"cd {split_dir} && " + " ".join(f"'{c}'" if "*" in c else c for c in cmd) + "\n")
    out = {}
    for f in sorted(os.listdir(mrc)):
        name = f[:-4]
        star = os.path.join(work, "mrc", name + "_autopick.star")
        rows = read_star(star) if os.path.exists(star) else []
        # RELION's (column, stored row) of a pixel centre -> file frame with pixel edges at integers.
        out[name] = [(x + 0.5, y + 0.5, fom) for x, y, fom in rows]
    return out


def settings_grid(box, quick):
    grid = []
    diam = [(0.5, 0.8), (0.7, 1.0), (0.9, 1.2)]
    lows = [12, 6]
    adjust = [0, -1]
    upper = [99999, 5]
    if quick:
        diam, lows, adjust, upper = [(0.7, 1.0)], [12], [0], [99999]
    for (dmin, dmax), l, a, u in itertools.product(diam, lows, adjust, upper):
        grid.append(dict(box=box, dmin=dmin, dmax=dmax, lowpass_div=l, adjust=a, upper=u))
    return grid


def label(s):
    b = s["box"]
    return (f"diam {s['dmin'] * b:.0f}-{s['dmax'] * b:.0f} px, lowpass {b / s['lowpass_div']:.1f} px, "
            f"adjust_threshold {s['adjust']}, upper_threshold {s['upper']}")


if __name__ == "__main__":
    peers.main("relion_log", pick, settings_grid, label, __doc__)
