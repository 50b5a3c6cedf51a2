// From the network's head to boxes: decoding every grid cell, then non-maximum suppression.
#pragma once
#include <vector>

#include "engine/tensor.h"
#include "io/boxes.h"

namespace cupick {

// One image of a host head tensor (anchors*(5+classes) x gh x gw): every (cell, anchor) whose
// confidence sigmoid(to) is at least `threshold`, as a box in the pixels of an image of
// `width` x `height` that the grid covers. `anchors` are (w, h) in grid cells.
std::vector<Box> decode_head(const Tensor& head, int image, const std::vector<std::pair<float, float>>& anchors,
                             int classes, float width, float height, float threshold);

// Greedy: the most confident box stays, boxes overlapping it by IoU > `max_iou` go.
std::vector<Box> non_max_suppression(std::vector<Box> boxes, float max_iou);

}  // namespace cupick
