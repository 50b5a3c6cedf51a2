// Reorg: space-to-depth with 2x2 blocks in TensorFlow's order (crYOLO's Lambda(space_to_depth)).
// TensorFlow, NHWC: out[n, y, x, (dy*2 + dx)*C + c] = in[n, 2y + dy, 2x + dx, c]. In NCHW, output
// channel (dy*2 + dx)*C + c: four blocks of C channels, one per position in the 2x2 block. Darknet's
// reorg orders the channels differently and would not load Keras weights correctly.
#pragma once
#include "kernels/common.h"

namespace cupick::kernels {

// Input index of output element i; input n x c x h x w (h, w even), output n x 4c x h/2 x w/2. A
// bijection, so backward writes each input gradient from exactly one output element.
CUPICK_HD size_t reorg_source(size_t i, int c, int h, int w) {
  const int oh = h / 2, ow = w / 2;
  const int ox = int(i % ow);
  size_t t = i / ow;
  const int oy = int(t % oh);
  t /= oh;
  const int oc = int(t % (4 * size_t(c)));
  const size_t n = t / (4 * size_t(c));
  const int block = oc / c, ch = oc % c;  // block = dy*2 + dx
  return ((n * c + ch) * h + 2 * oy + block / 2) * size_t(w) + 2 * ox + block % 2;
}

// x: n x c x h x w; y: n x 4c x h/2 x w/2.
cudaError_t reorg_forward(float* y, const float* x, int n, int c, int h, int w, cudaStream_t stream);
// dx = (accumulate ? dx : 0) + the inverse permutation of dy.
cudaError_t reorg_backward(float* dx, const float* dy, int n, int c, int h, int w, bool accumulate,
                           cudaStream_t stream);

}  // namespace cupick::kernels
