// The one in-memory box model: a particle's box in micrograph pixels, by its centre. Every reader
// (BOX, STAR, CBOX) converts into it and every writer out of it.
#pragma once
#include <algorithm>
#include <vector>

namespace cupick {

struct Box {
  float x = 0, y = 0;          // centre, pixels; x to the right, y down the image rows
  float w = 0, h = 0;          // size, pixels
  float confidence = 1;        // 1 for annotations; the network's score for picks
  // The size the network estimated, where it differs from w, h: CBOX files keep both, the box size
  // written (w, h) and the detected one (_EstWidth/_EstHeight), so that picks can be filtered by
  // size again later. 0: not estimated, the same as w, h.
  float est_w = 0, est_h = 0;

  float estimated_w() const { return est_w > 0 ? est_w : w; }
  float estimated_h() const { return est_h > 0 ? est_h : h; }
};

// Intersection over union of two boxes (0 when either is empty).
inline float iou(const Box& a, const Box& b) {
  const float ix = std::max(0.f, std::min(a.x + a.w / 2, b.x + b.w / 2) - std::max(a.x - a.w / 2, b.x - b.w / 2));
  const float iy = std::max(0.f, std::min(a.y + a.h / 2, b.y + b.h / 2) - std::max(a.y - a.h / 2, b.y - b.h / 2));
  const float inter = ix * iy, uni = a.w * a.h + b.w * b.h - inter;
  return uni > 0 ? inter / uni : 0.f;
}

}  // namespace cupick
