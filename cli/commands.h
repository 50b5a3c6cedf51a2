// The subcommands. Each parses its own flags (cli/args.h), calls the application layer (app/) and
// prints what came of it; errors are thrown as cupick::Error (mistakes in the command line as
// UsageError) and main() prints them as one line, with exit status 1 (2 for a UsageError or a
// missing argument).
#pragma once

namespace cupick::cli {

// argv[0] is the command's first argument (not the command name).
int run_info(int argc, char** argv);
int run_summary(int argc, char** argv);
int run_convert(int argc, char** argv);
int run_config(int argc, char** argv);
int run_train(int argc, char** argv);
int run_predict(int argc, char** argv);
int run_evaluate(int argc, char** argv);
int run_review(int argc, char** argv);
int run_simulate(int argc, char** argv);
int run_demo(int argc, char** argv);

}  // namespace cupick::cli
