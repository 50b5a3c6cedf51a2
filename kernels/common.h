// Shared by the CUDA kernels and the CPU reference: the per-element logic is written once as
// CUPICK_HD functions so the two paths cannot drift apart.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

#ifdef __CUDACC__
#define CUPICK_HD __host__ __device__ __forceinline__
#else
#define CUPICK_HD inline
#endif

namespace cupick::kernels {

// a * b rounded on its own. nvcc fuses a product with a following add into one FMA (one rounding
// instead of two) unless told not to, and the host compiler (x86-64, no -mfma) does not: where the
// two paths must agree to the bit, the product goes through this.
CUPICK_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
CUPICK_HD double mul_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// Whether this build holds kernels the current GPU can run: cudaSuccess, or the error every launch
// would give (cudaErrorNoKernelImageForDevice on a GPU whose compute capability was not built for).
cudaError_t kernel_image_status();

// Launchers return cudaGetLastError() after the launch; the engine wraps them in CUDA_CHECK.

// Blocks for a 1-D launch over n elements with `threads` per block (grid-stride loops cover the rest).
inline unsigned blocks_for(size_t n, unsigned threads = 256, unsigned max_blocks = 65535 * 8) {
  size_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > max_blocks ? max_blocks : b));
}

}  // namespace cupick::kernels
