#include "engine/layers/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "tests/layer_check.h"

namespace cupick {
namespace {

Param& param(Layer& layer, const std::string& name) {
  for (Param* p : layer.params())
    if (p->name == name) return *p;
  throw Error("no parameter " + name);
}

void set(Layer& layer, const std::string& name, const std::vector<float>& v) {
  Param& p = param(layer, name);
  p.value.copy_from(Tensor::from(v, p.value.shape()).to(p.value.device()));
}

void expect_values(const Tensor& t, const std::vector<double>& want, double tol, const std::string& what) {
  const std::vector<float> got = t.values<float>();
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << what << "[" << i << "]";
}

// 2 x 2 x 1 x 2, NCHW. Channel 0 holds 1, 2 | 3, 6: mean 3, biased variance 14/4 = 3.5, unbiased 14/3.
// Channel 1 holds -1, 1 | -1, 1: mean 0, biased variance 1, unbiased 4/3.
Tensor tiny_input() { return Tensor::from<float>({1, 2, -1, 1, 3, 6, -1, 1}, {2, 2, 1, 2}); }

TEST(BatchNorm, Params) {
  BatchNorm layer("bn_1", 3);
  const std::vector<Param*> p = layer.params();
  ASSERT_EQ(p.size(), 4u);
  const char* names[] = {"gamma", "beta", "moving_mean", "moving_variance"};
  const float init[] = {1, 0, 0, 1};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(p[i]->name, names[i]);
    EXPECT_EQ(p[i]->value.shape(), (Shape{1, 3, 1, 1}));
    EXPECT_EQ(p[i]->value.values<float>(), std::vector<float>(3, init[i])) << names[i];
    EXPECT_EQ(p[i]->trainable, i < 2) << names[i];
    EXPECT_EQ(p[i]->grad.empty(), i >= 2) << names[i];
  }
}

// A second batch of the same shape. Channel 0 holds 2, 4 | 6, 8: mean 5, biased variance 5.
// Channel 1 holds 1, 3 | 5, 7: mean 4, biased variance 5.
Tensor tiny_input_2() { return Tensor::from<float>({2, 4, 1, 3, 6, 8, 5, 7}, {2, 2, 1, 2}); }

// The variance Keras 2.2 averages in, from a biased variance over m = 4 values with epsilon 1e-3:
// var * 4/3 (Bessel, from tf.nn.fused_batch_norm) * 4/(4 - 1.001) (BatchNormalization.call).
double keras_variance(double var) { return var * (4.0 / 3) * (4 / (4 - 1.001)); }

TEST(BatchNorm, KnownValuesTrain) {
  Context cpu;
  BatchNorm layer("bn_1", 2);  // momentum 0.99, epsilon 1e-3
  set(layer, "gamma", {2, 0.5f});
  set(layer, "beta", {0.1f, -1});
  const Tensor x = tiny_input();
  Tensor y(x.shape());
  layer.forward(cpu, {&x}, y, Mode::train);
  // Channel 0: 2 * (x - 3) / sqrt(3.5 + 1e-3) + 0.1; channel 1: 0.5 * x / sqrt(1 + 1e-3) - 1.
  expect_values(y,
                {-2.0377845593, -0.9688922797, -1.4997501873, -0.5002498127,  //
                 0.1, 3.3066768390, -1.4997501873, -0.5002498127},
                1e-6, "y");
  // Zero-debiased: after one update, the batch's statistics themselves, not 0.99 * initial + 0.01 * batch.
  EXPECT_NEAR(keras_variance(3.5), 6.2242969879, 1e-9);  // the factors written out, checked once
  expect_values(param(layer, "moving_mean").value, {3, 0}, 1e-6, "moving_mean after 1");
  expect_values(param(layer, "moving_variance").value, {keras_variance(3.5), keras_variance(1)}, 1e-6,
                "moving_variance after 1");
  EXPECT_EQ(layer.moving_average_steps(), 1);
}

// Two different batches b1, b2: moving = (0.99 * 0.01 * b1 + 0.01 * b2) / (1 - 0.99^2), the weights
// 0.99 and 1 of the two batches normalised to sum 1.
TEST(BatchNorm, TwoUpdatesAreWeightedAverage) {
  Context cpu;
  BatchNorm layer("bn_1", 2);
  const Tensor x1 = tiny_input(), x2 = tiny_input_2();
  Tensor y(x1.shape());
  layer.forward(cpu, {&x1}, y, Mode::train);
  layer.forward(cpu, {&x2}, y, Mode::train);
  auto average = [](double b1, double b2) { return (0.99 * 0.01 * b1 + 0.01 * b2) / (1 - 0.99 * 0.99); };
  EXPECT_NEAR(average(3, 5), 4.0050251256, 1e-9);  // by hand: (0.0297 + 0.05) / 0.0199
  expect_values(param(layer, "moving_mean").value, {average(3, 5), average(0, 4)}, 2e-6, "moving_mean");
  expect_values(param(layer, "moving_variance").value,
                {average(keras_variance(3.5), keras_variance(5)), average(keras_variance(1), keras_variance(5))},
                5e-6, "moving_variance");
  EXPECT_EQ(layer.moving_average_steps(), 2);
}

// What the moving statistics held before training (Keras's 0 and 1, or loaded weights) is dropped by
// the first train forward; values set in the middle of training are dropped by the next one too.
TEST(BatchNorm, PriorMovingValuesAreIgnored) {
  Context cpu;
  BatchNorm layer("bn_1", 2);
  set(layer, "moving_mean", {100, -100});
  set(layer, "moving_variance", {50, 0.01f});
  const Tensor x1 = tiny_input(), x2 = tiny_input_2();
  Tensor y(x1.shape());
  layer.forward(cpu, {&x1}, y, Mode::train);
  expect_values(param(layer, "moving_mean").value, {3, 0}, 1e-6, "moving_mean, loaded before");
  expect_values(param(layer, "moving_variance").value, {keras_variance(3.5), keras_variance(1)}, 1e-6,
                "moving_variance, loaded before");

  set(layer, "moving_mean", {-7, 7});  // as load_weights would, in the middle of training
  layer.forward(cpu, {&x2}, y, Mode::train);
  const double w = 0.99 * 0.01 / (1 - 0.99 * 0.99), v = 0.01 / (1 - 0.99 * 0.99);
  expect_values(param(layer, "moving_mean").value, {w * 3 + v * 5, w * 0 + v * 4}, 2e-6, "moving_mean, loaded mid");

  // reset_moving_average(): the old batches are forgotten too.
  layer.reset_moving_average();
  EXPECT_EQ(layer.moving_average_steps(), 0);
  layer.forward(cpu, {&x2}, y, Mode::train);
  expect_values(param(layer, "moving_mean").value, {5, 4}, 1e-6, "moving_mean after reset");
  expect_values(param(layer, "moving_variance").value, {keras_variance(5), keras_variance(5)}, 1e-6,
                "moving_variance after reset");

  // to() restarts them as well.
  layer.forward(cpu, {&x1}, y, Mode::train);
  layer.to(Device::cpu);
  EXPECT_EQ(layer.moving_average_steps(), 0);
  layer.forward(cpu, {&x1}, y, Mode::train);
  expect_values(param(layer, "moving_mean").value, {3, 0}, 1e-6, "moving_mean after to()");
}

// Infer mode and a frozen layer (which runs in infer mode) change neither the moving statistics nor
// the averages' hidden state: the next train forward goes on as if they had not run.
TEST(BatchNorm, InferAndFrozenLeaveMovingStatistics) {
  Context cpu;
  BatchNorm layer("bn_1", 2);
  set(layer, "moving_mean", {1, -0.5f});
  set(layer, "moving_variance", {4, 0.25f});
  const Tensor x1 = tiny_input(), x2 = tiny_input_2();
  Tensor y(x1.shape());
  layer.forward(cpu, {&x1}, y, Mode::infer);
  layer.freeze();
  layer.forward(cpu, {&x1}, y, Mode::train);
  expect_values(param(layer, "moving_mean").value, {1, -0.5}, 0, "moving_mean");
  expect_values(param(layer, "moving_variance").value, {4, 0.25}, 0, "moving_variance");
  EXPECT_EQ(layer.moving_average_steps(), 0);

  layer.freeze(false);
  layer.forward(cpu, {&x1}, y, Mode::train);
  layer.forward(cpu, {&x2}, y, Mode::infer);
  layer.freeze();
  layer.forward(cpu, {&x2}, y, Mode::train);
  expect_values(param(layer, "moving_mean").value, {3, 0}, 1e-6, "moving_mean after infer and frozen");
  EXPECT_EQ(layer.moving_average_steps(), 1);
}

// What users see: after a few hundred steps (crYOLO trained on a handful of micrographs), infer mode
// normalises like train mode. Without the debiasing the moving mean would still be 1 - 0.99^300 = 95%
// of the data's 4, i.e. 0.2 too low, and the moving variance a mix of the initial 1 and the data's.
TEST(BatchNorm, TrainAndInferAgreeAfter300Steps) {
  Context cpu;
  BatchNorm layer("bn_1", 3);
  const Shape shape{4, 3, 32, 32};  // 4096 values per channel: batch means within about 0.02 of 4
  Tensor y_train(shape), y_infer(shape);
  for (unsigned step = 0; step < 300; ++step) {
    const Tensor x = test::random_tensor(shape, DType::f32, 100 + step, 2, 6);  // mean 4, variance 4/3
    layer.forward(cpu, {&x}, y_train, Mode::train);
  }
  expect_values(param(layer, "moving_mean").value, {4, 4, 4}, 0.01, "moving_mean");
  expect_values(param(layer, "moving_variance").value, std::vector<double>(3, 4.0 / 3), 0.02, "moving_variance");
  const Tensor x = test::random_tensor(shape, DType::f32, 99, 2, 6);
  layer.forward(cpu, {&x}, y_train, Mode::train);
  layer.forward(cpu, {&x}, y_infer, Mode::infer);
  const std::vector<float> a = y_train.values<float>(), b = y_infer.values<float>();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])));
  EXPECT_LT(worst, 0.05) << "train and infer outputs (unit variance) differ by up to " << worst;
}

TEST(BatchNorm, KnownValuesInfer) {
  Context cpu;
  BatchNorm layer("bn_1", 2, 0.99, 0);  // epsilon 0: standard deviations 2 and 0.5 exactly
  set(layer, "gamma", {2, 0.5f});
  set(layer, "beta", {0.1f, -1});
  set(layer, "moving_mean", {1, -0.5f});
  set(layer, "moving_variance", {4, 0.25f});
  const Tensor x = tiny_input();
  Tensor y(x.shape());
  layer.forward(cpu, {&x}, y, Mode::infer);
  // Channel 0: 2 * (x - 1) / 2 + 0.1 = x - 0.9; channel 1: 0.5 * (x + 0.5) / 0.5 - 1 = x - 0.5.
  expect_values(y, {0.1, 1.1, -1.5, 0.5, 2.1, 5.1, -1.5, 0.5}, 1e-6, "y");
  // Infer mode reads the moving statistics and leaves them alone.
  expect_values(param(layer, "moving_mean").value, {1, -0.5}, 0, "moving_mean");
  expect_values(param(layer, "moving_variance").value, {4, 0.25}, 0, "moving_variance");
}

TEST(BatchNorm, InferBackwardIsFrozenAffine) {
  Context cpu;
  BatchNorm layer("bn_1", 2, 0.99, 0);
  set(layer, "gamma", {2, 0.5f});
  set(layer, "moving_variance", {4, 0.25f});
  const Tensor x = tiny_input();
  Tensor y(x.shape()), dx(x.shape());
  layer.forward(cpu, {&x}, y, Mode::infer);
  const Tensor dy = Tensor::from<float>({1, 1, 1, 1, 2, 2, 2, 2}, x.shape());
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
  // dx = dy * gamma / std: channel 0 by 2 / 2, channel 1 by 0.5 / 0.5.
  expect_values(dx, {1, 1, 1, 1, 2, 2, 2, 2}, 1e-6, "dx");
  expect_values(param(layer, "beta").grad, {6, 6}, 1e-6, "dbeta");  // sum dy
}

TEST(BatchNorm, ParamGradsWithoutInputGrad) {
  Context cpu;
  BatchNorm layer("bn_1", 2);
  const Tensor x = tiny_input();
  Tensor y(x.shape());
  layer.forward(cpu, {&x}, y, Mode::train);
  const Tensor dy = Tensor::from<float>({1, 1, 1, 1, 2, 2, 2, 2}, x.shape());
  layer.backward(cpu, {&x}, y, dy, {{nullptr, GradMode::overwrite}});
  expect_values(param(layer, "beta").grad, {6, 6}, 1e-6, "dbeta");
}

// Frozen gamma and beta (not trainable: to() leaves them no gradient tensors) still pass the input
// gradient through, which needs dgamma and dbeta along the way.
TEST(BatchNorm, FrozenParamsStillGiveInputGradient) {
  Context cpu;
  BatchNorm normal("bn_a", 2), frozen("bn_b", 2);
  for (BatchNorm* layer : {&normal, &frozen}) set(*layer, "gamma", {2, 0.5f});
  param(frozen, "gamma").trainable = param(frozen, "beta").trainable = false;
  frozen.to(Device::cpu);
  ASSERT_TRUE(param(frozen, "gamma").grad.empty());
  const Tensor x = tiny_input();
  const Tensor dy = Tensor::from<float>({1, -2, 3, 0.5f, 2, 1, -1, 4}, x.shape());
  for (Mode mode : {Mode::train, Mode::infer}) {
    Tensor y(x.shape()), dx_normal(x.shape()), dx_frozen(x.shape());
    normal.forward(cpu, {&x}, y, mode);
    normal.backward(cpu, {&x}, y, dy, {{&dx_normal, GradMode::overwrite}});
    frozen.forward(cpu, {&x}, y, mode);
    frozen.backward(cpu, {&x}, y, dy, {{&dx_frozen, GradMode::overwrite}});
    EXPECT_EQ(dx_frozen.values<float>(), dx_normal.values<float>()) << (mode == Mode::train ? "train" : "infer");
  }
}

TEST(BatchNorm, RejectsWrongChannels) {
  BatchNorm layer("bn_3", 4);
  try {
    layer.output_shape({{1, 3, 8, 8}});
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "bn_3 (batchnorm): expects 4 channels, got 3; inputs [1x3x8x8]");
  }
  EXPECT_EQ(layer.output_shape({{2, 4, 8, 6}}), (Shape{2, 4, 8, 6}));
}

TEST(BatchNorm, BackwardBeforeForwardThrows) {
  Context cpu;
  BatchNorm layer("bn_1", 2);
  const Tensor x = tiny_input();
  Tensor y(x.shape()), dx(x.shape());
  EXPECT_THROW(layer.backward(cpu, {&x}, y, y, {{&dx, GradMode::overwrite}}), Error);
}

// Activations with a large mean against their spread: E[x^2] - E[x]^2 in fp32 would lose the variance
// (~20% error here); the GPU's Welford/Chan reduction must not. After one train forward the moving
// statistics are the batch mean and (corrected) variance, so they can be compared directly.
TEST(BatchNorm, GpuStatisticsWithLargeMean) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  const Shape shape{2, 4, 512, 512};
  BatchNorm a("bn_cpu", 4, 0.0), b("bn_gpu", 4, 0.0);
  b.to(Device::gpu);
  const Tensor x = test::random_tensor(shape, DType::f32, 5, 999, 1001);  // mean 1000, variance 1/3
  const Tensor xg = x.to(Device::gpu);
  Tensor y(shape), yg(shape, Device::gpu);
  a.forward(cpu, {&x}, y, Mode::train);
  b.forward(*gpu, {&xg}, yg, Mode::train);
  gpu->sync();
  auto values = [](const Tensor& t) {
    const std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  test::expect_close(values(param(b, "moving_mean").value), values(param(a, "moving_mean").value), 0, 1e-6, "mean");
  test::expect_close(values(param(b, "moving_variance").value), values(param(a, "moving_variance").value), 1e-4, 0,
                     "variance");
  // Looser than parity_check's 1e-5: the saved mean is a float near 1000, whose spacing (6e-5) is
  // already 1e-4 standard deviations, so the two paths may round it to neighbouring floats.
  test::expect_close(values(yg), values(y), 1e-4, 2e-4, "y");
}

// The moving averages' hidden state on the GPU over several updates: train forwards on batches of
// different distributions, an infer forward in between (no update), then a reset and one more update.
// Outputs and moving statistics follow the host's after every step.
TEST(BatchNorm, GpuMovingAverageOverSteps) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  const Shape shape{3, 16, 13, 13};
  BatchNorm a("bn_cpu", 16), b("bn_gpu", 16);
  test::randomize_params(a, 21);
  b.to(Device::gpu);
  for (const char* name : {"gamma", "beta", "moving_mean", "moving_variance"})
    param(b, name).value.copy_from(param(a, name).value);
  auto values = [](const Tensor& t) {
    const std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  auto step = [&](int k, Mode mode, const std::string& what) {
    const Tensor x = test::random_tensor(shape, DType::f32, 30 + k, -1 + 0.5 * k, 1 + k);
    const Tensor xg = x.to(Device::gpu);
    Tensor y(shape), yg(shape, Device::gpu);
    a.forward(cpu, {&x}, y, mode);
    b.forward(*gpu, {&xg}, yg, mode);
    gpu->sync();
    test::expect_close(values(yg), values(y), 1e-4, 1e-5, what + " y");
    for (const char* name : {"moving_mean", "moving_variance"})
      test::expect_close(values(param(b, name).value), values(param(a, name).value), 1e-4, 1e-5, what + " " + name);
    EXPECT_EQ(b.moving_average_steps(), a.moving_average_steps()) << what;
  };
  step(1, Mode::train, "update 1");
  step(2, Mode::infer, "infer after update 1");
  step(3, Mode::train, "update 2");
  step(4, Mode::train, "update 3");
  EXPECT_EQ(b.moving_average_steps(), 3);
  a.reset_moving_average();
  b.reset_moving_average();
  step(5, Mode::train, "update 1 after reset");
}

// The GPU path without an input gradient (the first layer) and with frozen gamma and beta (no
// gradient tensors): the parameter gradients, resp. the input gradient, still match the host's.
TEST(BatchNorm, GpuNullInputGradAndFrozenParams) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  const Shape shape{3, 8, 13, 13};
  auto values = [](const Tensor& t) {
    const std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  const Tensor x = test::random_tensor(shape, DType::f32, 11), dy = test::random_tensor(shape, DType::f32, 12);
  const Tensor xg = x.to(Device::gpu), dyg = dy.to(Device::gpu);
  BatchNorm a("bn_cpu", 8), b("bn_gpu", 8), frozen("bn_frozen", 8);
  test::randomize_params(a, 13);
  b.to(Device::gpu);
  param(frozen, "gamma").trainable = param(frozen, "beta").trainable = false;
  frozen.to(Device::gpu);
  for (const char* name : {"gamma", "beta", "moving_mean", "moving_variance"}) {
    param(b, name).value.copy_from(param(a, name).value);
    param(frozen, name).value.copy_from(param(a, name).value);
  }
  for (Mode mode : {Mode::train, Mode::infer}) {
    const std::string where = mode == Mode::train ? "train" : "infer";
    Tensor y(shape), yg(shape, Device::gpu), dx(shape);
    a.forward(cpu, {&x}, y, mode);
    a.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
    b.forward(*gpu, {&xg}, yg, mode);
    b.backward(*gpu, {&xg}, yg, dyg, {{nullptr, GradMode::overwrite}});
    gpu->sync();
    test::expect_close(values(param(b, "gamma").grad), values(param(a, "gamma").grad), 1e-4, 1e-5, where + " dgamma");
    test::expect_close(values(param(b, "beta").grad), values(param(a, "beta").grad), 1e-4, 1e-5, where + " dbeta");
    Tensor dxg(shape, Device::gpu);
    frozen.forward(*gpu, {&xg}, yg, mode);
    frozen.backward(*gpu, {&xg}, yg, dyg, {{&dxg, GradMode::overwrite}});
    gpu->sync();
    test::expect_close(values(dxg), values(dx), 1e-4, 1e-5, where + " dx, frozen gamma and beta");
  }
}

// Fixed reduction order, no atomics: the same inputs give bit-identical results.
TEST(BatchNorm, GpuDeterministic) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  const Shape shape{2, 32, 128, 128};
  BatchNorm layer("bn", 32);
  layer.to(Device::gpu);
  const Tensor x = test::random_tensor(shape, DType::f32, 6).to(Device::gpu);
  const Tensor dy = test::random_tensor(shape, DType::f32, 7).to(Device::gpu);
  std::vector<float> first_y, first_dx, first_dgamma;
  for (int run = 0; run < 2; ++run) {
    Tensor y(shape, Device::gpu), dx(shape, Device::gpu);
    layer.forward(*gpu, {&x}, y, Mode::train);
    layer.backward(*gpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
    gpu->sync();
    if (run == 0) {
      first_y = y.values<float>(), first_dx = dx.values<float>();
      first_dgamma = param(layer, "gamma").grad.values<float>();
      continue;
    }
    EXPECT_EQ(y.values<float>(), first_y);
    EXPECT_EQ(dx.values<float>(), first_dx);
    EXPECT_EQ(param(layer, "gamma").grad.values<float>(), first_dgamma);
  }
}

}  // namespace
}  // namespace cupick
