// What the fuzz targets share. The MRC and annotation readers take a path, so each input is written
// to a file (in /dev/shm where there is one: a write per input, thousands a second) and read back
// through the real reader.
#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/error.h"
#include "io/micrograph.h"

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

// What every micrograph reader promises of an image it returns for a file of `file_bytes`: sides and
// pixel count within the caps, no more decoded bytes (at `bits_per_pixel`, the least a pixel can be
// stored in) than such a file can hold, width x height finite pixels.
inline void require_micrograph(const cupick::Image& image, size_t file_bytes, double bits_per_pixel) {
  require(image.width > 0 && image.height > 0 && image.width <= cupick::max_micrograph_side &&
              image.height <= cupick::max_micrograph_side,
          "image sides in 1..max_micrograph_side");
  require(image.pixels.size() == size_t(image.width) * size_t(image.height), "width x height pixels");
  require(image.pixels.size() <= cupick::max_micrograph_pixels, "at most max_micrograph_pixels");
  require(double(image.pixels.size()) * bits_per_pixel / 8 <= cupick::max_decoded_bytes_per_file_byte * double(file_bytes),
          "no more decoded bytes than the file can hold");
  for (float v : image.pixels) require(std::isfinite(v), "finite pixels only");
}

// A target for one micrograph reader: a rejected file is a cupick::Error; anything else (another
// exception, a sanitizer report, a hang, an allocation over -malloc_limit_mb) is a finding.
inline int fuzz_micrograph_reader(cupick::Image (*read)(const std::string&), const char* extension,
                                  const uint8_t* data, size_t size, double bits_per_pixel) {
  const InputFile input(data, size, extension);
  cupick::Image image;
  try {
    image = read(input.path);
  } catch (const cupick::Error&) {
    return 0;
  }
  require_micrograph(image, size, bits_per_pixel);
  return 0;
}

}  // namespace cupick::fuzz
