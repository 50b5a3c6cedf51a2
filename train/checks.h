// Guard rails before and during training: what a user can act on when a run is unlikely to learn.
// From the examples, the grid and the options: how many particles share a grid cell (one cell
// learns one box), the anchor against the annotated boxes, and the optimiser steps an epoch gives.
#pragma once
#include <string>
#include <vector>

#include "image/grid.h"
#include "train/examples.h"
#include "train/trainer.h"

namespace cupick {

struct DataCheck {
  size_t particles = 0;
  size_t sharing = 0;              // particles whose grid cell holds another particle's centre
  int input_side = 0;              // the network input's short side now, pixels
  int better_side = 0;             // the least short side (a multiple of 32, up to 4096) at which at
                                   // most 5% share; 0: none, or they already do
  float anchor_w = 0, anchor_h = 0;  // the first anchor, micrograph pixels
  float box_w = 0, box_h = 0;        // the median annotated box, micrograph pixels (0: no boxes)
  int crops = 1;  // training crops per side (TrainOptions::min_steps_per_epoch)
  size_t steps_per_epoch = 0;

  double sharing_share() const { return particles ? double(sharing) / double(particles) : 0; }
};

DataCheck check_training_data(const std::vector<Example>& train_set, const Grid& grid, const TrainOptions& opt);

// One line that states the figures, then one "warning: ..." line per problem, each saying what to change.
std::vector<std::string> describe(const DataCheck& check);

// The warning after the warm-up when the validation loss has not moved (by 1%) in `patience`
// epochs since it ended; empty otherwise. history: the epochs so far, warm-up included.
std::string stalled_validation(const std::vector<EpochLog>& history, int warmup_epochs, int patience = 3);

}  // namespace cupick
