#include "io/annotations.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string_view>

#include "engine/error.h"
#include "io/files.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& path, const std::string& problem) { throw Error(path + ": " + problem); }

[[noreturn]] void fail_at(const std::string& path, int line, const std::string& problem) {
  throw Error(path + ":" + std::to_string(line) + ": " + problem);
}

std::string read_text(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(path, "is a folder, not an annotation file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, "cannot read");
  return text.str();
}

// Calls f(line number, line) for every line, without its "\n" or "\r\n".
template <class F>
void for_each_line(std::string_view text, F&& f) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // the byte order mark some editors write
  int number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    f(++number, line);
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

struct Value {
  std::string_view text;
  bool quoted = false;  // a quoted "_x" or "data_" is a value, not a label or a keyword
};

// Splits a line into values on whitespace. A value in '...' or "..." may hold spaces; it ends at
// the quote that whitespace or the line's end follows (STAR has no escapes). A '#' that starts a
// value starts a comment, so RELION's "_rlnCoordinateX #1" is one value.
void split(std::string_view line, std::vector<Value>& out, const std::string& path, int n) {
  out.clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size() || line[i] == '#') return;
    if (line[i] == '\'' || line[i] == '"') {
      const char quote = line[i];
      size_t j = i + 1;
      while (j < line.size() && !(line[j] == quote && (j + 1 == line.size() || is_space(line[j + 1])))) ++j;
      if (j == line.size()) fail_at(path, n, "a quote is not closed");
      out.push_back({line.substr(i + 1, j - i - 1), true});
      i = j + 1;
      continue;
    }
    size_t j = i;
    while (j < line.size() && !is_space(line[j])) ++j;
    out.push_back({line.substr(i, j - i)});
    i = j;
  }
}

// A finite number, or an Error naming the file, the line and what the value was meant to be.
float number(std::string_view text, const std::string& path, int line, std::string_view what) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+' && last - first > 1 && first[1] != '-') ++first;  // from_chars takes no '+'
  double v = 0;
  const auto [end, ec] = std::from_chars(first, last, v);
  if ((ec != std::errc() && ec != std::errc::result_out_of_range) || end != last)
    fail_at(path, line, std::string(what) + " is '" + std::string(text) + "', not a number");
  if (ec == std::errc::result_out_of_range || !std::isfinite(v) || std::abs(v) > FLT_MAX)
    fail_at(path, line, std::string(what) + " is " + std::string(text) + ", not a finite number");
  return static_cast<float>(v);
}

float positive_size(std::string_view text, const std::string& path, int line, std::string_view what) {
  const float v = number(text, path, line, what);
  if (v <= 0) fail_at(path, line, std::string(what) + " is " + std::string(text) + "; a box size must be positive");
  return v;
}

// x y width height, the lower-left corner, as EMAN .box and old crYOLO .cbox lines begin.
Box corner_box(const std::vector<Value>& v, const std::string& path, int line) {
  Box b;
  b.w = positive_size(v[2].text, path, line, "width");
  b.h = positive_size(v[3].text, path, line, "height");
  b.x = number(v[0].text, path, line, "x") + b.w / 2;
  b.y = number(v[1].text, path, line, "y") + b.h / 2;
  return b;
}

bool same_word(std::string_view a, std::string_view b) {  // STAR keywords ignore case
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

// ---- STAR ----

// One loop_ of a STAR file. Rows keep their text and are split again where they are read: a
// cryoSPARC export can hold a million rows of thirty values, too many to keep as strings.
struct StarLoop {
  std::string block;                                   // "particles" for data_particles
  std::vector<std::string> labels;                     // "_rlnCoordinateX", without the "#1" after it
  std::vector<std::pair<int, std::string_view>> rows;  // line number, text

  int column(std::string_view label) const {
    const auto it = std::find(labels.begin(), labels.end(), label);
    return it == labels.end() ? -1 : static_cast<int>(it - labels.begin());
  }
};

// Every loop_ of the file, its structure checked: quotes closed, values only in a loop_ or after a
// "_name", and every row with as many values as its loop_ has labels. Data items outside loops
// ("_cbox_format_version 1.0") are checked and skipped: no reader here needs one.
std::vector<StarLoop> parse_star(const std::string& path, std::string_view text) {
  std::vector<StarLoop> loops;
  std::string block;
  enum { outside, labels, rows } state = outside;
  std::vector<Value> v;
  for_each_line(text, [&](int n, std::string_view line) {
    split(line, v, path, n);
    if (v.empty()) return;
    const std::string_view first = v[0].text;
    if (!v[0].quoted && first.size() >= 5 && same_word(first.substr(0, 5), "data_")) {
      block = first.substr(5);
      state = outside;
    } else if (!v[0].quoted && same_word(first, "loop_")) {
      loops.push_back({block, {}, {}});
      state = labels;
    } else if (!v[0].quoted && same_word(first, "stop_")) {
      state = outside;
    } else if (!v[0].quoted && first.starts_with('_')) {
      if (state == labels) {
        if (v.size() > 1) fail_at(path, n, "label " + std::string(first) + " in a loop_ header has a value");
        loops.back().labels.emplace_back(first);
      } else {
        if (v.size() != 2)
          fail_at(path, n, std::string(first) + " takes one value, found " + std::to_string(v.size() - 1));
        state = outside;
      }
    } else {
      if (state == outside) fail_at(path, n, "value '" + std::string(first) + "' outside a loop_");
      StarLoop& loop = loops.back();
      if (loop.labels.empty()) fail_at(path, n, "loop_ without labels");
      if (v.size() != loop.labels.size())
        fail_at(path, n,
                std::to_string(v.size()) + " values for the " + std::to_string(loop.labels.size()) + " labels of the loop_");
      loop.rows.emplace_back(n, line);
      state = rows;
    }
  });
  return loops;
}

// RELION marks picks it did not score (manual picks) with a figure of merit of -999.
constexpr float kRelionUnset = -999;

// Calls take(micrograph name or "", box) for every row of the file's coordinate table.
template <class F>
void for_each_star_box(const std::string& path, float default_box_size, F&& take) {
  if (!(default_box_size >= 0) || !std::isfinite(default_box_size))
    fail(path, "default box size must be 0 (none) or positive, not " + std::to_string(default_box_size));
  const std::string text = read_text(path);
  const std::vector<StarLoop> loops = parse_star(path, text);
  if (loops.empty()) return;  // no table at all: a micrograph without particles
  const auto with_coordinates = std::find_if(loops.begin(), loops.end(), [](const StarLoop& l) {
    return l.column("_rlnCoordinateX") >= 0 && l.column("_rlnCoordinateY") >= 0;
  });
  if (with_coordinates == loops.end()) fail(path, "no loop_ with _rlnCoordinateX and _rlnCoordinateY");
  const StarLoop& t = *with_coordinates;
  const int cx = t.column("_rlnCoordinateX"), cy = t.column("_rlnCoordinateY");
  const int merit = t.column("_rlnAutopickFigureOfMerit"), micrograph = t.column("_rlnMicrographName");
  std::vector<Value> v;
  for (const auto& [n, line] : t.rows) {
    split(line, v, path, n);
    Box b;
    b.x = number(v[cx].text, path, n, "_rlnCoordinateX");
    b.y = number(v[cy].text, path, n, "_rlnCoordinateY");
    b.w = b.h = default_box_size;
    if (merit >= 0) {
      const float m = number(v[merit].text, path, n, "_rlnAutopickFigureOfMerit");
      b.confidence = m == kRelionUnset ? 1.f : m;
    }
    take(micrograph >= 0 ? v[micrograph].text : std::string_view(), b);
  }
}

// ---- CBOX ----

bool is_na(const Value& v) { return !v.quoted && v.text == "<NA>"; }

std::vector<Box> read_old_cbox(const std::string& path, std::string_view text) {
  std::vector<Box> boxes;
  std::vector<Value> v;
  for_each_line(text, [&](int n, std::string_view line) {
    split(line, v, path, n);
    if (v.empty()) return;
    if (v.size() < 5) fail_at(path, n, "expected x y width height confidence, found " + std::to_string(v.size()) + " values");
    Box b = corner_box(v, path, n);
    b.confidence = number(v[4].text, path, n, "confidence");
    if (v.size() >= 7) {
      b.est_w = positive_size(v[5].text, path, n, "estimated width");
      b.est_h = positive_size(v[6].text, path, n, "estimated height");
    }
    boxes.push_back(b);
  });
  return boxes;
}

// ---- writing ----

// The shortest fixed-point text that reads back as the same float: no exponents, which some
// readers of these files do not take.
void append_number(std::string& out, float v) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::fixed);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

void check_finite(const std::string& path, const std::vector<Box>& boxes) {
  for (size_t i = 0; i < boxes.size(); ++i) {
    const Box& b = boxes[i];
    for (float value : {b.x, b.y, b.w, b.h, b.confidence, b.est_w, b.est_h})
      if (!std::isfinite(value)) fail(path, "box " + std::to_string(i) + " holds a value that is not a finite number");
  }
}

// For the writers that write sizes: box_size, or each box's own size where it is 0.
void check_sizes(const std::string& path, const std::vector<Box>& boxes, float box_size) {
  if (!(box_size >= 0) || !std::isfinite(box_size))
    fail(path, "box size must be positive, or 0 for each box's own size; got " + std::to_string(box_size));
  check_finite(path, boxes);
  if (box_size > 0) return;
  for (size_t i = 0; i < boxes.size(); ++i)
    if (boxes[i].w <= 0 || boxes[i].h <= 0)
      fail(path, "box " + std::to_string(i) + " has no size to write (" + std::to_string(boxes[i].w) + " x " +
                     std::to_string(boxes[i].h) + "); give a box size");
}

// A STAR value: quoted where it would otherwise read as something else or split in two.
std::string star_value(const std::string& path, const std::string& s) {
  if (s.empty()) fail(path, "no micrograph name to write");
  if (s.find('\n') != std::string::npos) fail(path, "micrograph name '" + s + "' holds a line break");
  const bool plain = std::none_of(s.begin(), s.end(), is_space) && s[0] != '_' && s[0] != '#' && s[0] != '"' &&
                     s[0] != '\'' && !same_word(s.substr(0, 5), "data_") && !same_word(s, "loop_") && !same_word(s, "stop_");
  if (plain) return s;
  const char quote = s.find('"') == std::string::npos ? '"' : '\'';
  if (s.find(quote) != std::string::npos) fail(path, "micrograph name '" + s + "' holds both kinds of quote");
  return quote + s + quote;
}

void append_star_header(std::string& out) {
  // "# version 30001" is what RELION 3.1 writes before each block; older RELIONs read it as a comment.
  out += "\n# version 30001\n\ndata_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnMicrographName #3\n"
         "_rlnAutopickFigureOfMerit #4\n";
}

void append_star_rows(std::string& out, const std::string& path, const std::string& micrograph,
                      const std::vector<Box>& boxes) {
  check_finite(path, boxes);
  const std::string name = star_value(path, micrograph);
  for (const Box& b : boxes) {
    append_number(out, b.x);
    out += '\t';
    append_number(out, b.y);
    out += '\t';
    out += name;
    out += '\t';
    append_number(out, b.confidence);
    out += '\n';
  }
}

std::string plural(size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

}  // namespace

std::vector<Box> read_eman_box(const std::string& path) {
  const std::string text = read_text(path);
  std::vector<Box> boxes;
  std::vector<Value> v;
  for_each_line(text, [&](int n, std::string_view line) {
    split(line, v, path, n);
    if (v.empty()) return;
    if (v.size() < 4) fail_at(path, n, "expected x y width height, found " + std::to_string(v.size()) + " values");
    boxes.push_back(corner_box(v, path, n));
  });
  return boxes;
}

std::vector<Box> read_star(const std::string& path, float default_box_size) {
  std::vector<Box> boxes;
  for_each_star_box(path, default_box_size, [&](std::string_view, const Box& b) { boxes.push_back(b); });
  return boxes;
}

std::map<std::string, std::vector<Box>> read_star_by_micrograph(const std::string& path, float default_box_size) {
  std::map<std::string, std::vector<Box>> boxes;
  const std::string own = micrograph_key(path);
  for_each_star_box(path, default_box_size, [&](std::string_view micrograph, const Box& b) {
    boxes[micrograph.empty() ? own : micrograph_key(std::string(micrograph))].push_back(b);
  });
  // An empty file, or one without rows, is its own micrograph without particles, as an empty .box
  // is: not "no annotation", which would skip the micrograph instead of teaching the background.
  if (boxes.empty()) boxes[own];
  return boxes;
}

std::vector<Box> read_cbox(const std::string& path) {
  const std::string text = read_text(path);
  // crYOLO before 1.8 wrote bare rows, since then STAR blocks.
  bool star = false;
  for_each_line(text, [&](int, std::string_view line) {
    const size_t start = line.find_first_not_of(" \t");
    star = star || (start != std::string_view::npos && same_word(line.substr(start, 5), "data_"));
  });
  if (!star) return read_old_cbox(path, text);

  const std::vector<StarLoop> loops = parse_star(path, text);
  const auto has_coordinates = [](const StarLoop& l) {
    return l.column("_CoordinateX") >= 0 && l.column("_CoordinateY") >= 0;
  };
  // data_cryolo by name: filament files put other tables with coordinates before it.
  auto t = std::find_if(loops.begin(), loops.end(), [&](const StarLoop& l) { return l.block == "cryolo" && has_coordinates(l); });
  if (t == loops.end()) t = std::find_if(loops.begin(), loops.end(), has_coordinates);
  if (t == loops.end()) {
    if (loops.empty()) return {};
    fail(path, "no loop_ with _CoordinateX and _CoordinateY");
  }
  const int cx = t->column("_CoordinateX"), cy = t->column("_CoordinateY");
  const int cw = t->column("_Width"), ch = t->column("_Height");
  const int ew = t->column("_EstWidth"), eh = t->column("_EstHeight"), cc = t->column("_Confidence");
  std::vector<Value> v;
  if ((cw < 0 && ew < 0) || (ch < 0 && eh < 0)) fail(path, "no _Width and _Height (nor _EstWidth and _EstHeight)");

  // An estimate of <NA> or 0 (crYOLO writes either for "none") leaves the box's own size.
  const auto estimate = [&](int column, const std::string& label, int n) {
    if (column < 0 || is_na(v[column])) return 0.f;
    const float e = number(v[column].text, path, n, label);
    if (e < 0) fail_at(path, n, label + " is " + std::string(v[column].text) + "; a box size must be positive");
    return e;
  };
  // The box's size: _Width, or the estimate where a file has no _Width.
  const auto size = [&](int column, float est, const std::string& label, int n) {
    if (column >= 0 && !is_na(v[column])) return positive_size(v[column].text, path, n, label);
    if (est > 0) return est;
    fail_at(path, n, label + " is <NA> and there is no estimate");
  };
  std::vector<Box> boxes;
  for (const auto& [n, line] : t->rows) {
    split(line, v, path, n);
    Box b;
    b.est_w = estimate(ew, "_EstWidth", n);
    b.est_h = estimate(eh, "_EstHeight", n);
    b.w = size(cw, b.est_w, "_Width", n);
    b.h = size(ch, b.est_h, "_Height", n);
    b.x = number(v[cx].text, path, n, "_CoordinateX") + b.w / 2;
    b.y = number(v[cy].text, path, n, "_CoordinateY") + b.h / 2;
    if (cc >= 0 && !is_na(v[cc])) b.confidence = number(v[cc].text, path, n, "_Confidence");
    boxes.push_back(b);
  }
  return boxes;
}

std::vector<Box> read_boxes(const std::string& path, float default_box_size) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".box") return read_eman_box(path);
  if (ext == ".cbox") return read_cbox(path);
  if (ext == ".star") {
    std::map<std::string, std::vector<Box>> by_micrograph = read_star_by_micrograph(path, default_box_size);
    if (by_micrograph.size() > 1) {
      std::string names;
      for (const auto& [name, boxes] : by_micrograph) {
        if (names.size() > 60) {
          names += ", ...";
          break;
        }
        names += (names.empty() ? "" : ", ") + name;
      }
      fail(path, "names " + std::to_string(by_micrograph.size()) + " micrographs (" + names +
                     "); one micrograph per file expected here");
    }
    return by_micrograph.empty() ? std::vector<Box>{} : std::move(by_micrograph.begin()->second);
  }
  fail(path, "unknown annotation format '" + ext + "'; expected .box (EMAN), .star (RELION, cryoSPARC) or .cbox (crYOLO)");
}

std::string micrograph_key(const std::string& name) {
  std::string base = fs::path(name).filename().string();
  const size_t dot = base.rfind('.');
  if (dot != std::string::npos && dot > 0) base.resize(dot);
  size_t digits = 0;
  while (digits < base.size() && std::isdigit(static_cast<unsigned char>(base[digits]))) ++digits;
  if (digits >= 15 && digits + 1 < base.size() && base[digits] == '_') base.erase(0, digits + 1);
  return base;
}

void write_eman_box(const std::string& path, const std::vector<Box>& boxes, float box_size) {
  check_sizes(path, boxes, box_size);
  std::string text;
  for (const Box& b : boxes) {
    const float w = box_size > 0 ? box_size : b.w, h = box_size > 0 ? box_size : b.h;
    append_number(text, b.x - w / 2);
    text += '\t';
    append_number(text, b.y - h / 2);
    text += '\t';
    append_number(text, w);
    text += '\t';
    append_number(text, h);
    text += '\n';
  }
  write_file_atomically(path, text);
}

void write_star(const std::string& path, const std::vector<Box>& boxes, const std::string& micrograph_name) {
  std::string text;
  append_star_header(text);
  append_star_rows(text, path, micrograph_name, boxes);
  write_file_atomically(path, text);
}

void write_star_by_micrograph(const std::string& path, const std::map<std::string, std::vector<Box>>& boxes) {
  std::string text;
  append_star_header(text);
  for (const auto& [micrograph, list] : boxes) append_star_rows(text, path, micrograph, list);
  write_file_atomically(path, text);
}

void write_coordinate_index(const std::string& path, const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string text = "\n# version 30001\n\ndata_coordinate_files\n\nloop_\n_rlnMicrographName #1\n_rlnMicrographCoordinates #2\n";
  for (const auto& [micrograph, coordinates] : rows) text += star_value(path, micrograph) + '\t' + star_value(path, coordinates) + '\n';
  write_file_atomically(path, text);
}

void write_cbox(const std::string& path, const std::vector<Box>& boxes, float box_size) {
  check_sizes(path, boxes, box_size);
  std::string text =
      "\ndata_global\n\n_cbox_format_version 1.0\n\ndata_cryolo\n\nloop_\n_CoordinateX #1\n_CoordinateY #2\n"
      "_CoordinateZ #3\n_Width #4\n_Height #5\n_Depth #6\n_EstWidth #7\n_EstHeight #8\n_Confidence #9\n"
      "_NumBoxes #10\n_Angle #11\n";
  for (const Box& b : boxes) {
    const float w = box_size > 0 ? box_size : b.w, h = box_size > 0 ? box_size : b.h;
    append_number(text, b.x - w / 2);
    text += ' ';
    append_number(text, b.y - h / 2);
    text += " <NA> ";
    append_number(text, w);
    text += ' ';
    append_number(text, h);
    text += " <NA> ";
    append_number(text, b.estimated_w());
    text += ' ';
    append_number(text, b.estimated_h());
    text += ' ';
    append_number(text, b.confidence);
    text += " <NA> <NA>\n";
  }
  // crYOLO ends every file with the slices it picked; a 2D micrograph has none.
  text += "\ndata_cryolo_include\n\nloop_\n_slice_index #1\n";
  write_file_atomically(path, text);
}

BoxCheck check_boxes(const std::vector<Box>& boxes, int image_width, int image_height, const std::string& file) {
  if (image_width <= 0 || image_height <= 0)
    throw Error(file + ": image size " + std::to_string(image_width) + " x " + std::to_string(image_height) +
                " is not positive");
  const float W = static_cast<float>(image_width), H = static_cast<float>(image_height);
  std::vector<Box> inside;
  for (const Box& b : boxes)
    if (b.x >= 0 && b.x < W && b.y >= 0 && b.y < H) inside.push_back(b);  // NaN is outside too
  const size_t outside = boxes.size() - inside.size();

  // Of boxes with the same centre and size the first stays: look only at neighbours in x.
  std::vector<size_t> by_x(inside.size());
  std::iota(by_x.begin(), by_x.end(), size_t{0});
  std::sort(by_x.begin(), by_x.end(), [&](size_t a, size_t b) { return inside[a].x < inside[b].x; });
  std::vector<float> xs(by_x.size());
  for (size_t k = 0; k < by_x.size(); ++k) xs[k] = inside[by_x[k]].x;
  std::vector<char> duplicate(inside.size(), 0);
  for (size_t i = 0; i < inside.size(); ++i) {
    const Box& a = inside[i];
    for (size_t k = std::lower_bound(xs.begin(), xs.end(), a.x - 0.5f) - xs.begin(); k < xs.size() && xs[k] <= a.x + 0.5f;
         ++k) {
      const size_t j = by_x[k];
      const Box& b = inside[j];
      if (j < i && !duplicate[j] && std::hypot(a.x - b.x, a.y - b.y) <= 0.5f && std::abs(a.w - b.w) <= 0.5f &&
          std::abs(a.h - b.h) <= 0.5f) {
        duplicate[i] = 1;
        break;
      }
    }
  }

  BoxCheck check;
  size_t over_edge = 0, duplicates = 0;
  for (size_t i = 0; i < inside.size(); ++i) {
    if (duplicate[i]) {
      ++duplicates;
      continue;
    }
    const Box& b = inside[i];
    if (b.x - b.w / 2 < 0 || b.x + b.w / 2 > W || b.y - b.h / 2 < 0 || b.y + b.h / 2 > H) ++over_edge;
    check.kept.push_back(b);
  }
  const std::string image = std::to_string(image_width) + " x " + std::to_string(image_height) + " image";
  if (outside) check.warnings.push_back(file + ": " + plural(outside, "box", "boxes") + " with the centre outside the " + image + " dropped");
  if (over_edge) check.warnings.push_back(file + ": " + plural(over_edge, "box reaches", "boxes reach") + " over the edge of the " + image + "; kept");
  if (duplicates) check.warnings.push_back(file + ": " + plural(duplicates, "duplicate box", "duplicate boxes") + " (the same centre and size as an earlier one) dropped");
  return check;
}

}  // namespace cupick
