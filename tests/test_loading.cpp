// Loading ahead: the background producer (engine/background.h) hands out items in order, bounded,
// passes on errors and stops when dropped; load_examples prepares micrographs on several threads
// and gives what preparing them one by one gives, in file-name order.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "engine/background.h"
#include "image/network_input.h"
#include "image/simulate.h"
#include "io/annotations.h"
#include "io/mrc.h"
#include "tests/temp_dir.h"
#include "train/examples.h"

namespace cupick {
namespace {

TEST(Background, InOrderAndAtMostDepthAhead) {
  constexpr int count = 20;
  constexpr size_t depth = 2;
  std::atomic<int> started{0};
  int last = -1;  // one worker: calls in index order, one at a time
  Background<int> items(count, depth, [&](size_t i) {
    EXPECT_EQ(int(i), last + 1);
    last = int(i);
    ++started;
    return int(i);
  });
  for (int i = 0; i < count; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // give the producer time to run ahead
    // Taken so far: i. Waiting: at most depth. Being made: one.
    EXPECT_LE(started.load(), i + int(depth) + 1);
    EXPECT_EQ(items.next(), std::optional<int>(i));
  }
  EXPECT_EQ(items.next(), std::nullopt);
  EXPECT_EQ(items.next(), std::nullopt);
}

// Several workers: the items still come in index order, all of them, however long each takes, and
// the workers run at once.
TEST(Background, SeveralWorkersHandOutInOrder) {
  constexpr int count = 40, workers = 4;
  constexpr size_t depth = 3;
  std::atomic<int> running{0}, most{0}, started{0}, taken{0};
  Background<int> items(count, depth, [&](size_t i) {
    ++started;
    EXPECT_LE(started.load(), taken.load() + int(depth) + workers + 1);  // + 1: next() counts first
    const int now = ++running;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + (i * 7) % 5));  // finish out of order
    --running;
    return int(i) * 3;
  }, workers);
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(items.next(), std::optional<int>(i * 3));
    ++taken;
  }
  EXPECT_EQ(items.next(), std::nullopt);
  EXPECT_GT(most.load(), 1);
}

TEST(Background, AnErrorComesInPlaceOfItsItem) {
  for (size_t workers : {1, 3}) {
    Background<int> items(10, 4, [&](size_t i) {
      if (i == 3) throw std::runtime_error("item 3 is broken");
      return int(i);
    }, workers);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(items.next(), std::optional<int>(i));
    EXPECT_THROW(items.next(), std::runtime_error);
    EXPECT_EQ(items.next(), std::nullopt);
  }
}

// An endless producer is stopped by dropping it, whether it waits for room or is making an item.
TEST(Background, DroppingItStopsTheThread) {
  for (int taken = 0; taken < 3; ++taken) {
    Background<int> items(SIZE_MAX, 1, [&](size_t i) { return int(i); });
    for (int i = 0; i < taken; ++i) EXPECT_EQ(items.next(), std::optional<int>(i));
  }
}

// Micrographs prepared on several threads (filtered, resized, normalised) are those prepared one by
// one, in file-name order, the boxes with them; a micrograph without annotation is left out.
TEST(Loading, ExamplesOnSeveralThreadsAreThoseOneByOne) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "mic");
  std::filesystem::create_directories(dir / "box");
  SimulationOptions sim;
  sim.width = 240, sim.height = 200, sim.box_size = 32;
  const int count = 7;
  for (int i = 0; i < count; ++i) {
    const SimulatedMicrograph m = simulate_micrograph(sim, i);
    write_mrc(dir / ("mic/" + simulated_name(i) + ".mrc"), m.image);
    std::vector<Box> boxes = m.particles;
    for (Box& b : boxes) b.y = file_y_to_image_y(b.y, sim.height);
    if (i != 4) write_eman_box(dir / ("box/" + simulated_name(i) + ".box"), boxes, float(sim.box_size));
  }
  ModelConfig model;
  model.input_size = {128, 128, false};
  model.anchors = Anchor{32, 32};
  model.filter = LowpassFilter{0.1, dir / "filtered"};
  std::vector<std::string> warnings;
  const std::vector<Example> examples = load_examples(dir / "mic", dir / "box", model, warnings);
  ASSERT_EQ(examples.size(), size_t(count - 1));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(simulated_name(4)), std::string::npos) << warnings[0];
  // The reference filters afresh, one by one, into a cache of its own (not reading the threads' results).
  ModelConfig one_by_one = model;
  one_by_one.filter = LowpassFilter{0.1, dir / "filtered_one_by_one"};
  size_t k = 0;
  for (int i = 0; i < count; ++i) {
    if (i == 4) continue;
    const Example& e = examples[k++];
    EXPECT_EQ(e.name, simulated_name(i));
    const Prepared p = prepare_micrograph(dir / ("mic/" + simulated_name(i) + ".mrc"), one_by_one);
    EXPECT_EQ(e.image.values<float>(), p.image.values<float>()) << e.name;
    EXPECT_EQ(e.boxes.size(), simulate_micrograph(sim, i).particles.size()) << e.name;
  }
}

}  // namespace
}  // namespace cupick
