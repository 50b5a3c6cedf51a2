#include "tests/layer_check.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace cupick::test {

Tensor random_tensor(Shape shape, DType dtype, unsigned seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(shape.count());
  for (double& x : v) x = u(rng);
  return Tensor::from(v, shape).to(dtype);
}

void randomize_params(Layer& layer, unsigned seed) {
  for (Param* p : layer.params()) {
    const bool positive = !p->trainable;  // moving variance must stay > 0; moving mean may too
    Tensor v = random_tensor(p->value.shape(), DType::f64, seed++, positive ? 0.5 : -1, positive ? 1.5 : 1);
    p->value.copy_from(v.to(p->value.dtype()).to(p->value.device()));
  }
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  size_t worst = 0, bad = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = atol * scale + rtol * std::abs(want[i]);
    const double err = std::abs(got[i] - want[i]);
    if (!(err <= tol)) ++bad;  // NaN counts as bad
    const double excess = std::isnan(err) ? INFINITY : err - tol;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " elements differ; worst at " << worst
                     << ": got " << got[worst] << ", want " << want[worst] << " (max |want| " << scale << ")";
}

namespace {

struct Run {
  std::vector<Tensor> inputs;
  Tensor out;
};

Inputs ptrs(const std::vector<Tensor>& v) {
  Inputs p;
  for (const Tensor& t : v) p.push_back(&t);
  return p;
}

double dot(const Tensor& a, const Tensor& b) {
  const double* x = a.data<double>();
  const double* y = b.data<double>();
  double s = 0;
  for (size_t i = 0; i < a.count(); ++i) s += x[i] * y[i];
  return s;
}

// Random indices (all of them when n <= k).
std::vector<size_t> sample(size_t n, size_t k, unsigned seed) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (n > k) {
    std::mt19937 rng(seed);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(k);
  }
  return idx;
}

}  // namespace

void gradient_check(Layer& layer, const std::vector<Shape>& in_shapes, Mode mode, unsigned seed, size_t max_checks) {
  Context cpu;
  layer.to(Device::cpu, DType::f64);
  randomize_params(layer, seed * 101);
  std::vector<Tensor> in;
  for (size_t i = 0; i < in_shapes.size(); ++i) in.push_back(random_tensor(in_shapes[i], DType::f64, seed + 7 * i));
  const Shape out_shape = layer.output_shape(in_shapes);
  const Tensor r = random_tensor(out_shape, DType::f64, seed + 1000);

  // The loss, evaluated in the mode under test. Train-mode batchnorm updates its moving
  // statistics on every call; they do not affect train-mode outputs, so that is harmless.
  Tensor out(out_shape, Device::cpu, DType::f64);
  auto loss = [&] {
    layer.forward(cpu, ptrs(in), out, mode);
    return dot(out, r);
  };

  loss();
  std::vector<Tensor> din;
  InputGrads grads;
  for (const Tensor& t : in) din.emplace_back(t.shape(), Device::cpu, DType::f64);
  for (Tensor& g : din) grads.push_back({&g, GradMode::overwrite});
  layer.backward(cpu, ptrs(in), out, r, grads);

  size_t checked = 0, skipped = 0;
  auto check_element = [&](double& x, double analytic, const std::string& what) {
    const double h = 1e-5 * std::max(1.0, std::abs(x));
    auto central = [&](double step) {
      const double x0 = x;
      x = x0 + step;
      const double plus = loss();
      x = x0 - step;
      const double minus = loss();
      x = x0;
      return (plus - minus) / (2 * step);
    };
    const double d1 = central(h), d2 = central(h / 2);
    const double scale = std::max({1.0, std::abs(d1), std::abs(analytic)});
    if (std::abs(d1 - d2) > 1e-6 * scale) {  // a kink between x - h and x + h
      ++skipped;
      return;
    }
    ++checked;
    EXPECT_NEAR(analytic, d2, 1e-6 * scale) << layer.name() << ": d loss / d " << what;
  };

  for (size_t i = 0; i < in.size(); ++i) {
    const double* g = din[i].data<double>();
    for (size_t k : sample(in[i].count(), max_checks, seed + 11 * i))
      check_element(in[i].data<double>()[k], g[k], "input " + std::to_string(i) + "[" + std::to_string(k) + "]");
  }
  for (Param* p : layer.params()) {
    if (!p->trainable) continue;
    const std::vector<double> g = p->grad.values<double>();  // backward again inside loss() would not touch it
    for (size_t k : sample(p->value.count(), max_checks, seed + 13))
      check_element(p->value.data<double>()[k], g[k], p->name + "[" + std::to_string(k) + "]");
  }
  EXPECT_GT(checked, 0u) << layer.name() << ": nothing was checked";
  EXPECT_LE(skipped * 20, checked + skipped) << layer.name() << ": too many non-smooth points skipped (" << skipped
                                             << " of " << checked + skipped << ")";
}

void accumulate_check(Layer& layer, const std::vector<Shape>& in_shapes, Mode mode, unsigned seed) {
  Context cpu;
  layer.to(Device::cpu, DType::f64);
  randomize_params(layer, seed * 101);
  std::vector<Tensor> in;
  for (size_t i = 0; i < in_shapes.size(); ++i) in.push_back(random_tensor(in_shapes[i], DType::f64, seed + 7 * i));
  Tensor out(layer.output_shape(in_shapes), Device::cpu, DType::f64);
  layer.forward(cpu, ptrs(in), out, mode);
  const Tensor dout = random_tensor(out.shape(), DType::f64, seed + 99);

  std::vector<Tensor> fresh, acc;
  InputGrads g_fresh, g_acc;
  for (size_t i = 0; i < in.size(); ++i) {
    fresh.push_back(random_tensor(in[i].shape(), DType::f64, seed + 500 + i));  // garbage: must be ignored
    acc.push_back(random_tensor(in[i].shape(), DType::f64, seed + 600 + i));
  }
  std::vector<std::vector<double>> before;
  for (size_t i = 0; i < in.size(); ++i) {
    before.push_back(acc[i].values<double>());
    g_fresh.push_back({&fresh[i], GradMode::overwrite});
    g_acc.push_back({&acc[i], GradMode::accumulate});
  }
  layer.backward(cpu, ptrs(in), out, dout, g_fresh);
  layer.backward(cpu, ptrs(in), out, dout, g_acc);
  for (size_t i = 0; i < in.size(); ++i) {
    std::vector<double> want = fresh[i].values<double>();
    for (size_t k = 0; k < want.size(); ++k) want[k] += before[i][k];
    expect_close(acc[i].values<double>(), want, 1e-12, 1e-12, layer.name() + " accumulated input " + std::to_string(i));
  }
}

void parity_check(const LayerFactory& make, const std::vector<Shape>& in_shapes, Mode mode, unsigned seed, double rtol,
                  double atol) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  std::unique_ptr<Layer> a = make(), b = make();
  a->to(Device::cpu);
  randomize_params(*a, seed * 101);
  b->to(Device::gpu);
  std::vector<Param*> pa = a->params(), pb = b->params();
  for (size_t i = 0; i < pa.size(); ++i) pb[i]->value.copy_from(pa[i]->value);

  std::vector<Tensor> in_cpu, in_gpu;
  for (size_t i = 0; i < in_shapes.size(); ++i) {
    in_cpu.push_back(random_tensor(in_shapes[i], DType::f32, seed + 7 * i));
    in_gpu.push_back(in_cpu.back().to(Device::gpu));
  }
  const Shape out_shape = a->output_shape(in_shapes);
  const std::string where = a->name() + " " + out_shape.str() + (mode == Mode::train ? " train" : " infer");
  Tensor out_cpu(out_shape), out_gpu(out_shape, Device::gpu);
  a->forward(cpu, ptrs(in_cpu), out_cpu, mode);
  b->forward(*gpu, ptrs(in_gpu), out_gpu, mode);
  gpu->sync();
  auto as_double = [](const Tensor& t) {
    std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  expect_close(as_double(out_gpu), as_double(out_cpu), rtol, atol, where + " forward");

  const Tensor dout_cpu = random_tensor(out_shape, DType::f32, seed + 1000);
  const Tensor dout_gpu = dout_cpu.to(Device::gpu);
  std::vector<Tensor> din_cpu, din_gpu;
  InputGrads g_cpu, g_gpu;
  for (size_t i = 0; i < in_shapes.size(); ++i) {
    din_cpu.emplace_back(in_shapes[i]);
    din_gpu.emplace_back(in_shapes[i], Device::gpu);
  }
  for (size_t i = 0; i < in_shapes.size(); ++i) {
    g_cpu.push_back({&din_cpu[i], GradMode::overwrite});
    g_gpu.push_back({&din_gpu[i], GradMode::overwrite});
  }
  a->backward(cpu, ptrs(in_cpu), out_cpu, dout_cpu, g_cpu);
  b->backward(*gpu, ptrs(in_gpu), out_gpu, dout_gpu, g_gpu);
  gpu->sync();
  for (size_t i = 0; i < in_shapes.size(); ++i)
    expect_close(as_double(din_gpu[i]), as_double(din_cpu[i]), rtol, atol, where + " d input " + std::to_string(i));
  // The accumulate branches of the GPU kernels: add to the same random gradients on both sides.
  for (size_t i = 0; i < in_shapes.size(); ++i) {
    din_cpu[i].copy_from(random_tensor(in_shapes[i], DType::f32, seed + 2000 + i));
    din_gpu[i].copy_from(din_cpu[i]);
    g_cpu[i].mode = g_gpu[i].mode = GradMode::accumulate;
  }
  a->backward(cpu, ptrs(in_cpu), out_cpu, dout_cpu, g_cpu);
  b->backward(*gpu, ptrs(in_gpu), out_gpu, dout_gpu, g_gpu);
  gpu->sync();
  for (size_t i = 0; i < in_shapes.size(); ++i)
    expect_close(as_double(din_gpu[i]), as_double(din_cpu[i]), rtol, atol,
                 where + " d input " + std::to_string(i) + " (accumulated)");
  for (size_t i = 0; i < pa.size(); ++i) {
    if (pa[i]->trainable)
      expect_close(as_double(pb[i]->grad), as_double(pa[i]->grad), rtol, atol, where + " d " + pa[i]->name);
    else  // train mode updated the moving statistics on both
      expect_close(as_double(pb[i]->value), as_double(pa[i]->value), rtol, atol, where + " " + pa[i]->name);
  }
}

}  // namespace cupick::test
