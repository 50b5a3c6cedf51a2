// The GPU low-pass filter (cuFFT, image/preprocess.h GpuLowpass) against the CPU reference (FFTW):
// the same padding, transfer function and normalisation, so the two agree to float rounding. The
// GPU cases skip where there is no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "engine/context.h"
#include "image/preprocess.h"
#include "io/mrc.h"
#include "kernels/lowpass.h"
#include "tests/gpu_skip.h"
#include "tests/temp_dir.h"

namespace cupick {
namespace {

// Noise plus a gradient and a sharp-edged block: every frequency, and a mean far from 0.
Image test_image(int width, int height, unsigned seed) {
  Image image(width, height);
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at(x, y) = 5 + noise(rng) + 0.01f * x - 0.02f * y + (x > width / 3 && y < height / 2 ? 2.f : 0.f);
  return image;
}

// max |gpu - cpu| over max |cpu|: float transforms of a few hundred thousand points round to a few
// 1e-7 of the largest value; a wrong layout, shift or normalisation gives order 1.
double relative_difference(const Image& gpu, const Image& cpu) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < cpu.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(double(gpu.pixels[i]) - cpu.pixels[i]));
    scale = std::max(scale, std::abs(double(cpu.pixels[i])));
  }
  return worst / scale;
}

TEST(LowpassGpu, NeedsAGpuContext) {
  Context cpu;
  EXPECT_THROW(GpuLowpass{cpu}, Error);
}

// The shared per-pixel steps, checked where no GPU is needed: the gain is the transfer function of
// the radius, normalised by the transform size, symmetric in ky <-> padded_height - ky.
TEST(LowpassGpu, SpectrumGainIsTheRadialTransferFunction) {
  const int pw = 64, ph = 32;
  const double cutoff = 0.25, n = double(pw) * ph;
  EXPECT_FLOAT_EQ(kernels::lowpass_spectrum_gain(0, 0, pw, ph, cutoff), float(1 / n));
  EXPECT_FLOAT_EQ(kernels::lowpass_spectrum_gain(8, 0, pw, ph, cutoff), float(1 / n));        // f = 0.125, edge start
  EXPECT_FLOAT_EQ(kernels::lowpass_spectrum_gain(12, 0, pw, ph, cutoff), float(0.5 / n));     // f = 0.1875, mid-edge
  EXPECT_EQ(kernels::lowpass_spectrum_gain(16, 0, pw, ph, cutoff), 0.f);                      // f = cutoff
  EXPECT_FLOAT_EQ(kernels::lowpass_spectrum_gain(0, 6, pw, ph, cutoff), float(0.5 / n));      // fy = 0.1875
  EXPECT_EQ(kernels::lowpass_spectrum_gain(0, 6, pw, ph, cutoff), kernels::lowpass_spectrum_gain(0, ph - 6, pw, ph, cutoff));
  EXPECT_EQ(kernels::lowpass_spectrum_gain(3, 4, pw, ph, cutoff), kernels::lowpass_spectrum_gain(3, ph - 4, pw, ph, cutoff));
  EXPECT_EQ(kernels::mirror_index(-1, 5), 0);
  EXPECT_EQ(kernels::mirror_index(5, 5), 4);
  EXPECT_EQ(kernels::mirror_index(-6, 5), 4);
  EXPECT_EQ(kernels::mirror_index(12, 5), 2);
}

// Odd, non-square sizes (so the Hermitian half width, the row order and the centring all show),
// several cutoffs, and sizes that come back after another (the plan cache keeps two, the third
// evicts the oldest).
TEST(LowpassGpu, MatchesTheCpuFilter) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  GpuLowpass filter(*gpu);
  struct Case {
    int width, height;
    double cutoff;
  };
  const Case cases[] = {{301, 187, 0.1}, {301, 187, 0.37}, {187, 301, 0.1},  {77, 513, 0.5},
                        {301, 187, 0.1}, {1000, 3, 0.2},   {5, 1, 0.5},     {187, 301, 0.05}};
  for (const Case& c : cases) {
    const Image image = test_image(c.width, c.height, unsigned(c.width * 7 + c.height));
    const Image cpu = lowpass(image, c.cutoff);
    const Image out = filter.filter(image, c.cutoff);
    ASSERT_EQ(out.width, c.width);
    ASSERT_EQ(out.height, c.height);
    EXPECT_LT(relative_difference(out, cpu), 1e-5) << c.width << " x " << c.height << " at cutoff " << c.cutoff;
  }
  EXPECT_THROW(filter.filter(test_image(10, 10, 1), 0.6), Error);
  Image broken(10, 10);
  broken.pixels.pop_back();
  EXPECT_THROW(filter.filter(broken, 0.1), Error);
}

// The cache takes the GPU's result as it takes the CPU's, and serves it back.
TEST(LowpassGpu, CachedResultComesFromTheGpu) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  test::TempDir dir;
  const Image image = test_image(120, 90, 3);
  const std::string micrograph = dir / "mic.mrc";
  write_mrc(micrograph, image);
  GpuLowpass filter(*gpu);
  const Image first = lowpass_cached(micrograph, image, 0.2, dir / "filtered", &filter);
  EXPECT_TRUE(std::filesystem::exists(lowpass_cache_path(micrograph, image, 0.2, dir / "filtered")));
  EXPECT_EQ(first.pixels, filter.filter(image, 0.2).pixels);
  EXPECT_EQ(lowpass_cached(micrograph, image, 0.2, dir / "filtered").pixels, first.pixels);
  EXPECT_LT(relative_difference(first, lowpass(image, 0.2)), 1e-5);
}

}  // namespace
}  // namespace cupick
