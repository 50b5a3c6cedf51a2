#include "pick/evaluate.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "image/plot.h"
#include "io/annotations.h"
#include "io/files.h"

namespace cupick {

namespace {

namespace fs = std::filesystem;
using BoxesByMicrograph = std::map<std::string, std::vector<Box>>;

constexpr int threshold_steps = 1000;  // thresholds 0, 0.001, ..., 1

// Threshold i as the float that confidences are compared with: float(i) / 1000 is the float nearest
// i/1000, so a pick of confidence 0.7f counts at threshold 0.7 (compared in double, 0.7f < 0.7).
float threshold_float(int i) { return float(i) / float(threshold_steps); }

// "a, b, c and 4 more": the first `n` names.
std::string some_names(const std::vector<std::string>& names, size_t n = 3) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < n; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > n) s += " and " + std::to_string(names.size() - n) + " more";
  return s;
}

std::string some_keys(const BoxesByMicrograph& m) {
  std::vector<std::string> keys;
  for (const auto& [key, boxes] : m) keys.push_back(key);
  return some_names(keys);
}

// crYOLO's script's F1 for one micrograph at threshold t (see Evaluation::per_micrograph_f1).
double any_overlap_f1(const std::vector<Box>& picks, const std::vector<Box>& truth, double iou_threshold, float t) {
  std::vector<bool> found(truth.size(), false);
  size_t picked = 0, right = 0;
  for (const Box& p : picks) {
    if (p.confidence < t) continue;
    ++picked;
    bool hit = false;
    for (size_t j = 0; j < truth.size(); ++j) {
      if (iou(p, truth[j]) > iou_threshold) hit = found[j] = true;
    }
    right += hit;
  }
  const double precision = picked ? double(right) / picked : 1;
  const double recall = truth.empty() ? 1 : double(std::count(found.begin(), found.end(), true)) / truth.size();
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
}

std::string lower_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

BoxesByMicrograph read_boxes_folder(const std::string& dir, const std::string& side, double default_box_size) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(side + ": " + dir + (fs::exists(dir, ec) ? " is not a folder" : " does not exist"));
  std::vector<fs::path> files;
  std::error_code file_ec;  // a file that vanished while listing is simply not there
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string ext = lower_extension(it->path());
    if ((ext == ".box" || ext == ".star" || ext == ".cbox") && it->is_regular_file(file_ec)) files.push_back(it->path());
  }
  if (ec) throw Error(side + ": cannot list " + dir + ": " + ec.message());
  if (files.empty()) throw Error(side + ": " + dir + " holds no .box, .star or .cbox file");
  std::sort(files.begin(), files.end());  // the same messages on every file system

  BoxesByMicrograph boxes;
  std::map<std::string, std::string> source;  // micrograph -> the file it came from
  for (const fs::path& file : files) {
    const std::string path = file.string();
    BoxesByMicrograph read;
    if (lower_extension(file) == ".star") {
      read = read_star_by_micrograph(path, float(default_box_size));
      for (const auto& [key, b] : read)
        if (!b.empty() && !(default_box_size > 0))
          throw Error(path + ": STAR files hold no box size: give one with -b (--box_size), in pixels");
    } else {
      read[micrograph_key(path)] = read_boxes(path, float(default_box_size));
    }
    for (auto& [key, b] : read) {
      const auto [it, fresh] = source.emplace(key, path);
      if (!fresh) throw Error(side + ": micrograph " + key + " is in both " + it->second + " and " + path);
      boxes[key] = std::move(b);
    }
  }
  return boxes;
}


std::vector<Match> match_picks(const std::vector<Box>& picks, const std::vector<Box>& truth, double iou_threshold) {
  std::vector<size_t> order(picks.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return picks[a].confidence > picks[b].confidence; });
  std::vector<bool> taken(truth.size(), false);
  std::vector<Match> matches;
  matches.reserve(picks.size());
  for (size_t p : order) {
    Match m{p, -1, 0.f, picks[p].confidence};
    for (size_t t = 0; t < truth.size(); ++t) {
      if (taken[t]) continue;
      const float overlap = iou(picks[p], truth[t]);
      if (overlap > iou_threshold && overlap > m.iou) m.truth = long(t), m.iou = overlap;
    }
    if (m.truth >= 0) taken[size_t(m.truth)] = true;
    matches.push_back(m);
  }
  return matches;
}

Evaluation evaluate(const BoxesByMicrograph& picks, const BoxesByMicrograph& truth, double iou_threshold) {
  if (truth.empty()) throw Error("evaluation: the ground truth names no micrograph");
  Evaluation e;
  e.iou_threshold = iou_threshold;
  e.micrographs = truth.size();

  // Each micrograph is matched once, with all its picks. That is the matching at every threshold t
  // at once: picks are taken most confident first, so when a pick of confidence c is matched, only
  // picks of confidence >= c have taken true boxes before it; leaving out the picks below t changes
  // nothing for those above it. (Equal confidences are always in or out together.) So a pick is a
  // true or a false positive whatever the threshold, and the counts at t are those of the picks >= t.
  std::vector<std::pair<float, bool>> scored;  // (confidence, true positive) of every pick
  for (const auto& [key, boxes] : truth) {
    e.truth_boxes += boxes.size();
    const auto it = picks.find(key);
    if (it == picks.end()) continue;
    for (const Match& m : match_picks(it->second, boxes, iou_threshold)) scored.emplace_back(m.confidence, m.truth >= 0);
  }
  if (e.truth_boxes == 0)
    throw Error("evaluation: the ground truth of " + some_keys(truth) + " holds no box; recall means nothing");
  e.picks = scored.size();

  std::vector<std::string> without_truth;
  for (const auto& [key, boxes] : picks)
    if (!truth.count(key)) without_truth.push_back(key);
  if (!without_truth.empty())
    e.warnings.push_back("picks of " + std::to_string(without_truth.size()) +
                         " micrographs without ground truth left out: " + some_names(without_truth));

  // From the highest threshold down, each pick is counted once as the threshold passes it.
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  e.curve.resize(threshold_steps + 1);
  size_t next = 0, tp = 0, fp = 0;
  for (int i = threshold_steps; i >= 0; --i) {
    for (; next < scored.size() && scored[next].first >= threshold_float(i); ++next) ++(scored[next].second ? tp : fp);
    CurvePoint& c = e.curve[size_t(i)];
    c.threshold = double(i) / threshold_steps;
    c.tp = tp, c.fp = fp, c.fn = e.truth_boxes - tp;
    c.precision = tp + fp ? double(tp) / double(tp + fp) : 1;
    c.recall = double(tp) / double(e.truth_boxes);
    c.f1 = tp ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0;
  }

  int best = 0;
  for (int i = 1; i <= threshold_steps; ++i)
    if (e.curve[size_t(i)].f1 > e.curve[size_t(best)].f1) best = i;
  e.best_threshold = e.curve[size_t(best)].threshold;
  e.precision = e.curve[size_t(best)].precision;
  e.recall = e.curve[size_t(best)].recall;
  e.f1 = e.curve[size_t(best)].f1;

  // From the highest threshold down recall never falls: trapezoids between neighbouring points
  // (points of equal recall add nothing), the first point's precision held back to recall 0.
  double previous_recall = 0, previous_precision = -1;
  for (int i = threshold_steps; i >= 0; --i) {
    const CurvePoint& c = e.curve[size_t(i)];
    if (c.tp + c.fp == 0) continue;  // its precision is a convention, not a measurement
    if (previous_precision < 0) previous_precision = c.precision;
    e.auc += (c.recall - previous_recall) * (c.precision + previous_precision) / 2;
    previous_recall = c.recall, previous_precision = c.precision;
  }

  static const std::vector<Box> no_picks;
  double sum = 0;
  for (const auto& [key, boxes] : truth) {
    const auto it = picks.find(key);
    sum += any_overlap_f1(it == picks.end() ? no_picks : it->second, boxes, iou_threshold, threshold_float(best));
  }
  e.per_micrograph_f1 = sum / double(truth.size());
  return e;
}

Evaluation evaluate_folders(const std::string& picks_dir, const std::string& truth_dir, double default_box_size,
                            double iou_threshold) {
  const BoxesByMicrograph picks = read_boxes_folder(picks_dir, "picks", default_box_size);
  const BoxesByMicrograph truth = read_boxes_folder(truth_dir, "ground truth", default_box_size);
  const bool common = std::any_of(truth.begin(), truth.end(), [&](const auto& t) { return picks.count(t.first) > 0; });
  if (!common)
    throw Error("no micrograph has both picks and ground truth: the picks in " + picks_dir + " are for " +
                some_keys(picks) + "; the ground truth in " + truth_dir + " is for " + some_keys(truth));
  return evaluate(picks, truth, iou_threshold);
}

void write_report_json(const std::string& path, const Evaluation& e) {
  using json = nlohmann::ordered_json;
  json curve = json::array();
  for (const CurvePoint& c : e.curve)
    curve.push_back({{"threshold", c.threshold}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                     {"tp", c.tp}, {"fp", c.fp}, {"fn", c.fn}});
  const json report = {
      {"micrographs", e.micrographs},
      {"truth_boxes", e.truth_boxes},
      {"picks", e.picks},
      {"iou_threshold", e.iou_threshold},
      {"best", {{"threshold", e.best_threshold}, {"precision", e.precision}, {"recall", e.recall}, {"f1", e.f1}}},
      {"auc", e.auc},
      {"cryolo_per_micrograph",
       {{"note", "crYOLO's evaluation script's variant: per-micrograph F1 averaged, one pick may match several "
                 "true boxes; at the best threshold above"},
        {"threshold", e.best_threshold},
        {"f1", e.per_micrograph_f1}}},
      {"warnings", e.warnings},
      {"curve", curve},
  };
  write_file_atomically(path, report.dump(2) + "\n");
}

void write_pr_curve(const std::string& png_path, const Evaluation& e, int width, int height) {
  LinePlot plot;
  plot.width = width, plot.height = height;
  char title[96], label[96];
  std::snprintf(title, sizeof title, "Precision-recall (IoU > %g), AUC %.3f", e.iou_threshold, e.auc);
  std::snprintf(label, sizeof label, "best F1 %.3f at threshold %.3f", e.f1, e.best_threshold);
  plot.title = title;
  plot.x_label = "recall (true particles found)";
  plot.y_label = "precision (picks right)";
  PlotSeries pr;
  for (int i = int(e.curve.size()) - 1; i >= 0; --i) {  // by falling threshold: recall never falls
    const CurvePoint& c = e.curve[size_t(i)];
    if (c.tp + c.fp > 0) pr.points.emplace_back(c.recall, c.precision);
  }
  plot.series.push_back(std::move(pr));
  plot.markers.push_back(PlotMarker{e.recall, e.precision, Rgb{214, 39, 40}, label});
  write_line_plot(png_path, plot);
}

}  // namespace cupick
