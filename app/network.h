// The config's network, built, placed and given its weights: the one way every command, the
// benchmarks and the tests make the network a config describes.
#pragma once
#include <string>

#include "engine/graph.h"

namespace cupick {

// A config's model.architecture (a compiled-in network's name or a .json path) as crYOLO's picker
// uses it: one-channel micrographs, one anchor, one class. On ctx's device (its GPU made current
// first). With `weights` (a .safetensors file) loaded; a file that does not fit is an Error that
// names `config_path`'s architecture, when given, since that is the usual cause.
Graph load_network(const std::string& architecture, Context& ctx, const std::string& weights,
                   const std::string& config_path = "");

// The same with Keras's initialisation for a network input of shape `input`, from `seed`: the start
// of training from scratch, and the benchmarks' networks.
Graph new_network(const std::string& architecture, Context& ctx, Shape input, unsigned seed);

// The pretrained start of a compiled-in network (scripts/pretrain.sh; today only cupick-cpu-demo
// has one): the path of "<architecture>.safetensors" in $CUPICK_PRETRAINED (a folder) or beside the
// executable (pretrained/, then ../share/cupick/pretrained/), or "" where none is found.
std::string pretrained_weights(const std::string& architecture);

}  // namespace cupick
