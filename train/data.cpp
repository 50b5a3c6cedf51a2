#include "train/data.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/context.h"
#include "io/annotations.h"
#include "io/augment.h"
#include "io/micrograph.h"
#include "io/preprocess.h"

namespace fs = std::filesystem;

namespace cupick {

namespace {

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
                      ? resize_bilinear(image, size.width, size.height)
                      : resize_bilinear(crop(image, tile), size.width, size.height);
  if (model.norm == "GMM") normalize_gmm(resized, 1);
  else normalize_standard(resized);
  p.image = to_tensor(resized);
  return p;
}

}  // namespace

Prepared prepare_micrograph(const std::string& path, const ModelConfig& model, GpuLowpass* gpu) {
  Image image = read_micrograph(path);
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
  Image image = read_micrograph(path);
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

std::vector<std::string> list_micrographs(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw Error(folder + ": no such folder");
  std::vector<std::string> out;
  for (const fs::directory_entry& e : fs::directory_iterator(folder))
    if (e.is_regular_file() && is_micrograph_path(e.path().string())) out.push_back(e.path().string());
  if (out.empty()) throw Error(folder + ": no micrographs (.mrc, .tif, .png, .jpg) in this folder");
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// prepare_patches for every path, on up to max_threads threads, each taking the next path when
// done with one (so at most max_threads micrographs are in memory at full size). The results come
// in the order of `paths`; the first path (in that order) that failed rethrows, after the others
// that were under way have finished.
std::vector<std::vector<Prepared>> prepare_all(const std::vector<std::string>& paths, const ModelConfig& model,
                                               GpuLowpass* gpu, bool progress) {
  constexpr unsigned max_threads = 8;
  const unsigned threads =
      std::min<unsigned>({std::max(1u, std::thread::hardware_concurrency()), max_threads, unsigned(paths.size())});
  std::vector<std::vector<Prepared>> prepared(paths.size());
  std::vector<std::exception_ptr> errors(paths.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex progress_mutex;
  size_t finished = 0;
  const bool tty = progress && isatty(STDERR_FILENO);
  auto work = [&] {
    for (;;) {
      const size_t i = next++;
      if (i >= paths.size() || failed) return;
      try {
        prepared[i] = prepare_patches(paths[i], model, gpu);
      } catch (...) {
        errors[i] = std::current_exception();
        failed = true;
      }
      std::lock_guard lock(progress_mutex);
      ++finished;
      if (tty) std::fprintf(stderr, "\rprepared %zu/%zu micrographs   ", finished, paths.size());
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  if (tty) std::fprintf(stderr, "\n");
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return prepared;
}

}  // namespace

std::vector<Example> load_examples(const std::string& image_folder, const std::string& annot_folder,
                                   const ModelConfig& model, std::vector<std::string>& warnings, const Context* ctx,
                                   bool progress) {
  if (!model.anchors) throw Error("the config has no model.anchors: training needs the box size");
  const float box_size = float(model.anchors->width);

  // Annotations by micrograph key; a STAR file may hold many micrographs.
  std::error_code ec;
  if (!fs::is_directory(annot_folder, ec)) throw Error(annot_folder + ": no such folder");
  std::map<std::string, std::vector<Box>> annotations;
  std::map<std::string, std::string> annotation_file;
  for (const fs::directory_entry& e : fs::directory_iterator(annot_folder)) {
    const std::string path = e.path().string(), ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".box" && ext != ".star" && ext != ".cbox")) continue;
    if (ext == ".star") {
      for (auto& [key, boxes] : read_star_by_micrograph(path, box_size)) {
        annotations[key] = std::move(boxes);
        annotation_file[key] = path;
      }
    } else {
      const std::string key = micrograph_key(e.path().filename().string());
      annotations[key] = read_boxes(path, box_size);
      annotation_file[key] = path;
    }
  }

  // The micrographs with annotations, in file-name order.
  std::vector<std::string> paths, keys;
  std::map<std::string, bool> used;
  for (const std::string& path : list_micrographs(image_folder)) {
    const std::string key = micrograph_key(fs::path(path).filename().string());
    if (!annotations.count(key)) {
      warnings.push_back(path + ": no annotation for this micrograph in " + annot_folder + ": skipped");
      continue;
    }
    used[key] = true;
    paths.push_back(path);
    keys.push_back(key);
  }

  std::unique_ptr<GpuLowpass> gpu;
  if (ctx && ctx->on_gpu() && model.filter) gpu = std::make_unique<GpuLowpass>(*ctx);
  std::vector<std::vector<Prepared>> prepared = prepare_all(paths, model, gpu.get(), progress);

  std::vector<Example> examples;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& key = keys[i];
    const int width = prepared[i][0].width, height = prepared[i][0].height;
    // Box files count y up from the bottom edge; the network's image counts rows down (io/micrograph.h).
    std::vector<Box> boxes = annotations[key];
    for (Box& b : boxes) b.y = file_y_to_image_y(b.y, height);
    BoxCheck check = check_boxes(boxes, width, height, annotation_file[key]);
    warnings.insert(warnings.end(), check.warnings.begin(), check.warnings.end());
    for (size_t k = 0; k < prepared[i].size(); ++k) {
      Prepared& p = prepared[i][k];
      const Shape s = p.image.shape();
      std::vector<Box> inside;  // the patch's boxes, in its network pixels
      for (Box b : check.kept) {
        b.x -= float(p.x0), b.y -= float(p.y0);
        b = scale_box(b, p.scale_x, p.scale_y);
        if (b.x >= 0 && b.y >= 0 && b.x < float(s.w) && b.y < float(s.h)) inside.push_back(b);
      }
      examples.push_back({key, std::move(p.image), std::move(inside), p.scale_x, p.scale_y});
    }
  }
  for (const auto& [key, file] : annotation_file)
    if (!used.count(key)) warnings.push_back(file + ": no micrograph named " + key + " in " + image_folder + ": ignored");
  if (examples.empty())
    throw Error("no micrograph in " + image_folder + " has an annotation in " + annot_folder +
                " (annotations are matched by base name, e.g. mic_01.mrc and mic_01.box)");
  return examples;
}

void augment_example(Example& example, std::mt19937& rng) {
  const Shape& s = example.image.shape();
  Image image(s.w, s.h);
  std::copy_n(example.image.data<float>(), image.pixels.size(), image.pixels.data());
  augment(image, example.boxes, rng);
  std::copy_n(image.pixels.data(), image.pixels.size(), example.image.data<float>());
}

}  // namespace cupick
