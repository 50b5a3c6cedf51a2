#include "engine/layers/registry.h"

#include "engine/layers/batchnorm.h"
#include "engine/layers/concat.h"
#include "engine/layers/conv.h"
#include "engine/layers/leaky_relu.h"
#include "engine/layers/maxpool.h"
#include "engine/layers/reorg.h"
#include "engine/layers/upsample.h"

namespace cupick {

namespace {

// The channels of the one input that the single-input types take (the builder checks the count).
int channels(const LayerArgs& a) { return a.in_channels.empty() ? 0 : a.in_channels[0]; }

}  // namespace

// Batchnorm and leaky ReLU take Keras's defaults as crYOLO uses them (momentum 0.99, epsilon 1e-3,
// slope 0.1): no description sets them.
const std::vector<LayerType>& layer_types() {
  static const std::vector<LayerType> types = {
      {"conv", 1, {"filters", "size", "bias"},
       [](const LayerArgs& a) -> std::unique_ptr<Layer> {
         return std::make_unique<Conv2D>(a.name, channels(a), a.filters, a.size, a.bias);
       }},
      {"maxpool", 1, {}, [](const LayerArgs& a) -> std::unique_ptr<Layer> { return std::make_unique<MaxPool>(a.name); }},
      {"upsample", 1, {},
       [](const LayerArgs& a) -> std::unique_ptr<Layer> { return std::make_unique<Upsample>(a.name); }},
      {"reorg", 1, {}, [](const LayerArgs& a) -> std::unique_ptr<Layer> { return std::make_unique<Reorg>(a.name); }},
      {"concat", -1, {}, [](const LayerArgs& a) -> std::unique_ptr<Layer> { return std::make_unique<Concat>(a.name); }},
      {"batchnorm", 1, {},
       [](const LayerArgs& a) -> std::unique_ptr<Layer> { return std::make_unique<BatchNorm>(a.name, channels(a)); }},
      {"leaky_relu", 1, {},
       [](const LayerArgs& a) -> std::unique_ptr<Layer> { return std::make_unique<LeakyReLU>(a.name); }},
  };
  return types;
}

const LayerType* find_layer_type(const std::string& type) {
  for (const LayerType& t : layer_types())
    if (type == t.type) return &t;
  return nullptr;
}

std::string layer_type_list() {
  std::string list;
  for (const LayerType& t : layer_types()) list += (list.empty() ? "" : ", ") + std::string(t.type);
  return list;
}

std::unique_ptr<Layer> make_layer(const std::string& type, const LayerArgs& args) {
  const LayerType* t = find_layer_type(type);
  if (!t) throw Error("unknown layer type '" + type + "'; allowed: " + layer_type_list());
  return t->make(args);
}

}  // namespace cupick
