// cupick simulate: micrographs with known particles. cupick demo: the whole product on them, with no
// data of one's own: simulate, train, pick the held-out micrographs, evaluate.
#include <chrono>
#include <cstdio>

#include "app/demo.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "image/simulate.h"

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
  DemoOptions options;
  options.folder = args.get("--out", "demo");
  options.epochs = args.get_int("--epochs", 0);
  const Evaluation e = cupick::run_demo(options, *open_device(device_choice(args)));
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  std::printf("\n%zu true particles in %zu held-out micrographs; best confidence threshold %.3f\n", e.truth_boxes,
              e.micrographs, e.best_threshold);
  std::printf("precision %.3f  recall %.3f  F1 %.3f  (AUC %.3f)  in %.1f minutes\n", e.precision, e.recall, e.f1, e.auc,
              minutes);
  std::printf("F1 %s 0.9: %s\n", e.f1 >= 0.9 ? ">=" : "<", e.f1 >= 0.9 ? "the demo reached its target" : "below the target");
  std::printf("everything is in %s: picks/ (CBOX, EMAN, STAR, DISTR), report.json, precision_recall.png\n",
              options.folder.c_str());
  return e.f1 >= 0.9 ? 0 : 3;
}

}  // namespace cupick::cli
