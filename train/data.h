// From files to what the network takes (SPEC 2 and 4): one micrograph prepared for the network, and
// the training pairs of an image folder and an annotation folder.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "io/config.h"
#include "train/trainer.h"

namespace cupick {

// A micrograph as the network sees it, and the map back to the micrograph's own pixels.
struct Prepared {
  Tensor image;            // 1 x 1 x H x W host f32: low-passed, resized, normalised
  int width = 0, height = 0;  // the micrograph's size in pixels
  float scale_x = 1, scale_y = 1;  // network-input pixels per micrograph pixel
};

// Reads, low-pass filters (cached in the config's filter folder; the cutoff refers to the resized
// image, so the filter runs on the micrograph at cutoff x scale, before resizing: no aliasing),
// resizes to the network input size (SPEC 2) and normalises a micrograph.
Prepared prepare_micrograph(const std::string& path, const ModelConfig& model);

// Micrograph files of a folder (by extension), sorted by name. Error: no such folder, or none there.
std::vector<std::string> list_micrographs(const std::string& folder);

// The training examples of an image folder and an annotation folder: every micrograph with an
// annotation file of the same base name (.box, .star, .cbox; or one STAR naming many micrographs),
// prepared for the network, its boxes in network-input pixels. A micrograph without annotation, an
// annotation without micrograph, and boxes outside the image or duplicated give one warning line
// each (in `warnings`); no pair at all is an Error. Boxes without a size (STAR) get the anchor size.
std::vector<Example> load_examples(const std::string& image_folder, const std::string& annot_folder,
                                   const ModelConfig& model, std::vector<std::string>& warnings);

// crYOLO's augmentation (io/augment.h) of a training example, its boxes moving with the image.
void augment_example(Example& example, std::mt19937& rng);

}  // namespace cupick
