#include "kernels/upsample.h"

namespace cupick::kernels {

__global__ void upsample_forward_kernel(float* y, const float* x, size_t n, int h, int w) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    y[i] = x[upsample_source(i, h, w)];
}

// Gathers rather than scatters: each input element sums its own four dy, so no atomics.
__global__ void upsample_backward_kernel(float* dx, const float* dy, size_t n, int h, int w, bool accumulate) {
  for (size_t j = blockIdx.x * size_t(blockDim.x) + threadIdx.x; j < n; j += size_t(gridDim.x) * blockDim.x) {
    const float g = upsample_grad_at(dy, j, h, w);
    dx[j] = accumulate ? dx[j] + g : g;
  }
}

cudaError_t upsample_forward(float* y, const float* x, size_t planes, int h, int w, cudaStream_t stream) {
  const size_t n = planes * 4 * size_t(h) * size_t(w);  // output elements
  if (n == 0) return cudaSuccess;
  upsample_forward_kernel<<<blocks_for(n), 256, 0, stream>>>(y, x, n, h, w);
  return cudaGetLastError();
}

cudaError_t upsample_backward(float* dx, const float* dy, size_t planes, int h, int w, bool accumulate,
                              cudaStream_t stream) {
  const size_t n = planes * size_t(h) * size_t(w);  // input elements
  if (n == 0) return cudaSuccess;
  upsample_backward_kernel<<<blocks_for(n), 256, 0, stream>>>(dx, dy, n, h, w, accumulate);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
