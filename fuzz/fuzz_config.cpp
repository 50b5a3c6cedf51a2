// libFuzzer target: crYOLO JSON configs (parse_config, the in-memory half of load_config, io/config.h).
// A rejected config is a cupick::Error; anything else is a finding. A config that loads must also
// load from what write_config_json makes of it, to the same settings: cupick reads what it writes.
#include "engine/error.h"
#include "fuzz/fuzz_input.h"
#include "io/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cupick::Config config;
  try {
    config = cupick::parse_config(text, "fuzz.json");
  } catch (const cupick::Error&) {
    return 0;
  }
  // Not in the try: a written config that does not load back is a finding.
  const cupick::Config again = cupick::parse_config(cupick::write_config_json(config), "written.json");
  using cupick::fuzz::require;
  require(again.model == config.model, "write_config_json: model settings read back the same");
  require(again.train == config.train, "write_config_json: train settings read back the same");
  require(again.valid == config.valid, "write_config_json: valid settings read back the same");
  require(again.other == config.other, "write_config_json: other settings read back the same");
  return 0;
}
