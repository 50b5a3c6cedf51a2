// The review page (docs/BEHAVIOUR.md §6.5): a static HTML page to look at picks with, written into
// a folder of its own and opened from the disk or any static file server (no server of ours, no
// network). The folder holds
//   index.html          the page (pick/review.html, built into the program)
//   picks.js            the data: micrographs, their picks, ground truth where given
//   thumbs/<name>.jpg   each micrograph shrunk and contrast-stretched, 8-bit grey
//   thumbs/sizes.json   what each thumbnail was made from (micrograph size, side, file time), so
//                       that a later run makes only the thumbnails missing or out of date
// The page draws the picks over the thumbnails, with a confidence slider and a size range that
// redraw them and update the counts, histograms of confidence and size, the precision-recall curve
// where there is ground truth, and buttons that save the picks kept as STAR or BOX files.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/boxes.h"
#include "io/micrograph.h"

namespace cupick {

struct ReviewOptions {
  int thumbnail_side = 512;      // the longer side of a thumbnail, pixels (never enlarged)
  float threshold = 0.3f;        // where the confidence slider starts
  double iou_threshold = 0.5;    // a pick matches a true box above this IoU (as evaluate)
  std::string title = "cupick picks";
  int threads = 1;               // thumbnails made at once
  bool progress = true;          // a progress line on stderr while thumbnails are made
};

// A micrograph as a thumbnail: resized (anti-aliased) so that its longer side is at most `side`,
// then stretched so that mean -/+ 3 sd is 0..255 (crYOLO's view of a micrograph), rounded and
// clamped. Pixel values 0-255.
Image thumbnail(const Image& micrograph, int side);

struct ReviewSummary {
  size_t micrographs = 0, picks = 0, thumbnails_made = 0;
  std::vector<std::string> warnings;  // one line each: picks without a micrograph, unreadable micrographs
};

// Writes the page for `micrographs` (files) into `out_dir`: picks and truth by micrograph_key(),
// truth empty for none. Thumbnails already in out_dir/thumbs are kept (a rerun over more
// micrographs makes only the new ones). A micrograph that cannot be read is left out with a
// warning; picks for micrographs not in the list are left out with a warning. Every file is written
// to a temporary name and renamed. Error: no micrograph, or none could be read.
ReviewSummary write_review(const std::string& out_dir, const std::vector<std::string>& micrographs,
                           const std::map<std::string, std::vector<Box>>& picks,
                           const std::map<std::string, std::vector<Box>>& truth, const ReviewOptions& opt);

// The page itself, as written to index.html.
const std::string& review_page_html();

}  // namespace cupick
