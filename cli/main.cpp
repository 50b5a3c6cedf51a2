// cupick: particle picking in cryo-EM micrographs. The subcommands are thin: they parse flags and call
// the library; any error becomes one line on stderr and a non-zero exit.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/error.h"

namespace {

struct Command {
  const char* name;
  const char* about;
  int (*run)(int, char**);
};

const Command kCommands[] = {
    {"demo", "simulate micrographs, train, pick and evaluate: cupick without data", cupick::cli::run_demo},
    {"simulate", "micrographs with known particles (MRC + BOX + STAR)", cupick::cli::run_simulate},
    {"config", "write a complete crYOLO config for a box size", cupick::cli::run_config},
    {"train", "train a network from a crYOLO config", cupick::cli::run_train},
    {"predict", "pick particles in micrographs with trained weights", cupick::cli::run_predict},
    {"evaluate", "precision, recall and F1 of picks against ground truth", cupick::cli::run_evaluate},
    {"review", "a page to look at picks with in a browser: thresholds, counts, histograms", cupick::cli::run_review},
    {"convert", "rewrite a weights file, checked against its network, optionally in fp16", cupick::cli::run_convert},
    {"summary", "the network of a config: layers, parameters, GFLOP", cupick::cli::run_summary},
    {"info", "the devices cupick can use (GPUs, cuDNN version)", cupick::cli::run_info},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: cupick <command> [options]   (cupick <command> --help for its options)\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.about);
  std::fprintf(out, "  --version  print the version\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress on stderr and results on stdout stay in order
  const std::string cmd = argc > 1 ? argv[1] : "--help";
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("cupick %s\n", CUPICK_VERSION);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (cmd != c.name) continue;
    try {
      return c.run(argc - 2, argv + 2);
    } catch (const cupick::cli::UsageError& e) {
      std::fprintf(stderr, "cupick %s: %s (cupick %s --help lists the options)\n", c.name,
                   cupick::printable(e.what()).c_str(), c.name);
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cupick %s: %s\n", c.name, cupick::printable(e.what()).c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "cupick: unknown command '%s'\n", cupick::printable(cmd).c_str());
  usage(stderr);
  return 2;
}
