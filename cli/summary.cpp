// cupick summary -c CONFIG: the configured network as a Keras-like table, with parameter counts and
// forward GFLOP at the configured input size; with -w, a weights file (.safetensors or crYOLO's
// .h5) checked against it and what the file says of itself. cupick config OUT.json BOX_SIZE: a
// complete config.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/config.h"
#include "io/weights.h"
#include "nets/network.h"

namespace cupick::cli {

int run_summary(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--conf", "-c", true, "crYOLO config (JSON)"},
      {"--architecture", "-a", true, "network instead of the config's: crYOLO, YOLO, PhosaurusNet or a .json"},
      {"--input_size", "", true, "input size instead of the config's (a multiple of 32)"},
      {"--weights", "-w", true, "weights (.safetensors or crYOLO's .h5) to check against the network and describe"},
      {"--help", "-h", false, "this text"}};
  const Args args("summary", "-c CONFIG | -a ARCHITECTURE | -w WEIGHTS [--input_size N]", flags, argc, argv);
  if (const int status =
          args.usage_status(!args.has("--conf") && !args.has("--architecture") && !args.has("--weights"));
      status >= 0)
    return status;
  args.allow_positional(0);
  std::string architecture = args.get("--architecture");
  int height = 1024, width = 1024;
  if (args.has("--conf")) {
    const Config config = load_config(args.get("--conf"));
    print_warnings(config.warnings);
    if (architecture.empty()) architecture = config.model.architecture;
    height = config.model.input_size.rounded_height();
    width = config.model.input_size.rounded_width();
  }
  std::map<std::string, std::string> metadata;
  const std::string weights = args.get("--weights");
  if (!weights.empty()) {
    metadata = read_metadata(weights);
    if (architecture.empty()) architecture = metadata["architecture"];
    if (architecture.empty())
      throw UsageError(weights + " does not say which network it holds: give it with -a ARCHITECTURE or -c CONFIG");
  }
  if (args.has("--input_size")) height = width = args.get_int("--input_size", 1024);
  const Shape input{1, 1, height, width};
  check_input_size(input);
  Graph graph = build_network(architecture);
  if (!weights.empty()) load_weights(weights, graph.params());  // every tensor there, of its shape
  std::fputs(summary(graph, input).c_str(), stdout);
  if (!weights.empty()) {
    std::printf("weights: %s (every tensor of %s, of its shape)\n", weights.c_str(), architecture.c_str());
    for (const auto& [key, value] : metadata)
      if (key != "keras_layout") std::printf("  %s: %s\n", key.c_str(), value.c_str());
    if (metadata.count("keras_layout")) {  // an .h5: how Keras laid it out
      const nlohmann::json layout = nlohmann::json::parse(metadata["keras_layout"]);
      std::string layers;
      for (const auto& name : layout.value("layer_names", nlohmann::json::array())) {
        layers += ' ';  // appended in two steps: GCC 12 warns falsely (-Wrestrict) on " " + string
        layers += name.get<std::string>();
      }
      std::printf("  Keras %s (%s), top-level layers:%s\n", layout.value("keras_version", "?").c_str(),
                  layout.value("backend", "?").c_str(), layers.c_str());
    }
  }
  return 0;
}

int run_config(int argc, char** argv) {
  std::vector<Flag> flags = {{"--box_size", "-b", true, "particle box size in pixels (or the second positional)"},
                             {"--overwrite", "", false, "replace an existing file"},
                             {"--help", "-h", false, "this text"}};
  for (const ConfigOption& o : config_options()) flags.push_back({"--" + o.name, "", true, o.help});
  const Args args("config", "OUT.json BOX_SIZE [options]", flags, argc, argv);
  const std::vector<std::string>& pos = args.positional();
  if (const int status = args.usage_status(pos.empty() || (pos.size() == 1 && !args.has("--box_size"))); status >= 0)
    return status;
  if (pos.size() > 2) throw UsageError("expected OUT.json and BOX_SIZE, got " + std::to_string(pos.size()) + " words");
  if (pos.size() == 2 && args.has("--box_size")) throw UsageError("the box size is given twice (BOX_SIZE and --box_size)");
  const std::string box = pos.size() == 2 ? pos[1] : args.get("--box_size");
  char* end = nullptr;
  const long box_size = std::strtol(box.c_str(), &end, 10);
  if (*end || end == box.c_str() || box_size <= 0 || box_size > 65536)
    throw UsageError("the box size must be a positive whole number of pixels, got '" + box + "'");
  std::vector<std::pair<std::string, std::string>> options;
  for (const ConfigOption& o : config_options()) {
    const std::vector<std::string>& v = args.all("--" + o.name);
    if (v.empty()) continue;
    std::string joined;  // "--input_size 1024 1400" as crYOLO users type it
    for (const std::string& s : v) joined += (joined.empty() ? "" : " ") + s;
    options.push_back({o.name, joined});
  }
  save_config(pos[0], make_config(int(box_size), options), args.has("--overwrite"));
  std::printf("wrote %s\n", pos[0].c_str());
  return 0;
}

}  // namespace cupick::cli
