#include "engine/layers/leaky_relu.h"

#include "tests/layer_check.h"

namespace cupick {
namespace {

TEST(LeakyReLU, KnownValues) {
  Context cpu;
  LeakyReLU layer("leaky_1");
  Tensor x = Tensor::from<float>({-2, -0.5f, 0, 0.5f, 3, -10}, {1, 1, 2, 3});
  Tensor y(x.shape());
  layer.forward(cpu, {&x}, y, Mode::infer);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{-0.2f, -0.05f, 0, 0.5f, 3, -1}));
}

TEST(LeakyReLU, GradientCheck) {
  LeakyReLU layer("leaky_1");
  test::gradient_check(layer, {{2, 3, 5, 7}}, Mode::train);
  test::accumulate_check(layer, {{2, 3, 5, 7}}, Mode::train);
}

TEST(LeakyReLU, RejectsWrongArity) {
  LeakyReLU layer("leaky_7");
  try {
    layer.output_shape({{1, 2, 3, 4}, {1, 2, 3, 4}});
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "leaky_7 (leaky_relu): expects 1 input(s), got 2; inputs [1x2x3x4, 1x2x3x4]");
  }
}

TEST(LeakyReLU, RejectsMismatchedOutput) {
  Context cpu;
  LeakyReLU layer("leaky_2");
  Tensor x({1, 2, 3, 4}), y({1, 2, 3, 5});
  EXPECT_THROW(layer.forward(cpu, {&x}, y, Mode::infer), ShapeError);
}

// Bit-exact, accumulate included: dx + dy * 0.1 would be one FMA on the GPU and two roundings on
// the host, so the kernels round the product on its own (kernels::mul_rn).
class LeakyReLUParity : public ::testing::TestWithParam<Shape> {};
TEST_P(LeakyReLUParity, CpuMatchesGpu) {
  test::parity_check([] { return std::make_unique<LeakyReLU>("leaky"); }, {GetParam()}, Mode::train, 3, 0, 0);
}
INSTANTIATE_TEST_SUITE_P(Shapes, LeakyReLUParity,
                         ::testing::Values(Shape{1, 1, 7, 9}, Shape{3, 32, 16, 16}, Shape{1, 1024, 5, 3},
                                           Shape{3, 64, 33, 31}),
                         [](const auto& info) { return info.param.str(); });

}  // namespace
}  // namespace cupick
