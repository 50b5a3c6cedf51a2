// The YOLO loss (keras-yolo2 form, docs/BEHAVIOUR.md §4) per entry, one entry being one anchor at one
// grid cell of one image. Written once as CUPICK_HD functions for the CPU reference (float, double)
// and the CUDA kernels (float); train/yolo_loss.cpp turns the sums into the loss and runs both paths.
//
// The head is NCHW, N x A*(5+C) x gh x gw; anchor a owns channels a*(5+C) + k with k = 0..3 the box
// (tx, ty, tw, th), 4 the confidence logit and 5.. the class logits. Entries are numbered
// e = ((n * A + a) * gh + cy) * gw + cx, so entry e's channel k lies at
// (e / (gh*gw)) * (5+C) * gh*gw + k * gh*gw + e % (gh*gw).
#pragma once
#include <math.h>

#include "kernels/common.h"

namespace cupick::kernels {

// A true box in grid cells: centre (x, y), size (w, h), class index. `entry` is the global entry the
// box trains, or -1 when a later box of the same image took that entry (the later one wins).
struct LossBox {
  float x, y, w, h;
  int cls, entry;
};

// Where the loss finds its targets. Host pointers on the CPU path, device pointers in the kernels.
struct LossTruth {
  const LossBox* boxes;   // (boxes of image 0, image 1, ...)
  const int* first;       // (N + 1): image n owns boxes [first[n], first[n + 1])
  const int* entry_box;   // (N * A * gh * gw): the box an entry trains, -1 for none
  const float* anchor_wh; // (A, 2): anchor sizes in grid cells
};

struct LossGrid {
  int n, anchors, classes, gh, gw;
};

// The weights of the loss terms: the config's object_scale, no_object_scale, coord_scale and
// class_scale, crYOLO's defaults. Training options and the loss hold this struct as it is.
struct LossScales {
  float object = 5, no_object = 1, coord = 1, cls = 1;
};

// What the entries add up to: weighted sums of squares (xy, wh, object, no-object), the weighted
// cross-entropy, and the three mask counts that divide them. Kept in double on both paths.
enum LossSum : int {
  kSumXY,
  kSumWH,
  kSumObject,
  kSumNoObject,
  kSumClass,
  kCountCoord,
  kCountConf,
  kCountClass,
  kLossSums
};

// A prediction whose best IoU with any true box of its image reaches this is not pulled towards
// "no object" (keras-yolo2's fixed 0.6).
constexpr float kNoObjectIoU = 0.6f;

// The size logits tw, th are read as at most this: a box is never more than e^3 = 20 times its
// anchor. Keras leaves exp(tw) unbounded, and one large step early in training then overflows it
// (inf - inf = NaN) or makes its gradient, which is the size itself, explode. The gradient passes
// the bound unchanged (straight through), so an entry above it is still pulled back down.
constexpr float kMaxSizeLogit = 3.0f;

namespace yolo {

// exp and log at the argument's precision on both host and device.
CUPICK_HD float exp_of(float x) { return expf(x); }
CUPICK_HD double exp_of(double x) { return exp(x); }
CUPICK_HD float log_of(float x) { return logf(x); }
CUPICK_HD double log_of(double x) { return log(x); }
template <class T>
CUPICK_HD T min_of(T a, T b) { return a < b ? a : b; }
template <class T>
CUPICK_HD T max_of(T a, T b) { return a < b ? b : a; }

// Only ever exp of a non-positive number: no overflow for large |x|.
template <class T>
CUPICK_HD T sigmoid(T x) {
  const T e = exp_of(x < T(0) ? x : -x);
  return x < T(0) ? e / (T(1) + e) : T(1) / (T(1) + e);
}

// Intersection over union of two boxes given by centre and size; 0 when both are empty.
template <class T>
CUPICK_HD T box_iou(T ax, T ay, T aw, T ah, T bx, T by, T bw, T bh) {
  const T iw = min_of(ax + aw / 2, bx + bw / 2) - max_of(ax - aw / 2, bx - bw / 2);
  const T ih = min_of(ay + ah / 2, by + bh / 2) - max_of(ay - ah / 2, by - bh / 2);
  const T inter = max_of(iw, T(0)) * max_of(ih, T(0));
  const T uni = aw * ah + bw * bh - inter;
  return uni > T(0) ? inter / uni : T(0);
}

// The cell along one axis that holds coordinate v; centres on or past the edge go to the edge cell.
CUPICK_HD int box_cell(float v, int cells) { return v <= 0 ? 0 : (v >= float(cells) ? cells - 1 : int(v)); }

// The anchor whose size best matches the box: IoU of the two as if they shared a centre. The first
// anchor wins a tie.
CUPICK_HD int box_anchor(float w, float h, const float* anchor_wh, int anchors) {
  int best = 0;
  float best_iou = -1;
  for (int a = 0; a < anchors; ++a) {
    const float aw = anchor_wh[2 * a], ah = anchor_wh[2 * a + 1];
    const float inter = min_of(w, aw) * min_of(h, ah);
    const float iou = inter / (w * h + aw * ah - inter);
    if (iou > best_iou) best = a, best_iou = iou;
  }
  return best;
}

// 1 / (count + 1e-6): the divisor of keras-yolo2's normalised sums, so an empty mask gives 0, not NaN.
CUPICK_HD double normaliser(double count) { return 1.0 / (count + 1e-6); }

// The entry kernel writes each channel's gradient before the division by its term's mask count:
// box channels (k < 4) divide by the coord count, the confidence by the conf count, classes by the
// class count. `totals` holds the kLossSums sums of the whole batch.
CUPICK_HD double grad_normaliser(int k, const double* totals) {
  return normaliser(totals[k < 4 ? kCountCoord : (k == 4 ? kCountConf : kCountClass)]);
}

// Classes: softmax cross-entropy of an entry's logits (stride hw) against class `cls`, weighted by
// w (always class 0 with one class); cls < 0 (no box, or class_scale 0) gives no term and zero
// gradients.
template <class T>
CUPICK_HD void class_loss(const T* logit, T* dlogit, size_t hw, int classes, int cls, T w, double* sums) {
  if (cls < 0) {
    for (int k = 0; k < classes; ++k) dlogit[k * hw] = 0;
    return;
  }
  T top = logit[0];
  for (int k = 1; k < classes; ++k) top = max_of(top, logit[k * hw]);
  T z = 0;
  for (int k = 0; k < classes; ++k) z += exp_of(logit[k * hw] - top);
  const T log_z = top + log_of(z);
  sums[kSumClass] += double(w * (log_z - logit[cls * hw]));
  sums[kCountClass] += 1;
  for (int k = 0; k < classes; ++k) dlogit[k * hw] = w * (exp_of(logit[k * hw] - log_z) - (k == cls ? T(1) : T(0)));
}

// Entry e: adds its terms and mask counts to `sums` and writes the gradient of
//   sum_xy / 2 + sum_wh / 2 + (sum_object + sum_no_object) / 2 + sum_class
// with respect to its channels into dhead (every channel, zero where masked). Dividing each channel
// by grad_normaliser() then gives d total / d head.
template <class T>
CUPICK_HD void entry_loss(size_t e, const LossGrid& g, const LossTruth& truth, const T* head, T* dhead, bool warmup,
                          const LossScales& s, double* sums) {
  const size_t hw = size_t(g.gh) * g.gw;
  const size_t plane = e / hw;  // n * anchors + a
  const int cell = int(e % hw);
  const int cx = cell % g.gw, cy = cell / g.gw;
  const int a = int(plane % g.anchors), n = int(plane / g.anchors);
  const size_t base = plane * size_t(5 + g.classes) * hw + cell;
  const T* in = head + base;
  T* grad = dhead + base;
  const T anchor_w = T(truth.anchor_wh[2 * a]), anchor_h = T(truth.anchor_wh[2 * a + 1]);
  const int b = truth.entry_box[e];
  const LossBox* box = b >= 0 ? truth.boxes + b : nullptr;

  // The predicted box in grid cells and its confidence.
  const T sx = sigmoid(in[0]), sy = sigmoid(in[hw]);
  const T px = sx + T(cx), py = sy + T(cy);
  const T pw = exp_of(min_of(in[2 * hw], T(kMaxSizeLogit))) * anchor_w;
  const T ph = exp_of(min_of(in[3 * hw], T(kMaxSizeLogit))) * anchor_h;
  const T conf = sigmoid(in[4 * hw]);

  // Centre and size: the assigned box; in warm-up every other entry is pulled to its cell's centre
  // and its anchor's size, and all entries weigh 1 (coord_scale does not apply during warm-up).
  T coord_w = 0, tx = 0, ty = 0, tw = 0, th = 0;
  if (box) {
    coord_w = warmup ? T(1) : T(s.coord);
    tx = T(box->x), ty = T(box->y), tw = T(box->w), th = T(box->h);
  } else if (warmup) {
    coord_w = 1;
    tx = T(cx) + T(0.5), ty = T(cy) + T(0.5), tw = anchor_w, th = anchor_h;
  }
  if (coord_w > T(0)) {
    const T dx = px - tx, dy = py - ty, dw = pw - tw, dh = ph - th;
    sums[kSumXY] += double(coord_w * (dx * dx + dy * dy));
    sums[kSumWH] += double(coord_w * (dw * dw + dh * dh));
    sums[kCountCoord] += 1;
    grad[0] = coord_w * dx * sx * (T(1) - sx);  // d sigmoid = s (1 - s)
    grad[hw] = coord_w * dy * sy * (T(1) - sy);
    grad[2 * hw] = coord_w * dw * pw;  // d (exp(t) * anchor) / dt = the size itself (bounded, see above)
    grad[3 * hw] = coord_w * dh * ph;
  } else {
    grad[0] = grad[hw] = grad[2 * hw] = grad[3 * hw] = 0;
  }

  // Confidence: an entry with a box aims at the IoU of its prediction with that box. The IoU is a
  // constant target here: no gradient flows through it into tx..th, as YOLOv2 means it. (Open
  // question: keras-yolo2 builds this target from the prediction without tf.stop_gradient, so
  // TensorFlow's autodiff would differentiate through it; whether crYOLO kept that is unverified.)
  // An entry without a box aims at 0 unless its prediction already overlaps some true box of the
  // image by kNoObjectIoU or more.
  T conf_w = 0, target = 0;
  if (box) {
    conf_w = T(s.object);
    target = box_iou(px, py, pw, ph, T(box->x), T(box->y), T(box->w), T(box->h));
  } else {
    bool covers = false;
    for (int j = truth.first[n]; j < truth.first[n + 1] && !covers; ++j) {
      const LossBox& t = truth.boxes[j];
      covers = box_iou(px, py, pw, ph, T(t.x), T(t.y), T(t.w), T(t.h)) >= T(kNoObjectIoU);
    }
    if (!covers) conf_w = T(s.no_object);
  }
  if (conf_w > T(0)) {
    const T d = conf - target;
    if (box)  // two statements, not sums[box ? ...]: a computed index would put the sums in local memory
      sums[kSumObject] += double(conf_w * d * d);
    else
      sums[kSumNoObject] += double(conf_w * d * d);
    sums[kCountConf] += 1;
    grad[4 * hw] = conf_w * d * conf * (T(1) - conf);
  } else {
    grad[4 * hw] = 0;
  }

  class_loss(in + 5 * hw, grad + 5 * hw, hw, g.classes, box && s.cls > 0 ? box->cls : -1, T(s.cls), sums);
}

}  // namespace yolo

// Device workspace the loss needs for its sums: the batch totals (kLossSums doubles) first, then the
// per-block partials.
size_t yolo_loss_sums_bytes();

// entry_box (entries ints) = -1, then entry_box[boxes[b].entry] = b for every box with entry >= 0
// (the host has already resolved which box wins an entry, so no two boxes write the same place).
cudaError_t yolo_loss_assign(int* entry_box, size_t entries, const LossBox* boxes, int box_count,
                             cudaStream_t stream);

// Every entry: dhead (same shape as head) = the gradient before normalisation, and sums (at least
// yolo_loss_sums_bytes()) starts with the batch totals. Deterministic: a fixed two-stage reduction.
cudaError_t yolo_loss_entries(float* dhead, double* sums, const float* head, LossGrid grid, LossTruth truth,
                              bool warmup, LossScales scales, cudaStream_t stream);

// dhead *= grad_normaliser(channel within its anchor, totals) for all `count` elements.
cudaError_t yolo_loss_normalise(float* dhead, size_t count, size_t hw, int per_anchor, const double* totals,
                                cudaStream_t stream);

}  // namespace cupick::kernels
