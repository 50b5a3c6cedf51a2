#include "pick/decode.h"

#include <gtest/gtest.h>

#include <cmath>

namespace cupick {
namespace {

float logit(float p) { return std::log(p / (1 - p)); }

TEST(Decode, OneConfidentCell) {
  // 1 anchor (2 x 3 cells), 1 class, grid 4 x 5 over a 200 x 160 image: cells are 40 x 40 pixels.
  Tensor head({1, 6, 4, 5});
  float* t = head.data<float>();
  const size_t plane = 20, cell = 2 * 5 + 3;  // row 2, column 3
  for (size_t i = 0; i < plane; ++i) t[4 * plane + i] = logit(0.01f);
  t[0 * plane + cell] = logit(0.25f);  // x offset in the cell
  t[1 * plane + cell] = logit(0.5f);
  t[2 * plane + cell] = std::log(1.5f);  // 1.5 x the anchor's width
  t[3 * plane + cell] = 0;
  t[4 * plane + cell] = logit(0.9f);
  const std::vector<Box> boxes = decode_head(head, 0, {{2.f, 3.f}}, 1, 200, 160, 0.3f);
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_NEAR(boxes[0].x, (3 + 0.25f) * 40, 1e-3);
  EXPECT_NEAR(boxes[0].y, (2 + 0.5f) * 40, 1e-3);
  EXPECT_NEAR(boxes[0].w, 1.5f * 2 * 40, 1e-3);
  EXPECT_NEAR(boxes[0].h, 3 * 40, 1e-3);
  EXPECT_NEAR(boxes[0].confidence, 0.9f, 1e-5);
  EXPECT_EQ(decode_head(head, 0, {{2.f, 3.f}}, 1, 200, 160, 0.005f).size(), 20u);
  EXPECT_THROW(decode_head(head, 0, {{1, 1}, {2, 2}}, 1, 200, 160, 0.3f), ShapeError);
  EXPECT_THROW(decode_head(head, 1, {{2.f, 3.f}}, 1, 200, 160, 0.3f), ShapeError);  // one image only
}

TEST(Decode, NonMaxSuppressionKeepsTheMostConfident) {
  std::vector<Box> boxes = {
      {100, 100, 50, 50, 0.6f}, {105, 100, 50, 50, 0.9f},  // IoU 0.82: only the 0.9 stays
      {300, 300, 50, 50, 0.5f},                            // alone
      {135, 100, 50, 50, 0.7f},                            // IoU 0.25 with the 0.9 box: stays
  };
  const std::vector<Box> kept = non_max_suppression(boxes, 0.3f);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].confidence, 0.9f);
  EXPECT_FLOAT_EQ(kept[1].confidence, 0.7f);
  EXPECT_FLOAT_EQ(kept[2].confidence, 0.5f);
}

TEST(Decode, IoU) {
  EXPECT_FLOAT_EQ(iou({0, 0, 2, 2}, {0, 0, 2, 2}), 1);
  EXPECT_FLOAT_EQ(iou({0, 0, 2, 2}, {1, 0, 2, 2}), 2.f / 6);
  EXPECT_FLOAT_EQ(iou({0, 0, 2, 2}, {5, 5, 2, 2}), 0);
  EXPECT_FLOAT_EQ(iou({0, 0, 0, 0}, {0, 0, 0, 0}), 0);
}

}  // namespace
}  // namespace cupick
