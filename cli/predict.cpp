// cupick predict: pick particles with trained weights; cupick evaluate: picks against ground truth.
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/config.h"
#include "io/micrograph.h"
#include "io/weights.h"
#include "nets/network.h"
#include "train/data.h"
#include "train/evaluate.h"
#include "train/predict.h"

namespace fs = std::filesystem;

namespace cupick::cli {

std::unique_ptr<Context> choose_device(const Args& args) {
  if (args.has("--cpu")) return std::make_unique<Context>();
  if (args.has("--gpu")) {
    const std::vector<std::string>& ids = args.all("--gpu");
    if (ids.size() > 1) throw Error("several GPUs (-g " + ids[0] + " " + ids[1] + " ...) are not supported yet: give one id");
    return std::make_unique<Context>(args.get_int("--gpu", 0));
  }
  if (auto gpu = Context::try_gpu()) return gpu;
  return std::make_unique<Context>();
}

// Files and folders (every micrograph inside) to one sorted list without repeats.
static std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    if (fs::is_directory(in)) {
      const std::vector<std::string> found = list_micrographs(in);
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(in)) {
      if (!is_micrograph_path(in)) throw Error(in + ": not a micrograph (.mrc, .mrcs, .tif, .tiff, .png, .jpg)");
      files.push_back(in);
    } else {
      throw Error(in + ": no such file or folder");
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

int run_predict(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--conf", "-c", true, "crYOLO config (JSON) of the trained network"},
      {"--weights", "-w", true, "trained weights (.safetensors)"},
      {"--input", "-i", true, "micrographs: files and/or folders"},
      {"--output", "-o", true, "output folder (CBOX/, EMAN/, STAR/, DISTR/)"},
      {"--threshold", "-t", true, "confidence threshold (0.3)"},
      {"--distance", "-d", true, "minimum distance between picks, pixels (0)"},
      {"--minsize", "", true, "smallest estimated particle size to keep, pixels"},
      {"--maxsize", "", true, "largest estimated particle size to keep, pixels"},
      {"--nms", "", true, "IoU above which the less confident of two boxes goes (0.3)"},
      {"--batch", "", true, "micrographs per forward pass (4)"},
      {"--otf", "", false, "filter on the fly, without writing the filtered micrographs"},
      {"--overwrite", "", false, "pick again micrographs that were picked before"},
      {"--gpu", "-g", true, "GPU id (default: the first GPU, or the CPU when there is none)"},
      {"--cpu", "", false, "run on the CPU even when there is a GPU"},
      {"--help", "-h", false, "this text"}};
  Args args("predict", flags, argc, argv);
  if (args.has("--help") || !args.has("--conf") || !args.has("--weights") || !args.has("--input") ||
      !args.has("--output")) {
    std::fputs(Args::usage("predict", "-c CONFIG -w WEIGHTS -i INPUT... -o OUTPUT [options]", flags).c_str(),
               args.has("--help") ? stdout : stderr);
    return args.has("--help") ? 0 : 2;
  }
  Config config = load_config(args.get("--conf"));
  for (const std::string& w : config.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (args.has("--otf") && config.model.filter) {  // a private, throw-away cache
    config.model.filter->folder = (fs::temp_directory_path() / ("cupick_otf_" + std::to_string(getpid()))).string();
  }
  const std::vector<std::string> files = expand_inputs(args.all("--input"));
  PickOptions opt;
  opt.threshold = float(args.get_double("--threshold", 0.3));
  opt.min_distance = float(args.get_double("--distance", 0));
  opt.min_size = float(args.get_double("--minsize", 0));
  opt.max_size = float(args.get_double("--maxsize", 0));
  opt.nms_iou = float(args.get_double("--nms", 0.3));
  opt.batch_size = args.get_int("--batch", 4);
  opt.overwrite = args.has("--overwrite");
  if (opt.threshold < 0 || opt.threshold > 1) throw Error("--threshold must be in [0, 1]");
  if (opt.batch_size <= 0) throw Error("--batch must be positive");

  std::unique_ptr<Context> ctx = choose_device(args);
  std::fprintf(stderr, "device: %s; %zu micrographs\n", ctx->describe().c_str(), files.size());
  Graph graph = build_network(config.model.architecture, 1, 1, 1);
  graph.to(ctx->device());
  load_weights(args.get("--weights"), graph.params());
  std::signal(SIGINT, SIG_DFL);  // every written file is complete: stopping is always safe
  const PickSummary s = pick_micrographs(graph, *ctx, config.model, files, args.get("--output"), opt);
  if (args.has("--otf") && config.model.filter) fs::remove_all(config.model.filter->folder);
  std::printf("picked %zu micrographs (%zu done before), %zu particles above %.2f, %.1f micrographs/s; results in %s\n",
              s.picked, s.skipped, s.boxes, opt.threshold, s.seconds > 0 ? s.picked / s.seconds : 0.0,
              args.get("--output").c_str());
  return 0;
}

int run_evaluate(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--picks", "-p", true, "folder of picks (.box, .star or .cbox; e.g. predict's CBOX/)"},
      {"--truth", "-t", true, "folder of ground truth (.box, .star or .cbox)"},
      {"--box_size", "-b", true, "box size for STAR files, which have none (pixels)"},
      {"--iou", "", true, "IoU above which a pick matches a true box (0.5)"},
      {"--output", "-o", true, "folder for report.json and precision_recall.png (default: the picks folder)"},
      {"--help", "-h", false, "this text"}};
  Args args("evaluate", flags, argc, argv);
  if (args.has("--help") || !args.has("--picks") || !args.has("--truth")) {
    std::fputs(Args::usage("evaluate", "-p PICKS -t TRUTH [options]", flags).c_str(), args.has("--help") ? stdout : stderr);
    return args.has("--help") ? 0 : 2;
  }
  const Evaluation e = evaluate_folders(args.get("--picks"), args.get("--truth"), args.get_double("--box_size", 0),
                                        args.get_double("--iou", 0.5));
  for (const std::string& w : e.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  const fs::path out = args.get("--output", args.get("--picks"));
  fs::create_directories(out);
  write_report_json((out / "report.json").string(), e);
  write_pr_curve_png((out / "precision_recall.png").string(), e);
  std::printf("%zu micrographs, %zu true particles, %zu picks\n", e.micrographs, e.truth_boxes, e.picks);
  std::printf("best threshold %.3f: precision %.3f, recall %.3f, F1 %.3f; AUC %.3f\n", e.best_threshold, e.precision,
              e.recall, e.f1, e.auc);
  std::printf("report: %s, curve: %s\n", (out / "report.json").c_str(), (out / "precision_recall.png").c_str());
  return 0;
}

}  // namespace cupick::cli
