// crYOLO's training loss (the keras-yolo2 form, docs/BEHAVIOUR.md §4): forward and hand-written
// backward in one call, on the host (float or double: the reference, and the finite-difference
// check in double) or on a GPU (float). The per-entry math lives in kernels/yolo_loss.h, shared by
// both paths.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "engine/context.h"
#include "engine/tensor.h"
#include "kernels/yolo_loss.h"

namespace cupick {

// A true box: centre and size in grid cells (independent of the image size), class index.
struct TruthBox {
  float x, y, w, h;
  int cls = 0;
};

struct LossConfig {
  std::vector<std::pair<float, float>> anchors;  // (w, h) in grid cells
  int classes = 1;
  kernels::LossScales scales = {};  // object_scale, no_object_scale, coord_scale, class_scale
};

// The loss and its parts, for the log. object and no_object are the two parts of the confidence
// term (they share its divisor); total is the sum of the five.
struct LossTerms {
  double total = 0, xy = 0, wh = 0, object = 0, no_object = 0, cls = 0;
};

class YoloLoss {
 public:
  explicit YoloLoss(LossConfig config);
  const LossConfig& config() const { return config_; }

  // head: N x A*(5+C) x gh x gw on ctx's device (anchor a's channels a*(5+C) + [tx, ty, tw, th, to,
  // class logits...]); truth: the boxes of each image (N vectors, any of them empty); warmup: crYOLO's
  // warm-up epochs (every entry trains its box, towards the cell centre and anchor size where it has
  // no true box). Overwrites dhead with d total / d head; an empty dhead is allocated like head.
  // On a GPU dhead is complete in stream order; the call waits for the loss values only.
  LossTerms compute(Context& ctx, const Tensor& head, const std::vector<std::vector<TruthBox>>& truth, bool warmup,
                    Tensor& dhead);

 private:
  // Checks the boxes, flattens them into boxes_ / first_ and assigns each to its entry (entry_box_).
  void assign(const Shape& head, const std::vector<std::vector<TruthBox>>& truth);
  void compute_cpu(const Tensor& head, bool warmup, Tensor& dhead, double* totals) const;
  void compute_gpu(Context& ctx, const Tensor& head, bool warmup, Tensor& dhead, double* totals);

  LossConfig config_;
  std::vector<float> anchor_wh_;         // (A, 2)
  std::vector<kernels::LossBox> boxes_;  // all images' boxes, image after image
  std::vector<int> first_;               // (N + 1)
  std::vector<int> entry_box_;           // (N * A * gh * gw), -1 for none
  // GPU: the upload staging and device memory, kept between calls and grown only when too small, so
  // a training loop allocates nothing per batch. They live on the GPU of the first GPU call.
  std::vector<unsigned char> upload_;
  std::unique_ptr<Buffer> gpu_truth_, gpu_entry_box_, gpu_sums_;
  int gpu_id_ = -1;
};

}  // namespace cupick
