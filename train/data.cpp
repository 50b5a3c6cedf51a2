#include "train/data.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "io/annotations.h"
#include "io/augment.h"
#include "io/micrograph.h"
#include "io/preprocess.h"

namespace fs = std::filesystem;

namespace cupick {

Prepared prepare_micrograph(const std::string& path, const ModelConfig& model) {
  Image image = read_micrograph(path);
  const NetworkInput size = network_input_size(image.width, image.height, model.input_size);
  Prepared p;
  p.width = image.width;
  p.height = image.height;
  p.scale_x = float(size.width) / image.width;
  p.scale_y = float(size.height) / image.height;
  if (model.filter) {
    const double cutoff = std::min(0.5, model.filter->cutoff * std::max(p.scale_x, p.scale_y));
    image = lowpass_cached(path, image, cutoff, model.filter->folder);
  }
  image = resize_bilinear(image, size.width, size.height);
  if (model.norm == "GMM") normalize_gmm(image, 1);
  else normalize_standard(image);
  p.image = to_tensor(image);
  return p;
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

std::vector<Example> load_examples(const std::string& image_folder, const std::string& annot_folder,
                                   const ModelConfig& model, std::vector<std::string>& warnings) {
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

  std::vector<Example> examples;
  std::map<std::string, bool> used;
  for (const std::string& path : list_micrographs(image_folder)) {
    const std::string key = micrograph_key(fs::path(path).filename().string());
    auto it = annotations.find(key);
    if (it == annotations.end()) {
      warnings.push_back(path + ": no annotation for this micrograph in " + annot_folder + ": skipped");
      continue;
    }
    used[key] = true;
    Prepared p = prepare_micrograph(path, model);
    // Box files count y up from the bottom edge; the network's image counts rows down (io/micrograph.h).
    std::vector<Box> boxes = it->second;
    for (Box& b : boxes) b.y = file_y_to_image_y(b.y, p.height);
    BoxCheck check = check_boxes(boxes, p.width, p.height, annotation_file[key]);
    warnings.insert(warnings.end(), check.warnings.begin(), check.warnings.end());
    for (Box& b : check.kept) b = scale_box(b, p.scale_x, p.scale_y);
    examples.push_back({key, std::move(p.image), std::move(check.kept), p.scale_x, p.scale_y});
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
