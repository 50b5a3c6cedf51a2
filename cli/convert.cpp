// cupick convert: a weights file rewritten, checked against its network on the way (every tensor
// present, of the right shape), optionally in fp16 (how the pretrained start ships: half the size).
#include <cstdio>

#include "app/devices.h"
#include "app/network.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/weights.h"

namespace cupick::cli {

int run_convert(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--architecture", "-a", true, "the network the weights belong to (a compiled-in name or a .json)"},
      {"--half", "", false, "store the values in fp16 (F16) instead of fp32"},
      {"--note", "", true, "text kept in the file's metadata as \"note\" (how it was made)"},
      {"--help", "-h", false, "this text"}};
  const Args args("convert", "IN OUT -a ARCHITECTURE [--half] [--note TEXT]", flags, argc, argv);
  if (const int status = args.usage_status(args.positional().size() != 2 || !args.has("--architecture")); status >= 0)
    return status;
  const std::string in = args.positional()[0], out = args.positional()[1];
  std::unique_ptr<Context> cpu = open_device(DeviceChoice{.cpu = true, .gpus = {}});
  Graph graph = load_network(args.get("--architecture"), *cpu, in);
  std::map<std::string, std::string> metadata = read_metadata(in);
  metadata["architecture"] = args.get("--architecture");
  if (args.has("--note")) metadata["note"] = args.get("--note");
  save_weights(out, graph.params(), metadata, args.has("--half"));
  std::printf("wrote %s (%s)\n", out.c_str(), args.has("--half") ? "fp16" : "fp32");
  return 0;
}

}  // namespace cupick::cli
