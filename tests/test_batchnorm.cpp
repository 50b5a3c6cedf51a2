#include "engine/layers/batchnorm.h"

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
  // moving = 0.99 * moving + 0.01 * batch, with the unbiased variance:
  // mean 0.01 * 3; variance 0.99 + 0.01 * 14/3 and 0.99 + 0.01 * 4/3.
  expect_values(param(layer, "moving_mean").value, {0.03, 0}, 1e-7, "moving_mean after 1");
  expect_values(param(layer, "moving_variance").value, {1.0366666667, 1.0033333333}, 1e-6, "moving_variance after 1");
  layer.forward(cpu, {&x}, y, Mode::train);
  // mean 0.99 * 0.03 + 0.03; variance 0.99 * 1.0366667 + 0.0466667 and 0.99 * 1.0033333 + 0.0133333.
  expect_values(param(layer, "moving_mean").value, {0.0597, 0}, 1e-7, "moving_mean after 2");
  expect_values(param(layer, "moving_variance").value, {1.0729666667, 1.0066333333}, 1e-6, "moving_variance after 2");
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

TEST(BatchNorm, GradientCheckTrain) {
  BatchNorm layer("bn_1", 3);
  test::gradient_check(layer, {{2, 3, 4, 5}}, Mode::train);
  BatchNorm small("bn_2", 4);
  test::gradient_check(small, {{1, 4, 3, 3}}, Mode::train);
}

TEST(BatchNorm, GradientCheckInfer) {
  BatchNorm layer("bn_1", 3);
  test::gradient_check(layer, {{2, 3, 4, 5}}, Mode::infer);
  BatchNorm small("bn_2", 4);
  test::gradient_check(small, {{1, 4, 3, 3}}, Mode::infer);
}

TEST(BatchNorm, Accumulate) {
  BatchNorm layer("bn_1", 3);
  test::accumulate_check(layer, {{2, 3, 4, 5}}, Mode::train);
  test::accumulate_check(layer, {{2, 3, 4, 5}}, Mode::infer);
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

struct ParityCase {
  Shape shape;
  Mode mode;
};
void PrintTo(const ParityCase& p, std::ostream* os) {
  *os << p.shape << (p.mode == Mode::train ? " train" : " infer");
}
// Batch 1 and 3, odd and even planes, 1 to 1024 channels, and a long reduction (65536 values per channel).
std::vector<ParityCase> parity_cases() {
  std::vector<ParityCase> cases;
  for (Shape s : {Shape{1, 1, 7, 9}, Shape{3, 32, 16, 16}, Shape{1, 1024, 5, 3}, Shape{3, 64, 33, 31},
                  Shape{1, 32, 256, 256}})
    for (Mode m : {Mode::train, Mode::infer}) cases.push_back({s, m});
  return cases;
}

class BatchNormParity : public ::testing::TestWithParam<ParityCase> {};
TEST_P(BatchNormParity, CpuMatchesGpu) {
  const int c = GetParam().shape.c;
  test::parity_check([c] { return std::make_unique<BatchNorm>("bn", c); }, {GetParam().shape}, GetParam().mode);
}
INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormParity, ::testing::ValuesIn(parity_cases()), [](const auto& info) {
  return info.param.shape.str() + (info.param.mode == Mode::train ? "_train" : "_infer");
});

// Activations with a large mean against their spread: E[x^2] - E[x]^2 in fp32 would lose the variance
// (~20% error here); the GPU's Welford/Chan reduction must not. Momentum 0 makes the moving statistics
// the batch mean and unbiased variance, so they can be compared directly.
TEST(BatchNorm, GpuStatisticsWithLargeMean) {
  auto gpu = Context::try_gpu();
  if (!gpu) GTEST_SKIP() << "no GPU on this machine";
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

// Fixed reduction order, no atomics: the same inputs give bit-identical results.
TEST(BatchNorm, GpuDeterministic) {
  auto gpu = Context::try_gpu();
  if (!gpu) GTEST_SKIP() << "no GPU on this machine";
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
