#!/usr/bin/env python3
"""Chance level: what uniformly random picks score against the test truth.

The labels of 10059 and 10947 cover more than half of each micrograph with overlapping discs, so a
pick placed anywhere often lands on some true box. Per test micrograph as many uniform random
centres as it has true particles (knowing the count is more than a picker knows), random
confidences, scored like the peers (CBOX of the box size, cupick evaluate at IoU 0.5 and 0.3);
the mean over SEEDS seeds goes to OUT/<EMPIAR>/peers/random/results.json.

Usage: random_baseline.py OUT [--sets 10028,10059,10947]
"""
import argparse
import json
import os

import numpy as np

import common
import peers

SEEDS = 5
SIZE = 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sets", default="10028,10059,10947")
    args = ap.parse_args()
    for s in args.sets.split(","):
        set_dir = os.path.join(args.out, s)
        with open(os.path.join(set_dir, "boxsize.json")) as f:
            box = json.load(f)["box_size"]
        truth = os.path.join(set_dir, "test", "box")
        names = sorted(f[:-4] for f in os.listdir(truth) if f.endswith(".box"))
        runs = {0.5: [], 0.3: []}
        for seed in range(SEEDS):
            rng = np.random.default_rng(seed)
            picks = {}
            for n in names:
                with open(os.path.join(truth, n + ".box")) as f:
                    k = sum(1 for line in f if line.strip())
                xy = rng.uniform(0, SIZE, (k, 2))
                picks[n] = [(x, y, rng.uniform()) for x, y in xy]
            out = os.path.join(set_dir, "peers", "random", f"seed{seed}")
            scores = peers.write_picks(picks, names, box, os.path.join(out, "cbox"))
            for iou in runs:
                rep = common.evaluate(os.path.join(out, "cbox"), truth, os.path.join(out, f"eval_iou{iou}"), iou)
                runs[iou].append(peers.summarise(rep, scores))
        res = {}
        for iou, rs in runs.items():
            res[f"iou{iou}"] = {k: float(np.mean([r[k] for r in rs])) for k in ("precision", "recall", "f1", "auc")}
            res[f"iou{iou}"]["all_picks"] = {k: float(np.mean([r["all_picks"][k] for r in rs]))
                                             for k in ("precision", "recall", "f1")}
            res[f"iou{iou}"]["picks"] = rs[0]["picks"]
            res[f"iou{iou}"]["truth"] = rs[0]["truth"]
        with open(os.path.join(set_dir, "peers", "random", "results.json"), "w") as f:
            json.dump(dict(peer="random", box_size=box, seeds=SEEDS, test=res), f, indent=1)
        r5, r3 = res["iou0.5"], res["iou0.3"]
        print(f"EMPIAR-{s} random ({SEEDS} seeds, as many picks as true particles): IoU 0.5 F1 {r5['f1']:.3f} "
              f"(all picks {r5['all_picks']['f1']:.3f}) AUC {r5['auc']:.3f}; IoU 0.3 F1 {r3['f1']:.3f} AUC {r3['auc']:.3f}")


if __name__ == "__main__":
    main()
