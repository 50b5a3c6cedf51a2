#include "image/augment.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "image/preprocess.h"

namespace cupick {

namespace {

// ---- Random numbers from raw mt19937 draws (the same on every platform) ----

// [0, 1) from 53 random bits of two draws.
double uniform01(std::mt19937& rng) {
  const uint64_t hi = rng() >> 5, lo = rng() >> 6;  // 27 + 26 bits
  return double(hi * 67108864 + lo) / 9007199254740992.0;  // / 2^53
}

double uniform(std::mt19937& rng, double lo, double hi) { return lo + (hi - lo) * uniform01(rng); }

// An integer in [0, n): floor(draw * n / 2^32). Its bias, at most n / 2^32, does not matter here.
int uniform_int(std::mt19937& rng, int n) { return int((uint64_t(rng()) * uint64_t(n)) >> 32); }

// Two independent N(0, 1) values (Box-Muller) from two draws; 32 bits each is plenty for noise.
void normal_pair(std::mt19937& rng, double& a, double& b) {
  const double u1 = (double(rng()) + 0.5) / 4294967296.0;  // (0, 1): the log stays finite
  const double u2 = double(rng()) / 4294967296.0;
  const double r = std::sqrt(-2 * std::log(u1)), angle = 2 * std::numbers::pi * u2;
  a = r * std::cos(angle);
  b = r * std::sin(angle);
}

// ---- Pixel statistics and filters ----

struct Stats {
  double mean, sd;
};

Stats stats(const Image& image) {
  double sum = 0;
  for (float v : image.pixels) sum += v;
  const double mean = sum / double(image.pixels.size());
  double squares = 0;
  for (float v : image.pixels) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / double(image.pixels.size()))};
}

float median(const Image& image) {
  std::vector<float> values = image.pixels;
  const auto middle = values.begin() + std::ptrdiff_t(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

// Index i of the mirror-extended line 0..n-1, n-1..0, ... (edge pixels repeated).
int mirror(int i, int n) {
  const int period = 2 * n;
  int m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// The image convolved with `kernel` (odd length, centred) along x, then along y; mirrored edges.
void convolve_separable(Image& image, const std::vector<double>& kernel) {
  const int radius = int(kernel.size() / 2), w = image.width, h = image.height;
  std::vector<float> line;
  // Along x.
  line.resize(size_t(w + 2 * radius));
  for (int y = 0; y < h; ++y) {
    float* row = &image.pixels[size_t(y) * size_t(w)];
    for (int i = -radius; i < w + radius; ++i) line[size_t(i + radius)] = row[mirror(i, w)];
    for (int x = 0; x < w; ++x) {
      double sum = 0;
      for (size_t k = 0; k < kernel.size(); ++k) sum += kernel[k] * line[size_t(x) + k];
      row[x] = float(sum);
    }
  }
  // Along y.
  line.resize(size_t(h + 2 * radius));
  for (int x = 0; x < w; ++x) {
    for (int i = -radius; i < h + radius; ++i)
      line[size_t(i + radius)] = image.pixels[size_t(mirror(i, h)) * size_t(w) + size_t(x)];
    for (int y = 0; y < h; ++y) {
      double sum = 0;
      for (size_t k = 0; k < kernel.size(); ++k) sum += kernel[k] * line[size_t(y) + k];
      image.pixels[size_t(y) * size_t(w) + size_t(x)] = float(sum);
    }
  }
}

void gaussian_blur(Image& image, double sigma) {
  const int radius = int(std::ceil(3 * sigma));
  if (radius < 1) return;  // sigma 0
  std::vector<double> kernel(size_t(2 * radius + 1));
  double sum = 0;
  for (int d = -radius; d <= radius; ++d) {
    kernel[size_t(d + radius)] = std::exp(-0.5 * d * d / (sigma * sigma));
    sum += kernel[size_t(d + radius)];
  }
  for (double& k : kernel) k /= sum;
  convolve_separable(image, kernel);
}

// The mean over a window `width` pixels wide CENTRED on each pixel: for an even width the two end
// taps weigh one half, so that the blur does not shift the image by half a pixel (which the boxes
// would not follow).
void box_blur(Image& image, int width) {
  const int radius = width / 2;
  std::vector<double> kernel(size_t(2 * radius + 1), 1.0 / width);
  if (width % 2 == 0) kernel.front() = kernel.back() = 0.5 / width;
  convolve_separable(image, kernel);
}

// One quarter turn clockwise as displayed: new pixel (i, j) is old pixel (j, height - 1 - i).
void quarter_turn(Image& image, std::vector<Box>& boxes) {
  const int w = image.width, h = image.height;
  Image turned(h, w);
  for (int j = 0; j < w; ++j)
    for (int i = 0; i < h; ++i) turned.at(i, j) = image.at(j, h - 1 - i);
  image = std::move(turned);
  for (Box& b : boxes) {
    const float x = b.x;
    b.x = float(h) - b.y;
    b.y = x;
    std::swap(b.w, b.h);
    std::swap(b.est_w, b.est_h);
  }
}

}  // namespace

// ---- Geometry ----

void zoom_crop(Image& image, std::vector<Box>& boxes, double zoom, double crop_x, double crop_y) {
  if (!(zoom > 0)) throw Error("augment: zoom " + std::to_string(zoom) + " is not positive");
  image = resample_bilinear(image, image.width, image.height, 1 / zoom, 1 / zoom, crop_x, crop_y);
  std::vector<Box> kept;
  for (const Box& b : boxes) {
    Box z = b;
    z.x = float(b.x * zoom - crop_x);
    z.y = float(b.y * zoom - crop_y);
    z.w = float(b.w * zoom);
    z.h = float(b.h * zoom);
    z.est_w = float(b.est_w * zoom);
    z.est_h = float(b.est_h * zoom);
    if (z.x >= 0 && z.x < float(image.width) && z.y >= 0 && z.y < float(image.height)) kept.push_back(z);
  }
  boxes = std::move(kept);
}

void flip(Image& image, std::vector<Box>& boxes, Flip how) {
  const int w = image.width, h = image.height;
  const bool columns = how == Flip::horizontal || how == Flip::both;
  const bool rows = how == Flip::vertical || how == Flip::both;
  if (columns) {
    for (int y = 0; y < h; ++y) {
      float* row = &image.pixels[size_t(y) * size_t(w)];
      std::reverse(row, row + w);
    }
    for (Box& b : boxes) b.x = float(w) - b.x;
  }
  if (rows) {
    for (int y = 0; y < h / 2; ++y)
      std::swap_ranges(&image.pixels[size_t(y) * size_t(w)], &image.pixels[size_t(y + 1) * size_t(w)],
                       &image.pixels[size_t(h - 1 - y) * size_t(w)]);
    for (Box& b : boxes) b.y = float(h) - b.y;
  }
}

void rotate_quarter_turns(Image& image, std::vector<Box>& boxes, int turns) {
  turns = ((turns % 4) + 4) % 4;
  if (turns == 2) return flip(image, boxes, Flip::both);  // in place, and exact
  for (int t = 0; t < turns; ++t) quarter_turn(image, boxes);
}

// ---- The plan ----

AugmentPlan plan_augment(int width, int height, std::mt19937& rng) {
  AugmentPlan p;
  p.zoom = uniform(rng, 1, 1.1);
  p.crop_x = uniform(rng, 0, width * (p.zoom - 1));
  p.crop_y = uniform(rng, 0, height * (p.zoom - 1));
  constexpr Flip flips[] = {Flip::none, Flip::both, Flip::vertical, Flip::horizontal};
  p.flip = flips[uniform_int(rng, 4)];
  // A quarter turn would swap width and height: only a square image may take one.
  p.quarter_turns = width == height ? uniform_int(rng, 4) : 2 * uniform_int(rng, 2);

  // How many intensity changes, then which: the first `count` of a random permutation of the six.
  const int count = uniform_int(rng, 5);
  int order[6] = {0, 1, 2, 3, 4, 5};
  for (int i = 0; i < count; ++i) std::swap(order[i], order[i + uniform_int(rng, 6 - i)]);
  bool chosen[6] = {};
  for (int i = 0; i < count; ++i) chosen[order[i]] = true;
  // Parameters in the list's order, so that the draws do not depend on the permutation's order.
  if (chosen[0]) p.noise = uniform(rng, 0, 0.3);
  if (chosen[1]) p.add = uniform(rng, -0.15, 0.15);
  if (chosen[2]) p.contrast = uniform(rng, 0.5, 2);
  if (chosen[3]) p.multiply = uniform(rng, 0.5, 1.5);
  if (chosen[4]) p.dropout = uniform(rng, 0.01, 0.1);
  if (chosen[5]) {
    if (uniform_int(rng, 2) == 0)
      p.gaussian_blur = uniform(rng, 0, 3);
    else
      p.box_blur = 2 + uniform_int(rng, 5);
  }
  return p;
}

void apply_augment(Image& image, std::vector<Box>& boxes, const AugmentPlan& plan, std::mt19937& rng) {
  if (image.width <= 0 || image.height <= 0 || image.pixels.size() != size_t(image.width) * size_t(image.height))
    throw Error("augment: not an image");
  zoom_crop(image, boxes, plan.zoom, plan.crop_x, plan.crop_y);
  flip(image, boxes, plan.flip);
  rotate_quarter_turns(image, boxes, plan.quarter_turns);

  // Strengths are relative to the image as it is when each change comes, so they mean the same
  // whatever the scale of the pixel values.
  if (plan.noise) {
    const double sigma = *plan.noise * stats(image).sd;
    std::vector<float>& px = image.pixels;
    for (size_t i = 0; i < px.size(); i += 2) {
      double a, b;
      normal_pair(rng, a, b);
      px[i] += float(sigma * a);
      if (i + 1 < px.size()) px[i + 1] += float(sigma * b);
    }
  }
  if (plan.add) {
    const float shift = float(*plan.add * stats(image).sd);
    for (float& v : image.pixels) v += shift;
  }
  if (plan.contrast) {
    const float m = median(image), factor = float(*plan.contrast);
    for (float& v : image.pixels) v = m + factor * (v - m);
  }
  if (plan.multiply) {
    const float factor = float(*plan.multiply);
    for (float& v : image.pixels) v *= factor;
  }
  if (plan.dropout) {
    const float mean = float(stats(image).mean);
    // A pixel goes when its draw falls below fraction x 2^32.
    const uint64_t threshold = uint64_t(*plan.dropout * 4294967296.0);
    for (float& v : image.pixels)
      if (rng() < threshold) v = mean;
  }
  if (plan.gaussian_blur) gaussian_blur(image, *plan.gaussian_blur);
  if (plan.box_blur) box_blur(image, *plan.box_blur);
}

void augment(Image& image, std::vector<Box>& boxes, std::mt19937& rng) {
  const AugmentPlan plan = plan_augment(image.width, image.height, rng);
  apply_augment(image, boxes, plan, rng);
}

}  // namespace cupick
