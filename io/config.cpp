#include "io/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "engine/error.h"
#include "io/files.h"
#include "nets/names.h"

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

// How one key is read from its JSON value into the Config, written back, and set from the value
// of a `cupick config` option (as JSON, then read like a file's, for the same checks and messages).
struct Codec {
  std::function<void(const Reader& r, const std::string& key, const json& v, Config& c)> read;  // null: the row only adds an option
  std::function<json(const Config& c)> write;  // null: not written; a null result leaves the key out
  std::function<json(const std::string& typed, const Config& c)> option;
  const char* missing = nullptr;  // for a key crYOLO requires: the error when it is absent
};

json as_text(const std::string& typed, const Config&) { return typed; }  // a folder may look like a number
json as_value(const std::string& typed, const Config&) { return scalar_value(typed); }

// A generic lambda, so one accessor serves the reader (Config&) and the writer (const Config&).
#define FIELD(path) [](auto& c) -> auto& { return c.path; }

// The plain keys: `field` is FIELD(section.name), the member the key is read into.
template <class F>
Codec integer(F field, int min) {
  return {[=](const Reader& r, const std::string& key, const json& v, Config& c) { field(c) = r.integer(key, v, min); },
          [=](const Config& c) { return json(field(c)); }, as_value};
}

template <class F>
Codec number(F field, bool zero_ok) {
  return {[=](const Reader& r, const std::string& key, const json& v, Config& c) {
            field(c) = r.number(key, v, zero_ok);
          },
          [=](const Config& c) { return json(field(c)); }, as_value};
}

template <class F>
Codec text(F field) {
  return {[=](const Reader& r, const std::string& key, const json& v, Config& c) { field(c) = r.text(key, v); },
          [=](const Config& c) { return json(field(c)); }, as_text};
}

template <class F>
Codec boolean(F field) {
  return {[=](const Reader& r, const std::string& key, const json& v, Config& c) { field(c) = r.boolean(key, v); },
          [=](const Config& c) { return json(field(c)); }, as_value};
}

Codec architecture() {
  return {[](const Reader& r, const std::string& key, const json& v, Config& c) {
            c.model.architecture = r.architecture(key, v);
          },
          [](const Config& c) { return json(c.model.architecture); }, as_text,
          "is missing (crYOLO, YOLO or PhosaurusNet)"};
}

Codec norm() {
  return {[](const Reader& r, const std::string& key, const json& v, Config& c) {
            c.model.norm = r.choice(key, v, kNorms);
          },
          [](const Config& c) { return json(c.model.norm); }, as_text};
}

// One number, or [height, width] as written, so a config is written back as it was read.
Codec input_size() {
  return {[](const Reader& r, const std::string& key, const json& v, Config& c) {
            const InputSize s = c.model.input_size = r.input_size(key, v);
            // The network's stride is 32, so other sizes are rounded (§3.3): say so, since 100
            // silently becoming 96 changes the grid a user chose.
            const auto text = [&](int h, int w) {
              return s.is_pair ? "[" + std::to_string(h) + ", " + std::to_string(w) + "]" : std::to_string(h);
            };
            const int h = round_to_32(s.height), w = round_to_32(s.width);
            if (h != s.height || w != s.width)
              c.warnings.push_back(r.file + ": " + key + " " + text(s.height, s.width) + " is rounded to " + text(h, w) +
                                   ", the nearest multiple of 32");
          },
          [](const Config& c) {
            const InputSize& s = c.model.input_size;
            return s.is_pair ? json::array({s.height, s.width}) : json(s.height);
          },
          as_value, "is missing (e.g. 1024)"};
}

// Not an option: `cupick config` sets it from BOX_SIZE.
Codec anchors() {
  return {[](const Reader& r, const std::string& key, const json& v, Config& c) {
            c.model.anchors = r.anchor(key, v);
          },
          [](const Config& c) {
            const std::optional<Anchor>& a = c.model.anchors;
            return a ? json::array({a->width, a->height}) : json();
          },
          nullptr};
}

// --filter: a cutoff (the folder stays), LOWPASS (the filter as it is, or the default one when there
// is none) or NONE. JANNI is crYOLO's other filter: say so rather than "must be a number".
json filter_option(const std::string& typed, const Config& c) {
  const LowpassFilter current = c.model.filter.value_or(LowpassFilter{});
  const std::string v = lower(typed);
  if (v == "none" || v == "null") return nullptr;
  if (v == "lowpass") return json::array({current.cutoff, current.folder});
  if (!scalar_value(typed).is_number())
    throw Error("--filter takes a cutoff in (0, 0.5], LOWPASS or NONE (cupick has no JANNI), got \"" + typed + "\"");
  return json::array({scalar_value(typed), current.folder});
}

Codec filter() {
  return {[](const Reader& r, const std::string& key, const json& v, Config& c) {
            c.model.filter = r.filter(key, v);
          },
          [](const Config& c) {
            const std::optional<LowpassFilter>& f = c.model.filter;
            return f ? json::array({f->cutoff, f->folder}) : json();
          },
          filter_option};
}

// --low_pass_cutoff and --filtered_output, crYOLO's options for the two parts of "filter".
json cutoff_option(const std::string& typed, const Config& c) {
  return json::array({scalar_value(typed), c.model.filter.value_or(LowpassFilter{}).folder});
}
json folder_option(const std::string& typed, const Config& c) {
  return json::array({c.model.filter.value_or(LowpassFilter{}).cutoff, typed});
}

// One more option for a key that is read and written under its own name.
Codec option_only(json (*option)(const std::string&, const Config&)) { return {nullptr, nullptr, option}; }

// A key that is read but never written.
Codec read_only(Codec codec) {
  codec.write = nullptr;
  return codec;
}

// One key of a section, or one more option name for it. Reading looks a key up here by section and
// name; writing goes down the table, so its order is the file's; the options come in the same order.
struct Key {
  const char* section;  // "model", "train", "valid" or "other"
  const char* name;     // the key within the section
  Codec codec;
  const char* help;     // the option's help; nullptr: not an option of `cupick config`
  const char* option = nullptr;  // the option's name where it is not the key's
  std::string option_name() const { return option ? option : name; }
};

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      {"model", "architecture", architecture(),
       "the network: crYOLO, YOLO, PhosaurusNet or a .json network description"},
      {"model", "input_size", input_size(),
       "network input, pixels, rounded to a multiple of 32: one number (the short side) or HEIGHT,WIDTH"},
      {"model", "anchors", anchors(), nullptr},
      {"model", "max_box_per_image", integer(FIELD(model.max_box_per_image), 1),
       "crYOLO's limit of boxes per training image; cupick keeps it but does not use it"},
      {"model", "norm", norm(), "how each micrograph is normalized: STANDARD (mean and deviation) or GMM"},
      {"model", "filter", filter(), "low-pass filter before the network: a cutoff in (0, 0.5], LOWPASS or NONE"},
      {"model", "filter", option_only(cutoff_option),
       "the low-pass filter's cutoff, cycles per pixel after resizing, in (0, 0.5]", "low_pass_cutoff"},
      {"model", "filter", option_only(folder_option), "folder that caches the low-pass filtered micrographs",
       "filtered_output"},
      {"model", "num_patches", integer(FIELD(model.num_patches), 1),
       "cut each micrograph into N x N patches (1: the whole micrograph)"},
      {"model", "overlap_patches", integer(FIELD(model.overlap_patches), 0), "overlap of neighbouring patches, pixels"},

      {"train", "train_image_folder", text(FIELD(train.train_image_folder)), "folder of the training micrographs"},
      {"train", "train_annot_folder", text(FIELD(train.train_annot_folder)), "folder of the training box files"},
      {"train", "train_times", integer(FIELD(train.train_times), 1), "how often each training image is seen per epoch"},
      {"train", "pretrained_weights", text(FIELD(train.pretrained_weights)),
       "weights to start training from (empty: from scratch)"},
      {"train", "batch_size", integer(FIELD(train.batch_size), 1), "images per training step"},
      {"train", "learning_rate", number(FIELD(train.learning_rate), false),
       "Adam's learning rate at the start (it drops tenfold when the validation loss stalls)"},
      {"train", "nb_epoch", integer(FIELD(train.nb_epoch), 1),
       "the most epochs to train (early stopping may end sooner)"},
      {"train", "warmup_epochs", integer(FIELD(train.warmup_epochs), 0),
       "warm-up epochs at the start, in which boxes without a particle are pulled to the anchor size"},
      {"train", "warmup_epochs", option_only(as_value), "the same as --warmup_epochs", "warmup"},
      {"train", "object_scale", number(FIELD(train.object_scale), true),
       "loss weight of the confidence where there is a particle"},
      {"train", "no_object_scale", number(FIELD(train.no_object_scale), true),
       "loss weight of the confidence where there is none"},
      {"train", "coord_scale", number(FIELD(train.coord_scale), true), "loss weight of the box positions and sizes"},
      {"train", "class_scale", number(FIELD(train.class_scale), true), "loss weight of the class"},
      // crYOLO's writer puts log_path in "other", its documentation's examples in "train": both are
      // read into train.log_path (from_json settles which wins), only "other" is written.
      {"train", "log_path", read_only(text(FIELD(train.log_path))), nullptr},
      {"train", "saved_weights_name", text(FIELD(train.saved_weights_name)),
       "file for the trained weights (crYOLO's Keras format if it ends in .h5, else safetensors)"},
      {"train", "debug", boolean(FIELD(train.debug)), "true or false: crYOLO's debug output; cupick does not use it"},

      {"valid", "valid_image_folder", text(FIELD(valid.valid_image_folder)),
       "folder of the validation micrographs (empty: 20% of the training images)"},
      {"valid", "valid_annot_folder", text(FIELD(valid.valid_annot_folder)), "folder of the validation box files"},
      {"valid", "valid_times", integer(FIELD(valid.valid_times), 1),
       "crYOLO's repeats of each validation image; cupick does not use it"},

      {"other", "log_path", text(FIELD(train.log_path)), "folder for the training log (training.csv and TensorBoard events)"},
  };
  return table;
}

#undef FIELD

bool known_section(const std::string& name) {
  return std::any_of(keys().begin(), keys().end(), [&](const Key& k) { return name == k.section; });
}

// Reads one section's keys in file order. "other" keeps the keys cupick does not use, to write
// them back; elsewhere they are warnings. The keys crYOLO requires are checked once all are read.
void read_section(const Reader& r, const std::string& section_name, const json& section, Config& c) {
  for (const auto& item : section.items()) {
    const std::string& name = item.key();  // not a structured binding: clang 14 cannot capture one
    const json& v = item.value();
    const std::string key = section_name + "." + name;
    const auto known = std::find_if(keys().begin(), keys().end(), [&](const Key& k) {
      return section_name == k.section && name == k.name && k.codec.read;
    });
    if (known != keys().end()) known->codec.read(r, key, v, c);
    else if (section_name == "other") c.other[name] = v;
    else c.warnings.push_back(r.file + ": unknown key " + key + " (ignored)");
  }
  for (const Key& k : keys())
    if (section_name == k.section && k.codec.missing && !section.contains(k.name))
      r.fail(section_name + "." + k.name, k.codec.missing);
}

Config from_json(const json& root, const std::string& file) {
  const Reader r{file};
  if (!root.is_object())
    throw Error(file + ": the top level must be an object {\"model\": ...}, got " + describe(root));
  if (!root.contains("model")) throw Error(file + ": the \"model\" section is missing");
  Config c;
  c.model.filter.reset();  // no "filter" key: crYOLO does not filter
  for (const auto& [name, section] : root.items()) {
    if (!known_section(name)) {
      c.warnings.push_back(file + ": unknown section \"" + name + "\" (ignored)");
      continue;
    }
    if (!section.is_object()) r.fail(name, "must be an object {...}, got " + describe(section));
    read_section(r, name, section, c);
  }
  // Both log_path keys were read in file order; other.log_path, where crYOLO's writer puts it, wins.
  auto log_path = [&](const char* section) {
    return root.contains(section) && root.at(section).contains("log_path") ? &root.at(section).at("log_path") : nullptr;
  };
  const json *train_log = log_path("train"), *other_log = log_path("other");
  if (train_log && other_log && *train_log != *other_log)
    c.warnings.push_back(file + ": train.log_path and other.log_path differ; other.log_path is used");
  if (other_log) c.train.log_path = other_log->get<std::string>();
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

// Down the table, so the keys come in crYOLO's order; then the keys of "other" that cupick keeps.
json to_json(const Config& c) {
  json root;
  for (const Key& k : keys()) {
    json v = k.codec.write ? k.codec.write(c) : json();
    if (!v.is_null()) root[k.section][k.name] = std::move(v);
  }
  for (const auto& [key, v] : c.other.items()) root["other"][key] = v;
  return root;
}

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
  if (!fs::exists(path, ec)) throw Error(path + ": " + why_missing(path, "no such file"));
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
      problems.push_back(key + " '" + path + "' " + (fs::exists(path, ec) ? "is not a folder" : why_missing(path, "does not exist")));
    }
  };
  // The folder a file or folder will be created in: "logs/" -> ".", "out/model.h5" -> "out".
  auto parent_folder = [&](const std::string& key, const std::string& path) {
    fs::path p(path);
    if (!p.has_filename()) p = p.parent_path();
    const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    if (!fs::is_directory(parent, ec))
      problems.push_back(key + " '" + path + "': folder '" + parent.string() + "' " +
                         (fs::exists(parent, ec) ? "is a file" : why_missing(parent.string(), "does not exist")));
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
                       (fs::exists(weights, ec) ? "is not a file" : why_missing(weights, "does not exist")));
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
  const auto key =
      std::find_if(keys().begin(), keys().end(), [&](const Key& k) { return k.help && name == k.option_name(); });
  if (key == keys().end()) {
    std::string names;
    for (const ConfigOption& o : config_options()) names += (names.empty() ? "--" : ", --") + o.name;
    throw Error("unknown option --" + name + " (options: " + names + ")");
  }
  // Set the key in the JSON form and read it back: the same checks and messages as for a file.
  json root = to_json(config);
  root[key->section][key->name] = key->codec.option(value, config);
  std::vector<std::string> warnings = std::move(config.warnings);
  config = from_json(root, "--" + name);
  config.warnings = std::move(warnings);
}

std::vector<ConfigOption> config_options() {
  std::vector<ConfigOption> options;
  for (const Key& k : keys())
    if (k.help) options.push_back({k.option_name(), k.help});
  return options;
}

std::string write_config_json(const Config& config) { return to_json(config).dump(4) + "\n"; }

void save_config(const std::string& path, const Config& config, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) throw Error(path + ": already exists; not overwritten");
  write_file_atomically(path, write_config_json(config));
}

}  // namespace cupick
