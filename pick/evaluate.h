// Picks against ground truth (docs/BEHAVIOUR.md §8): greedy matching per micrograph, a sweep of the
// confidence threshold, precision, recall and F1 from counts pooled over all micrographs, the area
// under the precision-recall curve and the threshold of the best F1; a JSON report and a PNG of the
// curve.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "io/boxes.h"

namespace cupick {

// What became of one pick in its micrograph's matching.
struct Match {
  size_t pick = 0;        // index into the micrograph's picks
  long truth = -1;        // index of the true box it matched; -1: a false positive
  float iou = 0;          // with that true box; 0 for a false positive
  float confidence = 0;   // the pick's
};

// Greedy matching of one micrograph: picks in order of confidence, most confident first (equal
// confidences in their order), each takes the still unmatched true box of highest IoU (the first of
// equals) where that IoU is > iou_threshold; so a true box is matched at most once and, of two picks
// that want it, the more confident one has it. One Match per pick, in the order they were processed.
std::vector<Match> match_picks(const std::vector<Box>& picks, const std::vector<Box>& truth, double iou_threshold = 0.5);

// Everything at one confidence threshold: the picks with confidence >= threshold, counted over all
// micrographs. Precision is 1 where nothing is picked (nothing picked, nothing wrong); F1 is 0 where
// nothing is right.
struct CurvePoint {
  double threshold = 0;
  double precision = 1, recall = 0, f1 = 0;
  size_t tp = 0, fp = 0, fn = 0;
};

struct Evaluation {
  double iou_threshold = 0.5;
  // At the threshold of the best F1 (the lowest threshold of equal best F1s).
  double best_threshold = 0, precision = 0, recall = 0, f1 = 0;
  // Area under the precision-recall curve, trapezoids over recall between the points of `curve` that
  // pick something; from recall 0 to the first such point precision is held at that point's value,
  // and beyond the highest recall reached there is no area (what a picker never finds costs it).
  double auc = 0;
  std::vector<CurvePoint> curve;  // 1001 points: thresholds 0, 0.001, ..., 1
  // crYOLO's own evaluation script's way, for comparison with numbers it printed, at best_threshold:
  // per micrograph, a pick is right when it overlaps any true box by IoU > iou_threshold (so one pick
  // may account for several true boxes, and several picks for one), a true box is found when any pick
  // overlaps it so; F1 per micrograph (precision 1 without picks, recall 1 without true boxes),
  // averaged over the micrographs. Not the pooled, one-to-one numbers above.
  double per_micrograph_f1 = 0;
  size_t micrographs = 0;   // with ground truth: those evaluated
  size_t truth_boxes = 0;   // in them
  size_t picks = 0;         // in them, at any confidence
  std::vector<std::string> warnings;  // one line each: picks that were left out and why
};

// `picks` and `truth` by micrograph key. Every micrograph of `truth` is evaluated; one without picks
// counts all its true boxes as false negatives. Picks for micrographs that are not in `truth` are
// left out with a warning: picking a whole data set and annotating a part of it is the usual case.
// No micrograph in `truth`, or no true box in any of them, is an Error (recall means nothing then).
// Confidences below 0 are never counted, above 1 always.
Evaluation evaluate(const std::map<std::string, std::vector<Box>>& picks,
                    const std::map<std::string, std::vector<Box>>& truth, double iou_threshold = 0.5);

// Every .box, .star and .cbox file of each folder (not of its subfolders; other files are skipped),
// keyed by micrograph_key() of the file's name; a STAR file naming micrographs in _rlnMicrographName
// gives boxes to each of them. STAR boxes are `default_box_size` wide and high: STAR has no sizes.
// Errors: a folder that is missing or holds no such file, a file that cannot be read (the reader's
// line naming it), a micrograph in two files of one folder, STAR boxes without default_box_size, and
// no micrograph that both folders name (a few of each side are named).
Evaluation evaluate_folders(const std::string& picks_dir, const std::string& truth_dir, double default_box_size,
                            double iou_threshold = 0.5);

// The boxes of every .box, .star and .cbox file directly in `dir`, by micrograph key, as
// evaluate_folders reads each side; `side` ("picks", "ground truth") starts each error message.
std::map<std::string, std::vector<Box>> read_boxes_folder(const std::string& dir, const std::string& side,
                                                          double default_box_size);

// The evaluation as JSON: the counts, the best threshold with its precision, recall and F1, the AUC,
// crYOLO's per-micrograph variant under its own key, the warnings and the whole curve. Written to
// "<path>.tmp" and renamed to `path`.
void write_report_json(const std::string& path, const Evaluation& evaluation);

// The precision-recall curve (recall along x, precision up y, both 0 to 1, a grid every 0.1, title
// with IoU and AUC, axis labels) with the best-F1 point marked in red and labelled with its F1 and
// threshold, as a `width` x `height` RGB PNG at `png_path` and as SVG beside it (.svg); each
// written to "<path>.tmp" and renamed.
void write_pr_curve(const std::string& png_path, const Evaluation& evaluation, int width = 640, int height = 480);

}  // namespace cupick
