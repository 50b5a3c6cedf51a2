#include "pick/review.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/background.h"
#include "engine/error.h"
#include "image/preprocess.h"
#include "io/annotations.h"
#include "io/files.h"
#include "pick/evaluate.h"

namespace fs = std::filesystem;

namespace cupick {

namespace {

// pick/review.html as a raw string literal, made by CMake (CUPICK_REVIEW_PAGE in CMakeLists.txt).
const char* const page_text =
#include "review_page.inc"
    ;

// A JSON string; bytes that are not UTF-8 (a file name can hold any) become U+FFFD.
std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The shortest text that reads back as `v` at `digits` significant digits ("12.5", "0.318").
void append_number(std::string& out, double v, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*g", digits, v);
  out += text;
}

struct Thumb {
  int width = 0, height = 0;  // the micrograph's
  bool made = false;
  std::string error;          // why the micrograph could not be read ("" when it could)
};

// What a thumbnail was made from, so that a rerun can tell whether it still fits: the micrograph's
// size, the thumbnail's side and the micrograph file's modification time (a re-picked micrograph
// of the same name, or another --thumbnail, makes it again).
struct ThumbSource {
  int width = 0, height = 0, side = 0;
  long long modified = 0;
  bool operator==(const ThumbSource&) const = default;
};

long long modified_time(const std::string& file) {
  std::error_code ec;
  const auto t = fs::last_write_time(file, ec);
  return ec ? -1 : (long long)(t.time_since_epoch().count());
}

// Thumbnails already made, by micrograph key, from thumbs/sizes.json (a damaged one is ignored:
// the thumbnails are made again).
std::map<std::string, ThumbSource> known_thumbnails(const fs::path& thumbs) {
  std::map<std::string, ThumbSource> known;
  std::ifstream in(thumbs / "sizes.json");
  if (!in) return known;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& [key, v] : j.items())
      if (v.is_array() && v.size() == 4 && fs::exists(thumbs / (key + ".jpg")))
        known[key] = {v[0].get<int>(), v[1].get<int>(), v[2].get<int>(), v[3].get<long long>()};
  } catch (const std::exception&) {
    known.clear();  // made again, not trusted in part
  }
  return known;
}

// One micrograph's entry of picks.js: its picks as flat rows (x, y, w, h, confidence, estimated
// w, h, the true box it matches or -1), y counted down from the top edge as the page draws, and
// its true boxes (x, y, w, h), or null where it has no ground truth.
void append_micrograph(std::string& out, const std::string& key, const std::string& file, int width, int height,
                       const std::vector<Box>& picks, const std::vector<Box>* truth, double iou_threshold) {
  std::vector<long> matched(picks.size(), -1);
  if (truth)
    for (const Match& m : match_picks(picks, *truth, iou_threshold)) matched[m.pick] = m.truth;
  out += "{\"name\":" + json_string(key) + ",\"file\":" + json_string(file) +
         ",\"width\":" + std::to_string(width) + ",\"height\":" + std::to_string(height) + ",\"picks\":[";
  for (size_t i = 0; i < picks.size(); ++i) {
    const Box& b = picks[i];
    if (i) out += ',';
    for (double v : {double(b.x), double(file_y_to_image_y(b.y, height)), double(b.w), double(b.h)}) {
      append_number(out, v, 7);
      out += ',';
    }
    append_number(out, b.confidence, 9);  // reads back as the same float: thresholds compare as evaluate's
    out += ',';
    append_number(out, b.estimated_w(), 7);
    out += ',';
    append_number(out, b.estimated_h(), 7);
    out += ',' + std::to_string(matched[i]);
  }
  out += "],\"truth\":";
  if (!truth) {
    out += "null}";
    return;
  }
  out += '[';
  for (size_t i = 0; i < truth->size(); ++i) {
    const Box& b = (*truth)[i];
    if (i) out += ',';
    append_number(out, b.x, 7);
    out += ',';
    append_number(out, file_y_to_image_y(b.y, height), 7);
    out += ',';
    append_number(out, b.w, 7);
    out += ',';
    append_number(out, b.h, 7);
  }
  out += "]}";
}

}  // namespace

const std::string& review_page_html() {
  static const std::string page = page_text;
  return page;
}

Image thumbnail(const Image& micrograph, int side) {
  const double scale = std::min(1.0, double(side) / std::max(micrograph.width, micrograph.height));
  Image t = resize_antialiased(micrograph, std::max(1, int(std::lround(micrograph.width * scale))),
                               std::max(1, int(std::lround(micrograph.height * scale))));
  double mean = 0, sd = 0;
  for (float v : t.pixels) mean += v;
  mean /= double(t.pixels.size());
  for (float v : t.pixels) sd += (v - mean) * (v - mean);
  sd = std::sqrt(sd / double(t.pixels.size()));
  const double lo = mean - 3 * sd, range = 6 * sd > 0 ? 6 * sd : 1;
  for (float& v : t.pixels) v = float(std::clamp(std::round((v - lo) / range * 255), 0.0, 255.0));
  return t;
}

ReviewSummary write_review(const std::string& out_dir, const std::vector<std::string>& micrographs,
                           const std::map<std::string, std::vector<Box>>& picks,
                           const std::map<std::string, std::vector<Box>>& truth, const ReviewOptions& opt) {
  if (micrographs.empty()) throw Error(out_dir + ": a review page needs micrographs");
  std::vector<std::string> keys;
  std::map<std::string, std::string> file_of;
  for (const std::string& file : micrographs) {
    const std::string key = micrograph_key(file);
    const auto [it, fresh] = file_of.emplace(key, file);
    if (!fresh) throw Error("micrographs " + it->second + " and " + file + " have the same name " + key +
                            ": their picks cannot be told apart");
    keys.push_back(key);
  }
  const fs::path out = out_dir, thumbs = out / "thumbs";
  make_folders(thumbs.string());
  const std::map<std::string, ThumbSource> before = known_thumbnails(thumbs);

  // Thumbnails on opt.threads threads, handed back in order: reading a 4096^2 micrograph and
  // shrinking it takes a core about 0.1 s.
  ReviewSummary summary;
  const bool tty = opt.progress && isatty(STDERR_FILENO);
  std::vector<Thumb> made(keys.size());
  Background<Thumb> work(keys.size(), size_t(2 * std::max(1, opt.threads)), [&](size_t i) {
    Thumb t;
    const long long modified = modified_time(file_of.at(keys[i]));
    if (const auto it = before.find(keys[i]);
        it != before.end() && it->second.side == opt.thumbnail_side && it->second.modified == modified) {
      t.width = it->second.width, t.height = it->second.height;
      return t;
    }
    try {
      const Image m = read_micrograph(file_of.at(keys[i]));
      write_jpeg((thumbs / (keys[i] + ".jpg")).string(), thumbnail(m, opt.thumbnail_side), 85);
      t.width = m.width, t.height = m.height, t.made = true;
    } catch (const std::exception& e) {
      t.error = e.what();
    }
    return t;
  }, size_t(std::max(1, opt.threads)));
  for (size_t i = 0; i < keys.size(); ++i) {
    made[i] = *work.next();
    if (made[i].made) ++summary.thumbnails_made;
    if (tty && made[i].made) std::fprintf(stderr, "\rreview: thumbnail %zu/%zu   ", i + 1, keys.size());
  }
  if (tty && summary.thumbnails_made) std::fprintf(stderr, "\n");

  nlohmann::ordered_json known = nlohmann::ordered_json::object();
  std::string data = "// cupick review data, read by index.html\nwindow.CUPICK_REVIEW = {\"title\":" +
                     json_string(opt.title) + ",\"threshold\":";
  append_number(data, opt.threshold, 9);
  data += ",\"iou\":";
  append_number(data, opt.iou_threshold, 9);
  data += ",\"has_truth\":" + std::string(truth.empty() ? "false" : "true") + ",\"micrographs\":[\n";
  static const std::vector<Box> none;
  bool first = true;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!made[i].error.empty()) {
      summary.warnings.push_back(made[i].error + " (left out of the review page)");
      continue;
    }
    known[keys[i]] = {made[i].width, made[i].height, opt.thumbnail_side, modified_time(file_of.at(keys[i]))};
    const auto p = picks.find(keys[i]);
    const auto t = truth.find(keys[i]);
    const std::vector<Box>& these = p == picks.end() ? none : p->second;
    if (!first) data += ",\n";
    first = false;
    append_micrograph(data, keys[i], fs::path(file_of.at(keys[i])).filename().string(), made[i].width, made[i].height,
                      these, t == truth.end() ? nullptr : &t->second, opt.iou_threshold);
    ++summary.micrographs;
    summary.picks += these.size();
  }
  data += "\n]};\n";
  if (summary.micrographs == 0)
    throw Error(out_dir + ": none of the " + std::to_string(keys.size()) + " micrographs could be read: " +
                made[0].error);
  size_t orphans = 0;
  std::string some;
  for (const auto& [key, boxes] : picks)
    if (!file_of.count(key) && ++orphans <= 3) some += (some.empty() ? "" : ", ") + key;
  if (orphans)
    summary.warnings.push_back(std::to_string(orphans) + " micrograph" + (orphans == 1 ? " has" : "s have") +
                               " picks but is not among the micrographs given (" + some +
                               (orphans > 3 ? ", ..." : "") + "): left out of the review page");

  write_file_atomically((thumbs / "sizes.json").string(), known.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  write_file_atomically((out / "picks.js").string(), data);
  write_file_atomically((out / "index.html").string(), review_page_html());
  return summary;
}

}  // namespace cupick
