#include "app/network.h"

#include "engine/error.h"
#include "io/weights.h"
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

}  // namespace cupick
