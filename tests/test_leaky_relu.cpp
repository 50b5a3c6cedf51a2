#include "engine/layers/leaky_relu.h"

#include "tests/layer_check.h"

namespace cupick {
namespace {

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

}  // namespace
}  // namespace cupick
