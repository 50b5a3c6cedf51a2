#include "app/network.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "engine/error.h"
#include "io/weights.h"
#include "nets/names.h"
#include "nets/network.h"

namespace cupick {

namespace {

Graph build_on(const std::string& architecture, Context& ctx) {
  ctx.make_current();  // the network's memory goes to this GPU
  Graph graph = build_network(architecture, /*input_channels=*/1, /*num_anchors=*/1, /*num_classes=*/1);
  graph.to(ctx.device());
  return graph;
}

}  // namespace

Graph load_network(const std::string& architecture, Context& ctx, const std::string& weights, const std::string& config_path) {
  Graph graph = build_on(architecture, ctx);
  try {
    load_weights(weights, graph.params());
  } catch (const Error& e) {  // most often weights of another network than the config's
    if (config_path.empty()) throw;
    throw Error(std::string(e.what()) + " (the config " + config_path + " describes " + architecture + ")");
  }
  return graph;
}

Graph new_network(const std::string& architecture, Context& ctx, Shape input, unsigned seed) {
  Graph graph = build_on(architecture, ctx);
  initialize(graph, input, seed);
  return graph;
}

std::string pretrained_weights(const std::string& architecture) {
  namespace fs = std::filesystem;
  const std::vector<std::string> names = network_names();
  if (std::find(names.begin(), names.end(), architecture) == names.end()) return "";  // a .json path
  std::vector<fs::path> folders;
  if (const char* dir = std::getenv("CUPICK_PRETRAINED"); dir && *dir) folders.emplace_back(dir);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) folders.insert(folders.end(), {exe.parent_path() / "pretrained", exe.parent_path() / "../share/cupick/pretrained"});
  for (const fs::path& folder : folders)
    if (const fs::path file = folder / (architecture + ".safetensors"); fs::is_regular_file(file, ec)) return file.string();
  return "";
}

}  // namespace cupick
