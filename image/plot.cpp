// A plot is laid out once (Layout: margins from the text it holds) and drawn once (draw()) through a
// Painter: the PNG's draws pixels on a Canvas, the SVG's writes elements. So the two files show the
// same plot, and a change to the layout changes both.
//
// The PNG is handed to libpng row by row. libpng reports a fatal problem by calling our error
// function, which must not return: it longjmps back into encode(), so everything to free lives in
// a PngOut owned by the caller and no C++ object is born between setjmp and a longjmp (as in
// io/png.cpp).
#include "image/plot.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "io/files.h"

namespace cupick {

namespace {

// Printable ASCII, 32 to 126, drawn for cupick's plots: 9 rows of 5 pixels each, the letters on
// row 6 and the tails of g, j, p, q, y and commas below it.
constexpr uint8_t font[95][9] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00},  // '!'
    {0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // '"'
    {0x0a, 0x1f, 0x0a, 0x0a, 0x0a, 0x1f, 0x0a, 0x00, 0x00},  // '#'
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04, 0x00, 0x00},  // '$'
    {0x19, 0x1a, 0x04, 0x04, 0x08, 0x16, 0x13, 0x00, 0x00},  // '%'
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d, 0x00, 0x00},  // '&'
    {0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // "'"
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00},  // '('
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00},  // ')'
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00, 0x00},  // '*'
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00, 0x00},  // '+'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x04, 0x08},  // ','
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00},  // '-'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00, 0x00},  // '.'
    {0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10, 0x00, 0x00},  // '/'
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00, 0x00},  // '0'
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00},  // '1'
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00},  // '2'
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00, 0x00},  // '3'
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00, 0x00},  // '4'
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00, 0x00},  // '5'
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00, 0x00},  // '6'
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00},  // '7'
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00, 0x00},  // '8'
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00, 0x00},  // '9'
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00, 0x00},  // ':'
    {0x00, 0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x04, 0x08},  // ';'
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00},  // '<'
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00},  // '='
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00},  // '>'
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00},  // '?'
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e, 0x00, 0x00},  // '@'
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'A'
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00, 0x00},  // 'B'
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00},  // 'C'
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00, 0x00},  // 'D'
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00, 0x00},  // 'E'
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00},  // 'F'
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00, 0x00},  // 'G'
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'H'
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00},  // 'I'
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00, 0x00},  // 'J'
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00},  // 'K'
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00, 0x00},  // 'L'
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'M'
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00},  // 'N'
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00},  // 'O'
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00},  // 'P'
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00, 0x00},  // 'Q'
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00, 0x00},  // 'R'
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00, 0x00},  // 'S'
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00},  // 'T'
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00},  // 'U'
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00},  // 'V'
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00, 0x00},  // 'W'
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00, 0x00},  // 'X'
    {0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x00, 0x00},  // 'Y'
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00, 0x00},  // 'Z'
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00, 0x00},  // '['
    {0x10, 0x08, 0x08, 0x04, 0x02, 0x02, 0x01, 0x00, 0x00},  // '\\'
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00, 0x00},  // ']'
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // '^'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00},  // '_'
    {0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // '`'
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00},  // 'a'
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00, 0x00},  // 'b'
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00},  // 'c'
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00, 0x00},  // 'd'
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00},  // 'e'
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00, 0x00},  // 'f'
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e},  // 'g'
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'h'
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00},  // 'i'
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c},  // 'j'
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00},  // 'k'
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00},  // 'l'
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11, 0x00, 0x00},  // 'm'
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'n'
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00},  // 'o'
    {0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10},  // 'p'
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01},  // 'q'
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00},  // 'r'
    {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00},  // 's'
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00},  // 't'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00, 0x00},  // 'u'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00},  // 'v'
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00},  // 'w'
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00, 0x00},  // 'x'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e},  // 'y'
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00},  // 'z'
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00, 0x00},  // '{'
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00},  // '|'
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00, 0x00},  // '}'
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00},  // '~'
};

enum class Anchor { start, middle, end };

struct Painter {
  virtual ~Painter() = default;
  virtual void line(double x0, double y0, double x1, double y1, Rgb c, int thickness) = 0;
  virtual void disc(double cx, double cy, double radius, Rgb fill, Rgb rim) = 0;
  virtual void box(double x0, double y0, double x1, double y1, Rgb fill, Rgb edge) = 0;
  // `s` with its top at y (its left edge, centre or right edge at x by `anchor`); vertical text
  // reads upwards, its centre at (x, y).
  virtual void text(double x, double y, const std::string& s, Rgb c, Anchor anchor, bool bold, bool vertical) = 0;
};

std::string tick_label(double v) {
  v = std::round(v * 1e9) / 1e9;
  if (v == 0) v = 0;  // no "-0"
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

// Where everything goes. Text is measured in font cells: `scale` pixels per font pixel, a
// character 6 * scale wide (5 and a gap) and 9 * scale high (7 above the baseline, 2 below).
struct Layout {
  int scale;
  double advance, text_height;
  double left, right, top, bottom;  // the frame
  double x_grid, x_labels, y_grid, y_labels;

  explicit Layout(const LinePlot& p) {
    scale = p.width >= 480 && p.height >= 300 ? 2 : 1;
    advance = 6.0 * scale, text_height = 9.0 * scale;
    x_grid = p.grid_step, x_labels = p.label_step;
    y_grid = p.y_grid_step > 0 ? p.y_grid_step : p.grid_step;
    y_labels = p.y_label_step > 0 ? p.y_label_step : p.label_step;
    size_t widest = 0;
    for (double y : steps_within(p.y_min, p.y_max, y_labels)) widest = std::max(widest, tick_label(y).size());
    left = 10 + (p.y_label.empty() ? 0 : text_height + 10) + width_of(widest) + 10;
    right = p.width - 20 - 1;
    top = p.title.empty() ? 16 : 12 + text_height + 12;
    bottom = p.height - 1 - (10 + text_height + (p.x_label.empty() ? 0 : 10 + text_height) + 10);
  }
  double width_of(size_t chars) const { return chars ? chars * advance - scale : 0; }
};

void draw(const LinePlot& p, Painter& paint) {
  const Layout l(p);
  const auto px = [&](double x) { return l.left + (x - p.x_min) / (p.x_max - p.x_min) * (l.right - l.left); };
  const auto py = [&](double y) { return l.bottom - (y - p.y_min) / (p.y_max - p.y_min) * (l.bottom - l.top); };
  const Rgb grid{225, 225, 225}, ink{0, 0, 0}, white{255, 255, 255}, edge{160, 160, 160};

  for (double x : steps_within(p.x_min, p.x_max, l.x_grid)) paint.line(px(x), l.top, px(x), l.bottom, grid, 1);
  for (double y : steps_within(p.y_min, p.y_max, l.y_grid)) paint.line(l.left, py(y), l.right, py(y), grid, 1);
  for (double x : steps_within(p.x_min, p.x_max, l.x_labels)) {
    paint.line(px(x), l.bottom, px(x), l.bottom + 5, ink, 1);
    paint.text(px(x), l.bottom + 10, tick_label(x), ink, Anchor::middle, false, false);
  }
  for (double y : steps_within(p.y_min, p.y_max, l.y_labels)) {
    paint.line(l.left - 5, py(y), l.left, py(y), ink, 1);
    paint.text(l.left - 10, py(y) - 3.5 * l.scale, tick_label(y), ink, Anchor::end, false, false);
  }
  // The frame after the grid, so that grid lines do not break it.
  paint.line(l.left, l.top, l.right, l.top, ink, 1);
  paint.line(l.left, l.bottom, l.right, l.bottom, ink, 1);
  paint.line(l.left, l.top, l.left, l.bottom, ink, 1);
  paint.line(l.right, l.top, l.right, l.bottom, ink, 1);
  if (!p.title.empty()) paint.text((l.left + l.right) / 2, 12, p.title, ink, Anchor::middle, true, false);
  if (!p.x_label.empty())
    paint.text((l.left + l.right) / 2, l.bottom + 20 + l.text_height, p.x_label, ink, Anchor::middle, false, false);
  if (!p.y_label.empty())
    paint.text(10 + l.text_height / 2, (l.top + l.bottom) / 2, p.y_label, ink, Anchor::middle, false, true);

  for (const PlotSeries& s : p.series) {
    for (size_t i = 1; i < s.points.size(); ++i)
      paint.line(px(s.points[i - 1].first), py(s.points[i - 1].second), px(s.points[i].first),
                 py(s.points[i].second), s.colour, 2);
    if (s.points.size() == 1) paint.disc(px(s.points[0].first), py(s.points[0].second), 2, s.colour, s.colour);
  }
  for (const PlotMarker& m : p.markers) {
    // A dark rim keeps the marker visible on a curve of its colour.
    paint.disc(px(m.x), py(m.y), 6, m.colour, ink);
    if (m.label.empty()) continue;
    // Beside the marker: right of it where the label fits inside the frame, else left of it (kept
    // inside); below it in the frame's upper half, above it in the lower; on a white box, so that
    // the curve and the grid do not run through the letters.
    const double w = l.width_of(m.label.size());
    const bool upper = py(m.y) < (l.top + l.bottom) / 2;
    const double y = std::clamp(upper ? py(m.y) + 12 : py(m.y) - 12 - l.text_height, l.top + 4,
                                l.bottom - l.text_height - 4);
    const double x0 = std::clamp(px(m.x) + 12 + w < l.right - 4 ? px(m.x) + 12 : px(m.x) - 12 - w, l.left + 4,
                                 std::max(l.left + 4, l.right - 4 - w));
    paint.box(x0 - 3, y - 3, x0 + w + 3, y + l.text_height + 3, white, white);
    paint.text(x0, y, m.label, m.colour, Anchor::start, false, false);
  }

  // The legend in the frame's upper right corner: a stroke of each named series' colour, its name.
  size_t widest = 0, named = 0;
  for (const PlotSeries& s : p.series)
    if (!s.name.empty()) widest = std::max(widest, s.name.size()), ++named;
  if (named) {
    const double row = l.text_height + 8, w = 24 + 8 + l.width_of(widest);
    const double x0 = l.right - 10 - w - 8, y0 = l.top + 10;
    paint.box(x0, y0, l.right - 10, y0 + 8 + named * row, white, edge);
    double y = y0 + 8;
    for (const PlotSeries& s : p.series) {
      if (s.name.empty()) continue;
      paint.line(x0 + 8, y + 3.5 * l.scale, x0 + 8 + 24, y + 3.5 * l.scale, s.colour, 2);  // mid-letter
      paint.text(x0 + 8 + 24 + 8, y, s.name, ink, Anchor::start, false, false);
      y += row;
    }
  }
}

// ---- PNG ------------------------------------------------------------------------------------------

struct Canvas : Painter {
  int width, height, scale;
  std::vector<uint8_t> rgb;  // (height, width, 3)

  Canvas(int w, int h, int s) : width(w), height(h), scale(s), rgb(size_t(w) * h * 3, 255) {}

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {  // inclusive corners
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, c);
  }
  // A square brush stepped along the longer axis.
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness) override {
    const int steps = int(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
    const int lo = -(thickness - 1) / 2, hi = thickness / 2;
    for (int i = 0; i <= steps; ++i) {
      const int x = int(std::lround(x0 + (x1 - x0) * i / steps)), y = int(std::lround(y0 + (y1 - y0) * i / steps));
      fill(x + lo, y + lo, x + hi, y + hi, c);
    }
  }
  void round(double cx, double cy, double radius, Rgb c) {
    for (int y = int(std::floor(cy - radius)); y <= int(std::ceil(cy + radius)); ++y)
      for (int x = int(std::floor(cx - radius)); x <= int(std::ceil(cx + radius)); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius) set(x, y, c);
  }
  void disc(double cx, double cy, double radius, Rgb fill_colour, Rgb rim) override {
    round(cx, cy, radius, rim);
    round(cx, cy, radius - 1, fill_colour);
  }
  void box(double x0, double y0, double x1, double y1, Rgb fill_colour, Rgb edge) override {
    fill(int(std::lround(x0)), int(std::lround(y0)), int(std::lround(x1)), int(std::lround(y1)), edge);
    fill(int(std::lround(x0)) + 1, int(std::lround(y0)) + 1, int(std::lround(x1)) - 1, int(std::lround(y1)) - 1,
         fill_colour);
  }
  void text(double x, double y, const std::string& s, Rgb c, Anchor anchor, bool bold, bool vertical) override {
    const int advance = 6 * scale;
    const double w = s.empty() ? 0 : double(s.size()) * advance - scale;
    const double shift = anchor == Anchor::start ? 0 : anchor == Anchor::middle ? w / 2 : w;
    // Along the text: u from its start; across it: v from its top. Vertical text reads upwards,
    // centred on (x, y) like an SVG rotation by -90 degrees about its centre.
    int u = int(std::lround(-shift));
    for (char ch : s) {
      const uint8_t* g = plot_glyph(ch);
      if (!g) g = plot_glyph('?');
      for (int row = 0; row < 9; ++row)
        for (int col = 0; col < 5; ++col) {
          if (!(g[row] & (16 >> col))) continue;
          for (int extra = 0; extra <= (bold ? 1 : 0); ++extra) {
            const int du = u + col * scale + extra, dv = row * scale;
            if (vertical)
              fill(int(std::lround(x - 4.5 * scale)) + dv, int(std::lround(y)) - du - scale + 1,
                   int(std::lround(x - 4.5 * scale)) + dv + scale - 1, int(std::lround(y)) - du, c);
            else
              fill(int(std::lround(x)) + du, int(std::lround(y)) + dv, int(std::lround(x)) + du + scale - 1,
                   int(std::lround(y)) + dv + scale - 1, c);
          }
        }
      u += advance;
    }
  }
};

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

// ---- SVG ------------------------------------------------------------------------------------------

std::string colour_text(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string xml_escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else if (uint8_t(c) < 32) out += ' ';  // XML 1.0 has no control characters
    else out += c;
  }
  return out;
}

struct Svg : Painter {
  double baseline, font_size;  // the PNG font's baseline below the text's top
  std::string body;

  explicit Svg(int scale) : baseline(7.0 * scale), font_size(10.0 * scale) {}

  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness) override {
    body += "<line x1=\"" + number(x0) + "\" y1=\"" + number(y0) + "\" x2=\"" + number(x1) + "\" y2=\"" +
            number(y1) + "\" stroke=\"" + colour_text(c) + "\" stroke-width=\"" + std::to_string(thickness) +
            "\" stroke-linecap=\"round\"/>\n";
  }
  void disc(double cx, double cy, double radius, Rgb fill, Rgb rim) override {
    body += "<circle cx=\"" + number(cx) + "\" cy=\"" + number(cy) + "\" r=\"" + number(radius - 0.5) + "\" fill=\"" +
            colour_text(fill) + "\" stroke=\"" + colour_text(rim) + "\"/>\n";
  }
  void box(double x0, double y0, double x1, double y1, Rgb fill, Rgb edge) override {
    body += "<rect x=\"" + number(x0) + "\" y=\"" + number(y0) + "\" width=\"" + number(x1 - x0) + "\" height=\"" +
            number(y1 - y0) + "\" fill=\"" + colour_text(fill) + "\" stroke=\"" + colour_text(edge) + "\"/>\n";
  }
  void text(double x, double y, const std::string& s, Rgb c, Anchor anchor, bool bold, bool vertical) override {
    const char* anchors[] = {"start", "middle", "end"};
    // Vertical text: drawn level with its baseline half a line below (x, y), turned about (x, y).
    std::string e = "<text x=\"" + number(x) + "\" y=\"" + number(vertical ? y + baseline / 2 : y + baseline) + "\"";
    if (vertical) e += " transform=\"rotate(-90 " + number(x) + " " + number(y) + ")\"";
    e += " fill=\"" + colour_text(c) + "\" text-anchor=\"" + anchors[int(anchor)] + "\"";
    if (bold) e += " font-weight=\"bold\"";
    body += e + ">" + xml_escaped(s) + "</text>\n";
  }
};

void check(const std::string& path, const LinePlot& plot) {
  if (plot.width < 100 || plot.height < 100 || plot.width > 8192 || plot.height > 8192)
    throw Error(path + ": a plot of " + std::to_string(plot.width) + " x " + std::to_string(plot.height) +
                " pixels; each side must be 100 to 8192");
  if (!(plot.x_max > plot.x_min) || !(plot.y_max > plot.y_min))
    throw Error(path + ": a plot needs x_max > x_min and y_max > y_min");
}

}  // namespace

void write_line_plot(const std::string& png_path, const LinePlot& plot) {
  write_line_plot_png(png_path, plot);
  write_line_plot_svg(std::filesystem::path(png_path).replace_extension(".svg").string(), plot);
}

const uint8_t* plot_glyph(char c) {
  const int code = static_cast<unsigned char>(c);
  return code >= 32 && code <= 126 ? font[code - 32] : nullptr;
}

std::pair<double, double> round_steps(double lo, double hi) {
  const double span = hi > lo ? hi - lo : 1;
  const double power = std::pow(10.0, std::floor(std::log10(span / 4)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (span / (m * power) <= 6) {
      step = m * power;
      break;
    }
  return {step / 2, step};
}

void write_line_plot_svg(const std::string& path, const LinePlot& plot) {
  check(path, plot);
  Svg svg(Layout(plot).scale);
  draw(plot, svg);
  write_file_atomically(path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(plot.width) +
                              "\" height=\"" + std::to_string(plot.height) + "\" viewBox=\"0 0 " +
                              std::to_string(plot.width) + " " + std::to_string(plot.height) +
                              "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"" +
                              number(svg.font_size) + "\">\n<title>" + xml_escaped(plot.title) + "</title>\n"
                              "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" + svg.body + "</svg>\n");
}

void write_line_plot_png(const std::string& path, const LinePlot& plot) {
  check(path, plot);
  Canvas canvas(plot.width, plot.height, Layout(plot).scale);
  draw(plot, canvas);
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
