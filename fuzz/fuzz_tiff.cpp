// libFuzzer target: read_tiff (io/micrograph.h) on arbitrary bytes (fuzz_micrograph_reader,
// fuzz/fuzz_input.h). Decoded bytes are counted at 8 bits per pixel: 8-bit samples are the smallest read_tiff takes.
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cupick::fuzz::fuzz_micrograph_reader(cupick::read_tiff, ".tif", data, size, 8);
}
