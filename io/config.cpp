#include "io/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "nets/network.h"

namespace cupick {

// ordered_json keeps keys in file order: warnings come in the order of the file, and the keys of
// "other" are written back in the order they were read.
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

int round_to_32(int size) { return (size + 16) / 32 * 32; }
int InputSize::rounded_height() const { return round_to_32(height); }
int InputSize::rounded_width() const { return round_to_32(width); }

namespace {

const char* const kNorms[] = {"STANDARD", "GMM"};
// Below 16 the size rounds to 0; above 8192 it is surely a micrograph size typed by mistake.
constexpr int kMinInputSize = 16;
constexpr int kMaxInputSize = 8192;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A value as messages show it: `string "1024"`, `number 1.5`, `array`.
std::string describe(const json& v) {
  if (v.is_null() || v.is_structured()) return v.type_name();
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

// Reads values of one file; every error names the file and the key ("model.input_size").
struct Reader {
  std::string file;

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw Error(file + ": " + key + " " + problem);
  }

  int integer(const std::string& key, const json& v, int min, int max = INT_MAX) const {
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + describe(v));
    // Anything beyond int is "too large"; the message shows the value as written.
    const bool huge = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT_MAX);
    const int64_t x = huge ? int64_t(INT_MAX) + 1 : v.get<int64_t>();
    if (x >= min && x <= max) return int(x);
    const std::string got = ", got " + v.dump();
    if (max != INT_MAX) fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + got);
    if (x > max) fail(key, "is too large" + got);
    fail(key, (min == 1 ? "must be positive" : "must be at least " + std::to_string(min)) + got);
  }

  double number(const std::string& key, const json& v, bool zero_ok) const {
    if (!v.is_number()) fail(key, "must be a number, got " + describe(v));
    const double x = v.get<double>();
    if (x < 0 && zero_ok) fail(key, "must not be negative, got " + v.dump());
    if (x <= 0 && !zero_ok) fail(key, "must be positive, got " + v.dump());
    return x;
  }

  std::string text(const std::string& key, const json& v) const {
    if (!v.is_string()) fail(key, "must be a string, got " + describe(v));
    return v.get<std::string>();
  }

  bool boolean(const std::string& key, const json& v) const {
    if (!v.is_boolean()) fail(key, "must be true or false, got " + describe(v));
    return v.get<bool>();
  }

  // One of `allowed`, matched without regard to case, returned in the canonical spelling.
  template <size_t N>
  std::string choice(const std::string& key, const json& v, const char* const (&allowed)[N]) const {
    std::string list;
    for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
    if (!v.is_string()) fail(key, "must be one of " + list + ", got " + describe(v));
    for (const char* a : allowed)
      if (lower(a) == lower(v.get<std::string>())) return a;
    fail(key, "must be one of " + list + ", got " + v.dump());
  }

  // A compiled-in network's name (nets/*.json), matched without regard to case and returned in its
  // own spelling, or a network of one's own, described as nets/*.json are and named by its file.
  std::string architecture(const std::string& key, const json& v) const {
    const std::vector<std::string> names = network_names();
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    list += " or a .json network description";
    if (!v.is_string()) fail(key, "must be one of " + list + ", got " + describe(v));
    const std::string name = v.get<std::string>();
    if (name.ends_with(".json")) return name;
    for (const std::string& n : names)
      if (lower(n) == lower(name)) return n;
    fail(key, "must be one of " + list + ", got " + v.dump());
  }

  InputSize input_size(const std::string& key, const json& v) const {
    auto size = [&](const std::string& k, const json& x) {
      if (!x.is_number_integer()) fail(key, "must be an integer or [height, width], got " + describe(v));
      return integer(k, x, kMinInputSize, kMaxInputSize);
    };
    if (v.is_array() && v.size() == 2) return {size(key + "[0]", v[0]), size(key + "[1]", v[1]), true};
    if (v.is_array()) fail(key, "must be an integer or [height, width], got an array of " + std::to_string(v.size()));
    const int n = size(key, v);
    return {n, n, false};
  }

  Anchor anchor(const std::string& key, const json& v) const {
    if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer())
      fail(key, "must be [width, height], the box size in pixels (crYOLO uses one anchor), got " +
                    (v.is_array() ? "an array of " + std::to_string(v.size()) : describe(v)));
    return {integer(key + "[0]", v[0], 1), integer(key + "[1]", v[1], 1)};
  }

  std::optional<LowpassFilter> filter(const std::string& key, const json& v) const {
    if (v.is_null()) return std::nullopt;
    if (v.is_array() && v.size() == 4 && v[0].is_string())
      fail(key, "is a JANNI denoising filter [model, overlap, batches, folder], which cupick does not "
                "support; use a low-pass filter [cutoff, folder] or null");
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_string())
      fail(key, "must be [cutoff, folder] or null, got " + (v.is_array() ? v.dump() : describe(v)));
    LowpassFilter f{v[0].get<double>(), v[1].get<std::string>()};
    if (!(f.cutoff > 0 && f.cutoff <= 0.5))
      fail(key, "cutoff must be in (0, 0.5] (cycles per pixel after resizing), got " + v[0].dump());
    if (f.folder.empty()) fail(key, "folder must not be empty: it caches the filtered micrographs");
    return f;
  }
};

void read_model(const Reader& r, const json& section, ModelConfig& m, std::vector<std::string>& warnings) {
  bool has_architecture = false, has_input_size = false;
  for (const auto& [name, v] : section.items()) {
    const std::string key = "model." + name;
    if (name == "architecture") {
      m.architecture = r.architecture(key, v);
      has_architecture = true;
    } else if (name == "input_size") {
      m.input_size = r.input_size(key, v);
      has_input_size = true;
    } else if (name == "anchors") {
      m.anchors = r.anchor(key, v);
    } else if (name == "max_box_per_image") {
      m.max_box_per_image = r.integer(key, v, 1);
    } else if (name == "num_patches") {
      m.num_patches = r.integer(key, v, 1);
    } else if (name == "overlap_patches") {
      m.overlap_patches = r.integer(key, v, 0);
    } else if (name == "filter") {
      m.filter = r.filter(key, v);
    } else if (name == "norm") {
      m.norm = r.choice(key, v, kNorms);
    } else {
      warnings.push_back(r.file + ": unknown key " + key + " (ignored)");
    }
  }
  if (!has_architecture) r.fail("model.architecture", "is missing (crYOLO, YOLO or PhosaurusNet)");
  if (!has_input_size) r.fail("model.input_size", "is missing (e.g. 1024)");
}

void read_train(const Reader& r, const json& section, TrainConfig& t, std::optional<std::string>& log_path,
                std::vector<std::string>& warnings) {
  for (const auto& [name, v] : section.items()) {
    const std::string key = "train." + name;
    if (name == "train_image_folder") t.train_image_folder = r.text(key, v);
    else if (name == "train_annot_folder") t.train_annot_folder = r.text(key, v);
    else if (name == "train_times") t.train_times = r.integer(key, v, 1);
    else if (name == "pretrained_weights") t.pretrained_weights = r.text(key, v);
    else if (name == "batch_size") t.batch_size = r.integer(key, v, 1);
    else if (name == "learning_rate") t.learning_rate = r.number(key, v, false);
    else if (name == "nb_epoch") t.nb_epoch = r.integer(key, v, 1);
    else if (name == "warmup_epochs") t.warmup_epochs = r.integer(key, v, 0);
    else if (name == "object_scale") t.object_scale = r.number(key, v, true);
    else if (name == "no_object_scale") t.no_object_scale = r.number(key, v, true);
    else if (name == "coord_scale") t.coord_scale = r.number(key, v, true);
    else if (name == "class_scale") t.class_scale = r.number(key, v, true);
    else if (name == "log_path") log_path = r.text(key, v);
    else if (name == "saved_weights_name") t.saved_weights_name = r.text(key, v);
    else if (name == "debug") t.debug = r.boolean(key, v);
    else warnings.push_back(r.file + ": unknown key " + key + " (ignored)");
  }
}

void read_valid(const Reader& r, const json& section, ValidConfig& c, std::vector<std::string>& warnings) {
  for (const auto& [name, v] : section.items()) {
    const std::string key = "valid." + name;
    if (name == "valid_image_folder") c.valid_image_folder = r.text(key, v);
    else if (name == "valid_annot_folder") c.valid_annot_folder = r.text(key, v);
    else if (name == "valid_times") c.valid_times = r.integer(key, v, 1);
    else warnings.push_back(r.file + ": unknown key " + key + " (ignored)");
  }
}

Config from_json(const json& root, const std::string& file) {
  const Reader r{file};
  if (!root.is_object())
    throw Error(file + ": the top level must be an object {\"model\": ...}, got " + describe(root));
  if (!root.contains("model")) throw Error(file + ": the \"model\" section is missing");
  Config c;
  c.model.filter.reset();  // no "filter" key: crYOLO does not filter
  std::optional<std::string> train_log, other_log;
  for (const auto& [name, section] : root.items()) {
    const bool known = name == "model" || name == "train" || name == "valid" || name == "other";
    if (!known) {
      c.warnings.push_back(file + ": unknown section \"" + name + "\" (ignored)");
      continue;
    }
    if (!section.is_object()) r.fail(name, "must be an object {...}, got " + describe(section));
    if (name == "model") read_model(r, section, c.model, c.warnings);
    if (name == "train") read_train(r, section, c.train, train_log, c.warnings);
    if (name == "valid") read_valid(r, section, c.valid, c.warnings);
    if (name == "other") {
      for (const auto& [key, v] : section.items()) {
        if (key == "log_path") other_log = r.text("other.log_path", v);
        else c.other[key] = v;
      }
    }
  }
  if (train_log && other_log && *train_log != *other_log)
    c.warnings.push_back(file + ": train.log_path and other.log_path differ; other.log_path is used");
  if (other_log) c.train.log_path = *other_log;
  else if (train_log) c.train.log_path = *train_log;
  return c;
}

// Records the first syntax error of a parse, with what nlohmann's reader had just read.
struct SyntaxError {
  size_t position = 0;  // 1-based index of the last character read (one past the end for end of input)
  std::string last_token;
  std::string what;

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const std::string&) { return true; }
  bool string(std::string&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(size_t) { return true; }
  bool key(std::string&) { return true; }
  bool end_object() { return true; }
  bool start_array(size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(size_t pos, const std::string& last, const nlohmann::json::exception& ex) {
    position = pos;
    last_token = last;
    what = ex.what();
    return false;
  }
};

// "line:column" of byte `at` of `text`, both from 1; columns count bytes.
std::string line_column(const std::string& text, size_t at) {
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < at && i < text.size(); ++i)
    if (text[i] == '\n') ++line, line_start = i + 1;
  return std::to_string(line) + ":" + std::to_string(at - line_start + 1);
}

// "file:line:column: invalid JSON: ...". nlohmann's own position is where its reader stopped, after
// the token it did not expect; an editor wants that token's start. The most common mistake, a
// missing comma (crYOLO's own documentation has one), reads in nlohmann's words as "expected '}'",
// so it is said plainly. Columns count bytes.
std::string describe_syntax_error(const std::string& text, const std::string& file) {
  SyntaxError e;
  json::sax_parse(text, &e);
  // nlohmann: "[json.exception.parse_error.101] parse error at line 9, column 11: syntax error while ..."
  const size_t colon = e.what.find(": ", e.what.find("column"));
  std::string problem = colon == std::string::npos ? e.what : e.what.substr(colon + 2);

  size_t at = std::min(e.position > 0 ? e.position - 1 : 0, text.size());
  const std::string& token = e.last_token;
  const bool literal = problem.find("unexpected string literal") != std::string::npos ||
                       problem.find("unexpected number literal") != std::string::npos;
  if (literal && token.size() <= e.position && text.compare(e.position - token.size(), token.size(), token) == 0)
    at = e.position - token.size();

  const bool at_end = problem.find("end of input") != std::string::npos;
  for (const char* kind : {"object", "array"}) {
    const std::string closing = kind == std::string("object") ? "}" : "]";
    if (!at_end && problem.starts_with(std::string("syntax error while parsing ") + kind + " - unexpected") &&
        problem.ends_with("expected '" + closing + "'")) {
      const std::string found = literal ? token : "'" + text.substr(at, 1) + "'";
      problem = "expected ',' or '" + closing + "' before " + found + " (is a comma missing?)";
    }
  }
  if (problem.size() > 160) problem = problem.substr(0, 157) + "...";
  return file + ":" + line_column(text, at) + ": invalid JSON: " + problem;
}

// crYOLO's configs are three levels deep ({"model": {"filter": [...]}}). The values kept from "other"
// are copied, compared and written back by recursion, and written with an indent per level, so a
// file nested thousands deep would overflow the stack or grow to gigabytes of text: deeper is an Error.
constexpr int kMaxNesting = 64;

// Where valid JSON `text` opens its first array or object deeper than kMaxNesting; npos if nowhere.
size_t too_deep(const std::string& text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\') ++i;  // the escaped character cannot end the string
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxNesting) return i;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return std::string::npos;
}

json to_json(const Config& c) {
  const ModelConfig& m = c.model;
  json model;
  model["architecture"] = m.architecture;
  model["input_size"] = m.input_size.is_pair ? json::array({m.input_size.height, m.input_size.width})
                                             : json(m.input_size.height);
  if (m.anchors) model["anchors"] = json::array({m.anchors->width, m.anchors->height});
  model["max_box_per_image"] = m.max_box_per_image;
  model["norm"] = m.norm;
  if (m.filter) model["filter"] = json::array({m.filter->cutoff, m.filter->folder});
  model["num_patches"] = m.num_patches;
  model["overlap_patches"] = m.overlap_patches;

  const TrainConfig& t = c.train;
  json train;
  train["train_image_folder"] = t.train_image_folder;
  train["train_annot_folder"] = t.train_annot_folder;
  train["train_times"] = t.train_times;
  train["pretrained_weights"] = t.pretrained_weights;
  train["batch_size"] = t.batch_size;
  train["learning_rate"] = t.learning_rate;
  train["nb_epoch"] = t.nb_epoch;
  train["warmup_epochs"] = t.warmup_epochs;
  train["object_scale"] = t.object_scale;
  train["no_object_scale"] = t.no_object_scale;
  train["coord_scale"] = t.coord_scale;
  train["class_scale"] = t.class_scale;
  train["saved_weights_name"] = t.saved_weights_name;
  train["debug"] = t.debug;

  json valid;
  valid["valid_image_folder"] = c.valid.valid_image_folder;
  valid["valid_annot_folder"] = c.valid.valid_annot_folder;
  valid["valid_times"] = c.valid.valid_times;

  json other;
  other["log_path"] = t.log_path;  // where crYOLO's writer puts it
  for (const auto& [key, v] : c.other.items()) other[key] = v;

  json root;
  root["model"] = model;
  root["train"] = train;
  root["valid"] = valid;
  root["other"] = other;
  return root;
}

// A command-line value as JSON: a number or true/false when it reads as one, a list for
// "1024,1400" or "1024 1400", otherwise a string (which the reader then reports if it is wrong).
json scalar_value(const std::string& text) {
  std::string number = text;  // ".5" is a number to a user, not to JSON
  if (number.starts_with(".")) number = "0" + number;
  if (number.starts_with("-.")) number = "-0" + number.substr(1);
  const json v = json::parse(number, nullptr, false);
  if (!v.is_discarded() && (v.is_number() || v.is_boolean())) return v;
  std::vector<std::string> parts;
  std::string part;
  for (char ch : text + ",") {
    if (ch == ',' || std::isspace(static_cast<unsigned char>(ch))) {
      if (!part.empty()) parts.push_back(part);
      part.clear();
    } else {
      part += ch;
    }
  }
  if (parts.size() < 2) return text;
  json list = json::array();
  for (const std::string& p : parts) list.push_back(scalar_value(p));
  return list;
}

struct Option {
  const char* name;     // as typed after "--"
  const char* section;  // in the JSON
  const char* key;
  bool text;            // the value is taken as a string as typed
};
const Option kOptions[] = {
    {"architecture", "model", "architecture", true},
    {"input_size", "model", "input_size", false},
    {"max_box_per_image", "model", "max_box_per_image", false},
    {"num_patches", "model", "num_patches", false},
    {"overlap_patches", "model", "overlap_patches", false},
    {"norm", "model", "norm", true},
    {"filter", "model", "filter", false},
    {"low_pass_cutoff", "model", "filter", false},
    {"filtered_output", "model", "filter", true},
    {"train_image_folder", "train", "train_image_folder", true},
    {"train_annot_folder", "train", "train_annot_folder", true},
    {"train_times", "train", "train_times", false},
    {"pretrained_weights", "train", "pretrained_weights", true},
    {"batch_size", "train", "batch_size", false},
    {"learning_rate", "train", "learning_rate", false},
    {"nb_epoch", "train", "nb_epoch", false},
    {"warmup_epochs", "train", "warmup_epochs", false},
    {"warmup", "train", "warmup_epochs", false},
    {"object_scale", "train", "object_scale", false},
    {"no_object_scale", "train", "no_object_scale", false},
    {"coord_scale", "train", "coord_scale", false},
    {"class_scale", "train", "class_scale", false},
    {"saved_weights_name", "train", "saved_weights_name", true},
    {"debug", "train", "debug", false},
    {"log_path", "other", "log_path", true},
    {"valid_image_folder", "valid", "valid_image_folder", true},
    {"valid_annot_folder", "valid", "valid_annot_folder", true},
    {"valid_times", "valid", "valid_times", false},
};

}  // namespace

Config parse_config(const std::string& text, const std::string& name) {
  if (std::all_of(text.begin(), text.end(), [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); }))
    throw Error(name + ": the file is empty");
  const json root = json::parse(text, nullptr, false);
  if (root.is_discarded()) throw Error(describe_syntax_error(text, name));
  if (const size_t at = too_deep(text); at != std::string::npos)
    throw Error(name + ":" + line_column(text, at) + ": nested more than " + std::to_string(kMaxNesting) +
                " levels deep; a crYOLO config has 3");
  return from_json(root, name);
}

Config load_config(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read it (" + std::strerror(errno) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(path + ": cannot read it (" + std::strerror(errno) + ")");
  return parse_config(text.str(), path);
}

void check_training_paths(const Config& c, const std::string& config_path) {
  std::vector<std::string> problems;
  std::error_code ec;
  auto folder = [&](const std::string& key, const std::string& path, bool required) {
    if (path.empty()) {
      if (required) problems.push_back(key + " is empty: training needs it");
    } else if (!fs::is_directory(path, ec)) {
      problems.push_back(key + " '" + path + "' " + (fs::exists(path, ec) ? "is not a folder" : "does not exist"));
    }
  };
  // The folder a file or folder will be created in: "logs/" -> ".", "out/model.h5" -> "out".
  auto parent_folder = [&](const std::string& key, const std::string& path) {
    fs::path p(path);
    if (!p.has_filename()) p = p.parent_path();
    const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    if (!fs::is_directory(parent, ec))
      problems.push_back(key + " '" + path + "': folder '" + parent.string() + "' does not exist");
  };

  folder("train.train_image_folder", c.train.train_image_folder, true);
  folder("train.train_annot_folder", c.train.train_annot_folder, true);
  folder("valid.valid_image_folder", c.valid.valid_image_folder, false);
  folder("valid.valid_annot_folder", c.valid.valid_annot_folder, false);
  if (c.valid.valid_image_folder.empty() != c.valid.valid_annot_folder.empty())
    problems.push_back("valid.valid_image_folder and valid.valid_annot_folder must be given together");
  const std::string& weights = c.train.pretrained_weights;
  if (!weights.empty() && !fs::is_regular_file(weights, ec))
    problems.push_back("train.pretrained_weights '" + weights + "' " +
                       (fs::exists(weights, ec) ? "is not a file" : "does not exist"));
  if (c.train.saved_weights_name.empty()) problems.push_back("train.saved_weights_name is empty");
  else parent_folder("train.saved_weights_name", c.train.saved_weights_name);
  if (fs::exists(c.train.log_path, ec) && !fs::is_directory(c.train.log_path, ec))
    problems.push_back("log_path '" + c.train.log_path + "' is a file, not a folder");
  else if (!c.train.log_path.empty()) parent_folder("log_path", c.train.log_path);
  if (problems.empty()) return;

  std::string message = config_path + ": ";
  for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
  const fs::path cwd = fs::current_path(ec);
  throw Error(message + " (relative paths are taken from the current folder" + (ec ? "" : ", " + cwd.string()) + ")");
}

Config make_config(int box_size, const std::vector<std::pair<std::string, std::string>>& options) {
  if (box_size <= 0) throw Error("box size must be a positive number of pixels, got " + std::to_string(box_size));
  Config c;
  c.model.anchors = Anchor{box_size, box_size};
  c.train.saved_weights_name = "cryolo_model.safetensors";
  for (const auto& [name, value] : options) set_config_option(c, name, value);
  return c;
}

void set_config_option(Config& config, const std::string& name, const std::string& value) {
  const Option* option = nullptr;
  for (const Option& o : kOptions)
    if (name == o.name) option = &o;
  if (!option) {
    std::string names;
    for (const std::string& n : config_option_names()) names += (names.empty() ? "--" : ", --") + n;
    throw Error("unknown option --" + name + " (options: " + names + ")");
  }

  // Set the key in the JSON form and read it back: the same checks and messages as for a file.
  json root = to_json(config);
  json& slot = root[option->section][option->key];
  const LowpassFilter current = config.model.filter.value_or(LowpassFilter{});
  const std::string v = lower(value);
  if (name == "filter" && (v == "none" || v == "null")) slot = nullptr;
  else if (name == "filter" && v == "lowpass") slot = json::array({current.cutoff, current.folder});
  else if (name == "filter" && !scalar_value(value).is_number())
    throw Error("--filter takes a cutoff in (0, 0.5], LOWPASS or NONE (cupick has no JANNI), got \"" + value + "\"");
  else if (name == "filter" || name == "low_pass_cutoff") slot = json::array({scalar_value(value), current.folder});
  else if (name == "filtered_output") slot = json::array({current.cutoff, value});
  else slot = option->text ? json(value) : scalar_value(value);

  std::vector<std::string> warnings = std::move(config.warnings);
  config = from_json(root, "--" + name);
  config.warnings = std::move(warnings);
}

std::vector<std::string> config_option_names() {
  std::vector<std::string> names;
  for (const Option& o : kOptions) names.push_back(o.name);
  return names;
}

std::string write_config_json(const Config& config) { return to_json(config).dump(4) + "\n"; }

void save_config(const std::string& path, const Config& config, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) throw Error(path + ": already exists; not overwritten");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write " + tmp + " (" + std::strerror(errno) + ")");
    out << write_config_json(config);
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      throw Error(path + ": writing " + tmp + " failed");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error(path + ": cannot rename " + tmp + " to it (" + ec.message() + ")");
  }
}

}  // namespace cupick
