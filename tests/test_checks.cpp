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

// One micrograph with crYOLO's train_times 10 and batch 4 is 3 steps an epoch: training takes
// crops until it has 30, as long as a crop keeps 256 pixels a side.
TEST(TrainingCrops, FewMicrographsTrainOnCrops) {
  TrainOptions opt;
  opt.batch_size = 4;
  opt.train_times = 10;
  EXPECT_EQ(steps_per_epoch(opt, 1, 1), 3u);
  EXPECT_EQ(training_crops(opt, 1, {1, 1, 1024, 1024}), 4);  // 256 x 256 crops, 40 steps
  EXPECT_EQ(steps_per_epoch(opt, 1, 4), 40u);
  EXPECT_EQ(training_crops(opt, 1, {1, 1, 512, 512}), 2);    // no smaller than 256
  EXPECT_EQ(training_crops(opt, 1, {1, 1, 256, 256}), 1);
  EXPECT_EQ(training_crops(opt, 3, {1, 1, 1024, 1024}), 2);  // 30 steps
  EXPECT_EQ(training_crops(opt, 40, {1, 1, 1024, 1024}), 1);  // the demo: 100 steps
  opt.min_steps_per_epoch = 0;
  EXPECT_EQ(training_crops(opt, 1, {1, 1, 1024, 1024}), 1);
}

TEST(TrainingCrops, CropKeepsThePixelsAndTheBoxesInside) {
  Example e;
  e.name = "m";
  e.scale_x = 0.5f;
  std::vector<float> v(2 * 4 * 6);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  e.image = Tensor::from(v, {1, 2, 4, 6});
  e.boxes = {{1, 1, 2, 2}, {3.5f, 2.5f, 4, 4}, {5, 3, 2, 2}};
  const Example c = crop_example(e, 2, 1, 3, 2);
  EXPECT_EQ(c.image.shape(), (Shape{1, 2, 2, 3}));
  // Rows 1-2, columns 2-4 of both channels.
  EXPECT_EQ(c.image.values<float>(), (std::vector<float>{8, 9, 10, 14, 15, 16, 32, 33, 34, 38, 39, 40}));
  ASSERT_EQ(c.boxes.size(), 1u);  // (1, 1) is left of it, (5, 3) below
  EXPECT_FLOAT_EQ(c.boxes[0].x, 1.5f);
  EXPECT_FLOAT_EQ(c.boxes[0].y, 1.5f);
  EXPECT_FLOAT_EQ(c.boxes[0].w, 4);  // cut by the edge, whole in size
  EXPECT_FLOAT_EQ(c.scale_x, 0.5f);
  EXPECT_THROW(crop_example(e, 4, 0, 3, 2), Error);
}

}  // namespace
}  // namespace cupick
