#include "image/network_input.h"

#include <algorithm>

#include "image/preprocess.h"
#include "io/micrograph.h"

namespace cupick {

namespace {

// Reads the micrograph and refuses shapes no network input can be made of: resizing keeps the
// aspect ratio, so a 2 x 4000 image would become a 128 x 256,000 input (1 GB).
Image read_checked(const std::string& path) {
  Image image = read_micrograph(path);
  const int short_side = std::min(image.width, image.height), long_side = std::max(image.width, image.height);
  const std::string size = std::to_string(image.width) + " x " + std::to_string(image.height);
  if (short_side < min_micrograph_side)
    throw Error(path + ": " + size + " pixels is too small to pick in: a micrograph needs at least " +
                std::to_string(min_micrograph_side) + " pixels a side");
  if (long_side > max_micrograph_aspect * short_side)
    throw Error(path + ": " + size + " pixels is too thin to be a micrograph: the long side may be at most " +
                std::to_string(int(max_micrograph_aspect)) + " times the short one");
  return image;
}

// Reads a micrograph and low-pass filters it when the config asks. The cutoff refers to the
// network's input, which samples the micrograph `scale` times as finely: the filter runs before
// resizing, at cutoff x scale, so resizing does not alias.
Image read_filtered(const std::string& path, const ModelConfig& model, GpuLowpass* gpu, Image image, double scale) {
  if (!model.filter) return image;
  const double cutoff = std::min(0.5, model.filter->cutoff * scale);
  try {
    return lowpass_cached(path, image, cutoff, model.filter->folder, gpu);
  } catch (const DeviceError& e) {  // the GPU's message does not name the micrograph
    throw DeviceError(path + ": " + e.what());
  }
}

// A (filtered) image or patch resized to the network input and normalised.
Prepared to_network(const Image& image, const Tile& tile, int width, int height, const ModelConfig& model) {
  const NetworkInput size = network_input_size(tile.width, tile.height, model.input_size);
  Prepared p;
  p.width = width;
  p.height = height;
  p.scale_x = float(size.width) / tile.width;
  p.scale_y = float(size.height) / tile.height;
  p.x0 = tile.x0;
  p.y0 = tile.y0;
  Image resized = tile.width == width && tile.height == height
                      ? resize_antialiased(image, size.width, size.height)
                      : resize_antialiased(crop(image, tile), size.width, size.height);
  if (model.norm == "GMM") normalize_gmm(resized, 1);
  else normalize_standard(resized);
  p.image = to_tensor(resized);
  return p;
}

}  // namespace

Prepared prepare_micrograph(const std::string& path, const ModelConfig& model, GpuLowpass* gpu) {
  Image image = read_checked(path);
  const NetworkInput size = network_input_size(image.width, image.height, model.input_size);
  const double scale = std::max(double(size.width) / image.width, double(size.height) / image.height);
  image = read_filtered(path, model, gpu, std::move(image), scale);
  return to_network(image, {0, 0, image.width, image.height}, image.width, image.height, model);
}

std::vector<Prepared> prepare_patches(const std::string& path, const ModelConfig& model, GpuLowpass* gpu) {
  std::vector<Prepared> patches;
  if (model.num_patches == 1) {
    patches.push_back(prepare_micrograph(path, model, gpu));
    return patches;
  }
  Image image = read_checked(path);
  std::vector<Tile> tiles;
  try {
    tiles = make_tiles(image.width, image.height, model.num_patches, model.overlap_patches);
  } catch (const Error& e) {  // the sizes alone do not say which micrograph
    throw Error(path + ": " + e.what());
  }
  double scale = 0;  // the finest any patch is sampled
  for (const Tile& t : tiles) {
    const NetworkInput size = network_input_size(t.width, t.height, model.input_size);
    scale = std::max({scale, double(size.width) / t.width, double(size.height) / t.height});
  }
  image = read_filtered(path, model, gpu, std::move(image), scale);
  for (const Tile& t : tiles) patches.push_back(to_network(image, t, image.width, image.height, model));
  return patches;
}

}  // namespace cupick
