#include "io/weights.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "io/files.h"
#include "io/half.h"
#include "io/keras_h5.h"

namespace cupick {

namespace {

// The file holds little-endian values and we copy them byte for byte.
static_assert(std::endian::native == std::endian::little, "weights I/O assumes a little-endian host");

using Dims = std::vector<int64_t>;

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error("file " + path + ": " + what); }

std::string str(const Dims& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// Up to five names, then how many more.
std::string list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 5) s += " and " + std::to_string(names.size() - 5) + " more";
  return s;
}

// The shape a tensor has in the file (see weights.h). Kernels keep all four dimensions even when
// they look like a vector (a 1x1 convolution with one output).
Dims file_shape(const std::string& name, const Shape& s) {
  const bool kernel = name.size() >= 7 && name.compare(name.size() - 7, 7, "/kernel") == 0;
  if (!kernel && s.n == 1 && s.h == 1 && s.w == 1) return {s.c};
  return {s.n, s.c, s.h, s.w};
}

// Parameters we can read and write: f32 anywhere, f64 on the host, in NCHW (the file's order).
void check_param(const std::string& path, const NamedParam& p) {
  if (!p.param) fail(path, "parameter " + p.name + " is null");
  const Tensor& t = p.param->value;
  const bool type_ok = t.dtype() == DType::f32 || (t.dtype() == DType::f64 && t.device() == Device::cpu);
  if (!type_ok || t.layout() != Layout::nchw)
    fail(path, "parameter " + p.name + " is " + t.str() + "; weights go to and from f32 tensors or f64 host tensors in nchw");
}

// One tensor's entry in the header.
struct Entry {
  std::string name, dtype;
  Dims shape;
  uint64_t begin = 0, end = 0;  // bytes from the start of the data
};

struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + header length
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j) {
  const std::string who = "tensor " + name + ": ";
  if (!j.is_object()) fail(path, who + "header entry is not an object");
  Entry e;
  e.name = name;
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!j.contains(key)) fail(path, who + "header entry has no \"" + key + "\"");
    return j.at(key);
  };
  const nlohmann::json& dtype = field("dtype");
  if (!dtype.is_string()) fail(path, who + "\"dtype\" is not a string");
  e.dtype = dtype.get<std::string>();
  const nlohmann::json& shape = field("shape");
  if (!shape.is_array()) fail(path, who + "\"shape\" is not a list");
  for (const nlohmann::json& d : shape) {
    if (!d.is_number_unsigned()) fail(path, who + "\"shape\" holds " + d.dump() + ", not a size");
    e.shape.push_back(d.get<int64_t>());
  }
  const nlohmann::json& off = field("data_offsets");
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail(path, who + "\"data_offsets\" is " + off.dump() + ", not [begin, end]");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin) fail(path, who + "\"data_offsets\" " + off.dump() + " end before they begin");
  return e;
}

// Reads and checks the header: sizes, JSON, entries, and that the tensors tile the data exactly
// (back to back from 0 to the end of the file, so a truncated file or stray bytes are caught here).
Header read_header(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) fail(path, why_missing(path, "does not exist"));
  if (ec) fail(path, "cannot be read: " + ec.message());
  if (std::filesystem::is_directory(status)) fail(path, "is a folder, not a weights file");
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot be read: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot be read: ") + std::strerror(errno));

  if (size < 8) fail(path, "is " + std::to_string(size) + " bytes, too short for a safetensors header");
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | len[i];
  if (n > size - 8)
    fail(path, "header length " + std::to_string(n) + " is larger than the rest of the file (" +
                   std::to_string(size - 8) + " bytes): truncated or not a safetensors file");
  std::string text(n, '\0');
  if (!in.read(text.data(), std::streamsize(n))) fail(path, "read error in the header");

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, std::string("invalid JSON header: ") + e.what());
  }
  if (!j.is_object()) fail(path, "the header is not a JSON object");

  Header h;
  h.data_start = 8 + n;
  for (const auto& [key, value] : j.items()) {
    if (key != "__metadata__") {
      h.entries.push_back(parse_entry(path, key, value));
      continue;
    }
    if (!value.is_object()) fail(path, "\"__metadata__\" is not an object");
    for (const auto& [k, v] : value.items()) {
      if (!v.is_string()) fail(path, "metadata \"" + k + "\" is " + v.dump() + ", not a string");
      h.metadata[k] = v.get<std::string>();
    }
  }

  const uint64_t data = size - h.data_start;
  std::vector<const Entry*> order;
  for (const Entry& e : h.entries) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  uint64_t next = 0;
  for (const Entry* e : order) {
    if (e->end > data)
      fail(path, "tensor " + e->name + " ends at byte " + std::to_string(e->end) + " of the data but the data has " +
                     std::to_string(data) + " bytes: truncated file");
    if (e->begin != next)
      fail(path, "tensor " + e->name + " starts at byte " + std::to_string(e->begin) + " of the data, expected " +
                     std::to_string(next) + ": tensors must follow each other without gaps or overlaps");
    next = e->end;
  }
  if (next != data) fail(path, std::to_string(data - next) + " bytes after the last tensor");
  return h;
}

// A host f32 view or copy of any tensor check_param accepts.
Tensor host_f32(const Tensor& t) {
  if (t.device() != Device::cpu) return t.to(Device::cpu);
  if (t.dtype() != DType::f32) return t.to(DType::f32);
  return t.reshaped(t.shape());  // shares the buffer: no copy
}

// What load_weights would refuse is not written: a NaN or infinity (a diverged training), or in f16
// a value beyond its largest, 65504, which would become one.
void check_savable(const std::string& path, const std::string& name, const Tensor& h, bool half) {
  const float* first = h.data<float>();
  const float* bad = std::find_if(first, first + h.count(), [&](float v) {
    return !std::isfinite(v) || (half && std::fabs(v) > 65504.f);
  });
  if (bad != first + h.count())
    fail(path, "tensor " + name + " holds " + std::to_string(*bad) +
                   (std::isfinite(*bad) ? ", beyond f16's largest value, 65504: save it as f32" : ": not saved"));
}


// An .h5 for crYOLO: Keras's layout (io/keras_h5.h), always f32.
void save_keras_weights(const std::string& path, const std::vector<NamedParam>& params,
                        const std::map<std::string, std::string>& metadata, bool half) {
  if (half) fail(path, "an .h5 is written in fp32 (Keras's models are); fp16 is for .safetensors");
  std::vector<FileTensor> tensors;
  for (const NamedParam& p : params) {
    check_param(path, p);
    const Tensor h = host_f32(p.param->value);
    check_savable(path, p.name, h, false);
    tensors.push_back({p.name, file_shape(p.name, h.shape()), std::vector<float>(h.data<float>(), h.data<float>() + h.count())});
  }
  write_keras_weights(path, tensors, metadata);
}

void write_all(const std::string& path, const std::string& tmp, std::FILE* f, const void* data, size_t bytes) {
  if (bytes && std::fwrite(data, 1, bytes, f) != bytes) fail(path, "cannot write " + tmp + ": " + std::strerror(errno));
}

}  // namespace

bool is_keras_path(const std::string& path) {
  return path.size() >= 3 && (path.compare(path.size() - 3, 3, ".h5") == 0 || path.compare(path.size() - 3, 3, ".H5") == 0);
}

void save_weights(const std::string& path, const std::vector<NamedParam>& params,
                  const std::map<std::string, std::string>& metadata, bool half) {
  if (is_keras_path(path)) return save_keras_weights(path, params, metadata, half);
  const size_t value_bytes = half ? 2 : 4;
  // The header first, from shapes alone; ordered_json keeps the network's order, which is also the
  // order of the data.
  std::string text;
  try {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    nlohmann::ordered_json meta = {{"format", "cupick"}};
    for (const auto& [k, v] : metadata)
      if (k != "format") meta[k] = v;
    header["__metadata__"] = meta;
    uint64_t offset = 0;
    for (const NamedParam& p : params) {
      check_param(path, p);
      if (p.name.empty() || p.name == "__metadata__") fail(path, "cannot store a tensor named '" + p.name + "'");
      if (header.contains(p.name)) fail(path, "two parameters are named " + p.name);
      const uint64_t bytes = p.param->value.count() * value_bytes;
      header[p.name] = {{"dtype", half ? "F16" : "F32"},
                        {"shape", file_shape(p.name, p.param->value.shape())},
                        {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
    }
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name or value that is not UTF-8
    fail(path, std::string("cannot build the header: ") + e.what());
  }
  // Spaces, which JSON ignores, put the data on an 8-byte boundary.
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string tmp = temporary_path(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, "cannot create " + tmp + ": " + std::strerror(errno));
  try {
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
    write_all(path, tmp, f, len, 8);
    write_all(path, tmp, f, text.data(), text.size());
    for (const NamedParam& p : params) {
      const Tensor h = host_f32(p.param->value);
      check_savable(path, p.name, h, half);
      if (!half) {
        write_all(path, tmp, f, h.raw(), h.bytes());
        continue;
      }
      const float* values = h.data<float>();
      std::vector<uint16_t> halves(h.count());
      for (size_t i = 0; i < halves.size(); ++i) halves[i] = float_to_half(values[i]);
      write_all(path, tmp, f, halves.data(), halves.size() * 2);
    }
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  commit_file(f, tmp, path);  // on the disk before the rename: a crash cannot leave a partial file
}

namespace {

// What both formats check before reading: every parameter has a tensor of its shape in the file
// and, unless `allow_extra`, the file has no tensor the network lacks. `hint` ends the messages
// (what the file's layers say about its network, where known).
void check_names_and_shapes(const std::string& path, const std::vector<NamedParam>& params,
                            const std::vector<std::pair<std::string, Dims>>& file, bool allow_extra,
                            const std::string& hint) {
  std::map<std::string, const Dims*> by_name;
  for (const auto& [name, shape] : file) by_name[name] = &shape;
  std::vector<std::string> missing;
  for (const NamedParam& p : params) {
    check_param(path, p);
    const auto it = by_name.find(p.name);
    if (it == by_name.end()) {
      missing.push_back(p.name);
      continue;
    }
    const Dims want = file_shape(p.name, p.param->value.shape());
    if (*it->second != want)
      fail(path, "tensor " + p.name + " has shape " + str(*it->second) + ", the network expects " + str(want) + hint);
  }
  if (!missing.empty())
    fail(path, std::to_string(missing.size()) + " tensor(s) the network needs are missing: " + list(missing) + hint);
  if (allow_extra) return;
  std::set<std::string> wanted;
  for (const NamedParam& p : params) wanted.insert(p.name);
  std::vector<std::string> extra;
  for (const auto& [name, shape] : file)
    if (!wanted.count(name)) extra.push_back(name);
  if (!extra.empty())
    fail(path, std::to_string(extra.size()) + " tensor(s) the network does not have: " + list(extra) + hint);
}

// The last step of both: the values read (host f32, one per parameter) are checked, then copied
// into the parameters. A NaN or infinite weight makes every pick NaN: the run would write empty
// files and seem to have found nothing.
void assign(const std::string& path, const std::vector<NamedParam>& params, const std::vector<Tensor>& read) {
  for (size_t i = 0; i < params.size(); ++i) {
    const float* values = read[i].data<float>();
    const size_t bad = size_t(std::count_if(values, values + read[i].count(), [](float v) { return !std::isfinite(v); }));
    if (bad > 0)
      fail(path, "tensor " + params[i].name + " has " + std::to_string(bad) + " of " + std::to_string(read[i].count()) +
                     " values NaN or infinite");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& value = params[i].param->value;
    if (value.dtype() == DType::f32)
      value.copy_from(read[i]);
    else
      value.copy_from(read[i].to(value.dtype()));
  }
}

// crYOLO's .h5 (io/keras_h5.h).
void load_keras_weights(const std::string& path, const std::vector<NamedParam>& params, bool allow_extra) {
  const KerasWeights k = read_keras_weights(path);
  std::vector<std::pair<std::string, Dims>> file;
  std::map<std::string, const FileTensor*> by_name;
  for (const FileTensor& t : k.tensors) {
    file.emplace_back(t.name, t.shape);
    by_name[t.name] = &t;
  }
  const auto arch = k.metadata.find("architecture");
  const std::string hint = arch == k.metadata.end() ? std::string(" (the file's layers are those of no compiled-in network)")
                                                    : " (the file's layers are those of " + arch->second + ")";
  check_names_and_shapes(path, params, file, allow_extra, hint);
  std::vector<Tensor> read;
  for (const NamedParam& p : params) {
    const FileTensor& t = *by_name.at(p.name);
    read.emplace_back(p.param->value.shape());
    std::copy(t.values.begin(), t.values.end(), read.back().data<float>());
  }
  assign(path, params, read);
}

}  // namespace

// An .h5 that is not HDF5 goes to the Keras reader too, which says so.
void load_weights(const std::string& path, const std::vector<NamedParam>& params, bool allow_extra) {
  if (is_hdf5(path) || is_keras_path(path)) return load_keras_weights(path, params, allow_extra);
  const Header h = read_header(path);
  std::vector<std::pair<std::string, Dims>> file;
  std::map<std::string, const Entry*> by_name;
  for (const Entry& e : h.entries) {
    file.emplace_back(e.name, e.shape);
    by_name[e.name] = &e;
  }
  // Everything is checked before any parameter changes.
  check_names_and_shapes(path, params, file, allow_extra, "");
  for (const NamedParam& p : params) {
    const Entry& e = *by_name.at(p.name);
    if (e.dtype != "F32" && e.dtype != "F16")
      fail(path, "tensor " + p.name + " has dtype " + e.dtype + ", cupick reads F32 and F16");
    const size_t value_bytes = e.dtype == "F16" ? 2 : 4;
    if (e.end - e.begin != p.param->value.count() * value_bytes)
      fail(path, "tensor " + p.name + " has " + std::to_string(e.end - e.begin) + " bytes of data, its shape " +
                     str(e.shape) + " needs " + std::to_string(p.param->value.count() * value_bytes));
  }

  // Every tensor is read and checked before the first parameter changes: a bad file leaves the
  // network as it was.
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot be read: ") + std::strerror(errno));
  std::vector<Tensor> read(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Entry& e = *by_name.at(params[i].name);
    Tensor& host = read[i] = Tensor(params[i].param->value.shape());
    in.seekg(std::streamoff(h.data_start + e.begin));
    if (e.dtype == "F16") {
      std::vector<uint16_t> halves(host.count());
      if (!in.read(reinterpret_cast<char*>(halves.data()), std::streamsize(halves.size() * 2)))
        fail(path, "read error in tensor " + params[i].name);
      float* values = host.data<float>();
      for (size_t k = 0; k < halves.size(); ++k) values[k] = half_to_float(halves[k]);
    } else if (!in.read(static_cast<char*>(host.raw()), std::streamsize(host.bytes()))) {
      fail(path, "read error in tensor " + params[i].name);
    }
  }
  assign(path, params, read);
}

std::map<std::string, std::string> read_metadata(const std::string& path) {
  if (is_hdf5(path) || is_keras_path(path)) return read_keras_weights(path).metadata;
  return read_header(path).metadata;
}

}  // namespace cupick
