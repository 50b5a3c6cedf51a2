// TensorBoard's event files (train/tensorboard.h): CRC-32C against its published check values, the
// records read back by a reader written here from the format's description (both CRCs checked,
// the Event fields decoded), and, where Python has the tensorboard package, by TensorBoard's own
// reader (CUPICK_PYTHON names the Python, python3 by default; it skips without the package).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/run_cupick.h"
#include "tests/temp_dir.h"
#include "train/tensorboard.h"

namespace fs = std::filesystem;

namespace cupick {
namespace {

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::map<std::string, float> scalars;
};

// A protocol buffer message's fields, for the few wire types an Event uses.
struct Reader {
  const std::string& s;
  size_t at = 0;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; at < s.size(); shift += 7) {
      const uint8_t b = uint8_t(s[at++]);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("a varint runs past the end");
  }
  template <typename T>
  T fixed() {
    if (at + sizeof(T) > s.size()) throw std::runtime_error("a fixed field runs past the end");
    T v;
    std::memcpy(&v, s.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  std::string bytes() {
    const size_t n = size_t(varint());
    if (at + n > s.size()) throw std::runtime_error("a string runs past the end");
    std::string b = s.substr(at, n);
    at += n;
    return b;
  }
};

Event decode_event(const std::string& data) {
  Event e;
  Reader r{data};
  while (r.at < data.size()) {
    const uint64_t key = r.varint();
    if (key == (1 << 3 | 1)) e.wall_time = r.fixed<double>();
    else if (key == (2 << 3 | 0)) e.step = int64_t(r.varint());
    else if (key == (3 << 3 | 2)) e.file_version = r.bytes();
    else if (key == (5 << 3 | 2)) {
      const std::string summary = r.bytes();
      Reader sr{summary};
      while (sr.at < summary.size()) {
        if (sr.varint() != (1 << 3 | 2)) throw std::runtime_error("a Summary field other than value");
        const std::string value = sr.bytes();
        Reader vr{value};
        std::string tag;
        float v = NAN;
        while (vr.at < value.size()) {
          const uint64_t k = vr.varint();
          if (k == (1 << 3 | 2)) tag = vr.bytes();
          else if (k == (2 << 3 | 5)) v = vr.fixed<float>();
          else throw std::runtime_error("a Summary.Value field other than tag and simple_value");
        }
        e.scalars[tag] = v;
      }
    } else throw std::runtime_error("an unexpected Event field, key " + std::to_string(key));
  }
  return e;
}

// Every record of an event file, both CRCs checked (the mask undone independently of cupick's).
std::vector<Event> read_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string f = ss.str();
  auto unmask = [](uint32_t m) {
    const uint32_t rot = m - 0xa282ead8u;
    return (rot << 15) | (rot >> 17);
  };
  std::vector<Event> events;
  for (size_t at = 0; at < f.size();) {
    if (at + 12 > f.size()) throw std::runtime_error("a short record header");
    uint64_t length;
    uint32_t length_crc, data_crc;
    std::memcpy(&length, f.data() + at, 8);
    std::memcpy(&length_crc, f.data() + at + 8, 4);
    if (unmask(length_crc) != crc32c(f.data() + at, 8)) throw std::runtime_error("the length's CRC is wrong");
    if (at + 12 + length + 4 > f.size()) throw std::runtime_error("a short record");
    const std::string data = f.substr(at + 12, size_t(length));
    std::memcpy(&data_crc, f.data() + at + 12 + length, 4);
    if (unmask(data_crc) != crc32c(data.data(), data.size())) throw std::runtime_error("the data's CRC is wrong");
    events.push_back(decode_event(data));
    at += 12 + size_t(length) + 4;
  }
  return events;
}

std::string the_event_file(const std::string& folder) {
  std::string found;
  for (const fs::directory_entry& e : fs::directory_iterator(folder))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) {
      EXPECT_TRUE(found.empty()) << "two event files in " << folder;
      found = e.path().string();
    }
  return found;
}

TEST(TensorBoard, Crc32cIsCastagnolis) {
  // The check value of CRC-32C, and RFC 3720's (iSCSI) vectors.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  const std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(char(i));
  EXPECT_EQ(crc32c(ascending.data(), 32), 0x46DD794Eu);
}

TEST(TensorBoard, RecordsReadBackWithTheirScalars) {
  test::TempDir dir;
  std::string path;
  {
    TensorBoardLog log(dir / "logs");
    path = log.path();
    log.add(1, {{"loss", 0.5f}, {"val_loss", 0.75f}, {"learning_rate", 1e-4f}});
    log.add(2, {{"loss", 0.25f}, {"val_loss", 0.625f}, {"learning_rate", 1e-5f}});
  }
  EXPECT_EQ(the_event_file(dir / "logs"), path);
  const std::vector<Event> events = read_events(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_GT(events[0].wall_time, 1.7e9);  // seconds since 1970, now
  EXPECT_EQ(events[1].step, 1);
  EXPECT_EQ(events[2].step, 2);
  EXPECT_EQ(events[1].scalars.at("loss"), 0.5f);
  EXPECT_EQ(events[1].scalars.at("learning_rate"), 1e-4f);
  EXPECT_EQ(events[2].scalars.at("val_loss"), 0.625f);
  EXPECT_GE(events[2].wall_time, events[1].wall_time);

  // A byte changed anywhere is caught by a CRC.
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(40);
  f.put('\x7f');
  f.close();
  EXPECT_THROW(read_events(path), std::runtime_error);
}

// Two epochs of the CPU demo network on two small simulated micrographs, logged in dir/logs; the
// event file's events (the version, then one per epoch), read and checked.
std::vector<Event> train_two_epochs(const test::TempDir& dir) {
  const std::string data = dir / "data";
  EXPECT_EQ(test::cupick(dir, "simulate " + data + " -n 2 --size 128 -b 16").status, 0);
  const std::string config = dir / "config.json";
  EXPECT_EQ(test::cupick(dir, "config " + config + " 16 --architecture cupick-cpu-demo --input_size 128"
                              " --train_image_folder " + data + "/micrographs --train_annot_folder " + data + "/box"
                              " --valid_image_folder " + data + "/micrographs --valid_annot_folder " + data + "/box"
                              " --nb_epoch 2 --saved_weights_name " + (dir / "w.safetensors") +
                              " --log_path " + (dir / "logs"))
                .status,
            0);
  const test::Result r = test::cupick(dir, "train -c " + config + " --cpu");
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string path = the_event_file(dir / "logs");
  if (path.empty()) {
    ADD_FAILURE() << "no event file in " << (dir / "logs");
    return {};
  }
  return read_events(path);
}

TEST(TensorBoard, TrainWritesEveryEpochsScalars) {
  test::TempDir dir;
  const std::vector<Event> events = train_two_epochs(dir);
  // Beside them, the CSV and the plots of the same (image/plot.h, checked in tests/test_plot).
  for (const char* file : {"training.csv", "training_curves.png", "training_curves.svg", "learning_rate.png",
                           "learning_rate.svg"})
    EXPECT_TRUE(fs::exists(dir.path / "logs" / file)) << file;
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  for (int epoch = 1; epoch <= 2; ++epoch) {
    const Event& e = events[size_t(epoch)];
    EXPECT_EQ(e.step, epoch);
    for (const char* tag : {"loss", "val_loss", "val_xy", "val_wh", "val_object", "val_no_object", "val_class",
                            "learning_rate"})
      EXPECT_TRUE(e.scalars.count(tag) && std::isfinite(e.scalars.at(tag))) << tag << " at epoch " << epoch;
  }
}

TEST(TensorBoard, TensorBoardsOwnReaderReadsTheLog) {
  const char* env = std::getenv("CUPICK_PYTHON");
  const std::string python = env && *env ? env : "python3";
  if (std::system((python + " -c 'import tensorboard' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << python << " has no tensorboard package: TensorBoard's reader not run (pip install tensorboard, "
                              "CUPICK_PYTHON=that python)";
  test::TempDir dir;
  const std::vector<Event> events = train_two_epochs(dir);
  ASSERT_EQ(events.size(), 3u);
  const std::string script = dir.file("read.py", R"py(
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1])
acc.Reload()
for tag in sorted(acc.Tags()["scalars"]):
    for s in acc.Scalars(tag):
        print(tag, s.step, repr(s.value))
)py");
  const std::string out = dir / "read.txt";
  ASSERT_EQ(std::system((python + " " + script + " " + (dir / "logs") + " >" + out + " 2>&1").c_str()), 0)
      << test::read_text(out);
  std::ifstream in(out);
  std::map<std::string, std::map<int, float>> seen;
  std::string tag;
  int step;
  float value;
  while (in >> tag >> step >> value) seen[tag][step] = value;
  for (const auto& [name, v] : events[2].scalars)
    EXPECT_FLOAT_EQ(seen[name][2], v) << name << "; TensorBoard read:\n" << test::read_text(out);
  EXPECT_EQ(seen.size(), 8u) << test::read_text(out);
}

}  // namespace
}  // namespace cupick
