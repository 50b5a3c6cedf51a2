// From files to what the network takes (SPEC 2 and 4): one micrograph prepared for the network, and
// the training pairs of an image folder and an annotation folder.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "io/config.h"
#include "train/trainer.h"

namespace cupick {

class Context;     // engine/context.h
class GpuLowpass;  // io/preprocess.h

// A micrograph (or one patch of it) as the network sees it, and the map back to the micrograph's
// own pixels: micrograph x = network x / scale_x + x0, likewise y (rows counted from the top).
struct Prepared {
  Tensor image;            // 1 x 1 x H x W host f32: low-passed, resized, normalised
  int width = 0, height = 0;  // the micrograph's size in pixels
  float scale_x = 1, scale_y = 1;  // network-input pixels per micrograph pixel
  int x0 = 0, y0 = 0;      // patch mode: the patch's top-left corner in the micrograph; else 0
};

// Reads, low-pass filters (cached in the config's filter folder; the cutoff refers to the resized
// image, so the filter runs on the micrograph at cutoff x scale, before resizing: no aliasing),
// resizes to the network input size (SPEC 2) and normalises a micrograph. The filter runs on `gpu`
// when given (the same result to float rounding), else on the CPU. Thread-safe.
Prepared prepare_micrograph(const std::string& path, const ModelConfig& model, GpuLowpass* gpu = nullptr);

// Patch mode (model.num_patches = n > 1, SPEC.md section 2): the micrograph is read and filtered
// whole, then cut into n x n overlapping patches (make_tiles, model.overlap_patches), each resized
// to the network input and normalised on its own; row by row, left to right. n = 1: the one
// prepare_micrograph gives. Thread-safe.
std::vector<Prepared> prepare_patches(const std::string& path, const ModelConfig& model, GpuLowpass* gpu = nullptr);

// Micrograph files of a folder (by extension), sorted by name. Error: no such folder, or none there.
std::vector<std::string> list_micrographs(const std::string& folder);

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

// crYOLO's augmentation (io/augment.h) of a training example, its boxes moving with the image.
void augment_example(Example& example, std::mt19937& rng);

}  // namespace cupick
