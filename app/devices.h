// The application layer: what the commands do once their flags are parsed. Every command, the
// demo, the benchmarks and the tests reach the library through here, so a config means the same
// everywhere. This file: which devices a command runs on.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"

namespace cupick {

// As the command line gives it: --cpu, GPU ids (-g 0 1), or neither (the first GPU, or the CPU
// when there is none).
struct DeviceChoice {
  bool cpu = false;
  std::vector<int> gpus;
  int threads = 0;  // --threads: the host's threads (OpenBLAS and cupick's loops); 0: every core
};

// One device (and the host's threads set as chosen). More than one GPU id is an Error: this command
// runs on one GPU.
std::unique_ptr<Context> open_device(const DeviceChoice& choice);

// One context per GPU id when several are given (picking shares the micrographs out), else the one
// open_device gives.
std::vector<std::unique_ptr<Context>> open_devices(const DeviceChoice& choice);

// "warning: <line>" on stderr for each: what a command could do but the user should know.
void print_warnings(const std::vector<std::string>& warnings);

}  // namespace cupick
