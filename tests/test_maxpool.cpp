#include "engine/layers/maxpool.h"

#include <gmock/gmock.h>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

TEST(MaxPool, KnownValues) {
  Context cpu;
  MaxPool layer("pool_1");
  // Windows: {-1, -2, -5, -0.5} -> -0.5 (bottom right), {3, -4, 6, 7} -> 7, {-8, -9, -7, -6} -> -6,
  // and an all-equal window {-3, -3, -3, -3}, whose gradient goes to the first (top-left) element.
  Tensor x = Tensor::from<float>({-1, -2, 3, -4,  //
                                  -5, -0.5f, 6, 7,  //
                                  -8, -9, -3, -3,  //
                                  -7, -6, -3, -3},
                                 {1, 1, 4, 4});
  ASSERT_EQ(layer.output_shape({x.shape()}), (Shape{1, 1, 2, 2}));
  Tensor y({1, 1, 2, 2});
  layer.forward(cpu, {&x}, y, Mode::infer);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{-0.5f, 7, -6, -3}));

  Tensor dy = Tensor::from<float>({1, 2, 3, 4}, y.shape());
  Tensor dx = Tensor::from<float>(std::vector<float>(16, 9), x.shape());  // overwrite must clear this
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
  EXPECT_EQ(dx.values<float>(), (std::vector<float>{0, 0, 0, 0,  //
                                                     0, 1, 0, 2,  //
                                                     0, 0, 4, 0,  //
                                                     0, 3, 0, 0}));
}

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

TEST(MaxPool, GradientCheck) {
  MaxPool layer("pool_1");
  test::gradient_check(layer, {{2, 3, 6, 8}}, Mode::train);
  test::gradient_check(layer, {{2, 3, 5, 7}}, Mode::train);
  test::accumulate_check(layer, {{2, 3, 5, 7}}, Mode::train);
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

class MaxPoolParity : public ::testing::TestWithParam<Shape> {};
TEST_P(MaxPoolParity, CpuMatchesGpu) {
  test::parity_check([] { return std::make_unique<MaxPool>("pool"); }, {GetParam()}, Mode::train, 3, 0, 0);
}
INSTANTIATE_TEST_SUITE_P(Shapes, MaxPoolParity,
                         ::testing::Values(Shape{1, 1, 8, 10}, Shape{3, 32, 16, 16}, Shape{1, 1024, 4, 6},
                                           Shape{3, 64, 33, 31}, Shape{1, 3, 2, 3}, Shape{2, 5, 7, 4}),
                         [](const auto& info) { return info.param.str(); });

}  // namespace
}  // namespace cupick
