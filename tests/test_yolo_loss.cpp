#include "train/yolo_loss.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

// Where channel k of anchor a at cell (cx, cy) of image n lies in a head of shape s.
size_t at(const Shape& s, int per_anchor, int n, int a, int k, int cx, int cy) {
  return ((size_t(n) * s.c + a * per_anchor + k) * s.h + cy) * s.w + cx;
}

double logit(double p) { return std::log(p / (1 - p)); }

std::vector<double> as_double(const Tensor& t) {
  if (t.dtype() == DType::f64) return t.values<double>();
  const std::vector<float> f = t.values<float>();
  return std::vector<double>(f.begin(), f.end());
}

// Centres anywhere in the grid, sizes from `lo` to `hi` cells, classes at random.
std::vector<TruthBox> random_boxes(int count, int gw, int gh, int classes, unsigned seed, float lo = 0.5f,
                                   float hi = 3) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> ux(0, float(gw)), uy(0, float(gh)), size(lo, hi);
  std::uniform_int_distribution<int> cls(0, classes - 1);
  std::vector<TruthBox> boxes;
  for (int i = 0; i < count; ++i) boxes.push_back({ux(rng), uy(rng), size(rng), size(rng), cls(rng)});
  return boxes;
}

// Grid 2x2, one anchor of 1 x 1, two classes, one box in cell (1, 0): every part of the loss and the
// gradient worked out by hand.
template <class T>
void check_known_values(double tol) {
  Context cpu;
  YoloLoss loss({.anchors = {{1, 1}}, .classes = 2});
  const Shape s{1, 7, 2, 2};
  std::vector<double> h(s.count(), 0.0);
  auto put = [&](int k, double v) { h[at(s, 7, 0, 0, k, 1, 0)] = v; };
  put(0, 0);                // sigmoid 0.5: centre x 1.5
  put(1, logit(0.25));      // centre y 0.25
  put(2, std::log(1.2));    // width 1.2
  put(3, std::log(0.8));    // height 0.8
  put(4, std::log(3.0));    // confidence 0.75
  put(5, 0.5);              // class logits
  put(6, -0.5);
  const Tensor head = Tensor::from(h, s).to(dtype_of<T>());
  Tensor dhead;
  const LossTerms got = loss.compute(cpu, head, {{{1.25f, 0.75f, 1.0f, 1.0f, 1}}}, false, dhead);

  // Predicted box x 0.9..2.1, y -0.15..0.65; true box x 0.75..1.75, y 0.25..1.25:
  // intersection 0.85 x 0.4 = 0.34, union 0.96 + 1 - 0.34 = 1.62.
  const double iou = 0.34 / 1.62;
  // The other three cells predict a unit box on their centre, confidence 0.5; their IoUs with the
  // true box are 0.1875/1.8125, 0.0625/1.9375, 0.1875/1.8125, all < 0.6: four entries in the conf mask.
  const double n_coord = 1 + 1e-6, n_conf = 4 + 1e-6, n_class = 1 + 1e-6;
  const double xy = (0.25 * 0.25 + 0.5 * 0.5) / n_coord / 2;
  const double wh = (0.2 * 0.2 + 0.2 * 0.2) / n_coord / 2;
  const double object = 5 * (0.75 - iou) * (0.75 - iou) / n_conf / 2;
  const double no_object = 3 * 0.25 / n_conf / 2;
  const double cls = (std::log(std::exp(0.5) + std::exp(-0.5)) + 0.5) / n_class;
  EXPECT_NEAR(got.xy, xy, tol);
  EXPECT_NEAR(got.wh, wh, tol);
  EXPECT_NEAR(got.object, object, tol);
  EXPECT_NEAR(got.no_object, no_object, tol);
  EXPECT_NEAR(got.cls, cls, tol);
  EXPECT_NEAR(got.total, xy + wh + object + no_object + cls, tol);

  std::vector<double> want(s.count(), 0.0);
  auto grad = [&](int k, int cx, int cy, double v) { want[at(s, 7, 0, 0, k, cx, cy)] = v; };
  grad(0, 1, 0, (1.5 - 1.25) * 0.5 * 0.5 / n_coord);     // (px - x) sigmoid'
  grad(1, 1, 0, (0.25 - 0.75) * 0.25 * 0.75 / n_coord);
  grad(2, 1, 0, (1.2 - 1.0) * 1.2 / n_coord);             // (pw - w) pw
  grad(3, 1, 0, (0.8 - 1.0) * 0.8 / n_coord);
  grad(4, 1, 0, 5 * (0.75 - iou) * 0.75 * 0.25 / n_conf);  // IoU target held constant
  const double p0 = 1 / (1 + std::exp(-1.0));             // softmax(0.5, -0.5)[0]
  grad(5, 1, 0, p0 / n_class);
  grad(6, 1, 0, (1 - p0 - 1) / n_class);
  for (auto [cx, cy] : {std::pair{0, 0}, {0, 1}, {1, 1}}) grad(4, cx, cy, 0.5 * 0.25 / n_conf);
  test::expect_close(as_double(dhead), want, 0, tol, "known-value gradient");

  // dhead is overwritten, whatever it held.
  Tensor garbage = test::random_tensor(s, dtype_of<T>(), 3);
  loss.compute(cpu, head, {{{1.25f, 0.75f, 1.0f, 1.0f, 1}}}, false, garbage);
  EXPECT_EQ(as_double(garbage), as_double(dhead));
}

TEST(YoloLoss, KnownValuesDouble) { check_known_values<double>(1e-12); }
TEST(YoloLoss, KnownValuesFloat) { check_known_values<float>(1e-6); }

// A 4 x 3 grid (not square, to catch x/y mix-ups) and three anchors; zero head, so every entry
// predicts its cell's centre and its anchor's size, and the box gradient shows which entry trains
// which box: d/dtx = (cx + 0.5 - x) / 4 / n_coord, d/dtw = (anchor_w - w) anchor_w / n_coord.
TEST(YoloLoss, AssignsCellOfCentreBestAnchorLaterBoxWins) {
  Context cpu;
  YoloLoss loss({.anchors = {{1, 1}, {3, 2}, {0.5f, 2}}});
  const Shape s{1, 18, 3, 4};
  const Tensor head(s, Device::cpu, DType::f64);
  const std::vector<std::vector<TruthBox>> truth = {{
      {2.7f, 1.2f, 2.8f, 2.1f},  // anchor IoUs 0.17, 0.89, 0.17: anchor 1, cell (2, 1)
      {0.2f, 2.9f, 0.6f, 1.8f},  // 0.41, 0.18, 0.76: anchor 2, cell (0, 2)
      {4.0f, 3.0f, 1.0f, 1.0f},  // centre on the far corner: the last cell (3, 2), anchor 0
      {1.3f, 0.4f, 1.0f, 1.0f},  // anchor 0, cell (1, 0) ...
      {1.6f, 0.7f, 1.1f, 0.9f},  // ... and this later box on the same entry wins
  }};
  Tensor dhead;
  const LossTerms got = loss.compute(cpu, head, truth, false, dhead);
  const std::vector<double> d = dhead.values<double>();
  const double n = 4 + 1e-6;

  struct Want {
    int a, cx, cy;
    double x, w, anchor_w;
  };
  const Want assigned[] = {{1, 2, 1, 2.7, 2.8, 3}, {2, 0, 2, 0.2, 0.6, 0.5}, {0, 3, 2, 4.0, 1.0, 1}, {0, 1, 0, 1.6, 1.1, 1}};
  for (int a = 0; a < 3; ++a)
    for (int cy = 0; cy < 3; ++cy)
      for (int cx = 0; cx < 4; ++cx) {
        const auto it = std::find_if(std::begin(assigned), std::end(assigned),
                                     [&](const Want& w) { return w.a == a && w.cx == cx && w.cy == cy; });
        const double dtx = d[at(s, 6, 0, a, 0, cx, cy)], dtw = d[at(s, 6, 0, a, 2, cx, cy)];
        SCOPED_TRACE("anchor " + std::to_string(a) + " cell " + std::to_string(cx) + "," + std::to_string(cy));
        if (it == std::end(assigned)) {
          for (int k = 0; k < 4; ++k) EXPECT_EQ(d[at(s, 6, 0, a, k, cx, cy)], 0);
        } else {
          EXPECT_NEAR(dtx, (cx + 0.5 - it->x) * 0.25 / n, 1e-7);
          EXPECT_NEAR(dtw, (it->anchor_w - it->w) * it->anchor_w / n, 1e-7);
        }
      }
  // Centre errors (dx, dy): (-0.2, 0.3), (0.3, -0.4), (-0.5, -0.5), (-0.1, -0.2).
  EXPECT_NEAR(got.xy, 0.93 / n / 2, 1e-6);
}

// One unit box T at (1.9, 1.5), cell (1, 1), in a 3 x 3 grid with a unit anchor. Predictions in
// cell (2, 1) shifted by d from T have IoU (1 - d) / (1 + d): 0.613 for d = 0.24 (not penalised),
// 0.587 for d = 0.26 (penalised). Image 2 has two boxes on one entry: the earlier, which trains no
// entry, still exempts a prediction that overlaps it.
TEST(YoloLoss, NoObjectSparesPredictionsOverlappingATrueBox) {
  Context cpu;
  YoloLoss loss({.anchors = {{1, 1}}});
  const Shape s{3, 6, 3, 3};
  std::vector<double> h(s.count(), 0.0);
  h[at(s, 6, 0, 0, 0, 2, 1)] = logit(0.14);  // px = 2.14
  h[at(s, 6, 1, 0, 0, 2, 1)] = logit(0.16);  // px = 2.16
  h[at(s, 6, 2, 0, 0, 1, 0)] = logit(0.05);  // px = 1.05: IoU 0.74 with the earlier box, 0.03 with the later
  const Tensor head = Tensor::from(h, s);
  const TruthBox t{1.9f, 1.5f, 1, 1};
  const std::vector<std::vector<TruthBox>> truth = {{t}, {t}, {{0.9f, 0.5f, 1, 1}, {0.1f, 0.5f, 1, 1}}};
  Tensor dhead;
  const LossTerms got = loss.compute(cpu, head, truth, false, dhead);
  const std::vector<double> d = dhead.values<double>();

  // Penalised: 7 + 8 + 7 entries, every one with confidence 0.5; plus one object entry per image.
  const double n_conf = 3 + 22 + 1e-6;
  EXPECT_EQ(d[at(s, 6, 0, 0, 4, 2, 1)], 0);
  EXPECT_NEAR(d[at(s, 6, 1, 0, 4, 2, 1)], 0.5 * 0.25 / n_conf, 1e-12);
  EXPECT_EQ(d[at(s, 6, 2, 0, 4, 1, 0)], 0);
  EXPECT_NEAR(d[at(s, 6, 0, 0, 4, 0, 1)], 0.5 * 0.25 / n_conf, 1e-12);  // no overlap at all
  EXPECT_NEAR(got.no_object, 22 * 0.25 / n_conf / 2, 1e-12);
}

// Warm-up on a 3 x 2 grid, two anchors, one box: every entry weighs 1 (coord_scale 3 is set aside),
// the box's entry trains the box and all others the centre of their cell and their anchor's size.
// Head: sigmoid 0.75 and exp 1.25 in every entry.
TEST(YoloLoss, WarmUpPullsEmptyEntriesToCellCentreAndAnchor) {
  Context cpu;
  YoloLoss loss({.anchors = {{1.5f, 0.5f}, {0.8f, 2.0f}}, .scales = {.coord = 3}});
  const Shape s{1, 12, 2, 3};
  std::vector<double> h(s.count(), 0.0);
  for (int a = 0; a < 2; ++a)
    for (int i = 0; i < 6; ++i) {
      h[at(s, 6, 0, a, 0, i % 3, i / 3)] = h[at(s, 6, 0, a, 1, i % 3, i / 3)] = std::log(3.0);
      h[at(s, 6, 0, a, 2, i % 3, i / 3)] = h[at(s, 6, 0, a, 3, i % 3, i / 3)] = std::log(1.25);
    }
  const Tensor head = Tensor::from(h, s);
  // Anchor IoUs 0.4 and 0.44: anchor 1, cell (1, 0). Prediction there: centre (1.75, 0.75), size 1 x 2.5.
  const std::vector<std::vector<TruthBox>> truth = {{{1.2f, 0.7f, 1.0f, 1.0f}}};
  Tensor dhead;
  const LossTerms warm = loss.compute(cpu, head, truth, true, dhead);
  const double n = 12 + 1e-6;
  const double box_xy = 0.55 * 0.55 + 0.05 * 0.05, box_wh = 0 + 1.5 * 1.5;
  const double empty_xy = 2 * 0.25 * 0.25;                          // both axes 0.25 off the centre
  const double wh0 = std::pow(1.5 * 0.25, 2) + std::pow(0.5 * 0.25, 2);  // 25% over anchor 0's size
  const double wh1 = std::pow(0.8 * 0.25, 2) + std::pow(2.0 * 0.25, 2);
  // Boxes and anchors are float (1.2f is not 1.2): 1e-6.
  EXPECT_NEAR(warm.xy, (11 * empty_xy + box_xy) / n / 2, 1e-6);
  EXPECT_NEAR(warm.wh, (6 * wh0 + 5 * wh1 + box_wh) / n / 2, 1e-6);
  const std::vector<double> d = dhead.values<double>();
  EXPECT_NEAR(d[at(s, 6, 0, 0, 0, 2, 1)], 0.25 * 0.75 * 0.25 / n, 1e-12);
  EXPECT_NEAR(d[at(s, 6, 0, 0, 2, 2, 1)], (1.875 - 1.5) * 1.875 / n, 1e-12);
  EXPECT_NEAR(d[at(s, 6, 0, 1, 3, 1, 0)], (2.5 - 1.0) * 2.5 / n, 1e-12);  // the box's entry

  // After warm-up only the box's entry counts, at coord_scale.
  const LossTerms after = loss.compute(cpu, head, truth, false, dhead);
  EXPECT_NEAR(after.xy, 3 * box_xy / (1 + 1e-6) / 2, 1e-6);
  EXPECT_NEAR(after.wh, 3 * box_wh / (1 + 1e-6) / 2, 1e-12);
}

TEST(YoloLoss, EmptyTruthGivesFiniteLossAndOnlyNoObjectTerms) {
  Context cpu;
  YoloLoss loss({.anchors = {{1, 1}, {2, 2}}, .classes = 2});
  const Shape s{2, 14, 4, 4};
  const Tensor zeros(s, Device::cpu, DType::f64);
  Tensor dhead;
  const LossTerms none = loss.compute(cpu, zeros, {{}, {}}, false, dhead);
  const double entries = 2 * 2 * 16;
  EXPECT_EQ(none.xy, 0);
  EXPECT_EQ(none.wh, 0);
  EXPECT_EQ(none.object, 0);
  EXPECT_EQ(none.cls, 0);
  EXPECT_NEAR(none.no_object, entries * 0.25 / (entries + 1e-6) / 2, 1e-12);
  EXPECT_NEAR(none.total, none.no_object, 1e-15);
  const std::vector<double> d = dhead.values<double>();
  for (size_t i = 0; i < d.size(); ++i) {
    const int k = int((i / 16) % 7);
    EXPECT_NEAR(d[i], k == 4 ? 0.5 * 0.25 / (entries + 1e-6) : 0, 1e-15) << "element " << i;
  }

  // One image with boxes, one without; warm-up on and off: everything finite, and the empty image's
  // entries train nothing but "no object" (or, in warm-up, the anchors).
  const Tensor head = test::random_tensor(s, DType::f64, 5, -2, 2);
  for (bool warmup : {false, true}) {
    const LossTerms got = loss.compute(cpu, head, {random_boxes(5, 4, 4, 2, 9), {}}, warmup, dhead);
    EXPECT_TRUE(std::isfinite(got.total)) << "warmup " << warmup;
    EXPECT_GT(got.xy, 0);
    for (double v : dhead.values<double>()) ASSERT_TRUE(std::isfinite(v));
    const std::vector<double> g = dhead.values<double>();
    for (int a = 0; a < 2; ++a)
      for (int k = 0; k < 7; ++k)
        for (int c = 0; c < 16; ++c) {
          const double v = g[at(s, 7, 1, a, k, c % 4, c / 4)];
          if (k >= 5 || (k < 4 && !warmup)) {
            EXPECT_EQ(v, 0) << "warmup " << warmup << " channel " << k;
          }
        }
  }
}

// Central differences in double on every element of a random head: 3 images (the middle one
// empty), a 5 x 4 grid, 2 anchors, 2 classes. The confidence target of an entry with a box is the
// IoU of its prediction, which the backward holds constant; so the box channels are checked with
// object_scale 0 (no IoU target in the loss), the other channels with object_scale 5, and the box
// channels' analytic gradient must not change between the two. The masks are piecewise constant:
// where a step of h crosses a switch (a best IoU passing 0.6), differences with h and h/2 disagree
// and the element is skipped; few may be.
void gradient_check(bool warmup) {
  Context cpu;
  const Shape s{3, 14, 4, 5};
  const std::vector<std::vector<TruthBox>> truth = {random_boxes(6, 5, 4, 2, 21), {}, random_boxes(4, 5, 4, 2, 22)};
  const Tensor start = test::random_tensor(s, DType::f64, warmup ? 31 : 32, -2, 2);
  std::vector<double> box_grads[2];
  for (float object_scale : {0.0f, 5.0f}) {
    YoloLoss loss({.anchors = {{1.2f, 0.8f}, {0.6f, 1.5f}},
                   .classes = 2,
                   .scales = {.object = object_scale, .no_object = 1.3f, .coord = 1.5f, .cls = 0.7f}});
    Tensor head = start.clone(), dhead, scratch;
    loss.compute(cpu, head, truth, warmup, dhead);
    const std::vector<double> analytic = dhead.values<double>();
    double* x = head.data<double>();
    auto total = [&] { return loss.compute(cpu, head, truth, warmup, scratch).total; };
    size_t checked = 0, skipped = 0;
    for (size_t i = 0; i < head.count(); ++i) {
      const int k = int((i / 20) % 7);
      if (k < 4) box_grads[object_scale > 0].push_back(analytic[i]);
      if (object_scale > 0 && k < 4) continue;
      auto central = [&](double step) {
        const double x0 = x[i];
        x[i] = x0 + step;
        const double plus = total();
        x[i] = x0 - step;
        const double minus = total();
        x[i] = x0;
        return (plus - minus) / (2 * step);
      };
      const double d1 = central(1e-5), d2 = central(0.5e-5);
      if (std::abs(d1 - d2) > 1e-7 + 1e-5 * std::abs(d2)) {
        ++skipped;
        continue;
      }
      ++checked;
      EXPECT_NEAR(analytic[i], d2, 1e-8 + 1e-5 * std::abs(d2))
          << "element " << i << " channel " << k << " object_scale " << object_scale << " warmup " << warmup;
    }
    EXPECT_GT(checked, 200u);
    EXPECT_LE(skipped * 20, checked + skipped) << skipped << " elements skipped";
  }
  EXPECT_EQ(box_grads[0], box_grads[1]) << "the IoU target must not feed the box channels";
}

TEST(YoloLoss, GradientCheck) { gradient_check(false); }
TEST(YoloLoss, GradientCheckWarmUp) { gradient_check(true); }

TEST(YoloLoss, RejectsWrongInputs) {
  Context cpu;
  YoloLoss loss({.anchors = {{1, 1}, {2, 2}}, .classes = 2});
  Tensor dhead;
  try {
    loss.compute(cpu, Tensor({1, 12, 4, 4}), {{}}, false, dhead);
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "yolo loss: head 1x12x4x4 f32 nchw cpu has 12 channels; 2 anchor(s) x (5 + 2 class(es)) = 14 expected");
  }
  EXPECT_THROW(loss.compute(cpu, Tensor({2, 14, 4, 4}), {{}}, false, dhead), ShapeError);
  try {
    loss.compute(cpu, Tensor({1, 14, 4, 4}), {{{1, 1, 1, 1, 0}, {2, 2, 1, 1, 2}}}, false, dhead);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "yolo loss: image 0, box 1: class 2 but the loss has 2 class(es)");
  }
  try {
    loss.compute(cpu, Tensor({1, 14, 4, 4}), {{{1, 1, 0, 1}}}, false, dhead);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("image 0, box 0: centre (1, 1) size 0 x 1"));
  }
  Tensor wrong({1, 14, 4, 5});
  EXPECT_THROW(loss.compute(cpu, Tensor({1, 14, 4, 4}), {{}}, false, wrong), ShapeError);
  EXPECT_THROW(YoloLoss({}), Error);
  EXPECT_THROW(YoloLoss({.anchors = {{1, -1}}}), Error);
  EXPECT_THROW(YoloLoss({.anchors = {{1, 1}}, .classes = 0}), Error);
  EXPECT_THROW(YoloLoss({.anchors = {{1, 1}}, .scales = {.object = -1}}), Error);
}

// CPU (float) against GPU at a training size: 3 images on a 64 x 64 grid, about 100 boxes each
// (particle-sized: 1.5 to 4 cells), warm-up on and off. The GPU is also run twice to check that the
// result is bit-for-bit repeatable, with a smaller batch in between (its buffers are reused).
struct ParityCase {
  std::vector<std::pair<float, float>> anchors;
  int classes;
  std::vector<int> boxes_per_image;
  bool warmup;
};

void PrintTo(const ParityCase& p, std::ostream* os) {
  *os << p.anchors.size() << " anchor(s), " << p.classes << " class(es), " << p.boxes_per_image.size()
      << " images, warm-up " << (p.warmup ? "on" : "off");
}

class YoloLossParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(YoloLossParity, CpuMatchesGpu) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  const ParityCase& p = GetParam();
  const int n = int(p.boxes_per_image.size()), grid = 64, per_anchor = 5 + p.classes;
  const Shape s{n, int(p.anchors.size()) * per_anchor, grid, grid};
  std::vector<std::vector<TruthBox>> truth;
  for (int i = 0; i < n; ++i) truth.push_back(random_boxes(p.boxes_per_image[i], grid, grid, p.classes, 40 + i, 1.5f, 4));
  const LossConfig config{.anchors = p.anchors, .classes = p.classes};
  YoloLoss on_cpu(config), on_gpu(config);

  const Tensor head = test::random_tensor(s, DType::f32, 7, -2, 2), head_gpu = head.to(Device::gpu);
  Tensor d_cpu, d_gpu;
  const LossTerms want = on_cpu.compute(cpu, head, truth, p.warmup, d_cpu);
  const LossTerms got = on_gpu.compute(*gpu, head_gpu, truth, p.warmup, d_gpu);
  const struct {
    const char* name;
    double got, want;
  } parts[] = {{"total", got.total, want.total}, {"xy", got.xy, want.xy},
               {"wh", got.wh, want.wh},          {"object", got.object, want.object},
               {"no_object", got.no_object, want.no_object}, {"cls", got.cls, want.cls}};
  for (const auto& part : parts) EXPECT_NEAR(part.got, part.want, 1e-5 * std::abs(part.want) + 1e-9) << part.name;
  gpu->sync();
  test::expect_close(as_double(d_gpu), as_double(d_cpu), 1e-4, 1e-5, "d head");

  // Repeatable, and the buffers survive a smaller call in between.
  std::vector<std::vector<TruthBox>> few(1, random_boxes(3, grid, grid, p.classes, 99));
  Tensor small = test::random_tensor({1, s.c, 8, 8}, DType::f32, 8).to(Device::gpu), d_small;
  on_gpu.compute(*gpu, small, few, p.warmup, d_small);
  Tensor d_again = test::random_tensor(s, DType::f32, 9).to(Device::gpu);  // overwritten, whatever it held
  const LossTerms again = on_gpu.compute(*gpu, head_gpu, truth, p.warmup, d_again);
  EXPECT_EQ(again.total, got.total);
  EXPECT_EQ(again.no_object, got.no_object);
  gpu->sync();
  EXPECT_EQ(d_again.values<float>(), d_gpu.values<float>());
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, YoloLossParity,
    ::testing::Values(ParityCase{{{3, 3}}, 1, {100, 100, 100}, false}, ParityCase{{{3, 3}}, 1, {100, 100, 100}, true},
                      ParityCase{{{3, 3}, {1.5f, 4}}, 2, {100, 0, 130}, false},
                      ParityCase{{{3, 3}, {1.5f, 4}}, 2, {100, 0, 130}, true}),
    [](const auto& info) {
      const ParityCase& p = info.param;
      return std::to_string(p.anchors.size()) + "anchors" + std::to_string(p.classes) + "classes" +
             (p.warmup ? "WarmUp" : "");
    });

}  // namespace
}  // namespace cupick

namespace cupick {
namespace {

// A size logit far past kMaxSizeLogit (one bad early step) leaves the loss finite and pulls the
// logit back down with the gradient of the bounded size, 20 anchors wide, not exp(200).
TEST(YoloLoss, HugeSizeLogitIsBoundedAndPulledBack) {
  Context cpu;
  YoloLoss loss({.anchors = {{1, 1}}});
  const Shape s{1, 6, 2, 2};
  std::vector<double> h(s.count(), 0.0);
  h[at(s, 6, 0, 0, 2, 1, 1)] = 200;  // exp(200) overflows float
  const Tensor head = Tensor::from(h, s).to(DType::f32);
  Tensor dhead;
  const LossTerms got = loss.compute(cpu, head, {{{1.5f, 1.5f, 1, 1}}}, false, dhead);
  ASSERT_TRUE(std::isfinite(got.total));
  const double bounded = std::exp(double(kernels::kMaxSizeLogit));
  EXPECT_NEAR(got.wh, (bounded - 1) * (bounded - 1) / 2, 1e-3 * bounded * bounded);
  const float g = dhead.values<float>()[at(s, 6, 0, 0, 2, 1, 1)];
  EXPECT_GT(g, 0);  // gradient descent lowers the logit
  EXPECT_NEAR(g, (bounded - 1) * bounded, 1e-3 * bounded * bounded);
}

}  // namespace
}  // namespace cupick
