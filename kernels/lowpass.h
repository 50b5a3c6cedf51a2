// The low-pass filter's per-pixel steps (image/preprocess.h lowpass is the whole filter): mirror padding,
// the radial transfer function with its raised-cosine edge, and the crop back to the image. The
// CPU filter (FFTW) and the GPU one (cuFFT, between these kernels) share these functions, so the
// two cannot drift apart; only the transforms' rounding differs.
//
// Layouts, both row-major, x fastest:
//   image    (height, width)               float
//   padded   (padded_height, padded_width) float, the image in the middle, mirrored around it
//   spectrum (padded_height, padded_width / 2 + 1) complex: the non-negative x frequencies of a
//            real-to-complex transform (FFTW's and cuFFT's R2C layout), all y frequencies.
#pragma once
#include <cmath>

#include "kernels/common.h"

namespace cupick::kernels {

// The start of the raised-cosine edge, as a fraction of the cutoff. A wide edge keeps the filter's
// kernel short: ringing around sharp features (carbon edges, the image border's kinks) dies out
// within about two cutoff wavelengths, where an edge over [0.8, 1] cutoff rings five times longer.
constexpr double lowpass_taper_start = 0.5;

// The transfer function at radius f (cycles/pixel): 1 up to taper_start x cutoff, a raised cosine
// down to exactly 0 at the cutoff, 0 beyond.
CUPICK_HD double lowpass_gain(double f, double cutoff) {
  const double f0 = lowpass_taper_start * cutoff;
  if (f <= f0) return 1;
  if (f >= cutoff) return 0;
  return 0.5 * (1 + cos(3.14159265358979323846 * (f - f0) / (cutoff - f0)));
}

// The factor for spectrum element (kx, ky) of a padded_width x padded_height transform, with the
// round trip's 1 / (padded_width x padded_height) folded in (FFTW and cuFFT are unnormalised).
// Frequencies in cycles/pixel: kx / padded_width (kx <= padded_width / 2), and ky / padded_height
// for ky up to padded_height / 2, (ky - padded_height) / padded_height above.
CUPICK_HD float lowpass_spectrum_gain(int kx, int ky, int padded_width, int padded_height, double cutoff) {
  const double fy = double(ky <= padded_height / 2 ? ky : ky - padded_height) / padded_height;
  const double fx = double(kx) / padded_width;
  // mul_rn: the same radius on both sides, whatever nvcc would fuse.
  const double f = sqrt(mul_rn(fx, fx) + mul_rn(fy, fy));
  return float(lowpass_gain(f, cutoff) / (double(padded_width) * double(padded_height)));
}

// Index i of the mirror-extended line 0..n-1, n-1..0, 0..n-1, ... (each edge pixel repeated, so the
// extension is continuous at the edges).
CUPICK_HD int mirror_index(int i, int n) {
  const int period = 2 * n;
  int m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// Launchers on device pointers, queued on `stream`; each returns cudaGetLastError() after its launch.
// padded[py][px] = image[mirror(py - top)][mirror(px - left)]
cudaError_t lowpass_pad(float* padded, int padded_width, int padded_height, const float* image, int width, int height,
                        int left, int top, cudaStream_t stream);
// spectrum[ky][kx] *= lowpass_spectrum_gain(kx, ky, ...); `spectrum` holds (re, im) float pairs.
cudaError_t lowpass_multiply(float* spectrum, int padded_width, int padded_height, double cutoff, cudaStream_t stream);
// image[y][x] = padded[y + top][x + left]
cudaError_t lowpass_crop(float* image, int width, int height, const float* padded, int padded_width, int left, int top,
                         cudaStream_t stream);

}  // namespace cupick::kernels
