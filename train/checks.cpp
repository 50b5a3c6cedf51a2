#include "train/checks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

namespace cupick {

namespace {

// Particles whose cell, at `zoom` times the current input size, holds another particle's centre.
size_t sharing_at(const std::vector<Example>& train_set, const Grid& grid, double zoom) {
  size_t sharing = 0;
  for (const Example& e : train_set) {
    std::map<std::pair<long, long>, int> per_cell;
    for (const Box& b : e.boxes)
      ++per_cell[{long(std::floor(b.x * zoom / grid.cell_w())), long(std::floor(b.y * zoom / grid.cell_h()))}];
    for (const auto& [cell, count] : per_cell)
      if (count > 1) sharing += size_t(count);
  }
  return sharing;
}

float median(std::vector<float> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

DataCheck check_training_data(const std::vector<Example>& train_set, const Grid& grid, const TrainOptions& opt) {
  DataCheck c;
  std::vector<float> widths, heights;
  for (const Example& e : train_set)
    for (const Box& b : e.boxes) {
      widths.push_back(b.w / e.scale_x);
      heights.push_back(b.h / e.scale_y);
    }
  c.particles = widths.size();
  c.sharing = sharing_at(train_set, grid, 1);
  c.input_side = std::min(grid.input_w, grid.input_h);
  constexpr double kAcceptable = 0.05;
  if (c.particles && c.sharing_share() > kAcceptable)
    for (int side = (c.input_side / 32 + 1) * 32; side <= 4096; side += 32)
      if (double(sharing_at(train_set, grid, double(side) / c.input_side)) <= kAcceptable * double(c.particles)) {
        c.better_side = side;
        break;
      }
  if (!opt.anchors.empty()) c.anchor_w = opt.anchors[0].first, c.anchor_h = opt.anchors[0].second;
  c.box_w = median(widths);
  c.box_h = median(heights);
  c.crops = training_crops(opt, train_set.size(), {1, 1, grid.input_h, grid.input_w});
  c.steps_per_epoch = steps_per_epoch(opt, train_set.size(), c.crops);
  return c;
}

std::vector<std::string> describe(const DataCheck& c) {
  std::vector<std::string> lines;
  char line[512];
  std::snprintf(line, sizeof line,
                "%.0f%% of the %zu training particles share a grid cell at input %d; anchor %.0f x %.0f, median "
                "box %.0f x %.0f (micrograph pixels); %zu optimiser steps per epoch",
                100 * c.sharing_share(), c.particles, c.input_side, c.anchor_w, c.anchor_h, c.box_w, c.box_h,
                c.steps_per_epoch);
  lines.push_back(line);
  if (c.crops > 1) {
    std::snprintf(line, sizeof line,
                  "few micrographs: training on random crops of 1/%d of the network image's side, %d per image "
                  "and pass, for %zu optimiser steps per epoch",
                  c.crops, c.crops * c.crops, c.steps_per_epoch);
    lines.push_back(line);
  }
  if (c.sharing_share() > 0.05) {
    // One cell predicts one box: of two particles in a cell, one is never learned.
    if (c.better_side)
      std::snprintf(line, sizeof line,
                    "warning: %.0f%% of the particles share a grid cell with another, and a cell learns only one: "
                    "input_size %d would bring that to 5%% or less",
                    100 * c.sharing_share(), c.better_side);
    else
      std::snprintf(line, sizeof line,
                    "warning: %.0f%% of the particles share a grid cell with another, and a cell learns only one; "
                    "no input_size up to 4096 fixes it: are the particles annotated twice?",
                    100 * c.sharing_share());
    lines.push_back(line);
  }
  if (c.box_w > 0 && c.anchor_w > 0 &&
      (std::abs(c.anchor_w / c.box_w - 1) > 0.25 || std::abs(c.anchor_h / c.box_h - 1) > 0.25)) {
    std::snprintf(line, sizeof line,
                  "warning: the anchor (%.0f x %.0f) differs from the annotated boxes (median %.0f x %.0f) by more "
                  "than 25%%: set anchors to the box size",
                  c.anchor_w, c.anchor_h, c.box_w, c.box_h);
    lines.push_back(line);
  }
  if (c.steps_per_epoch < 10) {
    std::snprintf(line, sizeof line,
                  "warning: an epoch is only %zu optimiser steps: raise train_times or give more micrographs, or "
                  "training will stop before it learns",
                  c.steps_per_epoch);
    lines.push_back(line);
  }
  return lines;
}

std::string stalled_validation(const std::vector<EpochLog>& history, int warmup_epochs, int patience) {
  // The first epoch after the warm-up is the reference; the warning comes once, `patience` epochs later.
  const size_t first = size_t(std::max(warmup_epochs, 0));
  if (history.size() != first + size_t(patience) + 1) return "";
  const double reference = history[first].valid_loss;
  double best = reference;
  for (size_t i = first; i < history.size(); ++i) best = std::min(best, history[i].valid_loss);
  if (!(best > 0.99 * reference)) return "";
  char line[400];
  std::snprintf(line, sizeof line,
                "warning: the validation loss has not moved in the %d epochs after the warm-up (%.4f, best %.4f): "
                "the network may be learning nothing; more optimiser steps (train_times), more micrographs or a "
                "larger input_size may help",
                patience, reference, best);
  return line;
}

}  // namespace cupick
