// 2x2 max pooling with stride 2 and Keras "valid" padding (crYOLO's MaxPooling2D): an h x w plane
// becomes h/2 x w/2, and with an odd size the last row or column belongs to no window.
#pragma once
#include "kernels/common.h"

namespace cupick::kernels {

// Offset of the maximum in the 2x2 window at `win` (rows `w` apart): 0, 1, w or w + 1. Ties go to
// the first maximum in row-major window order (strict >), so forward and backward, CPU and GPU,
// all pick the same element without storing indices.
template <class T>
CUPICK_HD size_t maxpool_argmax(const T* win, int w) {
  size_t best = 0;
  if (win[1] > win[best]) best = 1;
  if (win[w] > win[best]) best = size_t(w);
  if (win[w + 1] > win[best]) best = size_t(w) + 1;
  return best;
}

// The window's maximum, win[maxpool_argmax(win, w)] by the same comparisons in the same order (so
// also for NaN), as a value: the host's row loops vectorise it.
template <class T>
CUPICK_HD T maxpool_max(const T* win, int w) {
  T best = win[0];
  if (win[1] > best) best = win[1];
  if (win[w] > best) best = win[w];
  if (win[w + 1] > best) best = win[w + 1];
  return best;
}

// Output element i of n*c planes of h x w input: the window's maximum.
template <class T>
CUPICK_HD T maxpool_forward_at(const T* x, size_t i, int h, int w) {
  const int oh = h / 2, ow = w / 2;
  const int ox = int(i % ow);
  const size_t t = i / ow;
  const int oy = int(t % oh);
  const size_t plane = t / oh;
  return maxpool_max(x + (plane * h + 2 * oy) * size_t(w) + 2 * ox, w);
}

// Backward for the window (oy, ox) of one h x w plane (x, dx) with output gradient g: g goes to the
// window's argmax, the other window positions get 0 (overwrite) or stay as they are (accumulate).
// The last window of a row or column also owns the row or column that valid padding dropped, so
// that overwrite mode writes every input position without a second pass. Windows never overlap, so
// the GPU needs no atomics.
template <class T>
CUPICK_HD void maxpool_backward_window(T* dx, T g, const T* x, int oy, int ox, int h, int w, bool accumulate) {
  const int oh = h / 2, ow = w / 2;
  const size_t base = size_t(2 * oy) * w + 2 * ox;
  const size_t arg = base + maxpool_argmax(x + base, w);
  const int rows = oy == oh - 1 ? h - 2 * oy : 2;  // 3 when h is odd
  const int cols = ox == ow - 1 ? w - 2 * ox : 2;  // 3 when w is odd
  for (int a = 0; a < rows; ++a)
    for (int b = 0; b < cols; ++b) {
      const size_t k = base + size_t(a) * w + b;
      if (k == arg) dx[k] = accumulate ? dx[k] + g : g;
      else if (!accumulate) dx[k] = T(0);
    }
}

// The same for output element i of n*c planes.
template <class T>
CUPICK_HD void maxpool_backward_at(T* dx, const T* dy, const T* x, size_t i, int h, int w, bool accumulate) {
  const int oh = h / 2, ow = w / 2;
  const int ox = int(i % ow);
  const size_t t = i / ow;
  const int oy = int(t % oh);
  const size_t plane = size_t(h) * w * (t / oh);
  maxpool_backward_window(dx + plane, dy[i], x + plane, oy, ox, h, w, accumulate);
}

// x: planes x h x w; y: planes x (h/2) x (w/2). h, w >= 2.
cudaError_t maxpool_forward(float* y, const float* x, size_t planes, int h, int w, cudaStream_t stream);
// One thread per output element; dx = (accumulate ? dx : 0) + routed dy.
cudaError_t maxpool_backward(float* dx, const float* dy, const float* x, size_t planes, int h, int w, bool accumulate,
                             cudaStream_t stream);

}  // namespace cupick::kernels
