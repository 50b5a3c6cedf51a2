#!/usr/bin/env python3
"""Topaz's shipped general detectors (topaz extract with a pretrained model, no training) as a peer.

Needs masks_to_boxes.py's output folder and the `topaz` command (bench/realdata/README.md: Debian's
CPU PyTorch, python3-torch, with topaz-em installed without its dependencies into a venv that sees
the system packages; TOPAZ=/path/to/topaz). Per setting: `topaz preprocess -s S` (Fourier
downsampling by S, GMM normalisation; S {2, 4}, and 1 for resnet8, and for resnet16 too where the box is 40 px or less) of the MRCs (common.png_to_mrc: rows bottom-up), then
`topaz extract -m MODEL -r R -x S -t -6` with the extraction radius R = f D / S (D: the data set's
box size) and coordinates scaled back by S; scores (log-likelihood ratios) are the confidences.
Topaz's (column, stored row) of a pixel centre is cupick's file frame minus half a pixel.

Usage: topaz_pick.py OUT [--sets 10028,10059,10947] [--quick]
"""
import itertools
import os
import subprocess

import peers

TOPAZ = os.environ.get("TOPAZ", "/tmp/topaz-venv/bin/topaz")
THREADS = os.environ.get("TOPAZ_THREADS", "2")


def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return r


def preprocessed(split_dir, scale):
    """split_dir/topaz_s<scale>/<name>.mrc, made once per scale."""
    mrc = peers.ensure_mrc(split_dir)
    out = os.path.join(split_dir, f"topaz_s{scale}")
    names = sorted(f for f in os.listdir(mrc) if f.endswith(".mrc"))
    if not all(os.path.exists(os.path.join(out, n)) for n in names):
        os.makedirs(out, exist_ok=True)
        run(["nice", "-n", "10", TOPAZ, "preprocess", "-s", str(scale), "-d", "-1", "-j", THREADS, "-o", out]
            + [os.path.join(mrc, n) for n in names])
    return out, [n[:-4] for n in names]


def pick(setting, split_dir, work):
    box, scale = setting["box"], setting["scale"]
    pre, names = preprocessed(split_dir, scale)
    os.makedirs(work, exist_ok=True)
    radius = max(1, int(round(setting["radius_frac"] * box / scale)))
    coords = os.path.join(work, "picks.txt")
    cmd = ["nice", "-n", "10", TOPAZ, "extract", "-m", setting["model"], "-r", str(radius), "-x", str(scale),
           "-t", "-6", "-d", "-1", "-j", THREADS, "-o", coords] + [os.path.join(pre, n + ".mrc") for n in names]
    # The picks of an earlier run of the same command are kept (extracting is the slow part).
    done = os.path.join(work, "command.txt")
    if not (os.path.exists(coords) and os.path.exists(done) and open(done).read() == " ".join(cmd) + "\n"):
        run(cmd)
        with open(done, "w") as f:
            f.write(" ".join(cmd) + "\n")
    out = {n: [] for n in names}
    with open(coords) as f:
        header = f.readline().split()
        i_name, i_x, i_y, i_s = (header.index(k) for k in ("image_name", "x_coord", "y_coord", "score"))
        for line in f:
            t = line.split()
            if t:
                out.setdefault(t[i_name], []).append((float(t[i_x]) + 0.5, float(t[i_y]) + 0.5, float(t[i_s])))
    return out


def settings_grid(box, quick):
    models = ["resnet16", "resnet8"]
    # Large boxes (the simulated 4096^2 sets, 160 px): particles of 128 px fit the detectors'
    # receptive fields only downsampled, and full size is too slow on the CPU.
    scales = [2, 4] if box <= 100 else [4, 8]
    fracs = [0.5, 0.3]
    if quick:
        models, scales, fracs = ["resnet16"], [4], [0.5]
    grid = [dict(box=box, model=m, scale=s, radius_frac=f) for m, s, f in itertools.product(models, scales, fracs)]
    # Also at full size (after the others, so that earlier settings keep their tags); the particle
    # still fits the detectors' receptive fields (71 px for resnet8, 91 for resnet16). resnet8 only for
    # the larger boxes: it was the better one at -s 2 there, and a full-size run is slow on the CPU.
    if not quick and box <= 100:
        grid += [dict(box=box, model=m, scale=1, radius_frac=0.5) for m in (models if box <= 40 else ["resnet8"])]
    return grid


def label(s):
    r = max(1, int(round(s["radius_frac"] * s["box"] / s["scale"])))
    return f"{s['model']}, preprocess -s {s['scale']}, extract -r {r} (downsampled px) -t -6"


if __name__ == "__main__":
    peers.main("topaz", pick, settings_grid, label, __doc__)
