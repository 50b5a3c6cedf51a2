#include "engine/layers/concat.h"

#include <gmock/gmock.h>

#include <numeric>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

Tensor ramp(float first, Shape shape) {
  std::vector<float> v(shape.count());
  std::iota(v.begin(), v.end(), first);
  return Tensor::from<float>(v, shape);
}

// Two images, so the per-image interleaving shows: 1 + 2 + 3 channels of 1x2.
struct ThreeInputs {
  Tensor a = ramp(0, {2, 1, 1, 2});    // image 0: 0 1;  image 1: 2 3
  Tensor b = ramp(10, {2, 2, 1, 2});   // image 0: 10..13; image 1: 14..17
  Tensor c = ramp(20, {2, 3, 1, 2});   // image 0: 20..25; image 1: 26..31
  const std::vector<float> out = {0, 1, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25,   // image 0
                                  2, 3, 14, 15, 16, 17, 26, 27, 28, 29, 30, 31};  // image 1
};

TEST(Concat, BackwardSplitsWithEachInputsMode) {
  Context cpu;
  Concat layer("concat_1");
  ThreeInputs t;
  Tensor y({2, 6, 1, 2});
  layer.forward(cpu, {&t.a, &t.b, &t.c}, y, Mode::infer);
  // dy = y: each input's gradient is the input itself (overwrite) or itself plus what was there.
  Tensor da = Tensor::from<float>(std::vector<float>(4, 9), t.a.shape());
  Tensor dc = Tensor::from<float>(std::vector<float>(12, 1), t.c.shape());
  layer.backward(cpu, {&t.a, &t.b, &t.c}, y, y,
                 {{&da, GradMode::overwrite}, {nullptr, GradMode::overwrite}, {&dc, GradMode::accumulate}});
  EXPECT_EQ(da.values<float>(), t.a.values<float>());
  std::vector<float> want = t.c.values<float>();
  for (float& v : want) v += 1;
  EXPECT_EQ(dc.values<float>(), want);
}

TEST(Concat, RejectsMismatchedShapes) {
  Concat layer("concat_3");
  try {
    layer.output_shape({{1, 2, 4, 4}, {1, 3, 4, 5}});
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("concat_3 (concat)"));
    EXPECT_THAT(e.what(), HasSubstr("[1x2x4x4, 1x3x4x5]"));
  }
  EXPECT_THROW(layer.output_shape({{1, 2, 4, 4}, {1, 2, 4, 4}, {2, 2, 4, 4}}), ShapeError);  // batch
  EXPECT_THROW(layer.output_shape({{1, 2, 4, 4}, {1, 2, 3, 4}}), ShapeError);                // height
  EXPECT_THROW(layer.output_shape({}), ShapeError);
}

}  // namespace
}  // namespace cupick
