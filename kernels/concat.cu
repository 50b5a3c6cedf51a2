#include "kernels/concat.h"

namespace cupick::kernels {

__global__ void copy_rows_kernel(float* dst, size_t dst_stride, const float* src, size_t src_stride, size_t n,
                                 size_t cols, bool accumulate) {
  for (size_t k = blockIdx.x * size_t(blockDim.x) + threadIdx.x; k < n; k += size_t(gridDim.x) * blockDim.x)
    copy_rows_at(dst, dst_stride, src, src_stride, cols, k, accumulate);
}

cudaError_t copy_rows(float* dst, size_t dst_stride, const float* src, size_t src_stride, size_t rows, size_t cols,
                      bool accumulate, cudaStream_t stream) {
  const size_t n = rows * cols;
  if (n == 0) return cudaSuccess;
  copy_rows_kernel<<<blocks_for(n), 256, 0, stream>>>(dst, dst_stride, src, src_stride, n, cols, accumulate);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
