// A small flag parser for the subcommands: "--name value", "-n value", "--switch", positionals.
// Each command declares its flags, so a mistyped one is an error that lists what is allowed.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"

namespace cupick::cli {

struct Flag {
  std::string name;   // "--config"
  std::string alias;  // "-c", or ""
  bool takes_value;
  std::string help;
};

class Args {
 public:
  Args(const std::string& command, const std::vector<Flag>& flags, int argc, char** argv);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The value of a flag, or `fallback` when it was not given.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Every value of a flag given several times, or with several words after it (-i a b c).
  const std::vector<std::string>& all(const std::string& name) const;
  int get_int(const std::string& name, int fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // "usage: cupick <command> ..." with one line per flag.
  static std::string usage(const std::string& command, const std::string& synopsis, const std::vector<Flag>& flags);

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

}  // namespace cupick::cli
