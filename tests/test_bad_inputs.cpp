// The catalogue of bad inputs, docs/BAD_INPUTS.md: every case below is made in a folder of its own,
// the cupick program is run on it, and what it says (warnings and the error, the folder's path
// left out) is the catalogue's entry. The test fails when the catalogue in docs/ is not what the
// program says today, so that it stays true; CUPICK_UPDATE_DOCS=1 writes it instead.
//
// Every case must also end as a user may expect: the exit status the case names (1 an error, 2 a
// mistake in the command line, 0 where a warning is enough), no crash, no raw library text
// ("filesystem error", "std::", "basic_"), the error as the last line ("cupick <command>: ..."),
// and no temporary file left behind.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/network.h"
#include "image/plot.h"
#include "image/simulate.h"
#include "io/annotations.h"
#include "io/config.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "io/weights.h"
#include "nets/network.h"
#include "tests/run_cupick.h"
#include "tests/temp_dir.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;

constexpr int kSide = 128;  // micrographs and network input, pixels
constexpr int kBox = 32;

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const fs::path& path) { return test::read_text(path); }

// Little-endian words, as the files below are written.
std::string le(uint32_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xff);
  return s;
}
std::string be(uint32_t v, int bytes) {
  std::string s;
  for (int i = bytes - 1; i >= 0; --i) s += char((v >> (8 * i)) & 0xff);
  return s;
}

// A simulated micrograph of kSide x kSide.
Image simulated(int index) {
  SimulationOptions options;
  options.width = options.height = kSide;
  options.box_size = kBox;
  return simulate_micrograph(options, index).image;
}

void good_micrograph(const fs::path& path) {
  fs::create_directories(path.parent_path());
  write_mrc(path.string(), simulated(0));
}

// A good MRC with bytes replaced at `offset`.
void patched_mrc(const fs::path& path, size_t offset, const std::string& bytes) {
  good_micrograph(path);
  std::string s = read_bytes(path);
  s.replace(offset, bytes.size(), bytes);
  write_bytes(path, s);
}

// A good PNG (a plot: any PNG will do) whose IHDR claims width x height, its CRC mended.
void png_claiming(const fs::path& path, uint32_t width, uint32_t height) {
  fs::create_directories(path.parent_path());
  write_line_plot_png(path.string(), LinePlot{});
  std::string s = read_bytes(path);
  s.replace(16, 8, be(width, 4) + be(height, 4));
  uint32_t crc = 0xffffffffu;  // CRC-32 of the chunk's type and data (ISO 3309)
  for (unsigned char b : s.substr(12, 17)) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  s.replace(29, 4, be(~crc, 4));
  write_bytes(path, s);
}

// An uncompressed 8-bit TIFF whose one strip claims width x height pixels; the file holds 64.
void tiff_claiming(const fs::path& path, uint32_t width, uint32_t height) {
  struct Entry {
    uint16_t tag, type;
    uint32_t value;
  };
  const uint32_t data = 8 + 2 + 9 * 12 + 4;  // after the header and the one IFD
  const std::vector<Entry> entries = {{256, 4, width}, {257, 4, height}, {258, 3, 8},     {259, 3, 1},
                                      {262, 3, 1},     {273, 4, data},   {277, 3, 1},     {278, 4, height},
                                      {279, 4, width * height}};
  std::string s = "II" + le(42, 2) + le(8, 4) + le(uint32_t(entries.size()), 2);
  for (const Entry& e : entries) s += le(e.tag, 2) + le(e.type, 2) + le(1, 4) + le(e.value, 4);
  s += le(0, 4) + std::string(64, '\x40');
  write_bytes(path, s);
}

void weights_of(const std::string& architecture, const fs::path& path) {
  Context cpu;
  Graph graph = new_network(architecture, cpu, {1, 1, kSide, kSide}, 3);
  save_weights(path.string(), graph.params());
}

// Good weights whose first f32 value is made a NaN (save_weights refuses to write one): the data
// starts after the 8-byte header length and the JSON header.
void nan_weights(const fs::path& from, const fs::path& path) {
  std::string s = read_bytes(from);
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | uint8_t(s[size_t(i)]);
  s.replace(8 + header, 4, le(0x7fc00000u, 4));
  write_bytes(path, s);
}

// The folder every case starts from: config.json (the CPU demo network at 128 x 128, box 32, no
// filter), w.safetensors (its weights), mic/good.mrc, box/good.box, and train.json, which
// trains on mic/ and box/ and validates on them.
void good_folder(const fs::path& folder, const fs::path& weights) {
  fs::create_directories(folder);
  const std::vector<std::pair<std::string, std::string>> model = {
      {"architecture", "cupick-cpu-demo"}, {"input_size", std::to_string(kSide)}, {"filter", "none"}};
  save_config((folder / "config.json").string(), make_config(kBox, model));
  std::vector<std::pair<std::string, std::string>> train = model;
  train.insert(train.end(), {{"train_image_folder", "mic"}, {"train_annot_folder", "box"},
                             {"valid_image_folder", "mic"}, {"valid_annot_folder", "box"},
                             {"saved_weights_name", "model.safetensors"}, {"log_path", "logs/"},
                             {"nb_epoch", "1"}});
  save_config((folder / "train.json").string(), make_config(kBox, train));
  fs::create_hard_link(weights, folder / "w.safetensors");
  good_micrograph(folder / "mic/good.mrc");
  fs::create_directories(folder / "box");
  write_eman_box((folder / "box/good.box").string(), {{64, 64, kBox, kBox, 1}}, kBox);
}

void edit_config(const fs::path& path, const std::function<void(nlohmann::ordered_json&)>& edit) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(read_bytes(path));
  edit(j);
  write_bytes(path, j.dump(4));
}

const std::string kPredict = "predict -c config.json -w w.safetensors -i mic -o out --cpu";
const std::string kTrain = "train -c train.json --cpu";

struct Case {
  const char* section;
  const char* input;  // what is wrong, as the catalogue says it
  std::function<void(const fs::path& folder)> make;
  std::string command;  // cupick's arguments, run in the case's folder
  int status;           // the exit status it must end with
};

std::vector<Case> cases() {
  using J = nlohmann::ordered_json;
  return {
      // ---- config
      {"Config", "the config file does not exist", [](const fs::path&) {},
       "predict -c none.json -w w.safetensors -i mic -o out --cpu", 1},
      {"Config", "the config is a folder", [](const fs::path&) {},
       "predict -c mic -w w.safetensors -i mic -o out --cpu", 1},
      {"Config", "the config is under a file", [](const fs::path&) {},
       "predict -c config.json/c.json -w w.safetensors -i mic -o out --cpu", 1},
      {"Config", "the config is not JSON (a trailing comma)",
       [](const fs::path& f) { write_bytes(f / "config.json", "{\"model\": {\"architecture\": \"crYOLO\",}}\n"); },
       kPredict, 1},
      {"Config", "`input_size` is a string",
       [](const fs::path& f) { edit_config(f / "config.json", [](J& j) { j["model"]["input_size"] = "1024"; }); },
       kPredict, 1},
      {"Config", "an architecture cupick does not know",
       [](const fs::path& f) { edit_config(f / "config.json", [](J& j) { j["model"]["architecture"] = "Full Yolo"; }); },
       kPredict, 1},
      {"Config", "a JANNI denoising filter",
       [](const fs::path& f) {
         edit_config(f / "config.json", [](J& j) { j["model"]["filter"] = J::array({"janni.h5", 24, 3, "tmp/"}); });
       },
       kPredict, 1},
      {"Config", "no `anchors` (the box size) for picking",
       [](const fs::path& f) { edit_config(f / "config.json", [](J& j) { j["model"].erase("anchors"); }); }, kPredict,
       1},
      {"Config", "an unknown key (picking goes on)",
       [](const fs::path& f) { edit_config(f / "config.json", [](J& j) { j["model"]["colour"] = "blue"; }); }, kPredict,
       0},
      {"Config", "`input_size` not a multiple of 32 (picking goes on)",
       [](const fs::path& f) { edit_config(f / "config.json", [](J& j) { j["model"]["input_size"] = 100; }); },
       kPredict, 0},

      // ---- micrographs
      {"Micrographs", "an MRC file cut after its header",
       [](const fs::path& f) { write_bytes(f / "mic/cut.mrc", read_bytes(f / "mic/good.mrc").substr(0, 1100)); },
       kPredict, 1},
      {"Micrographs", "an MRC header claiming 65536 x 65536 pixels",
       [](const fs::path& f) { patched_mrc(f / "mic/huge.mrc", 0, le(65536, 4) + le(65536, 4)); }, kPredict, 1},
      {"Micrographs", "an MRC mode that does not exist (9)",
       [](const fs::path& f) { patched_mrc(f / "mic/mode9.mrc", 12, le(9, 4)); }, kPredict, 1},
      {"Micrographs", "an empty .mrc file", [](const fs::path& f) { write_bytes(f / "mic/empty.mrc", ""); }, kPredict,
       1},
      {"Micrographs", "a PNG header claiming 65536 x 65536 pixels",
       [](const fs::path& f) { png_claiming(f / "mic/huge.png", 65536, 65536); }, kPredict, 1},
      {"Micrographs", "a PNG header claiming more pixels than the file holds",
       [](const fs::path& f) { png_claiming(f / "mic/big.png", 12000, 12000); }, kPredict, 1},
      {"Micrographs", "a JPEG cut in half",
       [](const fs::path& f) {
         write_jpeg((f / "mic/cut.jpg").string(), simulated(0), 90);
         const std::string s = read_bytes(f / "mic/cut.jpg");
         write_bytes(f / "mic/cut.jpg", s.substr(0, s.size() / 2));
       },
       kPredict, 1},
      {"Micrographs", "a TIFF strip claiming 16000 x 16000 pixels",
       [](const fs::path& f) { tiff_claiming(f / "mic/huge.tif", 16000, 16000); }, kPredict, 1},
      {"Micrographs", "a micrograph of 31 x 40 pixels",
       [](const fs::path& f) { write_mrc((f / "mic/tiny.mrc").string(), Image(31, 40, 1)); }, kPredict, 1},
      {"Micrographs", "a micrograph of 40 x 4000 pixels",
       [](const fs::path& f) { write_mrc((f / "mic/thin.mrc").string(), Image(40, 4000, 1)); }, kPredict, 1},
      {"Micrographs", "a micrograph whose pixels are all NaN",
       [](const fs::path& f) {
         write_mrc((f / "mic/nan.mrc").string(), Image(kSide, kSide, std::numeric_limits<float>::quiet_NaN()));
       },
       kPredict, 1},
      {"Micrographs", "a control byte (ESC) in a micrograph's name",
       [](const fs::path& f) { write_bytes(f / "mic/bad\x1b]0;x\a.mrc", "MRC?"); }, kPredict, 1},
      {"Micrographs", "an input that is not a micrograph",
       [](const fs::path& f) { write_bytes(f / "notes.txt", "picked by hand\n"); },
       "predict -c config.json -w w.safetensors -i notes.txt -o out --cpu", 1},
      {"Micrographs", "an input that does not exist", [](const fs::path&) {},
       "predict -c config.json -w w.safetensors -i nowhere -o out --cpu", 1},
      {"Micrographs", "an input under a file", [](const fs::path&) {},
       "predict -c config.json -w w.safetensors -i mic/good.mrc/x.mrc -o out --cpu", 1},
      {"Micrographs", "a folder without micrographs",
       [](const fs::path& f) { write_bytes(f / "empty/notes.txt", "nothing here\n"); },
       "predict -c config.json -w w.safetensors -i empty -o out --cpu", 1},

      // ---- weights
      {"Weights", "the weights file does not exist", [](const fs::path&) {},
       "predict -c config.json -w none.safetensors -i mic -o out --cpu", 1},
      {"Weights", "the weights path is a folder", [](const fs::path&) {},
       "predict -c config.json -w mic -i mic -o out --cpu", 1},
      {"Weights", "a weights file cut short",
       [](const fs::path& f) { write_bytes(f / "cut.safetensors", read_bytes(f / "w.safetensors").substr(0, 5000)); },
       "predict -c config.json -w cut.safetensors -i mic -o out --cpu", 1},
      {"Weights", "weights of another network than the config's",
       [](const fs::path& f) { edit_config(f / "config.json", [](J& j) { j["model"]["architecture"] = "YOLO"; }); },
       kPredict, 1},
      {"Weights", "a NaN among the weights",
       [](const fs::path& f) { nan_weights(f / "w.safetensors", f / "nan.safetensors"); },
       "predict -c config.json -w nan.safetensors -i mic -o out --cpu", 1},

      // ---- outputs
      {"Outputs", "picking again into a folder picked with another threshold",
       [](const fs::path& f) { test::cupick(f, kPredict + " -t 0.3"); }, kPredict + " -t 0.5", 1},
      {"Outputs", "an output folder that is a file",
       [](const fs::path& f) { write_bytes(f / "out", "a file\n"); }, kPredict, 1},

      // ---- training data
      {"Training data", "`train_image_folder` does not exist",
       [](const fs::path& f) { edit_config(f / "train.json", [](J& j) { j["train"]["train_image_folder"] = "images"; }); },
       kTrain, 1},
      {"Training data", "a .box line with three values",
       [](const fs::path& f) { write_bytes(f / "box/good.box", "10\t20\t32\t32\n30 40 32\n"); }, kTrain, 1},
      {"Training data", "a .box value that is not a number",
       [](const fs::path& f) { write_bytes(f / "box/good.box", "10\t20\t32\t32\n30 4O 32 32\n"); }, kTrain, 1},
      {"Training data", "a .box width of 0",
       [](const fs::path& f) { write_bytes(f / "box/good.box", "10 20 0 32\n"); }, kTrain, 1},
      {"Training data", "a STAR file without coordinate columns",
       [](const fs::path& f) {
         fs::remove(f / "box/good.box");
         write_bytes(f / "box/good.star", "data_\nloop_\n_rlnMicrographName #1\ngood.mrc\n");
       },
       kTrain, 1},
      {"Training data", "x.box and x.star for one micrograph",
       [](const fs::path& f) { write_star((f / "box/good.star").string(), {{64, 64, 0, 0, 1}}, "good.mrc"); }, kTrain,
       1},
      {"Training data", "x.mrc and x.jpg in one folder",
       [](const fs::path& f) { write_jpeg((f / "mic/good.jpg").string(), simulated(1), 90); },
       kTrain, 1},
      {"Training data", "a network description that does not exist",
       [](const fs::path& f) { edit_config(f / "train.json", [](J& j) { j["model"]["architecture"] = "mine.json"; }); },
       kTrain, 1},
      {"Training data", "no `anchors` (the box size) for training",
       [](const fs::path& f) { edit_config(f / "train.json", [](J& j) { j["model"].erase("anchors"); }); }, kTrain, 1},

      // ---- evaluation
      {"Evaluation", "STAR picks without a box size (`-b`)",
       [](const fs::path& f) {
         fs::create_directories(f / "picks");
         write_star((f / "picks/good.star").string(), {{64, 64, 0, 0, 0.9f}}, "good.mrc");
       },
       "evaluate -p picks -t box", 1},
      {"Evaluation", "a picks folder that does not exist", [](const fs::path&) {}, "evaluate -p picks -t box", 1},
      {"Evaluation", "ground truth for other micrographs",
       [](const fs::path& f) {
         fs::create_directories(f / "picks");
         write_eman_box((f / "picks/other.box").string(), {{64, 64, kBox, kBox, 1}}, kBox);
       },
       "evaluate -p picks -t box", 1},

      // ---- command line
      {"Command line", "a command cupick does not have", [](const fs::path&) {}, "pick -c config.json", 2},
      {"Command line", "an option the command does not have", [](const fs::path&) {}, kPredict + " --treshold 0.3", 2},
      {"Command line", "`--batch 0`", [](const fs::path&) {}, kPredict + " --batch 0", 2},
      {"Command line", "`--threshold` that is not a number", [](const fs::path&) {}, kPredict + " --threshold high", 2},
  };
}

std::string replace_all(const std::string& text, const std::string& from, const std::string& to) {
  std::string out;
  size_t start = 0;
  for (size_t at; (at = text.find(from, start)) != std::string::npos; start = at + from.size())
    out += text.substr(start, at - start) + to;
  return out + text.substr(start);
}

// What cupick said, for the catalogue: its lines on stderr but the progress ones, the folder's
// path written as ".", control bytes as the program wrote them (escaped), `|` escaped for tables.
std::string said(const test::Result& r, const fs::path& folder) {
  std::string text;
  for (const std::string& line : test::split_lines(r.err)) {
    if (line.rfind("device: ", 0) == 0 || line.rfind("reading ", 0) == 0 || line.empty()) continue;
    text += (text.empty() ? "`" : "<br>`") + replace_all(replace_all(line, folder.string(), "."), "|", "\\|") + "`";
  }
  return text;
}

std::vector<fs::path> temporary_files(const fs::path& folder) {
  std::vector<fs::path> found;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".tmp") || name.rfind(".cupick_", 0) == 0) found.push_back(e.path());
  }
  return found;
}

TEST(BadInputs, TheCatalogueInDocsIsWhatCupickSays) {
  const test::TempDir dir;
  weights_of("cupick-cpu-demo", dir.path / "weights.safetensors");
  std::string catalogue =
      "# Bad inputs and what cupick says\n\n"
      "Generated by `tests/test_bad_inputs.cpp`, which makes each input, runs the command in a folder of\n"
      "its own and fails when this file is not what cupick says today. After changing a message, write\n"
      "it anew with `CUPICK_UPDATE_DOCS=1 build/cupick_tests --gtest_filter=BadInputs.*`.\n\n"
      "Every case starts from a good folder: `config.json` (the CPU demo network at 128 x 128, box 32,\n"
      "no filter), its weights `w.safetensors`, `mic/good.mrc` with `box/good.box`, and `train.json`\n"
      "training on `mic/` and `box/`. A micrograph that cannot be picked is a warning and the others are\n"
      "picked; the run then fails, naming how many were not. Exit status 1 is an error, 2 a mistake in\n"
      "the command line, 0 a warning only. No case leaves a temporary or half-written file.\n";
  std::string section;
  int n = 0;
  for (const Case& c : cases()) {
    const fs::path folder = dir.path / std::to_string(++n);
    good_folder(folder, dir.path / "weights.safetensors");
    c.make(folder);
    const test::Result r = test::cupick(folder, c.command);
    const std::string what = said(r, folder);
    EXPECT_EQ(r.status, c.status) << c.input << ": " << r.err;
    for (const char* raw : {"filesystem error", "std::", "basic_", "what()"})
      EXPECT_EQ(r.err.find(raw), std::string::npos) << c.input << ": " << r.err;
    if (c.status == 1) {
      EXPECT_EQ(test::split_lines(r.err).back().rfind("cupick ", 0), 0u) << c.input << ": " << r.err;
    }
    EXPECT_EQ(temporary_files(folder), std::vector<fs::path>{}) << c.input;
    if (c.section != section) {
      section = c.section;
      catalogue += "\n## " + section + "\n\n| input | command | exit | what cupick says |\n|---|---|---|---|\n";
    }
    catalogue += "| " + std::string(c.input) + " | `cupick " + c.command + "` | " + std::to_string(r.status) + " | " +
                 what + " |\n";
  }

  const fs::path doc = fs::path(CUPICK_SOURCE_DIR) / "docs/BAD_INPUTS.md";
  if (!fs::is_directory(doc.parent_path()))  // the test program copied without its sources (a GPU bundle)
    GTEST_SKIP() << "no " << doc.parent_path() << " to compare with";
  if (const char* update = std::getenv("CUPICK_UPDATE_DOCS"); update && std::string(update) == "1") {
    write_bytes(doc, catalogue);
    return;
  }
  const std::string in_docs = read_bytes(doc);
  if (in_docs == catalogue) return;
  const std::vector<std::string> want = test::split_lines(catalogue), have = test::split_lines(in_docs);
  size_t line = 0;
  while (line < want.size() && line < have.size() && want[line] == have[line]) ++line;
  ADD_FAILURE() << doc.string() << " is not what cupick says today (first difference at line " << line + 1
                << "):\n  in docs: " << (line < have.size() ? have[line] : "<end>")
                << "\n  now:     " << (line < want.size() ? want[line] : "<end>")
                << "\nwrite it anew with CUPICK_UPDATE_DOCS=1 build/cupick_tests --gtest_filter=BadInputs.*";
}

}  // namespace
}  // namespace cupick
