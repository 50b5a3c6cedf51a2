#!/usr/bin/env python3
"""How well masks_to_boxes.py recovers centres from masks like CryoPPP's, where the truth is known.

Draws discs of each data set's radius at random centres (a hard-core process: no two centres closer
than MIN_DIST diameters, the closest pairs the fit finds on the real masks), as many as the real
masks have, renders them anti-aliased at the masks' resolution (4x4 supersampling), runs the same
fit, and writes both as .box files under OUT/<EMPIAR>/{truth,fit}/ so that `cupick evaluate` can
score the fit against the truth; it also prints its own one-to-one matching by centre distance.

Usage: check_masks_to_boxes.py OUT [--seed 1]
"""
import argparse
import math
import os

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

import masks_to_boxes as m2b

# EMPIAR: (disc radius in the 1024 frame, mask side, particles per micrograph, hard-core distance
# in diameters), from masks_to_boxes.py's run on the real masks.
SETS = {"10028": (28.01, 1024, 86, 0.7), "10059": (17.77, 256, 650, 0.5), "10947": (29.89, 256, 255, 0.5)}
MICROGRAPHS = 3


def centres(rng, n, min_dist, size):
    pts = []
    tries = 0
    while len(pts) < n and tries < 200000:
        tries += 1
        p = rng.uniform(0, size, 2)
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= min_dist ** 2 for q in pts):
            pts.append(p)
    return np.array(pts)


def render(pts, r, side):
    """Anti-aliased union of discs (continuous 1024 frame) on a side x side grid, 8-bit."""
    f = m2b.IMAGE_SIZE / side
    ss = 4
    c = (np.arange(side * ss) + 0.5) / (side * ss) * m2b.IMAGE_SIZE
    img = np.zeros((side * ss, side * ss), bool)
    for x, y in pts:
        x0, x1 = np.searchsorted(c, [x - r, x + r])
        y0, y1 = np.searchsorted(c, [y - r, y + r])
        yy, xx = np.meshgrid(c[y0:y1], c[x0:x1], indexing="ij")
        img[y0:y1, x0:x1] |= (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    a = img.reshape(side, ss, side, ss).mean(axis=(1, 3))
    return np.round(a * 255).astype(np.uint8), f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    for s, (r, side, n, hc) in SETS.items():
        box = int(round(2 * r))
        for d in ("truth", "fit", "masks"):
            os.makedirs(os.path.join(args.out, s, d), exist_ok=True)
        errs, tp, nt, nf = [], 0, 0, 0
        for k in range(MICROGRAPHS):
            pts = centres(rng, n, hc * 2 * r, m2b.IMAGE_SIZE)
            mask, _ = render(pts, r, side)
            path = os.path.join(args.out, s, "masks", f"syn_{k}.png")
            Image.fromarray(mask).save(path)
            fg = m2b.load_mask(path)
            area = math.pi * r * r
            got, st, _ = m2b.centres_for_mask(fg, r, area)
            fit = np.array([(cx + 0.5, cy + 0.5) for cy, cx in got])  # (x, y), image frame
            # Truth as the same integer .box rows masks_to_boxes writes (centre to pixel index).
            m2b.write_box(os.path.join(args.out, s, "truth", f"syn_{k}.box"),
                          [(y - 0.5, x - 0.5) for x, y in pts], box)
            m2b.write_box(os.path.join(args.out, s, "fit", f"syn_{k}.box"), got, box)
            # Greedy one-to-one matching by distance, within r / 2.
            dist, idx = cKDTree(fit).query(pts, k=min(5, len(fit)))
            used = set()
            for i in np.argsort(dist[:, 0]):
                for dd, j in zip(dist[i], idx[i]):
                    if dd <= r / 2 and j not in used:
                        used.add(j)
                        errs.append(dd)
                        tp += 1
                        break
            nt += len(pts)
            nf += len(fit)
        p, rc = tp / nf, tp / nt
        print(f"EMPIAR-{s} synthetic (r {r}, mask {side}^2, {n} per micrograph, hard core {hc} diameters): "
              f"{nt} true, {nf} fitted, within r/2: precision {p:.3f} recall {rc:.3f} F1 {2 * p * rc / (p + rc):.3f}, "
              f"centre error median {np.median(errs):.2f} px, 95% {np.percentile(errs, 95):.2f} px")


if __name__ == "__main__":
    main()
