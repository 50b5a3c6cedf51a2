// The subcommands. Each parses its own flags (cli/args.h) and calls the library; errors are thrown
// as cupick::Error (mistakes in the command line as UsageError) and main() prints them as one line,
// with exit status 1 (2 for a UsageError or a missing argument).
#pragma once
#include <memory>
#include <string>

#include "engine/context.h"
#include "io/config.h"
#include "train/trainer.h"

namespace cupick::cli {

// argv[0] is the command's first argument (not the command name).
int run_info(int argc, char** argv);
int run_summary(int argc, char** argv);
int run_config(int argc, char** argv);
int run_train(int argc, char** argv);
int run_predict(int argc, char** argv);
int run_evaluate(int argc, char** argv);
int run_simulate(int argc, char** argv);
int run_demo(int argc, char** argv);

// The GPU of --gpu (or the first one), or the CPU with --cpu or when there is none.
class Args;
std::unique_ptr<Context> choose_device(const Args& args);

// What `cupick train` does after parsing its flags; the demo calls it too.
struct TrainRequest {
  bool fine_tune = false;
  unsigned seed = 10;
  int warmup = -1;  // -1: the config's warmup_epochs
  int early = 10;   // early-stopping patience, epochs
  bool augment = true;
};
TrainResult train_from_config(const Config& config, const std::string& config_path, Context& ctx,
                              const TrainRequest& request);

}  // namespace cupick::cli
