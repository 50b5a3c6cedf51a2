// Training as `cupick train` and the demo run it: a crYOLO config turned into training examples,
// a network and TrainOptions, then the training loop (train/trainer.h).
#pragma once
#include <string>

#include "engine/context.h"
#include "io/config.h"
#include "train/trainer.h"

namespace cupick {

// What the command line adds to the config.
struct TrainRequest {
  bool fine_tune = false;  // only the last two convolutions, from train.pretrained_weights
  unsigned seed = 10;      // initialisation, the validation split, augmentation
  int warmup = -1;         // warm-up epochs; -1: the config's warmup_epochs
  int early = 10;          // early-stopping patience, epochs
  bool augment = true;
  bool from_scratch = false;  // random weights even where a pretrained start ships (app/network.h)
};

// The config's training options (everything but the anchors' scale, which train() takes from the
// examples): the loss weights, the schedule, where the weights and the log go.
TrainOptions train_options(const Config& config, const TrainRequest& request);

// Checks the paths, loads the examples (printing their warnings and a line about the data), builds
// or loads the network on ctx's device and trains it, printing the result. The first Ctrl-C (or
// SIGTERM) ends training after the current batch, keeping the best weights; the second ends the
// program at once. Throws Error for a config that cannot train, naming config_path.
TrainResult train_from_config(const Config& config, const std::string& config_path, Context& ctx,
                              const TrainRequest& request);

}  // namespace cupick
