// Picking as `cupick predict` runs it: a config, its trained weights and micrographs (files and
// folders) to picks on one device or shared out over several GPUs.
#pragma once
#include <string>
#include <vector>

#include "app/devices.h"
#include "pick/pipeline.h"

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

}  // namespace cupick
