// libFuzzer target: read_mrc (io/mrc.h) on arbitrary bytes. A rejected file is a cupick::Error;
// anything else (another exception, a sanitizer report, a hang, a huge allocation) is a finding.
// An accepted file must give an image of its stated size with finite pixels only.
#include <cmath>

#include "engine/error.h"
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
  using cupick::fuzz::require;
  require(image.width > 0 && image.height > 0 && image.width <= cupick::max_micrograph_side &&
              image.height <= cupick::max_micrograph_side,
          "read_mrc: image sides in 1..max_micrograph_side");
  require(image.pixels.size() == size_t(image.width) * size_t(image.height), "read_mrc: width x height pixels");
  // At least the header and 1 byte per pixel were there.
  require(size >= 1024 + image.pixels.size(), "read_mrc: no more pixels than bytes");
  for (float v : image.pixels) require(std::isfinite(v), "read_mrc: finite pixels only");
  return 0;
}
