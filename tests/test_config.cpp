#include "io/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "io/files.h"
#include "tests/temp_dir.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const fs::path kConfigs = fs::path(__FILE__).parent_path().parent_path() / "configs";

// The crYOLO network's example from crYOLO's documentation (its networks page), as printed:
// the comma after the "model" section is missing.
const char* kSeedCryolo = R"({
    "model" : {
        "architecture":         "crYOLO",
        "input_size":           1024,
        "anchors":              [160,160],
        "max_box_per_image":    600
    }

    "train": {
        "train_image_folder":   "train_image/",
        "train_annot_folder":   "train_annotation/",
        "train_times":          10,
        "pretrained_weights":   "model.h5",
        "batch_size":           6,
        "learning_rate":        1e-4,
        "nb_epoch":             50,
        "warmup_epochs":        0,

        "object_scale":         5.0 ,
        "no_object_scale":      1.0,
        "coord_scale":          1.0,
        "class_scale":          1.0,
        "log_path":             "logs/",
        "saved_weights_name":   "model.h5",
        "debug":                true
    },

    "valid": {
        "valid_image_folder":   "",
        "valid_annot_folder":   "",

        "valid_times":          1
    }
}
)";

// The YOLO-with-patches example from the same page, as printed: this one is valid JSON.
const char* kSeedYolo = R"({
    "model" : {
        "architecture":         "YOLO",
        "input_size":           768,
        "anchors":              [160,160],
        "max_box_per_image":    600,
        "overlap_patches":      200,
        "num_patches":          2,
        "filter":               [0.1,"filtered"]
    },

    "train": {
        "train_image_folder":   "train_image/",
        "train_annot_folder":   "train_annotation/",
        "train_times":          10,
        "pretrained_weights":   "model.h5",
        "batch_size":           6,
        "learning_rate":        1e-4,
        "nb_epoch":             50,
        "warmup_epochs":        0,

        "object_scale":         5.0 ,
        "no_object_scale":      1.0,
        "coord_scale":          1.0,
        "class_scale":          1.0,
        "log_path":             "logs/",
        "saved_weights_name":   "model.h5",
        "debug":                true
    },

    "valid": {
        "valid_image_folder":   "",
        "valid_annot_folder":   "",

        "valid_times":          1
    }
}
)";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The message of the Error that f throws.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A small valid config to break one key at a time.
json base() {
  return json::parse(R"({"model": {"architecture": "PhosaurusNet", "input_size": 1024, "anchors": [160, 160]},
                         "train": {"train_image_folder": "img/", "train_annot_folder": "box/"},
                         "valid": {}, "other": {}})");
}

// Parsing `config` fails with a message that contains `part`.
void expect_error(const json& config, const std::string& part) {
  const std::string message = error_of([&] { parse_config(config.dump(), "t.json"); });
  EXPECT_NE(message.find(part), std::string::npos) << "expected \"" << part << "\" in: " << message;
}

using test::TempDir;

TEST(Config, DefaultsAreCryolos) {
  const Config c;
  EXPECT_EQ(c.model.architecture, "PhosaurusNet");
  EXPECT_EQ(c.model.input_size, (InputSize{1024, 1024, false}));
  EXPECT_FALSE(c.model.anchors);
  EXPECT_EQ(c.model.max_box_per_image, 700);
  EXPECT_EQ(c.model.num_patches, 1);
  EXPECT_EQ(c.model.overlap_patches, 200);
  EXPECT_EQ(c.model.filter, (LowpassFilter{0.1, "filtered_tmp/"}));
  EXPECT_EQ(c.model.norm, "STANDARD");
  EXPECT_EQ(c.train.train_times, 10);
  EXPECT_EQ(c.train.pretrained_weights, "");
  EXPECT_EQ(c.train.batch_size, 4);
  EXPECT_EQ(c.train.learning_rate, 1e-4);
  EXPECT_EQ(c.train.nb_epoch, 200);
  EXPECT_EQ(c.train.warmup_epochs, 5);
  EXPECT_EQ(c.train.object_scale, 5.0);
  EXPECT_EQ(c.train.no_object_scale, 1.0);
  EXPECT_EQ(c.train.coord_scale, 1.0);
  EXPECT_EQ(c.train.class_scale, 1.0);
  EXPECT_EQ(c.train.log_path, "logs/");
  EXPECT_EQ(c.train.saved_weights_name, "cryolo_model.h5");
  EXPECT_TRUE(c.train.debug);
  EXPECT_EQ(c.valid.valid_image_folder, "");
  EXPECT_EQ(c.valid.valid_annot_folder, "");
  EXPECT_EQ(c.valid.valid_times, 1);

  // A config with only what crYOLO requires: the same defaults, but no filter when none is given.
  const Config minimal = parse_config(R"({"model": {"architecture": "PhosaurusNet", "input_size": 1024}})", "m.json");
  Config expected;
  expected.model.filter.reset();
  EXPECT_EQ(minimal, expected);
}

TEST(Config, SeedCryoloExampleReportsTheMissingComma) {
  EXPECT_EQ(error_of([] { parse_config(kSeedCryolo, "config.json"); }),
            "config.json:9:5: invalid JSON: expected ',' or '}' before \"train\" (is a comma missing?)");
}

TEST(Config, SeedYoloExampleIsValidAsPrinted) {
  const Config c = parse_config(kSeedYolo, "yolo.json");
  EXPECT_EQ(c.model.architecture, "YOLO");
  EXPECT_EQ(c.model.input_size, (InputSize{768, 768, false}));
  EXPECT_EQ(c.model.anchors, (Anchor{160, 160}));
  EXPECT_EQ(c.model.max_box_per_image, 600);
  EXPECT_EQ(c.model.overlap_patches, 200);
  EXPECT_EQ(c.model.num_patches, 2);
  EXPECT_EQ(c.model.filter, (LowpassFilter{0.1, "filtered"}));
  EXPECT_EQ(c.train.train_image_folder, "train_image/");
  EXPECT_EQ(c.train.train_annot_folder, "train_annotation/");
  EXPECT_EQ(c.train.pretrained_weights, "model.h5");
  EXPECT_EQ(c.train.batch_size, 6);
  EXPECT_EQ(c.train.nb_epoch, 50);
  EXPECT_EQ(c.train.warmup_epochs, 0);
  EXPECT_EQ(c.train.saved_weights_name, "model.h5");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(Config, ShippedConfigsAreTheSeedsCorrected) {
  std::string seed = kSeedCryolo;
  const std::string end_of_model = "600\n    }\n";
  seed.replace(seed.find(end_of_model), end_of_model.size(), "600\n    },\n");
  EXPECT_EQ(read_text(kConfigs / "cryolo.json"), seed);
  EXPECT_EQ(read_text(kConfigs / "yolo_patches.json"), kSeedYolo);

  const Config c = load_config((kConfigs / "cryolo.json").string());
  EXPECT_EQ(c.model.architecture, "crYOLO");
  EXPECT_EQ(c.model.input_size, (InputSize{1024, 1024, false}));
  EXPECT_EQ(c.model.anchors, (Anchor{160, 160}));
  EXPECT_EQ(c.model.max_box_per_image, 600);
  EXPECT_FALSE(c.model.filter);
  EXPECT_EQ(c.model.num_patches, 1);
  EXPECT_EQ(c.train.batch_size, 6);
  EXPECT_EQ(c.train.learning_rate, 1e-4);
  EXPECT_EQ(c.train.object_scale, 5.0);
  EXPECT_EQ(c.train.log_path, "logs/");
  EXPECT_EQ(c.valid.valid_times, 1);
}

TEST(Config, EveryShippedConfigLoadsWithoutWarnings) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    const Config c = load_config(entry.path().string());
    EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
    ++count;
  }
  EXPECT_GE(count, 3);
}

TEST(Config, PhosaurusNetConfigIsWhatTheWriterWritesForBox160) {
  EXPECT_EQ(read_text(kConfigs / "phosaurusnet.json"), write_config_json(make_config(160)));
}

TEST(Config, InvalidJsonSaysWhere) {
  auto message = [](const std::string& text) { return error_of([&] { parse_config(text, "c.json"); }); };
  EXPECT_EQ(message("{\"model\": {\"anchors\": [160 160]}}"),
            "c.json:1:28: invalid JSON: expected ',' or ']' before 160 (is a comma missing?)");
  EXPECT_EQ(message("{\"a\": {}\n {\"b\": 1}}"),
            "c.json:2:2: invalid JSON: expected ',' or '}' before '{' (is a comma missing?)");
  EXPECT_EQ(message("{\"a\": 1,\n}"),
            "c.json:2:1: invalid JSON: syntax error while parsing object key - unexpected '}'; "
            "expected string literal");
  EXPECT_EQ(message("{\"model\": {}"),
            "c.json:1:13: invalid JSON: syntax error while parsing object - unexpected end of input; expected '}'");
  const std::string literal = message("{\"a\": tru}");
  EXPECT_EQ(literal.rfind("c.json:1:10: invalid JSON: syntax error while parsing value - invalid literal", 0), 0u)
      << literal;
  EXPECT_EQ(message(" \n\t"), "c.json: the file is empty");
}

TEST(Config, WrongTypesNameTheKey) {
  json j = base();
  j["model"]["input_size"] = "1024";
  expect_error(j, "t.json: model.input_size must be an integer or [height, width], got string \"1024\"");
  j["model"]["input_size"] = 1024.0;
  expect_error(j, "model.input_size must be an integer or [height, width], got number 1024.0");
  j["model"]["input_size"] = json::array({1024});
  expect_error(j, "model.input_size must be an integer or [height, width], got an array of 1");

  j = base();
  j["model"]["anchors"] = 160;
  expect_error(j, "t.json: model.anchors must be [width, height], the box size in pixels (crYOLO uses one anchor), "
                  "got number 160");
  j["model"]["anchors"] = json::array({160, 160, 80, 80});
  expect_error(j, "model.anchors must be [width, height]");

  j = base();
  j["model"]["filter"] = "none";
  expect_error(j, "t.json: model.filter must be [cutoff, folder] or null, got string \"none\"");
  j["model"]["filter"] = json::array({"janni_general.h5", 24, 3, "filtered_tmp/"});
  expect_error(j, "model.filter is a JANNI denoising filter");

  j = base();
  j["model"]["norm"] = "minmax";
  expect_error(j, "t.json: model.norm must be one of STANDARD, GMM, got \"minmax\"");

  j = base();
  j["train"]["batch_size"] = 1.5;
  expect_error(j, "t.json: train.batch_size must be an integer, got number 1.5");
  j = base();
  j["train"]["learning_rate"] = "fast";
  expect_error(j, "t.json: train.learning_rate must be a number, got string \"fast\"");
  j = base();
  j["train"]["debug"] = "yes";
  expect_error(j, "t.json: train.debug must be true or false, got string \"yes\"");
  j = base();
  j["train"]["train_image_folder"] = 5;
  expect_error(j, "t.json: train.train_image_folder must be a string, got number 5");
  j = base();
  j["valid"]["valid_times"] = nullptr;
  expect_error(j, "t.json: valid.valid_times must be an integer, got null");
  j = base();
  j["other"]["log_path"] = json::array();
  expect_error(j, "t.json: other.log_path must be a string, got array");

  j = base();
  j["train"] = json::array();
  expect_error(j, "t.json: train must be an object {...}, got array");
  expect_error(json::array(), "t.json: the top level must be an object");
  j = base();
  j.erase("model");
  expect_error(j, "t.json: the \"model\" section is missing");
  j = base();
  j["model"].erase("architecture");
  expect_error(j, "t.json: model.architecture is missing");
  j = base();
  j["model"].erase("input_size");
  expect_error(j, "t.json: model.input_size is missing");
}

TEST(Config, BadValuesNameTheKeyAndTheValue) {
  const std::pair<const char*, const char*> positive_ints[] = {
      {"model", "max_box_per_image"}, {"model", "num_patches"}, {"train", "train_times"},
      {"train", "batch_size"},        {"train", "nb_epoch"},    {"valid", "valid_times"}};
  for (const auto& [section, key] : positive_ints) {
    json j = base();
    j[section][key] = 0;
    expect_error(j, std::string("t.json: ") + section + "." + key + " must be positive, got 0");
    j[section][key] = -3;
    expect_error(j, std::string(section) + "." + key + " must be positive, got -3");
    j[section][key] = 10000000000;
    expect_error(j, std::string(section) + "." + key + " is too large, got 10000000000");
  }
  json j = base();
  j["model"]["overlap_patches"] = -1;
  expect_error(j, "t.json: model.overlap_patches must be at least 0, got -1");
  j = base();
  j["train"]["warmup_epochs"] = -1;
  expect_error(j, "t.json: train.warmup_epochs must be at least 0, got -1");
  j = base();
  j["model"]["anchors"] = json::array({0, 160});
  expect_error(j, "t.json: model.anchors[0] must be positive, got 0");

  j = base();
  j["train"]["learning_rate"] = 0;
  expect_error(j, "t.json: train.learning_rate must be positive, got 0");
  j["train"]["learning_rate"] = -1e-4;
  expect_error(j, "t.json: train.learning_rate must be positive, got -0.0001");
  j = base();
  j["train"]["object_scale"] = -1.0;
  expect_error(j, "t.json: train.object_scale must not be negative, got -1.0");

  for (int size : {0, -32, 10, 10000}) {
    j = base();
    j["model"]["input_size"] = size;
    expect_error(j, "t.json: model.input_size must be between 16 and 8192, got " + std::to_string(size));
  }
  j["model"]["input_size"] = json::array({1024, 0});
  expect_error(j, "t.json: model.input_size[1] must be between 16 and 8192, got 0");

  j = base();
  j["model"]["filter"] = json::array({0.6, "filtered_tmp/"});
  expect_error(j, "t.json: model.filter cutoff must be in (0, 0.5] (cycles per pixel after resizing), got 0.6");
  j["model"]["filter"] = json::array({0, "filtered_tmp/"});
  expect_error(j, "model.filter cutoff must be in (0, 0.5]");
  j["model"]["filter"] = json::array({0.1, ""});
  expect_error(j, "t.json: model.filter folder must not be empty");
}

TEST(Config, ArchitectureAndNormAreMatchedWithoutCase) {
  json j = base();
  for (const auto& [written, canonical] : std::vector<std::pair<std::string, std::string>>{
           {"crYOLO", "crYOLO"}, {"cryolo", "crYOLO"}, {"YOLO", "YOLO"}, {"yolo", "YOLO"},
           {"PhosaurusNet", "PhosaurusNet"}, {"PHOSAURUSNET", "PhosaurusNet"}}) {
    j["model"]["architecture"] = written;
    EXPECT_EQ(parse_config(j.dump(), "t.json").model.architecture, canonical);
  }
  j["model"]["architecture"] = "Full Yolo";
  expect_error(j, "t.json: model.architecture must be one of cupick-cpu-demo, crYOLO, PhosaurusNet, YOLO or a .json network description, got \"Full Yolo\"");

  j = base();
  j["model"]["norm"] = "gmm";
  EXPECT_EQ(parse_config(j.dump(), "t.json").model.norm, "GMM");
}

TEST(Config, InputSizeNotAMultipleOf32IsAWarning) {
  json j = base();
  j["model"]["input_size"] = 100;
  EXPECT_EQ(parse_config(j.dump(), "t.json").warnings,
            std::vector<std::string>{"t.json: model.input_size 100 is rounded to 96, the nearest multiple of 32"});
  j["model"]["input_size"] = json::array({1000, 1024});
  EXPECT_EQ(parse_config(j.dump(), "t.json").warnings,
            std::vector<std::string>{"t.json: model.input_size [1000, 1024] is rounded to [992, 1024], the nearest multiple of 32"});
  j["model"]["input_size"] = 1024;
  EXPECT_TRUE(parse_config(j.dump(), "t.json").warnings.empty());
}

TEST(Config, InputSizeRoundsToTheNearestMultipleOf32) {
  EXPECT_EQ(round_to_32(1024), 1024);
  EXPECT_EQ(round_to_32(1000), 992);
  EXPECT_EQ(round_to_32(1007), 992);
  EXPECT_EQ(round_to_32(1008), 1024);  // halfway: up
  EXPECT_EQ(round_to_32(1040), 1056);
  EXPECT_EQ(round_to_32(16), 32);
  EXPECT_EQ(round_to_32(47), 32);
  EXPECT_EQ(round_to_32(48), 64);

  json j = base();
  j["model"]["input_size"] = 1000;
  InputSize s = parse_config(j.dump(), "t.json").model.input_size;
  EXPECT_EQ(s, (InputSize{1000, 1000, false}));
  EXPECT_EQ(s.rounded_height(), 992);
  EXPECT_EQ(s.rounded_width(), 992);

  j["model"]["input_size"] = json::array({1000, 1400});
  s = parse_config(j.dump(), "t.json").model.input_size;
  EXPECT_EQ(s, (InputSize{1000, 1400, true}));
  EXPECT_EQ(s.rounded_height(), 992);
  EXPECT_EQ(s.rounded_width(), 1408);
}

TEST(Config, UnknownKeysAreWarningsNotErrors) {
  json j = base();
  j["model"]["labels"] = json::array({"particle"});
  j["train"]["gpu_fraction"] = 1.0;
  j["valid"]["valid_every"] = 2;
  j["extra"] = json::object();
  j["other"]["comment"] = "kept";
  const Config c = parse_config(j.dump(), "t.json");
  EXPECT_EQ(c.warnings, (std::vector<std::string>{
                            "t.json: unknown key model.labels (ignored)",
                            "t.json: unknown key train.gpu_fraction (ignored)",
                            "t.json: unknown key valid.valid_every (ignored)",
                            "t.json: unknown section \"extra\" (ignored)",
                        }));
  EXPECT_EQ(c.other, (json{{"comment", "kept"}}));
  EXPECT_NE(write_config_json(c).find("\"comment\": \"kept\""), std::string::npos);
}

TEST(Config, LogPathIsReadFromTrainOrOther) {
  json j = base();
  j["train"]["log_path"] = "train_logs/";
  EXPECT_EQ(parse_config(j.dump(), "t.json").train.log_path, "train_logs/");
  j["other"]["log_path"] = "other_logs/";
  const Config c = parse_config(j.dump(), "t.json");
  EXPECT_EQ(c.train.log_path, "other_logs/");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0], "t.json: train.log_path and other.log_path differ; other.log_path is used");
  j["train"].erase("log_path");
  EXPECT_TRUE(parse_config(j.dump(), "t.json").warnings.empty());
}

TEST(Config, MakeConfigIsCryolosWriterWithOptions) {
  Config expected;
  expected.model.anchors = Anchor{160, 160};
  expected.train.saved_weights_name = "cryolo_model.safetensors";
  EXPECT_EQ(make_config(160), expected);

  Config c = make_config(200, {{"architecture", "yolo"},
                               {"input_size", "1024,1400"},
                               {"train_image_folder", "train_image/"},
                               {"train_annot_folder", "train_annot/"},
                               {"valid_image_folder", "valid_image/"},
                               {"valid_annot_folder", "valid_annot/"},
                               {"saved_weights_name", "out/model.safetensors"},
                               {"num_patches", "2"},
                               {"overlap_patches", "100"},
                               {"batch_size", "8"},
                               {"learning_rate", "1e-3"},
                               {"nb_epoch", "50"},
                               {"warmup", "0"},
                               {"norm", "GMM"},
                               {"debug", "false"},
                               {"log_path", "my_logs/"},
                               {"object_scale", "2"},
                               {"low_pass_cutoff", ".2"},
                               {"filtered_output", "lp/"}});
  EXPECT_EQ(c.model.architecture, "YOLO");
  EXPECT_EQ(c.model.anchors, (Anchor{200, 200}));
  EXPECT_EQ(c.model.input_size, (InputSize{1024, 1400, true}));
  EXPECT_EQ(c.train.train_image_folder, "train_image/");
  EXPECT_EQ(c.train.train_annot_folder, "train_annot/");
  EXPECT_EQ(c.valid.valid_image_folder, "valid_image/");
  EXPECT_EQ(c.valid.valid_annot_folder, "valid_annot/");
  EXPECT_EQ(c.train.saved_weights_name, "out/model.safetensors");
  EXPECT_EQ(c.model.num_patches, 2);
  EXPECT_EQ(c.model.overlap_patches, 100);
  EXPECT_EQ(c.train.batch_size, 8);
  EXPECT_EQ(c.train.learning_rate, 1e-3);
  EXPECT_EQ(c.train.nb_epoch, 50);
  EXPECT_EQ(c.train.warmup_epochs, 0);
  EXPECT_EQ(c.model.norm, "GMM");
  EXPECT_FALSE(c.train.debug);
  EXPECT_EQ(c.train.log_path, "my_logs/");
  EXPECT_EQ(c.train.object_scale, 2.0);
  EXPECT_EQ(c.model.filter, (LowpassFilter{0.2, "lp/"}));

  set_config_option(c, "input_size", "768 1024");
  EXPECT_EQ(c.model.input_size, (InputSize{768, 1024, true}));
  set_config_option(c, "input_size", "1024");
  EXPECT_EQ(c.model.input_size, (InputSize{1024, 1024, false}));
  set_config_option(c, "filter", "0.3");
  EXPECT_EQ(c.model.filter, (LowpassFilter{0.3, "lp/"}));
  set_config_option(c, "filter", "none");
  EXPECT_FALSE(c.model.filter);
  set_config_option(c, "filter", "LOWPASS");
  EXPECT_EQ(c.model.filter, (LowpassFilter{0.1, "filtered_tmp/"}));
}

TEST(Config, MakeConfigRejectsBadOptions) {
  EXPECT_EQ(error_of([] { make_config(0); }), "box size must be a positive number of pixels, got 0");
  const std::string unknown = error_of([] { make_config(160, {{"box", "160"}}); });
  EXPECT_EQ(unknown.rfind("unknown option --box (options: --architecture, --input_size,", 0), 0u) << unknown;
  EXPECT_EQ(error_of([] { make_config(160, {{"batch_size", "0"}}); }),
            "--batch_size: train.batch_size must be positive, got 0");
  EXPECT_EQ(error_of([] { make_config(160, {{"batch_size", "four"}}); }),
            "--batch_size: train.batch_size must be an integer, got string \"four\"");
  EXPECT_EQ(error_of([] { make_config(160, {{"architecture", "resnet"}}); }),
            "--architecture: model.architecture must be one of cupick-cpu-demo, crYOLO, PhosaurusNet, YOLO or a .json network description, got \"resnet\"");
  EXPECT_EQ(error_of([] { make_config(160, {{"filter", "0.7"}}); }),
            "--filter: model.filter cutoff must be in (0, 0.5] (cycles per pixel after resizing), got 0.7");
  EXPECT_EQ(error_of([] { make_config(160, {{"filter", "JANNI"}}); }),
            "--filter takes a cutoff in (0, 0.5], LOWPASS or NONE (cupick has no JANNI), got \"JANNI\"");
  EXPECT_EQ(error_of([] { make_config(160, {{"learning_rate", "nan"}}); }),
            "--learning_rate: train.learning_rate must be a number, got string \"nan\"");
  EXPECT_EQ(error_of([] { make_config(160, {{"input_size", "1024,1400,3"}}); }),
            "--input_size: model.input_size must be an integer or [height, width], got an array of 3");
}

TEST(Config, WriteThenLoadGivesTheSameConfig) {
  Config c = make_config(220, {{"input_size", "1000,1400"}, {"filter", "none"}, {"norm", "GMM"},
                               {"learning_rate", "3e-5"}, {"object_scale", "4.5"}, {"debug", "false"}});
  c.other["note"] = json::array({1, "two"});
  Config back = parse_config(write_config_json(c), "w.json");
  EXPECT_EQ(back.warnings, std::vector<std::string>{
                               "w.json: model.input_size [1000, 1400] is rounded to [992, 1408], the nearest multiple of 32"});
  back.warnings.clear();
  EXPECT_EQ(back, c);

  EXPECT_EQ(parse_config(write_config_json(make_config(160)), "w.json"), make_config(160));

  // Without anchors (a config for picking with a general model) the key stays out.
  const Config minimal = parse_config(R"({"model": {"architecture": "crYOLO", "input_size": 768}})", "m.json");
  const std::string text = write_config_json(minimal);
  EXPECT_EQ(text.find("anchors"), std::string::npos);
  EXPECT_EQ(text.find("filter"), std::string::npos);
  EXPECT_EQ(parse_config(text, "w.json"), minimal);
}

// Every option of `cupick config` sets its key, and the key survives writing and reading back.
TEST(Config, EveryOptionTakesEffectAndRoundTrips) {
  // A value unlike make_config's for each option: a new option needs one here.
  const std::map<std::string, std::string> values = {
      {"architecture", "YOLO"}, {"input_size", "768,1024"}, {"max_box_per_image", "300"}, {"norm", "GMM"},
      {"filter", "0.3"}, {"low_pass_cutoff", "0.25"}, {"filtered_output", "lp/"}, {"num_patches", "3"},
      {"overlap_patches", "50"}, {"train_image_folder", "img/"}, {"train_annot_folder", "box/"},
      {"train_times", "4"}, {"pretrained_weights", "a.h5"}, {"batch_size", "6"}, {"learning_rate", "3e-5"},
      {"nb_epoch", "40"}, {"warmup_epochs", "2"}, {"warmup", "3"}, {"object_scale", "4.5"},
      {"no_object_scale", "0.5"}, {"coord_scale", "2"}, {"class_scale", "0"},
      {"saved_weights_name", "o.safetensors"}, {"debug", "false"}, {"valid_image_folder", "vimg/"},
      {"valid_annot_folder", "vbox/"}, {"valid_times", "2"}, {"log_path", "runs/"}};
  Config c = make_config(160);
  c.other["note"] = "kept";
  std::set<std::string> names;
  for (const ConfigOption& o : config_options()) {
    SCOPED_TRACE(o.name);
    EXPECT_TRUE(names.insert(o.name).second) << "listed twice";
    EXPECT_FALSE(o.help.empty());
    ASSERT_TRUE(values.count(o.name)) << "no test value for this option";
    const Config before = c;
    set_config_option(c, o.name, values.at(o.name));
    EXPECT_NE(c, before) << "the option changed nothing";
    const std::string text = write_config_json(c);
    EXPECT_EQ(parse_config(text, "w.json"), c) << text;
  }
  EXPECT_EQ(names.size(), values.size());
  EXPECT_EQ(c.model.filter, (LowpassFilter{0.25, "lp/"}));
  EXPECT_EQ(c.train.warmup_epochs, 3);
}

TEST(Config, LoadNamesTheFile) {
  TempDir dir;
  EXPECT_EQ(error_of([&] { load_config(dir / "none.json"); }), dir / "none.json" + ": no such file");
  EXPECT_EQ(error_of([&] { load_config(dir.path.string()); }), dir.path.string() + ": is a folder, not a config file");
  std::ofstream(dir / "seed.json") << kSeedCryolo;
  EXPECT_EQ(error_of([&] { load_config(dir / "seed.json"); }).rfind(dir / "seed.json" + ":9:5: invalid JSON", 0), 0u);
}

TEST(Config, SaveWritesAtomicallyAndKeepsExistingFiles) {
  TempDir dir;
  const std::string path = dir / "config_cryolo.json";
  const Config c = make_config(160, {{"train_image_folder", "train_image/"}});
  save_config(path, c);
  EXPECT_EQ(load_config(path), c);
  EXPECT_EQ(read_text(path), write_config_json(c));

  EXPECT_EQ(error_of([&] { save_config(path, make_config(100)); }), path + ": already exists; not overwritten");
  EXPECT_EQ(load_config(path), c);
  save_config(path, make_config(100), true);
  EXPECT_EQ(load_config(path), make_config(100));

  const std::string missing = dir / "no/such/folder/c.json";
  EXPECT_EQ(error_of([&] { save_config(missing, c); }).rfind(missing + ": cannot create " + missing + ".tmp", 0), 0u);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary file left behind
}

// A file name of 253 bytes is legal, but "<name>.tmp" would pass the 255 a name may have: the
// temporary file takes a short name in the same folder, and none is left behind.
TEST(Config, SaveUnderTheLongestNameUsesAShortTemporaryName) {
  TempDir dir;
  const std::string name = std::string(248, 'c') + ".json";
  ASSERT_EQ(name.size(), 253u);
  const std::string path = dir / name;
  const std::string tmp = temporary_path(path);
  EXPECT_EQ(fs::path(tmp).parent_path(), dir.path);
  EXPECT_LE(fs::path(tmp).filename().string().size(), 255u);
  EXPECT_EQ(temporary_path(dir / "short.json"), dir / "short.json.tmp");

  const Config c = make_config(160);
  save_config(path, c);
  EXPECT_EQ(load_config(path), c);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path)) names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{name});
}

TEST(Config, CheckTrainingPathsNamesWhatIsMissing) {
  TempDir dir;
  fs::create_directories(dir / "img");
  fs::create_directories(dir / "box");
  std::ofstream(dir / "start.h5") << "weights";

  Config c = make_config(160, {{"train_image_folder", dir / "img"},
                               {"train_annot_folder", dir / "box"},
                               {"pretrained_weights", dir / "start.h5"},
                               {"saved_weights_name", dir / "model.safetensors"},
                               {"log_path", dir / "logs/"}});
  EXPECT_NO_THROW(check_training_paths(c, "c.json"));
  c.valid.valid_image_folder = dir / "img";
  c.valid.valid_annot_folder = dir / "box";
  EXPECT_NO_THROW(check_training_paths(c, "c.json"));

  auto message = [](const Config& config) { return error_of([&] { check_training_paths(config, "c.json"); }); };
  auto expect_problem = [&](const Config& config, const std::string& part) {
    const std::string m = message(config);
    EXPECT_EQ(m.rfind("c.json: ", 0), 0u) << m;
    EXPECT_NE(m.find(part), std::string::npos) << "expected \"" << part << "\" in: " << m;
  };

  Config bad = c;
  bad.train.train_annot_folder = dir / "annot";
  expect_problem(bad, "train.train_annot_folder '" + dir / "annot" + "' does not exist");
  bad = c;
  bad.train.train_image_folder = dir / "start.h5";
  expect_problem(bad, "train.train_image_folder '" + dir / "start.h5" + "' is not a folder");
  bad = c;
  bad.train.train_image_folder = "";
  expect_problem(bad, "train.train_image_folder is empty: training needs it");
  bad = c;
  bad.valid.valid_annot_folder = dir / "valid_box";
  expect_problem(bad, "valid.valid_annot_folder '" + dir / "valid_box" + "' does not exist");
  bad.valid.valid_annot_folder = "";
  expect_problem(bad, "valid.valid_image_folder and valid.valid_annot_folder must be given together");
  bad = c;
  bad.train.pretrained_weights = dir / "gone.h5";
  expect_problem(bad, "train.pretrained_weights '" + dir / "gone.h5" + "' does not exist");
  bad = c;
  bad.train.saved_weights_name = dir / "out/model.safetensors";
  expect_problem(bad, "train.saved_weights_name '" + dir / "out/model.safetensors" + "': folder '" + dir / "out" +
                          "' does not exist");
  bad = c;
  bad.train.log_path = dir / "runs/logs/";
  expect_problem(bad, "log_path '" + dir / "runs/logs/" + "': folder '" + dir / "runs" + "' does not exist");
  bad.train.log_path = dir / "start.h5";
  expect_problem(bad, "log_path '" + dir / "start.h5" + "' is a file, not a folder");
  // A path through a file names the file, not "does not exist".
  bad = c;
  bad.train.train_image_folder = dir / "start.h5/img";
  expect_problem(bad, "train.train_image_folder '" + dir / "start.h5/img" + "' is inside '" + dir / "start.h5" +
                          "', which is a file");
  bad = c;
  bad.train.pretrained_weights = dir / "start.h5/deeper/w.safetensors";
  expect_problem(bad, "train.pretrained_weights '" + dir / "start.h5/deeper/w.safetensors" + "' is inside '" +
                          dir / "start.h5" + "', which is a file");
  bad = c;
  bad.train.saved_weights_name = dir / "start.h5/model.safetensors";
  expect_problem(bad, "folder '" + dir / "start.h5" + "' is a file");
  EXPECT_EQ(error_of([&] { load_config(dir / "start.h5/c.json"); }),
            dir / "start.h5/c.json" + ": is inside '" + dir / "start.h5" + "', which is a file");

  // Every problem at once, and where relative paths start.
  bad = c;
  bad.train.train_image_folder = "no_such_images_folder/";
  bad.train.train_annot_folder = "no_such_boxes_folder/";
  const std::string m = message(bad);
  EXPECT_NE(m.find("train.train_image_folder 'no_such_images_folder/' does not exist; "
                   "train.train_annot_folder 'no_such_boxes_folder/' does not exist"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("(relative paths are taken from the current folder, " + fs::current_path().string() + ")"),
            std::string::npos)
      << m;
}

// Found while writing fuzz/fuzz_config.cpp: values kept from "other" are copied and written back by
// recursion, so a config nested 100,000 deep overflowed the stack (and 2,000 deep wrote 16 MB of indent).
TEST(Config, DeepNestingIsAnErrorNotACrash) {
  const std::string head = R"({"model": {"architecture": "YOLO", "input_size": 1024}, "other": {"x": )";
  const auto nested = [&](int depth) { return head + std::string(depth, '[') + std::string(depth, ']') + "}}"; };
  // 62 levels under "other" are 64 in all: still read, and written back the same.
  const Config c = parse_config(nested(62), "c.json");
  EXPECT_EQ(parse_config(write_config_json(c), "again.json").other, c.other);
  // The 63rd bracket under "other" is the 65th level: the message points at it.
  const std::string message =
      "c.json:1:" + std::to_string(head.size() + 63) + ": nested more than 64 levels deep; a crYOLO config has 3";
  EXPECT_EQ(error_of([&] { parse_config(nested(63), "c.json"); }), message);
  EXPECT_EQ(error_of([&] { parse_config(nested(200000), "c.json"); }), message);
  // Brackets inside strings, escaped quotes among them, do not count.
  EXPECT_NO_THROW(parse_config(head + R"("\"[[[[)" + std::string(100, '[') + "\"}}", "c.json"));
}

}  // namespace
}  // namespace cupick
