// One micrograph (or each of its patches) as the network sees it: read, resized to the network
// input, low-pass filtered and normalised, with the map back to the micrograph's own pixels.
// Training and picking both start here.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "io/config.h"

namespace cupick {

class GpuLowpass;  // image/preprocess.h

// A micrograph (or one patch of it) as the network sees it, and the map back to the micrograph's
// own pixels: micrograph x = network x / scale_x + x0, likewise y (rows counted from the top).
struct Prepared {
  Tensor image;            // 1 x 1 x H x W host f32: resized, low-passed, normalised
  int width = 0, height = 0;  // the micrograph's size in pixels
  float scale_x = 1, scale_y = 1;  // network-input pixels per micrograph pixel
  int x0 = 0, y0 = 0;      // patch mode: the patch's top-left corner in the micrograph; else 0
};

// Micrographs outside these bounds are refused, naming the file: the network's smallest input is
// 32 pixels a side, and the widest camera frame (K3's 5760 x 4092) is 1.4 times as wide as high.
constexpr int min_micrograph_side = 32;
constexpr double max_micrograph_aspect = 4;

// Reads a micrograph, resizes it to the network input size (anti-aliased), low-pass filters that
// at the config's cutoff (cached in the config's filter folder) and normalises it
// (docs/BEHAVIOUR.md §3). The filter runs on `gpu` when given (the same result to float rounding),
// else on the CPU. Thread-safe.
Prepared prepare_micrograph(const std::string& path, const ModelConfig& model, GpuLowpass* gpu = nullptr);

// Patch mode (model.num_patches = n > 1, docs/BEHAVIOUR.md §3.6): the micrograph is read once and
// cut into n x n overlapping patches (make_tiles, model.overlap_patches), each resized to the network
// input, filtered and normalised on its own; row by row, left to right. n = 1: the one
// prepare_micrograph gives. Thread-safe.
std::vector<Prepared> prepare_patches(const std::string& path, const ModelConfig& model, GpuLowpass* gpu = nullptr);

}  // namespace cupick
