// Nearest-neighbour 2x upsampling, Keras UpSampling2D(2): out[n, c, y, x] = in[n, c, y/2, x/2].
#pragma once
#include "kernels/common.h"

namespace cupick::kernels {

// Input index of output element i; input planes are h x w, output planes 2h x 2w.
CUPICK_HD size_t upsample_source(size_t i, int h, int w) {
  const size_t ow = 2 * size_t(w), oh = 2 * size_t(h);
  const size_t ox = i % ow;
  const size_t t = i / ow;
  const size_t oy = t % oh;
  const size_t plane = t / oh;
  return (plane * h + oy / 2) * size_t(w) + ox / 2;
}

// Gradient of input element j: the sum of the four output gradients it fed, always summed in the
// same order so the CPU and GPU agree to the bit.
template <class T>
CUPICK_HD T upsample_grad_at(const T* dy, size_t j, int h, int w) {
  const size_t x = j % w;
  const size_t t = j / w;
  const size_t y = t % h;
  const size_t plane = t / h;
  const size_t ow = 2 * size_t(w);
  const T* g = dy + (plane * 2 * h + 2 * y) * ow + 2 * x;
  return (g[0] + g[1]) + (g[ow] + g[ow + 1]);
}

// x: planes x h x w; y: planes x 2h x 2w.
cudaError_t upsample_forward(float* y, const float* x, size_t planes, int h, int w, cudaStream_t stream);
// One thread per input element; dx = (accumulate ? dx : 0) + the sum of its four dy.
cudaError_t upsample_backward(float* dx, const float* dy, size_t planes, int h, int w, bool accumulate,
                              cudaStream_t stream);

}  // namespace cupick::kernels
