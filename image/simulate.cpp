#include "image/simulate.h"

#include <fftw3.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <numbers>
#include <thread>

#include "engine/error.h"
#include "image/preprocess.h"
#include "io/annotations.h"
#include "io/mrc.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;
constexpr double pi = std::numbers::pi;

double square(double v) { return v * v; }

// splitmix64: small, fast, and the same numbers on every platform (the standard library's
// distributions are not), so a seed names the same data set everywhere.
uint64_t scramble(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// What a random stream is for. Each micrograph and purpose has its own stream, so micrographs do not
// depend on each other, and switching one feature off (the noise, say) leaves the others as they were.
enum class Stream : uint64_t { ctf = 1, ice, carbon, carbon_texture, contamination, particles, noise, exposure, domain };

class Rng {
 public:
  Rng(unsigned seed, int index, Stream stream)
      : state_(scramble(scramble(scramble(seed + 1ull) + uint64_t(index)) + uint64_t(stream))) {}
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  bool chance(double p) { return uniform() < p; }
  double normal() {  // Box-Muller; each pair of uniforms gives two values
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2 * std::log(1 - uniform())), angle = 2 * pi * uniform();
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }
  // Electron counts: Knuth's product of uniforms for small means; above 30, where the Poisson
  // distribution is within a fraction of a percent of the normal one, the rounded normal.
  double poisson(double mean) {
    if (mean >= 30) return std::max(0.0, std::round(mean + std::sqrt(mean) * normal()));
    const double limit = std::exp(-mean);
    int k = 0;
    for (double p = uniform(); p > limit; p *= uniform()) ++k;
    return k;
  }

 private:
  uint64_t next() { return scramble(state_ += 0x9E3779B97F4A7C15ull); }
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// A domain of a particle: a sphere of uniform density, in units of the particle's radius.
struct Sphere {
  double x, y, z, r;
};

// The shapes particles come in, all within the unit sphere so that every view of them is at most a
// diameter across: a globular protein, a ring of subunits (a ring from above, a bar from the side),
// a rod, and two domains on a stalk.
const std::vector<std::vector<Sphere>>& shapes() {
  static const std::vector<std::vector<Sphere>> all = [] {
    std::vector<Sphere> ring;
    for (int i = 0; i < 10; ++i) ring.push_back({0.72 * std::cos(i * pi / 5), 0.72 * std::sin(i * pi / 5), 0, 0.22});
    return std::vector<std::vector<Sphere>>{
        {{0, 0, 0, 0.55},
         {0.46, 0.22, 0.11, 0.4},
         {-0.39, 0.36, -0.17, 0.38},
         {0.06, -0.5, 0.22, 0.38},
         {-0.22, -0.11, -0.5, 0.36}},
        ring,
        {{-0.7, 0, 0, 0.26}, {-0.35, 0.05, 0, 0.28}, {0, 0, 0, 0.3}, {0.35, -0.05, 0, 0.28}, {0.7, 0, 0, 0.26}},
        {{-0.45, 0, 0, 0.5}, {0.52, 0.05, 0.05, 0.42}, {0.05, 0, 0, 0.16}},
    };
  }();
  return all;
}

// Adds the projection of a uniform sphere of radius r pixels at (cx, cy), its thickness
// 2 sqrt(r^2 - d^2) times `density`, evaluated at pixel centres (x + 0.5, y + 0.5).
void add_sphere(Image& layer, double cx, double cy, double r, double density) {
  const int x0 = std::max(0, int(std::floor(cx - r))), x1 = std::min(layer.width, int(std::ceil(cx + r)));
  const int y0 = std::max(0, int(std::floor(cy - r))), y1 = std::min(layer.height, int(std::ceil(cy + r)));
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const double inside = r * r - square(x + 0.5 - cx) - square(y + 0.5 - cy);
      if (inside > 0) layer.at(x, y) += float(2 * density * std::sqrt(inside));
    }
}

// A particle's density projected along the beam: `shape` turned by a rotation drawn uniformly from
// all 3D orientations (a random unit quaternion), at (x, y), `radius` pixels per shape unit.
void draw_particle(Image& layer, const std::vector<Sphere>& shape, double x, double y, double radius, double density,
                   Rng& rng) {
  double q[4], norm = 0;
  for (double& v : q) norm += square(v = rng.normal());
  norm = std::sqrt(norm);
  const double a = q[0] / norm, b = q[1] / norm, c = q[2] / norm, d = q[3] / norm;
  // The rotation matrix's first two rows: the projection keeps only x and y.
  const double r00 = a * a + b * b - c * c - d * d, r01 = 2 * (b * c - a * d), r02 = 2 * (b * d + a * c);
  const double r10 = 2 * (b * c + a * d), r11 = a * a - b * b + c * c - d * d, r12 = 2 * (c * d - a * b);
  // Every shape has the mass of a uniform sphere of radius 0.6 (a ring is no fainter than a globule,
  // only spread out), and thickness counts in units of the radius, so the contrast does not depend
  // on the box size.
  double volume = 0;
  for (const Sphere& s : shape) volume += s.r * s.r * s.r;
  density *= 0.6 * 0.6 * 0.6 / volume / radius;
  for (const Sphere& s : shape)
    add_sphere(layer, x + radius * (r00 * s.x + r01 * s.y + r02 * s.z),
               y + radius * (r10 * s.x + r11 * s.y + r12 * s.z), radius * s.r, density);
}

// An ice crystal or other contamination: where a sum of broad Gaussians ("metaballs") exceeds 1/2,
// which gives an irregular outline with a sharp edge.
struct Contamination {
  struct Lump {
    double x, y, sigma;  // pixels
  };
  std::vector<Lump> lumps;
  double density = 0;  // in particle density units; negative: thinner than the ice round it

  double field(double x, double y) const {
    double f = 0;
    for (const Lump& l : lumps) f += std::exp(-(square(x - l.x) + square(y - l.y)) / (2 * l.sigma * l.sigma));
    return f;
  }

  void draw(Image& layer) const {
    double left = 1e300, right = -1e300, top = 1e300, bottom = -1e300;
    for (const Lump& l : lumps) {
      left = std::min(left, l.x - 3 * l.sigma), right = std::max(right, l.x + 3 * l.sigma);
      top = std::min(top, l.y - 3 * l.sigma), bottom = std::max(bottom, l.y + 3 * l.sigma);
    }
    const int x0 = std::max(0, int(left)), x1 = std::min(layer.width, int(right) + 1);
    const int y0 = std::max(0, int(top)), y1 = std::min(layer.height, int(bottom) + 1);
    if (x0 >= x1 || y0 >= y1) return;
    // Separable per lump: one exp per lump and column, per lump and row.
    const size_t n = lumps.size(), cols = size_t(x1 - x0);
    std::vector<double> across(n * cols), down(n);
    for (size_t i = 0; i < n; ++i)
      for (int x = x0; x < x1; ++x)
        across[i * cols + size_t(x - x0)] = std::exp(-square(x + 0.5 - lumps[i].x) / (2 * square(lumps[i].sigma)));
    for (int y = y0; y < y1; ++y) {
      for (size_t i = 0; i < n; ++i) down[i] = std::exp(-square(y + 0.5 - lumps[i].y) / (2 * square(lumps[i].sigma)));
      for (int x = x0; x < x1; ++x) {
        double f = 0;
        for (size_t i = 0; i < n; ++i) f += down[i] * across[i * cols + size_t(x - x0)];
        const double t = std::clamp((f - 0.45) / 0.1, 0.0, 1.0);  // the edge: a few pixels wide
        layer.at(x, y) += float(density * t * t * (3 - 2 * t));
      }
    }
  }
};

// A size FFTW transforms fast: the smallest n' >= n with no prime factor above 7.
int fft_size(int n) {
  for (;; ++n) {
    int m = n;
    for (int p : {2, 3, 5, 7})
      while (m % p == 0) m /= p;
    if (m == 1) return n;
  }
}

// Index j of a line of n values, mirrored at both ends as often as needed.
int mirror(int j, int n) {
  j %= 2 * n;
  if (j < 0) j += 2 * n;
  return j < n ? j : 2 * n - 1 - j;
}

// A filter applied in Fourier space: the image, mirror-padded by `pad` pixels, multiplied by
// gain(kx, ky) (k in cycles per pixel) and cropped back.
class Transfer {
 public:
  template <class Gain>
  Transfer(int width, int height, int pad, Gain gain)
      : width_(width), height_(height), pad_(pad), nx_(fft_size(width + 2 * pad_)), ny_(fft_size(height + 2 * pad_)) {
    const int half = nx_ / 2 + 1;
    gain_.resize(size_t(ny_) * size_t(half));
    for (int fy = 0; fy < ny_; ++fy) {
      const double ky = double(fy <= ny_ / 2 ? fy : fy - ny_) / ny_;
      for (int fx = 0; fx < half; ++fx)  // FFTW's round trip multiplies by nx * ny
        gain_[size_t(fy) * size_t(half) + size_t(fx)] = float(gain(double(fx) / nx_, ky) / (double(nx_) * ny_));
    }
    real_ = fftwf_alloc_real(size_t(nx_) * size_t(ny_));
    spectrum_ = fftwf_alloc_complex(gain_.size());
    if (real_ && spectrum_) {
      std::lock_guard lock(fftw_planner_mutex());  // planning is not thread-safe, executing is
      forward_ = fftwf_plan_dft_r2c_2d(ny_, nx_, real_, spectrum_, FFTW_ESTIMATE);
      backward_ = fftwf_plan_dft_c2r_2d(ny_, nx_, spectrum_, real_, FFTW_ESTIMATE);
    }
    if (!forward_ || !backward_) {
      release();
      throw Error("simulate: cannot set up a " + std::to_string(nx_) + " x " + std::to_string(ny_) +
                  " Fourier transform");
    }
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() { release(); }

  // The layer, mirror-padded by pad_ so that what rings out over one edge does not wrap round onto
  // the opposite one, transformed, multiplied by the gain, transformed back.
  void apply(Image& layer) {
    std::vector<int> xs(static_cast<size_t>(nx_));
    for (int px = 0; px < nx_; ++px) xs[size_t(px)] = mirror(px - pad_, width_);
    for (int py = 0; py < ny_; ++py) {
      const float* row = &layer.at(0, mirror(py - pad_, height_));
      float* out = real_ + size_t(py) * size_t(nx_);
      for (int px = 0; px < nx_; ++px) out[px] = row[xs[size_t(px)]];
    }
    fftwf_execute(forward_);
    for (size_t i = 0; i < gain_.size(); ++i) spectrum_[i][0] *= gain_[i], spectrum_[i][1] *= gain_[i];
    fftwf_execute(backward_);
    for (int y = 0; y < height_; ++y)
      std::copy_n(real_ + size_t(y + pad_) * size_t(nx_) + size_t(pad_), width_, &layer.at(0, y));
  }

 private:
  void release() {
    {
      std::lock_guard lock(fftw_planner_mutex());
      if (forward_) fftwf_destroy_plan(forward_);
      if (backward_) fftwf_destroy_plan(backward_);
    }
    fftwf_free(real_);
    fftwf_free(spectrum_);
  }

  int width_, height_, pad_, nx_, ny_;
  std::vector<float> gain_;  // gain(k) / (nx ny) for each element of the half spectrum
  float* real_ = nullptr;
  fftwf_complex* spectrum_ = nullptr;
  fftwf_plan forward_ = nullptr, backward_ = nullptr;
};

// One micrograph's contrast transfer: T(k) = sin(pi lambda dz k^2 + phase) exp(-b k^2), k in cycles
// per pixel. The phase is asin of the amplitude contrast, drawn from the options' range: the demo's
// 0.3-0.6 is large, so that T(0) is well above 0 and a particle's outline passes; real data's
// 0.07-0.15 leaves mostly the fringes, faint once downsampled. The defocus puts the first maximum of
// T at 2.5-5 cycles per particle diameter, so that the particle's features beyond it ring. Astigmatism: the defocus
// is dz (1 + a cos 2(angle of k - axis)), a up to `astigmatism`; its numbers are drawn last, so
// without it the transfer is as it was.
Transfer contrast_transfer(const SimulationOptions& o, double diameter, Rng& rng) {
  const double phase = std::asin(rng.uniform(o.amplitude_contrast_low, o.amplitude_contrast_high));
  const double first_peak = rng.uniform(2.5, 5) / diameter;
  const double lambda_dz = (pi / 2 - phase) / (pi * square(first_peak));
  const double b = rng.uniform(10, 30);
  const double a = o.astigmatism > 0 ? rng.uniform(0, o.astigmatism) : 0;
  const double axis = o.astigmatism > 0 ? rng.uniform(0, pi) : 0;
  return Transfer(o.width, o.height, std::max(32, int(diameter)), [=](double kx, double ky) {
    const double k2 = kx * kx + ky * ky;
    const double dz = a > 0 && k2 > 0 ? 1 + a * std::cos(2 * (std::atan2(ky, kx) - axis)) : 1;
    return std::sin(pi * lambda_dz * dz * k2 + phase) * std::exp(-b * k2);
  });
}

// A counting detector's modulation transfer: the square pixel's sinc in x and y times a Lorentzian
// fall-off, 0.13 at Nyquist along an axis (a model of the measured curves, which fall to 0.1-0.3).
Transfer detector_transfer(int width, int height) {
  const auto sinc = [](double k) { return k == 0 ? 1 : std::sin(pi * k) / (pi * k); };
  return Transfer(width, height, 32, [=](double kx, double ky) {
    return sinc(kx) * sinc(ky) / (1 + (kx * kx + ky * ky) / square(0.25));
  });
}

// The variance of the layer's pixels inside the boxes (those of them in the image), pooled.
double variance_in_boxes(const Image& layer, const std::vector<Box>& boxes) {
  double sum = 0, sum2 = 0, n = 0;
  for (const Box& b : boxes) {
    // Pixels whose centre lies in the box.
    const int x0 = std::max(0, int(std::ceil(b.x - b.w / 2 - 0.5))),
              x1 = std::min(layer.width, int(std::ceil(b.x + b.w / 2 - 0.5)));
    const int y0 = std::max(0, int(std::ceil(b.y - b.h / 2 - 0.5))),
              y1 = std::min(layer.height, int(std::ceil(b.y + b.h / 2 - 0.5)));
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) sum += layer.at(x, y), sum2 += square(layer.at(x, y)), ++n;
  }
  return n > 1 ? std::max(0.0, (sum2 - sum * sum / n) / (n - 1)) : 0;
}

// The ice, in final units: a slope in a random direction and two broad swells (thicker and thinner
// ice), each up to about two particle signal deviations.
void add_ice(Image& image, Rng& rng) {
  const double w = image.width, h = image.height, side = std::max(w, h);
  const double slope = rng.uniform(0.5, 2) / side, angle = rng.uniform(0, 2 * pi);
  const double sx = slope * std::cos(angle), sy = slope * std::sin(angle);
  std::vector<float> across(size_t(image.width));
  for (int x = 0; x < image.width; ++x) across[size_t(x)] = float(sx * (x + 0.5 - w / 2));
  for (int y = 0; y < image.height; ++y) {
    const float down = float(sy * (y + 0.5 - h / 2));
    for (int x = 0; x < image.width; ++x) image.at(x, y) += down + across[size_t(x)];
  }
  for (int swell = 0; swell < 2; ++swell) {
    // A Gaussian swell, evaluated over the whole micrograph: separable, one exp per row and column.
    const double sigma = rng.uniform(0.25, 0.6) * side, height = rng.uniform(0.5, 1.5) * (rng.chance(0.5) ? 1 : -1);
    const double cx = rng.uniform(0, w), cy = rng.uniform(0, h);
    for (int x = 0; x < image.width; ++x)
      across[size_t(x)] = float(std::exp(-square(x + 0.5 - cx) / (2 * sigma * sigma)));
    for (int y = 0; y < image.height; ++y) {
      const float down = float(height * std::exp(-square(y + 0.5 - cy) / (2 * sigma * sigma)));
      for (int x = 0; x < image.width; ++x) image.at(x, y) += down * across[size_t(x)];
    }
  }
}

void check(const SimulationOptions& o) {
  const auto fail = [](const std::string& problem) { throw Error("simulate: " + problem); };
  if (o.box_size_max > 0 && (o.box_size_max > std::min(o.width, o.height) || o.box_size_max < o.box_size))
    fail("box_size_max " + std::to_string(o.box_size_max) + " must lie from the box size to the micrograph's side");
  if (!(o.density_max >= 0 && o.density_max <= 2)) fail("density_max must be from 0 to 2");
  if (!(o.inverted_share >= 0 && o.inverted_share <= 1)) fail("inverted_share must be from 0 to 1");
  if (o.box_size < 8) fail("box size " + std::to_string(o.box_size) + " is below 8 pixels");
  if (o.width < o.box_size || o.height < o.box_size || o.width > max_micrograph_side || o.height > max_micrograph_side)
    fail("a " + std::to_string(o.width) + " x " + std::to_string(o.height) +
         " micrograph: each side must be from the box size (" + std::to_string(o.box_size) + ") to " +
         std::to_string(max_micrograph_side) + " pixels");
  if (!(o.snr > 0) || !std::isfinite(o.snr))
    fail("the signal-to-noise ratio must be above 0, not " + std::to_string(o.snr));
  if (!(o.snr_max >= 0) || !std::isfinite(o.snr_max)) fail("snr_max must be 0 or above, not " + std::to_string(o.snr_max));
  if (!(o.dose >= 0) || !(o.dose <= 1e6)) fail("the dose must be from 0 to 1e6 electrons per pixel, not " + std::to_string(o.dose));
  if (!(o.amplitude_contrast_low > 0 && o.amplitude_contrast_low <= o.amplitude_contrast_high &&
        o.amplitude_contrast_high < 1))
    fail("the amplitude contrast must lie in (0, 1), its low end not above its high end");
  if (!(o.astigmatism >= 0 && o.astigmatism < 1))
    fail("the astigmatism must be from 0 to below 1, not " + std::to_string(o.astigmatism));
  // Beyond 2 per box area the particles (at least 0.6 box apart) no longer fit.
  if (!(o.density >= 0 && o.density <= 2))
    fail("the density must be from 0 to 2 particles per box area, not " + std::to_string(o.density));
  if (o.count < 0) fail("a negative number of micrographs");
}

// The carbon edge on half of the micrographs: the hole's circle is 1.5-4 micrograph sides across
// (nearly straight at this scale, as in real data), its edge 5-45% of the short side from the
// centre, so the carbon covers a sliver up to almost half of the image.
void place_carbon(const SimulationOptions& o, Rng& carbon_rng, SimulatedMicrograph& m) {
  if (!(carbon_rng.chance(0.5) && o.carbon)) return;
  const double angle = carbon_rng.uniform(0, 2 * pi);  // from the centre towards the carbon
  const double edge = carbon_rng.uniform(0.05, 0.45) * std::min(o.width, o.height);
  m.hole_radius = carbon_rng.uniform(1.5, 4) * std::max(o.width, o.height);
  m.hole_x = o.width / 2.0 + (edge - m.hole_radius) * std::cos(angle);
  m.hole_y = o.height / 2.0 + (edge - m.hole_radius) * std::sin(angle);
}

// Contamination on half of the micrographs, one to three blobs of 1-3 particle diameters.
std::vector<Contamination> place_contamination(const SimulationOptions& o, int index, double diameter) {
  std::vector<Contamination> contamination;
  Rng dirt_rng(o.seed, index, Stream::contamination);
  const int blobs = dirt_rng.chance(0.5) ? 1 + int(dirt_rng.uniform() * 3) : 0;
  for (int i = 0; o.contamination && i < blobs; ++i) {
    Contamination c;
    c.density = dirt_rng.uniform(1.5, 3) * (dirt_rng.chance(0.8) ? 1 : -0.5);
    const double size = diameter * dirt_rng.uniform(1, 3), x = dirt_rng.uniform(0, o.width),
                 y = dirt_rng.uniform(0, o.height);
    const int lumps = 3 + int(dirt_rng.uniform() * 4);
    for (int j = 0; j < lumps; ++j) {
      const double r = j == 0 ? 0 : dirt_rng.uniform(0.3, 0.9) * size, a = dirt_rng.uniform(0, 2 * pi);
      c.lumps.push_back({x + r * std::cos(a), y + r * std::sin(a), dirt_rng.uniform(0.25, 0.5) * size});
    }
    contamination.push_back(c);
  }
  return contamination;
}

struct Centres {
  std::vector<double> x, y;
};

// Particle centres anywhere on the micrograph (some cut by its edge), at least min_distance apart;
// a third of them placed next to an earlier one, so that particles crowd and touch. A uniform grid
// of cells min_distance wide finds the neighbours. Where the micrograph is full some are left out.
// Particles keep clear of contamination: the field stays well below its visible edge (1/2) at
// the corners, edge middles and centre of their box.
Centres place_particles(const SimulationOptions& o, double diameter, const std::vector<Contamination>& contamination,
                        Rng& rng) {
  const int width = o.width, height = o.height;
  const double box = o.box_size;
  const auto clear_of_contamination = [&](double x, double y) {
    for (const Contamination& c : contamination)
      for (double dy : {-0.5, 0.0, 0.5})
        for (double dx : {-0.5, 0.0, 0.5})
          if (c.field(x + dx * box, y + dy * box) > 0.25) return false;
    return true;
  };
  const double min_distance = rng.uniform(0.75, 0.9) * diameter;
  const int wanted = int(std::lround(o.density * double(width) * height / (box * box)));
  const int cells_x = int(width / min_distance) + 1, cells_y = int(height / min_distance) + 1;
  std::vector<std::vector<int>> cells(size_t(cells_x) * size_t(cells_y));
  Centres c;
  std::vector<double>&xs = c.x, &ys = c.y;
  const auto fits = [&](double x, double y) {
    if (x < 0 || x >= width || y < 0 || y >= height || !clear_of_contamination(x, y)) return false;
    const int cx = int(x / min_distance), cy = int(y / min_distance);
    for (int ny = std::max(0, cy - 1); ny <= std::min(cells_y - 1, cy + 1); ++ny)
      for (int nx = std::max(0, cx - 1); nx <= std::min(cells_x - 1, cx + 1); ++nx)
        for (int j : cells[size_t(ny) * size_t(cells_x) + size_t(nx)])
          if (square(xs[size_t(j)] - x) + square(ys[size_t(j)] - y) < square(min_distance)) return false;
    return true;
  };
  for (int i = 0; i < wanted; ++i)
    for (int attempt = 0; attempt < 30; ++attempt) {
      double x, y;
      if (!xs.empty() && rng.chance(0.35)) {
        const size_t j = size_t(rng.uniform() * double(xs.size()));
        const double r = rng.uniform(min_distance, 1.1 * diameter), a = rng.uniform(0, 2 * pi);
        x = xs[j] + r * std::cos(a), y = ys[j] + r * std::sin(a);
      } else {
        x = rng.uniform(0, width), y = rng.uniform(0, height);
      }
      if (!fits(x, y)) continue;
      cells[size_t(int(y / min_distance)) * size_t(cells_x) + size_t(int(x / min_distance))].push_back(int(xs.size()));
      xs.push_back(x), ys.push_back(y);
      break;
    }
  return c;
}

// The particles' density, and their boxes in m. Labelled: the whole box inside the micrograph and
// in the ice (the ice in the hole is convex, so the four corners decide). Half the particles that
// touch the carbon are drawn; none is labelled.
Image draw_particles(const SimulationOptions& o, const Centres& centres, double diameter, Rng& rng,
                     SimulatedMicrograph& m) {
  Image particles(o.width, o.height);
  const double box = o.box_size, half = box / 2;
  for (size_t i = 0; i < centres.x.size(); ++i) {
    const double x = centres.x[i], y = centres.y[i];
    const bool inside = x - half >= 0 && x + half <= o.width && y - half >= 0 && y + half <= o.height;
    const bool on_carbon = m.on_carbon(x - half, y - half) || m.on_carbon(x + half, y - half) ||
                           m.on_carbon(x - half, y + half) || m.on_carbon(x + half, y + half);
    if (on_carbon && rng.chance(0.5)) continue;
    const Box b{float(x), float(y), float(box), float(box)};
    (inside && !on_carbon ? m.particles : m.unlabelled).push_back(b);
    const auto& shape = shapes()[size_t(rng.uniform() * double(shapes().size()))];
    draw_particle(particles, shape, x, y, diameter / 2 * rng.uniform(0.95, 1.05), rng.uniform(0.7, 1.3), rng);
  }
  return particles;
}

// Carbon (a film denser than the ice, with a grainy texture that the CTF turns into Thon rings)
// and contamination, in the same density units as the particles.
Image draw_matter(const SimulationOptions& o, int index, const SimulatedMicrograph& m,
                  const std::vector<Contamination>& contamination, Rng& carbon_rng) {
  Image matter(o.width, o.height);
  if (std::isfinite(m.hole_radius)) {
    const double level = carbon_rng.uniform(1, 2), grain = carbon_rng.uniform(0.5, 1);
    Rng texture(o.seed, index, Stream::carbon_texture);
    for (int y = 0; y < o.height; ++y)
      for (int x = 0; x < o.width; ++x) {
        const double outside = std::sqrt(square(x + 0.5 - m.hole_x) + square(y + 0.5 - m.hole_y)) - m.hole_radius;
        const double film = std::clamp(0.5 + outside / 2, 0.0, 1.0);  // a 2-pixel edge
        if (film > 0) matter.at(x, y) = float(film * (level + grain * texture.normal()));
      }
  }
  for (const Contamination& c : contamination) c.draw(matter);
  return matter;
}

// The micrograph as public benchmark sets ship it: low-passed to a fifth of the particle diameter
// (a stand-in for their denoisers), mean +- 3 deviations (crYOLO's STANDARD range, -0.5 to 0.5)
// stretched over the 256 grey levels.
Image denoised_8bit(const Image& image, int box_size) {
  Image grey = lowpass(image, std::min(0.5, 5 / (0.8 * box_size)));
  normalize_standard(grey);
  for (float& v : grey.pixels) v = 127.5f + v * 255;
  return grey;
}

// The options of micrograph `index`: where a range is given, its box size (log-uniform), density and
// contrast polarity drawn from a stream of their own.
SimulationOptions micrograph_options(const SimulationOptions& options, int index) {
  SimulationOptions o = options;
  Rng rng(o.seed, index, Stream::domain);
  if (o.box_size_max > o.box_size)
    o.box_size = int(std::lround(o.box_size * std::pow(double(o.box_size_max) / o.box_size, rng.uniform())));
  if (o.density_max > o.density) o.density = rng.uniform(o.density, o.density_max);
  if (o.inverted_share > 0 && rng.chance(o.inverted_share)) o.dark_density = !o.dark_density;
  return o;
}

}  // namespace

// Each step draws from random streams of its own (Stream), so that turning one feature off leaves
// the others as they were.
SimulatedMicrograph simulate_micrograph(const SimulationOptions& options, int index) {
  check(options);
  if (index < 0) throw Error("simulate: micrograph index " + std::to_string(index) + " is negative");
  const SimulationOptions o = micrograph_options(options, index);
  const double diameter = 0.8 * o.box_size;
  SimulatedMicrograph m;
  m.box_size = o.box_size;
  Rng carbon_rng(o.seed, index, Stream::carbon);
  place_carbon(o, carbon_rng, m);
  const std::vector<Contamination> contamination = place_contamination(o, index, diameter);
  Rng rng(o.seed, index, Stream::particles);
  const Centres centres = place_particles(o, diameter, contamination, rng);
  Image particles = draw_particles(o, centres, diameter, rng, m);
  Image matter = draw_matter(o, index, m, contamination, carbon_rng);
  const bool has_matter = std::isfinite(m.hole_radius) || !contamination.empty();

  Rng ctf_rng(o.seed, index, Stream::ctf);
  if (o.ctf) {
    Transfer transfer = contrast_transfer(o, diameter, ctf_rng);
    transfer.apply(particles);
    if (has_matter) transfer.apply(matter);
  }

  // Scale so that the particle signal has deviation 1 over the labelled boxes (over all drawn ones
  // where none is labelled); then the noise has deviation 1/sqrt(snr).
  double variance = variance_in_boxes(particles, m.particles);
  if (!(variance > 0)) variance = variance_in_boxes(particles, m.unlabelled);
  const double scale = (variance > 0 ? 1 / std::sqrt(variance) : 1) * (o.dark_density ? -1 : 1);
  m.image = Image(o.width, o.height);
  for (size_t i = 0; i < m.image.pixels.size(); ++i)
    m.image.pixels[i] = float(scale * (double(particles.pixels[i]) + matter.pixels[i]));

  Rng ice_rng(o.seed, index, Stream::ice);
  if (o.ice_gradient) add_ice(m.image, ice_rng);
  double snr = o.snr;
  if (o.snr_max > o.snr) {
    Rng exposure(o.seed, index, Stream::exposure);
    snr = o.snr * std::pow(o.snr_max / o.snr, exposure.uniform());
  }
  Rng noise(o.seed, index, Stream::noise);
  if (o.dose > 0) {
    // Electrons: dose (1 + kappa s) expected in a pixel of signal s (none below 0), the contrast
    // kappa such that the signal's variance over the boxes, dose^2 kappa^2, is snr times the shot
    // noise's, about dose.
    const double kappa = std::sqrt(snr / o.dose);
    for (float& v : m.image.pixels) {
      const double expected = o.dose * std::max(0.0, 1 + kappa * v);
      v = float(o.noise ? noise.poisson(expected) : expected);
    }
  } else if (o.noise) {
    const double sigma = 1 / std::sqrt(snr);
    for (float& v : m.image.pixels) v += float(sigma * noise.normal());
  }
  if (o.detector_mtf) detector_transfer(o.width, o.height).apply(m.image);
  return m;
}

SimulationOptions realistic_simulation() {
  SimulationOptions o;
  o.count = 16;
  o.width = o.height = 4096;
  o.box_size = 160;
  o.density = 0.5;
  o.snr = 0.003, o.snr_max = 0.015;
  o.dose = 40;
  o.detector_mtf = true;
  o.astigmatism = 0.3;
  o.amplitude_contrast_low = 0.07, o.amplitude_contrast_high = 0.15;
  o.denoised_jpeg = true;
  return o;
}

SimulationOptions general_simulation() {
  SimulationOptions o;
  o.count = 80;
  o.width = o.height = 512;
  o.box_size = 32, o.box_size_max = 112;
  o.density = 0.1, o.density_max = 0.6;
  o.snr = 0.02, o.snr_max = 0.3;
  o.amplitude_contrast_low = 0.07, o.amplitude_contrast_high = 0.6;
  o.astigmatism = 0.3;
  o.inverted_share = 0.3;
  return o;
}

std::string simulated_name(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "sim_%04d", index);
  return name;
}

void simulate_dataset(const SimulationOptions& o, const std::string& out_dir) {
  check(o);
  const fs::path root(out_dir);
  for (const char* folder : {"micrographs", "box", "star", "jpg"}) {
    if (folder == std::string("jpg") && !o.denoised_jpeg) continue;
    std::error_code ec;
    fs::create_directories(root / folder, ec);
    if (ec) throw Error((root / folder).string() + ": cannot create the folder (" + ec.message() + ")");
  }
  // Micrographs are independent: each thread takes the next index until none is left. The first
  // failure stops the others and is thrown here.
  std::atomic<int> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto work = [&] {
    for (int i; (i = next++) < o.count;) {
      try {
        const SimulatedMicrograph m = simulate_micrograph(o, i);
        const std::string name = simulated_name(i);
        std::vector<Box> from_bottom = m.particles;  // box and STAR files count y up from the bottom
        for (Box& b : from_bottom) b.y = file_y_to_image_y(b.y, o.height);
        write_mrc((root / "micrographs" / (name + ".mrc")).string(), m.image);
        write_eman_box((root / "box" / (name + ".box")).string(), from_bottom, float(m.box_size));
        write_star((root / "star" / (name + ".star")).string(), from_bottom, name + ".mrc");
        if (o.denoised_jpeg) write_jpeg((root / "jpg" / (name + ".jpg")).string(), denoised_8bit(m.image, m.box_size), 90);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = o.count;
      }
    }
  };
  const int threads = std::clamp(int(std::thread::hardware_concurrency()), 1, std::max(1, o.count));
  {
    std::vector<std::jthread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace cupick
