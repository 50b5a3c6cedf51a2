// The training loop (SPEC.md section 4): batches of augmented micrographs through the network and
// the YOLO loss, Adam, validation every epoch, the learning rate x0.1 on a plateau, early stopping,
// the best weights kept, a CSV log and a progress line.
#pragma once
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "io/boxes.h"
#include "train/yolo_loss.h"

namespace cupick {

// One micrograph at the network's input size, and its particles.
struct Example {
  std::string name;
  Tensor image;            // 1 x C x H x W, host, f32, normalised
  std::vector<Box> boxes;  // in the pixels of `image`
  float scale = 1;         // pixels of `image` per micrograph pixel (anchors are in micrograph pixels)
  Example copy() const { return {name, image.clone(), boxes, scale}; }
};

// Changes an example in place (geometry moves the boxes too), drawing from `rng`.
using Augment = std::function<void(Example&, std::mt19937&)>;

struct TrainOptions {
  std::vector<std::pair<float, float>> anchors = {{160, 160}};  // (w, h) in the examples' pixels
  int classes = 1;
  int batch_size = 4;
  int train_times = 10;    // each training micrograph is seen this often per epoch
  int epochs = 200;
  int warmup_epochs = 5;   // crYOLO's warm-up (0 when fine-tuning)
  float learning_rate = 1e-4f;
  float object_scale = 5, no_object_scale = 1, coord_scale = 1, class_scale = 1;
  int lr_patience = 6;       // epochs without improvement before the learning rate drops x0.1
  int stop_patience = 10;    // epochs without improvement before training stops (never in warm-up)
  double min_delta = 0.001;  // the least drop of the validation loss that counts as improvement
  std::string weights_path;  // where the best weights go (saved_weights_name); empty: kept in memory
  std::string log_path;      // folder of training.csv; empty: no log
  bool fine_tune = false;    // train only the last two convolutions; every other layer is frozen
  unsigned seed = 10;
  bool progress = true;      // a progress line on stderr (one line per epoch when not a terminal)
};

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

// Moves about 20% of `train` into `valid`, chosen with `seed`, separately among micrographs with
// particles and without (crYOLO's split when no validation folder is given).
void split_validation(std::vector<Example>& train, std::vector<Example>& valid, unsigned seed);

// Trains `graph` (built, initialised or loaded, and on ctx's device). At the end the graph holds
// the best weights seen (lowest validation loss), which are also in opt.weights_path.
TrainResult train(Graph& graph, Context& ctx, const TrainOptions& opt, const std::vector<Example>& train_set,
                  const std::vector<Example>& valid_set, const Augment& augment = {});

// Asks a running train() to stop after its current batch; the kept weights stay as they are.
// Safe to call from a signal handler.
void request_stop();

}  // namespace cupick
