#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "image/network_input.h"
#include "io/annotations.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "io/weights.h"
#include "nets/network.h"
#include "pick/decode.h"
#include "pick/pipeline.h"
#include "tests/layer_check.h"
#include "tests/temp_dir.h"
#include "train/examples.h"
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
  YoloLoss loss({{{opt.anchors[0].first / cell, opt.anchors[0].second / cell}}, 1, opt.loss_scales});
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

// One micrograph gives 2 steps an epoch; on crops of half its side it gives 8, and learns.
TEST(Training, OneMicrographTrainsOnCrops) {
  Context cpu;
  const std::vector<Example> train_set = particles(1, 4);
  Graph g = tiny_net(3);
  TrainOptions opt = tiny_options();
  opt.min_crop_side = 64;
  ASSERT_EQ(training_crops(opt, 1, train_set[0].image.shape()), 2);
  const double before = valid_loss(g, opt, train_set);
  const TrainResult r = train(g, cpu, opt, train_set, copies(train_set));
  ASSERT_EQ(r.history.size(), size_t(opt.epochs));
  const double after = valid_loss(g, opt, train_set);
  EXPECT_LT(after * 5, before) << "loss " << before << " -> " << after;
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

// Without a weights file the graph still ends on the kept weights: interrupted in the middle of the
// third epoch, on those of the second (the best, the first after the warm-up), as a two-epoch run.
TEST(Training, EndsOnTheKeptWeightsWithoutAFile) {
  Context cpu;
  const std::vector<Example> set = particles(4, 4);
  TrainOptions opt = tiny_options();
  opt.epochs = 2;
  int examples = 0;
  Graph two = tiny_net(8);
  train(two, cpu, opt, set, copies(set), [&](Example&, std::mt19937&) { ++examples; });
  const int per_epoch = examples / 2;
  opt.epochs = 5;
  examples = 0;
  Graph stopped = tiny_net(8);
  const TrainResult r = train(stopped, cpu, opt, set, copies(set), [&](Example&, std::mt19937&) {
    if (++examples == 2 * per_epoch + 5) request_stop();
  });
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.best_epoch, 2);
  EXPECT_EQ(stopped.forward(cpu, set[0].image, Mode::infer).values<float>(),
            two.forward(cpu, set[0].image, Mode::infer).values<float>());
}

// Stopped within the warm-up, training keeps and writes its last whole epoch, not the weights it
// had in the middle of the next one.
TEST(Training, InterruptInWarmUpKeepsTheLastWholeEpoch) {
  Context cpu;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "cupick_test_warmup_stop";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<Example> set = particles(4, 9);
  TrainOptions opt = tiny_options();
  opt.warmup_epochs = 5;
  opt.epochs = 1;
  int examples = 0;
  Graph one = tiny_net(2);
  train(one, cpu, opt, set, copies(set), [&](Example&, std::mt19937&) { ++examples; });
  const int per_epoch = examples;
  opt.epochs = 5;
  opt.weights_path = (dir / "model.safetensors").string();
  examples = 0;
  Graph stopped = tiny_net(2);
  const TrainResult r = train(stopped, cpu, opt, set, copies(set), [&](Example&, std::mt19937&) {
    if (++examples == per_epoch + 5) request_stop();
  });
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.best_epoch, 1);
  EXPECT_EQ(read_metadata(opt.weights_path).at("epoch"), "1");
  Graph reloaded = tiny_net(99);
  load_weights(opt.weights_path, reloaded.params());
  const std::vector<float> want = one.forward(cpu, set[0].image, Mode::infer).values<float>();
  EXPECT_EQ(stopped.forward(cpu, set[0].image, Mode::infer).values<float>(), want);
  EXPECT_EQ(reloaded.forward(cpu, set[0].image, Mode::infer).values<float>(), want);
  std::filesystem::remove_all(dir);
}

// A stop asked for before training starts (Ctrl-C while the data loads) ends it at once, and is
// cleared for the next run.
TEST(Training, StopAskedBeforeTheStartEndsItAtOnce) {
  Context cpu;
  const std::vector<Example> set = particles(4, 10);
  TrainOptions opt = tiny_options();
  opt.epochs = 1;
  Graph g = tiny_net(3);
  request_stop();
  TrainResult r = train(g, cpu, opt, set, copies(set));
  EXPECT_TRUE(r.interrupted);
  EXPECT_TRUE(r.history.empty());
  r = train(g, cpu, opt, set, copies(set));
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(r.history.size(), 1u);
}

// As Keras's EarlyStopping and ReduceLROnPlateau: patience counts from the last improvement of at
// least min_delta below the loss that last reset it. A loss falling by 0.0006 an epoch improves by
// more than 0.001 every second epoch and trains on; tiny steps from a fixed loss run out of patience.
TEST(Training, PlateauCountsFromTheLastRealImprovement) {
  Plateau slow(6, 10, 0.001);
  for (int epoch = 0; epoch < 40; ++epoch) {
    const Plateau::Decision d = slow.update(1.0 - 0.0006 * epoch);
    EXPECT_TRUE(d.best) << epoch;
    EXPECT_FALSE(d.drop_lr) << epoch;
    EXPECT_FALSE(d.stop) << epoch;
  }
  Plateau flat(3, 5, 0.001);
  EXPECT_TRUE(flat.update(1.0).best);
  std::vector<bool> best, drop, stop;
  for (int epoch = 1; epoch <= 5; ++epoch) {
    const Plateau::Decision d = flat.update(1.0 - 0.0001 * epoch);
    best.push_back(d.best), drop.push_back(d.drop_lr), stop.push_back(d.stop);
  }
  EXPECT_EQ(best, (std::vector<bool>{true, true, true, true, true}));  // the weights follow any drop
  EXPECT_EQ(drop, (std::vector<bool>{false, false, true, false, false}));
  EXPECT_EQ(stop, (std::vector<bool>{false, false, false, false, true}));
  Plateau worse(2, 3, 0.001);
  worse.update(1.0);
  EXPECT_FALSE(worse.update(1.5).best);
  EXPECT_FALSE(worse.update(std::nan("")).best);  // a NaN loss is no improvement
  EXPECT_TRUE(worse.update(0.9).best);
}

// A whole network's forward, loss and backward agree on the CPU and the GPU (skips without a GPU).
TEST(Training, NetworksCpuMatchGpu) {
  auto gpu = Context::try_gpu();
  SKIP_WITHOUT(gpu);
  Context cpu;
  const std::vector<Example> set = particles(2, 6);
  for (const char* arch : {"PhosaurusNet", "YOLO", "crYOLO"}) {
    Graph a = build_network(arch), b = build_network(arch);
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

// ---- Picking ------------------------------------------------------------------------------------

float logit(float p) { return std::log(p / (1 - p)); }

// A micrograph with a bright square on every box (box-file coordinates: centres, y up from the
// bottom), written as MRC, with its box file.
void write_micrograph(const std::string& mrc, const std::string& box, int width, int height,
                      const std::vector<Box>& boxes, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 0.2f);
  Image image(width, height);
  for (float& v : image.pixels) v = noise(rng);
  for (const Box& b : boxes) {
    const float image_y = file_y_to_image_y(b.y, height);
    for (int y = int(image_y - 10); y < int(image_y + 10); ++y)
      for (int x = int(b.x - 10); x < int(b.x + 10); ++x) image.at(x, y) += 3;
  }
  std::filesystem::create_directories(std::filesystem::path(mrc).parent_path());
  write_mrc(mrc, image);
  if (box.empty()) return;
  std::filesystem::create_directories(std::filesystem::path(box).parent_path());
  write_eman_box(box, boxes, 0);
}

// The head a perfect network would give for `boxes` (network pixels of `p`'s image, 160 x 128):
// cells of 16 pixels (8 x 10), one anchor of 48 x 48 micrograph pixels, confidence 0.9 where a box
// is, 0.01 elsewhere.
Tensor perfect_head(const std::vector<Box>& boxes, const Prepared& p) {
  Tensor head({1, 6, 8, 10});
  float* t = head.data<float>();
  const size_t plane = 80;
  for (size_t i = 0; i < plane; ++i) t[4 * plane + i] = logit(0.01f);
  for (const Box& b : boxes) {
    const int cx = int(b.x / 16), cy = int(b.y / 16);
    const size_t i = size_t(cy) * 10 + cx;
    t[i] = logit(b.x / 16 - cx);
    t[plane + i] = logit(b.y / 16 - cy);
    t[2 * plane + i] = std::log(b.w / (48 * p.scale_x));
    t[3 * plane + i] = std::log(b.h / (48 * p.scale_y));
    t[4 * plane + i] = logit(0.9f);
  }
  return head;
}

// Every true box picked once, where it is and with its estimated size, in a 48-pixel box.
void expect_picks_are(const std::vector<Box>& picks, const std::vector<Box>& truth) {
  ASSERT_EQ(picks.size(), truth.size());
  for (const Box& want : truth) {
    const Box* got = nullptr;
    for (const Box& b : picks)
      if (std::hypot(b.x - want.x, b.y - want.y) < 5) got = &b;
    ASSERT_NE(got, nullptr) << "no pick at " << want.x << ", " << want.y;
    EXPECT_NEAR(got->x, want.x, 0.05f);
    EXPECT_NEAR(got->y, want.y, 0.05f);
    EXPECT_NEAR(got->est_w, want.w, 0.05f);
    EXPECT_NEAR(got->est_h, want.h, 0.05f);
    EXPECT_EQ(got->w, 48);
    EXPECT_EQ(got->h, 48);
  }
}

// Micrograph pixels, network pixels and box-file coordinates meet, on a non-square micrograph whose
// sides scale differently (400 x 300 -> 160 x 128): a box file read for training (load_examples)
// lands on its particles in the network's input, and the head a perfect network would give for
// those boxes comes out of picks_from_head as the file's boxes again, in micrograph pixels and
// box-file y, with the configured box size and the estimated one.
TEST(Picking, BoxFileRoundTripsThroughTheNetworkInput) {
  const test::TempDir dir;
  const int width = 400, height = 300;
  const std::vector<Box> truth = {{70, 60, 40, 40, 1}, {210, 150, 36, 44, 1}, {330, 250, 40, 40, 1}};
  write_micrograph(dir / "mic/a.mrc", dir / "box/a.box", width, height, truth, 1);
  ModelConfig model;
  model.input_size = {128, 128, false};
  model.anchors = Anchor{48, 48};
  model.filter.reset();
  std::vector<std::string> warnings;
  const std::vector<Example> examples = load_examples(dir / "mic", dir / "box", model, warnings);
  ASSERT_EQ(examples.size(), 1u);
  EXPECT_TRUE(warnings.empty());
  const Example& e = examples[0];
  ASSERT_EQ(e.image.shape(), (Shape{1, 1, 128, 160}));
  EXPECT_FLOAT_EQ(e.scale_x, 160.f / 400);
  EXPECT_FLOAT_EQ(e.scale_y, 128.f / 300);
  ASSERT_EQ(e.boxes.size(), truth.size());
  for (const Box& b : e.boxes)  // on the particle: well above the background (about 0)
    EXPECT_GT(e.image.data<float>()[int(b.y) * 160 + int(b.x)], 0.2f) << b.x << " " << b.y;

  const Prepared p = prepare_micrograph(dir / "mic/a.mrc", model);
  expect_picks_are(picks_from_head(perfect_head(e.boxes, p), 0, p, {{48.f, 48.f}}, 48, 0.3f, PickOptions{}), truth);
}

// Training data that could mean two things is an error naming both files: two annotation files for
// one micrograph (a.box and a.star, or a.box and a particles.star naming a), two images for one
// key (a.mrc and a.jpg). An empty STAR file, like an empty .box, is a micrograph without particles.
TEST(Training, AmbiguousAnnotationsAreErrorsAndEmptyFilesTeachTheBackground) {
  const test::TempDir dir;
  const std::vector<Box> truth = {{70, 60, 40, 40, 1}};
  write_micrograph(dir / "mic/a.mrc", dir / "box/a.box", 200, 160, truth, 1);
  ModelConfig model;
  model.input_size = {128, 128, false};
  model.anchors = Anchor{40, 40};
  model.filter.reset();
  const auto error_of = [&] {
    std::vector<std::string> warnings;
    try {
      load_examples(dir / "mic", dir / "box", model, warnings);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  write_star(dir / "box/a.star", truth, "a.mrc");
  EXPECT_EQ(error_of(), dir / "box/a.box" + " and " + dir / "box/a.star" + " both annotate micrograph a: keep one of them");
  std::filesystem::remove(dir / "box/a.star");
  write_star_by_micrograph(dir / "box/particles.star", {{"a.mrc", truth}, {"b.mrc", truth}});
  EXPECT_EQ(error_of(), dir / "box/a.box" + " and " + dir / "box/particles.star" + " both annotate micrograph a: keep one of them");
  std::filesystem::remove(dir / "box/particles.star");
  write_jpeg(dir / "mic/a.jpg", Image(200, 160), 90);
  EXPECT_EQ(error_of(), dir / "mic/a.jpg" + " and " + dir / "mic/a.mrc" + " are both micrograph a for its annotations: keep one of them in " +
               dir / "mic");
  std::filesystem::remove(dir / "mic/a.jpg");

  // b has an empty STAR file, c one with a header and no rows: both train as background.
  write_micrograph(dir / "mic/b.mrc", dir / "unused.box", 200, 160, truth, 2);
  write_micrograph(dir / "mic/c.mrc", dir / "unused.box", 200, 160, truth, 3);
  dir.file("box/b.star", "");
  write_star(dir / "box/c.star", {}, "c.mrc");
  std::vector<std::string> warnings;
  const std::vector<Example> examples = load_examples(dir / "mic", dir / "box", model, warnings);
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  ASSERT_EQ(examples.size(), 3u);
  EXPECT_EQ(examples[0].boxes.size(), 1u);
  EXPECT_EQ(examples[1].name, "b");
  EXPECT_TRUE(examples[1].boxes.empty());
  EXPECT_EQ(examples[2].name, "c");
  EXPECT_TRUE(examples[2].boxes.empty());
}

// Resizing keeps the aspect ratio: a thin or tiny image would make a huge or meaningless network
// input, so it is refused naming the file, whole or in patches.
TEST(Picking, ThinAndTinyMicrographsAreRefused) {
  const test::TempDir dir;
  std::filesystem::create_directories(dir.path / "mic");
  write_mrc(dir / "mic/sliver.mrc", Image(2, 4000));
  write_mrc(dir / "mic/thin.mrc", Image(40, 4000));
  write_mrc(dir / "mic/wide.mrc", Image(1000, 240));
  write_mrc(dir / "mic/tiny.mrc", Image(31, 40));
  ModelConfig model;
  model.filter.reset();
  for (int patches : {1, 2}) {
    model.num_patches = patches;
    for (const auto& [name, piece] : std::vector<std::pair<std::string, std::string>>{
             {"sliver.mrc", "2 x 4000 pixels is too small"},
             {"thin.mrc", "40 x 4000 pixels is too thin"},
             {"wide.mrc", "1000 x 240 pixels is too thin"},
             {"tiny.mrc", "31 x 40 pixels is too small"}}) {
      try {
        prepare_patches(dir / ("mic/" + name), model);
        ADD_FAILURE() << name << " was prepared";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(dir / ("mic/" + name) + ": " + piece), std::string::npos)
            << e.what();
      }
    }
  }
  write_mrc(dir / "mic/ok.mrc", Image(128, 32));  // 4 : 1 and 32 pixels: the limits themselves
  EXPECT_EQ(prepare_micrograph(dir / "mic/ok.mrc", model).image.shape(), (Shape{1, 1, 1024, 4096}));
}

// Patch mode: 2 x 2 overlapping patches of a 400 x 300 micrograph. Every box goes to the patches
// that hold its centre, in each patch's own network pixels; a perfect head for every patch, merged,
// gives the file's boxes again, once each (the overlaps' duplicates suppressed).
TEST(Picking, PatchesRoundTripAndMerge) {
  const test::TempDir dir;
  const int width = 400, height = 300;
  const std::vector<Box> truth = {{70, 60, 40, 40, 1}, {210, 150, 36, 44, 1}, {330, 250, 40, 40, 1}};
  write_micrograph(dir / "mic/a.mrc", dir / "box/a.box", width, height, truth, 1);
  ModelConfig model;
  model.input_size = {128, 128, false};
  model.anchors = Anchor{48, 48};
  model.filter.reset();
  model.num_patches = 2;
  model.overlap_patches = 20;
  std::vector<std::string> warnings;
  const std::vector<Example> examples = load_examples(dir / "mic", dir / "box", model, warnings);
  const std::vector<Prepared> patches = prepare_patches(dir / "mic/a.mrc", model);
  ASSERT_EQ(examples.size(), 4u);
  ASSERT_EQ(patches.size(), 4u);
  EXPECT_EQ(examples[1].name, "a");  // patches carry their micrograph's name
  // Tiles: x [0, 240) and [160, 400), y [0, 190) and [110, 300); each 240 x 190 -> 160 x 128.
  EXPECT_EQ(patches[3].x0, 160);
  EXPECT_EQ(patches[3].y0, 110);
  size_t placed = 0;
  std::vector<Box> decoded;
  for (size_t k = 0; k < 4; ++k) {
    const Example& e = examples[k];
    const Prepared& p = patches[k];
    ASSERT_EQ(e.image.shape(), (Shape{1, 1, 128, 160}));
    EXPECT_EQ(e.image.values<float>(), p.image.values<float>());
    placed += e.boxes.size();
    for (const Box& b : e.boxes)
      EXPECT_GT(e.image.data<float>()[int(b.y) * 160 + int(b.x)], 0.2f) << k << ": " << b.x << " " << b.y;
    const std::vector<Box> boxes = boxes_from_head(perfect_head(e.boxes, p), 0, p, {{48.f, 48.f}}, 0.3f);
    decoded.insert(decoded.end(), boxes.begin(), boxes.end());
  }
  EXPECT_GT(placed, truth.size());  // the middle box lies in the overlaps of all four
  expect_picks_are(select_picks(decoded, width, height, 48, PickOptions{}), truth);

  model.num_patches = 400;  // more patches than rows: an error that names the micrograph
  try {
    prepare_patches(dir / "mic/a.mrc", model);
    ADD_FAILURE() << "no error for 400 x 400 patches of a 400 x 300 micrograph";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.mrc"), std::string::npos) << e.what();
  }
}

// Several devices share the micrographs out and give what one gives (two CPU contexts here, each
// with its own copy of the network, as each GPU would have); so do several readers, whose
// micrographs may be ready out of order.
TEST(Picking, SeveralDevicesOrReadersGiveWhatOneGives) {
  const test::TempDir dir;
  const std::vector<std::string> names = {"a", "b", "c", "d", "e"};
  for (int i = 0; i < 5; ++i)  // each its own noise and particles, so results cannot be swapped unseen
    write_micrograph(dir / ("mic/" + names[i] + ".mrc"), "", 256, 256,
                     {{60.f + 30 * i, 90.f + 20 * i, 32, 32, 1}, {200.f - 25 * i, 60, 32, 32, 1}}, unsigned(2 + i));
  ModelConfig model;
  model.input_size = {128, 128, false};
  model.anchors = Anchor{32, 32};
  model.filter.reset();
  model.num_patches = 2;
  model.overlap_patches = 16;
  PickOptions opt;
  opt.batch_size = 3;  // patches of one micrograph land in different batches
  opt.progress = false;
  opt.threshold = 0;
  Context one, two;
  Graph g1 = tiny_net(1), g2 = tiny_net(1);
  const std::vector<std::string> files = list_micrographs(dir / "mic");
  const PickSummary single = pick_micrographs(g1, one, model, files, dir / "single", opt);
  const PickSummary shared =
      pick_micrographs({PickDevice{&g1, &one}, PickDevice{&g2, &two}}, model, files, dir / "shared", opt);
  PickOptions three_readers = opt;
  three_readers.readers = 3;
  const PickSummary read = pick_micrographs(g1, one, model, files, dir / "readers", three_readers);
  EXPECT_EQ(single.picked, 5u);
  EXPECT_EQ(shared.picked, 5u);
  EXPECT_EQ(read.picked, 5u);
  EXPECT_EQ(shared.boxes, single.boxes);
  EXPECT_EQ(read.boxes, single.boxes);
  std::vector<std::vector<Box>> seen;
  for (const std::string& name : names) {
    const std::string cbox = "CBOX/" + name + ".cbox";
    const std::vector<Box> x = read_boxes(dir / ("single/" + cbox));
    for (const char* other_run : {"shared/", "readers/"}) {
      const std::vector<Box> y = read_boxes(dir / (other_run + cbox));
      ASSERT_EQ(x.size(), y.size()) << other_run << name;
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(x[i].x, y[i].x) << other_run << name;
        EXPECT_EQ(x[i].y, y[i].y) << other_run << name;
        EXPECT_EQ(x[i].estimated_w(), y[i].estimated_w()) << other_run << name;
        EXPECT_EQ(x[i].confidence, y[i].confidence) << other_run << name;
      }
    }
    for (const std::vector<Box>& other : seen)  // the micrographs differ, and so do their picks
      EXPECT_FALSE(!x.empty() && other.size() == x.size() && other[0].x == x[0].x && other[0].confidence == x[0].confidence);
    seen.push_back(x);
  }
}

// A damaged micrograph in the input is left out, named, and the others are picked; the next run
// skips the done ones and tries the damaged one again. Two inputs of one base name are refused.
TEST(Picking, UnreadableMicrographIsLeftOutAndTriedAgain) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "cupick_test_pick_damaged";
  fs::remove_all(dir);
  fs::create_directories(dir / "mic");
  for (const char* name : {"a", "b", "c"})
    write_micrograph((dir / "mic" / (std::string(name) + ".mrc")).string(), "", 256, 256, {{100, 100, 32, 32, 1}}, 2);
  fs::resize_file(dir / "mic" / "b.mrc", 3000);
  ModelConfig model;
  model.input_size = {128, 128, false};
  model.anchors = Anchor{32, 32};
  model.filter.reset();
  PickOptions opt;
  opt.batch_size = 2;
  opt.progress = false;
  Context cpu;
  Graph g = tiny_net(1);
  const std::vector<std::string> files = list_micrographs((dir / "mic").string());
  const std::string out = (dir / "out").string();
  PickSummary s = pick_micrographs(g, cpu, model, files, out, opt);
  EXPECT_EQ(s.picked, 2u);
  ASSERT_EQ(s.failed.size(), 1u);
  EXPECT_NE(s.failed[0].find("b.mrc"), std::string::npos) << s.failed[0];
  EXPECT_TRUE(fs::exists(dir / "out" / "CBOX" / "a.cbox"));
  EXPECT_FALSE(fs::exists(dir / "out" / "CBOX" / "b.cbox"));
  EXPECT_TRUE(fs::exists(dir / "out" / "CBOX" / "c.cbox"));
  s = pick_micrographs(g, cpu, model, files, out, opt);
  EXPECT_EQ(s.skipped, 2u);
  EXPECT_EQ(s.picked, 0u);
  EXPECT_EQ(s.failed.size(), 1u);

  fs::create_directories(dir / "other");
  fs::copy_file(dir / "mic" / "a.mrc", dir / "other" / "a.mrc");
  EXPECT_THROW(pick_micrographs(g, cpu, model, {files[0], (dir / "other" / "a.mrc").string()}, out, opt), Error);
  fs::remove_all(dir);
}

// Every per-micrograph problem fails that micrograph alone, named, with none of its files left: a
// newline in the name (STAR cannot hold it; the EMAN file was written first), a name whose output
// names pass the 255 bytes a file name may have, a symlink loop. The others are picked.
TEST(Picking, OneBadMicrographNeverStopsTheRun) {
  namespace fs = std::filesystem;
  const test::TempDir dir;
  const std::string newline = "new\nline", long_name = std::string(251, 'x');
  for (const std::string& name : {std::string("a"), newline, long_name, std::string("z")})
    write_micrograph(dir / ("mic/" + name + ".mrc"), "", 256, 256, {{100, 100, 32, 32, 1}}, 2);
  fs::create_symlink("loop.mrc", dir / "mic/loop.mrc");
  ModelConfig model;
  model.input_size = {128, 128, false};
  model.anchors = Anchor{32, 32};
  model.filter.reset();
  PickOptions opt;
  opt.threshold = 0;  // every micrograph has picks to write
  opt.progress = false;
  Context cpu;
  Graph g = tiny_net(1);
  const std::vector<std::string> files = list_micrographs(dir / "mic");
  ASSERT_EQ(files.size(), 5u);
  const PickSummary s = pick_micrographs(g, cpu, model, files, dir / "out", opt);
  EXPECT_EQ(s.picked, 2u);
  ASSERT_EQ(s.failed.size(), 3u);
  std::string failed;
  for (const std::string& line : s.failed) failed += line + "\n";
  EXPECT_NE(failed.find("loop.mrc"), std::string::npos) << failed;
  EXPECT_NE(failed.find(newline), std::string::npos) << failed;
  EXPECT_NE(failed.find(long_name), std::string::npos) << failed;
  EXPECT_EQ(failed.find("filesystem error"), std::string::npos) << failed;
  std::set<std::string> written;
  for (const char* sub : {"EMAN", "STAR", "CBOX"})
    for (const auto& e : fs::directory_iterator(dir / ("out/" + std::string(sub))))
      written.insert(std::string(sub) + "/" + e.path().filename().string());
  EXPECT_EQ(written, (std::set<std::string>{"EMAN/a.box", "STAR/a.star", "CBOX/a.cbox", "EMAN/z.box", "STAR/z.star",
                                            "CBOX/z.cbox"}));
}

}  // namespace
}  // namespace cupick
