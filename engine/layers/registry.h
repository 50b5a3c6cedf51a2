// The layer types by name: the one list that the network builder (nets/network.cpp), the table of
// layer test cases (tests/layer_cases.cpp) and the layer benchmarks go through. A new layer is a
// file pair in this folder and one entry in registry.cpp; the tests fail until it has a case.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/layer.h"

namespace cupick {

// What a layer is made from: its name, its inputs' channels and the keys of its block in a network
// description (nets/*.json). Keys a type does not take keep these values.
struct LayerArgs {
  std::string name;
  std::vector<int> in_channels;  // of each input, in order
  int filters = 0;               // conv: output channels
  int size = 0;                  // conv: kernel side
  bool bias = false;             // conv
};

struct LayerType {
  const char* type;               // Layer::type(), and a block's "type" in a network description
  int inputs;                     // how many; -1 for one or more
  std::vector<std::string> keys;  // the block keys it reads beyond type, name and input
  std::unique_ptr<Layer> (*make)(const LayerArgs& args);
};

// Every type, in a fixed order (the order messages list them in).
const std::vector<LayerType>& layer_types();

// The type named `type`, or nullptr.
const LayerType* find_layer_type(const std::string& type);

// "conv, maxpool, ...": for messages.
std::string layer_type_list();

// A fresh layer (parameters zero) of a registered type; Error for an unknown one.
std::unique_ptr<Layer> make_layer(const std::string& type, const LayerArgs& args);

}  // namespace cupick
