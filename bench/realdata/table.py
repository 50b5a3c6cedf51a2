#!/usr/bin/env python3
"""The accuracy table of docs/ACCURACY.md from the results.json files under OUT/<EMPIAR>/peers/.

For each data set and peer: the setting chosen on train+valid, its test precision, recall and F1 at
the best confidence threshold on test, F1 at the score threshold of the best train+valid F1, the AUC, F1 with every pick the peer made (its own threshold), at
IoU 0.5 and 0.3. With --all, every setting's test row too.

Usage: table.py OUT [--sets 10028,10059,10947] [--all]
"""
import argparse
import json
import os

PEERS = [("relion_log", "RELION 3.1 LoG"), ("topaz", "Topaz 0.3.20 pretrained"), ("random", "random (chance)")]


def row(set_name, box, method, setting, r5, r3, picks, truth):
    at = r5.get("at_tuned_threshold")
    tuned = f"{at['f1']:.3f} (P {at['precision']:.3f}, R {at['recall']:.3f})" if at else "-"
    return (f"| {set_name} | {box} | {method} | {setting} | {r5['precision']:.3f} | {r5['recall']:.3f} | "
            f"{r5['f1']:.3f} | {tuned} | {r5['auc']:.3f} | {r5['all_picks']['f1']:.3f} | {r3['f1']:.3f} | {r3['auc']:.3f} | "
            f"{picks} / {truth} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sets", default="10028,10059,10947")
    ap.add_argument("--all", action="store_true")
    args = ap.parse_args()
    print("| EMPIAR | box (px) | method | setting (chosen on train+valid) | precision | recall | F1 | F1 at tuned threshold | AUC | "
          "F1, all picks | F1 @IoU 0.3 | AUC @IoU 0.3 | picks / true |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in args.sets.split(","):
        for peer, method in PEERS:
            path = os.path.join(args.out, s, "peers", peer, "results.json")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                res = json.load(f)
            box = res["box_size"]
            if peer == "random":
                t = res["test"]
                print(row(s, box, method, f"as many uniform random picks as true particles, mean of {res['seeds']} seeds",
                          t["iou0.5"], t["iou0.3"], t["iou0.5"]["picks"], t["iou0.5"]["truth"]))
                continue
            for e in res["settings"]:
                if e["tag"] != res["chosen"] and not args.all:
                    continue
                t5, t3 = e["test"]["iou0.5"], e["test"]["iou0.3"]
                mark = "" if e["tag"] == res["chosen"] else " (not chosen)"
                print(row(s, box, method, e["label"] + mark, t5, t3, t5["picks"], t5["truth"]))


if __name__ == "__main__":
    main()
