// cupick convert: a weights file rewritten, checked against its network on the way (every tensor
// present, of the right shape): crYOLO's Keras .h5 to safetensors and back (by OUT's extension),
// optionally in fp16 (how the pretrained start ships: half the size).
#include <cstdio>

#include "app/devices.h"
#include "app/network.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/weights.h"

namespace cupick::cli {

int run_convert(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--architecture", "-a", true,
       "the network the weights belong to (a compiled-in name or a .json); by default the one IN names (an .h5's "
       "layers, the metadata cupick's training writes)"},
      {"--half", "", false, "store the values in fp16 (F16) instead of fp32 (.safetensors only)"},
      {"--note", "", true, "text kept in the file's metadata as \"note\" (how it was made)"},
      {"--help", "-h", false, "this text"}};
  const Args args("convert", "IN OUT [-a ARCHITECTURE] [--half] [--note TEXT]  (OUT.h5: crYOLO's Keras format)",
                  flags, argc, argv);
  if (const int status = args.usage_status(args.positional().size() != 2); status >= 0) return status;
  const std::string in = args.positional()[0], out = args.positional()[1];
  std::map<std::string, std::string> metadata = read_metadata(in);
  std::string architecture = args.get("--architecture");
  if (architecture.empty()) architecture = metadata["architecture"];
  if (architecture.empty())
    throw UsageError(in + " does not say which network it holds: give it with -a ARCHITECTURE");
  std::unique_ptr<Context> cpu = open_device(DeviceChoice{.cpu = true, .gpus = {}});
  Graph graph = load_network(architecture, *cpu, in);
  metadata["architecture"] = architecture;
  if (args.has("--note")) metadata["note"] = args.get("--note");
  save_weights(out, graph.params(), metadata, args.has("--half"));
  std::printf("wrote %s (%s, %s)\n", out.c_str(), architecture.c_str(),
              is_keras_path(out) ? "Keras .h5, fp32" : args.has("--half") ? "safetensors, fp16" : "safetensors, fp32");
  return 0;
}

}  // namespace cupick::cli
