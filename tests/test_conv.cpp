#include "engine/layers/conv.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/layers/winograd.h"
#include "tests/layer_check.h"

namespace cupick {
namespace {

void set_param(Layer& layer, size_t i, const std::vector<float>& values) {
  Param* p = layer.params().at(i);
  p->value.copy_from(Tensor::from(values, p->value.shape()));
}

Tensor nans(Shape shape) {
  return Tensor::from(std::vector<float>(shape.count(), std::numeric_limits<float>::quiet_NaN()), shape);
}

TEST(Conv2D, Params) {
  Conv2D with("conv_1", 3, 8, 3, true), without("conv_2", 3, 8, 1, false);
  ASSERT_EQ(with.params().size(), 2u);
  EXPECT_EQ(with.params()[0]->name, "kernel");
  EXPECT_EQ(with.params()[0]->value.shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(with.params()[0]->grad.shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(with.params()[1]->name, "bias");
  EXPECT_EQ(with.params()[1]->value.shape(), (Shape{1, 8, 1, 1}));
  for (float v : with.params()[0]->value.values<float>()) EXPECT_EQ(v, 0.f);
  ASSERT_EQ(without.params().size(), 1u);
  EXPECT_EQ(without.params()[0]->value.shape(), (Shape{8, 3, 1, 1}));
  EXPECT_EQ(with.output_shape({{2, 3, 7, 9}}), (Shape{2, 8, 7, 9}));
}

// 3x3 on 3x3 with zero padding, by hand. The kernel is not symmetric, so a flipped kernel (true
// convolution instead of Keras's cross-correlation) would give other values:
//   y[r][c] = x[r-1][c-1] + x[r][c] + 2 x[r+1][c+1] + 0.5
//
// The reference gives them exactly; Winograd's transforms (by 1/6, 1/24) round, within a few ulps.
void expect_values(const std::vector<float>& got, const std::vector<float>& want, bool exact, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    if (exact) EXPECT_EQ(got[i], want[i]) << what << " [" << i << "]";
    else EXPECT_NEAR(got[i], want[i], 4e-6 * std::abs(want[i]) + 1e-6) << what << " [" << i << "]";
}

TEST(Conv2D, KnownValues3x3) {
  for (bool reference : {true, false}) {
    SCOPED_TRACE(reference ? "im2col reference" : "Winograd");
    Context cpu;
    Conv2D layer("conv_1", 1, 1, 3, true);
    layer.use(reference ? Conv2D::HostAlgorithm::reference : Conv2D::HostAlgorithm::winograd);
    set_param(layer, 0, {1, 0, 0, 0, 1, 0, 0, 0, 2});
    set_param(layer, 1, {0.5f});
    Tensor x = Tensor::from<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
    Tensor y({1, 1, 3, 3});
    layer.forward(cpu, {&x}, y, Mode::train);
    expect_values(y.values<float>(), {11.5f, 14.5f, 3.5f, 20.5f, 24.5f, 8.5f, 7.5f, 12.5f, 14.5f}, reference, "y");

    // dy = 1: dx[r][c] = [r,c < 2] + 1 + 2 [r,c > 0]; d kernel[i][j] = sum of the x under tap (i, j).
    Tensor dy = Tensor::from<float>(std::vector<float>(9, 1), {1, 1, 3, 3});
    Tensor dx = nans(x.shape());  // overwrite must not read it
    layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
    expect_values(dx.values<float>(), {2, 2, 1, 2, 4, 3, 1, 3, 3}, reference, "dx");
    EXPECT_EQ(layer.params()[0]->grad.values<float>(), (std::vector<float>{12, 21, 16, 27, 45, 33, 24, 39, 28}));
    EXPECT_EQ(layer.params()[1]->grad.values<float>(), (std::vector<float>{9}));

    layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::accumulate}});
    expect_values(dx.values<float>(), {4, 4, 2, 4, 8, 6, 2, 6, 6}, reference, "accumulated dx");
    // Parameter gradients are overwritten by every backward, not summed.
    EXPECT_EQ(layer.params()[1]->grad.values<float>(), (std::vector<float>{9}));
  }
}

// The 1-D identity behind F(4, 3): A^T [(G g) * (B^T d)] is the correlation of 6 inputs with 3 taps.
TEST(Winograd, TransformsMakeACorrelation) {
  const float d[6] = {0.5f, -1, 2, 3.25f, -0.75f, 1.5f}, g[3] = {1.5f, -2, 0.25f};
  float dt[6], gt[6], m[6], y[4];
  winograd::input_1d(d, dt);
  winograd::kernel_1d(g, gt);
  for (int i = 0; i < 6; ++i) m[i] = dt[i] * gt[i];
  winograd::output_1d(m, y);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], g[0] * d[i] + g[1] * d[i + 1] + g[2] * d[i + 2], 1e-5) << i;
}

// Winograd in float against the double reference, with the float reference's own error beside it:
// forward, data gradient (overwrite and accumulate), at the shapes that matter (a side that is not a
// multiple of the 4-pixel tile, 1x1 and 2x2 images, one channel, several images, two bands of tile
// rows at 256 x 250 x 16 channels, the second one short) and at the deep layers' channel counts.
// The error is relative to the largest |value|. Measured (2026-12-04, OpenBLAS 0.3.21, Prescott and
// SkylakeX kernels): Winograd up to 1.3e-5 (the 1024-channel case), im2col up to 6.8e-7, 20-30x
// less, as expected of F(4x4, 3x3), whose transforms multiply values by up to 8 x 8 and divide by
// 24 x 24; the bound leaves 4x room for other BLAS builds' summation orders.
TEST(Winograd, MatchesTheDoubleReferenceWithinItsBound) {
  struct Case {
    Shape in;
    int filters;
    bool bias;
  };
  for (const Case& c : std::vector<Case>{{{1, 1, 7, 9}, 32, false},
                                         {{2, 3, 5, 6}, 4, true},
                                         {{1, 2, 1, 1}, 3, true},
                                         {{3, 4, 2, 2}, 2, false},
                                         {{2, 32, 17, 13}, 64, true},
                                         {{1, 16, 256, 250}, 16, true},
                                         {{1, 256, 12, 12}, 512, false},
                                         {{1, 1024, 8, 8}, 1024, true}}) {
    const Shape out{c.in.n, c.filters, c.in.h, c.in.w};
    SCOPED_TRACE(c.in.str() + " to " + std::to_string(c.filters));
    Context cpu;
    Conv2D exact("exact", c.in.c, c.filters, 3, c.bias), fast("fast", c.in.c, c.filters, 3, c.bias),
        ref("ref", c.in.c, c.filters, 3, c.bias);
    exact.to(Device::cpu, DType::f64);
    ref.use(Conv2D::HostAlgorithm::reference);
    fast.use(Conv2D::HostAlgorithm::winograd);
    test::randomize_params(exact, 11);
    for (Conv2D* l : {&fast, &ref})
      for (size_t i = 0; i < exact.params().size(); ++i)
        l->params()[i]->value.copy_from(exact.params()[i]->value.to(DType::f32));
    const Tensor x64 = test::random_tensor(c.in, DType::f64, 12), dy64 = test::random_tensor(out, DType::f64, 13);
    const Tensor x = x64.to(DType::f32), dy = dy64.to(DType::f32);

    Tensor y64(out, Device::cpu, DType::f64), dx64(c.in, Device::cpu, DType::f64);
    exact.forward(cpu, {&x64}, y64, Mode::infer);
    exact.backward(cpu, {&x64}, y64, dy64, {{&dx64, GradMode::overwrite}});
    auto error = [](const Tensor& got, const Tensor& want, double scale = 1) {
      const std::vector<float> g = got.values<float>();
      const std::vector<double> w = want.values<double>();
      double worst = 0, largest = 0;
      for (size_t i = 0; i < w.size(); ++i)
        worst = std::max(worst, std::abs(g[i] - scale * w[i])), largest = std::max(largest, std::abs(scale * w[i]));
      return worst / largest;
    };
    for (Conv2D* l : {&fast, &ref}) {
      const char* who = l == &fast ? "Winograd" : "im2col";
      Tensor y(out), dx = nans(c.in);
      l->forward(cpu, {&x}, y, Mode::infer);
      l->backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
      const double ey = error(y, y64), edx = error(dx, dx64);
      l->backward(cpu, {&x}, y, dy, {{&dx, GradMode::accumulate}});
      const double eacc = error(dx, dx64, 2);
      std::printf("  %-30s %-8s forward %.2g, d input %.2g, accumulated %.2g\n",
                  (c.in.str() + " to " + std::to_string(c.filters)).c_str(), who, ey, edx, eacc);
      EXPECT_LT(ey, 5e-5) << who;
      EXPECT_LT(edx, 5e-5) << who;
      EXPECT_LT(eacc, 5e-5) << who;
      // Only the data gradient goes through Winograd: the kernel gradient is the reference's.
      EXPECT_EQ(fast.params()[0]->grad.shape(), exact.params()[0]->grad.shape());
    }
    const std::vector<float> gf = fast.params()[0]->grad.values<float>(), gr = ref.params()[0]->grad.values<float>();
    EXPECT_EQ(gf, gr) << "kernel gradients";
  }
}

// 1x1, two images, bias: y0 = x0, y1 = x1 + 1, y2 = 2 x0 - x1 - 1.
TEST(Conv2D, KnownValues1x1) {
  Context cpu;
  Conv2D layer("conv_1x1", 2, 3, 1, true);
  set_param(layer, 0, {1, 0, 0, 1, 2, -1});
  set_param(layer, 1, {0, 1, -1});
  Tensor x = Tensor::from<float>({1, 2, 3, 4, 10, 20, 30, 40, -1, 0, 1, 2, 1, 1, 1, 1}, {2, 2, 2, 2});
  Tensor y({2, 3, 2, 2});
  layer.forward(cpu, {&x}, y, Mode::infer);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{1, 2, 3, 4, 11, 21, 31, 41, -9, -17, -25, -33,  //
                                                   -1, 0, 1, 2, 2, 2, 2, 2, -4, -2, 0, 2}));

  // dy = 1: dx[c] = sum_o kernel[o][c] = (3, 0); d kernel[o][c] = sum of x[c] = (12, 104); d bias = 8.
  Tensor dy = Tensor::from<float>(std::vector<float>(24, 1), y.shape());
  Tensor dx = nans(x.shape());  // BLAS with beta 0 must not read it
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
  EXPECT_EQ(dx.values<float>(), (std::vector<float>{3, 3, 3, 3, 0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0}));
  EXPECT_EQ(layer.params()[0]->grad.values<float>(), (std::vector<float>{12, 104, 12, 104, 12, 104}));
  EXPECT_EQ(layer.params()[1]->grad.values<float>(), (std::vector<float>{8, 8, 8}));
}

// Images tall enough for the host path to work in several bands of rows, against a direct
// convolution from the definition (double, so the comparison is tight).
TEST(Conv2D, BandsMatchDirectConvolution) {
  const int N = 2, C = 32, H = 130, W = 64, O = 3, k = 3, p = k / 2;
  ASSERT_LT(Conv2D::kColumnBytes / (size_t(C) * k * k * W * sizeof(double)), size_t(H)) << "one band only";
  Context cpu;
  Conv2D layer("conv_bands", C, O, k, true);
  layer.to(Device::cpu, DType::f64);
  test::randomize_params(layer, 5);
  const Shape s{N, C, H, W}, so{N, O, H, W};
  const Tensor x = test::random_tensor(s, DType::f64, 6);
  const Tensor dy = test::random_tensor(so, DType::f64, 7);
  const std::vector<double> xv = x.values<double>(), dyv = dy.values<double>();
  const std::vector<double> wv = layer.params()[0]->value.values<double>();
  const std::vector<double> bv = layer.params()[1]->value.values<double>();

  std::vector<double> y_ref(so.count()), dx_ref(s.count(), 0), dw_ref(wv.size(), 0), db_ref(O, 0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o)
      for (int r = 0; r < H; ++r)
        for (int q = 0; q < W; ++q) {
          const size_t yi = ((size_t(n) * O + o) * H + r) * W + q;
          double sum = bv[o];
          db_ref[o] += dyv[yi];
          for (int c = 0; c < C; ++c)
            for (int i = 0; i < k; ++i)
              for (int j = 0; j < k; ++j) {
                const int yy = r + i - p, xx = q + j - p;
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                const size_t xi = ((size_t(n) * C + c) * H + yy) * W + xx, wi = ((size_t(o) * C + c) * k + i) * k + j;
                sum += wv[wi] * xv[xi];
                dx_ref[xi] += wv[wi] * dyv[yi];
                dw_ref[wi] += dyv[yi] * xv[xi];
              }
          y_ref[yi] = sum;
        }

  Tensor y(so, Device::cpu, DType::f64);
  layer.forward(cpu, {&x}, y, Mode::train);
  test::expect_close(y.values<double>(), y_ref, 1e-12, 1e-12, "forward");
  Tensor dx = Tensor::from(std::vector<double>(s.count(), std::nan("")), s);
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
  test::expect_close(dx.values<double>(), dx_ref, 1e-12, 1e-12, "d input");
  test::expect_close(layer.params()[0]->grad.values<double>(), dw_ref, 1e-12, 1e-12, "d kernel");
  test::expect_close(layer.params()[1]->grad.values<double>(), db_ref, 1e-12, 1e-12, "d bias");
  layer.backward(cpu, {&x}, y, dy, {{&dx, GradMode::accumulate}});
  for (double& v : dx_ref) v *= 2;
  test::expect_close(dx.values<double>(), dx_ref, 1e-12, 1e-12, "accumulated d input");
}

TEST(Conv2D, RejectsWrongChannels) {
  Conv2D layer("conv_5", 3, 8, 3, true);
  try {
    layer.output_shape({{1, 4, 8, 8}});
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "conv_5 (conv): expected C=3, got 4; inputs [1x4x8x8]");
  }
  Context cpu;
  Tensor x({1, 4, 8, 8}), y({1, 8, 8, 8});
  EXPECT_THROW(layer.forward(cpu, {&x}, y, Mode::infer), ShapeError);
}

TEST(Conv2D, RejectsEvenKernel) {
  try {
    Conv2D layer("conv_6", 3, 8, 2, false);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "conv_6 (conv): kernel size 2 is even; 'same' padding needs an odd size");
  }
  EXPECT_THROW(Conv2D("conv_7", 0, 8, 3, false), Error);
}

// ---- GPU (skipped without one) ---------------------------------------------------------------------

// Overwrite ignores NaN in the old gradient; accumulate adds onto it; and the layer re-plans when
// the input shape changes and back.
TEST(Conv2D, GpuGradModesAndShapeChanges) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  Conv2D a("conv_a", 3, 5, 3, true), b("conv_b", 3, 5, 3, true);
  test::randomize_params(a, 9);
  b.to(Device::gpu);
  for (size_t i = 0; i < 2; ++i) b.params()[i]->value.copy_from(a.params()[i]->value);
  auto as_double = [](const Tensor& t) {
    std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  unsigned seed = 10;
  for (Shape s : {Shape{1, 3, 8, 8}, Shape{2, 3, 5, 7}, Shape{1, 3, 8, 8}}) {
    const Shape so{s.n, 5, s.h, s.w};
    const Tensor x = test::random_tensor(s, DType::f32, seed++), dy = test::random_tensor(so, DType::f32, seed++);
    const Tensor xg = x.to(Device::gpu), dyg = dy.to(Device::gpu);
    Tensor y(so), yg(so, Device::gpu), dx(s);
    a.forward(cpu, {&x}, y, Mode::train);
    b.forward(*gpu, {&xg}, yg, Mode::train);
    a.backward(cpu, {&x}, y, dy, {{&dx, GradMode::overwrite}});
    Tensor dxg = nans(s).to(Device::gpu);
    b.backward(*gpu, {&xg}, yg, dyg, {{&dxg, GradMode::overwrite}});
    gpu->sync();
    const std::string where = "shape " + s.str();
    test::expect_close(as_double(yg), as_double(y), 1e-4, 1e-5, where + " forward");
    test::expect_close(as_double(dxg), as_double(dx), 1e-4, 1e-5, where + " d input (overwrite)");
    test::expect_close(as_double(b.params()[0]->grad), as_double(a.params()[0]->grad), 1e-4, 1e-5, where + " d kernel");
    test::expect_close(as_double(b.params()[1]->grad), as_double(a.params()[1]->grad), 1e-4, 1e-5, where + " d bias");

    const Tensor old = test::random_tensor(s, DType::f32, seed++);
    Tensor acc = old.to(Device::gpu);
    b.backward(*gpu, {&xg}, yg, dyg, {{&acc, GradMode::accumulate}});
    gpu->sync();
    std::vector<double> want = as_double(dx);
    const std::vector<double> before = as_double(old);
    for (size_t i = 0; i < want.size(); ++i) want[i] += before[i];
    test::expect_close(as_double(acc), want, 1e-4, 1e-5, where + " d input (accumulate)");
  }
}

// The first layer has no input gradient: backward with a null one still writes the kernel and bias
// gradients (the filter workspace alone), as on the host.
TEST(Conv2D, GpuParamGradsWithoutInputGrad) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  Conv2D a("conv_a", 1, 32, 3, true), b("conv_b", 1, 32, 3, true);
  test::randomize_params(a, 21);
  b.to(Device::gpu);
  for (size_t i = 0; i < 2; ++i) b.params()[i]->value.copy_from(a.params()[i]->value);
  const Shape s{2, 1, 33, 31}, so{2, 32, 33, 31};
  const Tensor x = test::random_tensor(s, DType::f32, 22), dy = test::random_tensor(so, DType::f32, 23);
  const Tensor xg = x.to(Device::gpu), dyg = dy.to(Device::gpu);
  Tensor y(so), yg(so, Device::gpu);
  a.forward(cpu, {&x}, y, Mode::train);
  a.backward(cpu, {&x}, y, dy, {{nullptr, GradMode::overwrite}});
  b.forward(*gpu, {&xg}, yg, Mode::train);
  b.backward(*gpu, {&xg}, yg, dyg, {{nullptr, GradMode::overwrite}});
  gpu->sync();
  auto as_double = [](const Tensor& t) {
    std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  test::expect_close(as_double(b.params()[0]->grad), as_double(a.params()[0]->grad), 1e-4, 1e-5, "d kernel");
  test::expect_close(as_double(b.params()[1]->grad), as_double(a.params()[1]->grad), 1e-4, 1e-5, "d bias");
}

}  // namespace
}  // namespace cupick
