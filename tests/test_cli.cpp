// The cupick program as a user runs it: exit statuses (0 done, 1 an error, 2 a mistake in the
// command line), errors as one line "cupick <command>: ..." that names the file and the problem,
// nothing half-written after a failure, and predict picking up where an earlier run stopped.
//
// Each test runs the program built beside this one (CUPICK_BINARY, set in CMakeLists.txt) in a
// folder of its own, stdout and stderr going to files there. predict runs on the CPU with crYOLO's
// network at a 128 x 128 input, on 128 x 128 micrographs, with weights that are only initialised
// (written once for the whole suite): a run takes well under a second.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "app/network.h"
#include "engine/error.h"
#include "image/simulate.h"
#include "io/config.h"
#include "io/mrc.h"
#include "io/weights.h"
#include "nets/network.h"
#include "tests/run_cupick.h"
#include "tests/temp_dir.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr int kSide = 128;  // micrographs and network input, pixels
constexpr int kBox = 32;    // the config's box size (anchors)

using test::cupick;
using test::failed_with;
using test::read_text;
using test::Result;
using test::split_lines;

// A mistake in the command line: status 2, the usage (or a line pointing to --help) on stderr only.
::testing::AssertionResult usage_error(const Result& r, const std::string& expected_in_err) {
  if (r.status == 2 && r.out.empty() && r.err.find(expected_in_err) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected status 2 and '" << expected_in_err << "' on stderr; status "
                                       << r.status << "\nstdout:\n" << r.out << "stderr:\n" << r.err;
}

// A simulated micrograph, written as MRC.
void write_micrograph(const std::string& path, int index) {
  SimulationOptions options;
  options.width = options.height = kSide;
  options.box_size = kBox;
  fs::create_directories(fs::path(path).parent_path());
  write_mrc(path, simulate_micrograph(options, index).image);
}

// Four simulated micrographs, mic/m0.mrc ... mic/m3.mrc.
const char* const kMicrographs[] = {"m0", "m1", "m2", "m3"};
void write_micrographs(const TempDir& dir) {
  for (int i = 0; i < 4; ++i) write_micrograph(dir / (std::string("mic/") + kMicrographs[i] + ".mrc"), i);
}

// The config the predict tests use: `architecture` at kSide, box kBox, the filter cache in `dir`.
std::string write_config(const TempDir& dir, const std::string& architecture = "crYOLO") {
  const std::string path = dir / "config.json";
  save_config(path, make_config(kBox, {{"architecture", architecture},
                                       {"input_size", std::to_string(kSide)},
                                       {"filtered_output", dir / "filtered"}}));
  return path;
}

// Two simulated micrographs with their boxes in dir/data, and a one-epoch config (`name` in `dir`)
// training the CPU demo network on them, validated on the same, saving dir/model.safetensors.
std::string write_training_config(const TempDir& dir, const std::string& name = "config.json") {
  SimulationOptions sim;
  sim.width = sim.height = kSide;
  sim.box_size = kBox;
  sim.count = 2;
  simulate_dataset(sim, dir / "data");
  const std::string path = dir / name;
  save_config(path, make_config(kBox, {{"architecture", "cupick-cpu-demo"},
                                       {"input_size", std::to_string(kSide)},
                                       {"train_image_folder", dir / "data/micrographs"},
                                       {"train_annot_folder", dir / "data/box"},
                                       {"valid_image_folder", dir / "data/micrographs"},
                                       {"valid_annot_folder", dir / "data/box"},
                                       {"nb_epoch", "1"},
                                       {"saved_weights_name", dir / "model.safetensors"},
                                       {"log_path", dir / "logs"}}));
  return path;
}

class Cli : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!folder_.empty()) fs::remove_all(folder_, ec);
  }
  // Initialised crYOLO weights (14.6 million parameters, 58 MB), written once per process, when a
  // test first needs them (CTest runs each test in a process of its own).
  static std::string weights() {
    if (folder_.empty()) {
      folder_ = fs::temp_directory_path() / ("cupick_cli_weights_" + std::to_string(getpid()));
      fs::create_directories(folder_);
      Context cpu;
      Graph graph = new_network("crYOLO", cpu, {1, 1, kSide, kSide}, 3);
      save_weights((folder_ / "crYOLO.safetensors").string(), graph.params());
    }
    return (folder_ / "crYOLO.safetensors").string();
  }

  TempDir dir;

  // `cupick predict` of `input` into dir/out on the CPU, with `more` flags.
  Result predict(const std::string& config, const std::string& input, const std::string& more = "") {
    return cupick(dir, "predict -c " + config + " -w " + weights() + " -i " + input + " -o " + (dir / "out") + " --cpu " + more);
  }

 private:
  static fs::path folder_;
};
fs::path Cli::folder_;

// ---- The command line itself --------------------------------------------------------------------

const char* const kCommands[] = {"demo", "simulate", "config", "train", "predict", "evaluate", "summary", "convert", "info"};

// No command at all is a request for the overview (as --help): every command listed, on stdout.
TEST_F(Cli, NoArgumentsListsTheCommands) {
  const Result r = cupick(dir, "");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  for (const char* command : kCommands) EXPECT_NE(r.out.find(std::string("  ") + command + " "), std::string::npos) << command;
}

TEST_F(Cli, UnknownCommandIsAUsageError) {
  const Result r = cupick(dir, "pick -i x.mrc");
  EXPECT_TRUE(usage_error(r, "cupick: unknown command 'pick'"));
  EXPECT_NE(r.err.find("usage: cupick <command>"), std::string::npos) << r.err;
}

TEST_F(Cli, UnknownOptionIsOneLineNamingItAndTheAllowedOnes) {
  const Result r = cupick(dir, "predict -c c.json --treshold 0.2");
  EXPECT_TRUE(usage_error(r, "cupick predict: unknown option --treshold (allowed: --conf, --weights"));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;
}

TEST_F(Cli, MissingRequiredOptionPrintsTheUsage) {
  // predict without -w, -i and -o; evaluate without -t; train and summary without -c; config without a box size.
  for (const auto& [args, usage] :
       {std::pair{"predict -c c.json", "usage: cupick predict -c CONFIG [-w WEIGHTS]"},
        std::pair{"evaluate -p picks", "usage: cupick evaluate -p PICKS -t TRUTH"},
        std::pair{"train", "usage: cupick train -c CONFIG"}, std::pair{"summary", "usage: cupick summary"},
        std::pair{"config out.json", "usage: cupick config OUT.json BOX_SIZE"}}) {
    const Result r = cupick(dir, args);
    EXPECT_TRUE(usage_error(r, usage)) << args;
  }
  EXPECT_FALSE(fs::exists(dir / "out.json"));
}

TEST_F(Cli, OptionWithoutItsValueIsAUsageError) {
  EXPECT_TRUE(usage_error(cupick(dir, "predict -c c.json -w w -i in -o"), "option -o needs a value"));
  EXPECT_TRUE(usage_error(cupick(dir, "predict -c c.json -w w -i in -o out -t high"), "--threshold needs a number, got 'high'"));
}

TEST_F(Cli, HelpOfEveryCommand) {
  for (const char* command : kCommands) {
    const Result r = cupick(dir, std::string(command) + " --help");
    EXPECT_EQ(r.status, 0) << command << ": " << r.err;
    EXPECT_EQ(r.out.rfind(std::string("usage: cupick ") + command, 0), 0u) << command << ": " << r.out;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << command;
    EXPECT_TRUE(r.err.empty()) << command << ": " << r.err;
  }
  EXPECT_TRUE(fs::is_empty(dir.path)) << "--help wrote something";  // demo --help, above all, ran nothing
}

// ---- predict ------------------------------------------------------------------------------------

TEST_F(Cli, PredictWithoutTheConfig) {
  write_micrograph(dir / "mic/a.mrc", 0);
  const Result r = predict(dir / "missing.json", dir / "mic");
  EXPECT_TRUE(failed_with(r, "predict", {dir / "missing.json", "no such file"}));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(Cli, PredictWithInvalidJsonNamesLineAndColumn) {
  write_micrograph(dir / "mic/a.mrc", 0);
  // A missing comma after "input_size": 128; the next key starts at line 5, column 9.
  const std::string config = dir.file("config.json", "{\n    \"model\": {\n        \"architecture\": \"crYOLO\",\n"
                                                     "        \"input_size\": 128\n        \"anchors\": [32, 32]\n"
                                                     "    }\n}\n");
  const Result r = predict(config, dir / "mic");
  EXPECT_TRUE(failed_with(r, "predict", {config + ":5:9: invalid JSON"}));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(Cli, PredictWithoutTheWeights) {
  write_micrograph(dir / "mic/a.mrc", 0);
  const std::string config = write_config(dir);
  const Result r = cupick(dir, "predict -c " + config + " -w " + (dir / "none.safetensors") + " -i " + (dir / "mic") +
                                   " -o " + (dir / "out") + " --cpu");
  EXPECT_TRUE(failed_with(r, "predict", {dir / "none.safetensors", "no such weights file"}));
  EXPECT_FALSE(fs::exists(dir / "out/CBOX/a.cbox"));
  const Result folder = cupick(dir, "predict -c " + config + " -w " + (dir / "mic") + " -i " + (dir / "mic") + " -o " +
                                        (dir / "out") + " --cpu");
  EXPECT_TRUE(failed_with(folder, "predict", {dir / "mic" + ": is a folder, not a weights file"}));
}

// $CUPICK_PRETRAINED for the commands run while this lives (the tests run one per process).
struct PretrainedFolder {
  explicit PretrainedFolder(const std::string& folder) { setenv("CUPICK_PRETRAINED", folder.c_str(), 1); }
  ~PretrainedFolder() { unsetenv("CUPICK_PRETRAINED"); }
};

// Without -w, predict picks with the network's pretrained start where one is found, and says so;
// where none is, the error names the config and the network. The start may be fp16 (convert --half,
// how it ships): half the size, and it picks.
TEST_F(Cli, PredictWithoutWeightsUsesThePretrainedStart) {
  write_micrograph(dir / "mic/a.mrc", 0);
  const std::string config = write_config(dir);
  fs::create_directories(dir / "pretrained");
  const PretrainedFolder folder(dir / "pretrained");
  const std::string run = "predict -c " + config + " -i " + (dir / "mic") + " -o " + (dir / "out") + " --cpu";
  Result r = cupick(dir, run);
  EXPECT_TRUE(failed_with(r, "predict", {config, "no weights given (-w) and no pretrained start ships for crYOLO"}));

  r = cupick(dir, "convert " + weights() + " " + (dir / "pretrained/crYOLO.safetensors") + " -a crYOLO --half --note test");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NEAR(double(fs::file_size(dir / "pretrained/crYOLO.safetensors")), fs::file_size(weights()) / 2.0,
              0.01 * double(fs::file_size(weights())));
  EXPECT_EQ(read_metadata(dir / "pretrained/crYOLO.safetensors").at("note"), "test");
  r = cupick(dir, run);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("weights: the pretrained start " + (dir / "pretrained/crYOLO.safetensors")), std::string::npos)
      << r.err;
  EXPECT_TRUE(fs::exists(dir / "out/CBOX/a.cbox"));
}

// Weights of crYOLO's network for a config of PhosaurusNet: the error names both files and says
// which network the config describes.
TEST_F(Cli, PredictWithWeightsOfAnotherNetwork) {
  write_micrograph(dir / "mic/a.mrc", 0);
  const std::string config = write_config(dir, "PhosaurusNet");
  const Result r = predict(config, dir / "mic");
  EXPECT_TRUE(failed_with(r, "predict", {weights(), config, "PhosaurusNet"}));
  EXPECT_FALSE(fs::exists(dir / "out/CBOX/a.cbox"));
}

// crYOLO's .h5 (written by convert, as Keras lays it out) picks exactly as the safetensors file it
// came from and as its conversion back; convert tells the network from the .h5's layers alone.
TEST_F(Cli, PredictWithAnH5PicksAsItsConversion) {
  write_micrograph(dir / "mic/a.mrc", 0);
  const std::string config = write_config(dir);
  Result r = cupick(dir, "convert " + weights() + " " + (dir / "model.h5") + " -a crYOLO");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("crYOLO, Keras .h5"), std::string::npos) << r.out;
  r = cupick(dir, "convert " + (dir / "model.h5") + " " + (dir / "back.safetensors"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = cupick(dir, "summary -w " + (dir / "model.h5"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("every tensor of crYOLO"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Keras 2.2.5 (tensorflow), top-level layers: model_1 conv_23"), std::string::npos) << r.out;
  std::string picks[3];
  const std::string files[3] = {weights(), dir / "model.h5", dir / "back.safetensors"};
  for (int i = 0; i < 3; ++i) {
    fs::remove_all(dir / "out");
    r = cupick(dir, "predict -c " + config + " -w " + files[i] + " -i " + (dir / "mic") + " -o " + (dir / "out") +
                        " --cpu -t 0.05");
    ASSERT_EQ(r.status, 0) << files[i] << "\n" << r.err;
    picks[i] = read_text(dir / "out/CBOX/a.cbox");
  }
  EXPECT_GT(split_lines(picks[0]).size(), 20u);  // enough picks to tell two networks apart
  EXPECT_EQ(picks[1], picks[0]);
  EXPECT_EQ(picks[2], picks[0]);
}

TEST_F(Cli, PredictOnAFolderWithoutMicrographs) {
  dir.file("mic/notes.txt", "no micrographs here\n");
  const Result r = predict(write_config(dir), dir / "mic");
  EXPECT_TRUE(failed_with(r, "predict", {dir / "mic", "no micrographs"}));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
}

// --batch beyond the number of micrographs is capped at it: a batch of a million 256² inputs would
// ask for 262 GB before the first micrograph is picked.
TEST_F(Cli, PredictCapsTheBatchAtTheNumberOfMicrographs) {
  write_micrograph(dir / "mic/a.mrc", 0);
  const Result r = predict(write_config(dir), dir / "mic", "--batch 1000000");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "out/CBOX/a.cbox"));
}

// --threads sets the host's threads; the picks do not depend on how many (OpenBLAS splits a product
// by rows and columns, never along the sum, and the other loops give each output to one thread).
TEST_F(Cli, PredictThreadsDoNotChangeThePicks) {
  write_micrograph(dir / "mic/a.mrc", 0);
  const std::string config = write_config(dir);
  EXPECT_TRUE(usage_error(cupick(dir, "predict -c " + config + " -i mic -o out --threads 0"),
                          "--threads needs a number of threads >= 1, got 0"));
  ASSERT_EQ(predict(config, dir / "mic", "--threads 1").status, 0);
  const std::string one = read_text(dir / "out/CBOX/a.cbox");
  fs::remove_all(dir / "out");
  const Result r = predict(config, dir / "mic", "--threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_text(dir / "out/CBOX/a.cbox"), one);
}

TEST_F(Cli, PredictOnAMissingInput) {
  const std::string config = write_config(dir);
  const Result r = predict(config, dir / "nowhere");
  EXPECT_TRUE(failed_with(r, "predict", {dir / "nowhere", "no such file or folder"}));
  // Under a file: the message names the file in the way, not "no such file".
  write_micrograph(dir / "mic/a.mrc", 0);
  const Result under = predict(config, dir / "mic/a.mrc/b.mrc");
  EXPECT_TRUE(failed_with(under, "predict", {dir / "mic/a.mrc/b.mrc: is inside '" + dir / "mic/a.mrc" + "', which is a file"}));
}

// A truncated micrograph among good ones: the good ones are picked, the bad one is named, the run
// fails, and nothing is left half-written (no temporary files, no results for the bad one).
TEST_F(Cli, PredictPicksTheGoodMicrographsAndNamesTheTruncatedOne) {
  write_micrographs(dir);
  fs::resize_file(dir / "mic/m2.mrc", 1024 + kSide * 10 * 4);  // the header and 10 of 128 rows
  const Result r = predict(write_config(dir), dir / "mic", "--batch 2");
  EXPECT_TRUE(failed_with(r, "predict", {"1 of 4 micrographs could not be picked"}));
  EXPECT_NE(r.out.find("picked 3 micrographs"), std::string::npos) << r.out;
  bool named = false;
  for (const std::string& line : split_lines(r.err))
    named = named || (line.rfind("warning: ", 0) == 0 && line.find(dir / "mic/m2.mrc") != std::string::npos);
  EXPECT_TRUE(named) << "no warning names m2.mrc:\n" << r.err;
  for (const char* name : {"m0", "m1", "m3"}) {
    EXPECT_TRUE(fs::exists(dir / ("out/CBOX/" + std::string(name) + ".cbox"))) << name;
    EXPECT_TRUE(fs::exists(dir / ("out/EMAN/" + std::string(name) + ".box"))) << name;
    EXPECT_TRUE(fs::exists(dir / ("out/STAR/" + std::string(name) + ".star"))) << name;
  }
  for (const char* sub : {"CBOX", "EMAN", "STAR"})
    for (const fs::directory_entry& e : fs::directory_iterator(dir.path / "out" / sub))
      EXPECT_EQ(e.path().stem().string().rfind("m2", 0), std::string::npos) << e.path();
  // The review page shows the three picked; the damaged one is not warned about a second time.
  const std::string page_data = read_text(dir / "out/review/picks.js");
  EXPECT_NE(page_data.find("\"m3\""), std::string::npos);
  EXPECT_EQ(page_data.find("\"m2\""), std::string::npos);
  EXPECT_EQ(r.err.find("review"), std::string::npos) << r.err;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir.path))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
}

// A file name holding a terminal's escape sequence (one that would set the window's title) and a
// line break, in a damaged micrograph: the warning names it with the control bytes written out, so
// nothing but the line ends on stderr is a control byte and every message stays one line.
TEST_F(Cli, ControlBytesInAFileNameAreEscapedInMessages) {
  write_micrographs(dir);
  const std::string name = "evil\x1b]0;owned\x07\nname.mrc";
  fs::copy_file(dir / "mic/m0.mrc", dir / ("mic/" + name));
  fs::resize_file(dir / ("mic/" + name), 2000);
  const Result r = predict(write_config(dir), dir / "mic");
  EXPECT_TRUE(failed_with(r, "predict", {"1 of 5 micrographs could not be picked"}));
  for (char c : r.err) EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20) << int(c) << "\n" << r.err;
  EXPECT_NE(r.err.find("evil\\x1b]0;owned\\x07\\nname.mrc"), std::string::npos) << r.err;
  EXPECT_EQ(printable("a\tb\r\x7f \xc2\x9b[2J \xc3\xa9"), "a\\tb\\r\\x7f \\xc2\\x9b[2J \xc3\xa9");  // é stays
}

// An interrupted run, as predict sees it: one micrograph without results (its CBOX, the last file
// written, is missing) and one with its CBOX but not its EMAN file. The next run picks only the
// first (the CBOX marks a micrograph done), and what it writes is what the first run wrote;
// --overwrite picks all four again, the same.
TEST_F(Cli, PredictResumesWhereItStopped) {
  write_micrographs(dir);
  const std::string config = write_config(dir);
  Result r = predict(config, dir / "mic", "-t 0");  // -t 0: every box in every file, so they are not empty
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("picked 4 micrographs (0 done before)"), std::string::npos) << r.out;
  auto cbox = [&](int i) { return dir.path / "out" / "CBOX" / (std::string(kMicrographs[i]) + ".cbox"); };
  std::vector<std::string> first;
  for (int i = 0; i < 4; ++i) first.push_back(read_text(cbox(i)));
  ASSERT_FALSE(split_lines(first[1]).empty());
  const std::string eman1 = read_text(dir.path / "out" / "EMAN" / "m1.box");
  const auto written_before = fs::last_write_time(cbox(0));

  fs::remove(cbox(1));
  fs::remove(dir.path / "out" / "EMAN" / "m2.box");
  r = predict(config, dir / "mic", "-t 0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("picked 1 micrographs (3 done before)"), std::string::npos) << r.out;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(read_text(cbox(i)), first[i]) << "m" << i;
  EXPECT_EQ(fs::last_write_time(cbox(0)), written_before) << "a done micrograph was written again";
  EXPECT_EQ(read_text(dir.path / "out" / "EMAN" / "m1.box"), eman1);

  r = predict(config, dir / "mic", "-t 0 --overwrite");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("picked 4 micrographs (0 done before)"), std::string::npos) << r.out;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(read_text(cbox(i)), first[i]) << "m" << i;
  EXPECT_TRUE(fs::exists(dir.path / "out" / "EMAN" / "m2.box"));
}

// A folder's picks are resumed only under the settings that made them (its cupick_run.json): another
// threshold, other weights or a changed model section is refused, naming what changed and
// --overwrite; the filter cache's folder is not a setting. --overwrite picks again and records the
// new settings; a re-pick stopped half-way then resumes under them.
TEST_F(Cli, PredictResumesOnlyUnderTheSameSettings) {
  write_micrographs(dir);
  const std::string config = write_config(dir);
  ASSERT_EQ(predict(config, dir / "mic", "-t 0").status, 0);
  const std::string record = read_text(dir / "out/cupick_run.json");
  EXPECT_NE(record.find("\"threshold\": 0.0"), std::string::npos) << record;
  EXPECT_NE(record.find("\"weights_file\": \"" + weights() + "\""), std::string::npos) << record;

  Result r = predict(config, dir / "mic", "-t 0.2");
  EXPECT_TRUE(failed_with(r, "predict", {dir / "out", "picked before with other settings", "threshold 0.0, now 0.2",
                                         "--overwrite"}));
  fs::copy_file(weights(), dir / "other.safetensors");
  {
    std::fstream f(dir / "other.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-4, std::ios::end);
    f.write("\0\0\0\0", 4);  // the last weight 0: other weights
  }
  r = cupick(dir, "predict -c " + config + " -w " + (dir / "other.safetensors") + " -i " + (dir / "mic") + " -o " +
                      (dir / "out") + " --cpu -t 0");
  EXPECT_TRUE(failed_with(r, "predict", {"weights \""}));
  save_config(config, make_config(kBox + 8, {{"architecture", "crYOLO"}, {"input_size", std::to_string(kSide)},
                                             {"filtered_output", dir / "filtered"}}),
              true);  // another box size
  EXPECT_TRUE(failed_with(predict(config, dir / "mic", "-t 0"), "predict", {"model"}));
  save_config(config, make_config(kBox, {{"architecture", "crYOLO"}, {"input_size", std::to_string(kSide)},
                                         {"filtered_output", dir / "elsewhere"}}),
              true);  // only the cache folder changed
  r = predict(config, dir / "mic", "-t 0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("picked 0 micrographs (4 done before)"), std::string::npos) << r.out;
  EXPECT_EQ(read_text(dir / "out/cupick_run.json"), record);

  r = predict(config, dir / "mic", "-t 0.2 --overwrite");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("picked 4 micrographs (0 done before)"), std::string::npos) << r.out;
  EXPECT_NE(read_text(dir / "out/cupick_run.json").find("\"threshold\": 0.2"), std::string::npos);
  r = predict(config, dir / "mic", "-t 0.2");
  EXPECT_NE(r.out.find("picked 0 micrographs (4 done before)"), std::string::npos) << r.out << r.err;

  // An interrupted re-pick with new settings: the old picks are not taken for done ones.
  fs::remove(dir / "out/cupick_run.json");
  EXPECT_TRUE(failed_with(predict(config, dir / "mic", "-t 0.2"), "predict", {"no record"}));
}

// --otf filters in memory: the same picks as through the filter cache, and nothing written
// anywhere else (neither the cache folder nor a temporary one).
TEST_F(Cli, PredictOnTheFlyWritesNothingButItsOutputs) {
  write_micrographs(dir);
  const std::string config = write_config(dir);
  const std::string tmp = dir / "tmp", weights_file = weights();  // the weights first: into the usual place
  fs::create_directories(tmp);
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved = old_tmpdir ? old_tmpdir : "";
  setenv("TMPDIR", tmp.c_str(), 1);  // where a temporary folder would go
  const Result otf = cupick(dir, "predict -c " + config + " -w " + weights_file + " -i " + (dir / "mic") + " -o " +
                                     (dir / "otf") + " --cpu -t 0 --otf");
  if (old_tmpdir) setenv("TMPDIR", saved.c_str(), 1);
  else unsetenv("TMPDIR");
  ASSERT_EQ(otf.status, 0) << otf.err;
  EXPECT_FALSE(fs::exists(dir / "filtered"));
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(tmp)) ADD_FAILURE() << "written: " << e.path();
  const Result cached = predict(config, dir / "mic", "-t 0");
  ASSERT_EQ(cached.status, 0) << cached.err;
  EXPECT_FALSE(fs::is_empty(dir / "filtered"));
  for (const char* name : kMicrographs)
    EXPECT_EQ(read_text(dir / ("otf/CBOX/" + std::string(name) + ".cbox")),
              read_text(dir / ("out/CBOX/" + std::string(name) + ".cbox")))
        << name;
}

// predict writes the review page beside its outputs (not with --no_review); `cupick review` writes
// it again, here with predict's EMAN boxes standing in for the ground truth.
TEST_F(Cli, PredictWritesTheReviewPageAndReviewWritesItAgain) {
  write_micrographs(dir);
  const std::string config = write_config(dir);
  const Result r = predict(config, dir / "mic", "-t 0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("review page: open " + (dir / "out/review/index.html")), std::string::npos) << r.out;
  for (const char* name : kMicrographs) EXPECT_TRUE(fs::exists(dir / ("out/review/thumbs/" + std::string(name) + ".jpg")));
  EXPECT_NE(read_text(dir / "out/review/picks.js").find("\"has_truth\":false"), std::string::npos);
  for (const char* plot : {"confidence_histogram", "size_histogram"})
    for (const char* ext : {".png", ".svg"})
      EXPECT_TRUE(fs::exists(dir / ("out/DISTR/" + std::string(plot) + ext))) << plot << ext;

  const Result again = cupick(dir, "review -p " + (dir / "out") + " -i " + (dir / "mic") + " -t " + (dir / "out/EMAN") +
                                       " -o " + (dir / "page") + " --thumbnail 64");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("review page of 4 micrographs"), std::string::npos) << again.out;
  EXPECT_NE(read_text(dir / "page/picks.js").find("\"has_truth\":true"), std::string::npos);
  EXPECT_EQ(read_micrograph(dir / "page/thumbs/m0.jpg").width, 64);

  const Result none = cupick(dir, "predict -c " + config + " -w " + weights() + " -i " + (dir / "mic") + " -o " +
                                      (dir / "quiet") + " --cpu --no_review");
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_FALSE(fs::exists(dir / "quiet/review"));
}

// ---- evaluate, config, train --------------------------------------------------------------------

TEST_F(Cli, EvaluateWithAnEmptyPicksFolder) {
  fs::create_directories(dir.path / "picks");
  dir.file("truth/m0.box", "10\t10\t32\t32\n");
  const Result r = cupick(dir, "evaluate -p " + (dir / "picks") + " -t " + (dir / "truth"));
  EXPECT_TRUE(failed_with(r, "evaluate", {dir / "picks", "holds no .box, .star or .cbox file"}));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_FALSE(fs::exists(dir / "picks/report.json"));
}

TEST_F(Cli, EvaluateWithoutTheTruthFolder) {
  dir.file("picks/m0.box", "10\t10\t32\t32\n");
  const Result r = cupick(dir, "evaluate -p " + (dir / "picks") + " -t " + (dir / "truth"));
  EXPECT_TRUE(failed_with(r, "evaluate", {dir / "truth", "does not exist"}));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_FALSE(fs::exists(dir / "picks/report.json"));
}

// Each option on one line of the help, with its own help text.
TEST_F(Cli, ConfigHelpListsEveryOptionWithItsHelp) {
  const Result r = cupick(dir, "config --help");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> lines = split_lines(r.out);
  for (const ConfigOption& o : config_options()) {
    const std::string start = "  --" + o.name + " VALUE ";
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.starts_with(start) && line.ends_with(" " + o.help);
    })) << "--" << o.name << " with \"" << o.help << "\" in:\n" << r.out;
  }
}

TEST_F(Cli, ConfigDoesNotOverwriteWithoutBeingAsked) {
  Result r = cupick(dir, "config cfg.json 160 --input_size 512");
  ASSERT_EQ(r.status, 0) << r.err;
  const Config written = load_config(dir / "cfg.json");
  EXPECT_EQ(written.model.anchors, (Anchor{160, 160}));
  EXPECT_EQ(written.model.input_size.height, 512);
  const std::string before = read_text(dir.path / "cfg.json");

  r = cupick(dir, "config cfg.json 200");
  EXPECT_TRUE(failed_with(r, "config", {"cfg.json", "already exists"}));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(read_text(dir.path / "cfg.json"), before);

  r = cupick(dir, "config cfg.json 200 --overwrite");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(load_config(dir / "cfg.json").model.anchors, (Anchor{200, 200}));
  for (const fs::directory_entry& e : fs::directory_iterator(dir.path))
    EXPECT_EQ(e.path().filename(), "cfg.json") << "left behind: " << e.path();
}

TEST_F(Cli, TrainWithoutTheImageFolder) {
  fs::create_directories(dir.path / "annot");
  const std::string config = dir / "config.json";
  save_config(config, make_config(kBox, {{"input_size", std::to_string(kSide)},
                                         {"train_image_folder", dir / "images"},
                                         {"train_annot_folder", dir / "annot"}}));
  const Result r = cupick(dir, "train -c " + config + " --cpu");
  EXPECT_TRUE(failed_with(r, "train", {config, "train.train_image_folder '" + (dir / "images") + "' does not exist"}));
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
}

// A missing network description, or start weights of another network, are reported before any
// micrograph is read (reading a real training set takes minutes).
TEST_F(Cli, TrainChecksTheNetworkBeforeReadingMicrographs) {
  write_micrograph(dir / "images/a.mrc", 0);
  dir.file("annot/a.box", "");
  const std::string config = dir / "config.json";
  save_config(config, make_config(kBox, {{"architecture", dir / "missing.json"},
                                         {"input_size", std::to_string(kSide)},
                                         {"train_image_folder", dir / "images"},
                                         {"train_annot_folder", dir / "annot"}}));
  Result r = cupick(dir, "train -c " + config + " --cpu");
  EXPECT_TRUE(failed_with(r, "train", {dir / "missing.json"}));
  EXPECT_EQ(r.err.find("reading"), std::string::npos) << r.err;

  save_config(config, make_config(kBox, {{"architecture", "PhosaurusNet"},
                                         {"input_size", std::to_string(kSide)},
                                         {"train_image_folder", dir / "images"},
                                         {"train_annot_folder", dir / "annot"},
                                         {"pretrained_weights", weights()}}),
              /*overwrite=*/true);
  r = cupick(dir, "train -c " + config + " --cpu");
  EXPECT_TRUE(failed_with(r, "train", {weights(), config, "PhosaurusNet"}));
  EXPECT_EQ(r.err.find("reading"), std::string::npos) << r.err;
}

// Training without pretrained_weights starts from the network's pretrained start where one is
// found and says so; --from_scratch starts from random weights; --fine_tune then has nothing to
// fine-tune and says why, before any micrograph is read.
TEST_F(Cli, TrainStartsFromThePretrainedStart) {
  const std::string config = write_training_config(dir);
  fs::create_directories(dir / "pretrained");
  Context cpu;
  Graph start = new_network("cupick-cpu-demo", cpu, {1, 1, kSide, kSide}, 5);
  save_weights(dir / "pretrained/cupick-cpu-demo.safetensors", start.params(), {}, /*half=*/true);
  const PretrainedFolder folder(dir / "pretrained");

  Result r = cupick(dir, "train -c " + config + " --cpu");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("starting from the pretrained start " + (dir / "pretrained/cupick-cpu-demo.safetensors")),
            std::string::npos) << r.err;
  r = cupick(dir, "train -c " + config + " --cpu --from_scratch");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("starting from"), std::string::npos) << r.err;
  r = cupick(dir, "train -c " + config + " --cpu --from_scratch --fine_tune");
  EXPECT_TRUE(failed_with(r, "train", {config, "--fine_tune needs train.pretrained_weights (--from_scratch"}));
  EXPECT_EQ(r.err.find("reading"), std::string::npos) << r.err;
}

// No CUDA library is a load-time dependency (engine/cuda_libraries.h): ldd lists none, and with the
// dynamic loader told to ignore its cache (through which it finds them on this machine) `info`
// says cuDNN and cuFFT are missing, and a CPU predict and a CPU train run as usual.
TEST_F(Cli, StartsAndRunsOnTheCpuWithoutTheCudaLibraries) {
  const std::string listing = dir / "ldd.txt";
  ASSERT_EQ(std::system(("ldd '" + test::cupick_binary() + "' > '" + listing + "'").c_str()), 0);
  const std::string libraries = read_text(listing);
  for (const char* lib : {"libcudnn", "libcufft", "libcublas", "libcudart"})
    EXPECT_EQ(libraries.find(lib), std::string::npos) << lib << " is a load-time dependency:\n" << libraries;

  const std::string loader = "/lib64/ld-linux-x86-64.so.2";
  if (!fs::exists(loader)) GTEST_SKIP() << "no " << loader << " to run cupick with the libraries hidden";
  // Under AddressSanitizer, LeakSanitizer reports the loader's own allocations for a dlopen that
  // fails (glibc's _dl_map_object_deps), which are not cupick's: leak checks are off for these runs.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string hidden = "env ASAN_OPTIONS='" + std::string(asan ? asan : "") + ":detect_leaks=0' " + loader +
                             " --inhibit-cache";
  const Result info = cupick(dir, "info", hidden);
  ASSERT_EQ(info.status, 0) << info.err;
  if (info.out.find("cuDNN: not found") == std::string::npos || info.out.find("cuFFT: not found") == std::string::npos)
    GTEST_SKIP() << "the CUDA libraries are in a system folder here, where the loader finds them anyway:\n" << info.out;
  EXPECT_NE(info.out.find("cupick runs on the CPU"), std::string::npos) << info.out;

  write_micrograph(dir / "mic/a.mrc", 0);
  const std::string config = write_config(dir);
  const Result picked = cupick(dir, "predict -c " + config + " -w " + weights() + " -i mic -o out --cpu", hidden);
  ASSERT_EQ(picked.status, 0) << picked.err;
  EXPECT_TRUE(fs::exists(dir / "out/CBOX/a.cbox"));

  const std::string training = write_training_config(dir, "training.json");
  const Result trained = cupick(dir, "train -c " + training + " --cpu --from_scratch", hidden);
  ASSERT_EQ(trained.status, 0) << trained.err;
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
}

}  // namespace
}  // namespace cupick
