#include "pick/decode.h"

#include <algorithm>
#include <cmath>

#include "kernels/yolo_loss.h"

namespace cupick {

std::vector<Box> decode_head(const Tensor& head, int image, const std::vector<std::pair<float, float>>& anchors,
                             int classes, float width, float height, float threshold) {
  const Shape& s = head.shape();
  const int per_anchor = 5 + classes;
  if (head.device() != Device::cpu || head.dtype() != DType::f32 || s.c != int(anchors.size()) * per_anchor)
    throw ShapeError("decode: head " + head.str() + " does not fit " + std::to_string(anchors.size()) +
                     " anchor(s) and " + std::to_string(classes) + " class(es)");
  if (image < 0 || image >= s.n)
    throw ShapeError("decode: image " + std::to_string(image) + " of a head of " + std::to_string(s.n));
  const size_t plane = size_t(s.h) * s.w;
  const float* base = head.data<float>() + size_t(image) * s.c * plane;
  const float cell_w = width / s.w, cell_h = height / s.h;
  auto sigmoid = [](float v) { return 1 / (1 + std::exp(-v)); };
  std::vector<Box> boxes;
  for (size_t a = 0; a < anchors.size(); ++a) {
    const float* t = base + a * per_anchor * plane;  // tx, ty, tw, th, to planes
    for (int cy = 0; cy < s.h; ++cy)
      for (int cx = 0; cx < s.w; ++cx) {
        const size_t i = size_t(cy) * s.w + cx;
        const float conf = sigmoid(t[4 * plane + i]);
        if (conf < threshold) continue;
        Box b;
        b.x = (sigmoid(t[i]) + cx) * cell_w;
        b.y = (sigmoid(t[plane + i]) + cy) * cell_h;
        // Bounded as the loss bounds them (kernels::yolo::min_of, NaN included).
        b.w = std::exp(kernels::yolo::min_of(t[2 * plane + i], kernels::kMaxSizeLogit)) * anchors[a].first * cell_w;
        b.h = std::exp(kernels::yolo::min_of(t[3 * plane + i], kernels::kMaxSizeLogit)) * anchors[a].second * cell_h;
        b.confidence = conf;
        boxes.push_back(b);
      }
  }
  return boxes;
}

std::vector<Box> non_max_suppression(std::vector<Box> boxes, float max_iou) {
  std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) { return a.confidence > b.confidence; });
  std::vector<Box> kept;
  for (const Box& b : boxes) {
    bool overlaps = false;
    for (const Box& k : kept)
      if (iou(b, k) > max_iou) {
        overlaps = true;
        break;
      }
    if (!overlaps) kept.push_back(b);
  }
  return kept;
}

}  // namespace cupick
