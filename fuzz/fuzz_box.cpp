// libFuzzer target: the EMAN .box reader (read_boxes on a .box file, io/annotations.h). A rejected
// file is a cupick::Error; anything else is a finding. Boxes read must be finite with a positive size.
#include <cmath>

#include "engine/error.h"
#include "fuzz/fuzz_input.h"
#include "io/annotations.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cupick::fuzz::InputFile input(data, size, ".box");
  std::vector<cupick::Box> boxes;
  try {
    boxes = cupick::read_boxes(input.path);
  } catch (const cupick::Error&) {
    return 0;
  }
  for (const cupick::Box& b : boxes) {
    cupick::fuzz::require(std::isfinite(b.x) && std::isfinite(b.y), "read_boxes(.box): finite centres");
    cupick::fuzz::require(b.w > 0 && b.h > 0 && std::isfinite(b.w) && std::isfinite(b.h),
                          "read_boxes(.box): positive sizes");
  }
  return 0;
}
