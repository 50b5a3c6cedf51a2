// Network weights (and optimizer state) in the safetensors format (docs/BEHAVIOUR.md §7.3):
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON: {"__metadata__": {"format": "cupick", ...}, "<name>": {"dtype": "F32", "shape": [...],
//             "data_offsets": [begin, end]}, ...}, padded with spaces so that the data starts at a multiple of 8
//   the data  every tensor's values, little-endian, back to back in the header's order; offsets count
//             from the start of the data
// One tensor per parameter, named "<layer>/<param>" ("conv_1_depth1/kernel", "norm_1/moving_mean").
// Shapes are the natural ones: a convolution kernel [O, I, kh, kw] (our NCHW tensor {O, I, kh, kw}),
// everything held as {1, C, 1, 1} (bias, batchnorm vectors) as [C]; other tensors as [N, C, H, W].
// Values are written as F32 whatever the tensor's type or place (f64 host tensors are rounded), or
// as F16 when asked (the pretrained start, half the size); both are read.
// crYOLO's Keras .h5 files (io/keras_h5.h) are read wherever weights are, told apart by HDF5's
// signature whatever their name (and a file named .h5 without it is reported as not HDF5), and
// written where the path ends in ".h5".
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace cupick {

// Writes "<path>.tmp" in the same folder, then renames it to `path`: an interrupted or failed save
// leaves any earlier file at `path` as it was and no partial file. "format" in the metadata is
// always "cupick". Throws Error naming the file.
void save_weights(const std::string& path, const std::vector<NamedParam>& params,
                  const std::map<std::string, std::string>& metadata = {}, bool half = false);

// Reads every parameter from the file, wherever it lives (host or GPU, f32; f64 on the host is
// converted). The whole file is checked before any parameter changes: a missing tensor, another
// dtype than F32 or F16, another shape, offsets that do not fit the data, and (unless `allow_extra`)
// tensors the network does not have are each an Error of one line naming the file and the problem.
void load_weights(const std::string& path, const std::vector<NamedParam>& params, bool allow_extra = false);

// Whether weights saved at `path` are written as Keras .h5 (it ends in ".h5" or ".H5").
bool is_keras_path(const std::string& path);

// The header's "__metadata__" (empty when there is none); an .h5's what io/keras_h5.h reads.
std::map<std::string, std::string> read_metadata(const std::string& path);

}  // namespace cupick
