#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include <unistd.h>  // getpid

#include "engine/layers/batchnorm.h"
#include "engine/layers/conv.h"
#include "io/weights.h"
#include "tests/layer_check.h"
#include "train/optimizer.h"

namespace cupick {
namespace {

// A parameter with a gradient, on the host, in the given type.
Param make_param(const std::string& name, const std::vector<double>& values, Shape shape, DType dtype = DType::f32,
                 bool trainable = true) {
  Param p{name, Tensor::from(values, shape).to(dtype), Tensor(), trainable};
  if (trainable) p.grad = Tensor(shape, Device::cpu, dtype);
  return p;
}

std::vector<double> as_double(const Tensor& t) {
  if (t.dtype() == DType::f64) return t.values<double>();
  const std::vector<float> f = t.values<float>();
  return std::vector<double>(f.begin(), f.end());
}

void set_grad(Param& p, const std::vector<double>& g) { p.grad.copy_from(Tensor::from(g, p.value.shape()).to(p.grad.dtype())); }

// Two steps on four numbers, lr 0.1. Step 1 has m = 0.1 g, v = 0.001 g^2 and lr_t = lr sqrt(0.001) / 0.1,
// so every parameter moves by lr against the sign of g (g = 0 leaves it), except where g is so small
// that epsilon counts against sqrt(v): g = 1/512 gives sqrt(v) = 6.2e-5 and a step of 0.0999838.
// The expected values are that arithmetic in double with the constants rounded to float as the optimizer
// holds them (0.9f, 0.999f, 1e-8f, 0.1f); the gradients are exact in float.
TEST(Adam, HandComputedTwoSteps) {
  const std::vector<std::vector<double>> grads = {{0.5, -1, 0, 1.0 / 512}, {-1, -1, 0.25, 1.0 / 512}};
  const std::vector<std::vector<double>> want_p = {
      {0.900000061755805, -1.90000003013285, 0.5, 2.90001618685482},
      {0.936610405972513, -1.80000005100915, 0.42558640948823, 2.80002763565853}};
  const std::vector<double> want_m = {-0.055000014305115, -0.190000042915344, 0.0250000059604645, 0.000371093833819031};
  const std::vector<double> want_v = {0.00124973391318317, 0.0019989742765425, 6.24991953372955e-05,
                                      7.62548170678138e-09};
  for (DType dtype : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dtype));
    // f32 values and moments carry float rounding; the epsilon term (1.6e-5 on the last value) stays visible.
    const double rtol = dtype == DType::f64 ? 1e-12 : 1e-6;
    Context cpu;
    Param p = make_param("conv_23/bias", {1, -2, 0.5, 3}, {1, 4, 1, 1}, dtype);
    Adam adam({{"conv_23/bias", &p}}, 0.1f);
    for (int t = 0; t < 2; ++t) {
      set_grad(p, grads[t]);
      adam.step(cpu);
      EXPECT_EQ(adam.steps(), t + 1);
      test::expect_close(as_double(p.value), want_p[t], rtol, 0, "parameter after step " + std::to_string(t + 1));
    }
    std::vector<NamedParam> state = adam.state();
    ASSERT_EQ(state.size(), 2u);
    EXPECT_EQ(state[0].name, "adam/m/conv_23/bias");
    EXPECT_EQ(state[1].name, "adam/v/conv_23/bias");
    test::expect_close(as_double(state[0].param->value), want_m, rtol, 0, "m");
    test::expect_close(as_double(state[1].param->value), want_v, dtype == DType::f64 ? 1e-12 : 1e-5, 0, "v");
  }
}

// 0.5 sum a_i (p_i - c_i)^2 from p = 0 with curvatures a over an order of magnitude.
TEST(Adam, MinimisesQuadratic) {
  Context cpu;
  const int n = 12;
  std::mt19937 rng(4);
  std::uniform_real_distribution<double> ua(0.4, 4), uc(-2, 2);
  std::vector<double> a(n), c(n);
  for (int i = 0; i < n; ++i) a[i] = ua(rng), c[i] = uc(rng);
  Param p = make_param("conv_1/kernel", std::vector<double>(n, 0.0), {3, 1, 2, 2});
  auto loss_and_grad = [&] {
    const std::vector<double> x = as_double(p.value);
    std::vector<double> g(n);
    double loss = 0;
    for (int i = 0; i < n; ++i) {
      loss += 0.5 * a[i] * (x[i] - c[i]) * (x[i] - c[i]);
      g[i] = a[i] * (x[i] - c[i]);
    }
    set_grad(p, g);
    return loss;
  };
  Adam adam({{"conv_1/kernel", &p}}, 0.05f);
  const double first = loss_and_grad();
  for (int t = 0; t < 200; ++t) {
    adam.step(cpu);
    loss_and_grad();
  }
  EXPECT_LT(loss_and_grad(), first * 1e-4) << "from " << first;
}

// Fine-tuning trains conv_22 and conv_23 only; norm_22's gamma, conv_1 and every moving statistic
// keep their values, and get no optimizer state.
TEST(Adam, FrozenAndNonTrainableParamsKeepTheirValues) {
  Context cpu;
  std::vector<Param> ps;
  ps.push_back(make_param("kernel", std::vector<double>(8, 0.5), {2, 1, 2, 2}));
  ps.push_back(make_param("kernel", std::vector<double>(6, 0.5), {2, 3, 1, 1}));
  ps.push_back(make_param("gamma", {1, 1}, {1, 2, 1, 1}));
  ps.push_back(make_param("moving_mean", {0.25, 0.75}, {1, 2, 1, 1}, DType::f32, false));
  ps.push_back(make_param("kernel", std::vector<double>(12, 0.5), {6, 2, 1, 1}));
  ps.push_back(make_param("bias", std::vector<double>(6, 0.5), {1, 6, 1, 1}));
  const std::vector<NamedParam> named = {{"conv_1/kernel", &ps[0]}, {"conv_22/kernel", &ps[1]},
                                         {"norm_22/gamma", &ps[2]}, {"norm_22/moving_mean", &ps[3]},
                                         {"conv_23/kernel", &ps[4]}, {"conv_23/bias", &ps[5]}};
  std::vector<std::vector<double>> before;
  for (Param& p : ps) {
    before.push_back(as_double(p.value));
    if (p.trainable) set_grad(p, std::vector<double>(p.value.count(), 1.0));
  }
  Adam adam(named, 0.01f, [](const std::string& name) { return name.starts_with("conv_22/") || name.starts_with("conv_23/"); });
  for (int t = 0; t < 3; ++t) adam.step(cpu);
  for (size_t i = 0; i < ps.size(); ++i) {
    const bool trained = named[i].name.starts_with("conv_2");
    const std::vector<double> now = as_double(ps[i].value);
    for (size_t k = 0; k < now.size(); ++k) {
      if (trained)
        EXPECT_NEAR(now[k], before[i][k] - 0.03, 1e-6) << named[i].name;  // three steps of lr against g = 1
      else
        EXPECT_EQ(now[k], before[i][k]) << named[i].name;
    }
  }
  std::vector<std::string> names;
  for (const NamedParam& s : adam.state()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"adam/m/conv_22/kernel", "adam/v/conv_22/kernel", "adam/m/conv_23/kernel",
                                             "adam/v/conv_23/kernel", "adam/m/conv_23/bias", "adam/v/conv_23/bias"}));
}

// On a real graph: the batchnorm moving statistics are parameters but not trained.
TEST(Adam, SkipsMovingStatisticsOfAGraph) {
  Graph g;
  g.add<Conv2D>({Graph::kInput}, "conv_1", 1, 2, 3, false);
  g.add<BatchNorm>({"conv_1"}, "norm_1", 2);
  Adam adam(g.params(), 1e-3f);
  std::vector<std::string> names;
  for (const NamedParam& s : adam.state()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"adam/m/conv_1/kernel", "adam/v/conv_1/kernel", "adam/m/norm_1/gamma",
                                             "adam/v/norm_1/gamma", "adam/m/norm_1/beta", "adam/v/norm_1/beta"}));
}

TEST(Adam, RejectsBadSettingsAndMovedParams) {
  Context cpu;
  Param p = make_param("kernel", {1, 2}, {1, 2, 1, 1});
  const std::vector<NamedParam> named = {{"conv_1/kernel", &p}};
  EXPECT_THROW(Adam(named, -1e-3f), Error);
  EXPECT_THROW(Adam(named, 1e-3f, 1.0f), Error);
  EXPECT_THROW(Adam(named, 1e-3f, [](const std::string& n) { return n == "conv_9/kernel"; }), Error);
  EXPECT_THROW(Adam({{"conv_1/kernel", &p}, {"conv_1/kernel", &p}}, 1e-3f), Error);
  Adam adam(named, 1e-3f);
  EXPECT_THROW(adam.set_learning_rate(NAN), Error);
  adam.set_learning_rate(2e-4f);
  EXPECT_EQ(adam.learning_rate(), 2e-4f);
  // The network moved to double after the optimizer was made: refused, nothing counted.
  p.value = p.value.to(DType::f64);
  p.grad = p.grad.to(DType::f64);
  try {
    adam.step(cpu);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_1/kernel"), std::string::npos) << e.what();
  }
  EXPECT_EQ(adam.steps(), 0);
}

// Training 3 steps, saving parameters and optimizer state, loading them into a fresh network and
// optimizer and training 2 more gives exactly what 5 steps in one go give.
TEST(Adam, ResumesFromSavedState) {
  Context cpu;
  auto grad_at = [](int t) {
    std::vector<double> g(6);
    for (int i = 0; i < 6; ++i) g[i] = std::sin(1.0 + t * 0.7 + i);
    return g;
  };
  const std::vector<double> init = {0.1, -0.2, 0.3, -0.4, 0.5, -0.6};
  auto train = [&](Param& p, Adam& adam, int from, int to) {
    for (int t = from; t < to; ++t) {
      set_grad(p, grad_at(t));
      adam.step(cpu);
    }
  };
  Param whole = make_param("kernel", init, {3, 2, 1, 1});
  Adam adam_whole({{"conv_1/kernel", &whole}}, 0.01f);
  train(whole, adam_whole, 0, 5);

  const auto dir = std::filesystem::temp_directory_path() / ("cupick_adam_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "checkpoint.safetensors").string();
  {
    Param first = make_param("kernel", init, {3, 2, 1, 1});
    Adam adam({{"conv_1/kernel", &first}}, 0.01f);
    train(first, adam, 0, 3);
    std::vector<NamedParam> all = {{"conv_1/kernel", &first}};
    for (const NamedParam& s : adam.state()) all.push_back(s);
    save_weights(path, all, adam.metadata());
  }
  Param resumed = make_param("kernel", std::vector<double>(6, 0.0), {3, 2, 1, 1});
  Adam adam({{"conv_1/kernel", &resumed}}, 0.5f);  // restore() brings back 0.01
  load_weights(path, {{"conv_1/kernel", &resumed}}, /*allow_extra=*/true);
  load_weights(path, adam.state(), /*allow_extra=*/true);
  adam.restore(read_metadata(path));
  std::filesystem::remove_all(dir);
  EXPECT_EQ(adam.steps(), 3);
  EXPECT_EQ(adam.learning_rate(), 0.01f);
  train(resumed, adam, 3, 5);
  EXPECT_EQ(resumed.value.values<float>(), whole.value.values<float>());

  EXPECT_THROW(adam.restore({{"adam/steps", "3"}}), Error);
  EXPECT_THROW(adam.restore({{"adam/steps", "3x"}, {"adam/learning_rate", "0.1"}}), Error);
}

// The same parameters and gradients on the host and on the GPU through several steps. The GPU may
// fuse multiply-adds, so the two differ by rounding only.
TEST(Adam, CpuMatchesGpu) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  const std::vector<Shape> shapes = {{32, 16, 3, 3}, {1, 7, 1, 1}, {300, 257, 1, 1}};
  std::vector<Param> host, dev;
  unsigned seed = 11;
  for (const Shape& s : shapes) {
    host.push_back(Param{"kernel", test::random_tensor(s, DType::f32, seed++), Tensor(s), true});
    dev.push_back(Param{"kernel", host.back().value.to(Device::gpu), Tensor(s, Device::gpu), true});
  }
  std::vector<NamedParam> nh, nd;
  for (size_t i = 0; i < shapes.size(); ++i) {
    nh.push_back({"conv_" + std::to_string(i) + "/kernel", &host[i]});
    nd.push_back({"conv_" + std::to_string(i) + "/kernel", &dev[i]});
  }
  Adam a(nh, 1e-3f), b(nd, 1e-3f);
  for (int t = 0; t < 5; ++t) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      host[i].grad.copy_from(test::random_tensor(shapes[i], DType::f32, 1000 + 10 * t + unsigned(i)));
      dev[i].grad.copy_from(host[i].grad);
    }
    a.step(cpu);
    b.step(*gpu);
  }
  gpu->sync();
  for (size_t i = 0; i < shapes.size(); ++i)
    test::expect_close(as_double(dev[i].value), as_double(host[i].value), 1e-6, 1e-6, nh[i].name);
  const std::vector<NamedParam> sa = a.state(), sb = b.state();
  for (size_t i = 0; i < sa.size(); ++i)
    test::expect_close(as_double(sb[i].param->value), as_double(sa[i].param->value), 1e-5, 1e-6, sa[i].name);
}

}  // namespace
}  // namespace cupick
