#!/usr/bin/env python3
"""CryoPPP segmentation masks -> particle centres -> EMAN .box files that cupick reads.

Dev tooling for measuring picking accuracy on real micrographs (bench/realdata/README.md); the
product never uses it.

The masks of /work/shared/realdata/cryoppp are unions of filled discs of one radius per data set,
drawn at the CryoPPP particle coordinates (anti-aliased, 1024x1024 for 10028, 256x256 for 10059 and
10947). Touching or overlapping particles merge into one connected component. So rather than a
watershed, which cannot split discs that overlap by more than a little, the centres are found by
fitting discs of the known radius:

  1. The mask is resampled to the image's 1024x1024 frame (bilinear on the anti-aliased values) and
     thresholded at half (128).
  2. The disc radius r: the area of single, isolated discs, taken as the most common component area
     over all masks of the data set (components within +-5% of each other counted together; those
     touching the image edge left out), r = sqrt(area / pi). The box size is the diameter 2r,
     rounded to an integer.
  3. A disc of radius r fitted to a union of such discs has its centre where the whole disc lies in
     the mask (distance transform >= r - tolerance; beyond the image edge counts as inside, so that
     particles cut by the edge are found) and every boundary pixel of the mask lies on the circle
     of some centre. Greedily, the candidate centre with the most still-unexplained boundary pixels
     on its circle (an annulus r - 0.5 +- 1.5 px) is taken, the boundary pixels it explains are
     removed, and so on until the best candidate explains less than MIN_ARC of a full circle.
     A Hough transform with known radius, restricted to where the disc fits.
  4. Per connected component: the number of centres (more than one: a split component); the IoU of
     the union of its fitted discs with the component (below MIN_COMPONENT_IOU: the component is not
     a union of particle discs and is dropped, with its centres); components smaller than
     SPECK_FRACTION of a disc are dropped as specks (those at the edge only where no centre inside
     the image explains them).

Output, under OUT/<EMPIAR>/:
  <split>/images/<name>.png   symlinks to the micrographs (cupick reads PNG)
  <split>/box/<name>.box      one particle a line, tab-separated integers: x_left y_bottom w h,
                              y counted UP from the bottom edge of the 1024x1024 image, as cupick
                              reads .box files (docs/BEHAVIOUR.md §3.1, §7.2: image y = H - file y)
  boxsize.json                box size, disc radius, statistics per split
  overlay_<split>_<name>.png  with --overlay: boxes drawn over the first micrograph of each split

Usage: masks_to_boxes.py [--data /work/shared/realdata/cryoppp] [--sets 10028,10059,10947]
                         [--overlay] OUT
"""
import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi
from scipy.signal import fftconvolve

IMAGE_SIZE = 1024        # every CryoPPP image here is 1024x1024
THRESHOLD = 128          # of the 8-bit anti-aliased mask
ANNULUS_HALF_WIDTH = 1.5  # px, in the image frame
FIT_TOLERANCE = 2.5      # px: a centre needs distance transform >= r - this
MIN_ARC = 0.1            # of a full circle's votes: below, the greedy fit stops (check_masks_to_boxes.py)
MIN_SEPARATION = 0.35    # of r: two centres no closer than this
MIN_FILL = 0.15         # of a disc's area: an uncovered region this large holds a hidden disc
MIN_COMPONENT_IOU = 0.85  # fitted discs vs component; below: not particles, dropped
SPECK_FRACTION = 0.25    # of a disc's area: smaller components are specks


def load_mask(path):
    """The mask in the 1024x1024 image frame, as a boolean array (row 0 = top of the image)."""
    m = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    if m.shape != (IMAGE_SIZE, IMAGE_SIZE):
        f = IMAGE_SIZE / m.shape[0]
        if m.shape[0] != m.shape[1] or f != int(f):
            sys.exit(f"{path}: mask of {m.shape} cannot be mapped onto a {IMAGE_SIZE}^2 image")
        # Pixel j of the mask spans [j, j+1) and so [f j, f (j+1)) of the image: sample at the image
        # pixel centres (i + 0.5) / f - 0.5 of the mask's pixel-centre grid.
        coords = (np.arange(IMAGE_SIZE) + 0.5) / f - 0.5
        yy, xx = np.meshgrid(coords, coords, indexing="ij")
        m = ndi.map_coordinates(m, [yy, xx], order=1, mode="nearest")
    return m >= THRESHOLD


def single_disc_area(masks):
    """The most common area of components that do not touch the image edge."""
    areas = []
    for fg in masks:
        lab, n = ndi.label(fg)
        if n == 0:
            continue
        sizes = np.bincount(lab.ravel())[1:]
        edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        keep = np.ones(n, bool)
        keep[edge[edge > 0] - 1] = False
        areas.extend(sizes[keep].tolist())
    areas = np.sort(np.asarray(areas, float))
    if len(areas) == 0:
        raise SystemExit("no components")
    lo = np.searchsorted(areas, areas * 0.95, "left")
    hi = np.searchsorted(areas, areas * 1.05, "right")
    best = int(np.argmax(hi - lo))
    group = areas[lo[best]:hi[best]]
    return float(np.median(group)), len(group), len(areas)


def annulus(r, w):
    R = int(math.ceil(r + w))
    y, x = np.mgrid[-R:R + 1, -R:R + 1]
    d = np.hypot(x, y)
    return ((d >= r - w) & (d <= r + w)).astype(np.float32)


def boundary(fg):
    """Foreground pixels with a background 4-neighbour inside the image (the edge is not one)."""
    padded = np.pad(fg, 1, mode="edge")
    inner = ndi.binary_erosion(padded, structure=ndi.generate_binary_structure(2, 1), border_value=1)[1:-1, 1:-1]
    return fg & ~inner


def window(cy, cx, R, shape):
    """(y0, y1, x0, x1): the square of half-width R round (cy, cx), clipped to an image of `shape`."""
    return max(cy - R, 0), min(cy + R + 1, shape[0]), max(cx - R, 0), min(cx + R + 1, shape[1])


def take_back(field, removed, y0, x0, kern, K):
    """Subtracts from `field` (a convolution with `kern`, half-width K) what the patch `removed` at
    (y0, x0) contributed to it: the patch convolved alone, clipped to the image."""
    H, W = field.shape
    big = np.zeros((removed.shape[0] + 2 * K, removed.shape[1] + 2 * K), np.float32)
    big[K:K + removed.shape[0], K:K + removed.shape[1]] = removed
    delta = fftconvolve(big, kern, mode="same")
    Y0, X0 = y0 - K, x0 - K
    ya, yb, xa, xb = max(Y0, 0), min(Y0 + big.shape[0], H), max(X0, 0), min(X0 + big.shape[1], W)
    field[ya:yb, xa:xb] -= delta[ya - Y0:yb - Y0, xa - X0:xb - X0]


def fit_discs(fg, r, B, inside):
    """Greedy disc fit: centres (row, col) in pixel indices of `fg`, explaining the boundary
    pixels B, then covering what is left of `fg` & `inside` (the image, without its padding).
    Returns the centres and how many of them the second pass added."""
    H, W = fg.shape
    dt = ndi.distance_transform_edt(fg)
    cand = dt >= r - FIT_TOLERANCE
    rb = r - 0.5  # boundary pixels are the inside ones: half a pixel in from the edge
    kern = annulus(rb, ANNULUS_HALF_WIDTH)
    K = kern.shape[0] // 2
    B = B.astype(np.float32)
    acc = fftconvolve(B, kern, mode="same")
    # Votes of a lone full disc, for the stopping rule.
    size = 2 * K + 7
    yy, xx = np.mgrid[:size, :size] - size // 2
    lone = boundary(np.hypot(yy, xx) <= r).astype(np.float32)
    full = float((lone * np.pad(kern, 3)).sum())
    min_votes = MIN_ARC * full
    score = np.where(cand, acc, -1.0)
    centres = []
    R = K  # boundary pixels explained by a centre: within rb + w of it
    sep = MIN_SEPARATION * r
    S = int(math.ceil(sep))
    while True:
        idx = int(np.argmax(score))
        cy, cx = divmod(idx, W)
        if score[cy, cx] < min_votes:
            break
        centres.append((cy, cx))
        # Remove the boundary pixels this disc explains and take their votes back.
        y0, y1, x0, x1 = window(cy, cx, R, B.shape)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        near = np.hypot(yy - cy, xx - cx) <= rb + ANNULUS_HALF_WIDTH
        removed = B[y0:y1, x0:x1] * near
        if removed.any():
            B[y0:y1, x0:x1] -= removed
            take_back(acc, removed, y0, x0, kern, K)
        # No second centre on top of this one.
        y0, y1, x0, x1 = window(cy, cx, S, B.shape)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        cand[y0:y1, x0:x1] &= np.hypot(yy - cy, xx - cx) > sep
        # Refresh the scores where votes or candidates changed.
        y0, y1, x0, x1 = window(cy, cx, 2 * R, B.shape)
        score[y0:y1, x0:x1] = np.where(cand[y0:y1, x0:x1], acc[y0:y1, x0:x1], -1.0)
    extra = fill_uncovered(fg & inside, r, dt, centres)
    return centres + extra, len(extra)


def fill_uncovered(fg, r, dt, centres):
    """The mask is a union of discs, so foreground that the boundary-explaining discs leave
    uncovered holds a disc whose circle is hidden under its neighbours: greedily, the centre that
    covers most of what is still uncovered, while that is at least MIN_FILL of a disc."""
    H, W = fg.shape
    covered = discs_image(centres, r + 1, fg.shape)
    uncovered = (fg & ~covered).astype(np.float32)
    cand = dt >= r - FIT_TOLERANCE
    R = int(math.ceil(r))
    yy, xx = np.mgrid[-R:R + 1, -R:R + 1]
    disc = (np.hypot(yy, xx) <= r).astype(np.float32)
    gain = fftconvolve(uncovered, disc, mode="same")
    min_gain = MIN_FILL * disc.sum()
    extra = []
    while True:
        g = np.where(cand, gain, -1.0)
        idx = int(np.argmax(g))
        cy, cx = divmod(idx, W)
        if g[cy, cx] < min_gain:
            break
        extra.append((cy, cx))
        y0, y1, x0, x1 = window(cy, cx, R, fg.shape)
        d = discs_image([(cy - y0, cx - x0)], r + 1, (y1 - y0, x1 - x0))
        removed = uncovered[y0:y1, x0:x1] * d
        uncovered[y0:y1, x0:x1] -= removed
        take_back(gain, removed, y0, x0, disc, R)
    return extra


def discs_image(centres, r, shape):
    out = np.zeros(shape, bool)
    R = int(math.ceil(r)) + 1
    for cy, cx in centres:
        y0, y1, x0, x1 = window(cy, cx, R, shape)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        out[y0:y1, x0:x1] |= np.hypot(yy - cy, xx - cx) <= r
    return out


def centres_for_mask(fg, r, disc_area):
    """Centres kept and what was done, per component."""
    # Fit on the mask padded by r (the padding counts as foreground, and has no boundary), so that
    # a particle whose centre lies just outside the image is put there and not on the edge; such
    # centres are then left out: cupick drops annotations whose centre is outside the micrograph.
    P = int(math.ceil(r))
    H, W = fg.shape
    padded, filled = fit_discs(np.pad(fg, P, mode="constant", constant_values=True), r, np.pad(boundary(fg), P),
                               np.pad(np.ones_like(fg), P))
    centres = [(cy - P, cx - P) for cy, cx in padded if P <= cy < H + P and P <= cx < W + P]
    outside = [(min(max(cy - P, 0), H - 1), min(max(cx - P, 0), W - 1)) for cy, cx in padded
               if not (P <= cy < H + P and P <= cx < W + P)]
    lab, n = ndi.label(fg)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    by_comp = {}
    for c in centres:
        by_comp.setdefault(int(lab[c]), []).append(c)
    outside_comps = {int(lab[c]) for c in outside}
    stats = dict(components=int(n), outside=len(outside), hidden=filled, split=0, dropped_speck=0, dropped_not_discs=0, unexplained=0,
                 centres_dropped=0, worst_iou=1.0)
    kept = []
    bad = []
    for k in range(1, n + 1):
        cs = by_comp.get(k, [])
        comp = lab == k
        if not cs and k in outside_comps:
            continue  # a particle whose centre is outside the image
        if not cs:
            # No disc fits: a speck, or a thin sliver at the edge.
            if sizes[k] < SPECK_FRACTION * disc_area:
                stats["dropped_speck"] += 1
            else:
                stats["unexplained"] += 1
                bad.append(k)
            continue
        if sizes[k] < SPECK_FRACTION * disc_area and not touches_edge(comp):
            stats["dropped_speck"] += 1
            stats["centres_dropped"] += len(cs)
            continue
        # IoU of the fitted discs (clipped to the image) with the component.
        ys, xs = np.nonzero(comp)
        y0, y1 = max(ys.min() - int(r) - 2, 0), min(ys.max() + int(r) + 3, fg.shape[0])
        x0, x1 = max(xs.min() - int(r) - 2, 0), min(xs.max() + int(r) + 3, fg.shape[1])
        d = discs_image([(cy - y0, cx - x0) for cy, cx in cs], r, (y1 - y0, x1 - x0))
        c = comp[y0:y1, x0:x1]
        iou = (d & c).sum() / max((d | c).sum(), 1)
        stats["worst_iou"] = min(stats["worst_iou"], float(iou))
        if iou < MIN_COMPONENT_IOU:
            stats["dropped_not_discs"] += 1
            stats["centres_dropped"] += len(cs)
            bad.append(k)
            continue
        if len(cs) > 1:
            stats["split"] += 1
        kept.extend(cs)
    return kept, stats, bad


def touches_edge(comp):
    return bool(comp[0].any() or comp[-1].any() or comp[:, 0].any() or comp[:, -1].any())


def write_box(path, centres, box, height=IMAGE_SIZE):
    """EMAN .box: lower-left corner and size, y up from the bottom edge (cupick's convention)."""
    lines = []
    for cy, cx in centres:
        x = cx + 0.5                 # pixel (row, col) spans [col, col+1): its centre
        y_file = height - (cy + 0.5)  # image y down -> file y up
        lines.append(f"{int(round(x - box / 2))}\t{int(round(y_file - box / 2))}\t{box}\t{box}\n")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, path)


def read_box(path, height=IMAGE_SIZE):
    """A .box file back as boxes (x, y centre in the image frame, y down; w, h), the way cupick
    reads it: centre = corner + size / 2, image y = height - file y."""
    out = []
    with open(path) as f:
        for line in f:
            v = line.split()
            if len(v) >= 4:
                x, y, w, h = map(float, v[:4])
                out.append((x + w / 2, height - (y + h / 2), w, h))
    return out


def overlay(image_path, box_path, out_path, bad_mask=None, fg=None, sigma=2.0):
    """The boxes of `box_path`, read back as cupick reads them (yellow, centre red), over the
    micrograph low-passed by a Gaussian of `sigma` px (the raw 1024^2 images are too noisy to see
    particles in), the mask outline in blue and dropped components in red; and beside it
    `<out>_crop.png`, the central 384^2 enlarged twice."""
    im = Image.open(image_path).convert("L")
    a = ndi.gaussian_filter(np.asarray(im, np.float32), sigma)
    lo, hi = np.percentile(a, [1, 99])
    a = np.clip((a - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    rgb = Image.fromarray(a).convert("RGB")
    if fg is not None:
        # Mask outline in blue, dropped components' outline in red.
        edge = boundary(fg)
        px = np.asarray(rgb).copy()
        px[edge] = (60, 120, 255)
        if bad_mask is not None:
            px[boundary(bad_mask)] = (255, 40, 40)
        rgb = Image.fromarray(px)
    d = ImageDraw.Draw(rgb)
    for x, y, w, h in read_box(box_path):
        d.rectangle([x - w / 2, y - h / 2, x + w / 2, y + h / 2], outline=(255, 220, 0))
        d.rectangle([x - 1, y - 1, x + 1, y + 1], fill=(255, 0, 0))
    rgb.save(out_path)
    c0 = (IMAGE_SIZE - 384) // 2
    rgb.crop((c0, c0, c0 + 384, c0 + 384)).resize((768, 768), Image.NEAREST).save(out_path[:-4] + "_crop.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--data", default="/work/shared/realdata/cryoppp")
    ap.add_argument("--sets", default="10028,10059,10947")
    ap.add_argument("--overlay", action="store_true", help="write one overlay PNG per split")
    args = ap.parse_args()
    summary = {}
    for s in args.sets.split(","):
        splits = [p for p in ("train", "valid", "test") if os.path.isdir(os.path.join(args.data, s, p))]
        files = {p: sorted(os.listdir(os.path.join(args.data, s, p, "labels"))) for p in splits}
        masks = {(p, f): load_mask(os.path.join(args.data, s, p, "labels", f)) for p in splits for f in files[p]}
        area, n_single, n_all = single_disc_area(masks.values())
        r = math.sqrt(area / math.pi)
        box = int(round(2 * r))
        print(f"== EMPIAR-{s}: single-disc area {area:.0f} px ({n_single} of {n_all} inner components "
              f"within 5%), radius {r:.2f} px, box size {box} px (1024x1024 frame)")
        info = dict(empiar=s, box_size=box, disc_radius=round(r, 3), disc_area=area,
                    single_components=n_single, inner_components=n_all, splits={})
        for p in splits:
            os.makedirs(os.path.join(args.out, s, p, "images"), exist_ok=True)
            os.makedirs(os.path.join(args.out, s, p, "box"), exist_ok=True)
            tot = dict(micrographs=0, particles=0, components=0, outside=0, hidden=0, split=0, dropped_speck=0,
                       dropped_not_discs=0, unexplained=0, centres_dropped=0)
            per = []
            for i, f in enumerate(files[p]):
                name = os.path.splitext(f)[0]
                img = os.path.join(args.data, s, p, "images", f)
                if not os.path.exists(img):
                    sys.exit(f"{img}: missing (mask {f} has no image)")
                if Image.open(img).size != (IMAGE_SIZE, IMAGE_SIZE):
                    sys.exit(f"{img}: not {IMAGE_SIZE}x{IMAGE_SIZE}")
                link = os.path.join(args.out, s, p, "images", name + ".png")
                if os.path.lexists(link):
                    os.remove(link)
                os.symlink(os.path.abspath(img), link)
                fg = masks[(p, f)]
                centres, st, bad = centres_for_mask(fg, r, area)
                box_path = os.path.join(args.out, s, p, "box", name + ".box")
                write_box(box_path, centres, box)
                tot["micrographs"] += 1
                tot["particles"] += len(centres)
                for k in ("components", "outside", "hidden", "split", "dropped_speck", "dropped_not_discs", "unexplained", "centres_dropped"):
                    tot[k] += st[k]
                per.append(dict(name=name, particles=len(centres), **st))
                if args.overlay and i == 0:
                    lab, _ = ndi.label(fg)
                    bad_mask = np.isin(lab, bad) if bad else None
                    overlay(img, box_path, os.path.join(args.out, s, f"overlay_{p}_{name}.png"), bad_mask, fg)
            ppm = [q["particles"] for q in per]
            print(f"  {p:5s}: {tot['micrographs']} micrographs, {tot['particles']} particles "
                  f"({min(ppm)}-{max(ppm)}, mean {np.mean(ppm):.1f} per micrograph); {tot['components']} components, "
                  f"{tot['split']} split, {tot['hidden']} centres added for uncovered mask, {tot['outside']} centres outside the image left out, dropped: {tot['dropped_speck']} specks, {tot['dropped_not_discs']} "
                  f"not disc-like ({tot['centres_dropped']} centres), {tot['unexplained']} without a fitting disc; "
                  f"worst component IoU {min(q['worst_iou'] for q in per):.3f}")
            info["splits"][p] = dict(totals=tot, micrographs=per)
        with open(os.path.join(args.out, s, "boxsize.json"), "w") as fh:
            json.dump(info, fh, indent=1)
        summary[s] = dict(box_size=box, disc_radius=round(r, 3))
    with open(os.path.join(args.out, "boxsizes.json"), "w") as fh:
        json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    main()
