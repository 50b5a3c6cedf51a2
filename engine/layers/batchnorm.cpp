#include "engine/layers/batchnorm.h"

#include <cmath>

#include "kernels/batchnorm.h"

namespace cupick {

namespace {

Param make_param(const char* name, int channels, float value, bool trainable) {
  const Shape shape{1, channels, 1, 1};
  Param p;
  p.name = name;
  p.value = Tensor::from(std::vector<float>(size_t(channels), value), shape);
  if (trainable) p.grad = Tensor(shape);
  p.trainable = trainable;
  return p;
}

// Where backward writes the gradient of gamma or beta: the parameter's own, or, for a frozen
// parameter (grad empty), `scratch`, since the input gradient needs dgamma and dbeta either way.
Tensor& grad_or_scratch(Param& p, Tensor& scratch) {
  if (!p.grad.empty()) return p.grad;
  scratch = Tensor(p.value.shape(), p.value.device(), p.value.dtype());
  return scratch;
}

}  // namespace

BatchNorm::BatchNorm(std::string name, int channels, double momentum, double epsilon)
    : Layer(std::move(name)), channels_(channels), momentum_(momentum), epsilon_(epsilon) {
  if (channels <= 0)
    throw ShapeError(this->name() + " (batchnorm): channels must be positive, got " + std::to_string(channels));
  gamma_ = make_param("gamma", channels, 1, true);
  beta_ = make_param("beta", channels, 0, true);
  moving_mean_ = make_param("moving_mean", channels, 0, false);
  moving_variance_ = make_param("moving_variance", channels, 1, false);
  on_moved(Device::cpu, DType::f32);
}

Shape BatchNorm::infer(const std::vector<Shape>& in) const {
  if (in[0].c != channels_)
    fail("expects " + std::to_string(channels_) + " channels, got " + std::to_string(in[0].c), in);
  return in[0];
}

void BatchNorm::on_moved(Device device, DType dtype) {
  save_mean_ = Tensor(Shape{1, channels_, 1, 1}, device, dtype);
  save_inv_std_ = Tensor(Shape{1, channels_, 1, 1}, device, dtype);
  saved_ = false;
  biased_ = Tensor(Shape{2, channels_, 1, 1}, device, dtype);  // zero
  steps_ = 0;
}

void BatchNorm::reset_moving_average() {
  biased_.zero();  // on a GPU: cudaMemset on the default stream, which the context's blocking stream follows
  steps_ = 0;
}

double BatchNorm::next_debias() {
  ++steps_;
  return 1 - std::pow(momentum_, double(steps_));
}

void BatchNorm::require_forward() const {
  if (!saved_) throw Error(name() + " (batchnorm): backward before any forward since the last to()");
}

void BatchNorm::forward_cpu(const Inputs& in, Tensor& out, Mode mode) {
  const Shape s = in[0]->shape();
  const size_t hw = size_t(s.h) * s.w, m = size_t(s.n) * hw;
  const double debias = mode == Mode::train ? next_debias() : 1;
  dispatch_real(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    T* y = out.data<T>();
    const T* gamma = gamma_.value.data<T>();
    const T* beta = beta_.value.data<T>();
    T* moving_mean = moving_mean_.value.data<T>();
    T* moving_var = moving_variance_.value.data<T>();
    T* biased_mean = biased_.data<T>();
    T* biased_var = biased_mean + s.c;
    T* save_mean = save_mean_.data<T>();
    T* save_inv_std = save_inv_std_.data<T>();
#pragma omp parallel for schedule(dynamic)  // channels are independent
    for (int c = 0; c < s.c; ++c) {
      // Plane (n, c) starts at (n * C + c) * hw.
      auto plane = [&](int n) { return (size_t(n) * s.c + c) * hw; };
      double mean = moving_mean[c], var = moving_var[c];
      if (mode == Mode::train) {
        // Two passes in double: exact enough to be the reference for the GPU's single pass.
        double sum = 0;
        for (int n = 0; n < s.n; ++n)
          for (size_t i = 0; i < hw; ++i) sum += x[plane(n) + i];
        mean = sum / double(m);
        double sq = 0;
        for (int n = 0; n < s.n; ++n)
          for (size_t i = 0; i < hw; ++i) sq += (x[plane(n) + i] - mean) * (x[plane(n) + i] - mean);
        var = sq / double(m);
        double b_mean = biased_mean[c], b_var = biased_var[c];
        moving_mean[c] = T(kernels::batchnorm_moving(b_mean, mean, momentum_, debias));
        const double value = kernels::batchnorm_keras_variance(var, double(m), epsilon_);
        moving_var[c] = T(kernels::batchnorm_moving(b_var, value, momentum_, debias));
        biased_mean[c] = T(b_mean), biased_var[c] = T(b_var);
      }
      save_mean[c] = T(mean);
      save_inv_std[c] = T(kernels::batchnorm_inv_std(var, epsilon_));
      for (int n = 0; n < s.n; ++n)
        for (size_t i = 0; i < hw; ++i)
          y[plane(n) + i] = kernels::batchnorm_y(x[plane(n) + i], save_mean[c], save_inv_std[c], gamma[c], beta[c]);
    }
  });
  saved_mode_ = mode;
  saved_ = true;
}

void BatchNorm::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  require_forward();
  const Shape s = in[0]->shape();
  const size_t hw = size_t(s.h) * s.w, m = size_t(s.n) * hw;
  Tensor dgamma_scratch, dbeta_scratch;
  Tensor& dgamma_t = grad_or_scratch(gamma_, dgamma_scratch);
  Tensor& dbeta_t = grad_or_scratch(beta_, dbeta_scratch);
  dispatch_real(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = in[0]->data<T>();
    const T* dy = dout.data<T>();
    T* dx = din[0].tensor ? din[0].tensor->data<T>() : nullptr;
    const T* gamma = gamma_.value.data<T>();
    T* dgamma = dgamma_t.data<T>();
    T* dbeta = dbeta_t.data<T>();
    const T* save_mean = save_mean_.data<T>();
    const T* save_inv_std = save_inv_std_.data<T>();
#pragma omp parallel for schedule(dynamic)  // channels are independent
    for (int c = 0; c < s.c; ++c) {
      auto plane = [&](int n) { return (size_t(n) * s.c + c) * hw; };
      const T mean = save_mean[c], inv = save_inv_std[c];
      double sdy = 0, sdyx = 0;
      for (int n = 0; n < s.n; ++n)
        for (size_t i = 0; i < hw; ++i) {
          const size_t k = plane(n) + i;
          sdy += dy[k];
          sdyx += dy[k] * kernels::batchnorm_xhat(x[k], mean, inv);
        }
      dbeta[c] = T(sdy);
      dgamma[c] = T(sdyx);
      if (!dx) continue;
      const T tm = T(m), scale = gamma[c] * inv / tm;
      for (int n = 0; n < s.n; ++n)
        for (size_t i = 0; i < hw; ++i) {
          const size_t k = plane(n) + i;
          const T g = saved_mode_ == Mode::train
                          ? kernels::batchnorm_dx_train(dy[k], kernels::batchnorm_xhat(x[k], mean, inv), scale, tm,
                                                        dbeta[c], dgamma[c])
                          : kernels::batchnorm_dx_infer(dy[k], gamma[c], inv);
          write_grad(dx[k], g, din[0].mode);
        }
    }
  });
}

void BatchNorm::forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) {
  const Shape s = in[0]->shape();
  const size_t hw = size_t(s.h) * s.w;
  // Only the batch statistics need scratch memory.
  void* ws = mode == Mode::train ? ctx.workspace(kernels::batchnorm_workspace_bytes(s.n, s.c, hw)) : nullptr;
  const double debias = mode == Mode::train ? next_debias() : 1;
  CUDA_CHECK(kernels::batchnorm_forward(out.data<float>(), in[0]->data<float>(), s.n, s.c, hw,
                                        gamma_.value.data<float>(), beta_.value.data<float>(),
                                        moving_mean_.value.data<float>(), moving_variance_.value.data<float>(),
                                        biased_.data<float>(), save_mean_.data<float>(), save_inv_std_.data<float>(),
                                        mode == Mode::train, momentum_, debias, epsilon_, ws, ctx.stream()));
  saved_mode_ = mode;
  saved_ = true;
}

void BatchNorm::backward_gpu(Context& ctx, const Inputs& in, const Tensor&, const Tensor& dout,
                             const InputGrads& din) {
  require_forward();
  const Shape s = in[0]->shape();
  const size_t hw = size_t(s.h) * s.w;
  void* ws = ctx.workspace(kernels::batchnorm_workspace_bytes(s.n, s.c, hw));
  float* dx = din[0].tensor ? din[0].tensor->data<float>() : nullptr;
  Tensor dgamma_scratch, dbeta_scratch;  // frozen gamma or beta only; freed on return, after a sync
  float* dgamma = grad_or_scratch(gamma_, dgamma_scratch).data<float>();
  float* dbeta = grad_or_scratch(beta_, dbeta_scratch).data<float>();
  CUDA_CHECK(kernels::batchnorm_backward(dx, dgamma, dbeta, dout.data<float>(),
                                         in[0]->data<float>(), s.n, s.c, hw, gamma_.value.data<float>(),
                                         save_mean_.data<float>(), save_inv_std_.data<float>(),
                                         saved_mode_ == Mode::train, din[0].mode == GradMode::accumulate, ws,
                                         ctx.stream()));
  if (!dgamma_scratch.empty() || !dbeta_scratch.empty()) ctx.sync();  // the kernels still use the scratch
}

}  // namespace cupick
