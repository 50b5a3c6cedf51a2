#include "cli/args.h"

#include <cstdlib>

namespace cupick::cli {

Args::Args(const std::string& command, const std::vector<Flag>& flags, int argc, char** argv) : command_(command) {
  for (int i = 0; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.size() < 2 || word[0] != '-' || (word[1] >= '0' && word[1] <= '9')) {  // "-3" is a value
      positional_.push_back(word);
      continue;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags)
      if (word == f.name || (!f.alias.empty() && word == f.alias)) flag = &f;
    if (!flag) {
      std::string allowed;
      for (const Flag& f : flags) allowed += (allowed.empty() ? "" : ", ") + f.name;
      throw Error(command_ + ": unknown option " + word + " (allowed: " + allowed + ")");
    }
    std::vector<std::string>& v = values_[flag->name];
    if (!flag->takes_value) continue;
    // Values run until the next flag, so "-i a.mrc b.mrc" works as in crYOLO.
    const size_t before = v.size();
    while (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] && !(argv[i + 1][1] >= '0' && argv[i + 1][1] <= '9')))
      v.push_back(argv[++i]);
    if (v.size() == before) throw Error(command_ + ": option " + word + " needs a value");
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return fallback;
  if (it->second.size() > 1) throw Error(command_ + ": option " + name + " takes one value, got " + std::to_string(it->second.size()));
  return it->second.front();
}

const std::vector<std::string>& Args::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = values_.find(name);
  return it == values_.end() ? none : it->second;
}

int Args::get_int(const std::string& name, int fallback) const {
  const std::string s = get(name);
  if (s.empty()) return fallback;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (*end || end == s.c_str()) throw Error(command_ + ": option " + name + " needs a whole number, got '" + s + "'");
  return int(v);
}

double Args::get_double(const std::string& name, double fallback) const {
  const std::string s = get(name);
  if (s.empty()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end || end == s.c_str()) throw Error(command_ + ": option " + name + " needs a number, got '" + s + "'");
  return v;
}

std::string Args::usage(const std::string& command, const std::string& synopsis, const std::vector<Flag>& flags) {
  std::string out = "usage: cupick " + command + " " + synopsis + "\n";
  for (const Flag& f : flags) {
    std::string left = "  " + f.name + (f.alias.empty() ? "" : ", " + f.alias) + (f.takes_value ? " VALUE" : "");
    left.resize(std::max<size_t>(left.size() + 2, 30), ' ');
    out += left + f.help + "\n";
  }
  return out;
}

}  // namespace cupick::cli
