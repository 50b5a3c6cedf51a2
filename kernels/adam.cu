#include "kernels/adam.h"

namespace cupick::kernels {

__global__ void adam_step_kernel(float* p, float* m, float* v, const float* g, size_t n, float lr_t, float beta1,
                                 float beta2, float eps) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    adam_element(p[i], m[i], v[i], g[i], lr_t, beta1, beta2, eps);
}

cudaError_t adam_step(float* p, float* m, float* v, const float* g, size_t n, float lr_t, float beta1, float beta2,
                      float eps, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  adam_step_kernel<<<blocks_for(n), 256, 0, stream>>>(p, m, v, g, n, lr_t, beta1, beta2, eps);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
