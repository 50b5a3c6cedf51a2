#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "io/weights.h"
#include "nets/network.h"
#include "tests/layer_check.h"
#include "train/decode.h"
#include "train/trainer.h"

namespace cupick {
namespace {

// A network small enough to train in seconds on one core: four poolings to stride 16, then a head.
const char* kTinyNet = R"({"name": "tiny", "layers": [
  {"type": "conv", "name": "conv_1", "filters": 8, "size": 3, "norm": "norm_1", "leaky": "leaky_1"},
  {"type": "maxpool", "name": "pool_1"},
  {"type": "conv", "name": "conv_2", "filters": 16, "size": 3, "norm": "norm_2", "leaky": "leaky_2"},
  {"type": "maxpool", "name": "pool_2"},
  {"type": "conv", "name": "conv_3", "filters": 32, "size": 3, "norm": "norm_3", "leaky": "leaky_3"},
  {"type": "maxpool", "name": "pool_3"},
  {"type": "conv", "name": "conv_4", "filters": 32, "size": 3, "norm": "norm_4", "leaky": "leaky_4"},
  {"type": "maxpool", "name": "pool_4"},
  {"type": "conv", "name": "conv_22", "filters": 64, "size": 3, "norm": "norm_22", "leaky": "leaky_22"},
  {"type": "conv", "name": "conv_23", "filters": "head", "size": 1, "bias": true}
]})";

constexpr int kSize = 128;      // micrograph side, pixels: an 8 x 8 grid
constexpr float kBox = 16;      // particle box, pixels

// Micrographs with bright round particles at random, non-overlapping places, plus noise; normalised
// as crYOLO does ((x - mean) / (6 sd)).
std::vector<Example> particles(int count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pos(kBox / 2 + 2, kSize - kBox / 2 - 2);
  std::normal_distribution<float> noise(0, 0.3f);
  std::vector<Example> out;
  for (int m = 0; m < count; ++m) {
    Example e{"mic_" + std::to_string(m), Tensor({1, 1, kSize, kSize}), {}};
    while (e.boxes.size() < 6) {
      Box b{pos(rng), pos(rng), kBox, kBox, 1};
      bool apart = true;
      for (const Box& o : e.boxes) apart = apart && std::hypot(o.x - b.x, o.y - b.y) > kBox * 1.2f;
      if (apart) e.boxes.push_back(b);
    }
    float* px = e.image.data<float>();
    double sum = 0, sum2 = 0;
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        float v = noise(rng);
        for (const Box& b : e.boxes) v += std::exp(-((x - b.x) * (x - b.x) + (y - b.y) * (y - b.y)) / (2 * 4.f * 4.f));
        px[y * kSize + x] = v;
        sum += v, sum2 += double(v) * v;
      }
    const double mean = sum / (kSize * kSize), sd = std::sqrt(sum2 / (kSize * kSize) - mean * mean);
    for (int i = 0; i < kSize * kSize; ++i) px[i] = float((px[i] - mean) / (6 * sd + 1e-6));
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Example> copies(const std::vector<Example>& v) {
  std::vector<Example> out;
  for (const Example& e : v) out.push_back(e.copy());
  return out;
}

TrainOptions tiny_options() {
  TrainOptions opt;
  opt.anchors = {{kBox, kBox}};
  opt.batch_size = 4;
  opt.train_times = 8;
  opt.epochs = 20;
  opt.warmup_epochs = 1;
  opt.learning_rate = 3e-3f;
  opt.lr_patience = opt.stop_patience = 1000;  // the validation set is the training set here
  opt.progress = std::getenv("CUPICK_TEST_PROGRESS") != nullptr;
  opt.seed = 7;
  return opt;
}

Graph tiny_net(unsigned seed) {
  Graph g = build_network_from_text(kTinyNet, "tiny.json", 1, 1, 1);
  g.to(Device::cpu);
  initialize(g, {1, 1, kSize, kSize}, seed);
  return g;
}

double valid_loss(Graph& g, const TrainOptions& opt, const std::vector<Example>& set) {
  Context cpu;
  const float cell = 16;
  YoloLoss loss({{{opt.anchors[0].first / cell, opt.anchors[0].second / cell}}, 1, opt.object_scale,
                 opt.no_object_scale, opt.coord_scale, opt.class_scale});
  double total = 0;
  for (const Example& e : set) {
    std::vector<TruthBox> t;
    for (const Box& b : e.boxes) t.push_back({b.x / cell, b.y / cell, b.w / cell, b.h / cell, 0});
    Tensor dhead;
    total += loss.compute(cpu, g.forward(cpu, e.image, Mode::infer), {t}, false, dhead).total;
  }
  return total / set.size();
}

TEST(Training, LearnsToFindParticles) {
  Context cpu;
  const std::vector<Example> train_set = particles(8, 1);
  Graph g = tiny_net(3);
  const TrainOptions opt = tiny_options();
  const double before = valid_loss(g, opt, train_set);
  const TrainResult r = train(g, cpu, opt, train_set, copies(train_set));
  ASSERT_FALSE(r.history.empty());
  const double after = valid_loss(g, opt, train_set);
  EXPECT_LT(after * 10, before) << "loss " << before << " -> " << after;

  // The trained network finds the particles it was shown.
  int found = 0, picked = 0, truth = 0;
  for (const Example& e : train_set) {
    std::vector<Box> boxes =
        non_max_suppression(decode_head(g.forward(cpu, e.image, Mode::infer), 0, {{kBox / 16, kBox / 16}}, 1, kSize, kSize, 0.3f), 0.3f);
    picked += int(boxes.size());
    truth += int(e.boxes.size());
    for (const Box& t : e.boxes) {
      bool hit = false;
      for (const Box& b : boxes) hit = hit || iou(b, t) > 0.5f;
      found += hit;
    }
  }
  EXPECT_GE(found, truth * 9 / 10) << found << " of " << truth << " particles found";
  EXPECT_LE(picked, truth * 12 / 10) << picked << " picks for " << truth << " particles";
}

TEST(Training, SameSeedSameLossCurve) {
  Context cpu;
  const std::vector<Example> set = particles(4, 2);
  TrainOptions opt = tiny_options();
  opt.epochs = 2;
  Graph a = tiny_net(5), b = tiny_net(5);
  const TrainResult ra = train(a, cpu, opt, set, copies(set));
  const TrainResult rb = train(b, cpu, opt, set, copies(set));
  ASSERT_EQ(ra.history.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(ra.history[i].train_loss, rb.history[i].train_loss);
    EXPECT_EQ(ra.history[i].valid_loss, rb.history[i].valid_loss);
  }
}

TEST(Training, FineTuneTrainsOnlyTheLastTwoConvolutions) {
  Context cpu;
  const std::vector<Example> set = particles(4, 3);
  TrainOptions opt = tiny_options();
  opt.epochs = 1;
  opt.fine_tune = true;
  Graph g = tiny_net(6);
  std::vector<std::vector<float>> before;
  for (const NamedParam& p : g.params()) before.push_back(p.param->value.values<float>());
  train(g, cpu, opt, set, copies(set));
  const std::vector<NamedParam> after = g.params();
  for (size_t i = 0; i < after.size(); ++i) {
    const bool changed = after[i].param->value.values<float>() != before[i];
    const bool trained = after[i].name.rfind("conv_22/", 0) == 0 || after[i].name.rfind("conv_23/", 0) == 0;
    EXPECT_EQ(changed, trained) << after[i].name;  // norm_22 stays frozen, statistics included
  }
}

TEST(Training, InterruptKeepsTheBestWeights) {
  Context cpu;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "cupick_test_training";
  std::filesystem::remove_all(dir);
  const std::vector<Example> set = particles(4, 4);
  TrainOptions opt = tiny_options();
  opt.epochs = 5;
  opt.weights_path = (dir / "model.safetensors").string();
  opt.log_path = (dir / "logs").string();
  std::filesystem::create_directories(dir);
  Graph g = tiny_net(8);
  // The augmentation runs once per example of a batch: stop in the middle of the third epoch.
  const int per_epoch = (int(set.size()) * opt.train_times + opt.batch_size - 1) / opt.batch_size * opt.batch_size;
  int examples = 0;
  const TrainResult r = train(g, cpu, opt, set, copies(set), [&](Example&, std::mt19937&) {
    if (++examples == 2 * per_epoch + 5) request_stop();
  });
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.history.size(), 2u);
  ASSERT_TRUE(std::filesystem::exists(opt.weights_path));
  EXPECT_FALSE(std::filesystem::exists(opt.weights_path + ".tmp"));
  EXPECT_EQ(read_metadata(opt.weights_path).at("epoch"), std::to_string(r.best_epoch));
  EXPECT_TRUE(std::filesystem::exists(dir / "logs" / "training.csv"));
  Graph reloaded = tiny_net(99);
  load_weights(opt.weights_path, reloaded.params());
  const std::vector<float> want = g.forward(cpu, set[0].image, Mode::infer).values<float>();
  EXPECT_EQ(reloaded.forward(cpu, set[0].image, Mode::infer).values<float>(), want);
  std::filesystem::remove_all(dir);
}

// A whole network's forward, loss and backward agree on the CPU and the GPU (skips without a GPU).
TEST(Training, NetworksCpuMatchGpu) {
  auto gpu = Context::try_gpu();
  if (!gpu) GTEST_SKIP() << "no GPU on this machine";
  Context cpu;
  const std::vector<Example> set = particles(2, 6);
  for (const char* arch : {"PhosaurusNet", "YOLO", "crYOLO"}) {
    Graph a = build_network(arch, 1, 1, 1), b = build_network(arch, 1, 1, 1);
    a.to(Device::cpu);
    initialize(a, {2, 1, kSize, kSize}, 4);
    b.to(Device::gpu);
    for (size_t i = 0; i < a.params().size(); ++i) b.params()[i].param->value.copy_from(a.params()[i].param->value);
    Tensor x({2, 1, kSize, kSize});
    std::copy_n(set[0].image.data<float>(), kSize * kSize, x.data<float>());
    std::copy_n(set[1].image.data<float>(), kSize * kSize, x.data<float>() + kSize * kSize);
    const Tensor xg = x.to(Device::gpu);
    const Shape head = a.shapes(x.shape()).back();
    const float cell = float(kSize) / head.w;
    std::vector<std::vector<TruthBox>> truth(2);
    for (int k = 0; k < 2; ++k)
      for (const Box& bx : set[k].boxes) truth[k].push_back({bx.x / cell, bx.y / cell, bx.w / cell, bx.h / cell, 0});
    YoloLoss la({{{kBox / cell, kBox / cell}}, 1, 5, 1, 1, 1}), lb({{{kBox / cell, kBox / cell}}, 1, 5, 1, 1, 1});
    Tensor da, db;
    const double loss_a = la.compute(cpu, a.forward(cpu, x, Mode::train), truth, false, da).total;
    const double loss_b = lb.compute(*gpu, b.forward(*gpu, xg, Mode::train), truth, false, db).total;
    EXPECT_NEAR(loss_b, loss_a, 1e-3 * std::abs(loss_a)) << arch;
    a.backward(cpu, da);
    b.backward(*gpu, db);
    for (size_t i = 0; i < a.params().size(); ++i) {
      const NamedParam pa = a.params()[i], pb = b.params()[i];
      if (!pa.param->trainable) continue;
      const std::vector<float> ga = pa.param->grad.values<float>(), gb = pb.param->grad.values<float>();
      test::expect_close(std::vector<double>(gb.begin(), gb.end()), std::vector<double>(ga.begin(), ga.end()), 1e-2,
                         1e-3, std::string(arch) + " " + pa.name);
    }
  }
}

TEST(Training, SplitValidationKeepsBothKinds) {
  std::vector<Example> train_set = particles(10, 5), valid;
  for (int i = 0; i < 5; ++i) train_set.push_back({"empty_" + std::to_string(i), Tensor({1, 1, 4, 4}), {}});
  split_validation(train_set, valid, 10);
  EXPECT_EQ(valid.size(), 3u);  // 2 of 10 with particles, 1 of 5 without
  EXPECT_EQ(train_set.size(), 12u);
  int empty = 0;
  for (const Example& e : valid) empty += e.boxes.empty();
  EXPECT_EQ(empty, 1);
}

}  // namespace
}  // namespace cupick
