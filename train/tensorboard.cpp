#include "train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace cupick {
namespace {

// The CRC of every byte value, made once: the table-driven form of the bitwise algorithm.
const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// Protocol buffer encoding: a field's key is (number << 3) | wire type; 0 varint, 1 64-bit, 2 length
// delimited, 5 32-bit, numbers little-endian.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(uint8_t(v)));
}

template <typename T>
void put_fixed(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));  // the host is little-endian (x86-64, AArch64), as the format
  out.append(bytes, sizeof(T));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_varint(out, uint64_t(field) << 3 | 2);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string event_head(double wall_time) {
  std::string e;
  put_varint(e, 1 << 3 | 1);
  put_fixed(e, wall_time);
  return e;
}

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  const auto& table = crc_table();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string tf_record(const std::string& data) {
  std::string r;
  put_fixed(r, uint64_t(data.size()));
  put_fixed(r, masked_crc32c(r.data(), 8));
  r += data;
  put_fixed(r, masked_crc32c(data.data(), data.size()));
  return r;
}

std::string file_version_event(double wall_time) {
  std::string e = event_head(wall_time);
  put_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string scalars_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_varint(v, 2 << 3 | 5);
    put_fixed(v, value);
    put_bytes(summary, 1, v);
  }
  std::string e = event_head(wall_time);
  put_varint(e, 2 << 3 | 0);
  put_varint(e, uint64_t(step));  // int64 as a varint: two's complement, so never negative here
  put_bytes(e, 5, summary);
  return e;
}

TensorBoardLog::TensorBoardLog(const std::string& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  char host[256] = "localhost";
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  host[sizeof host - 1] = 0;
  const double start = now();
  path_ = (std::filesystem::path(folder) / ("events.out.tfevents." + std::to_string(int64_t(start)) + "." + host +
                                            ".cupick"))
              .string();
  // Appended to: two trainings started in the same second on one host write one file, which
  // TensorBoard reads as one run, where replacing it would lose the first.
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_) throw Error(path_ + ": cannot write TensorBoard's log: " + std::strerror(errno));
  append(file_version_event(start));
}

TensorBoardLog::~TensorBoardLog() {
  if (file_) std::fclose(file_);
}

void TensorBoardLog::add(int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  append(scalars_event(now(), step, scalars));
}

// One record in one write, then flushed: a reader meets at worst a short last record, which
// TensorBoard's reader waits on rather than rejects.
void TensorBoardLog::append(const std::string& event) {
  const std::string record = tf_record(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() || std::fflush(file_) != 0)
    throw Error(path_ + ": cannot write TensorBoard's log: " + std::strerror(errno));
}

}  // namespace cupick
