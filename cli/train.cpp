// cupick train -c CONFIG: trains the config's network on its image and annotation folders, as
// crYOLO's train command does, keeping the best weights in saved_weights_name.
#include "app/train.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/config.h"

namespace cupick::cli {

int run_train(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--conf", "-c", true, "crYOLO config (JSON)"},
      {"--warmup", "-w", true, "warm-up epochs (default: the config's warmup_epochs)"},
      {"--early", "-e", true, "early stop after this many epochs without improvement (10)"},
      {"--fine_tune", "", false, "train only the last two layers, from pretrained_weights"},
      {"--seed", "", true, "seed for initialisation, the validation split and augmentation (10)"},
      {"--gpu", "-g", true, "GPU id (default: the first GPU, or the CPU when there is none)"},
      {"--threads", "", true, "CPU threads for the network and its BLAS (default: every core)"},
      {"--cpu", "", false, "run on the CPU even when there is a GPU"},
      {"--no_augmentation", "", false, "train on the micrographs as they are"},
      {"--from_scratch", "", false, "random initial weights, not the pretrained start (where one ships)"},
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
  request.from_scratch = args.has("--from_scratch");
  if (args.has("--warmup") && request.warmup < 0) throw UsageError("--warmup must be 0 or more");
  if (request.early < 1) throw UsageError("--early must be at least 1 epoch");
  const std::string config_path = args.get("--conf");
  const Config config = load_config(config_path);
  print_warnings(config.warnings);
  std::unique_ptr<Context> ctx = open_device(device_choice(args));
  const TrainResult r = train_from_config(config, config_path, *ctx, request);
  return r.interrupted ? 130 : 0;
}

}  // namespace cupick::cli
