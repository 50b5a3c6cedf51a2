// Running the cupick program as a user does, for the tests of its command line (test_cli.cpp) and
// of its messages on bad input (test_bad_inputs.cpp).
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace cupick::test {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct Result {
  int status = -1;  // the exit status; -1 when the program did not exit by itself (a crash)
  std::string out, err;
};

// The cupick program: beside this test program where it was copied with it (the GPU bundle), else
// where the build put it.
inline std::string cupick_binary() {
  const std::filesystem::path beside = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "cupick";
  return std::filesystem::exists(beside) ? beside.string() : CUPICK_BINARY;
}

// Runs `cupick ARGS` from `folder` (where relative paths land), no input, stdout and stderr to files
// there; `launcher` (e.g. the dynamic loader with options) runs the program when given.
inline Result cupick(const std::filesystem::path& folder, const std::string& args, const std::string& launcher = "") {
  const std::filesystem::path out = folder / "stdout.txt", err = folder / "stderr.txt";
  const std::string command = "cd '" + folder.string() + "' && " + launcher + " '" + cupick_binary() + "' " + args +
                              " </dev/null >'" + out.string() + "' 2>'" + err.string() + "'";
  const int raw = std::system(command.c_str());
  Result r;
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}
inline Result cupick(const TempDir& dir, const std::string& args, const std::string& launcher = "") {
  return cupick(dir.path, args, launcher);
}

// A failed command (status 1) whose error is the last line on stderr, "cupick <command>: ...", the
// only line there that starts so (progress and warnings may come before it), containing each of
// `parts` (a file, the problem).
inline ::testing::AssertionResult failed_with(const Result& r, const std::string& command,
                                              std::initializer_list<std::string> parts) {
  const std::vector<std::string> lines = split_lines(r.err);
  auto failure = [&](const std::string& why) {
    return ::testing::AssertionFailure() << why << "\nstatus " << r.status << "\nstdout:\n" << r.out << "stderr:\n" << r.err;
  };
  if (r.status != 1) return failure("exit status is not 1");
  if (lines.empty()) return failure("nothing on stderr");
  const std::string prefix = "cupick " + command + ": ";
  if (lines.back().rfind(prefix, 0) != 0) return failure("the last line on stderr does not start with '" + prefix + "'");
  for (size_t i = 0; i + 1 < lines.size(); ++i)
    if (lines[i].rfind("cupick ", 0) == 0) return failure("more than one error line");
  for (const std::string& part : parts)
    if (lines.back().find(part) == std::string::npos) return failure("the error does not say '" + part + "'");
  return ::testing::AssertionSuccess();
}

}  // namespace cupick::test
