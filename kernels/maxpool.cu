#include "kernels/maxpool.h"

namespace cupick::kernels {

__global__ void maxpool_forward_kernel(float* y, const float* x, size_t n, int h, int w) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    y[i] = maxpool_forward_at(x, i, h, w);
}

__global__ void maxpool_backward_kernel(float* dx, const float* dy, const float* x, size_t n, int h, int w,
                                        bool accumulate) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    maxpool_backward_at(dx, dy, x, i, h, w, accumulate);
}

cudaError_t maxpool_forward(float* y, const float* x, size_t planes, int h, int w, cudaStream_t stream) {
  const size_t n = planes * size_t(h / 2) * size_t(w / 2);
  if (n == 0) return cudaSuccess;
  maxpool_forward_kernel<<<blocks_for(n), 256, 0, stream>>>(y, x, n, h, w);
  return cudaGetLastError();
}

cudaError_t maxpool_backward(float* dx, const float* dy, const float* x, size_t planes, int h, int w, bool accumulate,
                             cudaStream_t stream) {
  const size_t n = planes * size_t(h / 2) * size_t(w / 2);  // output elements: one thread per window
  if (n == 0) return cudaSuccess;
  maxpool_backward_kernel<<<blocks_for(n), 256, 0, stream>>>(dx, dy, x, n, h, w, accumulate);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
