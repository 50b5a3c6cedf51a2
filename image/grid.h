// The grid the network's head predicts on, and the one place where sizes change units. A box or an
// anchor is in one of three frames:
//   micrograph pixels     the file's; the config's anchors ("anchors": [w, h]) and the picks
//   network-input pixels  the prepared image (image/network_input.h): micrograph pixels x scale,
//                         less a patch's corner; training examples' boxes
//   grid cells            the head's: network-input pixels / cell size; the loss and the decoder
#pragma once
#include <utility>

#include "engine/tensor.h"

namespace cupick {

struct Grid {
  int input_w = 0, input_h = 0;  // network input, pixels
  int cells_w = 0, cells_h = 0;  // head, cells

  // The grid of a head of shape `head` over a network input of shape `input`.
  static Grid of(Shape input, Shape head) { return {input.w, input.h, head.w, head.h}; }

  // Network-input pixels per cell (16 or 32 for the shipped networks).
  float cell_w() const { return float(input_w) / float(cells_w); }
  float cell_h() const { return float(input_h) / float(cells_h); }

  // An anchor (w, h) in micrograph pixels, in cells, for a micrograph shown at scale_x, scale_y
  // network-input pixels per micrograph pixel.
  std::pair<float, float> anchor_in_cells(std::pair<float, float> anchor, float scale_x, float scale_y) const {
    return {anchor.first * scale_x / cell_w(), anchor.second * scale_y / cell_h()};
  }
};

}  // namespace cupick
