// cupick summary -c CONFIG: the configured network as a Keras-like table, with parameter counts and
// forward GFLOP at the configured input size; cupick config OUT.json BOX_SIZE: a complete config.
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/config.h"
#include "nets/network.h"

namespace cupick::cli {

int run_summary(int argc, char** argv) {
  const std::vector<Flag> flags = {
      {"--conf", "-c", true, "crYOLO config (JSON)"},
      {"--architecture", "-a", true, "network instead of the config's: crYOLO, YOLO, PhosaurusNet or a .json"},
      {"--input_size", "", true, "input size instead of the config's (a multiple of 32)"},
      {"--help", "-h", false, "this text"}};
  const Args args("summary", "-c CONFIG | -a ARCHITECTURE [--input_size N]", flags, argc, argv);
  if (const int status = args.usage_status(!args.has("--conf") && !args.has("--architecture")); status >= 0)
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
  if (args.has("--input_size")) height = width = args.get_int("--input_size", 1024);
  const Shape input{1, 1, height, width};
  check_input_size(input);
  Graph graph = build_network(architecture);
  std::fputs(summary(graph, input).c_str(), stdout);
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
