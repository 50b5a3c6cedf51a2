// crYOLO's three networks (crYOLO, YOLO, PhosaurusNet) as data, and what turns a description into an
// engine graph: the builder, Keras's default initialisation, and a Keras-like summary.
//
// A description (nets/*.json, compiled into the library; or a user's .json file) is an object
//   {"name": "PhosaurusNet", "about": "...", "layers": [block, block, ...]}
// with one block per layer, executed in order. Every block has "type" (a registered layer type,
// engine/layers/registry.h) and "name"; "input" is the name of an earlier node or "input" (the
// micrographs), and defaults to the previous block's output. Any block may add "norm" (the name of
// a batchnorm after it) and "leaky" (a leaky ReLU, slope 0.1, after that); its output is its last node.
//   conv        "filters": n or "head" (= anchors x (5 + classes)), "size": odd k, "bias": false.
//               A conv that reads the micrographs is named "<name>_depth1" when they have one
//               channel, as crYOLO's Keras names are.
//   maxpool     2x2, stride 2
//   upsample    nearest neighbour, 2x
//   reorg       TensorFlow's space_to_depth, block 2
//   concat      "input": [names...], channels in that order
//   batchnorm, leaky_relu
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "engine/graph.h"
#include "nets/names.h"

namespace cupick {

// A compiled-in network by name (case-insensitive), or the description in `architecture` when it is
// a path ending in ".json". Parameters are zero until initialize(). Throws Error for an unknown
// name (listing the known ones) or a bad description (naming the file, the block and the key).
Graph build_network(const std::string& architecture, int input_channels = 1, int num_anchors = 1, int num_classes = 1);
// The same from a description's text; `file` is only used in messages.
Graph build_network_from_text(std::string_view json, const std::string& file, int input_channels, int num_anchors,
                              int num_classes);

// The networks take N x C x H x W with H and W positive multiples of 32 (five 2x2 poolings, and YOLO's
// reorg after the fourth). Throws Error saying so otherwise.
void check_input_size(Shape input);

// Keras's defaults: every conv kernel Glorot uniform, biases 0; batchnorm gamma 1, beta 0, moving
// mean 0, moving variance 1. The head (a conv producing the graph's output) draws kernel and bias
// from N(0, 1) / (grid_h x grid_w), the grid being the output's for `input`, as crYOLO does. Same
// seed, same values, on any machine and wherever the parameters live (host or GPU, f32 or f64).
void initialize(Graph& graph, Shape input, unsigned seed);

struct NetworkSize {
  size_t params = 0;     // everything, batchnorm's moving statistics included
  size_t trainable = 0;  // without the moving statistics
  double gflop = 0;      // forward, 2 x multiply-adds of every convolution (head included), whole batch
};
NetworkSize network_size(Graph& graph, Shape input);

// A Keras-like table (layer, type, output shape, parameters, inputs) and the totals of network_size.
std::string summary(Graph& graph, Shape input);

}  // namespace cupick
