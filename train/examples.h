// Training examples: the micrographs of an image folder paired with the annotation files of an
// annotation folder, prepared for the network, and crYOLO's augmentation of one example.
#pragma once
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "io/boxes.h"
#include "io/config.h"

namespace cupick {

class Context;  // engine/context.h

// One micrograph at the network's input size, and its particles.
struct Example {
  std::string name;
  Tensor image;            // 1 x C x H x W, host, f32, normalised
  std::vector<Box> boxes;  // in the pixels of `image`
  // Pixels of `image` per micrograph pixel, per axis: both sides are rounded to multiples of 32, so
  // they differ a little on a non-square micrograph (anchors are in micrograph pixels).
  float scale_x = 1, scale_y = 1;
  Example copy() const { return {name, image.clone(), boxes, scale_x, scale_y}; }
};

// The window of w x h pixels at (x0, y0) of an example, in its own pixels (host f32): the boxes
// whose centre lies in it, moved with it; a box cut by the window's edge keeps its size, as the
// augmentation's crop keeps it. The scale stays: the window is not resized.
Example crop_example(const Example& e, int x0, int y0, int w, int h);

// Changes an example in place (geometry moves the boxes too), drawing from `rng`.
using Augment = std::function<void(Example&, std::mt19937&)>;

// The training examples of an image folder and an annotation folder: every micrograph with an
// annotation file of the same base name (.box, .star, .cbox; or one STAR naming many micrographs),
// prepared for the network, its boxes in network-input pixels. A micrograph without annotation, an
// annotation without micrograph, and boxes outside the image or duplicated give one warning line
// each (in `warnings`); no pair at all is an Error. Boxes without a size (STAR) get the anchor size.
// In patch mode each micrograph gives n x n examples (all named as the micrograph), each holding the
// boxes whose centre lies in its patch (patches overlap by 2-4 x overlap_patches, so a box cut by
// one patch's edge is whole in its neighbour when that overlap exceeds the box). The micrographs are
// prepared on up to 8 threads (each holds one micrograph and, filtering a 4096 x 4096 one on the
// CPU, about 0.2 GB of transforms), filtered on ctx's GPU when `ctx` is on
// one; the examples come in file-name order whatever the threads do. `progress`: a line on stderr
// counting the micrographs prepared, when it is a terminal.
std::vector<Example> load_examples(const std::string& image_folder, const std::string& annot_folder,
                                   const ModelConfig& model, std::vector<std::string>& warnings,
                                   const Context* ctx = nullptr, bool progress = false);

// crYOLO's augmentation (image/augment.h) of a training example, its boxes moving with the image.
void augment_example(Example& example, std::mt19937& rng);

}  // namespace cupick
