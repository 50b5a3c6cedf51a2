#include "engine/layers/reorg.h"

#include "kernels/reorg.h"

namespace cupick {

Shape Reorg::infer(const std::vector<Shape>& in) const {
  const Shape& s = in[0];
  if (s.h % 2 != 0 || s.w % 2 != 0) fail("2x2 blocks need even height and width", in);
  return {s.n, 4 * s.c, s.h / 2, s.w / 2};
}

void Reorg::forward_cpu(const Inputs& in, Tensor& out, Mode) {
  const Shape& s = in[0]->shape();
  dispatch_real(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    T* y = out.data<T>();
    const long n = long(out.count());
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) y[i] = x[kernels::reorg_source(size_t(i), s.c, s.h, s.w)];
  });
}

void Reorg::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  const Shape& s = in[0]->shape();
  dispatch_real(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* dy = dout.data<T>();
    T* dx = din[0].tensor->data<T>();
    const long n = long(dout.count());
#pragma omp parallel for schedule(static)  // reorg_source is one-to-one: no two outputs write one dx
    for (long i = 0; i < n; ++i)
      write_grad(dx[kernels::reorg_source(size_t(i), s.c, s.h, s.w)], dy[i], din[0].mode);
  });
}

void Reorg::forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode) {
  const Shape& s = in[0]->shape();
  CUDA_CHECK(kernels::reorg_forward(out.data<float>(), in[0]->data<float>(), s.n, s.c, s.h, s.w, ctx.stream()));
}

void Reorg::backward_gpu(Context& ctx, const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  const Shape& s = in[0]->shape();
  CUDA_CHECK(kernels::reorg_backward(din[0].tensor->data<float>(), dout.data<float>(), s.n, s.c, s.h, s.w,
                                     din[0].mode == GradMode::accumulate, ctx.stream()));
}

}  // namespace cupick
