// libFuzzer target: read_png (io/micrograph.h) on arbitrary bytes (fuzz_micrograph_reader,
// fuzz/fuzz_input.h). Decoded bytes are counted at 1 bits per pixel: 1-bit grey is the smallest pixel a PNG stores.
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cupick::fuzz::fuzz_micrograph_reader(cupick::read_png, ".png", data, size, 1);
}
