#include "engine/layers/upsample.h"

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
    for (size_t i = 0, n = out.count(); i < n; ++i) y[i] = x[kernels::upsample_source(i, s.h, s.w)];
  });
}

void Upsample::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  const Shape& s = in[0]->shape();
  dispatch_real(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* dy = dout.data<T>();
    T* dx = din[0].tensor->data<T>();
    for (size_t j = 0, n = in[0]->count(); j < n; ++j)
      write_grad(dx[j], kernels::upsample_grad_at(dy, j, s.h, s.w), din[0].mode);
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
