// The guard rails of training (train/checks.h): what they count, and what they tell the user.
#include "train/checks.h"

#include <gmock/gmock.h>

namespace cupick {
namespace {

using ::testing::HasSubstr;

// A 256 x 256 input on an 8 x 8 grid (32-pixel cells); boxes in input pixels, micrograph at 1/2.
std::vector<Example> two_sharing_one_alone() {
  std::vector<Example> set(1);
  set[0].scale_x = set[0].scale_y = 0.5f;
  set[0].boxes = {{10, 10, 32, 32}, {20, 20, 32, 32}, {100, 100, 32, 32}};
  return set;
}

TEST(TrainingChecks, CountsParticlesSharingACellAndTheInputThatSeparatesThem) {
  const Grid grid = Grid::of({1, 1, 256, 256}, {1, 6, 8, 8});
  TrainOptions opt;
  opt.anchors = {{160, 160}};
  opt.batch_size = 4;
  opt.train_times = 10;
  const DataCheck c = check_training_data(two_sharing_one_alone(), grid, opt);
  EXPECT_EQ(c.particles, 3u);
  EXPECT_EQ(c.sharing, 2u);
  EXPECT_EQ(c.input_side, 256);
  // x = 10 and 20 fall in different 32-pixel cells once zoomed by 1.6 or more: 416 = 1.625 x 256.
  EXPECT_EQ(c.better_side, 416);
  EXPECT_FLOAT_EQ(c.box_w, 64);  // 32 input pixels at scale 1/2
  EXPECT_EQ(c.steps_per_epoch, 3u);  // 1 micrograph x 10 / 4, rounded up

  const std::vector<std::string> lines = describe(c);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], HasSubstr("67% of the 3 training particles share a grid cell at input 256"));
  EXPECT_THAT(lines[1], HasSubstr("input_size 416"));
  EXPECT_THAT(lines[2], HasSubstr("anchor (160 x 160) differs from the annotated boxes (median 64 x 64)"));
  EXPECT_THAT(lines[3], HasSubstr("only 3 optimiser steps"));
}

TEST(TrainingChecks, QuietWhenNothingIsWrong) {
  const Grid grid = Grid::of({1, 1, 256, 256}, {1, 6, 8, 8});
  std::vector<Example> set = two_sharing_one_alone();
  set[0].boxes.erase(set[0].boxes.begin());
  TrainOptions opt;
  opt.anchors = {{64, 64}};
  opt.batch_size = 1;
  opt.train_times = 20;
  const DataCheck c = check_training_data(set, grid, opt);
  EXPECT_EQ(c.sharing, 0u);
  EXPECT_EQ(c.better_side, 0);
  EXPECT_EQ(describe(c).size(), 1u);
}

EpochLog epoch_with(double valid_loss) {
  EpochLog log;
  log.valid_loss = valid_loss;
  return log;
}

TEST(TrainingChecks, WarnsOnceWhenTheValidationLossStallsAfterTheWarmUp) {
  std::vector<EpochLog> history;
  for (double v : {1.0, 0.9, 0.5, 0.5, 0.499, 0.5}) history.push_back(epoch_with(v));
  // Warm-up of 2 epochs: the reference is epoch 3 (0.5), and three epochs later it has not moved 1%.
  EXPECT_THAT(stalled_validation(history, 2), HasSubstr("has not moved in the 3 epochs after the warm-up"));
  history.pop_back();
  EXPECT_EQ(stalled_validation(history, 2), "");  // too early
  history.push_back(epoch_with(0.45));
  EXPECT_EQ(stalled_validation(history, 2), "");  // it moved
  history.push_back(epoch_with(0.5));
  EXPECT_EQ(stalled_validation(history, 2), "");  // once only
}

}  // namespace
}  // namespace cupick
