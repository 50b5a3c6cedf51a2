// The plot is drawn into an RGB buffer and handed to libpng row by row. libpng reports a fatal
// problem by calling our error function, which must not return: it longjmps back into encode(), so
// everything to free lives in a PngOut owned by the caller and no C++ object is born between setjmp
// and a longjmp (as in io/png.cpp).
#include "image/plot.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "engine/error.h"
#include "io/files.h"

namespace cupick {

namespace {

constexpr int margin_left = 56, margin_right = 24, margin_top = 16, margin_bottom = 40;
constexpr int font_scale = 2;  // the 3x5 glyphs drawn as 6x10 pixels

// Rows top to bottom, 3 bits each, the left pixel in the high bit.
struct Glyph {
  char c;
  uint8_t rows[5];
};
constexpr Glyph font[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
};
constexpr int glyph_width = 3 * font_scale, glyph_height = 5 * font_scale, glyph_gap = font_scale;

struct Canvas {
  int width, height;
  std::vector<uint8_t> rgb;  // (height, width, 3)

  Canvas(int w, int h) : width(w), height(h), rgb(size_t(w) * h * 3, 255) {}

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {  // inclusive corners
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, c);
  }
  // A line `thickness` pixels wide: a square brush stepped along the longer axis.
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1) {
    const int steps = int(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
    const int lo = -(thickness - 1) / 2, hi = thickness / 2;
    for (int i = 0; i <= steps; ++i) {
      const int x = int(std::lround(x0 + (x1 - x0) * i / steps)), y = int(std::lround(y0 + (y1 - y0) * i / steps));
      fill(x + lo, y + lo, x + hi, y + hi, c);
    }
  }
  void disc(double cx, double cy, double radius, Rgb c) {
    for (int y = int(std::floor(cy - radius)); y <= int(std::ceil(cy + radius)); ++y)
      for (int x = int(std::floor(cx - radius)); x <= int(std::ceil(cx + radius)); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius) set(x, y, c);
  }
  // `text` with its top-left corner at (x, y); characters the font lacks are left blank.
  void text(int x, int y, const std::string& text, Rgb c) {
    for (char ch : text) {
      for (const Glyph& g : font) {
        if (g.c != ch) continue;
        for (int row = 0; row < 5; ++row)
          for (int col = 0; col < 3; ++col)
            if (g.rows[row] & (4 >> col))
              fill(x + col * font_scale, y + row * font_scale, x + (col + 1) * font_scale - 1,
                   y + (row + 1) * font_scale - 1, c);
      }
      x += glyph_width + glyph_gap;
    }
  }
};

int text_width(const std::string& text) { return int(text.size()) * (glyph_width + glyph_gap) - glyph_gap; }

// "0", "0.2", "1": %g after rounding away the sums' last bits (and a "-0").
std::string tick_label(double v) {
  v = std::round(v * 1e9) / 1e9;
  if (v == 0) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The values k * step within [lo, hi] (with a little slack for the sums' rounding).
std::vector<double> steps_within(double lo, double hi, double step) {
  std::vector<double> values;
  if (!(step > 0)) return values;
  const double slack = 1e-9 * std::max(1.0, std::abs(hi - lo));
  for (long k = long(std::ceil((lo - slack) / step)); k * step <= hi + slack; ++k) values.push_back(k * step);
  return values;
}

struct PngOut {
  std::FILE* file = nullptr;
  png_structp png = nullptr;
  png_infop info = nullptr;
  char message[256] = "";

  ~PngOut() {
    if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
    if (file) std::fclose(file);
  }
};

void on_error(png_structp png, png_const_charp text) {
  auto* out = static_cast<PngOut*>(png_get_error_ptr(png));
  std::snprintf(out->message, sizeof out->message, "%s", text);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

// False (with out.message) where libpng gave up. `rows` point into the canvas.
bool encode(PngOut& out, png_bytep* rows, int width, int height) {
  if (setjmp(png_jmpbuf(out.png))) return false;
  png_init_io(out.png, out.file);
  png_set_IHDR(out.png, out.info, png_uint_32(width), png_uint_32(height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(out.png, out.info);
  png_write_image(out.png, rows);
  png_write_end(out.png, nullptr);
  return true;
}

}  // namespace

void write_line_plot_png(const std::string& path, const LinePlot& plot) {
  if (plot.width < 100 || plot.height < 100 || plot.width > 8192 || plot.height > 8192)
    throw Error(path + ": a plot of " + std::to_string(plot.width) + " x " + std::to_string(plot.height) +
                " pixels; each side must be 100 to 8192");
  if (!(plot.x_max > plot.x_min) || !(plot.y_max > plot.y_min))
    throw Error(path + ": a plot needs x_max > x_min and y_max > y_min");

  Canvas canvas(plot.width, plot.height);
  const double left = margin_left, right = plot.width - margin_right - 1;
  const double top = margin_top, bottom = plot.height - margin_bottom - 1;
  const auto px = [&](double x) { return left + (x - plot.x_min) / (plot.x_max - plot.x_min) * (right - left); };
  const auto py = [&](double y) { return bottom - (y - plot.y_min) / (plot.y_max - plot.y_min) * (bottom - top); };

  const Rgb grid{225, 225, 225}, ink{0, 0, 0};
  for (double x : steps_within(plot.x_min, plot.x_max, plot.grid_step)) canvas.line(px(x), top, px(x), bottom, grid);
  for (double y : steps_within(plot.y_min, plot.y_max, plot.grid_step)) canvas.line(left, py(y), right, py(y), grid);
  for (double x : steps_within(plot.x_min, plot.x_max, plot.label_step)) {
    const std::string label = tick_label(x);
    canvas.line(px(x), bottom, px(x), bottom + 5, ink);
    canvas.text(int(std::lround(px(x))) - text_width(label) / 2, int(bottom) + 10, label, ink);
  }
  for (double y : steps_within(plot.y_min, plot.y_max, plot.label_step)) {
    const std::string label = tick_label(y);
    canvas.line(left - 5, py(y), left, py(y), ink);
    canvas.text(int(left) - 10 - text_width(label), int(std::lround(py(y))) - glyph_height / 2, label, ink);
  }
  // The frame last of the furniture, so that grid lines do not break it.
  canvas.line(left, top, right, top, ink);
  canvas.line(left, bottom, right, bottom, ink);
  canvas.line(left, top, left, bottom, ink);
  canvas.line(right, top, right, bottom, ink);

  for (const PlotSeries& s : plot.series) {
    for (size_t i = 1; i < s.points.size(); ++i)
      canvas.line(px(s.points[i - 1].first), py(s.points[i - 1].second), px(s.points[i].first),
                  py(s.points[i].second), s.colour, 2);
    if (s.points.size() == 1) canvas.disc(px(s.points[0].first), py(s.points[0].second), 2, s.colour);
  }
  for (const PlotMarker& m : plot.markers) {
    canvas.disc(px(m.x), py(m.y), 6, ink);  // a dark rim keeps the marker visible on a curve of its colour
    canvas.disc(px(m.x), py(m.y), 5, m.colour);
  }

  std::vector<png_bytep> rows(plot.height);
  for (int y = 0; y < plot.height; ++y) rows[y] = &canvas.rgb[size_t(y) * plot.width * 3];
  const std::string tmp = temporary_path(path);
  PngOut out;
  out.file = std::fopen(tmp.c_str(), "wb");
  if (!out.file) throw Error(path + ": cannot create " + tmp + ": " + std::strerror(errno));
  out.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &out, on_error, on_warning);
  if (out.png) out.info = png_create_info_struct(out.png);
  const bool ok = out.png && out.info && encode(out, rows.data(), plot.width, plot.height);
  if (!out.png || !out.info) std::snprintf(out.message, sizeof out.message, "out of memory");
  std::FILE* file = out.file;
  out.file = nullptr;
  if (!ok) {
    std::fclose(file);
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write " + tmp + ": " + out.message);
  }
  commit_file(file, tmp, path);
}

}  // namespace cupick
