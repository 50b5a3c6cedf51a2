#include "kernels/reorg.h"

namespace cupick::kernels {

__global__ void reorg_forward_kernel(float* y, const float* x, size_t n, int c, int h, int w) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    y[i] = x[reorg_source(i, c, h, w)];
}

// One thread per output element: the permutation sends each to a distinct input, so no atomics.
__global__ void reorg_backward_kernel(float* dx, const float* dy, size_t n, int c, int h, int w, bool accumulate) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    float& d = dx[reorg_source(i, c, h, w)];
    d = accumulate ? d + dy[i] : dy[i];
  }
}

cudaError_t reorg_forward(float* y, const float* x, int n, int c, int h, int w, cudaStream_t stream) {
  const size_t count = size_t(n) * c * h * w;  // same count in and out
  if (count == 0) return cudaSuccess;
  reorg_forward_kernel<<<blocks_for(count), 256, 0, stream>>>(y, x, count, c, h, w);
  return cudaGetLastError();
}

cudaError_t reorg_backward(float* dx, const float* dy, int n, int c, int h, int w, bool accumulate,
                           cudaStream_t stream) {
  const size_t count = size_t(n) * c * h * w;
  if (count == 0) return cudaSuccess;
  reorg_backward_kernel<<<blocks_for(count), 256, 0, stream>>>(dx, dy, count, c, h, w, accumulate);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
