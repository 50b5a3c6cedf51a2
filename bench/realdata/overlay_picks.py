#!/usr/bin/env python3
"""Picks against the truth over one micrograph, to look at what the false positives are.

Truth boxes in blue; picks with confidence >= --min-confidence in yellow where some true box
overlaps them by IoU > --iou, else in red (a false positive); true boxes no pick found stay blue
only. The image is low-passed by a Gaussian of --sigma px. Files in cupick's conventions (.box,
.cbox; common.py); a one-to-one matching is not redone here, so this is a picture, not a score.

Usage: overlay_picks.py IMAGE.png TRUTH.box PICKS.cbox OUT.png [--min-confidence 0.5] [--iou 0.5]
"""
import argparse

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from masks_to_boxes import read_box

SIZE = 1024


def read_cbox(path):
    """(x, y image frame, w, h, confidence) of a CBOX file as common.write_cbox writes it."""
    labels, out, in_loop = [], [], False
    with open(path) as f:
        for line in f:
            t = line.split()
            if not t:
                continue
            if t[0] == "loop_" or t[0].startswith("data_"):
                labels, in_loop = [], t[0] == "loop_"
            elif t[0].startswith("_"):
                if in_loop:
                    labels.append(t[0])
            elif len(t) == len(labels) and "_Confidence" in labels:
                v = dict(zip(labels, t))
                w, h = float(v["_Width"]), float(v["_Height"])
                x, y = float(v["_CoordinateX"]) + w / 2, float(v["_CoordinateY"]) + h / 2
                out.append((x, SIZE - y, w, h, float(v["_Confidence"])))
    return out


def iou(a, b):
    ix = max(0, min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2))
    iy = max(0, min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2))
    i = ix * iy
    return i / (a[2] * a[3] + b[2] * b[3] - i)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("truth")
    ap.add_argument("picks")
    ap.add_argument("out")
    ap.add_argument("--min-confidence", type=float, default=0.5)
    ap.add_argument("--iou", type=float, default=0.5)
    ap.add_argument("--sigma", type=float, default=2.0)
    args = ap.parse_args()
    a = ndi.gaussian_filter(np.asarray(Image.open(args.image).convert("L"), np.float32), args.sigma)
    lo, hi = np.percentile(a, [1, 99])
    rgb = Image.fromarray(np.clip((a - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)).convert("RGB")
    d = ImageDraw.Draw(rgb)
    truth = read_box(args.truth)
    for x, y, w, h in truth:
        d.ellipse([x - w / 2, y - h / 2, x + w / 2, y + h / 2], outline=(60, 120, 255), width=2)
    fp = tp = 0
    for x, y, w, h, c in read_cbox(args.picks):
        if c < args.min_confidence:
            continue
        hit = any(iou((x, y, w, h), t) > args.iou for t in truth)
        tp += hit
        fp += not hit
        d.rectangle([x - w / 2, y - h / 2, x + w / 2, y + h / 2], outline=(255, 220, 0) if hit else (255, 40, 40), width=2)
    rgb.save(args.out)
    print(f"{args.out}: {len(truth)} true, {tp} picks on a true box, {fp} not (confidence >= {args.min_confidence})")


if __name__ == "__main__":
    main()
