// TensorBoard's event files, so that `tensorboard --logdir logs/` shows a training as crYOLO's
// users watch theirs (docs/BEHAVIOUR.md §5.6). A file is a sequence of TFRecords:
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
// each data an Event protocol buffer: wall_time (field 1, double), step (2, int64), file_version
// (3, string; the first event says "brain.Event:2") or summary (5: Summary, whose repeated value
// (1) each hold a tag (1, string) and a simple_value (2, float)). Written by hand: these are the
// only messages cupick needs, and TensorBoard's own reader checks them in tests/test_tensorboard.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace cupick {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), and TFRecord's mask of it: rotated right
// by 15 bits plus 0xa282ead8, so that a CRC of data holding CRCs stays a good check.
uint32_t crc32c(const void* data, size_t size);
uint32_t masked_crc32c(const void* data, size_t size);

// One TFRecord holding `data`.
std::string tf_record(const std::string& data);

// An Event: the file's first (file_version "brain.Event:2"), or scalars at a step.
std::string file_version_event(double wall_time);
std::string scalars_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& scalars);

// An event file in `folder` (made if missing), named as TensorBoard looks for them:
// events.out.tfevents.<unix seconds>.<host name>.cupick. Each add() appends one record and flushes,
// so a TensorBoard watching the folder sees every epoch as it ends. Errors name the file.
class TensorBoardLog {
 public:
  explicit TensorBoardLog(const std::string& folder);
  ~TensorBoardLog();
  TensorBoardLog(const TensorBoardLog&) = delete;
  TensorBoardLog& operator=(const TensorBoardLog&) = delete;

  void add(int64_t step, const std::vector<std::pair<std::string, float>>& scalars);
  const std::string& path() const { return path_; }

 private:
  void append(const std::string& event);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace cupick
