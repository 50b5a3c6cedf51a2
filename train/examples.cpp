#include "train/examples.h"

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
#include "image/augment.h"
#include "image/network_input.h"
#include "image/preprocess.h"
#include "io/annotations.h"
#include "io/files.h"
#include "io/micrograph.h"

namespace fs = std::filesystem;

namespace cupick {

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

  // Annotations by micrograph key; a STAR file may hold many micrographs. Two files for one
  // micrograph (x.box and x.star, or x.star and a particles.star that names x) are an error: which
  // one a user meant cannot be guessed, and taking either silently trains on the wrong boxes.
  std::error_code ec;
  if (!fs::is_directory(annot_folder, ec)) throw Error(annot_folder + ": " + (fs::exists(annot_folder, ec) ? "is not a folder" : why_missing(annot_folder, "no such folder")));
  std::vector<fs::path> annotation_paths;
  for (const fs::directory_entry& e : fs::directory_iterator(annot_folder)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".box" || ext == ".star" || ext == ".cbox")) annotation_paths.push_back(e.path());
  }
  std::sort(annotation_paths.begin(), annotation_paths.end());  // the messages name the files in a fixed order
  std::map<std::string, std::vector<Box>> annotations;
  std::map<std::string, std::string> annotation_file;
  const auto add = [&](const std::string& key, const std::string& path, std::vector<Box> boxes) {
    const auto [it, added] = annotation_file.emplace(key, path);
    if (!added)
      throw Error(it->second + " and " + path + " both annotate micrograph " + key + ": keep one of them");
    annotations[key] = std::move(boxes);
  };
  for (const fs::path& p : annotation_paths) {
    const std::string path = p.string();
    if (p.extension() == ".star") {
      for (auto& [key, boxes] : read_star_by_micrograph(path, box_size)) add(key, path, std::move(boxes));
    } else {
      add(micrograph_key(p.filename().string()), path, read_boxes(path, box_size));
    }
  }

  // The micrographs with annotations, in file-name order. Two images with one key (x.mrc and
  // x.tif) are an error for the same reason.
  std::vector<std::string> paths, keys;
  std::map<std::string, std::string> micrograph_of;
  for (const std::string& path : list_micrographs(image_folder)) {
    const std::string key = micrograph_key(fs::path(path).filename().string());
    const auto [it, added] = micrograph_of.emplace(key, path);
    if (!added)
      throw Error(it->second + " and " + path + " are both micrograph " + key +
                  " for its annotations: keep one of them in " + image_folder);
    if (!annotations.count(key)) {
      warnings.push_back(path + ": no annotation for this micrograph in " + annot_folder + ": skipped");
      continue;
    }
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
    if (!micrograph_of.count(key)) warnings.push_back(file + ": no micrograph named " + key + " in " + image_folder + ": ignored");
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

Example crop_example(const Example& e, int x0, int y0, int w, int h) {
  const Shape s = e.image.shape();
  if (x0 < 0 || y0 < 0 || w <= 0 || h <= 0 || x0 + w > s.w || y0 + h > s.h)
    throw Error("crop_example: window " + std::to_string(w) + "x" + std::to_string(h) + " at (" + std::to_string(x0) +
                ", " + std::to_string(y0) + ") is not inside " + s.str());
  Example out{e.name, Tensor({s.n, s.c, h, w}), {}, e.scale_x, e.scale_y};
  const float* from = e.image.data<float>();
  float* to = out.image.data<float>();
  for (int plane = 0; plane < s.n * s.c; ++plane)
    for (int y = 0; y < h; ++y)
      std::copy_n(from + (size_t(plane) * s.h + size_t(y0 + y)) * s.w + x0, w, to + (size_t(plane) * h + y) * w);
  for (Box b : e.boxes) {
    b.x -= float(x0);
    b.y -= float(y0);
    if (b.x >= 0 && b.x < float(w) && b.y >= 0 && b.y < float(h)) out.boxes.push_back(b);
  }
  return out;
}

}  // namespace cupick
