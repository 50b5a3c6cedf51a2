// A small flag parser for the subcommands: "--name value", "-n value", "--switch", positionals.
// Each command declares its flags, so a mistyped one is an error that lists what is allowed.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "app/devices.h"
#include "engine/error.h"

namespace cupick::cli {

struct Flag {
  std::string name;   // "--config"
  std::string alias;  // "-c", or ""
  bool takes_value;
  std::string help;
};

// A mistake in the command line itself (an unknown option, a missing value): main() prints it with
// a pointer to --help and exits with status 2, as for a missing required argument.
struct UsageError : Error {
  using Error::Error;
};

class Args {
 public:
  // `synopsis` is the usage line after "cupick <command>", e.g. "-c CONFIG [options]".
  Args(std::string command, std::string synopsis, std::vector<Flag> flags, int argc, char** argv);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The value of a flag, or `fallback` when it was not given.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Every value of a flag given several times, or with several words after it (-i a b c).
  const std::vector<std::string>& all(const std::string& name) const;
  int get_int(const std::string& name, int fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // With --help: the usage on stdout, returns 0. Else, when `missing` (a required argument is not
  // there): the usage on stderr, returns 2. Else -1: the command goes on.
  int usage_status(bool missing) const;
  // UsageError for positional words beyond the first `count` (which commands take no more than).
  void allow_positional(size_t count) const;

 private:
  std::string command_, synopsis_;
  std::vector<Flag> flags_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// --cpu and -g as a DeviceChoice: GPU ids are whole numbers, none named twice (UsageError).
DeviceChoice device_choice(const Args& args);

}  // namespace cupick::cli
