#include "io/keras_h5.h"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/error.h"
#include "io/files.h"
#include "nets/names.h"

namespace cupick {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error("file " + path + ": " + what); }

// Debian's HDF5 is built without thread safety: one caller at a time. Its error stack is not
// printed (every failure becomes an Error here).
std::mutex& hdf5_lock() {
  static std::mutex m;
  static const bool quiet = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)quiet;
  return m;
}

// An HDF5 identifier closed with its own close function when it goes out of scope.
class Id {
 public:
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(Id&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() {
    if (id_ >= 0) close_(id_);
  }
  operator hid_t() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

bool has_attribute(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

bool has_link(hid_t group, const std::string& name) { return H5Lexists(group, name.c_str(), H5P_DEFAULT) > 0; }

// The strings of one attribute: a string or a list of strings, fixed or variable length, padding
// stripped. An empty list may have any type (Keras writes an empty float array for a layer without
// weights).
std::vector<std::string> read_strings(const std::string& path, hid_t object, const std::string& name) {
  const std::string who = "attribute " + name + ": ";
  Id attr(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) fail(path, who + "cannot be opened");
  Id type(H5Aget_type(attr), H5Tclose);
  Id space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail(path, who + "unreadable dataspace");
  if (n == 0) return {};
  if (H5Tget_class(type) != H5T_STRING) fail(path, who + "holds no strings");
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));  // HDF5 converts neither ASCII to UTF-8 nor back: read as written
    std::vector<char*> text(size_t(n), nullptr);
    if (H5Aread(attr, mem, text.data()) < 0) fail(path, who + "read error");
    for (char* s : text) out.emplace_back(s ? s : "");
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, text.data());
    return out;
  }
  const size_t width = H5Tget_size(type);
  std::string bytes(size_t(n) * width, '\0');
  if (width == 0 || H5Aread(attr, type, bytes.data()) < 0) fail(path, who + "read error");
  for (hssize_t i = 0; i < n; ++i) {
    std::string s = bytes.substr(size_t(i) * width, width);
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    while (!s.empty() && s.back() == ' ') s.pop_back();  // space-padded strings
    out.push_back(s);
  }
  return out;
}

// Keras splits an attribute of more than 64 KiB into name0, name1, ...; either form is read.
std::vector<std::string> read_string_list(const std::string& path, hid_t object, const std::string& name) {
  if (has_attribute(object, name)) return read_strings(path, object, name);
  std::vector<std::string> out;
  for (int i = 0; has_attribute(object, name + std::to_string(i)); ++i)
    for (std::string& s : read_strings(path, object, name + std::to_string(i))) out.push_back(std::move(s));
  return out;
}

// "model_1/conv_1_depth1/kernel:0" -> "conv_1_depth1/kernel": the last layer name and the
// parameter, without TensorFlow's ":0". A bare "kernel:0" belongs to the group's own layer.
std::string cupick_name(const std::string& group, std::string weight) {
  if (const size_t colon = weight.rfind(':'); colon != std::string::npos &&
      weight.find_first_not_of("0123456789", colon + 1) == std::string::npos)
    weight.resize(colon);
  const size_t last = weight.rfind('/');
  if (last == std::string::npos) return group + "/" + weight;
  const size_t before = weight.rfind('/', last - 1);
  return before == std::string::npos || last == 0 ? weight : weight.substr(before + 1);
}

const std::set<std::string>& known_params() {
  static const std::set<std::string> p = {"kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"};
  return p;
}

std::string param_of(const std::string& name) { return name.substr(name.rfind('/') + 1); }
std::string layer_of(const std::string& name) { return name.substr(0, name.rfind('/')); }

std::string shape_text(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// A weight's dataset, read as float32 in cupick's shape (HWIO kernels turned to OIHW).
FileTensor read_weight(const std::string& path, hid_t group, const std::string& group_name, const std::string& weight) {
  FileTensor t;
  t.name = cupick_name(group_name, weight);
  const std::string who = "weight " + group_name + "/" + weight + ": ";
  if (!known_params().count(param_of(t.name)))
    fail(path, who + "cupick's layers have no parameter '" + param_of(t.name) +
                   "' (only kernel, bias, gamma, beta, moving_mean, moving_variance)");
  if (!has_link(group, weight)) fail(path, who + "named in weight_names but missing");
  Id data(H5Dopen2(group, weight.c_str(), H5P_DEFAULT), H5Dclose);
  if (!data.ok()) fail(path, who + "is not a dataset");
  Id type(H5Dget_type(data), H5Tclose);
  if (H5Tget_class(type) != H5T_FLOAT) fail(path, who + "is not a float array");
  Id space(H5Dget_space(data), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > 8) fail(path, who + "unreadable dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  size_t count = 1;
  for (hsize_t d : dims) count *= size_t(d);
  std::vector<float> raw(count);
  if (count && H5Dread(data, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0)
    fail(path, who + "read error");
  if (param_of(t.name) != "kernel") {
    if (rank != 1) fail(path, who + "has " + std::to_string(rank) + " dimensions, expected a vector");
    t.shape = {int64_t(dims[0])};
    t.values = std::move(raw);
    return t;
  }
  if (rank != 4) fail(path, who + "has " + std::to_string(rank) + " dimensions, a convolution kernel has 4 (HWIO)");
  const size_t kh = dims[0], kw = dims[1], in = dims[2], out = dims[3];
  t.shape = {int64_t(out), int64_t(in), int64_t(kh), int64_t(kw)};
  t.values.resize(count);
  for (size_t y = 0; y < kh; ++y)
    for (size_t x = 0; x < kw; ++x)
      for (size_t i = 0; i < in; ++i)
        for (size_t o = 0; o < out; ++o) t.values[((o * in + i) * kh + y) * kw + x] = raw[((y * kw + x) * in + i) * out + o];
  return t;
}

// A root dataset of crYOLO's, read whole in its own type: numbers as doubles, a string as text.
std::vector<double> read_numbers(const std::string& path, hid_t root, const char* name) {
  Id data(H5Dopen2(root, name, H5P_DEFAULT), H5Dclose);
  Id space(H5Dget_space(data), H5Sclose);
  const hssize_t n = data.ok() ? H5Sget_simple_extent_npoints(space) : -1;
  Id type(H5Dget_type(data), H5Tclose);
  const H5T_class_t c = data.ok() ? H5Tget_class(type) : H5T_NO_CLASS;
  if (n < 0 || (c != H5T_INTEGER && c != H5T_FLOAT && c != H5T_ENUM))
    fail(path, std::string("dataset ") + name + " is not a number or list of numbers");
  std::vector<double> out(static_cast<size_t>(n));
  if (c != H5T_ENUM) {
    if (n && H5Dread(data, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
      fail(path, std::string("dataset ") + name + ": read error");
    return out;
  }
  // h5py's booleans are an enum of int8 {FALSE = 0, TRUE = 1}: read in the file's type, any set
  // byte is true.
  const size_t width = H5Tget_size(type);
  std::vector<unsigned char> bytes(size_t(n) * width);
  if (n && H5Dread(data, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0)
    fail(path, std::string("dataset ") + name + ": read error");
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = std::any_of(bytes.begin() + long(i * width), bytes.begin() + long((i + 1) * width), [](unsigned char b) { return b; });
  return out;
}

std::string read_text(const std::string& path, hid_t root, const char* name) {
  Id data(H5Dopen2(root, name, H5P_DEFAULT), H5Dclose);
  Id type(H5Dget_type(data), H5Tclose);
  Id space(H5Dget_space(data), H5Sclose);
  if (!data.ok() || H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1)
    fail(path, std::string("dataset ") + name + " is not a string");
  if (H5Tis_variable_str(type) > 0) {
    Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    char* s = nullptr;
    if (H5Dread(data, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) < 0) fail(path, std::string("dataset ") + name + ": read error");
    std::string out = s ? s : "";
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, &s);
    return out;
  }
  std::string out(H5Tget_size(type), '\0');
  if (H5Dread(data, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) fail(path, std::string("dataset ") + name + ": read error");
  out.erase(std::find(out.begin(), out.end(), '\0'), out.end());
  return out;
}

std::string numbers_text(const std::vector<double>& v) {
  std::string s;
  for (double x : v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", x);
    if (!s.empty()) s += ' ';
    s += buf;
  }
  return s;
}

// --- writing ---

// A fixed-length, null-padded string type of `width` bytes: what h5py writes for numpy's bytes.
Id string_type(size_t width) {
  Id t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, std::max<size_t>(width, 1));
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  return t;
}

void write_strings(const std::string& path, hid_t object, const std::string& name, const std::vector<std::string>& v,
                   bool scalar = false) {
  size_t width = 1;
  for (const std::string& s : v) width = std::max(width, s.size());
  std::string bytes(v.size() * width, '\0');
  for (size_t i = 0; i < v.size(); ++i) std::memcpy(bytes.data() + i * width, v[i].data(), v[i].size());
  const hsize_t n = v.size();
  Id space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Id type = string_type(width);
  Id attr(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || (!v.empty() && H5Awrite(attr, type, bytes.data()) < 0)) fail(path, "cannot write attribute " + name);
}

// A layer without weights: Keras writes its weight_names as an empty float array.
void write_empty_names(const std::string& path, hid_t group) {
  const hsize_t zero = 0;
  Id space(H5Screate_simple(1, &zero, nullptr), H5Sclose);
  Id attr(H5Acreate2(group, "weight_names", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) fail(path, "cannot write attribute weight_names");
}

void write_dataset(const std::string& path, hid_t where, const std::string& name, hid_t file_type, hid_t mem_type,
                   const std::vector<hsize_t>& dims, const void* values) {
  Id links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links, 1);  // "conv_23/kernel:0" inside group conv_23
  Id space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  Id data(H5Dcreate2(where, name.c_str(), file_type, space, links, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (!data.ok() || H5Dwrite(data, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
    fail(path, "cannot write dataset " + name);
}

void write_weight(const std::string& path, hid_t group, const std::string& weight, const FileTensor& t) {
  std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
  if (param_of(t.name) != "kernel") {
    write_dataset(path, group, weight, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, dims, t.values.data());
    return;
  }
  if (t.shape.size() != 4) fail(path, "tensor " + t.name + " has shape " + shape_text(t.shape) + ", not a kernel's");
  const size_t out = dims[0], in = dims[1], kh = dims[2], kw = dims[3];
  std::vector<float> hwio(t.values.size());
  for (size_t o = 0; o < out; ++o)
    for (size_t i = 0; i < in; ++i)
      for (size_t y = 0; y < kh; ++y)
        for (size_t x = 0; x < kw; ++x) hwio[((y * kw + x) * in + i) * out + o] = t.values[((o * in + i) * kh + y) * kw + x];
  write_dataset(path, group, weight, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kh, kw, in, out}, hwio.data());
}

// crYOLO's layout for tensors that did not come from an .h5 (see keras_h5.h).
nlohmann::json default_layout(const std::vector<FileTensor>& tensors) {
  std::vector<std::string> trainable, statistics, head;
  for (const FileTensor& t : tensors) {
    const std::string weight = t.name + ":0";
    if (layer_of(t.name) == "conv_23")
      head.push_back(weight);
    else if (param_of(t.name) == "moving_mean" || param_of(t.name) == "moving_variance")
      statistics.push_back(weight);
    else
      trainable.push_back(weight);
  }
  trainable.insert(trainable.end(), statistics.begin(), statistics.end());
  nlohmann::json layout = {{"backend", "tensorflow"}, {"keras_version", "2.2.5"}};
  layout["layer_names"] = nlohmann::json::array();
  layout["groups"] = nlohmann::json::object();
  if (!trainable.empty()) {
    layout["layer_names"].push_back("model_1");
    layout["groups"]["model_1"] = trainable;
  }
  if (!head.empty()) {
    layout["layer_names"].push_back("conv_23");
    layout["groups"]["conv_23"] = head;
  }
  return layout;
}

}  // namespace

bool is_hdf5(const std::string& path) {
  static const char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream in(path, std::ios::binary);
  for (std::streamoff at = 0; in && at <= (1 << 20); at = at ? at * 2 : 512) {
    char head[8];
    in.seekg(at);
    if (!in.read(head, 8)) return false;
    if (std::memcmp(head, signature, 8) == 0) return true;
  }
  return false;
}

std::string architecture_of_layers(const std::vector<std::string>& layers) {
  auto plain = [](std::string s) {
    if (s.size() > 7 && s.compare(s.size() - 7, 7, "_depth1") == 0) s.resize(s.size() - 7);
    return s;
  };
  std::set<std::string> have;
  for (const std::string& l : layers) have.insert(plain(l));
  for (const NetworkText& net : embedded_networks()) {
    const nlohmann::json d = nlohmann::json::parse(net.json);
    std::set<std::string> want;
    for (const nlohmann::json& layer : d.at("layers")) {
      if (layer.value("type", "") != "conv") continue;
      want.insert(plain(layer.value("name", "")));
      if (layer.contains("norm")) want.insert(layer.at("norm").get<std::string>());
    }
    if (want == have) return d.at("name").get<std::string>();
  }
  return "";
}

KerasWeights read_keras_weights(const std::string& path) {
  if (!is_hdf5(path)) fail(path, "is not an HDF5 file");
  std::lock_guard<std::mutex> lock(hdf5_lock());
  Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) fail(path, "cannot be opened as HDF5 (damaged or truncated?)");
  // A full model file keeps the weights in model_weights.
  const bool full_model = has_link(file, "model_weights");
  Id root(H5Gopen2(file, full_model ? "model_weights" : "/", H5P_DEFAULT), H5Gclose);
  if (!root.ok() || !has_attribute(root, "layer_names"))
    fail(path, "is HDF5 but not a Keras weights file (no layer_names attribute)");
  KerasWeights out;
  if (has_link(file, "filament_model") && read_numbers(path, file, "filament_model") != std::vector<double>{0})
    fail(path, "is a crYOLO filament model: cupick does not pick filaments yet");

  nlohmann::json layout;
  layout["layer_names"] = read_string_list(path, root, "layer_names");
  layout["groups"] = nlohmann::json::object();
  for (const char* key : {"backend", "keras_version"})
    if (has_attribute(root, key)) {
      const std::vector<std::string> v = read_strings(path, root, key);
      layout[key] = v.empty() ? "" : v[0];
    }
  std::vector<std::string> groups = layout["layer_names"];
  if (has_link(root, "top_level_model_weights")) groups.push_back("top_level_model_weights");
  std::set<std::string> seen;
  std::vector<std::string> layers;
  for (const std::string& name : groups) {
    if (!has_link(root, name)) fail(path, "layer " + name + " is in layer_names but has no group");
    Id group(H5Gopen2(root, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) fail(path, "layer " + name + " is not a group");
    const std::vector<std::string> weights = read_string_list(path, group, "weight_names");
    layout["groups"][name] = weights;
    for (const std::string& w : weights) {
      FileTensor t = read_weight(path, group, name, w);
      if (!seen.insert(t.name).second) fail(path, "two weights are named " + t.name);
      if (std::find(layers.begin(), layers.end(), layer_of(t.name)) == layers.end()) layers.push_back(layer_of(t.name));
      out.tensors.push_back(std::move(t));
    }
  }
  if (out.tensors.empty()) fail(path, "is a Keras weights file without any weights");
  if (full_model) layout["full_model"] = true;
  out.metadata["keras_layout"] = layout.dump();
  if (const std::string arch = architecture_of_layers(layers); !arch.empty()) out.metadata["architecture"] = arch;
  if (has_link(file, "anchors")) out.metadata["anchors"] = numbers_text(read_numbers(path, file, "anchors"));
  if (has_link(file, "num_free_layers"))
    out.metadata["num_free_layers"] = numbers_text(read_numbers(path, file, "num_free_layers"));
  if (has_link(file, "cryolo_version")) out.metadata["cryolo_version"] = read_text(path, file, "cryolo_version");
  return out;
}

void write_keras_weights(const std::string& path, const std::vector<FileTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::map<std::string, const FileTensor*> by_name;
  for (const FileTensor& t : tensors)
    if (!by_name.emplace(t.name, &t).second) fail(path, "two tensors are named " + t.name);
  nlohmann::json layout;
  if (const auto it = metadata.find("keras_layout"); it != metadata.end()) {
    try {
      layout = nlohmann::json::parse(it->second);
      (void)layout.at("layer_names").get<std::vector<std::string>>();
      (void)layout.at("groups").get<std::map<std::string, std::vector<std::string>>>();
    } catch (const nlohmann::json::exception& e) {
      fail(path, std::string("the weights' keras_layout metadata is not a layout: ") + e.what());
    }
  } else {
    layout = default_layout(tensors);
  }
  // Every tensor goes to exactly one weight name of the layout.
  std::set<std::string> placed;
  for (const auto& [group, weights] : layout["groups"].items())
    for (const std::string& w : weights.get<std::vector<std::string>>()) {
      const std::string name = cupick_name(group, w);
      if (!by_name.count(name)) fail(path, "the layout's weight " + group + "/" + w + " has no tensor " + name);
      placed.insert(name);
    }
  for (const FileTensor& t : tensors)
    if (!placed.count(t.name)) fail(path, "tensor " + t.name + " has no place in the Keras layout");

  const std::string tmp = temporary_path(path);
  {
    std::lock_guard<std::mutex> lock(hdf5_lock());
    Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) fail(path, "cannot create " + tmp);
    try {
      const bool full_model = layout.value("full_model", false);
      Id root(full_model ? H5Gcreate2(file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : H5Gopen2(file, "/", H5P_DEFAULT),
              H5Gclose);
      write_strings(path, root, "layer_names", layout["layer_names"].get<std::vector<std::string>>());
      write_strings(path, root, "backend", {layout.value("backend", "tensorflow")}, true);
      write_strings(path, root, "keras_version", {layout.value("keras_version", "2.2.5")}, true);
      for (const auto& [name, weights] : layout["groups"].items()) {
        Id group(H5Gcreate2(root, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
        if (!group.ok()) fail(path, "cannot create group " + name);
        const std::vector<std::string> names = weights;
        if (names.empty()) {
          write_empty_names(path, group);
          continue;
        }
        write_strings(path, group, "weight_names", names);
        for (const std::string& w : names) write_weight(path, group, w, *by_name.at(cupick_name(name, w)));
      }
      // A weightless layer named in layer_names but absent from the groups still gets its group.
      for (const std::string& name : layout["layer_names"].get<std::vector<std::string>>())
        if (!layout["groups"].contains(name)) {
          Id group(H5Gcreate2(root, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
          write_empty_names(path, group);
        }
      // crYOLO's datasets, as h5py writes them: anchors float64, a bool enum, an int64.
      if (const auto it = metadata.find("anchors"); it != metadata.end()) {
        std::vector<double> anchors;
        char* end = nullptr;
        for (const char* s = it->second.c_str(); *s; s = end) {
          const double v = std::strtod(s, &end);
          if (end == s) fail(path, "the weights' anchors metadata '" + it->second + "' is not a list of numbers");
          anchors.push_back(v);
        }
        write_dataset(path, file, "anchors", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {anchors.size()}, anchors.data());
      }
      if (const auto it = metadata.find("num_free_layers"); it != metadata.end()) {
        const long long n = std::atoll(it->second.c_str());
        write_dataset(path, file, "num_free_layers", H5T_STD_I64LE, H5T_NATIVE_LLONG, {}, &n);
      }
      Id boolean(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
      const signed char no = 0, yes = 1;
      H5Tenum_insert(boolean, "FALSE", &no);
      H5Tenum_insert(boolean, "TRUE", &yes);
      write_dataset(path, file, "filament_model", boolean, boolean, {}, &no);
      if (const auto it = metadata.find("cryolo_version"); it != metadata.end()) {
        Id type = string_type(it->second.size());
        write_dataset(path, file, "cryolo_version", type, type, {}, std::string(it->second + '\0').data());
      }
      if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) fail(path, "cannot write " + tmp);
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
  }
  std::FILE* f = std::fopen(tmp.c_str(), "rb+");
  if (!f) {
    std::remove(tmp.c_str());
    fail(path, "cannot reopen " + tmp + ": " + std::strerror(errno));
  }
  commit_file(f, tmp, path);
}

}  // namespace cupick
