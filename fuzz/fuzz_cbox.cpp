// libFuzzer target: the crYOLO .cbox reader, STAR-based and the older tab-separated form (read_boxes
// on a .cbox file, io/annotations.h). A rejected file is a cupick::Error; anything else is a
// finding. Boxes read must be finite, with a positive size and an estimate that is not negative.
#include <cmath>

#include "engine/error.h"
#include "fuzz/fuzz_input.h"
#include "io/annotations.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cupick::fuzz::InputFile input(data, size, ".cbox");
  std::vector<cupick::Box> boxes;
  try {
    boxes = cupick::read_boxes(input.path);
  } catch (const cupick::Error&) {
    return 0;
  }
  for (const cupick::Box& b : boxes) {
    for (float v : {b.x, b.y, b.w, b.h, b.confidence, b.est_w, b.est_h})
      cupick::fuzz::require(std::isfinite(v), "read_boxes(.cbox): finite values");
    cupick::fuzz::require(b.w > 0 && b.h > 0, "read_boxes(.cbox): positive sizes");
    cupick::fuzz::require(b.est_w >= 0 && b.est_h >= 0, "read_boxes(.cbox): estimates not negative");
  }
  return 0;
}
