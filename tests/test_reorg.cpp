#include "engine/layers/reorg.h"

#include <gmock/gmock.h>

#include <numeric>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

// in[c][y][x] = 16c + 4y + x, c < 2, on a 4x4 plane.
Tensor ramp_1x2x4x4() {
  std::vector<float> v(32);
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from<float>(v, {1, 2, 4, 4});
}

TEST(Reorg, KnownValuesTensorFlowOrder) {
  Context cpu;
  Reorg layer("reorg_1");
  Tensor x = ramp_1x2x4x4();
  ASSERT_EQ(layer.output_shape({x.shape()}), (Shape{1, 8, 2, 2}));
  Tensor y({1, 8, 2, 2});
  layer.forward(cpu, {&x}, y, Mode::infer);
  const std::vector<float> out = y.values<float>();
  auto at = [&](int oc, int oy, int ox) { return out[(oc * 2 + oy) * 2 + ox]; };

  // Output channel (dy*2 + dx)*C + c holds in[c][2oy + dy][2ox + dx].
  EXPECT_EQ(at(0, 0, 0), 0);    // (dy,dx) = (0,0), c = 0
  EXPECT_EQ(at(1, 1, 0), 24);   // (0,0), c = 1: in[1][2][0]
  EXPECT_EQ(at(2, 0, 0), 1);    // (0,1), c = 0: in[0][0][1]
  EXPECT_EQ(at(2, 1, 1), 11);   // (0,1), c = 0: in[0][2][3]
  EXPECT_EQ(at(3, 0, 1), 19);   // (0,1), c = 1: in[1][0][3]
  EXPECT_EQ(at(4, 0, 0), 4);    // (1,0), c = 0: in[0][1][0]
  EXPECT_EQ(at(5, 1, 0), 28);   // (1,0), c = 1: in[1][3][0]
  EXPECT_EQ(at(7, 1, 1), 31);   // (1,1), c = 1: in[1][3][3]
  // Darknet's order would put in[0][0][1] elsewhere; pin the whole tensor.
  EXPECT_EQ(out, (std::vector<float>{0, 2, 8, 10,    16, 18, 24, 26,    // (0,0): c = 0, 1
                                     1, 3, 9, 11,    17, 19, 25, 27,    // (0,1)
                                     4, 6, 12, 14,   20, 22, 28, 30,    // (1,0)
                                     5, 7, 13, 15,   21, 23, 29, 31}));  // (1,1)
}

TEST(Reorg, BackwardIsTheInversePermutation) {
  Context cpu;
  Reorg layer("reorg_1");
  Tensor x = ramp_1x2x4x4();
  Tensor y({1, 8, 2, 2});
  layer.forward(cpu, {&x}, y, Mode::infer);
  Tensor dx({1, 2, 4, 4});
  layer.backward(cpu, {&x}, y, y, {{&dx, GradMode::overwrite}});  // dy = y sends every value home
  EXPECT_EQ(dx.values<float>(), x.values<float>());
}

TEST(Reorg, GradientCheck) {
  Reorg layer("reorg_1");
  test::gradient_check(layer, {{2, 3, 4, 6}}, Mode::train);
  test::accumulate_check(layer, {{2, 3, 4, 6}}, Mode::train);
}

TEST(Reorg, RejectsOddSizes) {
  Reorg layer("reorg_5");
  try {
    layer.output_shape({{1, 2, 4, 5}});
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("reorg_5 (reorg)"));
    EXPECT_THAT(e.what(), HasSubstr("1x2x4x5"));
  }
  EXPECT_THROW(layer.output_shape({{1, 2, 3, 4}}), ShapeError);
}

class ReorgParity : public ::testing::TestWithParam<Shape> {};
TEST_P(ReorgParity, CpuMatchesGpu) {
  test::parity_check([] { return std::make_unique<Reorg>("reorg"); }, {GetParam()}, Mode::train, 3, 0, 0);
}
INSTANTIATE_TEST_SUITE_P(Shapes, ReorgParity,
                         ::testing::Values(Shape{1, 1, 8, 10}, Shape{3, 32, 16, 16}, Shape{1, 1024, 4, 6},
                                           Shape{3, 64, 34, 30}),
                         [](const auto& info) { return info.param.str(); });

}  // namespace
}  // namespace cupick
