#include "engine/graph.h"

#include "engine/layers/batchnorm.h"
#include "engine/layers/concat.h"
#include "engine/layers/conv.h"
#include "engine/layers/leaky_relu.h"
#include "engine/layers/maxpool.h"
#include "engine/layers/reorg.h"
#include "engine/layers/upsample.h"
#include "tests/layer_check.h"

namespace cupick {
namespace {

// input -> leaky_1 -> ... -> leaky_6, a chain where inference needs two buffers.
Graph chain(int n) {
  Graph g;
  std::string prev = Graph::kInput;
  for (int i = 1; i <= n; ++i) {
    const std::string name = "leaky_" + std::to_string(i);
    g.add<LeakyReLU>({prev}, name, 0.5f);
    prev = name;
  }
  return g;
}

TEST(Graph, ChainForwardBackward) {
  Context cpu;
  Graph g = chain(3);
  Tensor x = Tensor::from<float>({-8, 1, 0, 2}, {1, 1, 2, 2});
  const Tensor& y = g.forward(cpu, x, Mode::train);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{-1, 1, 0, 2}));
  EXPECT_EQ(g.activation("leaky_1").values<float>(), (std::vector<float>{-4, 1, 0, 2}));
  Tensor dy = Tensor::from<float>({1, 1, 1, 1}, y.shape()), dx(x.shape());
  g.backward(cpu, dy, &dx);
  EXPECT_EQ(dx.values<float>(), (std::vector<float>{0.125f, 1, 0.125f, 1}));
}

TEST(Graph, InferenceReusesBuffers) {
  Context cpu;
  Graph g = chain(6);
  Tensor x({2, 3, 16, 16});
  const size_t one = x.bytes();
  g.forward(cpu, x, Mode::infer);
  EXPECT_EQ(g.planned_bytes(), 2 * one);  // ping-pong
  const void* out = g.forward(cpu, x, Mode::infer).raw();
  EXPECT_EQ(g.forward(cpu, x, Mode::infer).raw(), out);  // same plan, no new allocation
  g.forward(cpu, x, Mode::train);
  EXPECT_EQ(g.planned_bytes(), (6 + 2) * one);  // all activations kept, gradients ping-pong
}

// A training plan serves smaller batches (the last validation batch) and inference without new
// buffers, and the full batch again afterwards.
TEST(Graph, TrainPlanServesSmallerBatchesAndInference) {
  Context cpu;
  Graph g = chain(6);
  Tensor x({4, 2, 3, 5});
  for (size_t i = 0; i < x.count(); ++i) x.data<float>()[i] = float(i % 7) - 3;
  auto expect = [](float v) { return v > 0 ? v : v / 64; };  // slope 0.5, six times
  const void* out = g.forward(cpu, x, Mode::train).raw();
  const size_t bytes = g.planned_bytes();

  const Tensor two = x.images(1, 2);
  const Tensor& y = g.forward(cpu, two, Mode::infer);
  EXPECT_EQ(y.shape(), two.shape());
  EXPECT_EQ(y.raw(), out);
  EXPECT_EQ(g.planned_bytes(), bytes);
  for (size_t i = 0; i < y.count(); ++i) ASSERT_EQ(y.data<float>()[i], expect(two.data<float>()[i])) << i;

  const Tensor one = x.images(3, 1);
  g.forward(cpu, one, Mode::train);
  Tensor dy({1, 2, 3, 5}), dx(one.shape());
  for (size_t i = 0; i < dy.count(); ++i) dy.data<float>()[i] = 1;
  g.backward(cpu, dy, &dx);
  for (size_t i = 0; i < dx.count(); ++i) ASSERT_EQ(dx.data<float>()[i], one.data<float>()[i] > 0 ? 1 : 1.f / 64) << i;

  EXPECT_EQ(g.forward(cpu, x, Mode::train).shape(), x.shape());
  EXPECT_EQ(g.planned_bytes(), bytes);
}

// A node whose output nobody reads would meet backward without a gradient: refused at planning.
TEST(Graph, OutputNobodyReadsIsAnError) {
  Graph g;
  g.add<LeakyReLU>({Graph::kInput}, "unread");
  g.add<LeakyReLU>({Graph::kInput}, "last");
  Context cpu;
  Tensor x({1, 1, 2, 2});
  for (Mode mode : {Mode::train, Mode::infer}) {
    try {
      g.forward(cpu, x, mode);
      FAIL();
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("'unread'"), std::string::npos) << e.what();
    }
  }
}

TEST(Graph, BackwardNeedsTrainForward) {
  Context cpu;
  Graph g = chain(2);
  Tensor x({1, 1, 2, 2});
  const Tensor& y = g.forward(cpu, x, Mode::infer);
  Tensor dy(y.shape());
  EXPECT_THROW(g.backward(cpu, dy), Error);
}

TEST(Graph, RejectsBadNodes) {
  Graph g = chain(2);
  EXPECT_THROW(g.add<LeakyReLU>({"leaky_1"}, "leaky_2"), ShapeError);  // duplicate
  EXPECT_THROW(g.add<LeakyReLU>({"nowhere"}, "leaky_3"), ShapeError);
  EXPECT_THROW(g.add<LeakyReLU>({"leaky_1"}, "input"), ShapeError);
  EXPECT_EQ(g.size(), 2u);  // failed additions leave nothing behind
  try {
    g.add<LeakyReLU>({"leaky_9"}, "leaky_3");
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("'leaky_3'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'leaky_9'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cupick

namespace cupick {
namespace {

// A small network with every layer and every kind of edge PhosaurusNet and YOLO have: a skip
// feature read by two nodes (its gradient accumulates), upsampling, reorg, concatenation.
Graph mini_net() {
  Graph g;
  auto block = [&g](const std::string& in, const std::string& i, int cin, int cout, int k) {
    g.add<Conv2D>({in}, "conv_" + i, cin, cout, k, false);
    g.add<BatchNorm>({"conv_" + i}, "norm_" + i, cout);
    g.add<LeakyReLU>({"norm_" + i}, "leaky_" + i);
    return "leaky_" + i;
  };
  std::string x = block(Graph::kInput, "1", 1, 4, 3);
  g.add<MaxPool>({x}, "pool_1");
  const std::string skip = block("pool_1", "2", 4, 6, 3);  // stride 2
  g.add<MaxPool>({skip}, "pool_2");
  x = block("pool_2", "3", 6, 8, 3);  // stride 4
  g.add<Upsample>({x}, "up_3");        // back to stride 2
  const std::string pass = block(skip, "4", 6, 2, 1);
  g.add<Reorg>({skip}, "reorg_2");     // stride 4, 24 channels
  g.add<Upsample>({"reorg_2"}, "up_reorg");
  g.add<Concat>({pass, "up_3", "up_reorg"}, "concat");  // 2 + 8 + 24
  block("concat", "5", 34, 8, 3);
  g.add<Conv2D>({"leaky_5"}, "conv_head", 8, 6, 1, true);
  return g;
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (size_t i = 0; i < a.count(); ++i) s += a.data<double>()[i] * b.data<double>()[i];
  return s;
}

TEST(Graph, MiniNetShapesAndParams) {
  Graph g = mini_net();
  const std::vector<Shape> s = g.shapes({2, 1, 16, 12});
  EXPECT_EQ(s.back(), (Shape{2, 6, 8, 6}));
  size_t total = 0;
  for (const NamedParam& p : g.params()) total += p.param->value.count();
  // conv kernels + batchnorm (4 per channel) + head bias
  const size_t convs = 1 * 4 * 9 + 4 * 6 * 9 + 6 * 8 * 9 + 6 * 2 + 34 * 8 * 9 + 8 * 6 + 6;
  EXPECT_EQ(total, convs + 4 * (4 + 6 + 8 + 2 + 8));
  EXPECT_EQ(g.params().front().name, "conv_1/kernel");
}

// Finite differences in double through the whole graph, train mode: the graph's backward (order,
// overwrite/accumulate of a gradient read twice, planned buffers) agrees with its forward.
TEST(Graph, MiniNetGradientCheck) {
  Context cpu;
  Graph g = mini_net();
  g.to(Device::cpu, DType::f64);
  unsigned seed = 5;
  for (const NamedParam& p : g.params()) {
    if (!p.param->trainable) continue;
    p.param->value.copy_from(test::random_tensor(p.param->value.shape(), DType::f64, seed++, -0.5, 0.5));
  }
  Tensor x = test::random_tensor({2, 1, 8, 12}, DType::f64, 1);
  const Tensor r = test::random_tensor(g.shapes(x.shape()).back(), DType::f64, 2);
  auto loss = [&] { return dot(g.forward(cpu, x, Mode::train), r); };
  loss();
  Tensor dx(x.shape(), Device::cpu, DType::f64);
  g.backward(cpu, r, &dx);

  auto numeric = [&](double& v) {
    const double v0 = v, h = 1e-5;
    v = v0 + h;
    const double plus = loss();
    v = v0 - h;
    const double minus = loss();
    v = v0;
    return (plus - minus) / (2 * h);
  };
  int checked = 0, agree = 0;
  auto check = [&](double& v, double analytic) {
    const double n = numeric(v);
    ++checked;
    // Leaky ReLU kinks and max-pool ties crossed by the step are rare; allow a few.
    if (std::abs(n - analytic) <= 1e-5 * std::max(1.0, std::abs(n))) ++agree;
  };
  for (size_t i = 0; i < x.count(); i += 3) check(x.data<double>()[i], dx.data<double>()[i]);
  for (const NamedParam& p : g.params()) {
    if (!p.param->trainable) continue;
    const std::vector<double> grad = p.param->grad.values<double>();
    for (size_t i = 0; i < grad.size(); i += 1 + grad.size() / 5) check(p.param->value.data<double>()[i], grad[i]);
  }
  EXPECT_GT(checked, 100);
  EXPECT_GE(agree, checked * 97 / 100) << agree << " of " << checked << " derivatives agree";
}

// Host inference in float folds conv -> batchnorm [-> leaky ReLU] into one pass where nothing else
// reads the conv's or the batchnorm's output; the result is the layers' own, as the double graph
// (which does not fold) computes them. Beside mini_net's five blocks: a conv -> batchnorm with no
// activation after it, a conv read by two nodes (not folded), and 256 -> 128 channels (Winograd,
// with the fold in its output transform).
TEST(Graph, FoldedInferenceMatchesTheLayers) {
  Context cpu;
  Graph g = mini_net();
  g.add<BatchNorm>({"conv_head"}, "norm_head", 6);
  g.add<Conv2D>({"norm_head"}, "conv_twice", 6, 128, 3, false);
  g.add<BatchNorm>({"conv_twice"}, "norm_twice", 128);
  g.add<LeakyReLU>({"conv_twice"}, "leaky_twice");
  g.add<Concat>({"norm_twice", "leaky_twice"}, "both");
  g.add<Conv2D>({"both"}, "conv_wide", 256, 128, 3, false);
  g.add<BatchNorm>({"conv_wide"}, "norm_wide", 128);
  g.add<LeakyReLU>({"norm_wide"}, "leaky_wide");
  g.to(Device::cpu, DType::f64);
  unsigned seed = 21;
  for (const NamedParam& p : g.params())  // moving variances (not trainable) stay positive
    p.param->value.copy_from(test::random_tensor(p.param->value.shape(), DType::f64, seed++,
                                                 p.param->trainable ? -0.5 : 0.5, p.param->trainable ? 0.5 : 1.5));
  const Tensor x = test::random_tensor({2, 1, 32, 24}, DType::f64, 5);
  const std::vector<double> want = g.forward(cpu, x, Mode::infer).values<double>();
  EXPECT_EQ(g.folds(), 0u) << "double does not fold";
  g.to(Device::cpu, DType::f32);
  const std::vector<float> got = g.forward(cpu, x.to(DType::f32), Mode::infer).values<float>();
  EXPECT_EQ(g.folds(), 7u) << "conv_1..5, conv_head, conv_wide";
  test::expect_close(std::vector<double>(got.begin(), got.end()), want, 1e-4, 1e-5, "folded inference");
  // Inference on a training plan (all outputs kept) folds too; the training forward moved the
  // batchnorms' moving statistics, which go back first.
  std::vector<Tensor> saved;
  for (const NamedParam& p : g.params()) saved.push_back(p.param->value.clone());
  g.forward(cpu, x.to(DType::f32), Mode::train);
  for (size_t i = 0; i < saved.size(); ++i) g.params()[i].param->value.copy_from(saved[i]);
  const std::vector<float> again = g.forward(cpu, x.to(DType::f32), Mode::infer).values<float>();
  test::expect_close(std::vector<double>(again.begin(), again.end()), want, 1e-4, 1e-5, "on the training plan");
}

TEST(Graph, MiniNetCpuMatchesGpu) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  Graph a = mini_net(), b = mini_net();
  a.to(Device::cpu);
  unsigned seed = 9;
  for (const NamedParam& p : a.params())
    p.param->value.copy_from(test::random_tensor(p.param->value.shape(), DType::f32, seed++, p.param->trainable ? -0.5 : 0.5, p.param->trainable ? 0.5 : 1.5));
  b.to(Device::gpu);
  for (size_t i = 0; i < a.params().size(); ++i) b.params()[i].param->value.copy_from(a.params()[i].param->value);
  const Tensor x = test::random_tensor({3, 1, 32, 24}, DType::f32, 3);
  const Tensor xg = x.to(Device::gpu);
  auto as_double = [](const Tensor& t) {
    std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  for (Mode mode : {Mode::infer, Mode::train}) {
    const Tensor& ya = a.forward(cpu, x, mode);
    const Tensor& yb = b.forward(*gpu, xg, mode);
    test::expect_close(as_double(yb), as_double(ya), 1e-4, 1e-4, "mini net output");
  }
  const Tensor dy = test::random_tensor(a.shapes(x.shape()).back(), DType::f32, 4);
  a.backward(cpu, dy);
  b.backward(*gpu, dy.to(Device::gpu));
  for (size_t i = 0; i < a.params().size(); ++i) {
    const NamedParam pa = a.params()[i], pb = b.params()[i];
    if (pa.param->trainable) test::expect_close(as_double(pb.param->grad), as_double(pa.param->grad), 1e-3, 1e-4, pa.name);
  }
}

}  // namespace
}  // namespace cupick
