#include "engine/error.h"

#include <cstdio>

namespace cupick {

std::string printable(const std::string& message) {
  std::string out;
  out.reserve(message.size());
  auto escape = [&](unsigned char c) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    out += hex;
  };
  for (size_t i = 0; i < message.size(); ++i) {
    const auto c = static_cast<unsigned char>(message[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      escape(c);
    } else if (c == 0xc2 && i + 1 < message.size() && static_cast<unsigned char>(message[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(message[i + 1]) <= 0x9f) {  // a C1 control in UTF-8
      escape(c);
      escape(static_cast<unsigned char>(message[++i]));
    } else {
      out += char(c);
    }
  }
  return out;
}

}  // namespace cupick
