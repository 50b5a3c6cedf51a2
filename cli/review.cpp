// cupick review: the review page of picks over their micrographs (pick/review.h).
#include <cstdio>
#include <filesystem>

#include "app/pick.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "engine/cpu.h"

namespace fs = std::filesystem;

namespace cupick::cli {

int run_review(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--picks", "-p", true, "predict's output folder, or a folder of .cbox, .box or .star files"},
      {"--input", "-i", true, "the micrographs: files and/or folders"},
      {"--truth", "-t", true, "folder of ground truth (.box, .star or .cbox), as evaluate takes it"},
      {"--box_size", "-b", true, "box size for STAR files, which have none (pixels)"},
      {"--iou", "", true, "IoU above which a pick matches a true box (0.5)"},
      {"--threshold", "", true, "where the confidence slider starts (default: predict's threshold, else 0.3)"},
      {"--thumbnail", "", true, "the longer side of the thumbnails, pixels (512)"},
      {"--title", "", true, "the page's title (the picks folder)"},
      {"--output", "-o", true, "folder for the page (default: PICKS/review)"},
      {"--threads", "", true, "thumbnails made at once (default: every core)"},
      {"--help", "-h", false, "this text"}};
  const Args args("review", "-p PICKS -i MICROGRAPHS... [-t TRUTH] [options]", flags, argc, argv);
  if (const int status = args.usage_status(!args.has("--picks") || !args.has("--input")); status >= 0) return status;
  args.allow_positional(0);
  ReviewOptions opt;
  opt.iou_threshold = args.get_double("--iou", 0.5);
  opt.threshold = float(args.get_double("--threshold", -1));
  opt.thumbnail_side = args.get_int("--thumbnail", 512);
  opt.threads = args.get_int("--threads", cpu::threads());
  opt.title = args.get("--title", "cupick picks: " + args.get("--picks"));
  const double box_size = args.get_double("--box_size", 0);
  if (!(opt.iou_threshold > 0 && opt.iou_threshold < 1)) throw UsageError("--iou must be between 0 and 1, got " + args.get("--iou"));
  if (args.has("--threshold") && !(opt.threshold >= 0 && opt.threshold <= 1))
    throw UsageError("--threshold must be in [0, 1], got " + args.get("--threshold"));
  if (opt.thumbnail_side < 32 || opt.thumbnail_side > 4096)
    throw UsageError("--thumbnail must be 32 to 4096 pixels, got " + args.get("--thumbnail"));
  if (opt.threads < 1) throw UsageError("--threads must be positive, got " + args.get("--threads"));
  if (!(box_size >= 0)) throw UsageError("--box_size must be 0 or more, got " + args.get("--box_size"));
  const fs::path out = args.get("--output", (fs::path(args.get("--picks")) / "review").string());
  const ReviewSummary s = review_picks(args.get("--picks"), args.all("--input"), args.get("--truth", ""), box_size,
                                       out.string(), opt);
  print_warnings(s.warnings);
  std::printf("review page of %zu micrographs, %zu picks (%zu thumbnails made): open %s\n", s.micrographs, s.picks,
              s.thumbnails_made, (out / "index.html").c_str());
  return 0;
}

}  // namespace cupick::cli
