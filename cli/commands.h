// The subcommands. Each parses its own flags (cli/args.h) and calls the library; errors are thrown
// as cupick::Error and main() prints them as one line.
#pragma once

namespace cupick::cli {

// argv[0] is the command's first argument (not the command name).
int run_info(int argc, char** argv);
int run_summary(int argc, char** argv);
int run_config(int argc, char** argv);
int run_train(int argc, char** argv);

}  // namespace cupick::cli
