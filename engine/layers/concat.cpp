#include "engine/layers/concat.h"

#include <algorithm>

#include "kernels/concat.h"

namespace cupick {

namespace {

// Input i as a copy of rows (see kernels/concat.h): one row per image.
struct Block {
  size_t rows, cols;             // n images of c_i*h*w values
  size_t in_stride, out_stride;  // c_i*h*w in the input, C*h*w in the output
  size_t out_offset;             // off_i*h*w: where input i's channels start in an output image
};

Block block(const Inputs& in, size_t i, const Shape& out) {
  const size_t plane = size_t(out.h) * out.w;
  size_t off = 0;
  for (size_t k = 0; k < i; ++k) off += in[k]->shape().c;
  const size_t cols = in[i]->shape().c * plane;
  return {size_t(out.n), cols, cols, out.c * plane, off * plane};
}

}  // namespace

Shape Concat::infer(const std::vector<Shape>& in) const {
  Shape out = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    const Shape& s = in[i];
    if (s.n != out.n || s.h != out.h || s.w != out.w)
      fail("input " + std::to_string(i) + " is " + s.str() + " but input 0 is " + in[0].str() +
               ": N, H and W must agree",
           in);
    out.c += s.c;
  }
  return out;
}

void Concat::forward_cpu(const Inputs& in, Tensor& out, Mode) {
  dispatch_real(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    for (size_t i = 0; i < in.size(); ++i) {
      const Block b = block(in, i, out.shape());
      const T* x = in[i]->data<T>();
      T* y = out.data<T>() + b.out_offset;
      // copy_rows_at's rows, whole (one image's block of channels each), images in parallel.
#pragma omp parallel for schedule(static)
      for (long r = 0; r < long(b.rows); ++r) std::copy_n(x + r * b.in_stride, b.cols, y + r * b.out_stride);
    }
  });
}

void Concat::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  dispatch_real(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    for (size_t i = 0; i < in.size(); ++i) {
      if (!din[i].tensor) continue;
      const Block b = block(in, i, dout.shape());
      const T* dy = dout.data<T>() + b.out_offset;
      T* dx = din[i].tensor->data<T>();
      const bool accumulate = din[i].mode == GradMode::accumulate;
      // copy_rows_at's rows, whole, images in parallel.
#pragma omp parallel for schedule(static)
      for (long r = 0; r < long(b.rows); ++r) {
        const T* src = dy + r * b.out_stride;
        T* dst = dx + r * b.in_stride;
        if (accumulate)
          for (size_t j = 0; j < b.cols; ++j) dst[j] += src[j];
        else
          std::copy_n(src, b.cols, dst);
      }
    }
  });
}

void Concat::forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode) {
  for (size_t i = 0; i < in.size(); ++i) {
    const Block b = block(in, i, out.shape());
    CUDA_CHECK(kernels::copy_rows(out.data<float>() + b.out_offset, b.out_stride, in[i]->data<float>(), b.in_stride,
                                  b.rows, b.cols, false, ctx.stream()));
  }
}

void Concat::backward_gpu(Context& ctx, const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (!din[i].tensor) continue;
    const Block b = block(in, i, dout.shape());
    CUDA_CHECK(kernels::copy_rows(din[i].tensor->data<float>(), b.in_stride, dout.data<float>() + b.out_offset,
                                  b.out_stride, b.rows, b.cols, din[i].mode == GradMode::accumulate, ctx.stream()));
  }
}

}  // namespace cupick
