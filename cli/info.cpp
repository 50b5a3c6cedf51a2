#include <cstdio>

#include "app/network.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "engine/context.h"
#include "engine/cpu.h"
#include "engine/cuda_libraries.h"
#include "nets/names.h"

namespace cupick::cli {

int run_info(int argc, char** argv) {
  const std::vector<Flag> flags = {{"--help", "-h", false, "this text"}};
  const Args args("info", "", flags, argc, argv);
  if (const int status = args.usage_status(false); status >= 0) return status;
  args.allow_positional(0);
  std::printf("cupick %s\n", CUPICK_VERSION);
  std::printf("cpu: %s\n", cpu::describe().c_str());
  std::printf("%s", cuda_libraries::describe().c_str());
  const int n = Context::gpu_count();
  if (n == 0) std::printf("no usable GPU: cupick runs on the CPU\n");
  for (int i = 0; i < n; ++i) std::printf("%s\n", Context(i).describe().c_str());
  for (const std::string& name : network_names())
    if (const std::string start = pretrained_weights(name); !start.empty())
      std::printf("pretrained start of %s: %s\n", name.c_str(), start.c_str());
  return 0;
}

}  // namespace cupick::cli
