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

// Launchers return cudaGetLastError() after the launch; the engine wraps them in CUDA_CHECK.

// Blocks for a 1-D launch over n elements with `threads` per block (grid-stride loops cover the rest).
inline unsigned blocks_for(size_t n, unsigned threads = 256, unsigned max_blocks = 65535 * 8) {
  size_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > max_blocks ? max_blocks : b));
}

}  // namespace cupick::kernels
