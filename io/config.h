// crYOLO's JSON configuration file: sections "model", "train", "valid" and "other", with crYOLO's
// key names and defaults. A config written by crYOLO (or by hand, from its documentation) loads
// as is; one written by cupick loads in crYOLO, apart from the weights file it names.
//
// load_config only reads and checks the file itself, so a config can be shown or used for picking
// without the training data; check_training_paths checks the folders and files training needs.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cupick {

// The network's input size as the config gives it: one number (the short side of the micrograph
// becomes this, the long side follows the aspect ratio) or [height, width] (every micrograph is
// resized to exactly this). The network needs multiples of 32: use the rounded values.
struct InputSize {
  int height = 1024;  // as written; equal to width when the config gives one number
  int width = 1024;
  bool is_pair = false;  // true: written as [height, width]
  int rounded_height() const;
  int rounded_width() const;
  bool operator==(const InputSize&) const = default;
};

// The nearest multiple of 32, halfway cases up: 1000 -> 992, 1008 -> 1024.
int round_to_32(int size);

// Low-pass filter before the network, "filter": [cutoff, folder] in the config.
struct LowpassFilter {
  double cutoff = 0.1;                    // absolute frequency after resizing, cycles/pixel, in (0, 0.5]
  std::string folder = "filtered_tmp/";   // where filtered micrographs are cached
  bool operator==(const LowpassFilter&) const = default;
};

// crYOLO uses one anchor: the expected box size.
struct Anchor {
  int width = 0;
  int height = 0;
  bool operator==(const Anchor&) const = default;
};

struct ModelConfig {
  std::string architecture = "PhosaurusNet";  // crYOLO, YOLO or PhosaurusNet (crYOLO's spelling)
  InputSize input_size;
  // The box size in micrograph pixels, "anchors": [width, height]. Optional: crYOLO's configs for
  // picking with its general model may leave it out; training needs it.
  std::optional<Anchor> anchors;
  int max_box_per_image = 700;
  int num_patches = 1;         // n: the micrograph is cut into n x n patches (1 = whole micrograph)
  int overlap_patches = 200;   // pixels
  std::optional<LowpassFilter> filter = LowpassFilter{};  // nullopt: no filtering ("filter" absent or null)
  std::string norm = "STANDARD";  // STANDARD or GMM
  bool operator==(const ModelConfig&) const = default;
};

struct TrainConfig {
  std::string train_image_folder;  // relative paths are taken from the current folder, as crYOLO does
  std::string train_annot_folder;
  int train_times = 10;            // each image is seen this often per epoch
  std::string pretrained_weights;  // "" = start from scratch
  int batch_size = 4;
  double learning_rate = 1e-4;
  int nb_epoch = 200;
  int warmup_epochs = 5;
  double object_scale = 5.0;
  double no_object_scale = 1.0;
  double coord_scale = 1.0;
  double class_scale = 1.0;
  // crYOLO's writer puts it in "other", its documentation's examples in "train": both are read.
  std::string log_path = "logs/";
  // Read as written: a name ending in .h5 (crYOLO's default) is written in crYOLO's Keras format,
  // any other as safetensors.
  std::string saved_weights_name = "cryolo_model.h5";
  bool debug = true;
  bool operator==(const TrainConfig&) const = default;
};

struct ValidConfig {
  std::string valid_image_folder;  // "" = hold out 20% of the training images
  std::string valid_annot_folder;
  int valid_times = 1;
  bool operator==(const ValidConfig&) const = default;
};

struct Config {
  ModelConfig model;
  TrainConfig train;
  ValidConfig valid;
  // Keys of "other" that cupick does not use, written back as found (log_path is train.log_path).
  nlohmann::ordered_json other = nlohmann::ordered_json::object();
  // Not fatal: unknown keys and sections (crYOLO's configs in the wild carry extra ones). One line each.
  std::vector<std::string> warnings;
  bool operator==(const Config&) const = default;
};

// Reads and checks a config file. Throws Error with one line naming the file and the problem:
// unreadable file, invalid JSON (with line:column), a wrong type or value (naming the key).
Config load_config(const std::string& path);
// The same from the text; `name` stands for the file in messages.
Config parse_config(const std::string& text, const std::string& name);

// Throws Error naming each missing folder or file that training needs: the training folders (which
// must be given), the validation folders and pretrained_weights when given, and the folders that
// will hold the log and the saved weights. Relative paths are taken from the current folder.
void check_training_paths(const Config& config, const std::string& config_path);

// What `cupick config` writes, like crYOLO's config writer: every key, the writer's defaults,
// anchors [box_size, box_size], weights saved to cryolo_model.safetensors. `options` are
// (name, value) pairs as given to set_config_option.
Config make_config(int box_size, const std::vector<std::pair<std::string, std::string>>& options = {});

// One option of `cupick config`, by crYOLO's key name without dashes ("batch_size", "input_size"),
// its value as typed: "1024" or "1024,1400" for input_size; filter takes a cutoff, LOWPASS or NONE;
// low_pass_cutoff and filtered_output set the filter's two parts; warmup is warmup_epochs.
// Throws Error naming the option for an unknown name or a bad value.
void set_config_option(Config& config, const std::string& name, const std::string& value);
// The options set_config_option takes, in the order of the file, each with a line of help.
struct ConfigOption {
  std::string name;  // without dashes
  std::string help;
};
std::vector<ConfigOption> config_options();

// The config as JSON text in crYOLO's layout (indent 4, crYOLO's key order); log_path goes into "other".
std::string write_config_json(const Config& config);
// Writes through a temporary file and a rename, so a reader never sees half a file. Throws Error
// if `path` exists and overwrite is false, or if it cannot be written.
void save_config(const std::string& path, const Config& config, bool overwrite = false);

}  // namespace cupick
