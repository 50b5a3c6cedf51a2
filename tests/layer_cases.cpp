#include "tests/layer_cases.h"

#include "engine/layers/conv.h"

namespace cupick::test {

namespace {

std::vector<LayerCase> conv_cases() {
  std::vector<LayerCase> cases;
  struct Conv {
    Shape in;
    int out, k;
    bool bias;
  };
  // Small enough for the finite-difference check; a 1x1 image where every tap but the centre pads;
  // a kernel wider than the image (k > 2 w + 1).
  for (const Conv& c : std::vector<Conv>{{{1, 3, 5, 6}, 4, 1, false}, {{2, 3, 5, 6}, 4, 1, true},
                                         {{1, 3, 5, 6}, 4, 3, false}, {{2, 3, 5, 6}, 4, 3, true},
                                         {{2, 2, 4, 4}, 3, 3, true}, {{1, 2, 7, 5}, 3, 5, true},
                                         {{2, 2, 1, 1}, 2, 3, true}, {{1, 2, 2, 2}, 2, 7, false}}) {
    LayerCase lc{.type = "conv", .in = {c.in}, .filters = c.out, .size = c.k, .bias = c.bias, .parity = false};
    cases.push_back(lc);
  }
  // Parity at crYOLO's sizes. atol is relative to the largest |value|: 1e-5 is a few hundred fp32
  // ulps of it; the 256..1024-channel layers sum 2304..9216 products per output in an order (and,
  // for Winograd or FFT algorithms, a transformed basis) that differs from OpenBLAS's, so 1e-4.
  struct Parity {
    Conv c;
    double atol;
  };
  for (const Parity& p : std::vector<Parity>{{{{1, 1, 7, 9}, 32, 3, false}, 1e-5},
                                             {{{3, 32, 16, 16}, 64, 3, false}, 1e-5},
                                             {{{3, 32, 16, 16}, 64, 3, true}, 1e-5},
                                             {{{1, 256, 8, 8}, 1024, 3, false}, 1e-4},
                                             {{{3, 1024, 5, 3}, 512, 1, false}, 1e-4},
                                             {{{1, 512, 13, 13}, 1024, 3, true}, 1e-4},
                                             {{{3, 1, 33, 31}, 32, 3, false}, 1e-5},
                                             {{{2, 16, 12, 10}, 24, 1, true}, 1e-5},
                                             {{{1, 4, 9, 8}, 5, 5, true}, 1e-5}}) {
    LayerCase lc{.type = "conv", .in = {p.c.in}, .filters = p.c.out, .size = p.c.k, .bias = p.c.bias,
                 .gradient = false, .accumulate = false, .rtol = 1e-4, .atol = p.atol};
    cases.push_back(lc);
  }
  return cases;
}

std::vector<LayerCase> batchnorm_cases() {
  std::vector<LayerCase> cases;
  for (Mode m : {Mode::train, Mode::infer}) {
    cases.push_back({.type = "batchnorm", .in = {{2, 3, 4, 5}}, .mode = m, .parity = false});
    cases.push_back({.type = "batchnorm", .in = {{1, 4, 3, 3}}, .mode = m, .accumulate = false, .parity = false});
  }
  for (Shape s : {Shape{1, 1, 7, 9}, Shape{3, 32, 16, 16}, Shape{1, 1024, 5, 3}, Shape{3, 64, 33, 31},
                  Shape{1, 32, 256, 256},
                  // Planes smaller than a block (169 values: each thread steps over image boundaries,
                  // with a carry) in chunks of 902 that start and end inside images.
                  Shape{16, 8, 13, 13},
                  // 121 chunks of 1017 values per channel, the last one short, straddling images.
                  Shape{5, 3, 200, 123}})
    for (Mode m : {Mode::train, Mode::infer})
      cases.push_back({.type = "batchnorm", .in = {s}, .mode = m, .gradient = false, .accumulate = false,
                       .rtol = 1e-4, .atol = 1e-5});
  return cases;
}

// Forward and backward of the layers that only move or compare values are exact on both devices.
void add_parity(std::vector<LayerCase>& cases, const std::string& type, const std::vector<Shape>& shapes) {
  for (const Shape& s : shapes)
    cases.push_back({.type = type, .in = {s}, .gradient = false, .accumulate = false});
}

std::vector<LayerCase> leaky_relu_cases() {
  std::vector<LayerCase> cases;
  LayerCase known{.type = "leaky_relu", .in = {{1, 1, 2, 3}}, .mode = Mode::infer, .gradient = false, .accumulate = false};
  known.known = std::make_shared<KnownValues>(KnownValues{{1, 1, 2, 3}, {{-2, -0.5f, 0, 0.5f, 3, -10}}, {-0.2f, -0.05f, 0, 0.5f, 3, -1}});
  cases.push_back(known);
  cases.push_back({.type = "leaky_relu", .in = {{2, 3, 5, 7}}, .parity = false});
  // Bit-exact, accumulate included: dx + dy * 0.1 would be one FMA on the GPU and two roundings on
  // the host, so the kernels round the product on its own (kernels::mul_rn).
  add_parity(cases, "leaky_relu", {{1, 1, 7, 9}, {3, 32, 16, 16}, {1, 1024, 5, 3}, {3, 64, 33, 31}});
  return cases;
}

std::vector<LayerCase> maxpool_cases() {
  std::vector<LayerCase> cases;
  // Windows: {-1, -2, -5, -0.5} -> -0.5 (bottom right), {3, -4, 6, 7} -> 7, {-8, -9, -7, -6} -> -6,
  // and an all-equal window {-3, -3, -3, -3}, whose gradient goes to the first (top-left) element.
  LayerCase known{.type = "maxpool", .in = {{1, 1, 4, 4}}, .mode = Mode::infer, .gradient = false, .accumulate = false};
  known.known = std::make_shared<KnownValues>(KnownValues{{1, 1, 2, 2},
                                                           {{-1, -2, 3, -4,  //
                                                             -5, -0.5f, 6, 7,  //
                                                             -8, -9, -3, -3,  //
                                                             -7, -6, -3, -3}},
                                                           {-0.5f, 7, -6, -3},
                                                           {1, 2, 3, 4},
                                                           {{0, 0, 0, 0,  //
                                                             0, 1, 0, 2,  //
                                                             0, 0, 4, 0,  //
                                                             0, 3, 0, 0}}});
  cases.push_back(known);
  cases.push_back({.type = "maxpool", .in = {{2, 3, 6, 8}}, .accumulate = false, .parity = false});
  cases.push_back({.type = "maxpool", .in = {{2, 3, 5, 7}}, .parity = false});
  add_parity(cases, "maxpool", {{1, 1, 8, 10}, {3, 32, 16, 16}, {1, 1024, 4, 6}, {3, 64, 33, 31}, {1, 3, 2, 3}, {2, 5, 7, 4}});
  return cases;
}

std::vector<LayerCase> upsample_cases() {
  std::vector<LayerCase> cases;
  // Each input sums its 2x2 block of dy: 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15.
  LayerCase known{.type = "upsample", .in = {{1, 1, 2, 2}}, .mode = Mode::infer, .gradient = false, .accumulate = false};
  known.known = std::make_shared<KnownValues>(KnownValues{{1, 1, 4, 4},
                                                           {{1, 2, 3, 4}},
                                                           {1, 1, 2, 2,  //
                                                            1, 1, 2, 2,  //
                                                            3, 3, 4, 4,  //
                                                            3, 3, 4, 4},
                                                           {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
                                                           {{10, 18, 42, 50}}});
  cases.push_back(known);
  cases.push_back({.type = "upsample", .in = {{2, 3, 3, 5}}, .parity = false});
  add_parity(cases, "upsample", {{1, 1, 8, 10}, {3, 32, 16, 16}, {1, 1024, 4, 6}, {3, 64, 33, 31}, {1, 2, 1, 1}});
  return cases;
}

std::vector<LayerCase> reorg_cases() {
  std::vector<LayerCase> cases;
  // in[c][y][x] = 16c + 4y + x on two 4x4 planes. Output channel (dy*2 + dx)*C + c holds
  // in[c][2oy + dy][2ox + dx], TensorFlow's space_to_depth order (Darknet's differs).
  std::vector<float> ramp(32);
  for (int i = 0; i < 32; ++i) ramp[size_t(i)] = float(i);
  const std::vector<float> out = {0, 2, 8, 10,  16, 18, 24, 26,   // (0,0): c = 0, 1
                                  1, 3, 9, 11,  17, 19, 25, 27,   // (0,1)
                                  4, 6, 12, 14, 20, 22, 28, 30,   // (1,0)
                                  5, 7, 13, 15, 21, 23, 29, 31};  // (1,1)
  // dy = y sends every value home: backward is the inverse permutation.
  LayerCase known{.type = "reorg", .in = {{1, 2, 4, 4}}, .mode = Mode::infer, .gradient = false, .accumulate = false};
  known.known = std::make_shared<KnownValues>(KnownValues{{1, 8, 2, 2}, {ramp}, out, out, {ramp}});
  cases.push_back(known);
  cases.push_back({.type = "reorg", .in = {{2, 3, 4, 6}}, .parity = false});
  add_parity(cases, "reorg", {{1, 1, 8, 10}, {3, 32, 16, 16}, {1, 1024, 4, 6}, {3, 64, 34, 30}});
  return cases;
}

std::vector<LayerCase> concat_cases() {
  std::vector<LayerCase> cases;
  // Two images, so the per-image interleaving shows: 1 + 2 + 3 channels of 1x2.
  LayerCase known{.type = "concat", .in = {{2, 1, 1, 2}, {2, 2, 1, 2}, {2, 3, 1, 2}}, .mode = Mode::infer, .gradient = false,
                  .accumulate = false};
  known.known = std::make_shared<KnownValues>(
      KnownValues{{2, 6, 1, 2},
                  {{0, 1, 2, 3}, {10, 11, 12, 13, 14, 15, 16, 17}, {20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}},
                  {0, 1, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25,    // image 0
                   2, 3, 14, 15, 16, 17, 26, 27, 28, 29, 30, 31}});  // image 1
  cases.push_back(known);
  cases.push_back({.type = "concat", .in = {{2, 1, 3, 5}, {2, 4, 3, 5}, {2, 2, 3, 5}}, .parity = false});
  cases.push_back({.type = "concat", .in = {{2, 3, 2, 2}}, .accumulate = false, .parity = false});  // a copy
  // Three inputs with different channel counts.
  for (Shape s : {Shape{1, 1, 8, 10}, Shape{3, 32, 16, 16}, Shape{1, 1024, 4, 6}, Shape{3, 64, 33, 31}})
    cases.push_back({.type = "concat", .in = {s, {s.n, 1, s.h, s.w}, {s.n, 2 * s.c + 1, s.h, s.w}}, .gradient = false,
                     .accumulate = false});
  return cases;
}

}  // namespace

std::unique_ptr<Layer> LayerCase::make() const {
  LayerArgs args{type + "_case", {}, filters, size, bias};
  for (const Shape& s : in) args.in_channels.push_back(s.c);
  std::unique_ptr<Layer> layer = make_layer(type, args);
  // The table checks the host reference; Winograd, the float host path of 3x3 kernels, is checked
  // against it in tests/test_conv.cpp.
  if (auto* conv = dynamic_cast<Conv2D*>(layer.get())) conv->use(Conv2D::HostAlgorithm::reference);
  return layer;
}

std::string LayerCase::name() const {
  std::string n = type;
  // Appended piece by piece: "_to" + std::to_string(...) trips GCC 12's -Wrestrict false positive.
  if (type == "conv") {
    n.append("_to").append(std::to_string(filters)).append("_k").append(std::to_string(size));
    if (bias) n.append("_bias");
  }
  for (const Shape& s : in) n.append("_").append(s.str());
  n += mode == Mode::train ? "_train" : "_infer";
  if (known) n += "_known";
  return n;
}

const std::vector<LayerCase>& layer_cases() {
  static const std::vector<LayerCase> cases = [] {
    std::vector<LayerCase> all;
    for (auto group : {conv_cases, batchnorm_cases, leaky_relu_cases, maxpool_cases, upsample_cases, reorg_cases,
                       concat_cases})
      for (LayerCase& c : group()) all.push_back(std::move(c));
    return all;
  }();
  return cases;
}

}  // namespace cupick::test
