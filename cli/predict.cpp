// cupick predict: pick particles with trained weights; cupick evaluate: picks against ground truth.
#include <cstdio>
#include <filesystem>

#include "app/pick.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "engine/cpu.h"
#include "io/files.h"
#include "pick/evaluate.h"

namespace fs = std::filesystem;

namespace cupick::cli {

int run_predict(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--conf", "-c", true, "crYOLO config (JSON) of the trained network"},
      {"--weights", "-w", true, "trained weights (.safetensors or crYOLO's .h5; default: the network's pretrained start, where one ships)"},
      {"--input", "-i", true, "micrographs: files and/or folders"},
      {"--output", "-o", true, "output folder (CBOX/, EMAN/, STAR/, DISTR/, autopick.star, review/)"},
      {"--threshold", "-t", true, "confidence threshold (0.3)"},
      {"--distance", "-d", true, "minimum distance between picks, pixels (0)"},
      {"--minsize", "", true, "smallest estimated particle size to keep, pixels"},
      {"--maxsize", "", true, "largest estimated particle size to keep, pixels"},
      {"--nms", "", true, "IoU above which the less confident of two boxes goes (0.3)"},
      {"--batch", "", true, "micrographs per forward pass (4)"},
      {"--otf", "", false, "filter on the fly, without writing the filtered micrographs"},
      {"--overwrite", "", false, "pick again micrographs that were picked before"},
      {"--no_review", "", false, "do not write the review page (OUTPUT/review/index.html)"},
      {"--gpu", "-g", true, "GPU id; several (-g 0 1 2 3) share the micrographs out (default: the first GPU, or the CPU)"},
      {"--threads", "", true, "CPU threads for the network and its BLAS (default: every core)"},
      {"--cpu", "", false, "run on the CPU even when there is a GPU"},
      {"--help", "-h", false, "this text"}};
  const Args args("predict", "-c CONFIG [-w WEIGHTS] -i INPUT... -o OUTPUT [options]", flags, argc, argv);
  if (const int status = args.usage_status(!args.has("--conf") || !args.has("--input") ||
                                           !args.has("--output"));
      status >= 0)
    return status;
  args.allow_positional(0);
  PickOptions opt;
  opt.threshold = float(args.get_double("--threshold", 0.3));
  opt.min_distance = float(args.get_double("--distance", 0));
  opt.min_size = float(args.get_double("--minsize", 0));
  opt.max_size = float(args.get_double("--maxsize", 0));
  opt.nms_iou = float(args.get_double("--nms", 0.3));
  opt.batch_size = args.get_int("--batch", 4);
  opt.overwrite = args.has("--overwrite");
  if (!(opt.threshold >= 0 && opt.threshold <= 1)) throw UsageError("--threshold must be in [0, 1], got " + args.get("--threshold"));
  if (!(opt.nms_iou >= 0 && opt.nms_iou <= 1)) throw UsageError("--nms must be in [0, 1], got " + args.get("--nms"));
  for (const char* flag : {"--distance", "--minsize", "--maxsize"})
    if (args.get_double(flag, 0) < 0) throw UsageError(std::string(flag) + " must be 0 or more, got " + args.get(flag));
  if (opt.max_size > 0 && opt.min_size > opt.max_size)
    throw UsageError("--minsize " + args.get("--minsize") + " is above --maxsize " + args.get("--maxsize"));
  if (opt.batch_size <= 0) throw UsageError("--batch must be positive, got " + args.get("--batch"));

  PickRequest request;
  request.config_path = args.get("--conf");
  request.weights = args.get("--weights", "");
  request.inputs = args.all("--input");
  request.output = args.get("--output");
  request.options = opt;
  request.devices = device_choice(args);
  request.filter_on_the_fly = args.has("--otf");
  request.version = CUPICK_VERSION;
  size_t files = 0;
  const PickSummary s = pick_from_config(request, files);
  std::printf("picked %zu micrographs (%zu done before), %zu particles above %.2f, %.1f micrographs/s; results in %s\n",
              s.picked, s.skipped, s.boxes, opt.threshold, s.seconds > 0 ? s.picked / s.seconds : 0.0,
              args.get("--output").c_str());
  if (!args.has("--no_review") && s.picked + s.skipped > 0) {
    ReviewOptions review;
    review.threshold = opt.threshold;
    review.threads = cpu::threads();
    review.title = "cupick picks: " + args.get("--output");
    const fs::path page = fs::path(args.get("--output")) / "review";
    const ReviewSummary r = review_picks(args.get("--output"), request.inputs, "", 0, page.string(), review, true);
    print_warnings(r.warnings);
    std::printf("review page: open %s\n", (page / "index.html").c_str());
  }
  if (!s.failed.empty()) {
    print_warnings(s.failed);
    throw Error(std::to_string(s.failed.size()) + " of " + std::to_string(files) +
                " micrographs could not be picked (see the warnings); run again to pick just those");
  }
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
  const Args args("evaluate", "-p PICKS -t TRUTH [options]", flags, argc, argv);
  if (const int status = args.usage_status(!args.has("--picks") || !args.has("--truth")); status >= 0) return status;
  args.allow_positional(0);
  const double box_size = args.get_double("--box_size", 0), iou = args.get_double("--iou", 0.5);
  if (!(box_size >= 0)) throw UsageError("--box_size must be 0 or more, got " + args.get("--box_size"));
  if (!(iou > 0 && iou < 1)) throw UsageError("--iou must be between 0 and 1, got " + args.get("--iou"));
  const Evaluation e = evaluate_folders(args.get("--picks"), args.get("--truth"), box_size, iou);
  print_warnings(e.warnings);
  const fs::path out = args.get("--output", args.get("--picks"));
  make_folders(out.string());
  write_report_json((out / "report.json").string(), e);
  write_pr_curve((out / "precision_recall.png").string(), e);
  std::printf("%zu micrographs, %zu true particles, %zu picks\n", e.micrographs, e.truth_boxes, e.picks);
  std::printf("best threshold %.3f: precision %.3f, recall %.3f, F1 %.3f; AUC %.3f\n", e.best_threshold, e.precision,
              e.recall, e.f1, e.auc);
  std::printf("report: %s, curve: %s\n", (out / "report.json").c_str(), (out / "precision_recall.png").c_str());
  return 0;
}

}  // namespace cupick::cli
