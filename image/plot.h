// Line plots a person can read without Python: a title, axis labels (with units), ticks with
// numbers, a light grid, polylines with a legend, and markers with a label beside them (the chosen
// point annotated). Drawn once through a painter, as an RGB PNG (a built-in 5x9 pixel font) and
// as SVG (real text), so that both show the same plot.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cupick {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

struct PlotSeries {
  std::vector<std::pair<double, double>> points;  // (x, y), joined in this order
  Rgb colour{31, 119, 180};
  std::string name;  // in the legend; a plot whose series have no name has none
};

struct PlotMarker {
  double x = 0, y = 0;
  Rgb colour{214, 39, 40};
  std::string label;  // written beside the marker ("threshold 0.3: F1 0.88")
};

struct LinePlot {
  int width = 640, height = 480;         // pixels, each 100 to 8192
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  double grid_step = 0.1;                // a grid line every grid_step along x and y...
  double label_step = 0.2;               // ...and a tick with its number every label_step
  double y_grid_step = 0, y_label_step = 0;  // other steps for y where y is not x's scale (0: as x)
  std::string title, x_label, y_label;   // empty: none, and the margin shrinks
  std::vector<PlotSeries> series;
  std::vector<PlotMarker> markers;
};

// Draws `plot` and writes it as an 8-bit RGB PNG, or as SVG: "<path>.tmp" first, renamed to
// `path`. Points outside the ranges are clipped at the image's edge, not at the frame. Characters
// outside printable ASCII are drawn as '?' in the PNG. An Error names the path.
void write_line_plot_png(const std::string& path, const LinePlot& plot);
void write_line_plot_svg(const std::string& path, const LinePlot& plot);

// Both: the PNG at `png_path`, the SVG beside it (the same name ending in .svg).
void write_line_plot(const std::string& png_path, const LinePlot& plot);

// Round steps for a range: a label step of 1, 2 or 5 times a power of ten giving 3 to 7 ticks,
// and a grid step of half of it. For plots whose range is only known when drawn (histograms, losses).
std::pair<double, double> round_steps(double lo, double hi);

// The glyph of a printable ASCII character (32-126): 9 rows top to bottom (the baseline under row
// 6), 5 bits each, the left pixel in bit 4; nullptr for any other character.
const uint8_t* plot_glyph(char c);

}  // namespace cupick
