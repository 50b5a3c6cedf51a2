// libFuzzer target: the STAR reader (read_star_by_micrograph, io/annotations.h), which read_boxes and
// read_star use too. A rejected file is a cupick::Error; anything else is a finding. Boxes read must
// be finite, carry the default size and be filed under a micrograph name.
#include <cmath>

#include "engine/error.h"
#include "fuzz/fuzz_input.h"
#include "io/annotations.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cupick::fuzz::InputFile input(data, size, ".star");
  constexpr float box_size = 64;
  std::map<std::string, std::vector<cupick::Box>> by_micrograph;
  try {
    by_micrograph = cupick::read_star_by_micrograph(input.path, box_size);
  } catch (const cupick::Error&) {
    return 0;
  }
  for (const auto& [micrograph, boxes] : by_micrograph) {
    cupick::fuzz::require(!boxes.empty(), "read_star_by_micrograph: no micrograph without boxes");
    for (const cupick::Box& b : boxes) {
      cupick::fuzz::require(std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.confidence),
                            "read_star_by_micrograph: finite values");
      cupick::fuzz::require(b.w == box_size && b.h == box_size, "read_star_by_micrograph: the default box size");
    }
  }
  return 0;
}
