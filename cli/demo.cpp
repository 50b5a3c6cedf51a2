// cupick simulate: micrographs with known particles. cupick demo: the whole product on them, with no
// data of one's own: simulate, train, pick the held-out micrographs, evaluate.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "image/simulate.h"
#include "io/config.h"
#include "io/files.h"
#include "io/micrograph.h"
#include "io/weights.h"
#include "nets/network.h"
#include "pick/evaluate.h"
#include "pick/pipeline.h"

namespace fs = std::filesystem;

namespace cupick::cli {

int run_simulate(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--count", "-n", true, "micrographs (20)"},
      {"--size", "", true, "micrograph width and height, pixels (1024)"},
      {"--box_size", "-b", true, "particle box, pixels (64)"},
      {"--snr", "", true, "signal-to-noise ratio over the particles (0.1)"},
      {"--density", "", true, "particles per box_size^2 of micrograph (0.3)"},
      {"--seed", "", true, "seed (1)"},
      {"--help", "-h", false, "this text"}};
  const Args args("simulate", "OUT_DIR [options]", flags, argc, argv);
  if (const int status = args.usage_status(args.positional().size() != 1); status >= 0) return status;
  SimulationOptions opt;
  opt.count = args.get_int("--count", 20);
  opt.width = opt.height = args.get_int("--size", 1024);
  opt.box_size = args.get_int("--box_size", 64);
  for (const char* flag : {"--count", "--size", "--box_size"})
    if (args.get_int(flag, 1) <= 0) throw UsageError(std::string(flag) + " must be positive, got " + args.get(flag));
  opt.snr = args.get_double("--snr", 0.1);
  opt.density = args.get_double("--density", 0.3);
  opt.seed = unsigned(args.get_int("--seed", 1));
  simulate_dataset(opt, args.positional()[0]);
  std::printf("wrote %d micrographs to %s/micrographs, their particles to %s/box and %s/star\n", opt.count,
              args.positional()[0].c_str(), args.positional()[0].c_str(), args.positional()[0].c_str());
  return 0;
}

namespace {

// The CPU demo's network, written beside its config as a network of one's own (an "architecture"
// that is a .json path): PhosaurusNet's grid (input / 16) and building blocks, but few filters.
// PhosaurusNet needs about 250x the work per image, which two CPU cores cannot give it in the few
// minutes the demo has: from scratch it needs tens of thousands of image steps, this one a few
// thousand.
constexpr const char* kCpuNetwork = R"({
  "name": "cupick-cpu-demo",
  "about": "The CPU demo's small network: five 3x3 convolutions (16-256 filters) with batchnorm and leaky ReLU, four max-pools, one more 3x3 and the head. Grid = input / 16, as PhosaurusNet's. About 1 M parameters.",
  "layers": [
    {"type": "conv", "name": "conv_1", "filters": 16, "size": 3, "norm": "norm_1", "leaky": "leaky_1"},
    {"type": "maxpool", "name": "pool_1"},
    {"type": "conv", "name": "conv_2", "filters": 32, "size": 3, "norm": "norm_2", "leaky": "leaky_2"},
    {"type": "maxpool", "name": "pool_2"},
    {"type": "conv", "name": "conv_3", "filters": 64, "size": 3, "norm": "norm_3", "leaky": "leaky_3"},
    {"type": "maxpool", "name": "pool_3"},
    {"type": "conv", "name": "conv_4", "filters": 128, "size": 3, "norm": "norm_4", "leaky": "leaky_4"},
    {"type": "maxpool", "name": "pool_4"},
    {"type": "conv", "name": "conv_5", "filters": 256, "size": 3, "norm": "norm_5", "leaky": "leaky_5"},
    {"type": "conv", "name": "conv_6", "filters": 256, "size": 3, "norm": "norm_6", "leaky": "leaky_6"},
    {"type": "conv", "name": "conv_23", "filters": "head", "size": 1, "bias": true}
  ]
}
)";

}  // namespace

int run_demo(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--out", "-o", true, "working folder (demo/)"},
      {"--epochs", "-e", true, "training epochs (CPU 15, GPU 60)"},
      {"--gpu", "-g", true, "GPU id (default: the first GPU, or the CPU when there is none)"},
      {"--cpu", "", false, "run on the CPU even when there is a GPU"},
      {"--help", "-h", false, "this text"}};
  const Args args("demo", "[options]", flags, argc, argv);
  if (const int status = args.usage_status(false); status >= 0) return status;
  args.allow_positional(0);
  if (args.get_int("--epochs", 1) <= 0) throw UsageError("--epochs must be positive, got " + args.get("--epochs"));
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Context> ctx = choose_device(args);
  const bool gpu = ctx->on_gpu();
  const fs::path dir = args.get("--out", "demo");
  fs::create_directories(dir);

  // A GPU trains PhosaurusNet at crYOLO's sizes. A CPU trains a small network (kCpuNetwork) at
  // input 256 on micrographs shrunk 4x; the particles are 32 input pixels across there, two grid
  // cells (smaller ones would share cells; 64-pixel particles at 1024 on the GPU span four).
  SimulationOptions sim;
  sim.width = sim.height = 1024;
  sim.box_size = gpu ? 64 : 128;
  sim.density = gpu ? 0.25 : 0.3;
  sim.snr = 0.1;
  const int input_size = gpu ? 1024 : 256;
  std::string architecture = "PhosaurusNet";
  if (!gpu) {
    architecture = fs::absolute(dir / "cpu_network.json").string();  // the config works from anywhere
    write_file_atomically(architecture, kCpuNetwork);
  }
  std::printf("== 1. simulating micrographs (%dx%d, particles of %d px, SNR %.2f)\n", sim.width, sim.height,
              sim.box_size, sim.snr);
  // Validation on micrographs of their own: a 20% split of the training set would be a handful,
  // and the best epoch, chosen on it, a matter of luck.
  sim.count = 40;
  sim.seed = 1;
  simulate_dataset(sim, (dir / "train").string());
  sim.count = 8;
  sim.seed = 3;
  simulate_dataset(sim, (dir / "valid").string());
  sim.count = 10;
  sim.seed = 2;
  simulate_dataset(sim, (dir / "test").string());

  Config config = make_config(sim.box_size, {{"architecture", architecture},
                                             {"input_size", std::to_string(input_size)},
                                             {"train_image_folder", (dir / "train" / "micrographs").string()},
                                             {"train_annot_folder", (dir / "train" / "box").string()},
                                             {"valid_image_folder", (dir / "valid" / "micrographs").string()},
                                             {"valid_annot_folder", (dir / "valid" / "box").string()},
                                             {"saved_weights_name", (dir / "model.safetensors").string()},
                                             {"log_path", (dir / "logs").string()},
                                             {"filtered_output", (dir / "filtered").string()},
                                             {"batch_size", "4"},
                                             {"train_times", gpu ? "10" : "4"},
                                             {"learning_rate", gpu ? "1e-4" : "1e-3"},
                                             {"nb_epoch", std::to_string(args.get_int("--epochs", gpu ? 60 : 15))},
                                             {"warmup", "1"}});
  const std::string config_path = (dir / "config.json").string();
  save_config(config_path, config, true);
  std::printf("== 2. training %s at %dx%d on %s (config: %s)\n", gpu ? "PhosaurusNet" : "a small network",
              input_size, input_size, ctx->describe().c_str(), config_path.c_str());
  TrainRequest request;
  request.early = 15;
  train_from_config(config, config_path, *ctx, request);

  std::printf("== 3. picking the %d held-out micrographs\n", sim.count);
  Graph graph = build_network(architecture, 1, 1, 1);
  graph.to(ctx->device());
  load_weights(config.train.saved_weights_name, graph.params());
  PickOptions pick;
  pick.overwrite = true;
  const PickSummary s = pick_micrographs(graph, *ctx, config.model, list_micrographs((dir / "test" / "micrographs").string()),
                                         (dir / "picks").string(), pick);
  std::printf("%zu particles picked above confidence %.2f, %.1f micrographs/s\n", s.boxes, pick.threshold,
              s.seconds > 0 ? s.picked / s.seconds : 0.0);

  std::printf("== 4. evaluating the picks against the simulated particles\n");
  const Evaluation e = evaluate_folders((dir / "picks" / "CBOX").string(), (dir / "test" / "box").string(), sim.box_size);
  write_report_json((dir / "report.json").string(), e);
  write_pr_curve_png((dir / "precision_recall.png").string(), e);
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  std::printf("\n%zu true particles in %zu held-out micrographs; best confidence threshold %.3f\n", e.truth_boxes,
              e.micrographs, e.best_threshold);
  std::printf("precision %.3f  recall %.3f  F1 %.3f  (AUC %.3f)  in %.1f minutes\n", e.precision, e.recall, e.f1, e.auc,
              minutes);
  std::printf("F1 %s 0.9: %s\n", e.f1 >= 0.9 ? ">=" : "<", e.f1 >= 0.9 ? "the demo reached its target" : "below the target");
  std::printf("everything is in %s: picks/ (CBOX, EMAN, STAR, DISTR), report.json, precision_recall.png\n",
              dir.c_str());
  return e.f1 >= 0.9 ? 0 : 3;
}

}  // namespace cupick::cli
