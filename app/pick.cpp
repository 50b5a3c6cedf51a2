#include "app/pick.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "app/network.h"
#include "engine/error.h"
#include "io/annotations.h"
#include "io/config.h"
#include "io/files.h"
#include "io/micrograph.h"
#include "pick/evaluate.h"

namespace fs = std::filesystem;

namespace cupick {

std::vector<std::string> expand_micrograph_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;  // a path that cannot be examined is reported below, not thrown as filesystem_error
    if (fs::is_directory(in, ec)) {
      const std::vector<std::string> found = list_micrographs(in);
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(in, ec)) {
      if (!is_micrograph_path(in)) throw Error(in + ": not a micrograph (.mrc, .mrcs, .tif, .tiff, .png, .jpg)");
      files.push_back(in);
    } else {
      const bool missing = !ec || ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
      throw Error(in + ": " + (missing ? why_missing(in, "no such file or folder") : "cannot read it (" + ec.message() + ")"));
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

namespace {

// A hash of a file's bytes (FNV-1a, 64 bits): weights that differ get another run record.
std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  uint64_t hash = 14695981039346656037ull;
  std::vector<char> chunk(1 << 20);
  while (in.read(chunk.data(), std::streamsize(chunk.size())) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) hash = (hash ^ static_cast<unsigned char>(chunk[size_t(i)])) * 1099511628211ull;
    if (!in) break;
  }
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// The model section as the picks depend on it: where the filter's cache lives does not matter.
std::string model_text(const ModelConfig& model) {
  Config only;
  only.model = model;
  if (only.model.filter) only.model.filter->folder.clear();
  return nlohmann::ordered_json::parse(write_config_json(only))["model"].dump();
}

}  // namespace

PickSummary pick_from_config(const PickRequest& request, size_t& micrographs) {
  Config config = load_config(request.config_path);
  print_warnings(config.warnings);
  if (!config.model.anchors)
    throw Error(request.config_path +
                ": model.anchors is missing: picking needs the box size, \"anchors\": [width, height]");
  if (request.filter_on_the_fly && config.model.filter) config.model.filter->folder.clear();  // no cache: in memory
  const std::vector<std::string> files = expand_micrograph_inputs(request.inputs);
  micrographs = files.size();
  std::string weights = request.weights;
  if (weights.empty()) {  // crYOLO's and Topaz's general models are used so: no training at all
    weights = pretrained_weights(config.model.architecture);
    if (weights.empty())
      throw Error(request.config_path + ": no weights given (-w) and no pretrained start ships for " +
                  config.model.architecture);
    std::fprintf(stderr, "weights: the pretrained start %s\n", printable(weights).c_str());
  }
  std::error_code ec;
  if (fs::is_directory(weights, ec)) throw Error(weights + ": is a folder, not a weights file");
  if (!fs::is_regular_file(weights, ec)) throw Error(weights + ": " + why_missing(weights, "no such weights file"));
  PickOptions options = request.options;
  options.origin = {{"cupick", request.version}, {"weights", file_hash(weights)},
                    {"weights_file", fs::absolute(weights).lexically_normal().string()},
                    {"model", model_text(config.model)}};

  // One context and one copy of the network per device: several GPUs share the micrographs out.
  std::vector<std::unique_ptr<Context>> contexts = open_devices(request.devices);
  std::vector<Graph> graphs;
  graphs.reserve(contexts.size());  // PickDevice points into it
  std::vector<PickDevice> devices;
  for (auto& ctx : contexts) {
    std::fprintf(stderr, "device: %s\n", ctx->describe().c_str());
    graphs.push_back(load_network(config.model.architecture, *ctx, weights, request.config_path));
    devices.push_back({&graphs.back(), ctx.get()});
  }
  std::fprintf(stderr, "%zu micrograph%s\n", files.size(), files.size() == 1 ? "" : "s");
  std::signal(SIGINT, SIG_DFL);  // every written file is complete: stopping is always safe
  return pick_micrographs(devices, config.model, files, request.output, options);
}

ReviewSummary review_picks(const std::string& picks, const std::vector<std::string>& inputs, const std::string& truth,
                           double box_size, const std::string& out_dir, ReviewOptions opt, bool picked_only) {
  std::error_code ec;
  const fs::path folder = fs::is_directory(fs::path(picks) / "CBOX", ec) ? fs::path(picks) / "CBOX" : fs::path(picks);
  if (opt.threshold < 0) {
    opt.threshold = 0.3f;
    std::ifstream record(fs::path(picks) / run_record_name);
    try {
      if (record) opt.threshold = nlohmann::json::parse(record).value("threshold", 0.3f);
    } catch (const std::exception&) {
      // a damaged record only costs the slider's start
    }
  }
  const std::map<std::string, std::vector<Box>> boxes = read_boxes_folder(folder.string(), "picks", box_size);
  const std::map<std::string, std::vector<Box>> true_boxes =
      truth.empty() ? std::map<std::string, std::vector<Box>>{} : read_boxes_folder(truth, "ground truth", box_size);
  std::vector<std::string> micrographs = expand_micrograph_inputs(inputs);
  if (picked_only)  // predict has already said why the others have no picks
    std::erase_if(micrographs, [&](const std::string& m) { return !boxes.count(micrograph_key(m)); });
  return write_review(out_dir, micrographs, boxes, true_boxes, opt);
}

}  // namespace cupick
