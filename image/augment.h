// Training augmentation (docs/BEHAVIOUR.md §5.3): per sample, a zoom by U(1, 1.1) and a random
// crop back to size, a flip, a rotation by quarter turns, then 0 to 4 intensity changes. Boxes are
// in the image's own pixels (centre x, y; y down the rows, pixel edges at integers, as in
// preprocess.h) and follow every geometric change exactly.
//
// Repeatable: every random number comes from the caller's std::mt19937 through explicit arithmetic
// on its 32-bit draws (no std::*_distribution, whose output differs between standard libraries),
// so the same seed gives the same plan and the same pixels on any platform (up to the last bit of
// libm's log/cos/exp in the noise and the Gaussian blur weights).
#pragma once
#include <optional>
#include <random>
#include <vector>

#include "io/boxes.h"
#include "io/micrograph.h"

namespace cupick {

// vertical: upside down (rows reversed); horizontal: left-right (columns reversed); both: the two,
// which is also the half turn.
enum class Flip { none, both, vertical, horizontal };

// Everything augment draws before touching pixels; the per-pixel noise and dropout are drawn while
// applying. Unset intensity changes are skipped; the set ones are applied in the order listed.
struct AugmentPlan {
  double zoom = 1;                   // U(1, 1.1)
  double crop_x = 0, crop_y = 0;     // crop offset in zoomed pixels, U(0, side x (zoom - 1))
  Flip flip = Flip::none;            // each of the four with probability 1/4
  int quarter_turns = 0;             // clockwise as displayed; 0..3 for a square image, else 0 or 2
  std::optional<double> noise;       // Gaussian noise, sigma / image sd, U(0, 0.3)
  std::optional<double> add;         // a constant, / image sd, U(-0.15, 0.15)
  std::optional<double> contrast;    // v -> median + factor (v - median), factor U(0.5, 2)
  std::optional<double> multiply;    // v -> factor v, factor U(0.5, 1.5)
  std::optional<double> dropout;     // fraction of pixels set to the image mean, U(0.01, 0.1)
  std::optional<double> gaussian_blur;  // sigma, U(0, 3)            } the blur is one of the two,
  std::optional<int> box_blur;          // width in pixels, 2..6      } each with probability 1/2
};

// Draws a plan for a width x height image: the geometry, then how many intensity changes (0..4,
// equally likely), which ones (a uniformly random subset of the six, the blur counting as one) and
// their parameters.
AugmentPlan plan_augment(int width, int height, std::mt19937& rng);

// Applies a plan: zoom_crop, flip, rotate_quarter_turns, then the intensity changes. `rng` gives
// the per-pixel noise and dropout draws.
void apply_augment(Image& image, std::vector<Box>& boxes, const AugmentPlan& plan, std::mt19937& rng);

// plan_augment then apply_augment.
void augment(Image& image, std::vector<Box>& boxes, std::mt19937& rng);

// The geometric steps. zoom_crop: the image enlarged `zoom` times about its top-left corner (a
// point x goes to x zoom) and the same-sized window at (crop_x, crop_y) of the enlarged image cut out
// (x goes to x zoom - crop_x), bilinearly resampled (resample_bilinear). Box sizes scale by zoom;
// boxes whose centre leaves [0, width) x [0, height) are dropped.
void zoom_crop(Image& image, std::vector<Box>& boxes, double zoom, double crop_x, double crop_y);
void flip(Image& image, std::vector<Box>& boxes, Flip how);
// Clockwise as displayed (y down): a point (x, y) goes to (height - y, x) per turn and width and
// height swap (for boxes too). Any number of turns, any image shape.
void rotate_quarter_turns(Image& image, std::vector<Box>& boxes, int turns);

}  // namespace cupick
