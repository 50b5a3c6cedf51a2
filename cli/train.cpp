// cupick train -c CONFIG: trains the config's network on its image and annotation folders, as
// crYOLO's train command does, keeping the best weights in saved_weights_name.
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/config.h"
#include "io/weights.h"
#include "nets/network.h"
#include "train/examples.h"
#include "train/trainer.h"

namespace cupick::cli {

namespace {

// The first Ctrl-C (or SIGTERM) ends training after the current batch, which can take minutes on a
// CPU; the second ends the program at once.
extern "C" void on_interrupt(int signal) {
  request_stop();
  static const char message[] = "\nstopping after this batch, keeping the best weights (again to quit at once)\n";
  (void)!write(STDERR_FILENO, message, sizeof message - 1);
  std::signal(signal, SIG_DFL);
}

}  // namespace

TrainResult train_from_config(const Config& config, const std::string& config_path, Context& ctx,
                              const TrainRequest& request) {
  check_training_paths(config, config_path);
  if (!config.model.anchors)
    throw Error(config_path + ": model.anchors is missing: training needs the box size, \"anchors\": [width, height]");
  const bool fine_tune = request.fine_tune;
  if (fine_tune && config.train.pretrained_weights.empty())
    throw Error(config_path + ": --fine_tune needs train.pretrained_weights");
  std::fprintf(stderr, "device: %s\n", ctx.describe().c_str());
  const unsigned seed = request.seed;

  std::vector<std::string> warnings;
  std::fprintf(stderr, "reading %s ...\n", config.train.train_image_folder.c_str());
  std::vector<Example> train_set =
      load_examples(config.train.train_image_folder, config.train.train_annot_folder, config.model, warnings, &ctx, true);
  std::vector<Example> valid_set;
  if (!config.valid.valid_image_folder.empty())
    valid_set = load_examples(config.valid.valid_image_folder, config.valid.valid_annot_folder, config.model, warnings,
                              &ctx, true);
  else
    split_validation(train_set, valid_set, seed);
  print_warnings(warnings);
  if (valid_set.empty())
    throw Error(config.train.train_image_folder + ": too few micrographs to hold out 20% for validation (" +
                std::to_string(train_set.size()) + " with annotations): give valid.valid_image_folder");
  const Shape input = train_set[0].image.shape();
  for (const auto* set : {&train_set, &valid_set})
    for (const Example& e : *set)
      if (e.image.shape() != input)
        throw Error("micrographs of different sizes (" + train_set[0].name + ": " + input.str() + ", " + e.name +
                    ": " + e.image.shape().str() + ") are not supported in one training run yet");
  size_t particles = 0;
  for (const Example& e : train_set) particles += e.boxes.size();
  const size_t patches = size_t(config.model.num_patches) * size_t(config.model.num_patches);
  // In patch mode a particle in the overlap of two patches is counted in both.
  std::fprintf(stderr, "%zu training micrographs (%zu %s), %zu for validation, network input %dx%d%s\n",
               train_set.size() / patches, particles, patches > 1 ? "boxes in their patches" : "particles",
               valid_set.size() / patches, input.w, input.h,
               patches > 1 ? (", " + std::to_string(patches) + " patches per micrograph").c_str() : "");

  Graph graph = build_network(config.model.architecture, 1, 1, 1);
  graph.to(ctx.device());
  initialize(graph, input, seed);
  if (!config.train.pretrained_weights.empty()) {
    load_weights(config.train.pretrained_weights, graph.params());
    std::fprintf(stderr, "starting from %s\n", config.train.pretrained_weights.c_str());
  }

  TrainOptions opt;
  opt.anchors = {{config.model.anchors->width * train_set[0].scale_x, config.model.anchors->height * train_set[0].scale_y}};
  opt.batch_size = config.train.batch_size;
  opt.train_times = config.train.train_times;
  opt.epochs = config.train.nb_epoch;
  opt.warmup_epochs = fine_tune ? 0 : request.warmup >= 0 ? request.warmup : config.train.warmup_epochs;
  opt.learning_rate = float(config.train.learning_rate);
  opt.object_scale = float(config.train.object_scale);
  opt.no_object_scale = float(config.train.no_object_scale);
  opt.coord_scale = float(config.train.coord_scale);
  opt.class_scale = float(config.train.class_scale);
  opt.stop_patience = request.early;
  opt.weights_path = config.train.saved_weights_name;
  opt.log_path = config.train.log_path;
  opt.fine_tune = fine_tune;
  opt.seed = seed;
  Augment augment;
  if (request.augment) augment = augment_example;

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  TrainResult r = train(graph, ctx, opt, train_set, valid_set, augment);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (r.best_epoch == 0) throw Error("interrupted before the first epoch ended: no weights written");
  const bool warm_only = r.best_epoch <= opt.warmup_epochs;
  std::printf("%s: best validation loss %.4f in epoch %d of %zu%s; weights in %s\n",
              r.interrupted ? "interrupted" : r.stopped_early ? "stopped early" : "done", r.best_valid_loss,
              r.best_epoch, r.history.size(), warm_only ? " (the last, as training ended within the warm-up)" : "",
              opt.weights_path.c_str());
  return r;
}

int run_train(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--conf", "-c", true, "crYOLO config (JSON)"},
      {"--warmup", "-w", true, "warm-up epochs (default: the config's warmup_epochs)"},
      {"--early", "-e", true, "early stop after this many epochs without improvement (10)"},
      {"--fine_tune", "", false, "train only the last two layers, from pretrained_weights"},
      {"--seed", "", true, "seed for initialisation, the validation split and augmentation (10)"},
      {"--gpu", "-g", true, "GPU id (default: the first GPU, or the CPU when there is none)"},
      {"--cpu", "", false, "run on the CPU even when there is a GPU"},
      {"--no_augmentation", "", false, "train on the micrographs as they are"},
      {"--help", "-h", false, "this text"}};
  const Args args("train", "-c CONFIG [options]", flags, argc, argv);
  if (const int status = args.usage_status(!args.has("--conf")); status >= 0) return status;
  args.allow_positional(0);
  TrainRequest request;
  request.fine_tune = args.has("--fine_tune");
  request.seed = unsigned(args.get_int("--seed", 10));
  request.warmup = args.get_int("--warmup", -1);
  request.early = args.get_int("--early", 10);
  request.augment = !args.has("--no_augmentation");
  if (args.has("--warmup") && request.warmup < 0) throw UsageError("--warmup must be 0 or more");
  if (request.early < 1) throw UsageError("--early must be at least 1 epoch");
  const std::string config_path = args.get("--conf");
  const Config config = load_config(config_path);
  print_warnings(config.warnings);
  std::unique_ptr<Context> ctx = choose_device(args);
  const TrainResult r = train_from_config(config, config_path, *ctx, request);
  return r.interrupted ? 130 : 0;
}

}  // namespace cupick::cli
