#include "engine/layers/leaky_relu.h"

#include "kernels/leaky_relu.h"

namespace cupick {

void LeakyReLU::forward_cpu(const Inputs& in, Tensor& out, Mode) {
  dispatch_real(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    T* y = out.data<T>();
    const long n = long(out.count());
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; ++i) y[i] = kernels::leaky_relu(x[i], T(slope_));
  });
}

void LeakyReLU::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  dispatch_real(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    const T* dy = dout.data<T>();
    T* dx = din[0].tensor->data<T>();
    const long n = long(dout.count());
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; ++i)
      write_grad(dx[i], kernels::leaky_relu_dx(dy[i], x[i], T(slope_)), din[0].mode);
  });
}

void LeakyReLU::forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode) {
  CUDA_CHECK(kernels::leaky_relu_forward(out.data<float>(), in[0]->data<float>(), out.count(), slope_, ctx.stream()));
}

void LeakyReLU::backward_gpu(Context& ctx, const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  if (!din[0].tensor) return;
  CUDA_CHECK(kernels::leaky_relu_backward(din[0].tensor->data<float>(), dout.data<float>(), in[0]->data<float>(),
                                          dout.count(), slope_, din[0].mode == GradMode::accumulate, ctx.stream()));
}

}  // namespace cupick
