#include "engine/layers/upsample.h"

#include <gmock/gmock.h>

#include <numeric>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

TEST(Upsample, KnownValues) {
  Context cpu;
  Upsample layer("up_1");
  Tensor x = Tensor::from<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  ASSERT_EQ(layer.output_shape({x.shape()}), (Shape{1, 1, 4, 4}));
  Tensor y({1, 1, 4, 4});
  layer.forward(cpu, {&x}, y, Mode::infer);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{1, 1, 2, 2,  //
                                                    1, 1, 2, 2,  //
                                                    3, 3, 4, 4,  //
                                                    3, 3, 4, 4}));

  std::vector<float> g(16);
  std::iota(g.begin(), g.end(), 0.0f);
  Tensor dy = Tensor::from<float>(g, y.shape());
  Tensor dx = Tensor::from<float>({9, 9, 9, 9}, x.shape());
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
  // Each input sums its 2x2 block of dy: 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15.
  EXPECT_EQ(dx.values<float>(), (std::vector<float>{10, 18, 42, 50}));
}

TEST(Upsample, GradientCheck) {
  Upsample layer("up_1");
  test::gradient_check(layer, {{2, 3, 3, 5}}, Mode::train);
  test::accumulate_check(layer, {{2, 3, 3, 5}}, Mode::train);
}

TEST(Upsample, RejectsWrongOutputShape) {
  Context cpu;
  Upsample layer("up_4");
  Tensor x({1, 2, 3, 4}), y({1, 2, 3, 4});
  try {
    layer.forward(cpu, {&x}, y, Mode::infer);
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("up_4 (upsample)"));
    EXPECT_THAT(e.what(), HasSubstr("expected 1x2x6x8"));
    EXPECT_THAT(e.what(), HasSubstr("[1x2x3x4]"));
  }
  EXPECT_THROW(layer.output_shape({{1, 2, 3, 4}, {1, 2, 3, 4}}), ShapeError);
}

class UpsampleParity : public ::testing::TestWithParam<Shape> {};
TEST_P(UpsampleParity, CpuMatchesGpu) {
  test::parity_check([] { return std::make_unique<Upsample>("up"); }, {GetParam()}, Mode::train, 3, 0, 0);
}
INSTANTIATE_TEST_SUITE_P(Shapes, UpsampleParity,
                         ::testing::Values(Shape{1, 1, 8, 10}, Shape{3, 32, 16, 16}, Shape{1, 1024, 4, 6},
                                           Shape{3, 64, 33, 31}, Shape{1, 2, 1, 1}),
                         [](const auto& info) { return info.param.str(); });

}  // namespace
}  // namespace cupick
