// Synthetic micrographs with known particles (`cupick simulate`), for the demo, the tests and the
// benchmarks: the truth is known exactly, and the image is hard in the ways real micrographs are.
//
//   particles      projections of a few 3D shapes (globular, ring, rod, two domains), each a few
//                  spheres of uniform density at fixed relative positions, seen in a random 3D
//                  orientation, up to 0.8 box_size across, their density varying by +-30%.
//                  Crowded: a third are placed next to another; centres are never closer than
//                  0.75-0.9 of a diameter (per micrograph), so some touch and none overlap much.
//   CTF            the whole object (particles, carbon, contamination) is filtered by
//                  sin(pi lambda dz k^2 + phi) exp(-B k^2) (optionally astigmatic: dz depends on the
//                  direction of k), with a random defocus per micrograph. The amplitude-contrast
//                  phase phi is large by default, so the low frequencies (a particle's outline, what
//                  survives crYOLO's 0.1 low-pass) pass and the higher ones ring: Thon rings on the
//                  carbon, fringes round particles and contamination. With real data's small one
//                  (the realistic setting) mostly the fringes remain.
//   noise          white Gaussian: its variance is the particle signal's variance over the labelled
//                  boxes divided by snr (the demo: 0.1). With a dose instead: shot noise, the
//                  image counts electrons per pixel (Poisson), the particle contrast set so that the
//                  same snr holds before the detector.
//   detector       optionally, the detector's modulation transfer (the pixel's sinc times a
//                  Lorentzian fall-off, 0.13 at Nyquist) blurs signal and noise alike, so the noise
//                  is no longer white: most of its power sits at low frequencies, as in real data.
//   ice            the background slopes and swells smoothly (ice thickness).
//   carbon         on half of the micrographs, the edge of the hole in the carbon film crosses the
//                  image: an arc of a large circle, ice inside, carbon outside, denser and grainy.
//                  Half of the particles that touch the carbon are drawn there; none is labelled
//                  (pickers must avoid the carbon).
//   contamination  on half of the micrographs, one to three large irregular blobs (ice crystals),
//                  mostly dense, some thin; no particles beneath them or next to them.
// Only particles whose box lies fully inside the micrograph, in the ice and clear of contamination
// are labelled; particles cut by the edge are drawn too.
//
// Units: the particle signal has standard deviation 1 over the labelled boxes and the empty ice is 0
// before its slope and swells, so the noise has standard deviation 1/sqrt(snr).
#pragma once
#include <limits>
#include <string>
#include <vector>

#include "io/boxes.h"
#include "io/micrograph.h"

namespace cupick {

struct SimulationOptions {
  int count = 20;                   // micrographs in a data set (simulate_dataset)
  int width = 1024, height = 1024;  // pixels
  int box_size = 64;                // the labelled box, pixels; a particle is about 0.8 of it across
  double snr = 0.1;                 // particle signal variance / noise variance over the labelled boxes
  double density = 0.3;             // particles per box_size^2 of micrograph (0.3: ~77 at 1024^2, box 64)
  unsigned seed = 1;
  bool carbon = true;         // a carbon edge on some micrographs
  bool contamination = true;  // contamination blobs on some micrographs
  bool ice_gradient = true;   // a sloping, swelling background
  bool ctf = true;            // the contrast transfer; false: the object as it is
  bool noise = true;          // false: the same micrograph without noise
  // Contrast as crYOLO reads raw micrographs: whatever scatters more (protein, carbon, ice crystals)
  // is darker than the ice. false: inverted, denser is brighter.
  bool dark_density = true;

  // What real micrographs add (realistic_simulation() turns them on; off, the micrographs are as
  // they were before these existed).
  double snr_max = 0;       // > snr: each micrograph's snr drawn log-uniformly from [snr, snr_max]
  double dose = 0;          // > 0: electrons per pixel of empty ice, Poisson shot noise (else Gaussian)
  bool detector_mtf = false;  // blur by the detector's MTF after the electrons are counted
  double astigmatism = 0;   // each micrograph's defocus differs by up to this fraction between two axes
  // Each micrograph's amplitude contrast, the CTF's value at zero frequency: large in the demo, so
  // that particles stand out as blobs; real data's 0.07-0.15 leaves mostly their fringes.
  double amplitude_contrast_low = 0.3, amplitude_contrast_high = 0.6;
  // Also write out_dir/jpg/NAME.jpg (simulate_dataset): the micrograph denoised (low-passed to a
  // fifth of the particle diameter), contrast-stretched to mean +- 3 deviations and stored in 8 bits,
  // as public benchmark sets ship their micrographs.
  bool denoised_jpeg = false;

  // Domain randomisation (general_simulation()): each micrograph draws its own box size
  // (log-uniformly from box_size to box_size_max), density (density to density_max), snr (above)
  // and amplitude contrast (the range above), and with chance inverted_share the other polarity.
  int box_size_max = 0;
  double density_max = 0;
  double inverted_share = 0;
};

// The hard, real-like setting to develop against: 4096^2 micrographs, 160 px boxes (particles of
// about 128 px), packed as densely as real data sets are (0.5 per box area: neighbours nearly touch,
// and at input 512 several share a grid cell), shot noise at 40 electrons per pixel and the
// detector's MTF, astigmatic CTFs with real data's small amplitude contrast, ice, carbon and
// contamination, and the 8-bit denoised JPEG beside each MRC. 16 micrographs: 10 to train on, 1 to
// validate, 5 to test. The snr, 0.003-0.015 over the boxes, is below the 0.01-0.05 quoted for real
// data because it is measured over the whole box, and these particles' density is concentrated:
// at 0.01 they stand out clearly in a 4x-binned micrograph, at 0.003 they are as faint as in
// EMPIAR-10059's (compared by eye, contrast-stretched alike).
SimulationOptions realistic_simulation();

// What the pretrained start learns from (scripts/pretrain.sh): micrographs of 512^2 at the pixel
// scale of 1024^2 network inputs, each of its own kind: particles of 26-90 px (boxes 32-112),
// 0.1-0.6 per box area, snr 0.02-0.3, amplitude contrast 0.07-0.6, astigmatism, a third with
// inverted contrast; carbon, contamination and ice as always. 80 micrographs.
SimulationOptions general_simulation();

struct SimulatedMicrograph {
  Image image;
  int box_size = 0;             // this micrograph's (options with box_size_max draw their own)
  std::vector<Box> particles;   // the labelled ones, box_size square, Image coordinates
  std::vector<Box> unlabelled;  // drawn but not to be picked: on or over the carbon, cut by the edge
  // The hole in the carbon film, Image coordinates: ice inside the circle, carbon outside.
  double hole_x = 0, hole_y = 0, hole_radius = std::numeric_limits<double>::infinity();

  bool on_carbon(double x, double y) const {
    return (x - hole_x) * (x - hole_x) + (y - hole_y) * (y - hole_y) > hole_radius * hole_radius;
  }
};

// Micrograph `index` of the data set that `options` describe: the same for the same seed, index and
// options, whatever else is generated and in which order or thread. Throws Error for options out of
// range (a box that does not fit, snr <= 0, negative density).
SimulatedMicrograph simulate_micrograph(const SimulationOptions& options, int index);

// The base name of micrograph `index`: "sim_0007".
std::string simulated_name(int index);

// Writes options.count micrographs, generated on all cores: out_dir/micrographs/NAME.mrc,
// out_dir/box/NAME.box (EMAN, box_size boxes) and out_dir/star/NAME.star (centres, with the
// micrograph's file name), coordinates counted from the bottom edge as those files do. Each file is
// written beside itself and renamed, so a reader never sees half of one. Prints nothing.
void simulate_dataset(const SimulationOptions& options, const std::string& out_dir);

}  // namespace cupick
