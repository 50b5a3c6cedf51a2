#include "image/preprocess.h"

#include <fftw3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <numbers>
#include <random>

#include "io/mrc.h"
#include "kernels/lowpass.h"

namespace cupick {

namespace fs = std::filesystem;

namespace {

void check_image(const Image& image, const char* what) {
  if (image.width <= 0 || image.height <= 0 || image.pixels.size() != size_t(image.width) * size_t(image.height))
    throw Error(std::string(what) + ": not an image: " + std::to_string(image.width) + " x " +
                std::to_string(image.height) + " holding " + std::to_string(image.pixels.size()) + " pixels");
}

void check_cutoff(double cutoff) {
  if (!(cutoff > 0 && cutoff <= 0.5))
    throw Error("low-pass cutoff " + std::to_string(cutoff) +
                " is not an absolute frequency in (0, 0.5] cycles/pixel");
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};

struct Plan {
  fftwf_plan plan = nullptr;
  explicit Plan(fftwf_plan p) : plan(p) {
    if (!plan) throw Error("FFTW could not plan a transform");
  }
  ~Plan() {
    std::lock_guard lock(fftw_planner_mutex());
    fftwf_destroy_plan(plan);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
};

// The cutoff as it appears in cache names: the shortest form that reads back to the same value in
// practice ("0.1", not "0.100000").
std::string cutoff_text(double cutoff) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", cutoff);
  return text;
}

}  // namespace

// ---- Low-pass filter ----------------------------------------------------------------------------

std::mutex& fftw_planner_mutex() {
  static std::mutex planner;
  return planner;
}

int lowpass_padded_size(int side, double cutoff) {
  check_cutoff(cutoff);
  if (side <= 0 || side > max_micrograph_side) throw Error("low-pass: bad image side " + std::to_string(side));
  const int margin = std::min(int(std::ceil(4 / cutoff)), side);
  auto fast = [](int n) {
    for (int p : {2, 3, 5, 7})
      while (n % p == 0) n /= p;
    return n == 1;
  };
  int padded = side + 2 * margin;
  padded += padded % 2;
  while (!fast(padded)) padded += 2;
  return padded;
}

LowpassLayout lowpass_layout(int width, int height, double cutoff) {
  LowpassLayout l;
  l.padded_width = lowpass_padded_size(width, cutoff);
  l.padded_height = lowpass_padded_size(height, cutoff);
  l.left = (l.padded_width - width) / 2;
  l.top = (l.padded_height - height) / 2;
  return l;
}

Image lowpass(const Image& image, double cutoff) {
  check_cutoff(cutoff);
  check_image(image, "low-pass");
  const LowpassLayout layout = lowpass_layout(image.width, image.height, cutoff);
  const int pw = layout.padded_width, ph = layout.padded_height, left = layout.left, top = layout.top;
  const int half_w = pw / 2 + 1;  // complex columns of a real-to-complex transform
  const size_t real_count = size_t(pw) * size_t(ph), complex_count = size_t(half_w) * size_t(ph);

  std::unique_ptr<float, FftwFree> real(fftwf_alloc_real(real_count));
  std::unique_ptr<fftwf_complex, FftwFree> spectrum(fftwf_alloc_complex(complex_count));
  if (!real || !spectrum)
    throw Error("low-pass: out of memory for a " + std::to_string(pw) + " x " + std::to_string(ph) + " transform");

  std::unique_ptr<Plan> forward, backward;
  {
    // FFTW_ESTIMATE plans without touching the arrays.
    std::lock_guard lock(fftw_planner_mutex());
    forward = std::make_unique<Plan>(fftwf_plan_dft_r2c_2d(ph, pw, real.get(), spectrum.get(), FFTW_ESTIMATE));
    backward = std::make_unique<Plan>(fftwf_plan_dft_c2r_2d(ph, pw, spectrum.get(), real.get(), FFTW_ESTIMATE));
  }

  std::vector<int> source_x(size_t(pw), 0);
  for (int px = 0; px < pw; ++px) source_x[size_t(px)] = kernels::mirror_index(px - left, image.width);
  for (int py = 0; py < ph; ++py) {
    const float* row = &image.pixels[size_t(kernels::mirror_index(py - top, image.height)) * size_t(image.width)];
    float* out = real.get() + size_t(py) * size_t(pw);
    for (int px = 0; px < pw; ++px) out[px] = row[source_x[size_t(px)]];
  }

  fftwf_execute(forward->plan);
  // FFTW's transforms are unnormalised: the gain divides the round trip's factor pw * ph out.
  for (int ky = 0; ky < ph; ++ky) {
    fftwf_complex* row = spectrum.get() + size_t(ky) * size_t(half_w);
    for (int kx = 0; kx < half_w; ++kx) {
      const float gain = kernels::lowpass_spectrum_gain(kx, ky, pw, ph, cutoff);
      row[kx][0] *= gain;
      row[kx][1] *= gain;
    }
  }
  fftwf_execute(backward->plan);

  Image filtered(image.width, image.height);
  for (int y = 0; y < image.height; ++y) {
    const float* in = real.get() + size_t(y + top) * size_t(pw) + size_t(left);
    std::copy(in, in + image.width, &filtered.pixels[size_t(y) * size_t(image.width)]);
  }
  return filtered;
}

uint64_t content_hash(const Image& image) {
  // A multiply-rotate mix over 64-bit words (the two sides, then the pixels' bits): several GB/s,
  // so hashing a 4096^2 micrograph costs a few per cent of filtering it. A cache key, not a
  // cryptographic hash.
  constexpr uint64_t k1 = 0x9e3779b97f4a7c15ull, k2 = 0xbf58476d1ce4e5b9ull;
  uint64_t h = (uint64_t(uint32_t(image.width)) << 32 | uint32_t(image.height)) * k1;
  auto mix = [&](uint64_t word) {
    h ^= word * k2;
    h = (h << 31 | h >> 33) * k1;
  };
  const size_t n = image.pixels.size();
  const auto* bits = reinterpret_cast<const unsigned char*>(image.pixels.data());
  for (size_t i = 0; i + 1 < n; i += 2) {
    uint64_t word;
    std::memcpy(&word, bits + i * sizeof(float), sizeof word);
    mix(word);
  }
  if (n % 2) {
    uint32_t last;
    std::memcpy(&last, bits + (n - 1) * sizeof(float), sizeof last);
    mix(last);
  }
  h ^= h >> 29;  // a final avalanche, so that every input bit reaches every output bit
  h *= k2;
  return h ^ (h >> 32);
}

std::string lowpass_cache_path(const std::string& micrograph_path, const Image& image, double cutoff,
                               const std::string& cache_dir) {
  // The path's hash keeps apart micrographs of one name in different folders (every data set has
  // its own "sim_0000" or "FoilHole_1"); the content's hash makes a replaced micrograph a new
  // entry, whatever its file time says.
  const std::string where = fs::absolute(micrograph_path).lexically_normal().string();
  uint32_t path_hash = 2166136261u;  // FNV-1a
  for (unsigned char c : where) path_hash = (path_hash ^ c) * 16777619u;
  char tag[40];
  std::snprintf(tag, sizeof tag, "_%08x_%016llx", path_hash, static_cast<unsigned long long>(content_hash(image)));
  // The hashes tell entries apart, so a long base name may be cut (at a character's start) to keep
  // the cache's name within the 255 bytes a file name may have, with room for write_mrc's suffix.
  std::string stem = fs::path(micrograph_path).stem().string();
  constexpr size_t max_stem = 160;
  if (stem.size() > max_stem) {
    size_t cut = max_stem;
    while (cut > 0 && (static_cast<unsigned char>(stem[cut]) & 0xc0) == 0x80) --cut;  // UTF-8 continuation
    stem.resize(cut);
  }
  return (fs::path(cache_dir) / (stem + tag + "_lp" + cutoff_text(cutoff) + ".mrc")).string();
}

Image lowpass_cached(const std::string& micrograph_path, const Image& image, double cutoff,
                     const std::string& cache_dir, GpuLowpass* gpu) {
  check_cutoff(cutoff);
  auto filter = [&] { return gpu ? gpu->filter(image, cutoff) : lowpass(image, cutoff); };
  if (cache_dir.empty()) return filter();  // no cache: on the fly, in memory
  const std::string cache = lowpass_cache_path(micrograph_path, image, cutoff, cache_dir);
  std::error_code exists_error;
  if (fs::exists(cache, exists_error)) {
    try {
      Image cached = read_mrc(cache);
      if (cached.width == image.width && cached.height == image.height) return cached;
    } catch (const Error&) {
      // A damaged cache file is computed again and replaced.
    }
  }

  Image filtered = filter();
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) throw Error(cache_dir + ": cannot create the filter cache folder: " + ec.message());
  write_mrc(cache, filtered);
  return filtered;
}

// ---- Network input size and resizing ------------------------------------------------------------

NetworkInput network_input_size(int micrograph_width, int micrograph_height, int input_size) {
  if (micrograph_width <= 0 || micrograph_height <= 0)
    throw Error("network input size: bad micrograph size " + std::to_string(micrograph_width) + " x " +
                std::to_string(micrograph_height));
  const int side = round_to_32(input_size);
  if (side <= 0) throw Error("input_size " + std::to_string(input_size) + " rounds to no multiple of 32");
  const int short_side = std::min(micrograph_width, micrograph_height);
  const int long_side = std::max(micrograph_width, micrograph_height);
  // round_to_32 of the exact quotient, halfway cases up, in double so that no int overflows.
  const int long_net = int(std::floor(double(side) * long_side / short_side / 32 + 0.5)) * 32;
  return micrograph_width >= micrograph_height ? NetworkInput{side, long_net} : NetworkInput{long_net, side};
}

NetworkInput network_input_size(const NetworkInput& requested) {
  const NetworkInput rounded{round_to_32(requested.height), round_to_32(requested.width)};
  if (rounded.height <= 0 || rounded.width <= 0)
    throw Error("input_size [" + std::to_string(requested.height) + ", " + std::to_string(requested.width) +
                "] rounds to no multiple of 32");
  return rounded;
}

NetworkInput network_input_size(int micrograph_width, int micrograph_height, const InputSize& configured) {
  if (configured.is_pair) return network_input_size(NetworkInput{configured.height, configured.width});
  return network_input_size(micrograph_width, micrograph_height, configured.width);
}

Image resample_bilinear(const Image& image, int width, int height, double scale_x, double scale_y,
                        double offset_x, double offset_y) {
  check_image(image, "resample");
  if (width <= 0 || height <= 0)
    throw Error("resample: bad target size " + std::to_string(width) + " x " + std::to_string(height));

  // Per destination column (and row): the two source indices and the weight of the second.
  struct Tap {
    int lo, hi;
    float t;
  };
  auto taps = [](int count, int source_side, double scale, double offset) {
    std::vector<Tap> out(size_t(count), Tap{0, 0, 0});
    for (int i = 0; i < count; ++i) {
      const double s = std::clamp((i + 0.5 + offset) * scale - 0.5, 0.0, double(source_side - 1));
      const int lo = int(s);
      out[size_t(i)] = {lo, std::min(lo + 1, source_side - 1), float(s - lo)};
    }
    return out;
  };
  const std::vector<Tap> tx = taps(width, image.width, scale_x, offset_x);
  const std::vector<Tap> ty = taps(height, image.height, scale_y, offset_y);

  Image out(width, height);
  for (int j = 0; j < height; ++j) {
    const Tap& r = ty[size_t(j)];
    const float* row0 = &image.pixels[size_t(r.lo) * size_t(image.width)];
    const float* row1 = &image.pixels[size_t(r.hi) * size_t(image.width)];
    float* dst = &out.pixels[size_t(j) * size_t(width)];
    for (int i = 0; i < width; ++i) {
      const Tap& c = tx[size_t(i)];
      // a + (b - a) t rather than a (1 - t) + b t: equal neighbours give exactly their value.
      const float top = row0[c.lo] + (row0[c.hi] - row0[c.lo]) * c.t;
      const float bottom = row1[c.lo] + (row1[c.hi] - row1[c.lo]) * c.t;
      dst[i] = top + (bottom - top) * r.t;
    }
  }
  return out;
}

Image resize_bilinear(const Image& image, int width, int height) {
  check_image(image, "resize");
  if (width <= 0 || height <= 0)
    throw Error("resize: bad target size " + std::to_string(width) + " x " + std::to_string(height));
  return resample_bilinear(image, width, height, double(image.width) / width, double(image.height) / height, 0, 0);
}

namespace {

// One destination pixel's footprint along an axis: source pixels first, first + 1, ... and their
// weights (summing to 1).
struct Footprint {
  int first = 0;
  std::vector<float> weights;
};

// The triangle filter of PIL's bilinear resize, widened by the reduction: destination pixel i
// (centre (i + 0.5) * scale in source coordinates) weighs source pixel k by
// max(0, 1 - |k + 0.5 - centre| / scale) when scale > 1, by the plain bilinear taps otherwise.
// The footprint is cut at the image's edges and renormalised.
std::vector<Footprint> footprints(int count, int source_side) {
  const double scale = double(source_side) / count, reach = std::max(scale, 1.0);
  std::vector<Footprint> out(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const double centre = (i + 0.5) * scale;
    const int first = std::max(int(std::floor(centre - reach)), 0);
    const int last = std::min(int(std::ceil(centre + reach)), source_side - 1);
    Footprint& f = out[size_t(i)];
    f.first = first;
    double sum = 0;
    std::vector<double> w;
    for (int k = first; k <= last; ++k) {
      w.push_back(std::max(0.0, 1 - std::abs(k + 0.5 - centre) / reach));
      sum += w.back();
    }
    if (!(sum > 0)) {  // a footprint outside the image (cannot happen for in-range centres)
      w.assign(1, 1.0);
      sum = 1;
      f.first = std::clamp(int(centre), 0, source_side - 1);
    }
    for (double v : w) f.weights.push_back(float(v / sum));
  }
  return out;
}

}  // namespace

Image resize_antialiased(const Image& image, int width, int height) {
  check_image(image, "resize");
  if (width <= 0 || height <= 0)
    throw Error("resize: bad target size " + std::to_string(width) + " x " + std::to_string(height));
  if (width >= image.width && height >= image.height) return resize_bilinear(image, width, height);
  const std::vector<Footprint> fx = footprints(width, image.width), fy = footprints(height, image.height);
  // Across first (every source row), then down: the second pass reads rows of the first's output.
  Image across(width, image.height);
  for (int y = 0; y < image.height; ++y) {
    const float* src = &image.pixels[size_t(y) * size_t(image.width)];
    float* dst = &across.pixels[size_t(y) * size_t(width)];
    for (int i = 0; i < width; ++i) {
      const Footprint& f = fx[size_t(i)];
      float v = 0;
      for (size_t k = 0; k < f.weights.size(); ++k) v += f.weights[k] * src[size_t(f.first) + k];
      dst[i] = v;
    }
  }
  Image out(width, height);
  for (int j = 0; j < height; ++j) {
    const Footprint& f = fy[size_t(j)];
    float* dst = &out.pixels[size_t(j) * size_t(width)];
    for (size_t k = 0; k < f.weights.size(); ++k) {
      const float w = f.weights[k];
      const float* src = &across.pixels[(size_t(f.first) + k) * size_t(width)];
      for (int i = 0; i < width; ++i) dst[i] += w * src[i];
    }
  }
  return out;
}

Box scale_box(const Box& box, double sx, double sy) {
  Box out = box;
  out.x = float(box.x * sx);
  out.y = float(box.y * sy);
  out.w = float(box.w * sx);
  out.h = float(box.h * sy);
  out.est_w = float(box.est_w * sx);
  out.est_h = float(box.est_h * sy);
  return out;
}

namespace {
// v * to / from, multiplied first: a float times an int is exact in double, so one rounding.
float rescale(float v, int to, int from) { return float(double(v) * to / from); }

Box rescale_box(const Box& box, int to_w, int from_w, int to_h, int from_h) {
  if (to_w <= 0 || from_w <= 0 || to_h <= 0 || from_h <= 0) throw Error("box scaling between empty sizes");
  Box out = box;
  out.x = rescale(box.x, to_w, from_w);
  out.w = rescale(box.w, to_w, from_w);
  out.est_w = rescale(box.est_w, to_w, from_w);
  out.y = rescale(box.y, to_h, from_h);
  out.h = rescale(box.h, to_h, from_h);
  out.est_h = rescale(box.est_h, to_h, from_h);
  return out;
}
}  // namespace

Box box_to_network(const Box& box, int micrograph_width, int micrograph_height, NetworkInput network) {
  return rescale_box(box, network.width, micrograph_width, network.height, micrograph_height);
}

Box box_to_micrograph(const Box& box, NetworkInput network, int micrograph_width, int micrograph_height) {
  return rescale_box(box, micrograph_width, network.width, micrograph_height, network.height);
}

// ---- Normalisation ------------------------------------------------------------------------------

void normalize_standard(Image& image) {
  if (image.pixels.empty()) return;
  double sum = 0;
  for (float v : image.pixels) sum += v;
  const double mean = sum / double(image.pixels.size());
  double squares = 0;
  for (float v : image.pixels) squares += (v - mean) * (v - mean);
  const double sd = std::sqrt(squares / double(image.pixels.size()));
  const double scale = 1 / (6 * sd + 1e-6);
  for (float& v : image.pixels) v = float((v - mean) * scale);
}

namespace {

struct Gaussian {
  double weight, mean, var;
};

// Two-component 1D Gaussian mixture by EM on `z` (standardised values: mean 0, sd 1).
std::array<Gaussian, 2> fit_two_gaussians(const std::vector<double>& z) {
  const size_t m = z.size();
  std::vector<double> sorted = z;
  auto quantile = [&](double q) {
    auto nth = sorted.begin() + std::ptrdiff_t(q * double(m - 1));
    std::nth_element(sorted.begin(), nth, sorted.end());
    return *nth;
  };
  std::array<Gaussian, 2> g = {Gaussian{0.5, quantile(0.25), 1}, Gaussian{0.5, quantile(0.75), 1}};
  constexpr double var_floor = 1e-6;  // in units of the image's variance: keeps a component from collapsing
  // Stop when no mean, sd or weight moves by more than this (in units of the image's sd), or after
  // max_iterations. Unimodal images converge slowly and end at the limit, which costs about a
  // millisecond per iteration at 100,000 samples.
  constexpr double tolerance = 1e-6;
  constexpr int max_iterations = 100;

  for (int it = 0; it < max_iterations; ++it) {
    // log(weight x normal density) = c - (x - mean)^2 / (2 var).
    double c[2], inv2var[2];
    for (int k = 0; k < 2; ++k) {
      c[k] = std::log(g[k].weight) - 0.5 * std::log(2 * std::numbers::pi * g[k].var);
      inv2var[k] = 0.5 / g[k].var;
    }
    double n1 = 0, s0 = 0, s1 = 0, q0 = 0, q1 = 0;
    for (double x : z) {
      const double l0 = c[0] - (x - g[0].mean) * (x - g[0].mean) * inv2var[0];
      const double l1 = c[1] - (x - g[1].mean) * (x - g[1].mean) * inv2var[1];
      const double r1 = 1 / (1 + std::exp(l0 - l1));  // responsibility of component 1; exp -> inf gives 0
      n1 += r1;
      s1 += r1 * x;
      q1 += r1 * x * x;
      s0 += (1 - r1) * x;
      q0 += (1 - r1) * x * x;
    }
    const double n0 = double(m) - n1;
    // A component that lost all its pixels: the whole sample is one Gaussian, the other one is
    // given a mean that never wins the "brighter" choice.
    if (n0 < 1e-9 || n1 < 1e-9) {
      const double all_mean = (s0 + s1) / double(m), all_var = (q0 + q1) / double(m) - all_mean * all_mean;
      return {Gaussian{1, all_mean, std::max(all_var, var_floor)},
              Gaussian{0, -std::numeric_limits<double>::infinity(), 1}};
    }
    const std::array<Gaussian, 2> next = {
        Gaussian{n0 / double(m), s0 / n0, std::max(q0 / n0 - (s0 / n0) * (s0 / n0), var_floor)},
        Gaussian{n1 / double(m), s1 / n1, std::max(q1 / n1 - (s1 / n1) * (s1 / n1), var_floor)}};
    double change = 0;
    for (int k = 0; k < 2; ++k)
      change = std::max({change, std::abs(next[k].mean - g[k].mean), std::abs(next[k].weight - g[k].weight),
                         std::abs(std::sqrt(next[k].var) - std::sqrt(g[k].var))});
    g = next;
    if (change < tolerance) break;
  }
  return g;
}

}  // namespace

void normalize_gmm(Image& image, unsigned seed) {
  if (image.pixels.empty()) return;
  const size_t n = image.pixels.size();
  double sum = 0;
  for (float v : image.pixels) sum += v;
  const double mean = sum / double(n);
  double squares = 0;
  for (float v : image.pixels) squares += (v - mean) * (v - mean);
  const double sd = std::sqrt(squares / double(n));
  if (!(sd > 0)) {  // constant: nothing to fit, and every pixel is the mean
    std::fill(image.pixels.begin(), image.pixels.end(), 0.f);
    return;
  }

  // Standardised values, so that the EM sums keep their precision whatever the image's scale.
  constexpr size_t max_samples = 100000;
  std::vector<double> z;
  if (n <= max_samples) {
    z.reserve(n);
    for (float v : image.pixels) z.push_back((v - mean) / sd);
  } else {
    std::mt19937 rng(seed);
    z.resize(max_samples);
    // Index = floor(draw * n / 2^32): explicit, so the same seed picks the same pixels everywhere.
    for (double& v : z) v = (image.pixels[size_t((uint64_t(rng()) * n) >> 32)] - mean) / sd;
  }

  const std::array<Gaussian, 2> g = fit_two_gaussians(z);
  const Gaussian& bright = g[1].mean > g[0].mean ? g[1] : g[0];
  const double bright_mean = mean + sd * bright.mean, bright_sd = sd * std::sqrt(bright.var);
  const double scale = 1 / (bright_sd + 1e-6);
  for (float& v : image.pixels) v = float((v - bright_mean) * scale);
}

Tensor to_tensor(const Image& image) {
  check_image(image, "to_tensor");
  Tensor t(Shape{1, 1, image.height, image.width});
  std::copy(image.pixels.begin(), image.pixels.end(), t.data<float>());
  return t;
}

// ---- Patches ------------------------------------------------------------------------------------

namespace {

// The n grown intervals [start, end) along one side.
std::vector<std::pair<int, int>> tile_intervals(int side, int n, int overlap) {
  std::vector<std::pair<int, int>> out;
  for (int i = 0; i < n; ++i) {
    const int lo = int(int64_t(i) * side / n), hi = int(int64_t(i + 1) * side / n);
    const bool first = i == 0, last = i == n - 1;
    const int grow_left = first ? 0 : (last ? 2 * overlap : overlap);
    const int grow_right = last ? 0 : (first ? 2 * overlap : overlap);
    out.emplace_back(std::max(0, lo - grow_left), std::min(side, hi + grow_right));
  }
  return out;
}

}  // namespace

std::vector<Tile> make_tiles(int width, int height, int n, int overlap) {
  if (n < 1 || n > std::min(width, height) || overlap < 0)
    throw Error("patches: cannot cut a " + std::to_string(width) + " x " + std::to_string(height) +
                " micrograph into " + std::to_string(n) + " x " + std::to_string(n) + " patches with overlap " +
                std::to_string(overlap));
  const auto xs = tile_intervals(width, n, overlap), ys = tile_intervals(height, n, overlap);
  std::vector<Tile> tiles;
  for (const auto& [y0, y1] : ys)
    for (const auto& [x0, x1] : xs) tiles.push_back({x0, y0, x1 - x0, y1 - y0});
  return tiles;
}

Image crop(const Image& image, const Tile& tile) {
  check_image(image, "crop");
  if (tile.x0 < 0 || tile.y0 < 0 || tile.width <= 0 || tile.height <= 0 || tile.x0 + tile.width > image.width ||
      tile.y0 + tile.height > image.height)
    throw Error("crop: tile " + std::to_string(tile.width) + " x " + std::to_string(tile.height) + " at (" +
                std::to_string(tile.x0) + ", " + std::to_string(tile.y0) + ") is not inside the " +
                std::to_string(image.width) + " x " + std::to_string(image.height) + " image");
  Image out(tile.width, tile.height);
  for (int y = 0; y < tile.height; ++y) {
    const float* src = &image.pixels[size_t(tile.y0 + y) * size_t(image.width) + size_t(tile.x0)];
    std::copy(src, src + tile.width, &out.pixels[size_t(y) * size_t(tile.width)]);
  }
  return out;
}

}  // namespace cupick
