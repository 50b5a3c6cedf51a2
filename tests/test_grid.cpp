// The grid geometry (image/grid.h) and the config's way into the training options: the units that
// the anchors and the loss weights pass through on their way from a config to the loss.
#include "image/grid.h"

#include <gtest/gtest.h>

#include "app/train.h"

namespace cupick {
namespace {

TEST(Grid, CellsAndAnchorsOfANonSquareInput) {
  // A 1024x512 input (w x h) and a 32x16 head: 32 input pixels per cell both ways.
  const Grid g = Grid::of({1, 1, 512, 1024}, {1, 6, 16, 32});
  EXPECT_EQ(g.input_w, 1024);
  EXPECT_EQ(g.input_h, 512);
  EXPECT_EQ(g.cells_w, 32);
  EXPECT_EQ(g.cells_h, 16);
  EXPECT_FLOAT_EQ(g.cell_w(), 32);
  EXPECT_FLOAT_EQ(g.cell_h(), 32);
  // A 160-pixel anchor on a micrograph shown at 1/4 across and 1/8 down: 40 and 20 input pixels.
  const auto [w, h] = g.anchor_in_cells({160, 160}, 0.25f, 0.125f);
  EXPECT_FLOAT_EQ(w, 1.25f);
  EXPECT_FLOAT_EQ(h, 0.625f);
  // Cells of different sizes across and down (a 16-pixel grid one way, 32 the other).
  const Grid h16 = Grid::of({1, 1, 512, 512}, {1, 6, 16, 32});
  EXPECT_FLOAT_EQ(h16.cell_w(), 16);
  EXPECT_FLOAT_EQ(h16.cell_h(), 32);
  EXPECT_FLOAT_EQ(h16.anchor_in_cells({64, 64}, 1, 1).first, 4);
  EXPECT_FLOAT_EQ(h16.anchor_in_cells({64, 64}, 1, 1).second, 2);
}

TEST(Grid, TrainOptionsKeepTheConfigsAnchorsAndLossWeights) {
  const Config config = make_config(160, {{"object_scale", "7"},
                                          {"no_object_scale", "2"},
                                          {"coord_scale", "3"},
                                          {"class_scale", "4"}});
  const TrainOptions opt = train_options(config, TrainRequest{});
  ASSERT_EQ(opt.anchors.size(), 1u);
  EXPECT_FLOAT_EQ(opt.anchors[0].first, 160);  // micrograph pixels: train() scales them
  EXPECT_FLOAT_EQ(opt.anchors[0].second, 160);
  EXPECT_FLOAT_EQ(opt.loss_scales.object, 7);
  EXPECT_FLOAT_EQ(opt.loss_scales.no_object, 2);
  EXPECT_FLOAT_EQ(opt.loss_scales.coord, 3);
  EXPECT_FLOAT_EQ(opt.loss_scales.cls, 4);
}

}  // namespace
}  // namespace cupick
