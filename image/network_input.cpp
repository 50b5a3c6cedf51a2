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

// A micrograph or one patch of it as the network sees it: resized to the network input (anti-
// aliased: an 8x reduction averages the noise instead of aliasing it), low-pass filtered there when
// the config asks, at the config's cutoff, which is a frequency of this very image, and normalised.
// Filtering the network input instead of the micrograph costs 16x less at crYOLO's 4x reduction
// (a 1120^2 transform for a 4480^2 one); the resize's own averaging already removes what lies above
// the new Nyquist frequency, so the order hardly changes the result (test_preprocess measures it).
Prepared to_network(const std::string& path, const Image& image, const Tile& tile, const ModelConfig& model,
                    GpuLowpass* gpu) {
  const NetworkInput size = network_input_size(tile.width, tile.height, model.input_size);
  Prepared p;
  p.width = image.width;
  p.height = image.height;
  p.scale_x = float(size.width) / tile.width;
  p.scale_y = float(size.height) / tile.height;
  p.x0 = tile.x0;
  p.y0 = tile.y0;
  Image resized = tile.width == image.width && tile.height == image.height
                      ? resize_antialiased(image, size.width, size.height)
                      : resize_antialiased(crop(image, tile), size.width, size.height);
  if (model.filter) try {
      resized = lowpass_cached(path, resized, model.filter->cutoff, model.filter->folder, gpu);
    } catch (const DeviceError& e) {  // the GPU's message does not name the micrograph
      throw DeviceError(path + ": " + e.what());
    }
  if (model.norm == "GMM") normalize_gmm(resized, 1);
  else normalize_standard(resized);
  p.image = to_tensor(resized);
  return p;
}

}  // namespace

Prepared prepare_micrograph(const std::string& path, const ModelConfig& model, GpuLowpass* gpu) {
  const Image image = read_checked(path);
  return to_network(path, image, {0, 0, image.width, image.height}, model, gpu);
}

std::vector<Prepared> prepare_patches(const std::string& path, const ModelConfig& model, GpuLowpass* gpu) {
  std::vector<Prepared> patches;
  if (model.num_patches == 1) {
    patches.push_back(prepare_micrograph(path, model, gpu));
    return patches;
  }
  const Image image = read_checked(path);
  std::vector<Tile> tiles;
  try {
    tiles = make_tiles(image.width, image.height, model.num_patches, model.overlap_patches);
  } catch (const Error& e) {  // the sizes alone do not say which micrograph
    throw Error(path + ": " + e.what());
  }
  for (const Tile& t : tiles) patches.push_back(to_network(path, image, t, model, gpu));
  return patches;
}

}  // namespace cupick
