#include "engine/layers/maxpool.h"

#include <gmock/gmock.h>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

TEST(MaxPool, OddSizeDropsLastRowAndColumn) {
  Context cpu;
  MaxPool layer("pool_2");
  // x[y][x] = 5y + x: the dropped row 4 and column 4 hold the largest values and must not matter.
  std::vector<float> v(25);
  for (int i = 0; i < 25; ++i) v[i] = float(i);
  Tensor x = Tensor::from<float>(v, {1, 1, 5, 5});
  Tensor y({1, 1, 2, 2});
  layer.forward(cpu, {&x}, y, Mode::infer);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{6, 8, 16, 18}));

  Tensor dy = Tensor::from<float>({1, 2, 3, 4}, y.shape());
  std::vector<float> routed(25, 0);
  routed[6] = 1, routed[8] = 2, routed[16] = 3, routed[18] = 4;

  Tensor dx = Tensor::from<float>(std::vector<float>(25, 7), x.shape());
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
  EXPECT_EQ(dx.values<float>(), routed) << "overwrite: the dropped row and column get 0 too";

  dx = Tensor::from<float>(std::vector<float>(25, 7), x.shape());
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::accumulate}});
  std::vector<float> want = routed;
  for (float& g : want) g += 7;
  EXPECT_EQ(dx.values<float>(), want) << "accumulate: everything not selected is unchanged";
}

TEST(MaxPool, RejectsTooSmall) {
  MaxPool layer("pool_9");
  try {
    layer.output_shape({{1, 2, 1, 4}});
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool_9 (maxpool)"));
    EXPECT_THAT(e.what(), HasSubstr("1x2x1x4"));
  }
  EXPECT_THROW(layer.output_shape({{1, 2, 4, 1}}), ShapeError);
  EXPECT_EQ(layer.output_shape({{1, 2, 2, 3}}), (Shape{1, 2, 1, 1}));
}

}  // namespace
}  // namespace cupick
