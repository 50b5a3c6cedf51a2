// Concatenation along channels in NCHW. Per image, an input is one contiguous block of c_i*h*w
// values, placed at channel offset off in an output image of C*h*w values: a copy of n rows between
// two arrays with different row strides. Backward is the same copy the other way.
#pragma once
#include "kernels/common.h"

namespace cupick::kernels {

// Element k of a copy of rows of `cols` values: dst[r*dst_stride + j] (+)= src[r*src_stride + j].
template <class T>
CUPICK_HD void copy_rows_at(T* dst, size_t dst_stride, const T* src, size_t src_stride, size_t cols, size_t k,
                            bool accumulate) {
  const size_t r = k / cols, j = k % cols;
  T& d = dst[r * dst_stride + j];
  const T v = src[r * src_stride + j];
  d = accumulate ? d + v : v;
}

// dst[r*dst_stride + j] = (accumulate ? dst[...] : 0) + src[r*src_stride + j], r < rows, j < cols.
// A kernel rather than cudaMemcpy2DAsync: accumulate mode needs one anyway, and one path is tested.
cudaError_t copy_rows(float* dst, size_t dst_stride, const float* src, size_t src_stride, size_t rows, size_t cols,
                      bool accumulate, cudaStream_t stream);

}  // namespace cupick::kernels
