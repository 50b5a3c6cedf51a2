#include "pick/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "engine/background.h"
#include "engine/cpu.h"
#include "image/grid.h"
#include "image/plot.h"
#include "image/preprocess.h"
#include "io/annotations.h"
#include "io/files.h"
#include "io/micrograph.h"
#include "pick/decode.h"

namespace fs = std::filesystem;

namespace cupick {

std::vector<Box> boxes_from_head(const Tensor& head, int image, const Prepared& m,
                                 const std::vector<std::pair<float, float>>& anchors, float min_confidence) {
  const Grid grid = Grid::of(m.image.shape(), head.shape());
  std::vector<std::pair<float, float>> cell_anchors;  // the decoder takes them in grid cells
  for (auto anchor : anchors) cell_anchors.push_back(grid.anchor_in_cells(anchor, m.scale_x, m.scale_y));
  std::vector<Box> boxes =
      decode_head(head, image, cell_anchors, 1, float(grid.input_w), float(grid.input_h), min_confidence);
  for (Box& b : boxes) {
    // Network-input pixels -> micrograph pixels (the patch's corner added), rows -> box-file y.
    b.x = b.x / m.scale_x + float(m.x0), b.w /= m.scale_x;
    b.y = file_y_to_image_y(b.y / m.scale_y + float(m.y0), m.height);
    b.h /= m.scale_y;
    b.est_w = b.w, b.est_h = b.h;
  }
  return boxes;
}

std::vector<Box> select_picks(std::vector<Box> boxes, int width, int height, float box_size, const PickOptions& opt) {
  // IoU does not change when both axes are scaled, moved or flipped: suppressing in micrograph
  // pixels is suppressing in the network's.
  boxes = non_max_suppression(std::move(boxes), opt.nms_iou);
  std::vector<Box> out;
  for (Box b : boxes) {
    if (b.x - b.w / 2 < 0 || b.y - b.h / 2 < 0 || b.x + b.w / 2 > width || b.y + b.h / 2 > height) continue;
    const float size = (b.w + b.h) / 2;
    if ((opt.min_size > 0 && size < opt.min_size) || (opt.max_size > 0 && size > opt.max_size)) continue;
    bool close = false;  // boxes come most confident first: a close, kept one wins
    if (opt.min_distance > 0)
      for (const Box& k : out) close = close || std::hypot(k.x - b.x, k.y - b.y) < opt.min_distance;
    if (close) continue;
    if (box_size > 0) b.w = b.h = box_size;
    out.push_back(b);
  }
  return out;
}

std::vector<Box> picks_from_head(const Tensor& head, int image, const Prepared& m,
                                 const std::vector<std::pair<float, float>>& anchors, float box_size,
                                 float min_confidence, const PickOptions& opt) {
  return select_picks(boxes_from_head(head, image, m, anchors, min_confidence), m.width, m.height, box_size, opt);
}

namespace {

std::string base_name(const std::string& path) { return fs::path(path).stem().string(); }

// A micrograph read and prepared ahead (all its patches), or why it could not be.
struct Prefetched {
  std::string file;
  std::vector<Prepared> patches;
  std::exception_ptr error;
};

// Sorted values' quantile q in [0, 1], linear between neighbours.
double quantile(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const double pos = q * (v.size() - 1);
  const size_t i = size_t(pos);
  return i + 1 < v.size() ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v.back();
}

std::string tick_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A histogram as a step outline: the share of `values` in each of `bins` bins of [lo, hi] (the
// last bin closed), y from 0 to the first tick above the highest bar.
LinePlot histogram_plot(const std::vector<double>& values, double lo, double hi, int bins, const std::string& title,
                        const std::string& x_label) {
  LinePlot plot;
  plot.title = title;
  plot.x_label = x_label;
  plot.y_label = "share of picks";
  plot.x_min = lo, plot.x_max = hi;
  std::tie(plot.grid_step, plot.label_step) = round_steps(lo, hi);
  PlotSeries outline;
  double top = 0;
  const double width = (hi - lo) / bins;
  for (int bin = 0; bin < bins; ++bin) {
    const double a = lo + bin * width, b = a + width;
    const double n = double(std::count_if(values.begin(), values.end(), [&](double v) {
      return v >= a && (v < b || (bin == bins - 1 && v <= hi));
    }));
    const double share = values.empty() ? 0 : n / double(values.size());
    outline.points.push_back({a, share});
    outline.points.push_back({b, share});
    top = std::max(top, share);
  }
  outline.points.insert(outline.points.begin(), {lo, 0});
  outline.points.push_back({hi, 0});
  std::tie(plot.y_grid_step, plot.y_label_step) = round_steps(0, top > 0 ? top * 1.05 : 1);
  plot.y_max = top > 0 ? std::ceil(top * 1.05 / plot.y_label_step) * plot.y_label_step : 1;
  plot.series.push_back(std::move(outline));
  return plot;
}

// DISTR/: the estimated sizes and confidences of every pick in CBOX/ (this run's and earlier ones).
void write_distributions(const fs::path& out, const std::vector<std::vector<Box>>& all, float threshold) {
  std::vector<double> sizes, confidences;
  for (const auto& boxes : all)
    for (const Box& b : boxes) {
      sizes.push_back((b.estimated_w() + b.estimated_h()) / 2);
      confidences.push_back(b.confidence);
    }
  std::sort(sizes.begin(), sizes.end());
  std::sort(confidences.begin(), confidences.end());
  std::string values = "size,confidence\n", summary;
  for (const auto& boxes : all)
    for (const Box& b : boxes)
      values += std::to_string((b.estimated_w() + b.estimated_h()) / 2) + "," + std::to_string(b.confidence) + "\n";
  auto describe = [](const char* what, const std::vector<double>& v) {
    double mean = 0, sd = 0;
    for (double x : v) mean += x;
    mean /= std::max<size_t>(1, v.size());
    for (double x : v) sd += (x - mean) * (x - mean);
    sd = std::sqrt(sd / std::max<size_t>(1, v.size()));
    char line[256];
    std::snprintf(line, sizeof line, "%s: n %zu, mean %.3f, sd %.3f, min %.3f, q25 %.3f, median %.3f, q75 %.3f, max %.3f\n",
                  what, v.size(), mean, sd, v.empty() ? 0 : v.front(), quantile(v, 0.25), quantile(v, 0.5),
                  quantile(v, 0.75), v.empty() ? 0 : v.back());
    return std::string(line);
  };
  summary = describe("size (px)", sizes) + describe("confidence", confidences);
  make_folders(out.string());
  write_file_atomically((out / "distribution.csv").string(), values);
  write_file_atomically((out / "summary.txt").string(), summary);
  const size_t kept = size_t(std::count_if(confidences.begin(), confidences.end(), [&](double c) { return c >= threshold; }));
  char title[128];
  std::snprintf(title, sizeof title, "Confidence: %zu picks, %zu at >= %.2f", confidences.size(),
                kept, threshold);
  LinePlot confidence = histogram_plot(confidences, 0, 1, 20, title, "confidence");
  confidence.series[0].name = "picks";
  confidence.series.push_back(PlotSeries{{{threshold, 0}, {threshold, confidence.y_max}}, Rgb{214, 39, 40},
                                         "threshold " + tick_text(threshold)});
  write_line_plot((out / "confidence_histogram.png").string(), confidence);
  const double small = sizes.empty() ? 0 : std::floor(sizes.front()), large = sizes.empty() ? 1 : std::ceil(sizes.back());
  std::snprintf(title, sizeof title, "Estimated size: %zu picks, median %.1f px", sizes.size(), quantile(sizes, 0.5));
  write_line_plot((out / "size_histogram.png").string(),
                  histogram_plot(sizes, small, std::max(large, small + 1), 30, title, "estimated size (pixels)"));
}

}  // namespace

namespace {

// One line saying why `file` failed, naming it. A device error is thrown on instead: nothing else
// would pick either.
std::string failure_line(const std::string& file, const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const DeviceError&) {
    throw;
  } catch (const Error& e) {  // names the file already
    return e.what();
  } catch (const std::bad_alloc&) {
    return file + ": not enough memory to pick it";
  } catch (const fs::filesystem_error& e) {
    return file + ": " + e.code().message() + (e.path1().empty() ? "" : " (" + e.path1().string() + ")");
  } catch (const std::exception& e) {
    return file + ": " + e.what();
  }
}

// What the devices' threads share: the output folder, the summary, the picks for DISTR/ and the
// progress line, under one mutex.
class Results {
 public:
  Results(const fs::path& out, const ModelConfig& model, const PickOptions& opt)
      : out_(out), box_size_(float(model.anchors->width)), opt_(opt), tty_(opt.progress && isatty(STDERR_FILENO)) {}

  // Picking starts: `todo` micrographs to pick, timed from now.
  void start(size_t todo) {
    todo_ = todo;
    start_ = std::chrono::steady_clock::now();
  }

  // One micrograph's boxes (of all its patches; they overlap, so non-maximum suppression merges
  // them) filtered and written, the CBOX last: it marks the micrograph done.
  // A micrograph whose files cannot all be written (a name STAR cannot hold, one too long for the
  // file system, a full disk) fails alone: those of its files that were written are removed, so
  // that no partial set is left and the next run picks it again.
  void finish(const std::string& file, std::vector<Box> boxes, int width, int height) {
    const std::string name = base_name(file);
    const fs::path eman = out_ / "EMAN" / (name + ".box"), star = out_ / "STAR" / (name + ".star"),
                   cbox = out_ / "CBOX" / (name + ".cbox");
    std::vector<Box> picks, confident;
    try {
      picks = select_picks(std::move(boxes), width, height, box_size_, opt_);
      for (const Box& b : picks)
        if (b.confidence >= opt_.threshold) confident.push_back(b);
      write_eman_box(eman.string(), confident, box_size_);
      write_star(star.string(), confident, fs::path(file).filename().string());
      write_cbox(cbox.string(), picks, box_size_);
    } catch (...) {
      std::error_code ignored;
      for (const fs::path& p : {cbox, eman, star}) fs::remove(p, ignored);
      fail(file + ": its picks could not be written: " + failure_line(file, std::current_exception()));
      return;
    }
    std::lock_guard lock(mutex_);
    summary.boxes += confident.size();
    picked[file] = std::move(picks);
    ++summary.picked;
    if (tty_)
      std::fprintf(stderr, "\rpicked %zu/%zu micrographs, %.1f micrographs/s   ", summary.picked, todo_,
                   summary.picked / seconds());
  }

  void fail(const std::string& why) {
    std::lock_guard lock(mutex_);
    summary.failed.push_back(why);
  }

  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  bool tty() const { return tty_; }

  PickSummary summary;
  std::map<std::string, std::vector<Box>> picked;  // for DISTR, by file: in the same order whoever picked

 private:
  const fs::path out_;
  const float box_size_;
  const PickOptions& opt_;
  const bool tty_;
  size_t todo_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
};

// One device's share of the micrographs: its own reader thread, batches of patches of the same size
// through its network, each micrograph finished when its last patch is.
class DevicePicker {
 public:
  DevicePicker(const PickDevice& device, const ModelConfig& model, const PickOptions& opt, Results& results,
               int readers)
      : graph_(*device.graph), ctx_(*device.ctx), model_(model), opt_(opt), results_(results), readers_(readers),
        anchors_{{float(model.anchors->width), float(model.anchors->height)}},
        low_(std::min(0.1f, opt.threshold)) {}

  void pick(const std::vector<std::string>& share) {
    ctx_.make_current();
    // A batch larger than the share would only allocate: --batch 100000 for 3 micrographs is 3.
    const size_t patches = size_t(model_.num_patches) * size_t(model_.num_patches);
    batch_size_ = int(std::min<size_t>(size_t(opt_.batch_size), std::max<size_t>(1, share.size() * patches)));
    // Reading and preparing run on readers_ threads of their own, at most 2 x batch_size micrographs
    // ahead (all their patches) beyond those being read; the low-pass filter runs on the device when
    // it is a GPU.
    const std::unique_ptr<GpuLowpass> gpu_filter =
        ctx_.on_gpu() && model_.filter ? std::make_unique<GpuLowpass>(ctx_) : nullptr;
    Background<Prefetched> prefetch(share.size(), size_t(2 * batch_size_), [&](size_t i) {
      Prefetched item{share[i], {}, nullptr};
      try {
        item.patches = prepare_patches(item.file, model_, gpu_filter.get());
      } catch (...) {
        item.error = std::current_exception();
      }
      return item;
    }, size_t(readers_));
    while (std::optional<Prefetched> item = prefetch.next())
      if (readable(*item)) add(*item);
    flush();
  }

 private:
  // A micrograph whose patches are on their way through the network.
  struct Pending {
    std::string file;
    size_t patches = 0, done = 0;
    int width = 0, height = 0;
    std::vector<Box> boxes;
  };

  // A micrograph that could not be read is counted as failed and the others go on; a GPU error
  // is thrown on: nothing else would pick either.
  bool readable(const Prefetched& item) {
    if (!item.error) return true;
    results_.fail(failure_line(item.file, item.error));
    return false;
  }

  void add(Prefetched& item) {
    std::vector<Prepared>& patches = item.patches;
    pending_.push_back({item.file, patches.size(), 0, patches[0].width, patches[0].height, {}});
    for (Prepared& patch : patches) {
      if (!batch_.empty() && patch.image.shape() != batch_[0].second.image.shape()) flush();
      batch_.emplace_back(&pending_.back(), std::move(patch));
      if (int(batch_.size()) == batch_size_) flush();
    }
  }

  // The batch so far through the network; its boxes to their micrographs.
  void flush() {
    if (batch_.empty()) return;
    const Shape one = batch_[0].second.image.shape();
    const int n = int(batch_.size());
    const Shape shape{batch_size_, one.c, one.h, one.w};
    if (host_.shape() != shape) {  // the first batch, or micrographs of another size
      host_ = Tensor(shape);
      device_batch_ = Tensor(shape, ctx_.device());
    }
    for (int k = 0; k < n; ++k)
      std::copy_n(batch_[k].second.image.data<float>(), one.count(), host_.data<float>() + k * one.count());
    Tensor input = device_batch_.images(0, n);
    input.copy_from(host_.images(0, n));
    const Tensor head = graph_.forward(ctx_, input, Mode::infer).to(Device::cpu);
    for (int k = 0; k < n; ++k) {
      Pending& p = *batch_[k].first;
      const std::vector<Box> boxes = boxes_from_head(head, k, batch_[k].second, anchors_, low_);
      p.boxes.insert(p.boxes.end(), boxes.begin(), boxes.end());
      if (++p.done == p.patches) results_.finish(p.file, std::move(p.boxes), p.width, p.height);
    }
    batch_.clear();
    while (!pending_.empty() && pending_.front().done == pending_.front().patches) pending_.pop_front();
  }

  Graph& graph_;
  Context& ctx_;
  const ModelConfig& model_;
  const PickOptions& opt_;
  Results& results_;
  const int readers_;
  const std::vector<std::pair<float, float>> anchors_;  // micrograph pixels
  const float low_;  // CBOX keeps everything above min(0.1, threshold)
  int batch_size_ = 1;  // opt_.batch_size, at most the share's patches
  std::deque<Pending> pending_;  // deque: references stay valid while it grows at the back
  std::vector<std::pair<Pending*, Prepared>> batch_;
  Tensor host_, device_batch_;
};

// A float as the shortest decimal that reads back as it (0.3f, not 0.30000001192092896), so that
// the record and its messages show the settings as the user gave them.
double decimal(float f) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, f).ptr;
  return std::strtod(std::string(text, end).c_str(), nullptr);
}

// This run's record (see run_record_name).
nlohmann::ordered_json run_record(const PickOptions& opt) {
  nlohmann::ordered_json record = nlohmann::ordered_json::object();
  for (const auto& [key, value] : opt.origin) record[key] = value;
  record["threshold"] = decimal(opt.threshold);
  record["nms"] = decimal(opt.nms_iou);
  record["distance"] = decimal(opt.min_distance);
  record["minsize"] = decimal(opt.min_size);
  record["maxsize"] = decimal(opt.max_size);
  return record;
}

// How the folder's record differs from this run's, one phrase per setting; empty if it does not.
std::vector<std::string> record_differences(const nlohmann::ordered_json& before, const nlohmann::ordered_json& now) {
  std::set<std::string> keys;
  for (const auto& j : {before, now})
    for (const auto& [key, value] : j.items())
      if (!(key.size() > 5 && key.compare(key.size() - 5, 5, "_file") == 0)) keys.insert(key);
  std::vector<std::string> changed;
  for (const std::string& key : keys) {
    auto text = [&](const nlohmann::ordered_json& j) {
      if (!j.contains(key)) return std::string("none");
      // Records written before settings were stored as decimal(): 0.30000001192092896 is 0.3.
      if (j[key].is_number_float()) return nlohmann::ordered_json(decimal(j[key].get<float>())).dump();
      return j[key].dump();
    };
    if (text(before) != text(now)) changed.push_back(key + " " + text(before) + ", now " + text(now));
  }
  return changed;
}

// Picks are resumed only under the settings that made them: checks the folder's record against
// this run's and writes this run's (see pick_micrographs).
void check_run_record(const fs::path& out, const std::vector<std::string>& files, const PickOptions& opt) {
  const fs::path path = out / run_record_name;
  const nlohmann::ordered_json now = run_record(opt);
  std::vector<std::string> changed;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    nlohmann::ordered_json before = nlohmann::ordered_json::parse(in, nullptr, false);
    changed = before.is_object() ? record_differences(before, now)
                                 : std::vector<std::string>{"the record is damaged"};
  } else {
    for (const std::string& f : files)
      if (fs::exists(out / "CBOX" / (base_name(f) + ".cbox"), ec)) {
        changed.push_back("there are picks but no record of what made them");
        break;
      }
  }
  if (!changed.empty()) {
    std::string what;
    for (const std::string& c : changed) what += (what.empty() ? "" : "; ") + c;
    if (!opt.overwrite)
      throw Error(out.string() + ": picked before with other settings (" + what +
                  "): give --overwrite to pick every micrograph again, or another output folder");
    for (const std::string& f : files) fs::remove(out / "CBOX" / (base_name(f) + ".cbox"), ec);
  }
  write_file_atomically(path.string(), now.dump(2) + "\n");
}

// The files to pick, leaving out those done before (their CBOX exists) unless opt.overwrite; the
// picks of those go into `results` for DISTR/.
std::vector<std::string> files_to_pick(const std::vector<std::string>& files, const fs::path& out,
                                       const PickOptions& opt, Results& results) {
  std::map<std::string, std::string> by_name;
  for (const std::string& f : files)
    if (auto [it, fresh] = by_name.emplace(base_name(f), f); !fresh)
      throw Error(it->second + " and " + f + " have the same base name: their picks would overwrite each other");
  check_run_record(out, files, opt);
  std::vector<std::string> todo;
  for (const std::string& f : files) {
    const fs::path cbox = out / "CBOX" / (base_name(f) + ".cbox");
    std::error_code unseen;  // e.g. a name too long: not done, and picking it reports why
    if (!opt.overwrite && fs::exists(cbox, unseen)) {
      ++results.summary.skipped;
      results.picked[f] = read_boxes(cbox.string());
      continue;
    }
    todo.push_back(f);
  }
  return todo;
}

// A path as RELION names files, relative to the folder it runs in (its project): relative paths
// as given, tidied; absolute ones under the current folder made relative; others left absolute.
std::string relion_path(const fs::path& p) {
  if (p.is_relative()) return p.lexically_normal().string();
  std::error_code ec;
  const fs::path here = fs::current_path(ec);
  const fs::path rel = ec ? fs::path() : p.lexically_normal().lexically_relative(here);
  return rel.empty() || *rel.begin() == ".." ? p.lexically_normal().string() : rel.string();
}

// out/autopick.star, RELION 4 and 5's index of the STAR files (io/annotations.h): every micrograph
// of `files` whose STAR file is there, picked in this run or an earlier one.
void write_relion_index(const std::vector<std::string>& files, const fs::path& out) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::error_code ec;
  for (const std::string& file : files)
    if (const fs::path star = out / "STAR" / (base_name(file) + ".star"); fs::is_regular_file(star, ec))
      rows.emplace_back(relion_path(file), relion_path(star));
  write_coordinate_index((out / "autopick.star").string(), rows);
}

}  // namespace

int reader_threads(const PickOptions& opt, bool on_gpu, size_t gpus) {
  if (opt.readers > 0) return opt.readers;
  if (on_gpu) return int(std::max<size_t>(1, std::max(1u, std::thread::hardware_concurrency()) / std::max<size_t>(1, gpus)));
  return std::max(1, cpu::threads() / 8);
}

PickSummary pick_micrographs(const std::vector<PickDevice>& devices, const ModelConfig& model,
                             const std::vector<std::string>& files, const std::string& out_dir, const PickOptions& opt) {
  if (devices.empty()) throw Error("picking: no device to pick on");
  if (!model.anchors) throw Error("the config has no model.anchors: picking needs the box size");
  const fs::path out(out_dir);
  for (const char* sub : {"CBOX", "EMAN", "STAR", "DISTR"}) make_folders((out / sub).string());
  Results results(out, model, opt);
  const std::vector<std::string> todo = files_to_pick(files, out, opt, results);
  results.start(todo.size());

  // Micrographs dealt out in turn, one share per device, each picked on a thread of its own.
  std::vector<std::vector<std::string>> shares(devices.size());
  for (size_t i = 0; i < todo.size(); ++i) shares[i % devices.size()].push_back(todo[i]);
  size_t gpus = 0;
  for (const PickDevice& d : devices) gpus += d.ctx->on_gpu() ? 1 : 0;
  std::vector<std::exception_ptr> errors(devices.size());
  std::vector<std::thread> threads;
  for (size_t d = 0; d < devices.size(); ++d)
    threads.emplace_back([&, d] {
      try {
        cpu::adopt_threads();  // --threads, which OpenMP keeps per thread
        const int readers = reader_threads(opt, devices[d].ctx->on_gpu(), gpus);
        DevicePicker(devices[d], model, opt, results, readers).pick(shares[d]);
      } catch (...) {
        errors[d] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  if (results.tty()) std::fprintf(stderr, "\n");
  results.summary.seconds = results.seconds();
  std::vector<std::vector<Box>> all;
  for (auto& [file, boxes] : results.picked) all.push_back(std::move(boxes));
  write_distributions(out / "DISTR", all, opt.threshold);
  write_relion_index(files, out);
  return results.summary;
}

PickSummary pick_micrographs(Graph& graph, Context& ctx, const ModelConfig& model, const std::vector<std::string>& files,
                             const std::string& out_dir, const PickOptions& opt) {
  return pick_micrographs({PickDevice{&graph, &ctx}}, model, files, out_dir, opt);
}

}  // namespace cupick
