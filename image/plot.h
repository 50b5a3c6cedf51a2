// A tiny line-plot writer, enough to look at a curve without Python: a white RGB PNG with a frame,
// a light grid, ticks labelled with numbers (a built-in 3x5 pixel font, doubled), polylines and
// round markers. No text besides the numbers: whoever writes the plot says what the axes are.
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
};

struct PlotMarker {
  double x = 0, y = 0;
  Rgb colour{214, 39, 40};
};

struct LinePlot {
  int width = 640, height = 480;         // pixels, each 100 to 8192
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  double grid_step = 0.1;                // a grid line every grid_step along both axes
  double label_step = 0.2;               // a tick with its number every label_step
  std::vector<PlotSeries> series;
  std::vector<PlotMarker> markers;
};

// Draws `plot` and writes it as an 8-bit RGB PNG: "<path>.tmp" first, renamed to `path`. Points
// outside the ranges are clipped at the image's edge, not at the frame. An Error names the path.
void write_line_plot_png(const std::string& path, const LinePlot& plot);

}  // namespace cupick
