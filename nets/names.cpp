#include "nets/names.h"

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace cupick {

std::vector<std::string> network_names() {
  std::vector<std::string> names;
  for (const NetworkText& t : embedded_networks()) {
    const nlohmann::json doc = nlohmann::json::parse(t.json, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("name") || !doc["name"].is_string())
      throw Error(std::string(t.file) + ": key 'name': missing or not a string");
    names.push_back(doc["name"].get<std::string>());
  }
  return names;
}

}  // namespace cupick
