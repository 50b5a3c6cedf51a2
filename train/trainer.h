// The training loop (docs/BEHAVIOUR.md §5): batches of augmented micrographs through the network and
// the YOLO loss, Adam, validation every epoch, the learning rate x0.1 on a plateau, early stopping,
// the best weights kept, a CSV log and a progress line.
#pragma once
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "train/examples.h"
#include "train/yolo_loss.h"

namespace cupick {

struct TrainOptions {
  // (w, h) in micrograph pixels, as the config's "anchors"; train() turns them into grid cells with
  // the examples' scale (image/grid.h).
  std::vector<std::pair<float, float>> anchors = {{160, 160}};
  int classes = 1;
  int batch_size = 4;
  int train_times = 10;    // each training micrograph is seen this often per epoch
  // Few micrographs give few optimiser steps (one micrograph, train_times 10, batch 4: 3 a
  // epoch), too few to learn from scratch. Below this many, each training sample is a random crop
  // of half (or a quarter) the side of its network image, and an epoch takes 4 (16) of them for
  // each sample it would have taken whole: the same pixels per epoch in 4 (16) times the steps.
  int min_steps_per_epoch = 30;
  int min_crop_side = 256;  // pixels: a crop keeps 8 cells of the coarsest grid and a few particles
  int epochs = 200;
  int warmup_epochs = 5;   // crYOLO's warm-up (0 when fine-tuning)
  float learning_rate = 1e-4f;
  kernels::LossScales loss_scales;  // object_scale, no_object_scale, coord_scale, class_scale
  int lr_patience = 6;       // epochs without improvement before the learning rate drops x0.1
  int stop_patience = 10;    // epochs without improvement before training stops (never in warm-up)
  double min_delta = 0.001;  // the least drop of the validation loss that counts as improvement
  std::string weights_path;  // where the best weights go (saved_weights_name, .h5 for crYOLO's format); empty: in memory only
  std::map<std::string, std::string> metadata;  // kept in the saved weights (the architecture), beside the epoch and anchors
  std::string log_path;      // folder of training.csv and the TensorBoard events; empty: no log
  bool fine_tune = false;    // train only the last two convolutions; every other layer is frozen
  unsigned seed = 10;
  bool progress = true;      // a progress line on stderr (one line per epoch when not a terminal)
};

// How many crops per side training takes (1, 2 or 4; see min_steps_per_epoch) for `micrographs`
// training examples of shape `one`: the least that gives min_steps_per_epoch steps, as long as a
// crop keeps at least min_crop_side pixels a side (a multiple of 32).
int training_crops(const TrainOptions& opt, size_t micrographs, Shape one);

// Optimiser steps per epoch for that many examples with that many crops per side.
size_t steps_per_epoch(const TrainOptions& opt, size_t micrographs, int crops);

struct EpochLog {
  int epoch = 0;  // from 1
  double train_loss = 0, valid_loss = 0;
  LossTerms valid_terms;
  float learning_rate = 0;
  double seconds = 0;
  bool best = false;  // the weights of this epoch were kept
};

struct TrainResult {
  std::vector<EpochLog> history;
  double best_valid_loss = 0;
  int best_epoch = 0;
  bool stopped_early = false;
  bool interrupted = false;
};

// Keras's ModelCheckpoint (save_best_only), ReduceLROnPlateau and EarlyStopping together, fed one
// validation loss per epoch after the warm-up. The best weights follow any drop of the loss; the
// patience counters count from the last drop of at least min_delta below the loss that last reset
// them (not below the best), as Keras does: a loss that falls slowly but steadily still improves
// every few epochs and does not stop training.
class Plateau {
 public:
  Plateau(int lr_patience, int stop_patience, double min_delta)
      : lr_patience_(lr_patience), stop_patience_(stop_patience), min_delta_(min_delta) {}
  struct Decision {
    bool best = false;     // the lowest loss so far: keep these weights
    bool drop_lr = false;  // lr_patience epochs without improvement: learning rate x0.1
    bool stop = false;     // stop_patience epochs without improvement
  };
  Decision update(double valid_loss);

 private:
  int lr_patience_, stop_patience_;
  double min_delta_;
  double best_ = INFINITY, reference_ = INFINITY;
  int since_improvement_ = 0, since_lr_drop_ = 0;
};

// Moves about 20% of `train` into `valid`, chosen with `seed`, separately among micrographs with
// particles and without (crYOLO's split when no validation folder is given).
void split_validation(std::vector<Example>& train, std::vector<Example>& valid, unsigned seed);

// Trains `graph` (built, initialised or loaded, and on ctx's device). At the end the graph holds
// the best weights seen after the warm-up (lowest validation loss), which are also in
// opt.weights_path; training that ended within the warm-up holds and writes its last epoch's.
TrainResult train(Graph& graph, Context& ctx, const TrainOptions& opt, const std::vector<Example>& train_set,
                  const std::vector<Example>& valid_set, const Augment& augment = {});

// Asks train() to stop after its current batch (or at once, when asked before it started); the kept
// weights stay as they are. Safe to call from a signal handler; train() clears it when it returns.
void request_stop();

}  // namespace cupick
