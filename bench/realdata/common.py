"""Helpers shared by the bench/realdata scripts: MRC writing, CBOX writing, confidences, evaluate.

Coordinate frames (docs/BEHAVIOUR.md §3.1, §7.2): cupick's coordinate files count y UP from the
bottom edge of the micrograph as viewers show it, with pixel edges at integer coordinates. A PNG's
first row is the top; an MRC's first stored row is the bottom (viewers, RELION and cupick agree). So
png_to_mrc() stores the PNG's rows bottom-up, and a coordinate that RELION or Topaz gives as
(column, stored row) of that MRC, pixel centres at integers, is at file (x + 0.5, y + 0.5).
"""
import json
import os
import subprocess

import numpy as np
from PIL import Image

CUPICK = os.environ.get("CUPICK", "/tmp/cupick-eval")


def png_to_mrc(png, mrc, pixel_size=1.0):
    """8-bit PNG -> float32 MRC (mode 2), rows reversed so that the MRC shows as the PNG does."""
    import mrcfile  # pip install mrcfile

    a = np.asarray(Image.open(png).convert("L"), dtype=np.float32)[::-1].copy()
    tmp = mrc + ".tmp"
    with mrcfile.new(tmp, overwrite=True) as m:
        m.set_data(a)
        m.voxel_size = pixel_size
    os.replace(tmp, mrc)


def rank_confidences(scores):
    """Scores (any monotone figure of merit, pooled over a data set) -> confidences in (0, 1] by
    rank, ties sharing the highest rank: cupick evaluate sweeps thresholds 0..1 in steps of 0.001,
    so a monotone map into [0, 1] keeps the pooled precision-recall curve (up to those steps) and
    gives the sweep even resolution whatever the scores' range."""
    s = np.asarray(scores, float)
    if len(s) == 0:
        return s
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    # Equal scores take the highest rank among them.
    uniq, inv = np.unique(s, return_inverse=True)
    top = np.zeros(len(uniq))
    np.maximum.at(top, inv, ranks)
    return top[inv] / len(s)


def score_at_confidence(scores, confidence):
    """The smallest score whose rank confidence is >= `confidence`: the peer's own threshold that a
    confidence threshold stands for."""
    s = np.sort(np.asarray(scores, float))
    c = rank_confidences(s)
    i = np.searchsorted(c, confidence - 1e-12)
    return float(s[min(i, len(s) - 1)])


def write_cbox(path, boxes):
    """crYOLO 1.8+ 2D CBOX as cupick writes it; boxes: (x_centre, y_centre_file, w, h, confidence)
    with y up from the bottom edge. _CoordinateX/Y are the lower-left corner."""
    lines = ["", "data_global", "", "_cbox_format_version 1.0", "", "data_cryolo", "", "loop_",
             "_CoordinateX #1", "_CoordinateY #2", "_CoordinateZ #3", "_Width #4", "_Height #5",
             "_Depth #6", "_EstWidth #7", "_EstHeight #8", "_Confidence #9", "_NumBoxes #10", "_Angle #11"]
    for x, y, w, h, c in boxes:
        lines.append(f"{x - w / 2:.2f} {y - h / 2:.2f} <NA> {w:.0f} {h:.0f} <NA> {w:.0f} {h:.0f} {c:.6f} <NA> <NA>")
    lines += ["", "data_cryolo_include", "", "loop_", "_slice_index #1", ""]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)


def evaluate(picks_dir, truth_dir, out_dir, iou=0.5):
    """cupick evaluate; returns its report.json as a dict."""
    os.makedirs(out_dir, exist_ok=True)
    cmd = [CUPICK, "evaluate", "-p", picks_dir, "-t", truth_dir, "--iou", str(iou), "-o", out_dir]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    with open(os.path.join(out_dir, "report.json")) as f:
        rep = json.load(f)
    rep["command"] = " ".join(cmd)
    return rep


def at_threshold(report, threshold):
    """The curve point at `threshold` (0: every pick)."""
    best = None
    for p in report["curve"]:
        if p["threshold"] <= threshold + 1e-9:
            best = p
    return best
