#include "app/train.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <optional>

#include "app/devices.h"
#include "app/network.h"
#include "engine/error.h"
#include "nets/network.h"
#include "train/checks.h"
#include "train/examples.h"

namespace cupick {

namespace {

extern "C" void on_interrupt(int signal) {
  request_stop();
  static const char message[] = "\nstopping after this batch, keeping the best weights (again to quit at once)\n";
  (void)!write(STDERR_FILENO, message, sizeof message - 1);
  std::signal(signal, SIG_DFL);
}

// Training and validation examples: the validation folder's, or 20% of the training folder's.
void load_training_data(const Config& config, Context& ctx, unsigned seed, std::vector<Example>& train_set,
                        std::vector<Example>& valid_set) {
  std::vector<std::string> warnings;
  std::fprintf(stderr, "reading %s ...\n", printable(config.train.train_image_folder).c_str());
  train_set =
      load_examples(config.train.train_image_folder, config.train.train_annot_folder, config.model, warnings, &ctx, true);
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
}

void print_data(const ModelConfig& model, const std::vector<Example>& train_set, const std::vector<Example>& valid_set) {
  size_t particles = 0;
  for (const Example& e : train_set) particles += e.boxes.size();
  const size_t patches = size_t(model.num_patches) * size_t(model.num_patches);
  const Shape input = train_set[0].image.shape();
  // In patch mode a particle in the overlap of two patches is counted in both.
  std::fprintf(stderr, "%zu training micrographs (%zu %s), %zu for validation, network input %dx%d%s\n",
               train_set.size() / patches, particles, patches > 1 ? "boxes in their patches" : "particles",
               valid_set.size() / patches, input.w, input.h,
               patches > 1 ? (", " + std::to_string(patches) + " patches per micrograph").c_str() : "");
}

}  // namespace

TrainOptions train_options(const Config& config, const TrainRequest& request) {
  const TrainConfig& t = config.train;
  TrainOptions opt;
  if (config.model.anchors) opt.anchors = {{float(config.model.anchors->width), float(config.model.anchors->height)}};
  opt.batch_size = t.batch_size;
  opt.train_times = t.train_times;
  opt.epochs = t.nb_epoch;
  opt.warmup_epochs = request.fine_tune ? 0 : request.warmup >= 0 ? request.warmup : t.warmup_epochs;
  opt.learning_rate = float(t.learning_rate);
  opt.loss_scales = {float(t.object_scale), float(t.no_object_scale), float(t.coord_scale), float(t.class_scale)};
  opt.stop_patience = request.early;
  opt.weights_path = t.saved_weights_name;
  opt.metadata["architecture"] = config.model.architecture;
  opt.log_path = t.log_path;
  opt.fine_tune = request.fine_tune;
  opt.seed = request.seed;
  return opt;
}

TrainResult train_from_config(const Config& config, const std::string& config_path, Context& ctx,
                              const TrainRequest& request) {
  check_training_paths(config, config_path);
  if (!config.model.anchors)
    throw Error(config_path + ": model.anchors is missing: training needs the box size, \"anchors\": [width, height]");
  // As crYOLO starts from ImageNet weights: the config's pretrained_weights, else the pretrained
  // start where one ships for the network, else (or with --from_scratch) random weights. Settled
  // before the micrographs are read, so that a mistake shows at once.
  const std::string& architecture = config.model.architecture;
  std::string pretrained = config.train.pretrained_weights;
  const bool shipped = pretrained.empty() && !request.from_scratch;
  if (shipped) pretrained = pretrained_weights(architecture);
  if (request.fine_tune && pretrained.empty())
    throw Error(config_path + ": --fine_tune needs train.pretrained_weights" +
                (request.from_scratch ? " (--from_scratch leaves out the pretrained start)" : ""));
  std::fprintf(stderr, "device: %s\n", ctx.describe().c_str());
  // The network and its start before the micrographs, which may take minutes to read: a missing
  // network description or weights of another network show at once.
  std::optional<Graph> start;
  if (!pretrained.empty()) start.emplace(load_network(architecture, ctx, pretrained, config_path));
  else build_network(architecture);
  std::vector<Example> train_set, valid_set;
  load_training_data(config, ctx, request.seed, train_set, valid_set);
  print_data(config.model, train_set, valid_set);

  Graph graph = start ? std::move(*start) : new_network(architecture, ctx, train_set[0].image.shape(), request.seed);
  if (shipped && pretrained.empty())
    std::fprintf(stderr, "no pretrained start ships for %s: starting from random weights\n", printable(architecture).c_str());
  else if (shipped)
    std::fprintf(stderr, "starting from the pretrained start %s (--from_scratch: from random weights)\n",
                 printable(pretrained).c_str());
  else if (!pretrained.empty())
    std::fprintf(stderr, "starting from %s\n", printable(pretrained).c_str());
  const TrainOptions opt = train_options(config, request);
  const Shape input = train_set[0].image.shape();
  for (const std::string& line : describe(check_training_data(train_set, Grid::of(input, graph.shapes(input).back()), opt)))
    std::fprintf(stderr, "%s\n", line.c_str());
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

}  // namespace cupick
