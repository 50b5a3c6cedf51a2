// Picking as `cupick predict` runs it: a config, its trained weights and micrographs (files and
// folders) to picks on one device or shared out over several GPUs.
#pragma once
#include <string>
#include <vector>

#include "app/devices.h"
#include "pick/pipeline.h"
#include "pick/review.h"

namespace cupick {

struct PickRequest {
  std::string config_path;
  std::string weights;              // .safetensors; empty: the pretrained start (app/network.h)
  std::vector<std::string> inputs;  // micrograph files and folders (every micrograph inside)
  std::string output;               // gets CBOX/, EMAN/, STAR/, DISTR/
  PickOptions options;
  DeviceChoice devices;
  bool filter_on_the_fly = false;   // --otf: filter in memory, no cache written
  std::string version;              // the program's, for the output folder's run record
};

// Files and folders to one sorted list of micrographs without repeats. Error naming a path that
// does not exist or a file that is not a micrograph.
std::vector<std::string> expand_micrograph_inputs(const std::vector<std::string>& inputs);

// Loads and checks the config, the inputs and the weights (before any GPU starts), places one copy
// of the network on each device and picks (pick/pipeline.h). Prints the devices and the count of
// micrographs on stderr. `micrographs` gets the number of micrograph files found.
PickSummary pick_from_config(const PickRequest& request, size_t& micrographs);

// The review page (pick/review.h) of the picks in `picks` (predict's output folder, whose CBOX/ is
// read, or any folder of .cbox, .box or .star files) over the micrographs of `inputs` (files and
// folders), written to `out_dir`. With `truth` (a folder, as evaluate takes it) the page tells
// right picks from wrong ones and draws the precision-recall curve; STAR boxes get `box_size`.
// When opt.threshold is negative, the slider starts at predict's threshold (its cupick_run.json),
// else at 0.3. With `picked_only`, micrographs without a picks file are left out without a word
// (predict's case: it has said why they have none).
ReviewSummary review_picks(const std::string& picks, const std::vector<std::string>& inputs, const std::string& truth,
                           double box_size, const std::string& out_dir, ReviewOptions opt, bool picked_only = false);

}  // namespace cupick
