#include "train/yolo_loss.h"

#include <cuda_runtime_api.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/layer.h"

namespace cupick {
namespace {

using kernels::LossBox;

bool positive(float v) { return std::isfinite(v) && v > 0; }

std::string num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);  // "1.500000" -> "1.5"
  if (s.back() == '.') s.pop_back();
  return s;
}

// Device memory of at least `bytes`, reallocated (with room to spare) only when too small.
void* grow(std::unique_ptr<Buffer>& buffer, size_t bytes) {
  if (!buffer || buffer->bytes() < bytes) buffer = std::make_unique<Buffer>(bytes + bytes / 2, Device::gpu);
  return buffer->data();
}

size_t align16(size_t bytes) { return (bytes + 15) / 16 * 16; }

// keras-yolo2's normalisation of the batch sums: squared errors halved, each term divided by the
// number of entries in its mask (+1e-6).
LossTerms terms(const double* t) {
  using kernels::yolo::normaliser;
  LossTerms r;
  const double coord = normaliser(t[kernels::kCountCoord]), conf = normaliser(t[kernels::kCountConf]);
  r.xy = t[kernels::kSumXY] * coord / 2;
  r.wh = t[kernels::kSumWH] * coord / 2;
  r.object = t[kernels::kSumObject] * conf / 2;
  r.no_object = t[kernels::kSumNoObject] * conf / 2;
  r.cls = t[kernels::kSumClass] * normaliser(t[kernels::kCountClass]);
  r.total = r.xy + r.wh + r.object + r.no_object + r.cls;
  return r;
}

}  // namespace

YoloLoss::YoloLoss(LossConfig config) : config_(std::move(config)) {
  const LossConfig& c = config_;
  if (c.anchors.empty()) throw Error("yolo loss: no anchors");
  for (size_t a = 0; a < c.anchors.size(); ++a) {
    const auto [w, h] = c.anchors[a];
    if (!positive(w) || !positive(h))
      throw Error("yolo loss: anchor " + std::to_string(a) + " is " + num(w) + " x " + num(h) +
                  "; anchor sizes must be positive");
    anchor_wh_.push_back(w);
    anchor_wh_.push_back(h);
  }
  if (c.classes < 1) throw Error("yolo loss: classes must be at least 1, got " + std::to_string(c.classes));
  const std::pair<const char*, float> scales[] = {{"object_scale", c.scales.object},
                                                  {"no_object_scale", c.scales.no_object},
                                                  {"coord_scale", c.scales.coord},
                                                  {"class_scale", c.scales.cls}};
  for (const auto& [name, v] : scales)
    if (!std::isfinite(v) || v < 0) throw Error(std::string("yolo loss: ") + name + " must be >= 0, got " + num(v));
}

LossTerms YoloLoss::compute(Context& ctx, const Tensor& head, const std::vector<std::vector<TruthBox>>& truth,
                            bool warmup, Tensor& dhead) {
  const Shape& s = head.shape();
  const int anchors = int(config_.anchors.size()), per_anchor = 5 + config_.classes;
  if (s.c != anchors * per_anchor)
    throw ShapeError("yolo loss: head " + head.str() + " has " + std::to_string(s.c) + " channels; " +
                     std::to_string(anchors) + " anchor(s) x (5 + " + std::to_string(config_.classes) +
                     " class(es)) = " + std::to_string(anchors * per_anchor) + " expected");
  if (s.h < 1 || s.w < 1) throw ShapeError("yolo loss: head " + head.str() + " has an empty grid");
  if (head.layout() != Layout::nchw) throw ShapeError("yolo loss: head " + head.str() + " must be nchw");
  if (head.device() != ctx.device())
    throw Error("yolo loss: head " + head.str() + " is not on the context's device (" + device_name(ctx.device()) +
                ")");
  if (ctx.on_gpu() && head.dtype() != DType::f32)
    throw Error(std::string("yolo loss: the GPU path takes f32 heads, got ") + dtype_name(head.dtype()));
  if (truth.size() != size_t(s.n))
    throw ShapeError("yolo loss: " + std::to_string(truth.size()) + " truth box lists for head " + head.str());
  if (size_t(s.n) * anchors * s.h * s.w > size_t(INT_MAX))
    throw ShapeError("yolo loss: head " + head.str() + " has too many entries");
  if (dhead.empty()) {
    dhead = Tensor(s, head.device(), head.dtype());
  } else if (dhead.shape() != s || dhead.dtype() != head.dtype() || dhead.device() != head.device() ||
             dhead.layout() != head.layout()) {
    throw ShapeError("yolo loss: dhead " + dhead.str() + " does not match head " + head.str());
  }

  assign(s, truth);
  double totals[kernels::kLossSums] = {};
  if (ctx.on_gpu())
    compute_gpu(ctx, head, warmup, dhead, totals);
  else
    compute_cpu(head, warmup, dhead, totals);
  return terms(totals);
}

void YoloLoss::assign(const Shape& s, const std::vector<std::vector<TruthBox>>& truth) {
  const int anchors = int(config_.anchors.size());
  const size_t hw = size_t(s.h) * s.w;
  boxes_.clear();
  first_.assign(1, 0);
  for (int n = 0; n < s.n; ++n) {
    for (size_t j = 0; j < truth[n].size(); ++j) {
      const TruthBox& t = truth[n][j];
      const std::string where = "yolo loss: image " + std::to_string(n) + ", box " + std::to_string(j);
      if (!std::isfinite(t.x) || !std::isfinite(t.y) || !positive(t.w) || !positive(t.h))
        throw Error(where + ": centre (" + num(t.x) + ", " + num(t.y) + ") size " + num(t.w) + " x " + num(t.h) +
                    "; the centre must be finite and the size positive");
      if (t.cls < 0 || t.cls >= config_.classes)
        throw Error(where + ": class " + std::to_string(t.cls) + " but the loss has " +
                    std::to_string(config_.classes) + " class(es)");
      const int a = kernels::yolo::box_anchor(t.w, t.h, anchor_wh_.data(), anchors);
      const int cx = kernels::yolo::box_cell(t.x, s.w), cy = kernels::yolo::box_cell(t.y, s.h);
      const size_t entry = (size_t(n) * anchors + a) * hw + size_t(cy) * s.w + cx;
      boxes_.push_back({t.x, t.y, t.w, t.h, t.cls, int(entry)});
    }
    first_.push_back(int(boxes_.size()));
  }
  // Two boxes on one entry: the later one wins, as when keras-yolo2 writes its targets in box order.
  // Losers keep their place in the list (the no-object rule still sees them) but train no entry.
  entry_box_.assign(size_t(s.n) * anchors * hw, -1);
  for (size_t b = 0; b < boxes_.size(); ++b) entry_box_[boxes_[b].entry] = int(b);
  for (size_t b = 0; b < boxes_.size(); ++b)
    if (entry_box_[boxes_[b].entry] != int(b)) boxes_[b].entry = -1;
}

void YoloLoss::compute_cpu(const Tensor& head, bool warmup, Tensor& dhead, double* totals) const {
  const Shape& s = head.shape();
  const int anchors = int(config_.anchors.size()), per_anchor = 5 + config_.classes;
  const kernels::LossGrid grid{s.n, anchors, config_.classes, s.h, s.w};
  const kernels::LossTruth truth{boxes_.data(), first_.data(), entry_box_.data(), anchor_wh_.data()};
  const size_t hw = size_t(s.h) * s.w, entries = entry_box_.size();
  dispatch_real(head.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = head.data<T>();
    T* d = dhead.data<T>();
    for (size_t e = 0; e < entries; ++e) kernels::yolo::entry_loss(e, grid, truth, x, d, warmup, config_.scales, totals);
    for (size_t i = 0, count = dhead.count(); i < count; ++i)
      d[i] = T(d[i] * kernels::yolo::grad_normaliser(int((i / hw) % per_anchor), totals));
  });
}

void YoloLoss::compute_gpu(Context& ctx, const Tensor& head, bool warmup, Tensor& dhead, double* totals) {
  if (gpu_id_ >= 0 && gpu_id_ != ctx.gpu_id())
    throw Error("yolo loss: used on GPU " + std::to_string(ctx.gpu_id()) + " after GPU " + std::to_string(gpu_id_) +
                "; make one YoloLoss per GPU");
  gpu_id_ = ctx.gpu_id();
  const Shape& s = head.shape();
  const int anchors = int(config_.anchors.size()), per_anchor = 5 + config_.classes;
  const size_t hw = size_t(s.h) * s.w;

  // One upload per call: the boxes, then the per-image offsets, then the anchors, 16-byte aligned.
  const size_t box_bytes = boxes_.size() * sizeof(LossBox);
  const size_t first_at = align16(box_bytes), anchors_at = align16(first_at + first_.size() * sizeof(int));
  const size_t bytes = anchors_at + anchor_wh_.size() * sizeof(float);
  upload_.resize(bytes);
  if (box_bytes) std::memcpy(upload_.data(), boxes_.data(), box_bytes);
  std::memcpy(upload_.data() + first_at, first_.data(), first_.size() * sizeof(int));
  std::memcpy(upload_.data() + anchors_at, anchor_wh_.data(), anchor_wh_.size() * sizeof(float));
  auto* dev = static_cast<unsigned char*>(grow(gpu_truth_, bytes));
  // From pageable memory: returns once the bytes are staged, so upload_ may change afterwards.
  CUDA_CHECK(cudaMemcpyAsync(dev, upload_.data(), bytes, cudaMemcpyHostToDevice, ctx.stream()));

  int* entry_box = static_cast<int*>(grow(gpu_entry_box_, entry_box_.size() * sizeof(int)));
  const kernels::LossTruth truth{reinterpret_cast<const LossBox*>(dev), reinterpret_cast<const int*>(dev + first_at),
                                 entry_box, reinterpret_cast<const float*>(dev + anchors_at)};
  CUDA_CHECK(kernels::yolo_loss_assign(entry_box, entry_box_.size(), truth.boxes, int(boxes_.size()), ctx.stream()));

  double* sums = static_cast<double*>(grow(gpu_sums_, kernels::yolo_loss_sums_bytes()));
  const kernels::LossGrid grid{s.n, anchors, config_.classes, s.h, s.w};
  CUDA_CHECK(kernels::yolo_loss_entries(dhead.data<float>(), sums, head.data<float>(), grid, truth, warmup, config_.scales,
                                        ctx.stream()));
  CUDA_CHECK(kernels::yolo_loss_normalise(dhead.data<float>(), dhead.count(), hw, per_anchor, sums, ctx.stream()));
  CUDA_CHECK(cudaMemcpyAsync(totals, sums, kernels::kLossSums * sizeof(double), cudaMemcpyDeviceToHost,
                             ctx.stream()));
  ctx.sync();
}

}  // namespace cupick
