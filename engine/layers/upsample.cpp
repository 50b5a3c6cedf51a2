#include "engine/layers/upsample.h"

#include <algorithm>

#include "kernels/upsample.h"

namespace cupick {

Shape Upsample::infer(const std::vector<Shape>& in) const {
  const Shape& s = in[0];
  return {s.n, s.c, 2 * s.h, 2 * s.w};
}

void Upsample::forward_cpu(const Inputs& in, Tensor& out, Mode) {
  const Shape& s = in[0]->shape();
  dispatch_real(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    T* y = out.data<T>();
    // Row by row (upsample_source's mapping: output row 2r and 2r + 1 repeat input row r, each
    // value twice), planes in parallel.
    const long planes = long(s.n) * s.c;
    const size_t ow = 2 * size_t(s.w);
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; ++p)
      for (int r = 0; r < s.h; ++r) {
        const T* src = x + (size_t(p) * s.h + r) * s.w;
        T* dst = y + (size_t(p) * 2 * s.h + 2 * r) * ow;
        for (int c = 0; c < s.w; ++c) dst[2 * c] = dst[2 * c + 1] = src[c];
        std::copy_n(dst, ow, dst + ow);
      }
  });
}

void Upsample::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  const Shape& s = in[0]->shape();
  dispatch_real(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* dy = dout.data<T>();
    T* dx = din[0].tensor->data<T>();
    const long n = long(in[0]->count());
#pragma omp parallel for schedule(static)
    for (long j = 0; j < n; ++j)
      write_grad(dx[j], kernels::upsample_grad_at(dy, size_t(j), s.h, s.w), din[0].mode);
  });
}

void Upsample::forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode) {
  const Shape& s = in[0]->shape();
  CUDA_CHECK(kernels::upsample_forward(out.data<float>(), in[0]->data<float>(), size_t(s.n) * s.c, s.h, s.w,
                                       ctx.stream()));
}

void Upsample::backward_gpu(Context& ctx, const Inputs& in, const Tensor&, const Tensor& dout,
                            const InputGrads& din) {
  if (!din[0].tensor) return;
  const Shape& s = in[0]->shape();
  CUDA_CHECK(kernels::upsample_backward(din[0].tensor->data<float>(), dout.data<float>(), size_t(s.n) * s.c, s.h,
                                        s.w, din[0].mode == GradMode::accumulate, ctx.stream()));
}

}  // namespace cupick
