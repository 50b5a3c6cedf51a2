// Preprocessing (docs/BEHAVIOUR.md §3): the low-pass filter and its cache, the network input size,
// resizing and the box maps, normalisation, tensors and patches, on small synthetic images with
// known answers.
#include <gtest/gtest.h>
#include <unistd.h>  // getpid

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <thread>

#include "image/preprocess.h"
#include "image/simulate.h"
#include "io/mrc.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;
constexpr double pi = std::numbers::pi;

// A plane wave cos(2 pi f (x cos a + y sin a)) at the pixel centres.
Image wave(int width, int height, double frequency, double angle) {
  Image image(width, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at(x, y) =
          float(std::cos(2 * pi * frequency * ((x + 0.5) * std::cos(angle) + (y + 0.5) * std::sin(angle))));
  return image;
}

// The largest |a - b| over pixels at least `border` pixels from every edge.
double max_difference(const Image& a, const Image& b, int border = 0) {
  double worst = 0;
  for (int y = border; y < a.height - border; ++y)
    for (int x = border; x < a.width - border; ++x) worst = std::max(worst, std::abs(double(a.at(x, y)) - b.at(x, y)));
  return worst;
}

double max_abs(const Image& a, int border = 0) { return max_difference(a, Image(a.width, a.height), border); }

struct Moments {
  double mean, sd;
};
Moments moments(const std::vector<float>& values) {
  double sum = 0, squares = 0;
  for (float v : values) sum += v;
  const double mean = sum / double(values.size());
  for (float v : values) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / double(values.size()))};
}

// ---- Filter ----

TEST(Filter, PaddedSizeIsAFastLengthWithAMargin) {
  EXPECT_EQ(lowpass_padded_size(200, 0.1), 280);    // 200 + 2 x 40 = 280 = 2^3 x 5 x 7
  EXPECT_EQ(lowpass_padded_size(944, 0.1), 1024);   // 944 + 80 = 1024 exactly
  EXPECT_EQ(lowpass_padded_size(960, 0.1), 1050);   // 1040 = 2^4 x 5 x 13 ... -> 1050 = 2 x 3 x 5^2 x 7
  EXPECT_EQ(lowpass_padded_size(1024, 0.1), 1120);  // 1104 = 2^4 x 3 x 23 -> 1120 = 2^5 x 5 x 7
  EXPECT_EQ(lowpass_padded_size(1024, 0.5), 1050);  // margin 8: 1040 -> 1050
  EXPECT_EQ(lowpass_padded_size(4096, 0.025), 4480);
  EXPECT_EQ(lowpass_padded_size(100, 0.01), 300);   // the margin stops at the side: 100 + 200
  EXPECT_EQ(lowpass_padded_size(101, 0.01), 320);   // 301 -> even 302 = 2 x 151 ... -> 320 = 2^6 x 5
}

TEST(Filter, RejectsCutoffsOutsideTheBand) {
  const Image image(16, 16, 1);
  EXPECT_THROW(lowpass(image, 0), Error);
  EXPECT_THROW(lowpass(image, -0.1), Error);
  EXPECT_THROW(lowpass(image, 0.51), Error);
  EXPECT_THROW(lowpass(image, std::nan("")), Error);
  EXPECT_NO_THROW(lowpass(image, 0.5));
}

TEST(Filter, ConstantImageStaysConstant) {
  const Image image(123, 77, 3.25f);
  EXPECT_LT(max_difference(lowpass(image, 0.1), image), 1e-5);
}

// The response at half, one and one and a half times the cutoff, along x, y and a diagonal, on a
// size that is no power of two. Away from the edges (where mirroring bends the wave) the wave
// passes, vanishes, vanishes.
TEST(Filter, ResponseAroundTheCutoff) {
  const double cutoff = 0.1;
  for (double angle : {0.0, pi / 2, 0.6}) {
    SCOPED_TRACE("angle " + std::to_string(angle));
    const Image pass = wave(200, 150, 0.5 * cutoff, angle);
    EXPECT_LT(max_difference(lowpass(pass, cutoff), pass, 30), 0.01);
    EXPECT_LT(max_abs(lowpass(wave(200, 150, cutoff, angle), cutoff), 30), 0.05);
    EXPECT_LT(max_abs(lowpass(wave(200, 150, 1.5 * cutoff, angle), cutoff), 30), 0.01);
  }
  // The top of the band.
  const Image nyquist_half = wave(64, 64, 0.25, 0);
  EXPECT_LT(max_difference(lowpass(nyquist_half, 0.5), nyquist_half, 16), 0.01);
}

// Mirror padding: smooth content well inside the band, but not periodic in the image, comes back
// unchanged but for the rounding of the kink that mirroring puts at each edge (the slope changes
// sign there), which fades within two or three cutoff wavelengths. Without padding, the jump where
// the image wraps around would ring with an amplitude of 0.33 at the edges.
TEST(Filter, NoRingingAtTheEdges) {
  Image image(300, 220);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      image.at(x, y) = float(0.5 * std::cos(2 * pi * 0.013 * x + 1.0) + 0.4 * std::sin(2 * pi * 0.02 * y) +
                             0.3 * std::cos(2 * pi * 0.017 * (x + y)));
  const Image filtered = lowpass(image, 0.1);
  EXPECT_LT(max_difference(filtered, image), 0.1);  // range of the image: 2.4; unpadded: 0.33
  EXPECT_LT(max_difference(filtered, image, 20), 0.005);
  EXPECT_LT(max_difference(filtered, image, 30), 0.002);
}

// Plans are made under one mutex; transforms run side by side and give the same pixels.
TEST(Filter, ThreadsGiveTheSameResult) {
  Image image(150, 100);
  std::mt19937 rng(2);
  for (float& v : image.pixels) v = float(rng() % 1000);
  const Image expected = lowpass(image, 0.15);
  std::vector<Image> results(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) results[t] = lowpass(image, 0.15);
    });
  for (std::thread& t : threads) t.join();
  for (const Image& r : results) EXPECT_EQ(r.pixels, expected.pixels);
}
// The network input is filtered after resizing, at the config's cutoff (BEHAVIOUR §3.2): on a
// simulated 2048^2 micrograph resized 4x to 512^2 at crYOLO's 0.1, it stays close to the input made
// the costly way, the whole micrograph filtered at 0.025 and then resized. Both steps are linear and
// nearly shift-invariant, so they nearly commute; what differs is at the edges, where the two
// filters mirror at different scales. Measured (2026-12-05): correlation 1.0000, relative RMS
// difference 0.0018 (0.0004 8 pixels from the edges).
TEST(Filter, AtNetworkScaleIsCloseToFilteringTheMicrograph) {
  SimulationOptions options;
  options.width = options.height = 2048;
  options.box_size = 160;
  const Image micrograph = simulate_micrograph(options, 0).image;
  Image costly = resize_antialiased(lowpass(micrograph, 0.1 * 512 / 2048), 512, 512);
  Image cheap = lowpass(resize_antialiased(micrograph, 512, 512), 0.1);
  normalize_standard(costly);
  normalize_standard(cheap);
  const Moments a = moments(costly.pixels), b = moments(cheap.pixels);
  double covariance = 0, squared_difference = 0, squared_difference_inside = 0;
  size_t inside = 0;
  for (int y = 0; y < 512; ++y)
    for (int x = 0; x < 512; ++x) {
      const double u = costly.at(x, y), v = cheap.at(x, y);
      covariance += (u - a.mean) * (v - b.mean);
      squared_difference += (u - v) * (u - v);
      if (std::min({x, y, 511 - x, 511 - y}) >= 8) squared_difference_inside += (u - v) * (u - v), ++inside;
    }
  const double n = 512.0 * 512.0;
  const double correlation = covariance / n / (a.sd * b.sd);
  const double relative = std::sqrt(squared_difference / n) / a.sd;
  const double relative_inside = std::sqrt(squared_difference_inside / double(inside)) / a.sd;
  std::printf("network-scale filter vs full-size: correlation %.4f, relative RMS %.4f (%.4f 8 px from the edges)\n",
              correlation, relative, relative_inside);
  EXPECT_GT(correlation, 0.999);
  EXPECT_LT(relative, 0.01);
  EXPECT_LT(relative_inside, 0.002);
}


class Files : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cupick_preprocess_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};
class FilterCache : public Files {};

// Two data sets with micrographs of the same name share a filter folder: each is served its own.
TEST_F(FilterCache, SameNameInTwoFoldersIsTwoFiles) {
  const Image a(40, 30, 1), b(40, 30, 2);
  fs::create_directories(path("one"));
  fs::create_directories(path("two"));
  write_mrc(path("one/m.mrc"), a);
  write_mrc(path("two/m.mrc"), b);
  const std::string cache_dir = path("filtered_tmp");
  EXPECT_NE(lowpass_cache_path(path("one/m.mrc"), a, 0.1, cache_dir), lowpass_cache_path(path("two/m.mrc"), a, 0.1, cache_dir));
  EXPECT_LT(max_difference(lowpass_cached(path("one/m.mrc"), a, 0.1, cache_dir), a), 1e-5);
  EXPECT_LT(max_difference(lowpass_cached(path("two/m.mrc"), b, 0.1, cache_dir), b), 1e-5);
  EXPECT_LT(max_difference(lowpass_cached(path("one/m.mrc"), a, 0.1, cache_dir), a), 1e-5);
}

TEST_F(FilterCache, WrittenReusedAndRenewed) {
  Image image(90, 70);
  std::mt19937 rng(1);
  for (float& v : image.pixels) v = float(rng() % 1000) / 1000;
  const std::string micrograph = path("Grid1_003.mrc"), cache_dir = path("filtered_tmp");
  write_mrc(micrograph, image);

  const std::string cache = lowpass_cache_path(micrograph, image, 0.1, cache_dir);
  const std::string file = fs::path(cache).filename().string();
  EXPECT_TRUE(file.starts_with("Grid1_003_") && file.ends_with("_lp0.1.mrc")) << file;
  const Image first = lowpass_cached(micrograph, image, 0.1, cache_dir);  // creates the folder
  ASSERT_TRUE(fs::exists(cache));
  EXPECT_LT(max_difference(first, lowpass(image, 0.1)), 1e-7);
  EXPECT_LT(max_difference(read_mrc(cache), first), 1e-7);
  EXPECT_FALSE(fs::exists(cache + ".tmp"));

  // Reused: a marker written over the cache comes back.
  const Image marker(90, 70, 7);
  write_mrc(cache, marker);
  EXPECT_EQ(lowpass_cached(micrograph, image, 0.1, cache_dir).pixels, marker.pixels);

  // Another cutoff is another file.
  const Image other = lowpass_cached(micrograph, image, 0.2, cache_dir);
  EXPECT_TRUE(fs::exists(lowpass_cache_path(micrograph, image, 0.2, cache_dir)));
  EXPECT_LT(max_difference(other, lowpass(image, 0.2)), 1e-7);

  // Another size (a different input size) is computed again.
  const Image smaller(60, 40, 1);
  EXPECT_LT(max_difference(lowpass_cached(micrograph, smaller, 0.1, cache_dir), smaller), 1e-5);

  // A micrograph replaced by another is filtered again, even with an older file time: its pixels
  // name another entry.
  Image replacement = image;
  replacement.pixels[5] += 1;
  const auto time = fs::last_write_time(micrograph);
  write_mrc(micrograph, replacement);
  fs::last_write_time(micrograph, time - std::chrono::hours(24));
  EXPECT_NE(lowpass_cache_path(micrograph, replacement, 0.1, cache_dir), cache);
  EXPECT_LT(max_difference(lowpass_cached(micrograph, replacement, 0.1, cache_dir), lowpass(replacement, 0.1)), 1e-7);
  write_mrc(cache, marker);  // and the original, should it come back, still finds its own

  EXPECT_EQ(lowpass_cached(micrograph, image, 0.1, cache_dir).pixels, marker.pixels);

  // A damaged cache file is replaced too.
  std::ofstream(cache, std::ios::trunc) << "not an MRC file";
  EXPECT_LT(max_difference(lowpass_cached(micrograph, image, 0.1, cache_dir), first), 1e-7);
  EXPECT_LT(max_difference(read_mrc(cache), first), 1e-7);

  // No folder: filtered in memory, nothing written.
  const auto entries = std::distance(fs::directory_iterator(cache_dir), fs::directory_iterator());
  EXPECT_LT(max_difference(lowpass_cached(micrograph, replacement, 0.3, ""), lowpass(replacement, 0.3)), 1e-7);
  EXPECT_EQ(std::distance(fs::directory_iterator(cache_dir), fs::directory_iterator()), entries);
}

// The content hash sees every pixel and the shape, not just a sample.
TEST_F(FilterCache, ContentHashSeesEveryPixelAndTheShape) {
  Image image(33, 17);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = float(i % 7);
  const uint64_t h = content_hash(image);
  for (size_t i : {size_t(0), size_t(1), image.pixels.size() / 2, image.pixels.size() - 1}) {
    Image changed = image;
    changed.pixels[i] = std::nextafter(changed.pixels[i], 100.f);
    EXPECT_NE(content_hash(changed), h) << "pixel " << i;
  }
  Image transposed(17, 33);
  transposed.pixels = image.pixels;
  EXPECT_NE(content_hash(transposed), h);
  EXPECT_EQ(content_hash(image), h);
}

// Long names stay within a file name's 255 bytes; the hashes keep them apart.
TEST_F(FilterCache, LongNamesAreCutToFit) {
  const Image image(40, 30, 1);
  const std::string stem(250, 'x');
  const std::string name = fs::path(lowpass_cache_path(path(stem + ".mrc"), image, 0.1, path("c"))).filename().string();
  EXPECT_LT(name.size() + 16, 255u) << name;  // room for write_mrc's temporary suffix
  EXPECT_NE(lowpass_cache_path(path(stem + "a.mrc"), image, 0.1, path("c")),
            lowpass_cache_path(path(stem + "b.mrc"), image, 0.1, path("c")));
  EXPECT_LT(max_difference(lowpass_cached(path(stem + ".mrc"), image, 0.1, path("c")), image), 1e-5);
}

// ---- Network input size ----

TEST(Preprocess, NetworkInputSizeOfSquareAndOblongMicrographs) {
  EXPECT_EQ(network_input_size(4096, 4096, 1024), (NetworkInput{1024, 1024}));
  // Short side (height 3710) -> 1024; width 1024 x 3838 / 3710 = 1059.3 -> 1056.
  EXPECT_EQ(network_input_size(3838, 3710, 1024), (NetworkInput{1024, 1056}));
  EXPECT_EQ(network_input_size(3710, 3838, 1024), (NetworkInput{1056, 1024}));
  // K2: 3838 x 3710 is near square; a 16:9 camera is not: 1024 x 16 / 9 = 1820.4 -> 1824.
  EXPECT_EQ(network_input_size(5760, 3240, 1024), (NetworkInput{1024, 1824}));
  // input_size itself goes to the nearest multiple of 32, halves up.
  EXPECT_EQ(network_input_size(2000, 2000, 1000), (NetworkInput{992, 992}));
  EXPECT_EQ(network_input_size(2000, 2000, 1008), (NetworkInput{1024, 1024}));
  EXPECT_THROW(network_input_size(2000, 2000, 15), Error);
  EXPECT_THROW(network_input_size(0, 2000, 1024), Error);
}

TEST(Preprocess, NetworkInputSizeFromAList) {
  EXPECT_EQ(network_input_size(NetworkInput{1000, 1400}), (NetworkInput{992, 1408}));
  InputSize pair;
  pair.height = 768;
  pair.width = 1000;
  pair.is_pair = true;
  EXPECT_EQ(network_input_size(3838, 3710, pair), (NetworkInput{768, 992}));
  InputSize one;
  one.height = one.width = 1024;
  EXPECT_EQ(network_input_size(3838, 3710, one), (NetworkInput{1024, 1056}));
  EXPECT_THROW(network_input_size(NetworkInput{10, 1024}), Error);
}

// ---- Resize ----

TEST(Resize, ConstantStaysConstant) {
  const Image image(101, 67, -2.75f);
  for (auto [w, h] : {std::pair{32, 32}, std::pair{333, 20}, std::pair{101, 67}}) {
    const Image out = resize_bilinear(image, w, h);
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    for (float v : out.pixels) ASSERT_EQ(v, -2.75f);
  }
}

TEST(Resize, SameSizeIsTheIdentity) {
  Image image(37, 23);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = float(i % 11) - 3;
  EXPECT_EQ(resize_bilinear(image, 37, 23).pixels, image.pixels);
}

// Shrinking averages what each new pixel covers: independent noise loses most of its deviation
// (a 4x reduction with PIL's triangle filter keeps about 1/6 of it; reading 2 x 2 pixels keeps 1/2),
// a constant stays constant, a ramp stays a ramp away from the edges, and enlarging is bilinear.
TEST(Resize, AntialiasedAveragesTheFootprint) {
  Image noise(512, 384);
  std::mt19937 bits(5);
  std::normal_distribution<float> normal;
  for (float& v : noise.pixels) v = normal(bits);
  auto deviation = [](const Image& im) {
    double s = 0, s2 = 0;
    for (float v : im.pixels) s += v, s2 += double(v) * v;
    const double n = double(im.pixels.size());
    return std::sqrt(s2 / n - (s / n) * (s / n));
  };
  EXPECT_LT(deviation(resize_antialiased(noise, 128, 96)), 0.2);
  EXPECT_GT(deviation(resize_bilinear(noise, 128, 96)), 0.4);

  const Image constant(101, 67, -2.75f);
  for (float v : resize_antialiased(constant, 32, 20).pixels) ASSERT_NEAR(v, -2.75f, 1e-5f);

  Image ramp(97, 5);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 97; ++x) ramp.at(x, y) = float(x + 0.5);
  const Image out = resize_antialiased(ramp, 32, 5);
  // Within 1/50 of a source pixel: the triangle, sampled at pixel centres, is not quite symmetric
  // about a centre that falls between them.
  for (int i = 2; i < 30; ++i) ASSERT_NEAR(out.at(i, 2), (i + 0.5) * 97 / 32, 0.02) << "column " << i;

  EXPECT_EQ(resize_antialiased(ramp, 200, 9).pixels, resize_bilinear(ramp, 200, 9).pixels);
  EXPECT_EQ(resize_antialiased(ramp, 97, 5).pixels, ramp.pixels);
}

// A ramp holding each pixel centre's x: the resized ramp holds where each new pixel centre sampled,
// (i + 0.5) W / W', clamped to the outermost source centres.
TEST(Resize, PixelCentresMapAsDocumented) {
  const int w = 97, h = 5;
  Image ramp(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) ramp.at(x, y) = float(x + 0.5);
  for (int target : {32, 64, 160, 97 * 3}) {
    const Image out = resize_bilinear(ramp, target, h);
    for (int i = 0; i < target; ++i) {
      const double expected = std::clamp((i + 0.5) * w / target, 0.5, w - 0.5);
      ASSERT_NEAR(out.at(i, 2), expected, 1e-4) << "target " << target << " column " << i;
    }
  }
}

// A blob at a known point of a micrograph whose sides are no multiples of 32: after resizing to the
// network size its centroid is where box_to_network puts the box, and box_to_micrograph brings the
// box back to where it was.
TEST(Resize, BoxesFollowTheResizeBothWays) {
  const int mw = 1000, mh = 777;
  const NetworkInput net = network_input_size(mw, mh, 512);
  ASSERT_EQ(net, (NetworkInput{512, 672}));  // 1000 x 512 / 777 = 658.9 -> 672 (not 659: a multiple of 32)
  const Box box{613.3f, 245.7f, 80, 60};
  Image image(mw, mh);
  const double sigma = 12;
  for (int y = 0; y < mh; ++y)
    for (int x = 0; x < mw; ++x) {
      const double dx = x + 0.5 - box.x, dy = y + 0.5 - box.y;
      image.at(x, y) = float(std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)));
    }
  for (auto resize : {resize_bilinear, resize_antialiased}) {
    const Image small = resize(image, net.width, net.height);
    double sum = 0, sx = 0, sy = 0;
    for (int y = 0; y < net.height; ++y)
      for (int x = 0; x < net.width; ++x) {
        sum += small.at(x, y);
        sx += small.at(x, y) * (x + 0.5);
        sy += small.at(x, y) * (y + 0.5);
      }
    const Box on_net = box_to_network(box, mw, mh, net);
    EXPECT_NEAR(sx / sum, on_net.x, 0.05);
    EXPECT_NEAR(sy / sum, on_net.y, 0.05);
    // Width and height each by their own side's factor (crYOLO crosses them; we do not).
    EXPECT_FLOAT_EQ(on_net.w, 80.f * 672 / 1000);
    EXPECT_FLOAT_EQ(on_net.h, 60.f * 512 / 777);

    const Box back = box_to_micrograph(on_net, net, mw, mh);
    EXPECT_NEAR(back.x, box.x, 1e-4);
    EXPECT_NEAR(back.y, box.y, 1e-4);
    EXPECT_NEAR(back.w, box.w, 1e-5);
    EXPECT_NEAR(back.h, box.h, 1e-5);
    // Within half a network pixel in micrograph pixels, end to end.
    EXPECT_NEAR(sx / sum * mw / net.width, box.x, 0.5);
    EXPECT_NEAR(sy / sum * mh / net.height, box.y, 0.5);
  }
}

TEST(Resize, BoxMapsAreInversesEverywhere) {
  std::mt19937 rng(3);
  const NetworkInput net{1024, 1056};
  for (int i = 0; i < 1000; ++i) {
    Box b{float(rng() % 383800) / 100, float(rng() % 371000) / 100, float(rng() % 30000) / 100 + 1,
          float(rng() % 30000) / 100 + 1, 0.5f, 123.5f, 99.25f};
    const Box back = box_to_micrograph(box_to_network(b, 3838, 3710, net), net, 3838, 3710);
    ASSERT_NEAR(back.x, b.x, 4e-4);
    ASSERT_NEAR(back.y, b.y, 4e-4);
    ASSERT_NEAR(back.w, b.w, 4e-5);
    ASSERT_NEAR(back.h, b.h, 4e-5);
    ASSERT_NEAR(back.est_w, b.est_w, 4e-5);
    ASSERT_NEAR(back.est_h, b.est_h, 4e-5);
    ASSERT_EQ(back.confidence, b.confidence);
  }
  const Box scaled = scale_box(Box{10, 20, 30, 40}, 0.5, 2);
  EXPECT_EQ(scaled.x, 5);
  EXPECT_EQ(scaled.y, 40);
  EXPECT_EQ(scaled.w, 15);
  EXPECT_EQ(scaled.h, 80);
}

// ---- Normalisation and tensors ----

TEST(Preprocess, StandardNormalisation) {
  Image image(200, 100);
  std::mt19937 rng(5);
  for (float& v : image.pixels) v = 1000 + float(rng() % 5000) / 10;
  normalize_standard(image);
  const Moments m = moments(image.pixels);
  EXPECT_NEAR(m.mean, 0, 1e-6);
  EXPECT_NEAR(m.sd, 1.0 / 6, 1e-6);

  Image flat(10, 10, 5);
  normalize_standard(flat);
  for (float v : flat.pixels) EXPECT_EQ(v, 0);
}

// 70% of the pixels from N(-3, 1) and 30% from N(5, 0.5), shuffled: the brighter population ends
// with mean 0 and sd 1. Once small enough to use every pixel, once large enough to be subsampled.
TEST(Preprocess, GmmUsesTheBrighterPopulation) {
  for (auto [w, h] : {std::pair{200, 150}, std::pair{400, 300}}) {
    SCOPED_TRACE(std::to_string(w) + " x " + std::to_string(h));
    Image image(w, h);
    std::mt19937 rng(7);
    std::normal_distribution<double> dark(-3, 1), bright(5, 0.5);  // test data only: any library's will do
    std::vector<bool> is_bright(size_t(w) * h);
    for (size_t i = 0; i < image.pixels.size(); ++i) {
      is_bright[i] = rng() % 10 < 3;
      image.pixels[i] = float(is_bright[i] ? bright(rng) : dark(rng));
    }
    Image a = image, b = image;
    normalize_gmm(a, 11);
    normalize_gmm(b, 11);
    EXPECT_EQ(a.pixels, b.pixels);  // same seed, same result

    std::vector<float> bright_values, dark_values;
    for (size_t i = 0; i < a.pixels.size(); ++i) (is_bright[i] ? bright_values : dark_values).push_back(a.pixels[i]);
    const Moments mb = moments(bright_values), md = moments(dark_values);
    EXPECT_NEAR(mb.mean, 0, 0.02);
    EXPECT_NEAR(mb.sd, 1, 0.02);
    EXPECT_NEAR(md.mean, (-3.0 - 5.0) / 0.5, 0.2);
  }
}

TEST(Preprocess, GmmOfAConstantImageIsZero) {
  Image flat(10, 10, 5);
  normalize_gmm(flat, 1);
  for (float v : flat.pixels) EXPECT_EQ(v, 0);
}

TEST(Preprocess, ToTensor) {
  Image image(3, 2);
  image.pixels = {1, 2, 3, 4, 5, 6};
  const Tensor t = to_tensor(image);
  EXPECT_EQ(t.shape(), (Shape{1, 1, 2, 3}));
  EXPECT_EQ(t.device(), Device::cpu);
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.values<float>(), image.pixels);
}

// ---- Patches ----

// Worked by hand: 1000 x 800, n = 3, overlap 50.
//   x: base [0, 333) [333, 666) [666, 1000) -> [0, 433) [283, 716) [566, 1000)
//   y: base [0, 266) [266, 533) [533, 800)  -> [0, 366) [216, 583) [433, 800)
TEST(Preprocess, TilesWorkedExample) {
  const std::vector<Tile> tiles = make_tiles(1000, 800, 3, 50);
  const std::vector<Tile> expected = {
      {0, 0, 433, 366},   {283, 0, 433, 366},   {566, 0, 434, 366},
      {0, 216, 433, 367}, {283, 216, 433, 367}, {566, 216, 434, 367},
      {0, 433, 433, 367}, {283, 433, 433, 367}, {566, 433, 434, 367},
  };
  EXPECT_EQ(tiles, expected);
}

TEST(Preprocess, TilesEdgeCases) {
  EXPECT_EQ(make_tiles(4096, 4096, 1, 200), (std::vector<Tile>{{0, 0, 4096, 4096}}));
  // Two per side: both are edge tiles, grown inwards by twice the overlap.
  EXPECT_EQ(make_tiles(100, 60, 2, 10),
            (std::vector<Tile>{{0, 0, 70, 50}, {30, 0, 70, 50}, {0, 10, 70, 50}, {30, 10, 70, 50}}));
  // An overlap larger than a tile: clamped to the image.
  EXPECT_EQ(make_tiles(100, 100, 2, 80)[0], (Tile{0, 0, 100, 100}));
  EXPECT_THROW(make_tiles(100, 100, 0, 10), Error);
  EXPECT_THROW(make_tiles(100, 100, 2, -1), Error);
  EXPECT_THROW(make_tiles(10, 100, 11, 0), Error);

  Image image(5, 4);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = float(i);
  EXPECT_EQ(crop(image, Tile{1, 2, 3, 2}).pixels, (std::vector<float>{11, 12, 13, 16, 17, 18}));
  EXPECT_THROW(crop(image, Tile{3, 0, 3, 1}), Error);
}

}  // namespace
}  // namespace cupick
