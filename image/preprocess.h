// From a micrograph to the network's input (docs/BEHAVIOUR.md §3): low-pass filter (with a cache
// on disk), resize to the network input size, normalise, cut into patches, and the box maps between
// micrograph and network pixels.
//
// Coordinates. Pixel edges lie at integer coordinates, as in micrograph.h: pixel (i, j) covers
// [i, i+1) x [j, j+1) and its centre is (i + 0.5, j + 0.5). Boxes use these continuous coordinates,
// so resizing a W x H image to W' x H' maps every point (x, y) to (x W'/W, y H'/H), box sizes
// included (a box is an area, not a set of pixel centres), and resize_bilinear samples the source at
// exactly that map of each destination pixel centre.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "io/boxes.h"
#include "io/config.h"
#include "io/micrograph.h"

namespace cupick {

// ---- Low-pass filter ----------------------------------------------------------------------------

// crYOLO's filter. `cutoff` is an absolute frequency in cycles/pixel OF THIS IMAGE, in (0, 0.5]
// (else Error): filter the image as the network sees it (after resizing), or scale the config's
// cutoff by network size / micrograph size first. The transfer function is a disc with a raised-
// cosine edge over the radius range [cutoff / 2, cutoff]: 1 up to half the cutoff, 1/2 at 0.75
// cutoff, exactly 0 at and beyond the cutoff (verify: crYOLO's edge width is not documented; a wide
// edge rings less). The image is mirror-padded on all sides (see lowpass_layout) so that the
// transform sees no jump at the image edges, transformed with FFTW, multiplied, transformed back,
// cropped and divided by the transform size. The per-pixel steps are kernels/lowpass.h's, shared
// with the GPU filter (GpuLowpass). Thread-safe. This is the reference the GPU filter is checked
// against.
Image lowpass(const Image& image, double cutoff);

class Context;  // engine/context.h

// lowpass() on a GPU: the same padding, transfer function and normalisation, with cuFFT's
// transforms for FFTW's; the two agree to float rounding. Keeps the cuFFT plans and device buffers
// of the last two padded sizes it met (a folder of same-sized micrographs plans once), so keep one
// filter for many micrographs. Runs on a stream of its own (so it overlaps the network's work on
// ctx's stream) and returns when that is done; it makes ctx's GPU the calling thread's current
// device. Thread-safe (one image at a time); ctx must outlive it. Memory: a 4096 x 4096 micrograph
// filtered at 0.025 (crYOLO's 0.1 for a 1024 network input) is transformed at 4480 x 4480: 80 MB of
// real and 80 MB of complex values, cuFFT's work area (shared by both plans) and the image.
class GpuLowpass {
 public:
  // Error unless ctx is on a GPU.
  explicit GpuLowpass(const Context& ctx);
  ~GpuLowpass();
  GpuLowpass(const GpuLowpass&) = delete;
  GpuLowpass& operator=(const GpuLowpass&) = delete;

  Image filter(const Image& image, double cutoff);

 private:
  struct Transforms;  // plans and buffers for one padded size
  const Context& ctx_;
  // A stream of its own: filtering the next micrographs overlaps the network's work on ctx's stream.
  void* stream_ = nullptr;  // cudaStream_t
  std::mutex mutex_;
  std::vector<std::unique_ptr<Transforms>> transforms_;  // the most recently used first
  std::unique_ptr<Buffer> image_;                        // the image on the GPU, in and out
};

// Where lowpass() puts an image inside its transform: lowpass_padded_size per side, the image in
// the middle (at left, top) so that both mirrored borders are about as wide.
struct LowpassLayout {
  int padded_width = 0, padded_height = 0, left = 0, top = 0;
};
LowpassLayout lowpass_layout(int width, int height, double cutoff);

// FFTW's planner (plan creation and destruction) is not thread-safe, while executing a plan is:
// every FFTW plan in cupick is made and destroyed while holding this one mutex.
std::mutex& fftw_planner_mutex();

// The padded length for one side of `side` pixels: the smallest even length with no prime factor
// above 7 (FFTW's and cuFFT's fast sizes) that leaves at least min(ceil(4 / cutoff), side) mirrored
// pixels on each side. The margin keeps the one jump the padding leaves, where the two mirrored
// borders meet across the period, about four ringing periods away from the image. (A power of two
// would often nearly double the side: a 4096 micrograph at cutoff 0.025 needs 4416, which is
// 2^6 x 3 x 23 -> 4480 = 2^7 x 5 x 7, where the next power of two, 8192, costs about 5x the time.)
int lowpass_padded_size(int side, double cutoff);

// lowpass() with a cache: the result is kept in `cache_dir` (created if missing) as
// "<micrograph base name>_<hash of its path>_<hash of its pixels>_lp<cutoff>.mrc" (e.g.
// "Grid1_003_5f3c0a91_0c1d2e3f4a5b6c7d_lp0.1.mrc"), and read from there instead of being computed
// when that file holds an image of the same size. Same-named micrographs of different folders are
// different files, and so is a micrograph replaced by another (whatever the files' times say); so is
// another cutoff. Files are written under a temporary name and renamed (write_mrc), so a reader
// never sees half a file; two callers filtering the SAME micrograph at once may both compute it,
// which is harmless. An empty `cache_dir` filters without a cache (predict --otf). Filters on `gpu`
// when given, else on the CPU.
Image lowpass_cached(const std::string& micrograph_path, const Image& image, double cutoff,
                     const std::string& cache_dir, GpuLowpass* gpu = nullptr);

// The cache file lowpass_cached uses for `image`, read from `micrograph_path`.
std::string lowpass_cache_path(const std::string& micrograph_path, const Image& image, double cutoff,
                               const std::string& cache_dir);

// A 64-bit hash of an image's size and pixels (their bits: 0.0 and -0.0 differ), for cache keys.
uint64_t content_hash(const Image& image);

// ---- Network input size and resizing ------------------------------------------------------------

// The network input in pixels; both multiples of 32. (Not config.h's InputSize, which is the size
// as the config writes it.)
struct NetworkInput {
  int height = 0, width = 0;
  bool operator==(const NetworkInput&) const = default;
};

// One number in the config: `input_size` is rounded to the nearest multiple of 32 (round_to_32);
// the SHORT side of the micrograph becomes that, the long side the short one times the aspect
// ratio, rounded to the nearest multiple of 32. E.g. 4096 x 4096 -> 1024 x 1024 and
// 3838 x 3710 (width x height) -> height 1024, width round_to_32(1024 * 3838 / 3710 = 1059.3) = 1056.
// Error for sizes that are not positive or an input size that rounds to 0.
NetworkInput network_input_size(int micrograph_width, int micrograph_height, int input_size);
// A list [height, width] in the config: each rounded to the nearest multiple of 32, whatever the
// micrograph.
NetworkInput network_input_size(const NetworkInput& requested);
// Either form, as config.h holds it.
NetworkInput network_input_size(int micrograph_width, int micrograph_height, const InputSize& configured);

// Bilinear resampling to width x height: destination pixel centre (i + 0.5) samples the source at
// continuous coordinate (i + 0.5) * (source width / width), i.e. source index
//   s = (i + 0.5) * scale - 0.5, clamped to [0, side - 1],
// interpolated between floor(s) and floor(s) + 1 (same in y). No anti-aliasing, like OpenCV's
// INTER_LINEAR. A constant image stays exactly constant.
Image resize_bilinear(const Image& image, int width, int height);

// Resizing that averages what a destination pixel covers, as PIL's bilinear resize (crYOLO's): a
// triangle filter whose width grows with the reduction, so shrinking 8x averages the noise of about
// 16 x 16 source pixels where resize_bilinear reads 2 x 2 and aliases the rest. Where neither side
// shrinks it is resize_bilinear. The network input is made with it.
Image resize_antialiased(const Image& image, int width, int height);

// The general form used by resize_bilinear and the zoom of augment: destination pixel centre u
// (= i + 0.5) samples the source at continuous coordinate (u + offset) * scale, per axis.
Image resample_bilinear(const Image& image, int width, int height, double scale_x, double scale_y,
                        double offset_x, double offset_y);

// A box with x, w (and est_w) times sx and y, h (and est_h) times sy, computed in double.
Box scale_box(const Box& box, double sx, double sy);

// Micrograph pixels -> network input pixels and back: the factors are width'/width and
// height'/height, never crossed, and each map is the other's exact inverse (up to float rounding,
// a few ulp).
Box box_to_network(const Box& box, int micrograph_width, int micrograph_height, NetworkInput network);
Box box_to_micrograph(const Box& box, NetworkInput network, int micrograph_width, int micrograph_height);

// ---- Normalisation ------------------------------------------------------------------------------

// crYOLO's STANDARD: (x - mean) / (6 sd + 1e-6), mean and (population) sd in double: most values
// land in [-0.5, 0.5].
void normalize_standard(Image& image);

// crYOLO's GMM: fit two Gaussians to the pixel values and normalise with the BRIGHTER component's
// (larger mean's) mean and sigma: (x - mean) / (sigma + 1e-6)  (verify: whether crYOLO also uses
// the factor 6 of STANDARD here). The fit uses every pixel of images up to 100,000 pixels, else
// 100,000 drawn (with replacement) by an mt19937 seeded with `seed`, so the same seed gives the
// same result. EM in double, started from the sample's quartiles (weights 1/2, the image's
// variance), until no parameter moves by more than 1e-6 of the image's sd or 100 iterations. A
// constant image becomes 0.
void normalize_gmm(Image& image, unsigned seed);

// A 1 x 1 x height x width host f32 tensor of the pixels.
Tensor to_tensor(const Image& image);

// ---- Patches ------------------------------------------------------------------------------------

// One patch of a micrograph: pixels [x0, x0 + width) x [y0, y0 + height).
struct Tile {
  int x0 = 0, y0 = 0, width = 0, height = 0;
  bool operator==(const Tile&) const = default;
};

// crYOLO's patch mode (num_patches n, overlap_patches in pixels): per axis, n base intervals
// [floor(i W / n), floor((i + 1) W / n)) that cover the side exactly (sizes W/n, differing by at
// most one pixel when n does not divide W), each grown by the overlap: an interior interval by
// `overlap` on both sides, the first by 2 x overlap to the right only, the last by 2 x overlap to
// the left only (so all have about the same size), then clamped to the image; n = 1 gives the whole
// image. n x n tiles, row by row (y outer, x inner). Error for n < 1, n above a side, overlap < 0.
std::vector<Tile> make_tiles(int width, int height, int n, int overlap);

// The pixels of one tile.
Image crop(const Image& image, const Tile& tile);

}  // namespace cupick
