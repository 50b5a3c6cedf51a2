#include "kernels/leaky_relu.h"

namespace cupick::kernels {

__global__ void leaky_relu_forward_kernel(float* y, const float* x, size_t n, float slope) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    y[i] = leaky_relu(x[i], slope);
}

__global__ void leaky_relu_backward_kernel(float* dx, const float* dy, const float* x, size_t n, float slope,
                                           bool accumulate) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const float g = leaky_relu_dx(dy[i], x[i], slope);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

cudaError_t leaky_relu_forward(float* y, const float* x, size_t n, float slope, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  leaky_relu_forward_kernel<<<blocks_for(n), 256, 0, stream>>>(y, x, n, slope);
  return cudaGetLastError();
}

cudaError_t leaky_relu_backward(float* dx, const float* dy, const float* x, size_t n, float slope, bool accumulate,
                         cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  leaky_relu_backward_kernel<<<blocks_for(n), 256, 0, stream>>>(dx, dy, x, n, slope, accumulate);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
