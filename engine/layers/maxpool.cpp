#include "engine/layers/maxpool.h"

#include "kernels/maxpool.h"

namespace cupick {

Shape MaxPool::infer(const std::vector<Shape>& in) const {
  const Shape& s = in[0];
  if (s.h < 2 || s.w < 2) fail("a 2x2 window needs height and width of at least 2", in);
  return {s.n, s.c, s.h / 2, s.w / 2};
}

void MaxPool::forward_cpu(const Inputs& in, Tensor& out, Mode) {
  const Shape& s = in[0]->shape();
  dispatch_real(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    T* y = out.data<T>();
    // Row by row (maxpool_forward_at's windows, without its index arithmetic), planes in parallel.
    const int oh = s.h / 2, ow = s.w / 2;
    const long planes = long(s.n) * s.c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; ++p)
      for (int oy = 0; oy < oh; ++oy) {
        const T* row = x + (size_t(p) * s.h + 2 * oy) * s.w;
        T* out_row = y + (size_t(p) * oh + oy) * ow;
        for (int ox = 0; ox < ow; ++ox) out_row[ox] = kernels::maxpool_max(row + 2 * ox, s.w);
      }
  });
}

void MaxPool::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  const Shape& s = in[0]->shape();
  const bool accumulate = din[0].mode == GradMode::accumulate;
  dispatch_real(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    const T* dy = dout.data<T>();
    T* dx = din[0].tensor->data<T>();
    // maxpool_backward_at's windows without its index arithmetic; windows do not overlap, so no two
    // write one dx: planes in parallel.
    const int oh = s.h / 2, ow = s.w / 2;
    const long planes = long(s.n) * s.c;
    const size_t plane = size_t(s.h) * s.w;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; ++p)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
          kernels::maxpool_backward_window(dx + p * plane, dy[(size_t(p) * oh + oy) * ow + ox], x + p * plane, oy, ox,
                                           s.h, s.w, accumulate);
  });
}

void MaxPool::forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode) {
  const Shape& s = in[0]->shape();
  CUDA_CHECK(kernels::maxpool_forward(out.data<float>(), in[0]->data<float>(), size_t(s.n) * s.c, s.h, s.w,
                                      ctx.stream()));
}

void MaxPool::backward_gpu(Context& ctx, const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  const Shape& s = in[0]->shape();
  CUDA_CHECK(kernels::maxpool_backward(din[0].tensor->data<float>(), dout.data<float>(), in[0]->data<float>(),
                                       size_t(s.n) * s.c, s.h, s.w, din[0].mode == GradMode::accumulate,
                                       ctx.stream()));
}

}  // namespace cupick
