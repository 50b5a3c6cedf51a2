// Plots (image/plot.h): the font covers printable ASCII, the PNG has its text where the layout puts
// it, the SVG is well-formed XML (xmllint, Debian's libxml2-utils) holding the same text, escaped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "image/plot.h"
#include "io/micrograph.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

namespace cupick {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

LinePlot example() {
  LinePlot p;
  p.title = "Training: loss per epoch";
  p.x_label = "epoch";
  p.y_label = "loss";
  p.x_min = 1, p.x_max = 5, p.grid_step = 0.5, p.label_step = 1;
  p.y_max = 2, p.y_grid_step = 0.25, p.y_label_step = 0.5;
  p.series.push_back(PlotSeries{{{1, 1.8}, {2, 1.2}, {3, 0.9}, {4, 0.8}, {5, 0.7}}, Rgb{31, 119, 180}, "loss & <training>"});
  p.series.push_back(PlotSeries{{{1, 1.9}, {2, 1.4}, {3, 1.1}, {4, 1.05}, {5, 1.1}}, Rgb{255, 127, 14}, "val_loss"});
  p.markers.push_back(PlotMarker{4, 1.05, Rgb{214, 39, 40}, "best at epoch 4"});
  return p;
}

TEST(Plot, EveryPrintableCharacterHasAGlyph) {
  for (int c = 33; c <= 126; ++c) {
    const uint8_t* g = plot_glyph(char(c));
    ASSERT_NE(g, nullptr) << char(c);
    int ink = 0;
    for (int row = 0; row < 9; ++row) ink += g[row] != 0;
    EXPECT_GT(ink, 0) << "'" << char(c) << "' is blank";
    for (int row = 0; row < 9; ++row) EXPECT_LT(g[row], 32) << char(c) << ": more than 5 columns";
  }
  const uint8_t* space = plot_glyph(' ');
  ASSERT_NE(space, nullptr);
  for (int row = 0; row < 9; ++row) EXPECT_EQ(space[row], 0);
  EXPECT_EQ(plot_glyph('\n'), nullptr);
  EXPECT_EQ(plot_glyph(char(0xC3)), nullptr);
  // No two letters or digits look alike.
  for (int a = 33; a <= 126; ++a)
    for (int b = a + 1; b <= 126; ++b)
      EXPECT_NE(std::string(reinterpret_cast<const char*>(plot_glyph(char(a))), 9),
                std::string(reinterpret_cast<const char*>(plot_glyph(char(b))), 9))
          << char(a) << " and " << char(b);
}

TEST(Plot, PngHasItsTitleAboveTheFrameAndNothingWhereThereIsNoText) {
  test::TempDir dir;
  const LinePlot with = example();
  LinePlot without = with;
  without.title.clear();
  write_line_plot_png(dir / "with.png", with);
  write_line_plot_png(dir / "without.png", without);
  const Image a = read_micrograph(dir / "with.png"), b = read_micrograph(dir / "without.png");
  ASSERT_EQ(a.width, 640);
  ASSERT_EQ(a.height, 480);
  // The title's letters are 14 pixels high from row 12 (scale 2), centred: dark pixels there with
  // a title, none without; the left tenth of the image stays white in that band either way.
  auto dark_in = [](const Image& m, int x0, int x1, int y0, int y1) {
    int n = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) n += m.at(x, y) < 128;
    return n;
  };
  EXPECT_GT(dark_in(a, 200, 440, 12, 26), 100);
  EXPECT_EQ(dark_in(b, 200, 440, 0, 14), 0);
  EXPECT_EQ(dark_in(a, 0, 60, 0, 30), 0);
  // The y label runs up the left edge, the x label under the tick numbers.
  EXPECT_GT(dark_in(a, 10, 28, 150, 330), 20);
  EXPECT_GT(dark_in(a, 250, 390, a.height - 30, a.height - 8), 20);
}

TEST(Plot, SvgIsWellFormedAndHoldsTheText) {
  test::TempDir dir;
  const LinePlot p = example();
  write_line_plot(dir / "curves.png", p);
  ASSERT_TRUE(fs::exists(dir / "curves.png"));
  const std::string svg = slurp(dir / "curves.svg");
  for (const char* text : {">Training: loss per epoch</text>", ">epoch</text>", ">loss</text>",
                           ">loss &amp; &lt;training&gt;</text>", ">val_loss</text>", ">best at epoch 4</text>"})
    EXPECT_EQ(count(svg, text), 1u) << text << " in\n" << svg;
  EXPECT_EQ(count(svg, "<title>Training: loss per epoch</title>"), 1u);
  // 4 segments a series, and the legend's strokes; the marker a circle.
  EXPECT_EQ(count(svg, "stroke=\"#1f77b4\" stroke-width=\"2\""), 5u);
  EXPECT_EQ(count(svg, "stroke=\"#ff7f0e\" stroke-width=\"2\""), 5u);
  EXPECT_EQ(count(svg, "<circle"), 1u);
  // Ticks: x 1..5, y 0..2 by 0.5.
  for (const char* tick : {">1</text>", ">5</text>", ">0.5</text>", ">1.5</text>", ">2</text>"})
    EXPECT_GE(count(svg, tick), 1u) << tick;
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no xmllint here (Debian's libxml2-utils; scripts/test.sh installs it)";
  EXPECT_EQ(std::system(("xmllint --noout " + (dir / "curves.svg") + " 2>" + (dir / "xmllint.txt")).c_str()), 0)
      << slurp(dir / "xmllint.txt");
}

TEST(Plot, RoundSteps) {
  EXPECT_EQ(round_steps(0, 1), std::make_pair(0.1, 0.2));
  EXPECT_EQ(round_steps(24, 32), std::make_pair(1.0, 2.0));
  EXPECT_EQ(round_steps(1, 60), std::make_pair(5.0, 10.0));
  const auto [grid, label] = round_steps(0, 0.11);
  EXPECT_DOUBLE_EQ(label, 0.02);
  EXPECT_DOUBLE_EQ(grid, 0.01);
}

}  // namespace
}  // namespace cupick
