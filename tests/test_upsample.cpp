#include "engine/layers/upsample.h"

#include <gmock/gmock.h>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace cupick
