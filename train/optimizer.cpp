#include "train/optimizer.h"

#include <charconv>
#include <cmath>
#include <set>

#include "kernels/adam.h"

namespace cupick {

namespace {

// The host reference: the same per-element code as the kernel, in the parameters' type.
template <class T>
void adam_cpu(Param& p, Param& m, Param& v, double lr_t, float beta1, float beta2, float eps) {
  T* pv = p.value.data<T>();
  T* mv = m.value.data<T>();
  T* vv = v.value.data<T>();
  const T* g = p.grad.data<T>();
  for (size_t i = 0; i < p.value.count(); ++i)
    kernels::adam_element(pv[i], mv[i], vv[i], g[i], T(lr_t), T(beta1), T(beta2), T(eps));
}

void check_lr(float lr) {
  if (!(lr >= 0) || !std::isfinite(lr)) throw Error("adam: learning rate must be finite and >= 0, got " + std::to_string(lr));
}

// Shortest text that reads back to the same float.
std::string exact(float x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

}  // namespace

Adam::Adam(std::vector<NamedParam> params, float lr, float beta1, float beta2, float eps)
    : Adam(std::move(params), lr, Filter{}, beta1, beta2, eps) {}

Adam::Adam(std::vector<NamedParam> params, float lr, Filter train, float beta1, float beta2, float eps)
    : lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps) {
  check_lr(lr);
  // beta = 1 would divide by 1 - beta^t = 0.
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0))
    throw Error("adam: need 0 <= beta1, beta2 < 1 and epsilon > 0, got beta1 " + std::to_string(beta1) + ", beta2 " +
                std::to_string(beta2) + ", epsilon " + std::to_string(eps));
  std::set<const Param*> seen;
  for (const NamedParam& np : params) {
    if (!np.param) throw Error("adam: parameter " + np.name + " is null");
    if (!seen.insert(np.param).second) throw Error("adam: parameter " + np.name + " is listed twice");
    if (!np.param->trainable || (train && !train(np.name))) continue;
    const Tensor& value = np.param->value;
    auto state = [&](const char* what) {
      return Param{std::string("adam/") + what + "/" + np.name, Tensor(value.shape(), value.device(), value.dtype()),
                   Tensor(), false};
    };
    slots_.push_back(Slot{np.name, np.param, state("m"), state("v")});
  }
  if (slots_.empty()) throw Error("adam: no parameter to train among " + std::to_string(params.size()));
}

void Adam::set_learning_rate(float lr) {
  check_lr(lr);
  lr_ = lr;
}

void Adam::set_steps(int64_t steps) {
  if (steps < 0) throw Error("adam: step count must be >= 0, got " + std::to_string(steps));
  steps_ = steps;
}

void Adam::check(const Context& ctx) const {
  for (const Slot& s : slots_) {
    const Tensor& value = s.param->value;
    const Tensor& m = s.m.value;
    if (value.device() != m.device() || value.dtype() != m.dtype() || value.shape() != m.shape())
      throw Error("adam: parameter " + s.name + " is " + value.str() + " but its optimizer state is " + m.str() +
                  "; create the optimizer after moving the network");
    if (value.device() != ctx.device())
      throw Error("adam: parameter " + s.name + " is " + value.str() + ", the context is " + device_name(ctx.device()));
    const Tensor& g = s.param->grad;
    if (g.empty() || g.device() != value.device() || g.dtype() != value.dtype() || g.shape() != value.shape())
      throw Error("adam: parameter " + s.name + " is " + value.str() + " but its gradient is " +
                  (g.empty() ? std::string("missing") : g.str()));
    if (value.layout() != g.layout())  // elementwise: any layout works as long as both agree
      throw Error("adam: parameter " + s.name + " and its gradient differ in layout");
    if (ctx.on_gpu() && value.dtype() != DType::f32)
      throw Error("adam: the GPU path takes f32, parameter " + s.name + " is " + value.str());
  }
}

void Adam::step(Context& ctx) {
  check(ctx);  // before anything changes: a refused step leaves parameters, moments and count as they were
  ++steps_;
  const double t = double(steps_);
  const double lr_t = lr_ * std::sqrt(1 - std::pow(double(beta2_), t)) / (1 - std::pow(double(beta1_), t));
  for (Slot& s : slots_) {
    if (ctx.on_gpu()) {
      CUDA_CHECK(kernels::adam_step(s.param->value.data<float>(), s.m.value.data<float>(), s.v.value.data<float>(),
                                    s.param->grad.data<float>(), s.param->value.count(), float(lr_t), beta1_,
                                    beta2_, eps_, ctx.stream()));
    } else {
      dispatch_real(s.param->value.dtype(),
                    [&](auto zero) { adam_cpu<decltype(zero)>(*s.param, s.m, s.v, lr_t, beta1_, beta2_, eps_); });
    }
  }
}

std::vector<NamedParam> Adam::state() {
  std::vector<NamedParam> out;
  for (Slot& s : slots_) {
    out.push_back({s.m.name, &s.m});
    out.push_back({s.v.name, &s.v});
  }
  return out;
}

std::map<std::string, std::string> Adam::metadata() const {
  return {{"adam/steps", std::to_string(steps_)}, {"adam/learning_rate", exact(lr_)}};
}

void Adam::restore(const std::map<std::string, std::string>& metadata) {
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = metadata.find(key);
    if (it == metadata.end()) throw Error("adam: the saved state has no '" + key + "'");
    return it->second;
  };
  auto parse = [&](const std::string& key, auto& value) {
    const std::string& text = get(key);
    const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
      throw Error("adam: the saved state has a malformed '" + key + "': '" + text + "'");
  };
  int64_t steps = 0;
  float lr = 0;
  parse("adam/steps", steps);
  parse("adam/learning_rate", lr);
  set_steps(steps);
  set_learning_rate(lr);
}

}  // namespace cupick
