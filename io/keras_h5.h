// crYOLO's model files: Keras 2 weights-only HDF5, read and written with the HDF5 C library
// (docs/BEHAVIOUR.md §7.3). What Keras's save_weights writes:
//   root attributes  layer_names (the model's top-level layers), backend, keras_version
//   /<layer>         a group per top-level layer, attribute weight_names ("conv_23/kernel:0", ...),
//                    each weight a dataset at <group>/<weight name> ("/conv_23/conv_23/kernel:0")
//   the backbone     crYOLO's feature extractor is a nested model: one group ("model_1" in Keras 2.2,
//                    "model" later) holds the weights of every layer but the head, named
//                    "conv_1_depth1/kernel:0", "norm_1/gamma:0", ...; later Keras also writes a
//                    top_level_model_weights group
//   root datasets    crYOLO's own: anchors (grid cells), filament_model, num_free_layers, cryolo_version
// A Keras full-model file (model.save) holds the same under its model_weights group; it is read too.
// Kernels are HWIO [kh, kw, in, out] in the file and OIHW in cupick. Groups are found by walking
// the weight_names attributes, never by their names.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cupick {

// Whether the file begins with HDF5's signature (at byte 0, or 512, 1024, ... after a user block).
// False for a missing or unreadable file.
bool is_hdf5(const std::string& path);

// One tensor as cupick names and shapes it: "<layer>/<param>", kernels [O, I, kh, kw], the rest [C].
struct FileTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct KerasWeights {
  std::vector<FileTensor> tensors;  // in the file's order
  // What the file says beside its tensors, as cupick's safetensors metadata keeps it, so that a
  // conversion back writes the same file: "keras_layout" (JSON: layer_names, each group's
  // weight_names in order, backend, keras_version), "architecture" (the compiled-in network whose
  // layers the file has, if one does), and where the file has them "anchors" (grid cells, "w h"),
  // "num_free_layers" and "cryolo_version".
  std::map<std::string, std::string> metadata;
};

// Reads every weight. An Error of one line naming the file for: not HDF5; no layer_names (not a
// Keras weights file); a filament model; a weight_names entry without its dataset; a weight that is
// not a float array, a kernel that is not 4-D, another parameter than kernel, bias, gamma, beta,
// moving_mean or moving_variance; two weights of one name.
KerasWeights read_keras_weights(const std::string& path);

// Writes `tensors` (cupick's names and shapes) as Keras's save_weights does, so that crYOLO loads
// them; through a temporary file and a rename. The layout is metadata's "keras_layout" where there
// is one (a model that came from an .h5: the same groups, names and order), else crYOLO's with
// Keras 2.2: the head conv_23 at the top level and every other layer in the nested model
// "model_1", whose weights Keras orders as a model orders them: the trainable ones (kernel, bias,
// gamma, beta) layer by layer, then batchnorm's moving statistics layer by layer. "anchors" and
// "num_free_layers" in the metadata become crYOLO's datasets; filament_model is written false.
void write_keras_weights(const std::string& path, const std::vector<FileTensor>& tensors,
                         const std::map<std::string, std::string>& metadata);

// The compiled-in network (nets/*.json) whose layers with weights are exactly `layers` ("conv_1",
// "norm_1", ...; a "_depth1" suffix is ignored), or "" where none is.
std::string architecture_of_layers(const std::vector<std::string>& layers);

}  // namespace cupick
