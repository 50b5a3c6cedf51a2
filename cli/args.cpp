#include "cli/args.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace cupick::cli {

namespace {
// "-3" and "-0.5" are values, not flags.
bool is_flag(const std::string& word) { return word.size() >= 2 && word[0] == '-' && !(word[1] >= '0' && word[1] <= '9'); }
}  // namespace

Args::Args(std::string command, std::string synopsis, std::vector<Flag> flags, int argc, char** argv)
    : command_(std::move(command)), synopsis_(std::move(synopsis)), flags_(std::move(flags)) {
  for (int i = 0; i < argc; ++i) {
    const std::string word = argv[i];
    if (!is_flag(word)) {
      positional_.push_back(word);
      continue;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags_)
      if (word == f.name || (!f.alias.empty() && word == f.alias)) flag = &f;
    if (!flag) {
      std::string allowed;
      for (const Flag& f : flags_) allowed += (allowed.empty() ? "" : ", ") + f.name;
      throw UsageError("unknown option " + word + " (allowed: " + allowed + ")");
    }
    std::vector<std::string>& v = values_[flag->name];
    if (!flag->takes_value) continue;
    // Values run until the next flag, so "-i a.mrc b.mrc" works as in crYOLO.
    const size_t before = v.size();
    while (i + 1 < argc && !is_flag(argv[i + 1])) v.push_back(argv[++i]);
    if (v.size() == before) throw UsageError("option " + word + " needs a value");
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return fallback;
  if (it->second.size() > 1) throw UsageError("option " + name + " takes one value, got " + std::to_string(it->second.size()));
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
  if (*end || end == s.c_str() || v != long(int(v)))
    throw UsageError("option " + name + " needs a whole number, got '" + s + "'");
  return int(v);
}

double Args::get_double(const std::string& name, double fallback) const {
  const std::string s = get(name);
  if (s.empty()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end || end == s.c_str()) throw UsageError("option " + name + " needs a number, got '" + s + "'");
  return v;
}

int Args::usage_status(bool missing) const {
  const bool help = has("--help");
  if (!help && !missing) return -1;
  std::string out = "usage: cupick " + command_ + " " + synopsis_ + "\n";
  for (const Flag& f : flags_) {
    std::string left = "  " + f.name + (f.alias.empty() ? "" : ", " + f.alias) + (f.takes_value ? " VALUE" : "");
    left.resize(std::max<size_t>(left.size() + 2, 30), ' ');
    out += left + f.help + "\n";
  }
  std::fputs(out.c_str(), help ? stdout : stderr);
  return help ? 0 : 2;
}

void Args::allow_positional(size_t count) const {
  if (positional_.size() > count) throw UsageError("unexpected argument '" + positional_[count] + "'");
}

namespace {

// One -g value: a GPU id.
int parse_gpu_id(const std::string& id) {
  char* end = nullptr;
  const long v = std::strtol(id.c_str(), &end, 10);
  if (id.empty() || *end || v < 0 || v > 1024) throw UsageError("-g needs GPU ids (0, 1, ...), got '" + id + "'");
  return int(v);
}

}  // namespace

DeviceChoice device_choice(const Args& args) {
  DeviceChoice choice;
  choice.cpu = args.has("--cpu");
  if (args.has("--threads")) {
    choice.threads = args.get_int("--threads", 0);
    if (choice.threads < 1)
      throw UsageError("--threads needs a number of threads >= 1, got " + args.get("--threads"));
  }
  const std::vector<std::string>& ids = args.all("--gpu");
  if (ids.size() == 1) choice.gpus.push_back(args.get_int("--gpu", 0));
  if (ids.size() > 1)
    for (const std::string& id : ids) {
      const int gpu = parse_gpu_id(id);
      if (std::find(choice.gpus.begin(), choice.gpus.end(), gpu) != choice.gpus.end())
        throw UsageError("-g names GPU " + id + " twice");
      choice.gpus.push_back(gpu);
    }
  return choice;
}

}  // namespace cupick::cli
