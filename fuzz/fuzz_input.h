// What the fuzz targets share. The MRC and annotation readers take a path, so each input is written
// to a file (in /dev/shm where there is one: a write per input, thousands a second) and read back
// through the real reader.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace cupick::fuzz {

// The input as a file of this process, "<folder>/cupick_fuzz_<pid><extension>" (the extension picks
// the reader), removed again when it goes out of scope; after a crash it stays for a look.
struct InputFile {
  std::string path;

  InputFile(const uint8_t* data, size_t size, const std::string& extension) {
    static const std::filesystem::path folder = [] {
      std::error_code ec;
      return std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : std::filesystem::temp_directory_path();
    }();
    path = (folder / ("cupick_fuzz_" + std::to_string(::getpid()) + extension)).string();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror(path.c_str());  // the fuzzer's own trouble, not a finding in the reader
      std::abort();
    }
  }
  ~InputFile() { std::remove(path.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
};

// A broken promise of a reader that returned normally: a finding like a crash, so it aborts.
inline void require(bool promise, const char* what) {
  if (promise) return;
  std::fprintf(stderr, "fuzz: broken promise: %s\n", what);
  std::abort();
}

}  // namespace cupick::fuzz
