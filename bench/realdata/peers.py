"""Running a peer picker over a grid of settings: tuned on train+valid, reported on test.

A peer is a function pick(setting, split_dir, work_dir) -> {micrograph name: [(x, y, score)]} with
(x, y) the particle centre in cupick's file frame (y up from the bottom edge, common.py). Each
setting's picks of the tuning micrographs (train and valid) and of the test micrographs are
written as CBOX files of the data set's box size, the peer's scores ranked into confidences pooled
over the group, and scored by `cupick evaluate` (IoU 0.5 and 0.3). The setting of the best tuning F1
(IoU 0.5) is the one reported; every setting's test numbers are kept too, with F1 at the score
threshold of the best tuning F1 (at_tuned_threshold) beside the best F1 on the test set itself.
"""
import argparse
import json
import math
import os
import shutil

import common

TUNE_SPLITS = ("train", "valid")


def ensure_mrc(split_dir):
    """split_dir/mrc/<name>.mrc for each split_dir/images/<name>.{png,jpg} (converted) or .mrc (linked)."""
    mrc = os.path.join(split_dir, "mrc")
    os.makedirs(mrc, exist_ok=True)
    for f in sorted(os.listdir(os.path.join(split_dir, "images"))):
        stem, ext = os.path.splitext(f)
        out = os.path.join(mrc, stem + ".mrc")
        if os.path.lexists(out):
            continue
        if ext in (".png", ".jpg"):
            common.png_to_mrc(os.path.join(split_dir, "images", f), out)
        elif ext == ".mrc":
            os.symlink(os.path.realpath(os.path.join(split_dir, "images", f)), out)
    return mrc


def truth_folder(set_dir, splits):
    """A folder of symlinks to the .box files of `splits` (evaluate reads one folder)."""
    if len(splits) == 1:
        return os.path.join(set_dir, splits[0], "box")
    d = os.path.join(set_dir, "+".join(splits), "box")
    os.makedirs(d, exist_ok=True)
    for s in splits:
        src = os.path.join(set_dir, s, "box")
        for f in os.listdir(src):
            link = os.path.join(d, f)
            if not os.path.lexists(link):
                os.symlink(os.path.abspath(os.path.join(src, f)), link)
    return d


def write_picks(picks, names, box, out_dir):
    """CBOX per micrograph (an empty one where the peer found nothing); returns the scores."""
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    scores = [s for n in names for _, _, s in picks.get(n, [])]
    conf = iter(common.rank_confidences(scores))
    for n in names:
        rows = [(x, y, box, box, next(conf)) for x, y, _ in picks.get(n, [])]
        common.write_cbox(os.path.join(out_dir, n + ".cbox"), rows)
    return scores


def summarise(rep, scores):
    best = rep["best"]
    at0 = common.at_threshold(rep, 0.0)
    return dict(precision=best["precision"], recall=best["recall"], f1=best["f1"], auc=rep["auc"],
                best_confidence=best["threshold"],
                best_score=common.score_at_confidence(scores, best["threshold"]) if scores else None,
                all_picks=dict(precision=at0["precision"], recall=at0["recall"], f1=at0["f1"]),
                picks=rep["picks"], truth=rep["truth_boxes"], micrographs=rep["micrographs"],
                command=rep["command"])


def at_score(report, scores, score):
    """The test curve point that keeps the picks with score >= `score` (to the curve's 0.001 steps:
    at most 0.1% of the picks below it kept too)."""
    if score is None or not scores:
        return None
    below = sum(1 for x in scores if x < score)
    c = (below + 1) / len(scores) if below < len(scores) else 1.0
    p = common.at_threshold(report, math.floor(c * 1000) / 1000)
    return dict(score=score, confidence=p["threshold"], precision=p["precision"], recall=p["recall"], f1=p["f1"])


def run_grid(name, pick, settings, set_dir, box, label=str):
    """Every setting on the tuning and test micrographs; results in set_dir/peers/<name>/results.json."""
    base = os.path.join(set_dir, "peers", name)
    os.makedirs(base, exist_ok=True)
    groups = {"tune": [s for s in TUNE_SPLITS if os.path.isdir(os.path.join(set_dir, s))], "test": ["test"]}
    results = []
    for k, setting in enumerate(settings):
        tag = f"s{k:02d}"
        entry = dict(tag=tag, setting=setting, label=label(setting))
        for g, splits in groups.items():
            picks, names = {}, []
            for sp in splits:
                d = os.path.join(set_dir, sp)
                names += sorted(f[:-4] for f in os.listdir(os.path.join(d, "box")) if f.endswith(".box"))
                picks.update(pick(setting, d, os.path.join(base, tag, "work", sp)))
            out = os.path.join(base, tag, g)
            scores = write_picks(picks, names, box, os.path.join(out, "cbox"))
            truth = truth_folder(set_dir, splits)
            entry[g] = {}
            for iou in (0.5, 0.3):
                rep = common.evaluate(os.path.join(out, "cbox"), truth, os.path.join(out, f"eval_iou{iou}"), iou)
                entry[g][f"iou{iou}"] = summarise(rep, scores)
                if g == "test":
                    # The score threshold of the best tuning F1, applied to the test picks: a
                    # threshold set in advance, as a user would set it.
                    tuned = entry["tune"][f"iou{iou}"]["best_score"]
                    entry[g][f"iou{iou}"]["at_tuned_threshold"] = at_score(rep, scores, tuned)
        t, s = entry["tune"]["iou0.5"], entry["test"]["iou0.5"]
        print(f"  {name} {tag} {entry['label']}: tune F1 {t['f1']:.3f} AUC {t['auc']:.3f} | test F1 {s['f1']:.3f} "
              f"(P {s['precision']:.3f} R {s['recall']:.3f}) AUC {s['auc']:.3f}, all picks F1 {s['all_picks']['f1']:.3f}, "
              f"{s['picks']} picks / {s['truth']} true, at the tuned threshold F1 {s['at_tuned_threshold']['f1']:.3f}", flush=True)
        results.append(entry)
    chosen = max(results, key=lambda e: (e["tune"]["iou0.5"]["f1"], e["tune"]["iou0.5"]["auc"]))
    with open(os.path.join(base, "results.json"), "w") as f:
        json.dump(dict(peer=name, box_size=box, chosen=chosen["tag"], settings=results), f, indent=1)
    print(f"  {name}: chosen on train+valid: {chosen['tag']} {chosen['label']}")
    return chosen


def main(name, pick, settings_grid, label, doc):
    """The command line of a peer script: OUT [--sets ...] [--quick], each set's grid of settings."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--sets", default="10028,10059,10947")
    ap.add_argument("--quick", action="store_true", help="one setting only")
    args = ap.parse_args()
    for s in args.sets.split(","):
        set_dir = os.path.join(args.out, s)
        with open(os.path.join(set_dir, "boxsize.json")) as f:
            box = json.load(f)["box_size"]
        print(f"== EMPIAR-{s}: box {box} px")
        run_grid(name, pick, settings_grid(box, args.quick), set_dir, box, label)
