// cupick: particle picking in cryo-EM micrographs. The subcommands are thin: they parse flags and call
// the library; any Error becomes one line on stderr and exit code 1.
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/context.h"

namespace {

const char* kUsage =
    "usage: cupick <command> [options]\n"
    "\n"
    "commands:\n"
    "  info        the devices cupick can use (GPUs, cuDNN version)\n"
    "  --version   print the version\n"
    "  --help      this text\n";

int info() {
  const int n = cupick::Context::gpu_count();
  std::printf("cupick %s\n", CUPICK_VERSION);
  if (n == 0) std::printf("no usable GPU: cupick runs on the CPU\n");
  for (int i = 0; i < n; ++i) {
    cupick::Context ctx(i);
    std::printf("%s\n", ctx.describe().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "--help";
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "--version") {
      std::printf("cupick %s\n", CUPICK_VERSION);
      return 0;
    }
    if (cmd == "info") return info();
    std::fprintf(stderr, "cupick: unknown command '%s' (try cupick --help)\n", cmd.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cupick: %s\n", e.what());
    return 1;
  }
}
