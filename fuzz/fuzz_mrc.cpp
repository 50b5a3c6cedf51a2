// libFuzzer target: read_mrc (io/mrc.h) on arbitrary bytes, held to require_micrograph (fuzz/fuzz_input.h).
// An accepted file also holds the 1024-byte header and at least one byte per pixel.
#include "fuzz/fuzz_input.h"
#include "io/mrc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cupick::fuzz::InputFile input(data, size, ".mrc");
  cupick::Image image;
  try {
    image = cupick::read_mrc(input.path);
  } catch (const cupick::Error&) {
    return 0;
  }
  cupick::fuzz::require_micrograph(image, size, 8);
  cupick::fuzz::require(size >= 1024 + image.pixels.size(), "read_mrc: no more pixels than bytes");
  return 0;
}
