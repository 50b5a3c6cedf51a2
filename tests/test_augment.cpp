// Augmentation (docs/BEHAVIOUR.md §5.3): each geometric step moves a bright marker and its box
// together, exactly where the step is exact (flips, quarter turns) and to a fraction of a pixel where
// it resamples (zoom); whole random plans keep markers inside their boxes; the same seed gives the
// same result.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "image/augment.h"

namespace cupick {
namespace {

// Pixels inside the box (pixel centres strictly inside its edges) set to `value`.
void draw(Image& image, const Box& b, float value) {
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      if (std::abs(x + 0.5f - b.x) < b.w / 2 && std::abs(y + 0.5f - b.y) < b.h / 2) image.at(x, y) = value;
}

// An image of 0 with a marker of 1 under every box; box edges on whole pixels.
Image with_markers(int width, int height, const std::vector<Box>& boxes) {
  Image image(width, height);
  for (const Box& b : boxes) draw(image, b, 1);
  return image;
}

// The marker pixels must be exactly the pixels under the boxes.
void expect_markers_exactly_under(const Image& image, const std::vector<Box>& boxes) {
  EXPECT_EQ(image.pixels, with_markers(image.width, image.height, boxes).pixels);
}

struct Centroid {
  double x, y, mass;
};
// Centroid of max(0, v - background) over the box grown to twice its size.
Centroid centroid_near(const Image& image, const Box& b, float background) {
  double m = 0, sx = 0, sy = 0;
  for (int y = std::max(0, int(b.y - b.h)); y < std::min(image.height, int(b.y + b.h) + 1); ++y)
    for (int x = std::max(0, int(b.x - b.w)); x < std::min(image.width, int(b.x + b.w) + 1); ++x) {
      const double v = std::max(0.f, image.at(x, y) - background);
      m += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  return {sx / m, sy / m, m};
}

// Boxes at different distances from every edge, so that a wrong flip or turn moves a box off its
// marker rather than onto another one.
const std::vector<Box> kMarkers = {{9, 7, 6, 4}, {30, 20, 10, 8}, {15, 33, 4, 6}};

TEST(Augment, FlipsAreExact) {
  for (Flip how : {Flip::none, Flip::both, Flip::vertical, Flip::horizontal}) {
    std::vector<Box> boxes = kMarkers;
    Image image = with_markers(48, 40, boxes);
    flip(image, boxes, how);
    expect_markers_exactly_under(image, boxes);
  }
  std::vector<Box> boxes = {{9, 7, 6, 4}};
  Image image = with_markers(48, 40, boxes);
  flip(image, boxes, Flip::horizontal);
  EXPECT_EQ(boxes[0].x, 39);
  EXPECT_EQ(boxes[0].y, 7);
  flip(image, boxes, Flip::vertical);
  EXPECT_EQ(boxes[0].x, 39);
  EXPECT_EQ(boxes[0].y, 33);
}

TEST(Augment, QuarterTurnsAreExact) {
  for (int turns = -1; turns <= 4; ++turns) {
    for (auto [w, h] : {std::pair{40, 40}, std::pair{48, 40}}) {
      std::vector<Box> boxes = kMarkers;
      Image image = with_markers(w, h, boxes);
      rotate_quarter_turns(image, boxes, turns);
      const bool odd = (turns % 2) != 0;
      EXPECT_EQ(image.width, odd ? h : w);
      EXPECT_EQ(image.height, odd ? w : h);
      expect_markers_exactly_under(image, boxes);
    }
  }
  // Clockwise as displayed: the top-left corner region goes to the top-right.
  std::vector<Box> boxes = {{5, 3, 10, 6, 1, 10, 6}};
  Image image(40, 30);
  rotate_quarter_turns(image, boxes, 1);
  EXPECT_EQ(boxes[0].x, 27);  // height - y
  EXPECT_EQ(boxes[0].y, 5);
  EXPECT_EQ(boxes[0].w, 6);
  EXPECT_EQ(boxes[0].h, 10);
  EXPECT_EQ(boxes[0].est_w, 6);
  EXPECT_EQ(boxes[0].est_h, 10);
}

TEST(Augment, ZoomCropMovesMarkersWithBoxes) {
  for (double zoom : {1.0, 1.03, 1.1}) {
    for (auto [cx, cy] : {std::pair{0.0, 0.0}, std::pair{1.7, 0.4}, std::pair{4.8, 4.0}}) {
      std::vector<Box> boxes = kMarkers;
      Image image = with_markers(48, 40, boxes);
      zoom_crop(image, boxes, zoom, cx, cy);
      ASSERT_EQ(boxes.size(), kMarkers.size());
      for (size_t i = 0; i < boxes.size(); ++i) {
        SCOPED_TRACE("zoom " + std::to_string(zoom) + " box " + std::to_string(i));
        EXPECT_FLOAT_EQ(boxes[i].w, float(kMarkers[i].w * zoom));
        EXPECT_FLOAT_EQ(boxes[i].x, float(kMarkers[i].x * zoom - cx));
        const Centroid c = centroid_near(image, boxes[i], 0);
        EXPECT_NEAR(c.x, boxes[i].x, 0.05);
        EXPECT_NEAR(c.y, boxes[i].y, 0.05);
        // The marker's mass grows with the area: zoom^2 pixels per old pixel.
        EXPECT_NEAR(c.mass, kMarkers[i].w * kMarkers[i].h * zoom * zoom, 0.02 * c.mass);
      }
    }
  }
}

TEST(Augment, ZoomCropDropsBoxesWhoseCentreLeaves) {
  std::vector<Box> boxes = {{1, 20, 6, 6}, {47, 20, 6, 6}, {24, 0.5f, 6, 6}, {24, 39.5f, 6, 6}, {24, 20, 30, 30}};
  Image image(48, 40);
  // x -> 1.1 x - 2: 1 -> -0.9 (gone), 47 -> 49.7 (gone); y -> 1.1 y - 1: 0.5 -> -0.45 (gone),
  // 39.5 -> 42.45 (gone); the large central box stays, its edges past the image.
  zoom_crop(image, boxes, 1.1, 2, 1);
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_FLOAT_EQ(boxes[0].x, 24 * 1.1f - 2);
  EXPECT_FLOAT_EQ(boxes[0].w, 33);

  // On the edge: a centre at exactly 0 stays, at exactly the width goes ([0, width)).
  std::vector<Box> edge = {{0, 10, 4, 4}, {48, 10, 4, 4}};
  zoom_crop(image, edge, 1, 0, 0);
  ASSERT_EQ(edge.size(), 1u);
  EXPECT_EQ(edge[0].x, 0);
}

// The geometry of random plans (intensity changes left out): markers stay under their boxes to a
// fraction of a pixel, for square and oblong images.
TEST(Augment, RandomGeometryKeepsMarkersUnderBoxes) {
  for (auto [w, h] : {std::pair{48, 48}, std::pair{48, 40}}) {
    for (unsigned seed = 0; seed < 60; ++seed) {
      std::mt19937 rng(seed);
      std::vector<Box> boxes = kMarkers;
      Image image = with_markers(w, h, boxes);
      AugmentPlan plan = plan_augment(w, h, rng);
      plan.noise = plan.add = plan.contrast = plan.multiply = plan.dropout = plan.gaussian_blur = std::nullopt;
      plan.box_blur = std::nullopt;
      apply_augment(image, boxes, plan, rng);
      for (const Box& b : boxes) {
        const Centroid c = centroid_near(image, b, 0);
        ASSERT_NEAR(c.x, b.x, 0.05) << "seed " << seed;
        ASSERT_NEAR(c.y, b.y, 0.05) << "seed " << seed;
      }
    }
  }
}

// Whole random plans, intensity changes included: every kept box is inside the image, positive, and
// still sits on its marker (the contrast between box and surroundings survives, and the marker's
// centroid is the box centre to about a pixel); boxes well inside are never dropped.
TEST(Augment, RandomPlansKeepMarkersUnderBoxes) {
  int kept = 0, changes = 0;
  for (auto [w, h] : {std::pair{64, 64}, std::pair{64, 48}}) {
    const std::vector<Box> markers = {{16, 12, 8, 8}, {44, 30, 10, 10}, {20, 38, 8, 6}};
    for (unsigned seed = 0; seed < 60; ++seed) {
      std::mt19937 rng(seed);
      std::vector<Box> boxes = markers;
      Image image = with_markers(w, h, boxes);
      for (float& v : image.pixels) v = 10 + 50 * v;  // background 10, markers 60
      {
        std::mt19937 peek(seed);
        const AugmentPlan p = plan_augment(w, h, peek);
        changes += p.noise.has_value() + p.add.has_value() + p.contrast.has_value() + p.multiply.has_value() +
                   p.dropout.has_value() + (p.gaussian_blur.has_value() || p.box_blur.has_value());
      }
      augment(image, boxes, rng);
      ASSERT_EQ(boxes.size(), markers.size()) << "seed " << seed;  // all well inside
      kept += int(boxes.size());
      // The background is the most common level: the median, whatever the intensity changes did.
      std::vector<float> sorted = image.pixels;
      std::nth_element(sorted.begin(), sorted.begin() + std::ptrdiff_t(sorted.size() / 2), sorted.end());
      const float background = sorted[sorted.size() / 2];
      for (const Box& b : boxes) {
        ASSERT_GE(b.x, 0);
        ASSERT_LT(b.x, image.width);
        ASSERT_GE(b.y, 0);
        ASSERT_LT(b.y, image.height);
        ASSERT_GT(b.w, 0);
        ASSERT_GT(b.h, 0);
        // Mean over the box's inner half against the background: a tenth of the
        // original contrast is left (contrast x 0.5, multiply x 0.5 and a wide blur at worst).
        double inner = 0;
        int count = 0;
        for (int y = int(b.y - b.h / 4); y < int(b.y + b.h / 4); ++y)
          for (int x = int(b.x - b.w / 4); x < int(b.x + b.w / 4); ++x, ++count) inner += image.at(x, y);
        ASSERT_GT(inner / count - background, 0.1 * 50) << "seed " << seed;
        const Centroid c = centroid_near(image, b, background);
        ASSERT_NEAR(c.x, b.x, 1.0) << "seed " << seed;
        ASSERT_NEAR(c.y, b.y, 1.0) << "seed " << seed;
      }
    }
  }
  EXPECT_EQ(kept, 2 * 60 * 3);
  EXPECT_GT(changes, 100);  // the intensity changes were really exercised
}

TEST(Augment, SameSeedSameResult) {
  auto run = [](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<Box> boxes = kMarkers;
    Image image = with_markers(48, 48, boxes);
    for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] += float(i % 7) / 7;
    augment(image, boxes, rng);
    return std::pair{image, boxes};
  };
  for (unsigned seed : {1u, 2u, 99u}) {
    const auto [a, ab] = run(seed);
    const auto [b, bb] = run(seed);
    EXPECT_EQ(a.pixels, b.pixels);
    ASSERT_EQ(ab.size(), bb.size());
    for (size_t i = 0; i < ab.size(); ++i) {
      EXPECT_EQ(ab[i].x, bb[i].x);
      EXPECT_EQ(ab[i].y, bb[i].y);
      EXPECT_EQ(ab[i].w, bb[i].w);
    }
  }
  EXPECT_NE(run(1).first.pixels, run(2).first.pixels);
}

// The plans cover what docs/BEHAVIOUR.md §5.3 lists, in its ranges.
TEST(Augment, PlansCoverTheRanges) {
  std::mt19937 rng(2024);
  std::set<Flip> flips;
  std::set<int> square_turns, oblong_turns, counts;
  int gaussian = 0, box = 0;
  for (int i = 0; i < 3000; ++i) {
    const bool square = i % 2 == 0;
    const int w = 100, h = square ? 100 : 80;
    const AugmentPlan p = plan_augment(w, h, rng);
    ASSERT_GE(p.zoom, 1);
    ASSERT_LT(p.zoom, 1.1);
    ASSERT_GE(p.crop_x, 0);
    ASSERT_LE(p.crop_x, w * (p.zoom - 1));
    ASSERT_GE(p.crop_y, 0);
    ASSERT_LE(p.crop_y, h * (p.zoom - 1));
    flips.insert(p.flip);
    (square ? square_turns : oblong_turns).insert(p.quarter_turns);
    ASSERT_TRUE(!p.noise || (*p.noise >= 0 && *p.noise < 0.3));
    ASSERT_TRUE(!p.add || (*p.add >= -0.15 && *p.add < 0.15));
    ASSERT_TRUE(!p.contrast || (*p.contrast >= 0.5 && *p.contrast < 2));
    ASSERT_TRUE(!p.multiply || (*p.multiply >= 0.5 && *p.multiply < 1.5));
    ASSERT_TRUE(!p.dropout || (*p.dropout >= 0.01 && *p.dropout < 0.1));
    ASSERT_TRUE(!p.gaussian_blur || (*p.gaussian_blur >= 0 && *p.gaussian_blur < 3));
    ASSERT_TRUE(!p.box_blur || (*p.box_blur >= 2 && *p.box_blur <= 6));
    ASSERT_FALSE(p.gaussian_blur && p.box_blur);
    gaussian += p.gaussian_blur.has_value();
    box += p.box_blur.has_value();
    counts.insert(p.noise.has_value() + p.add.has_value() + p.contrast.has_value() + p.multiply.has_value() +
                  p.dropout.has_value() + (p.gaussian_blur || p.box_blur));
  }
  EXPECT_EQ(flips.size(), 4u);
  EXPECT_EQ(square_turns, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(oblong_turns, (std::set<int>{0, 2}));
  EXPECT_EQ(counts, (std::set<int>{0, 1, 2, 3, 4}));
  EXPECT_GT(gaussian, 100);
  EXPECT_GT(box, 100);
}

// The intensity changes one at a time, on an image of known statistics.
class AugmentIntensity : public testing::Test {
 protected:
  void SetUp() override {
    image_ = Image(64, 64);
    std::mt19937 rng(1);
    for (float& v : image_.pixels) v = float(rng() % 1000) / 100;  // mean ~5, sd ~2.89
  }
  Image apply(const AugmentPlan& plan) {
    Image out = image_;
    std::vector<Box> boxes;
    std::mt19937 rng(8);
    apply_augment(out, boxes, plan, rng);
    return out;
  }
  static double mean(const Image& image) {
    double s = 0;
    for (float v : image.pixels) s += v;
    return s / double(image.pixels.size());
  }
  static double sd(const Image& image) {
    const double m = mean(image);
    double s = 0;
    for (float v : image.pixels) s += (v - m) * (v - m);
    return std::sqrt(s / double(image.pixels.size()));
  }
  Image image_;
};

TEST_F(AugmentIntensity, ChangesDoWhatTheySay) {
  const double sd0 = sd(image_), mean0 = mean(image_);
  AugmentPlan none;
  EXPECT_EQ(apply(none).pixels, image_.pixels);

  AugmentPlan add;
  add.add = 0.1;
  EXPECT_NEAR(mean(apply(add)) - mean0, 0.1 * sd0, 1e-4);

  AugmentPlan mul;
  mul.multiply = 1.4;
  EXPECT_NEAR(mean(apply(mul)), 1.4 * mean0, 1e-3);

  AugmentPlan con;
  con.contrast = 0.5;
  EXPECT_NEAR(sd(apply(con)), 0.5 * sd0, 1e-3);

  AugmentPlan noise;
  noise.noise = 0.3;  // independent noise of sd 0.3 sd0 adds in quadrature
  EXPECT_NEAR(sd(apply(noise)), sd0 * std::sqrt(1 + 0.09), 0.02 * sd0);

  AugmentPlan drop;
  drop.dropout = 0.05;
  const Image dropped = apply(drop);
  int changed = 0;
  for (size_t i = 0; i < dropped.pixels.size(); ++i) {
    if (dropped.pixels[i] == image_.pixels[i]) continue;
    ++changed;
    EXPECT_NEAR(dropped.pixels[i], mean0, 1e-4);
  }
  EXPECT_NEAR(changed / double(dropped.pixels.size()), 0.05, 0.01);
}

// Blurs keep a constant image, keep the mean and do not move a spot (even box widths included).
TEST_F(AugmentIntensity, BlursAreCentred) {
  for (int kind = 0; kind < 2; ++kind)
    for (double size : {0.0, 0.7, 2.0, 2.9, 4.0, 5.0, 6.0}) {
      AugmentPlan plan;
      if (kind == 0 && size <= 3)
        plan.gaussian_blur = size;
      else if (kind == 1 && size >= 2)
        plan.box_blur = int(size);
      else
        continue;
      SCOPED_TRACE((kind == 0 ? "gaussian " : "box ") + std::to_string(size));
      Image flat(40, 30, 2.5f);
      std::vector<Box> none;
      std::mt19937 rng(1);
      apply_augment(flat, none, plan, rng);
      for (float v : flat.pixels) ASSERT_NEAR(v, 2.5f, 1e-5);

      std::vector<Box> spot = {{21, 14, 2, 2}};
      Image image = with_markers(40, 30, spot);
      apply_augment(image, none, plan, rng);
      const Centroid c = centroid_near(image, Box{21, 14, 16, 16}, 0);
      EXPECT_NEAR(c.x, 21, 1e-4);
      EXPECT_NEAR(c.y, 14, 1e-4);
      EXPECT_NEAR(c.mass, 4, 1e-4);
    }
  EXPECT_LT(sd(apply([] { AugmentPlan p; p.box_blur = 6; return p; }())), 0.5 * sd(image_));
}

}  // namespace
}  // namespace cupick
