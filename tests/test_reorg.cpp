#include "engine/layers/reorg.h"

#include <gmock/gmock.h>

#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace cupick
