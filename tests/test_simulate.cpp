// Synthetic micrographs: repeatable, truthful labels, the noise level asked for, files that read
// back as generated, and fast.
#include <gtest/gtest.h>
#include <unistd.h>  // getpid

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "engine/error.h"
#include "image/simulate.h"
#include "io/annotations.h"
#include "io/micrograph.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;

// Small micrographs keep the tests fast; the features scale with the box.
SimulationOptions small() {
  SimulationOptions o;
  o.width = o.height = 384;
  o.box_size = 32;
  return o;
}

// Only the particles: no carbon, contamination, ice slope or noise.
SimulationOptions particles_only() {
  SimulationOptions o = small();
  o.carbon = o.contamination = o.ice_gradient = o.noise = false;
  return o;
}

// Mean and variance of the pixels whose centres lie in the boxes, pooled.
struct Moments {
  double mean = 0, variance = 0;
};
Moments moments_in(const Image& image, const std::vector<Box>& boxes) {
  double sum = 0, sum2 = 0, n = 0;
  for (const Box& b : boxes)
    for (int y = int(std::lround(b.y - b.h / 2)); y < int(std::lround(b.y + b.h / 2)); ++y)
      for (int x = int(std::lround(b.x - b.w / 2)); x < int(std::lround(b.x + b.w / 2)); ++x)
        if (x >= 0 && x < image.width && y >= 0 && y < image.height) {
          sum += image.at(x, y), sum2 += double(image.at(x, y)) * image.at(x, y), ++n;
        }
  return {sum / n, (sum2 - sum * sum / n) / (n - 1)};
}

TEST(Simulate, SameSeedAndIndexGiveTheSameMicrograph) {
  const SimulationOptions o = small();
  const SimulatedMicrograph a = simulate_micrograph(o, 3), b = simulate_micrograph(o, 3);
  ASSERT_EQ(a.image.pixels.size(), b.image.pixels.size());
  EXPECT_EQ(std::memcmp(a.image.pixels.data(), b.image.pixels.data(), a.image.pixels.size() * sizeof(float)), 0);
  ASSERT_EQ(a.particles.size(), b.particles.size());
  for (size_t i = 0; i < a.particles.size(); ++i) EXPECT_EQ(a.particles[i].x, b.particles[i].x);

  const SimulatedMicrograph other = simulate_micrograph(o, 4);
  EXPECT_NE(std::memcmp(a.image.pixels.data(), other.image.pixels.data(), a.image.pixels.size() * sizeof(float)), 0);
  SimulationOptions reseeded = o;
  reseeded.seed = 2;
  const SimulatedMicrograph c = simulate_micrograph(reseeded, 3);
  EXPECT_NE(std::memcmp(a.image.pixels.data(), c.image.pixels.data(), a.image.pixels.size() * sizeof(float)), 0);
}

// Without noise, each labelled box holds a particle: the middle half of the box is darker (denser)
// than ice far from any particle, and varies where the empty ice is flat.
TEST(Simulate, LabelledBoxesHoldParticles) {
  for (int index = 0; index < 3; ++index) {
    const SimulatedMicrograph m = simulate_micrograph(particles_only(), index);
    ASSERT_GT(m.particles.size(), 10u);
    std::vector<Box> drawn = m.particles;
    drawn.insert(drawn.end(), m.unlabelled.begin(), m.unlabelled.end());
    // Ice: pixels more than a box from every particle's centre.
    double ice = 0, ice2 = 0, n = 0;
    for (int y = 0; y < m.image.height; ++y)
      for (int x = 0; x < m.image.width; ++x) {
        bool far = true;
        for (const Box& b : drawn) far = far && std::hypot(x + 0.5 - b.x, y + 0.5 - b.y) > b.w;
        if (far) ice += m.image.at(x, y), ice2 += double(m.image.at(x, y)) * m.image.at(x, y), ++n;
      }
    ASSERT_GT(n, 1000) << "micrograph " << index << " has no empty ice to compare with";
    const double ice_mean = ice / n, ice_sd = std::sqrt(ice2 / n - ice_mean * ice_mean);
    EXPECT_LT(ice_sd, 0.001) << "empty ice should be flat without noise";
    for (const Box& b : m.particles) {
      const Box core{b.x, b.y, b.w / 2, b.h / 2};
      const Moments in = moments_in(m.image, {core});
      EXPECT_LT(in.mean, ice_mean - 0.1) << "micrograph " << index << " box at " << b.x << ", " << b.y;
      EXPECT_GT(in.variance, 0.01) << "micrograph " << index << " box at " << b.x << ", " << b.y;
    }
  }
}

// Labels lie fully inside the micrograph and off the carbon; particles on the carbon are drawn but
// not labelled; carbon is denser (darker in raw contrast, brighter inverted) than the ice.
TEST(Simulate, LabelsAvoidTheCarbonAndTheEdges) {
  SimulationOptions o = small();
  o.noise = o.ice_gradient = o.contamination = false;
  int with_carbon = 0, drawn_on_carbon = 0;
  for (int index = 0; index < 12; ++index) {
    const SimulatedMicrograph m = simulate_micrograph(o, index);
    for (const Box& b : m.particles) {
      EXPECT_GE(b.x - b.w / 2, 0);
      EXPECT_GE(b.y - b.h / 2, 0);
      EXPECT_LE(b.x + b.w / 2, o.width);
      EXPECT_LE(b.y + b.h / 2, o.height);
      for (float dx : {-0.5f, 0.5f})
        for (float dy : {-0.5f, 0.5f})
          EXPECT_FALSE(m.on_carbon(b.x + dx * b.w, b.y + dy * b.h))
              << "micrograph " << index << " box at " << b.x << ", " << b.y;
    }
    if (!std::isfinite(m.hole_radius)) continue;
    for (const Box& b : m.unlabelled) drawn_on_carbon += m.on_carbon(b.x, b.y);
    // Pixels a few pixels away from the edge (which rings under the CTF), on either side.
    double carbon = 0, n_carbon = 0, ice = 0, n_ice = 0;
    for (int y = 0; y < m.image.height; ++y)
      for (int x = 0; x < m.image.width; ++x) {
        const double outside = std::hypot(x + 0.5 - m.hole_x, y + 0.5 - m.hole_y) - m.hole_radius;
        if (outside > 8) carbon += m.image.at(x, y), ++n_carbon;
        if (outside < -8) ice += m.image.at(x, y), ++n_ice;
      }
    if (n_carbon < 500) continue;
    ++with_carbon;
    EXPECT_LT(carbon / n_carbon, ice / n_ice - 0.2) << "micrograph " << index;
    SimulationOptions inverted = o;
    inverted.dark_density = false;
    const SimulatedMicrograph bright = simulate_micrograph(inverted, index);
    for (size_t i = 0; i < m.image.pixels.size(); ++i) ASSERT_EQ(bright.image.pixels[i], -m.image.pixels[i]);
  }
  EXPECT_GE(with_carbon, 3) << "too few of 12 micrographs show carbon";
  EXPECT_GE(drawn_on_carbon, 3) << "particles should be drawn on the carbon too";
}

// Every particle asked for is drawn where nothing is in the way, and those whose box fits inside
// the micrograph are labelled.
TEST(Simulate, CountFollowsTheDensity) {
  SimulationOptions o = particles_only();
  o.density = 0.5;
  const int wanted = int(std::lround(o.density * o.width * o.height / (o.box_size * o.box_size)));
  double labelled = 0;
  const int micrographs = 4;
  for (int index = 0; index < micrographs; ++index) {
    const SimulatedMicrograph m = simulate_micrograph(o, index);
    EXPECT_EQ(int(m.particles.size() + m.unlabelled.size()), wanted);
    labelled += double(m.particles.size());
  }
  // A uniform centre gives a box fully inside with probability (W - box)(H - box) / (W H).
  const double expected =
      micrographs * o.density * (o.width - o.box_size) * (o.height - o.box_size) / (o.box_size * o.box_size);
  EXPECT_NEAR(labelled, expected, 0.1 * expected);
  std::printf("%.0f particles labelled in %d micrographs, %.0f expected\n", labelled, micrographs, expected);
}

// Signal variance (noiseless render) over noise variance (noisy minus noiseless), both over the
// labelled boxes, is the snr asked for.
TEST(Simulate, SignalToNoiseRatioIsAsAsked) {
  for (double snr : {0.05, 0.1, 1.0}) {
    SimulationOptions clean = particles_only();
    clean.snr = snr;
    SimulationOptions noisy = clean;
    noisy.noise = true;
    const SimulatedMicrograph s = simulate_micrograph(clean, 1), n = simulate_micrograph(noisy, 1);
    ASSERT_EQ(s.particles.size(), n.particles.size());
    Image noise = n.image;
    for (size_t i = 0; i < noise.pixels.size(); ++i) noise.pixels[i] -= s.image.pixels[i];
    const double measured = moments_in(s.image, s.particles).variance / moments_in(noise, s.particles).variance;
    EXPECT_NEAR(measured, snr, 0.2 * snr);
    std::printf("snr %.2f asked, %.4f measured\n", snr, measured);
  }
}

// A data set on disk: the MRC files read back as the images, the BOX and STAR files as the labels.
TEST(Simulate, WritesMicrographsAndCoordinates) {
  const fs::path dir = fs::temp_directory_path() / ("cupick_simulate_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  SimulationOptions o = small();
  o.height = 320;  // not square: the y flip must use the height
  o.count = 3;
  simulate_dataset(o, dir.string());
  for (int index = 0; index < o.count; ++index) {
    const SimulatedMicrograph m = simulate_micrograph(o, index);
    const std::string name = simulated_name(index);
    const Image image = read_micrograph((dir / "micrographs" / (name + ".mrc")).string());
    ASSERT_EQ(image.width, o.width);
    ASSERT_EQ(image.height, o.height);
    EXPECT_EQ(std::memcmp(image.pixels.data(), m.image.pixels.data(), image.pixels.size() * sizeof(float)), 0) << name;
    for (const char* kind : {"box", "star"}) {
      const std::vector<Box> boxes = read_boxes((dir / kind / (name + "." + kind)).string(), float(o.box_size));
      ASSERT_EQ(boxes.size(), m.particles.size()) << name << "." << kind;
      for (size_t i = 0; i < boxes.size(); ++i) {
        EXPECT_NEAR(boxes[i].x, m.particles[i].x, 0.01) << name << "." << kind;
        EXPECT_NEAR(file_y_to_image_y(boxes[i].y, o.height), m.particles[i].y, 0.01) << name << "." << kind;
        EXPECT_EQ(boxes[i].w, float(o.box_size));
      }
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir)) EXPECT_NE(entry.path().extension(), ".tmp");
  fs::remove_all(dir);
}

TEST(Simulate, RejectsOptionsOutOfRange) {
  const auto rejects = [](auto change) {
    SimulationOptions o = small();
    change(o);
    EXPECT_THROW(simulate_micrograph(o, 0), Error);
  };
  rejects([](SimulationOptions& o) { o.box_size = 4; });
  rejects([](SimulationOptions& o) { o.width = 16; });
  rejects([](SimulationOptions& o) { o.snr = 0; });
  rejects([](SimulationOptions& o) { o.density = -1; });
  rejects([](SimulationOptions& o) { o.snr_max = -1; });
  rejects([](SimulationOptions& o) { o.dose = -40; });
  rejects([](SimulationOptions& o) { o.astigmatism = 1; });
  rejects([](SimulationOptions& o) { o.amplitude_contrast_low = 0.5, o.amplitude_contrast_high = 0.2; });
  rejects([](SimulationOptions& o) { o.box_size_max = 1000; });  // above the micrograph's side
  rejects([](SimulationOptions& o) { o.inverted_share = 2; });
  EXPECT_THROW(simulate_micrograph(small(), -1), Error);
}

// Domain randomisation: micrographs of one set differ in box size (within the range, each box file
// at its micrograph's size), in density and in polarity; each is still the same for its index.
TEST(Simulate, GeneralSettingDrawsEachMicrographsKind) {
  SimulationOptions o = general_simulation();
  o.width = o.height = 384;
  std::set<int> sizes;
  int inverted = 0;
  for (int index = 0; index < 12; ++index) {
    const SimulatedMicrograph m = simulate_micrograph(o, index);
    EXPECT_GE(m.box_size, o.box_size);
    EXPECT_LE(m.box_size, o.box_size_max);
    for (const Box& b : m.particles) ASSERT_EQ(b.w, float(m.box_size));
    sizes.insert(m.box_size);
    EXPECT_EQ(simulate_micrograph(o, index).image.pixels, m.image.pixels);
    // Polarity: the particles' mean against the micrograph's (dark density: below it).
    SimulationOptions clean = o;
    clean.noise = clean.carbon = clean.contamination = clean.ice_gradient = false;
    const SimulatedMicrograph c = simulate_micrograph(clean, index);
    double all = 0;
    for (float v : c.image.pixels) all += v;
    inverted += moments_in(c.image, c.particles).mean > all / double(c.image.pixels.size());
  }
  EXPECT_GE(sizes.size(), 6u);
  EXPECT_GE(inverted, 1);   // a third are inverted: 4 of 12 expected
  EXPECT_LE(inverted, 8);
}

// The real-like setting, scaled down to keep the test fast: shot noise, the detector's MTF.
SimulationOptions realistic_small() {
  SimulationOptions o = realistic_simulation();
  o.width = o.height = 768;
  o.box_size = 96;
  o.count = 2;
  return o;
}

// With a dose the image counts electrons: whole numbers, the dose on average where the ice is empty,
// and the snr (signal variance over shot-noise variance, over the boxes) as asked.
TEST(Simulate, ShotNoiseCountsElectronsAtTheAskedSnr) {
  for (double snr : {0.02, 0.2}) {
    SimulationOptions clean = particles_only();
    clean.dose = 40, clean.snr = snr;
    SimulationOptions noisy = clean;
    noisy.noise = true;
    const SimulatedMicrograph s = simulate_micrograph(clean, 1), n = simulate_micrograph(noisy, 1);
    double sum = 0;
    for (float v : n.image.pixels) {
      ASSERT_EQ(v, std::round(v));
      ASSERT_GE(v, 0);
      sum += v;
    }
    EXPECT_NEAR(sum / double(n.image.pixels.size()), 40, 2);  // particles change the mean a little
    Image noise = n.image;
    for (size_t i = 0; i < noise.pixels.size(); ++i) noise.pixels[i] -= s.image.pixels[i];
    const double measured = moments_in(s.image, s.particles).variance / moments_in(noise, s.particles).variance;
    EXPECT_NEAR(measured, snr, 0.2 * snr);
    std::printf("dose 40, snr %.2f asked, %.4f measured\n", snr, measured);
  }
}

// The correlation of two images' pixels.
double correlation(const Image& a, const Image& b) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const double n = double(a.pixels.size());
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const double u = a.pixels[i], v = b.pixels[i];
    sa += u, sb += v, saa += u * u, sbb += v * v, sab += u * v;
  }
  return (sab / n - sa / n * sb / n) / std::sqrt((saa / n - sa * sa / n / n) * (sbb / n - sb * sb / n / n));
}

// The correlation of horizontally neighbouring pixels.
double neighbour_correlation(const Image& image) {
  Image left(image.width - 1, image.height), right(image.width - 1, image.height);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x + 1 < image.width; ++x) left.at(x, y) = image.at(x, y), right.at(x, y) = image.at(x + 1, y);
  return correlation(left, right);
}

// Shot noise is white; after the detector's MTF neighbouring pixels share much of their noise.
TEST(Simulate, DetectorMtfColoursTheNoise) {
  SimulationOptions o = particles_only();
  o.noise = true, o.dose = 40, o.snr = 0.01;  // nearly all noise
  const double white = neighbour_correlation(simulate_micrograph(o, 0).image);
  o.detector_mtf = true;
  const double coloured = neighbour_correlation(simulate_micrograph(o, 0).image);
  EXPECT_LT(std::abs(white), 0.05);
  EXPECT_GT(coloured, 0.4);
  std::printf("neighbour correlation: %.3f without the MTF, %.3f with it\n", white, coloured);
}

// Astigmatism changes the image; switching it off (and the other real-like features) gives back the
// micrographs as they were, bit for bit, so the demo's data do not move.
TEST(Simulate, AstigmatismChangesOnlyTheTransfer) {
  SimulationOptions o = small();
  const SimulatedMicrograph plain = simulate_micrograph(o, 2);
  o.astigmatism = 0.3;
  const SimulatedMicrograph astigmatic = simulate_micrograph(o, 2);
  ASSERT_EQ(plain.particles.size(), astigmatic.particles.size());
  for (size_t i = 0; i < plain.particles.size(); ++i) EXPECT_EQ(plain.particles[i].x, astigmatic.particles[i].x);
  EXPECT_NE(std::memcmp(plain.image.pixels.data(), astigmatic.image.pixels.data(), plain.image.pixels.size() * 4), 0);
}

// The 8-bit variant: a JPEG of the same size, and denoised: it is closer to the JPEG of the noiseless
// micrograph than the raw counts are to the noiseless counts.
TEST(Simulate, DenoisedJpegIsCloseToTheNoiselessOne) {
  const fs::path dir = fs::temp_directory_path() / ("cupick_simulate_jpg_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const SimulationOptions o = realistic_small();
  SimulationOptions clean = o;
  clean.noise = false;
  simulate_dataset(o, (dir / "noisy").string());
  simulate_dataset(clean, (dir / "clean").string());
  for (int index = 0; index < o.count; ++index) {
    const std::string name = simulated_name(index);
    const auto read = [&](const char* set, const char* folder, const char* extension) {
      return read_micrograph((dir / set / folder / (name + extension)).string());
    };
    const Image jpg = read("noisy", "jpg", ".jpg");
    ASSERT_EQ(jpg.width, o.width);
    ASSERT_EQ(jpg.height, o.height);
    const double from_jpg = correlation(jpg, read("clean", "jpg", ".jpg"));
    const double from_raw = correlation(read("noisy", "micrographs", ".mrc"), read("clean", "micrographs", ".mrc"));
    EXPECT_GT(from_jpg, 0.5) << name;
    EXPECT_GT(from_jpg, from_raw + 0.2) << name;
    std::printf("%s: correlation with the noiseless micrograph %.3f raw, %.3f denoised JPEG\n", name.c_str(), from_raw,
                from_jpg);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cupick
