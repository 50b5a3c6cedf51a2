// crYOLO's Keras .h5 weights (io/keras_h5.h). The files read here are built with the HDF5 C
// library itself the way Keras 2.2 (crYOLO 1.x: fixed-length strings, the backbone in "model_1")
// and later Keras (variable-length strings, "model", top_level_model_weights) lay them out, and the
// files cupick writes are read back through the same library and, where installed, h5dump.
#include "io/keras_h5.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app/network.h"
#include "engine/context.h"
#include "engine/error.h"
#include "io/weights.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

namespace cupick {
namespace {

using test::error_of;

// A string-array attribute: fixed-length NULLPAD strings as h5py writes numpy's 'S' arrays (Keras
// 2.2), or variable-length UTF-8 ones (later Keras).
void write_strings(hid_t loc, const char* name, const std::vector<std::string>& values, bool variable) {
  const hsize_t n = values.size();
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t type = H5Tcopy(H5T_C_S1);
  if (variable) {
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    std::vector<const char*> ptrs;
    for (const std::string& v : values) ptrs.push_back(v.c_str());
    const hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, ptrs.data());
    H5Aclose(attr);
  } else {
    size_t width = 1;
    for (const std::string& v : values) width = std::max(width, v.size());
    H5Tset_size(type, width);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    std::string packed;
    for (const std::string& v : values) packed += v + std::string(width - v.size(), '\0');
    const hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, packed.data());
    H5Aclose(attr);
  }
  H5Tclose(type);
  H5Sclose(space);
}

std::vector<std::string> read_strings(hid_t loc, const char* name) {
  const hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(attr);
  const hid_t space = H5Aget_space(attr);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    std::vector<char*> ptrs(static_cast<size_t>(n));
    H5Aread(attr, type, ptrs.data());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data());
  } else {
    const size_t width = H5Tget_size(type);
    std::string packed(size_t(n) * width, '\0');
    H5Aread(attr, type, packed.data());
    for (hssize_t i = 0; i < n; ++i) out.emplace_back(packed.substr(size_t(i) * width, width).c_str());
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return out;
}

// One weight as Keras stores it: a float dataset at `path`, intermediate groups created.
void write_floats(hid_t file, const std::string& path, const std::vector<hsize_t>& dims, const std::vector<float>& v,
                  hid_t type = H5T_NATIVE_FLOAT) {
  const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t set = H5Dcreate2(file, path.c_str(), type == H5T_NATIVE_FLOAT ? H5T_IEEE_F32LE : H5T_STD_I32LE, space,
                               lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (type == H5T_NATIVE_FLOAT) {
    H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  } else {
    std::vector<int> ints(v.begin(), v.end());
    H5Dwrite(set, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ints.data());
  }
  H5Dclose(set);
  H5Pclose(lcpl);
  H5Sclose(space);
}

// file[h][w][i][o] = 1000 o + 100 i + 10 h + w: which index went where shows after the transpose.
std::vector<float> hwio_kernel(int kh, int kw, int in, int out) {
  std::vector<float> v;
  for (int h = 0; h < kh; ++h)
    for (int w = 0; w < kw; ++w)
      for (int i = 0; i < in; ++i)
        for (int o = 0; o < out; ++o) v.push_back(float(1000 * o + 100 * i + 10 * h + w));
  return v;
}

// A two-layer model as crYOLO saves it: a backbone group holding conv_1_depth1 (3x2 kernel, 3 in,
// 2 out, no bias) and norm_1 (2 channels), and the head conv_23 (1x1, 2 in, 1 out, bias), at the
// top level. Keras 2.2 or later Keras, as `later` says.
struct Layout {
  bool later = false;
  bool filament = false;
  bool drop_beta = false;      // weight_names names norm_1/beta:0 but no dataset holds it
  bool int_beta = false;       // norm_1/beta:0 stored as integers
  bool no_layer_names = false;
};

void write_model(const std::string& path, const Layout& l) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const std::string backbone = l.later ? "model" : "model_1";
  std::vector<std::string> layers = {backbone, "conv_23"};
  if (l.later) layers.insert(layers.begin(), "input_1");
  if (!l.no_layer_names) write_strings(file, "layer_names", layers, l.later);
  write_strings(file, "backend", {"tensorflow"}, l.later);
  write_strings(file, "keras_version", {l.later ? "2.13.1" : "2.2.5"}, l.later);
  const std::vector<std::string> names = {"conv_1_depth1/kernel:0", "norm_1/gamma:0", "norm_1/beta:0",
                                          "norm_1/moving_mean:0", "norm_1/moving_variance:0"};
  write_floats(file, "/" + backbone + "/conv_1_depth1/kernel:0", {3, 2, 3, 2}, hwio_kernel(3, 2, 3, 2));
  write_floats(file, "/" + backbone + "/norm_1/gamma:0", {2}, {1.5f, 2.5f});
  if (!l.drop_beta)
    write_floats(file, "/" + backbone + "/norm_1/beta:0", {2}, {-1, 1}, l.int_beta ? H5T_NATIVE_INT : H5T_NATIVE_FLOAT);
  write_floats(file, "/" + backbone + "/norm_1/moving_mean:0", {2}, {0.25f, -0.25f});
  write_floats(file, "/" + backbone + "/norm_1/moving_variance:0", {2}, {4, 9});
  write_floats(file, "/conv_23/conv_23/kernel:0", {1, 1, 2, 1}, {0.5f, -0.5f});
  write_floats(file, "/conv_23/conv_23/bias:0", {1}, {0.125f});
  hid_t g = H5Gopen2(file, backbone.c_str(), H5P_DEFAULT);
  write_strings(g, "weight_names", names, l.later);
  H5Gclose(g);
  g = H5Gopen2(file, "conv_23", H5P_DEFAULT);
  write_strings(g, "weight_names", {"conv_23/kernel:0", "conv_23/bias:0"}, l.later);
  H5Gclose(g);
  if (l.later) {
    // An input layer has no weights: an empty weight_names (h5py writes it as an empty float array).
    g = H5Gcreate2(file, "input_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t zero = 0;
    const hid_t space = H5Screate_simple(1, &zero, nullptr);
    const hid_t attr = H5Acreate2(g, "weight_names", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Aclose(attr);
    H5Sclose(space);
    H5Gclose(g);
    g = H5Gcreate2(file, "top_level_model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
  }
  const hsize_t two = 2;
  const hid_t space = H5Screate_simple(1, &two, nullptr);
  const double anchors[2] = {5.5, 6.5};
  hid_t set = H5Dcreate2(file, "anchors", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, anchors);
  H5Dclose(set);
  H5Sclose(space);
  const hid_t scalar = H5Screate(H5S_SCALAR);
  const hid_t boolean = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t v = 0;
  H5Tenum_insert(boolean, "FALSE", &v);
  v = 1;
  H5Tenum_insert(boolean, "TRUE", &v);
  v = l.filament ? 1 : 0;
  set = H5Dcreate2(file, "filament_model", boolean, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(set, boolean, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
  H5Dclose(set);
  H5Tclose(boolean);
  H5Sclose(scalar);
  H5Fclose(file);
}

const FileTensor& find(const KerasWeights& k, const std::string& name) {
  for (const FileTensor& t : k.tensors)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

class KerasH5 : public ::testing::TestWithParam<bool> {
 protected:
  test::TempDir dir;
};

// Every weight in the file's order under cupick's name and shape; the kernel transposed HWIO ->
// OIHW value by value; crYOLO's anchors and the file's layout kept as metadata.
TEST_P(KerasH5, ReadsEveryWeightOfBothKerasLayouts) {
  const std::string path = dir / "model.h5";
  write_model(path, {.later = GetParam()});
  EXPECT_TRUE(is_hdf5(path));
  const KerasWeights k = read_keras_weights(path);
  std::vector<std::string> names;
  for (const FileTensor& t : k.tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv_1_depth1/kernel", "norm_1/gamma", "norm_1/beta", "norm_1/moving_mean",
                                             "norm_1/moving_variance", "conv_23/kernel", "conv_23/bias"}));
  const FileTensor& kernel = find(k, "conv_1_depth1/kernel");
  EXPECT_EQ(kernel.shape, (std::vector<int64_t>{2, 3, 3, 2}));
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 3; ++i)
      for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 2; ++w)
          EXPECT_EQ(kernel.values[size_t(((o * 3 + i) * 3 + h) * 2 + w)], float(1000 * o + 100 * i + 10 * h + w));
  EXPECT_EQ(find(k, "norm_1/moving_variance").values, (std::vector<float>{4, 9}));
  EXPECT_EQ(find(k, "conv_23/kernel").shape, (std::vector<int64_t>{1, 2, 1, 1}));
  EXPECT_EQ(find(k, "conv_23/bias").values, (std::vector<float>{0.125f}));
  EXPECT_EQ(k.metadata.at("anchors"), "5.5 6.5");
  EXPECT_EQ(k.metadata.count("architecture"), 0u);  // two layers are no compiled-in network
  const nlohmann::json layout = nlohmann::json::parse(k.metadata.at("keras_layout"));
  EXPECT_EQ(layout["keras_version"], GetParam() ? "2.13.1" : "2.2.5");
}

// Written back with the layout it came with, a file reads as the same tensors, groups, names and
// order, through the HDF5 library and (where installed) h5dump.
TEST_P(KerasH5, WritesBackTheLayoutItRead) {
  const std::string in = dir / "in.h5", out = dir / "out.h5";
  write_model(in, {.later = GetParam()});
  const KerasWeights k = read_keras_weights(in);
  write_keras_weights(out, k.tensors, k.metadata);
  const KerasWeights back = read_keras_weights(out);
  ASSERT_EQ(back.tensors.size(), k.tensors.size());
  for (size_t i = 0; i < k.tensors.size(); ++i) {
    EXPECT_EQ(back.tensors[i].name, k.tensors[i].name);
    EXPECT_EQ(back.tensors[i].shape, k.tensors[i].shape);
    EXPECT_EQ(back.tensors[i].values, k.tensors[i].values);
  }
  EXPECT_EQ(back.metadata.at("keras_layout"), k.metadata.at("keras_layout"));
  EXPECT_EQ(back.metadata.at("anchors"), "5.5 6.5");

  const hid_t file = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const std::string backbone = GetParam() ? "model" : "model_1";
  EXPECT_EQ(read_strings(file, "layer_names"), GetParam() ? (std::vector<std::string>{"input_1", "model", "conv_23"})
                                                          : (std::vector<std::string>{"model_1", "conv_23"}));
  const hid_t g = H5Gopen2(file, backbone.c_str(), H5P_DEFAULT);
  EXPECT_EQ(read_strings(g, "weight_names")[0], "conv_1_depth1/kernel:0");
  H5Gclose(g);
  hsize_t dims[4] = {};
  const hid_t set = H5Dopen2(file, ("/" + backbone + "/conv_1_depth1/kernel:0").c_str(), H5P_DEFAULT);
  const hid_t space = H5Dget_space(set);
  ASSERT_EQ(H5Sget_simple_extent_dims(space, dims, nullptr), 4);
  EXPECT_EQ(std::vector<hsize_t>(dims, dims + 4), (std::vector<hsize_t>{3, 2, 3, 2}));  // HWIO again
  H5Sclose(space);
  H5Dclose(set);
  H5Fclose(file);

  if (std::system("command -v h5dump > /dev/null 2>&1") != 0) return;
  const std::string listing = dir / "h5dump.txt";
  ASSERT_EQ(std::system(("h5dump -d /conv_23/conv_23/bias:0 '" + out + "' > '" + listing + "'").c_str()), 0);
  std::ifstream text(listing);
  const std::string dump((std::istreambuf_iterator<char>(text)), {});
  EXPECT_NE(dump.find("0.125"), std::string::npos) << dump;
}

INSTANTIATE_TEST_SUITE_P(Keras, KerasH5, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Later" : "Keras22"; });

// A compiled-in network through save_weights(.h5) and load_weights: crYOLO's default layout, every
// tensor back bit for bit, the architecture told by the file's layers alone.
TEST(KerasH5Network, NetworkRoundTripsThroughAnH5) {
  test::TempDir dir;
  Context cpu;
  Graph saved = new_network("cupick-cpu-demo", cpu, {1, 1, 64, 64}, 3);
  const std::string path = dir / "model.h5";
  save_weights(path, saved.params(), {{"anchors", "2 3"}});
  Graph loaded = new_network("cupick-cpu-demo", cpu, {1, 1, 64, 64}, 4);
  load_weights(path, loaded.params());
  const auto a = saved.params(), b = loaded.params();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].param->value.values<float>(), b[i].param->value.values<float>()) << a[i].name;
  const std::map<std::string, std::string> meta = read_metadata(path);
  EXPECT_EQ(meta.at("architecture"), "cupick-cpu-demo");
  EXPECT_EQ(meta.at("anchors"), "2 3");
  const nlohmann::json layout = nlohmann::json::parse(meta.at("keras_layout"));
  EXPECT_EQ(layout["layer_names"], (nlohmann::json{"model_1", "conv_23"}));

  EXPECT_NE(error_of([&] { save_weights(dir / "half.h5", saved.params(), {}, /*half=*/true); }).find("fp32"),
            std::string::npos);
  // Into another network: the message names the file's network.
  Graph other = new_network("crYOLO", cpu, {1, 1, 64, 64}, 4);
  const std::string e = error_of([&] { load_weights(path, other.params()); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("the file's layers are those of cupick-cpu-demo"), std::string::npos) << e;
}

// A value for tensor t at OIHW position (o, i, h, w) (vectors: o alone), so that a misplaced value
// shows which index went where.
float value_at(size_t t, int o, int i = 0, int h = 0, int w = 0) {
  return float((t * 131 + size_t(o) * 7 + size_t(i) * 3 + size_t(h) * 5 + size_t(w)) % 1009) / 64.f - 7.f;
}

bool is_kernel(const std::string& name) { return name.size() > 7 && name.compare(name.size() - 7, 7, "/kernel") == 0; }

// `params` as crYOLO 1.x saves its network's: the head conv_23 at the top level, every other layer
// in the nested model "model_1", kernels HWIO; written here with the HDF5 library, not by cupick.
void write_cryolo_model(const std::string& path, const std::vector<NamedParam>& params) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  write_strings(file, "layer_names", {"model_1", "conv_23"}, false);
  write_strings(file, "backend", {"tensorflow"}, false);
  write_strings(file, "keras_version", {"2.2.5"}, false);
  std::vector<std::string> backbone, head;
  for (size_t t = 0; t < params.size(); ++t) {
    const std::string& name = params[t].name;  // "conv_1_depth1/kernel"
    const bool in_head = name.rfind("conv_23/", 0) == 0;
    (in_head ? head : backbone).push_back(name + ":0");
    const Shape s = params[t].param->value.shape();
    std::vector<float> v;
    if (is_kernel(name)) {
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w)
          for (int i = 0; i < s.c; ++i)
            for (int o = 0; o < s.n; ++o) v.push_back(value_at(t, o, i, h, w));
    } else {
      for (int c = 0; c < s.c; ++c) v.push_back(value_at(t, c));  // held {1, C, 1, 1}
    }
    const std::vector<hsize_t> dims = is_kernel(name) ? std::vector<hsize_t>{hsize_t(s.h), hsize_t(s.w), hsize_t(s.c), hsize_t(s.n)}
                                                      : std::vector<hsize_t>{hsize_t(s.c)};
    write_floats(file, (in_head ? "/conv_23/" : "/model_1/") + name + ":0", dims, v);
  }
  for (const auto& [group, names] : {std::pair{"model_1", backbone}, std::pair{"conv_23", head}}) {
    const hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    write_strings(g, "weight_names", names, false);
    H5Gclose(g);
  }
  H5Fclose(file);
}

class KerasH5Networks : public ::testing::TestWithParam<const char*> {
 protected:
  test::TempDir dir;
};

// Each compiled-in network from a file in crYOLO's layout: every tensor the file's value for value
// (kernels HWIO -> OIHW, batchnorm's four vectors by name), the network told by the layers alone.
TEST_P(KerasH5Networks, LoadsEveryTensorOfACryoloLayoutFile) {
  Context cpu;
  Graph net = new_network(GetParam(), cpu, {1, 1, 64, 64}, 3);
  const std::string path = dir / "model.h5";
  write_cryolo_model(path, net.params());
  EXPECT_EQ(read_metadata(path).at("architecture"), GetParam());
  load_weights(path, net.params());
  const std::vector<NamedParam> params = net.params();
  for (size_t t = 0; t < params.size(); ++t) {
    const Tensor& value = params[t].param->value;
    const std::vector<float> got = value.values<float>();
    const Shape s = value.shape();
    const bool kernel = is_kernel(params[t].name);
    size_t wrong = 0, k = 0;
    for (int o = 0; o < s.n; ++o)
      for (int i = 0; i < s.c; ++i)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w, ++k) wrong += got[k] != (kernel ? value_at(t, o, i, h, w) : value_at(t, i));
    EXPECT_EQ(wrong, 0u) << params[t].name;
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, KerasH5Networks, ::testing::Values("crYOLO", "YOLO", "PhosaurusNet"),
                         [](const auto& info) { return std::string(info.param); });

// Each bad file is one line naming the file and what is wrong.
TEST(KerasH5Bad, EachBadFileIsNamedWithItsProblem) {
  test::TempDir dir;
  const auto problem = [&](const std::string& name, const Layout& l) {
    const std::string path = dir / name;
    write_model(path, l);
    const std::string e = error_of([&] { read_keras_weights(path); });
    EXPECT_NE(e.find(path), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    return e;
  };
  EXPECT_NE(problem("filament.h5", {.filament = true}).find("filament"), std::string::npos);
  EXPECT_NE(problem("missing.h5", {.drop_beta = true}).find("norm_1/beta:0"), std::string::npos);
  EXPECT_NE(problem("ints.h5", {.int_beta = true}).find("norm_1/beta:0"), std::string::npos);
  EXPECT_NE(problem("nolayers.h5", {.no_layer_names = true}).find("layer_names"), std::string::npos);

  const std::string text = dir / "text.h5";
  std::ofstream(text) << "not a model\n";
  EXPECT_FALSE(is_hdf5(text));
  Context cpu;
  Graph net = new_network("cupick-cpu-demo", cpu, {1, 1, 64, 64}, 3);
  EXPECT_NE(error_of([&] { load_weights(text, net.params()); }).find("is not an HDF5 file"), std::string::npos);
}

}  // namespace
}  // namespace cupick
