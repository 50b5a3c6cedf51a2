// Picking (docs/BEHAVIOUR.md §6): micrographs through a trained network, decoded into boxes,
// filtered, and written as crYOLO writes them: CBOX/ (everything above min(0.1, threshold), so the
// threshold can be changed later), EMAN/ and STAR/ (above the threshold), DISTR/ (size and
// confidence distributions). Coordinates are in the micrograph's own pixels, in the box-file
// convention.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "image/network_input.h"
#include "io/boxes.h"
#include "io/config.h"

namespace cupick {

struct PickOptions {
  float threshold = 0.3f;    // confidence for EMAN/ and STAR/
  float nms_iou = 0.3f;      // boxes overlapping a more confident one by more go
  float min_distance = 0;    // pixels between picks' centres; the less confident of a closer pair goes
  float min_size = 0;        // mean of the estimated width and height, pixels; 0: no bound
  float max_size = 0;
  int batch_size = 4;        // micrographs per forward (same-size micrographs only)
  // Threads per device reading and preparing micrographs ahead of the network (reader_threads: 0
  // chooses).
  int readers = 0;
  bool overwrite = false;    // pick again micrographs whose results exist
  bool progress = true;      // a progress line on stderr
  // What else the picks depend on (the program's version, a hash of the weights, the config's
  // model section), recorded with the options above in the output folder: see pick_micrographs.
  std::map<std::string, std::string> origin;
};

// The picks of one prepared micrograph from its head output (image `image` of a batch): decoded,
// confident at least `min_confidence`, suppressed, fully inside the micrograph, filtered by distance
// and size. Boxes in micrograph pixels, y up from the bottom edge (box files); w, h the box size
// from the config (`box_size`), est_w/est_h the network's estimate.
std::vector<Box> picks_from_head(const Tensor& head, int image, const Prepared& micrograph,
                                 const std::vector<std::pair<float, float>>& anchors, float box_size,
                                 float min_confidence, const PickOptions& opt);

// The decoded boxes of image `image` of a head, confident at least `min_confidence`, in micrograph
// pixels (a patch's corner added) and box-file y, est_w/est_h set; nothing filtered yet.
std::vector<Box> boxes_from_head(const Tensor& head, int image, const Prepared& micrograph,
                                 const std::vector<std::pair<float, float>>& anchors, float min_confidence);

// One micrograph's boxes (from all its patches) to its picks: suppressed, fully inside the
// width x height micrograph, filtered by size and distance, w and h set to `box_size` (if > 0).
std::vector<Box> select_picks(std::vector<Box> boxes, int width, int height, float box_size, const PickOptions& opt);

struct PickSummary {
  size_t picked = 0, skipped = 0;  // micrographs picked now, and left as they were (done before)
  size_t boxes = 0;                // above the threshold, in the micrographs picked now
  std::vector<std::string> failed; // one line per micrograph that could not be read (file: problem)
  double seconds = 0;
};

// The record of what produced a folder's picks, out_dir/cupick_run.json: opt.origin and the options
// that change the picks (threshold, nms, distance, minsize, maxsize). Keys ending in "_file" (the
// weights' path) are for the reader, not compared.
constexpr const char* run_record_name = "cupick_run.json";

// Picks every file into out_dir/{CBOX,EMAN,STAR,DISTR}. Each file is written to a temporary name
// and renamed, the CBOX last: a micrograph whose CBOX file exists is done and skipped, so an
// interrupted run resumes where it stopped, if the folder's run record matches this run's. A record
// that differs is an Error naming what changed and --overwrite; with opt.overwrite every micrograph
// is picked again, and where the record differed the CBOX files of those to pick are removed before
// the new record is written, so that an interrupted re-pick resumes right. A micrograph that cannot
// be read or written is left out (in `failed`) and the others are picked: one damaged file does not
// stop a night's run, and the next run picks just it. Reading and preprocessing run on reader
// threads (PickOptions::readers) while the network works, the micrographs handed to it in order. Patch mode (model.num_patches > 1): every patch goes through the
// network and the picks of all patches are merged (non-maximum suppression) before filtering.
// Error: two files of the same base name (their results would overwrite each other).
PickSummary pick_micrographs(Graph& graph, Context& ctx, const ModelConfig& model,
                             const std::vector<std::string>& files, const std::string& out_dir,
                             const PickOptions& opt);

// The readers per device when PickOptions::readers is 0: on a GPU the machine's cores shared among
// the GPUs in use (preparing a micrograph takes one core about 0.1 s, the GPU's forward much less);
// on the CPU one per 8 of cupick's threads, at least one (preparing costs about a tenth of the
// network's core time there, and a reader takes its cores from the network).
int reader_threads(const PickOptions& opt, bool on_gpu, size_t gpus);

// A network and the device it lives on.
struct PickDevice {
  Graph* graph;
  Context* ctx;
};

// The same on several devices (e.g. one per GPU, each with its own copy of the network): the
// micrographs are dealt out in turn and each device picks its share on a thread of its own, with
// its own reader. The results are those of one device.
PickSummary pick_micrographs(const std::vector<PickDevice>& devices, const ModelConfig& model,
                             const std::vector<std::string>& files, const std::string& out_dir,
                             const PickOptions& opt);

}  // namespace cupick
