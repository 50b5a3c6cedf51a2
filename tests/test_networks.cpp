#include "nets/network.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/layers/conv.h"
#include "tests/layer_check.h"

namespace cupick {
namespace {

using ::testing::HasSubstr;

const Shape k1024{1, 1, 1024, 1024};

// The message of the Error that `f` throws ("" when it throws none).
// The three networks for one anchor and one class, built once: building one allocates its
// parameters and their gradients (400 MB for YOLO), and most tests only read shapes and names.
Graph& net(const std::string& name) {
  static std::map<std::string, Graph> built;
  auto it = built.find(name);
  if (it == built.end()) it = built.emplace(name, build_network(name)).first;
  return it->second;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Network, NamesAreCryolosSpelling) {
  std::vector<std::string> names = network_names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"PhosaurusNet", "YOLO", "crYOLO", "cupick-cpu-demo"}));
  EXPECT_EQ(embedded_networks().size(), 4u);
}

TEST(Network, OutputGridAt1024) {
  const std::vector<std::pair<std::string, int>> grids = {{"crYOLO", 64}, {"YOLO", 32}, {"PhosaurusNet", 64}};
  for (const auto& [name, grid] : grids) {
    EXPECT_EQ(net(name).shapes(k1024).back(), (Shape{1, 6, grid, grid})) << name;
    EXPECT_EQ(build_network(name, 1, 3, 2).shapes(k1024).back(), (Shape{1, 21, grid, grid})) << name;
  }
}

TEST(Network, OtherSizesAndBatches) {
  EXPECT_EQ(net("YOLO").shapes({1, 1, 768, 768}).back(), (Shape{1, 6, 24, 24}));
  const Shape wide{4, 1, 512, 768};
  EXPECT_EQ(net("crYOLO").shapes(wide).back(), (Shape{4, 6, 32, 48}));
  EXPECT_EQ(net("YOLO").shapes(wide).back(), (Shape{4, 6, 16, 24}));
  EXPECT_EQ(net("PhosaurusNet").shapes(wide).back(), (Shape{4, 6, 32, 48}));
  EXPECT_EQ(net("PhosaurusNet").shapes({2, 1, 32, 96}).back(), (Shape{2, 6, 2, 6}));
}

TEST(Network, ArchitectureNamesAreCaseInsensitive) {
  EXPECT_EQ(build_network("phosaurusnet").size(), net("PhosaurusNet").size());
  EXPECT_EQ(build_network("CRYOLO").size(), net("crYOLO").size());
}

TEST(Network, KerasLayerNamesAndConcatOrder) {
  Graph &phos = net("PhosaurusNet"), &yolo = net("YOLO"), &cryolo = net("crYOLO");
  Graph rgb = build_network("crYOLO", 3, 1, 1);
  EXPECT_EQ(phos.layer(0).name(), "conv_1_depth1");
  EXPECT_EQ(rgb.layer(0).name(), "conv_1");
  for (const char* name : {"norm_1", "leaky_1", "pool_5", "conv_21_", "norm_21_", "leaky_21_", "conv_22", "norm_22"})
    EXPECT_NE(phos.find(name), nullptr) << name;
  for (const char* name : {"conv_21", "norm_21", "leaky_21", "reorg", "conv_22"}) EXPECT_NE(yolo.find(name), nullptr) << name;
  EXPECT_EQ(phos.find("conv_21"), nullptr);
  EXPECT_EQ(cryolo.find("pool_5"), nullptr);  // crYOLO stays at stride 16
  auto inputs_of = [](Graph& g, const std::string& name) {
    for (size_t i = 0; i < g.size(); ++i)
      if (g.layer(i).name() == name) return g.inputs(i);
    return std::vector<std::string>{};
  };
  // Passthrough first: imported weights of conv_22 depend on it.
  EXPECT_EQ(inputs_of(phos, "concat"), (std::vector<std::string>{"leaky_21_", "upsample"}));
  EXPECT_EQ(inputs_of(yolo, "concat"), (std::vector<std::string>{"reorg", "leaky_20"}));
  EXPECT_EQ(inputs_of(phos, "conv_21_"), (std::vector<std::string>{"leaky_13"}));
  // The head: a 1x1 conv with bias, the graph's output, no batchnorm after it.
  for (Graph* g : {&phos, &yolo, &cryolo}) {
    auto& head = dynamic_cast<Conv2D&>(g->layer(g->size() - 1));
    EXPECT_EQ(head.name(), "conv_23");
    EXPECT_TRUE(head.has_bias());
    EXPECT_EQ(head.kernel_size(), 1);
  }
}

TEST(Network, ParameterCountsAndFlopsMatchSpec) {
  struct Want {
    const char* name;
    size_t params, trainable;
    double gflop;
  };
  for (const Want& w : {Want{"crYOLO", 14588326, 14576998, 163.9}, Want{"YOLO", 50553510, 50532838, 176.4},
                        Want{"PhosaurusNet", 50652582, 50631526, 249.8}}) {
    Graph& g = net(w.name);
    const NetworkSize s = network_size(g, k1024);
    EXPECT_EQ(s.params, w.params) << w.name;
    EXPECT_EQ(s.trainable, w.trainable) << w.name;
    EXPECT_NEAR(s.gflop, w.gflop, 0.05) << w.name;
    // The parameter count does not depend on the input; the work scales with the batch.
    EXPECT_EQ(network_size(g, {1, 1, 512, 768}).params, w.params) << w.name;
    EXPECT_NEAR(network_size(g, {2, 1, 1024, 1024}).gflop, 2 * s.gflop, 1e-9) << w.name;
  }
}

TEST(Network, SummaryTable) {
  const std::string s = summary(net("PhosaurusNet"), k1024);
  EXPECT_THAT(s, HasSubstr("Total params: 50,652,582\n"));
  EXPECT_THAT(s, HasSubstr("Trainable params: 50,631,526\n"));
  EXPECT_THAT(s, HasSubstr("Non-trainable params: 21,056\n"));
  EXPECT_THAT(s, HasSubstr("249.8 GFLOP"));
  EXPECT_THAT(s, HasSubstr("conv_1_depth1 (conv)"));
  EXPECT_THAT(s, HasSubstr("1x1280x64x64"));    // the concatenation
  EXPECT_THAT(s, HasSubstr("4,718,592"));       // conv_14: 3x3x512x1024
  EXPECT_THAT(s, HasSubstr("leaky_21_, upsample"));
}

TEST(Network, UnknownArchitectureListsTheKnownOnes) {
  const std::string e = error_of([] { build_network("ResNet"); });
  EXPECT_THAT(e, HasSubstr("'ResNet'"));
  for (const char* name : {"crYOLO", "YOLO", "PhosaurusNet"}) EXPECT_THAT(e, HasSubstr(name));
  EXPECT_THAT(error_of([] { build_network("/nonexistent/net.json"); }), HasSubstr("/nonexistent/net.json"));
  EXPECT_THAT(error_of([] { build_network("YOLO", 1, 0, 1); }), HasSubstr("anchors"));
}

TEST(Network, InputMustBeAMultipleOf32) {
  EXPECT_NO_THROW(check_input_size({1, 1, 512, 768}));
  for (Shape bad : {Shape{1, 1, 1000, 1024}, Shape{1, 1, 1024, 1016}, Shape{1, 1, 16, 32}, Shape{0, 1, 64, 64}})
    EXPECT_THAT(error_of([&] { check_input_size(bad); }), HasSubstr("multiples of 32")) << bad;
  Graph& g = net("crYOLO");
  EXPECT_THAT(error_of([&] { initialize(g, {1, 1, 1000, 1000}, 1); }), HasSubstr("1x1x1000x1000"));
  EXPECT_THAT(error_of([&] { summary(g, {1, 1, 100, 96}); }), HasSubstr("multiples of 32"));
}

std::vector<std::vector<float>> all_values(Graph& g) {
  std::vector<std::vector<float>> v;
  for (const NamedParam& p : g.params()) v.push_back(p.param->value.values<float>());
  return v;
}

TEST(Network, InitialisationIsRepeatable) {
  Graph a = build_network("crYOLO"), b = build_network("crYOLO");
  const Shape in{1, 1, 64, 64};
  initialize(a, in, 7);
  initialize(b, in, 7);
  const auto va = all_values(a);
  EXPECT_EQ(va, all_values(b));
  initialize(b, in, 8);
  const auto vb = all_values(b);
  const std::vector<NamedParam> names = a.params();
  for (size_t i = 0; i < va.size(); ++i) {
    const bool random = names[i].name.ends_with("/kernel") || names[i].name == "conv_23/bias";
    EXPECT_EQ(va[i] != vb[i], random) << names[i].name;
  }
  // A known value pins the generator itself (std::mt19937's sequence is standard; our maths is ours).
  const float limit = std::sqrt(6.0f / (9 + 9 * 32));
  EXPECT_NEAR(va[0][0], limit * (2 * (327741615.0 + 0.5) / 4294967296.0 - 1), 1e-7);
}

TEST(Network, InitialisationStatistics) {
  Graph g = build_network("YOLO");
  const Shape in{1, 1, 256, 192};  // grid 8 x 6
  initialize(g, in, 3);
  for (const NamedParam& p : g.params()) {
    const std::vector<float> v = p.param->value.values<float>();
    const std::string& n = p.name;
    double sum = 0, sq = 0, peak = 0;
    for (float x : v) sum += x, sq += double(x) * x, peak = std::max(peak, double(std::abs(x)));
    const double mean = sum / v.size(), sd = std::sqrt(sq / v.size() - mean * mean);
    if (n.starts_with("norm")) {
      const float want = n.ends_with("/gamma") || n.ends_with("/moving_variance") ? 1.0f : 0.0f;
      EXPECT_EQ(v, std::vector<float>(v.size(), want)) << n;
    } else if (n.starts_with("conv_23")) {
      // N(0, 1) / (8 * 6): 6150 values
      EXPECT_NEAR(mean * 48, 0, n.ends_with("bias") ? 2.0 : 0.05) << n;
      if (n.ends_with("kernel")) {
        EXPECT_NEAR(sd * 48, 1, 0.05) << n;
      }
    } else {
      auto& conv = dynamic_cast<Conv2D&>(*g.find(n.substr(0, n.find('/'))));
      const int k2 = conv.kernel_size() * conv.kernel_size();
      const double limit = std::sqrt(6.0 / (k2 * (conv.in_channels() + conv.out_channels())));
      EXPECT_LE(peak, limit) << n;
      EXPECT_GT(peak, 0.99 * limit) << n;
      EXPECT_NEAR(sd, limit / std::sqrt(3.0), 0.05 * limit) << n;  // uniform's standard deviation
      EXPECT_NEAR(mean, 0, 0.05 * limit) << n;
    }
  }
}

TEST(Network, PhosaurusNetForwardOnCpu) {
  Context cpu;
  Graph g = build_network("PhosaurusNet");
  const Tensor x = test::random_tensor({2, 1, 64, 64}, DType::f32, 11);
  initialize(g, x.shape(), 5);
  for (Mode mode : {Mode::train, Mode::infer}) {
    const Tensor& y = g.forward(cpu, x, mode);
    ASSERT_EQ(y.shape(), (Shape{2, 6, 4, 4}));
    const std::vector<float> v = y.values<float>();
    double peak = 0;
    for (float f : v) {
      ASSERT_TRUE(std::isfinite(f));
      peak = std::max(peak, double(std::abs(f)));
    }
    EXPECT_GT(peak, 0) << (mode == Mode::train ? "train" : "infer");
  }
}

// The host's fast inference (Winograd for the deep 3x3 layers, batchnorm and leaky ReLU folded into
// the convolutions) gives each network's output as the double reference does, with moving
// statistics away from Keras's initial 0 and 1 so that the folded batchnorms do something. Measured
// (2026-12-04): at most 1.8e-6 of the largest output apart; the bound is 2e-5.
TEST(Network, FastHostInferenceMatchesTheDoubleReference) {
  Context cpu;
  for (const char* arch : {"PhosaurusNet", "YOLO", "crYOLO"}) {
    Graph g = build_network(arch);
    const Tensor x = test::random_tensor({2, 1, 64, 64}, DType::f32, 3);
    initialize(g, x.shape(), 7);
    unsigned seed = 40;
    for (const NamedParam& p : g.params())
      if (p.name.ends_with("moving_mean") || p.name.ends_with("moving_variance") || p.name.ends_with("gamma") ||
          p.name.ends_with("beta")) {
        const bool positive = !p.name.ends_with("moving_mean") && !p.name.ends_with("beta");
        p.param->value.copy_from(test::random_tensor(p.param->value.shape(), DType::f32, seed++,
                                                     positive ? 0.5 : -0.2, positive ? 1.5 : 0.2));
      }
    const std::vector<float> got = g.forward(cpu, x, Mode::infer).values<float>();
    EXPECT_GT(g.folds(), 0u) << arch;
    g.to(Device::cpu, DType::f64);
    const std::vector<double> want = g.forward(cpu, x.to(DType::f64), Mode::infer).values<double>();
    test::expect_close(std::vector<double>(got.begin(), got.end()), want, 0, 2e-5, arch);
  }
}

// Same seed on the GPU as on the host; the network's forward agrees between them.
TEST(Network, GpuInitialisationAndForwardMatchCpu) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  Graph a = build_network("PhosaurusNet"), b = build_network("PhosaurusNet");
  b.to(Device::gpu);
  const Tensor x = test::random_tensor({2, 1, 64, 96}, DType::f32, 12);
  initialize(a, x.shape(), 9);
  initialize(b, x.shape(), 9);
  EXPECT_EQ(all_values(a), all_values(b));
  auto as_double = [](const Tensor& t) {
    const std::vector<float> f = t.values<float>();
    return std::vector<double>(f.begin(), f.end());
  };
  const Tensor xg = x.to(Device::gpu);
  test::expect_close(as_double(b.forward(*gpu, xg, Mode::train)), as_double(a.forward(cpu, x, Mode::train)), 1e-3,
                     1e-3, "PhosaurusNet output");
}

// A small description with every block type, from text and from a user's file.
const char* kTiny = R"({
  "name": "tiny",
  "layers": [
    {"type": "conv", "name": "conv_1", "filters": 4, "size": 3, "norm": "norm_1", "leaky": "leaky_1"},
    {"type": "maxpool", "name": "pool_1"},
    {"type": "conv", "name": "conv_2", "filters": 8, "size": 3, "norm": "norm_2", "leaky": "leaky_2"},
    {"type": "reorg", "name": "reorg", "input": "leaky_1"},
    {"type": "upsample", "name": "up", "input": "leaky_2"},
    {"type": "maxpool", "name": "pool_2", "input": "up"},
    {"type": "concat", "name": "concat", "input": ["reorg", "pool_2"]},
    {"type": "conv", "name": "conv_23", "filters": "head", "size": 1, "bias": true}
  ]
})";

TEST(Network, UserDescriptionFromFile) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("cupick_tiny_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".json"))
                               .string();
  std::ofstream(path) << kTiny;
  Graph g = build_network(path, 3, 2, 1);
  std::remove(path.c_str());
  EXPECT_EQ(g.layer(0).name(), "conv_1");  // three input channels: no "_depth1"
  EXPECT_EQ(g.shapes({2, 3, 64, 32}).back(), (Shape{2, 12, 32, 16}));
  EXPECT_EQ(network_size(g, {1, 3, 32, 32}).params,
            size_t(3 * 4 * 9 + 4 * 8 * 9 + (16 + 8) * 12 + 12 + 4 * (4 + 8)));
}

TEST(Network, BadDescriptionsNameFileBlockAndKey) {
  auto error = [](std::string text) {
    return error_of([&] { build_network_from_text(text, "my.json", 1, 1, 1); });
  };
  auto with = [](const std::string& block) {
    return R"({"name": "x", "layers": [{"type": "conv", "name": "conv_1", "filters": 4, "size": 3}, )" + block + "]}";
  };
  std::string e = error(with(R"({"type": "conv", "name": "conv_2", "filter": 4, "size": 3})"));
  EXPECT_THAT(e, HasSubstr("my.json: layers[1] 'conv_2': unknown key 'filter'"));
  EXPECT_THAT(e, HasSubstr("allowed: type, name, input, filters"));
  e = error(with(R"({"type": "conv", "name": "conv_2", "filters": "tail", "size": 3})"));
  EXPECT_THAT(e, HasSubstr("layers[1] 'conv_2': key 'filters'"));
  EXPECT_THAT(e, HasSubstr("\"head\""));
  EXPECT_THAT(error(with(R"({"type": "conv", "name": "conv_2", "filters": 4})")),
              HasSubstr("layers[1] 'conv_2': key 'size': missing"));
  EXPECT_THAT(error(with(R"({"type": "conv", "name": "conv_2", "filters": 4, "size": 2})")),
              HasSubstr("my.json: layers[1] 'conv_2': conv_2 (conv): kernel size 2 is even"));
  EXPECT_THAT(error(with(R"({"type": "conv", "name": "conv_2", "filters": -4, "size": 3})")),
              HasSubstr("key 'filters': expected a positive integer"));
  e = error(with(R"({"type": "dense", "name": "fc"})"));
  EXPECT_THAT(e, HasSubstr("layers[1] 'fc': key 'type': unknown type 'dense'"));
  EXPECT_THAT(e, HasSubstr("conv, maxpool, upsample, reorg, concat"));
  EXPECT_THAT(error(with(R"({"type": "maxpool", "name": "pool", "input": "conv_9"})")),
              HasSubstr("layers[1] 'pool': key 'input': 'conv_9' is neither"));
  EXPECT_THAT(error(with(R"({"type": "maxpool", "name": "conv_1_depth1"})")),
              HasSubstr("layers[1] 'conv_1_depth1': graph node 2 'conv_1_depth1': duplicate node name"));
  EXPECT_THAT(error(with(R"({"type": "concat", "name": "c", "input": []})")), HasSubstr("layers[1] 'c': key 'input'"));
  EXPECT_THAT(error(with(R"({"type": "maxpool"})")), HasSubstr("my.json: layers[1]: key 'name': missing"));
  EXPECT_THAT(error(with("7")), HasSubstr("my.json: layers[1]: expected an object"));
  EXPECT_THAT(error(R"({"name": "x", "layers": []})"), HasSubstr("my.json: key 'layers'"));
  EXPECT_THAT(error(R"({"name": "x", "blocks": []})"), HasSubstr("my.json: unknown key 'blocks'"));
  EXPECT_THAT(error(R"({"name": "x", "layers": [)"), HasSubstr("my.json: not valid JSON"));
}

}  // namespace
}  // namespace cupick
