// libFuzzer target: read_jpeg (io/micrograph.h) on arbitrary bytes (fuzz_micrograph_reader,
// fuzz/fuzz_input.h). Decoded bytes are counted at 8 bits per pixel: the grey byte each pixel decodes to.
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cupick::fuzz::fuzz_micrograph_reader(cupick::read_jpeg, ".jpg", data, size, 8);
}
