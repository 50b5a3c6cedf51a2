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
      {"--preset", "", true,
       "demo (the default: the demo's 1024^2 micrographs) or realistic (4096^2, dense 160 px boxes, snr "
       "0.003-0.015 with shot noise and the detector's MTF, astigmatism, and an 8-bit denoised JPEG beside "
       "each MRC), or general (what the pretrained start learns from: 512^2 micrographs, each with its own "
       "particle size, density, snr, contrast and polarity); the flags below change each"},
      {"--count", "-n", true, "micrographs (demo 20, realistic 16)"},
      {"--size", "", true, "micrograph width and height, pixels (demo 1024, realistic 4096)"},
      {"--box_size", "-b", true, "particle box, pixels (demo 64, realistic 160)"},
      {"--snr", "", true, "signal-to-noise ratio over the particles (demo 0.1, realistic 0.003 to --snr_max)"},
      {"--snr_max", "", true, "each micrograph's snr drawn from --snr to this (realistic 0.015)"},
      {"--density", "", true, "particles per box_size^2 of micrograph (demo 0.3, realistic 0.5)"},
      {"--seed", "", true, "seed (1)"},
      {"--help", "-h", false, "this text"}};
  const Args args("simulate", "OUT_DIR [options]", flags, argc, argv);
  if (const int status = args.usage_status(args.positional().size() != 1); status >= 0) return status;
  const std::string preset = args.get("--preset", "demo");
  if (preset != "demo" && preset != "realistic" && preset != "general")
    throw UsageError("--preset must be demo, realistic or general, got " + preset);
  SimulationOptions opt = preset == "realistic" ? realistic_simulation()
                          : preset == "general" ? general_simulation()
                                                : SimulationOptions();
  opt.count = args.get_int("--count", opt.count);
  opt.width = opt.height = args.get_int("--size", opt.width);
  opt.box_size = args.get_int("--box_size", opt.box_size);
  for (const char* flag : {"--count", "--size", "--box_size"})
    if (args.get_int(flag, 1) <= 0) throw UsageError(std::string(flag) + " must be positive, got " + args.get(flag));
  opt.snr = args.get_double("--snr", opt.snr);
  opt.snr_max = args.get_double("--snr_max", opt.snr_max);
  opt.density = args.get_double("--density", opt.density);
  opt.seed = unsigned(args.get_int("--seed", int(opt.seed)));
  simulate_dataset(opt, args.positional()[0]);
  const std::string out = args.positional()[0];
  std::printf("wrote %d micrographs to %s/micrographs, their particles to %s/box and %s/star%s\n", opt.count,
              out.c_str(), out.c_str(), out.c_str(),
              opt.denoised_jpeg ? (", the 8-bit denoised JPEGs to " + out + "/jpg").c_str() : "");
  return 0;
}

int run_demo(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--out", "-o", true, "working folder (demo/)"},
      {"--epochs", "-e", true, "training epochs (CPU 15, GPU 60)"},
      {"--gpu", "-g", true, "GPU id (default: the first GPU, or the CPU when there is none)"},
      {"--threads", "", true, "CPU threads for the network and its BLAS (default: every core)"},
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
  std::printf("look at the picks: open %s/review/index.html in a browser\n", options.folder.c_str());
  return e.f1 >= 0.9 ? 0 : 3;
}

}  // namespace cupick::cli
