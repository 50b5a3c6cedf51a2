#include "io/weights.h"

#include <gtest/gtest.h>
#include <unistd.h>  // getpid

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/half.h"
#include "tests/error_of.h"
#include "tests/layer_check.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;
using test::error_of;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char(n >> (8 * i) & 0xff);
  return s;
}

std::string float_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// A safetensors file written by hand: length, header as given, data.
std::string file_bytes(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// One file-side tensor entry.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, int begin, int end) {
  return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": [" +
         std::to_string(begin) + ", " + std::to_string(end) + "]}";
}

// {"a": ..., "b": ...} from its members.
std::string object(const std::vector<std::string>& members) {
  std::string s = "{";
  for (size_t i = 0; i < members.size(); ++i) s.append(i ? ", " : "").append(members[i]);
  return s.append("}");
}

// A network of two parameters: a 2-output 1x1 convolution kernel (file shape [2, 1, 1, 1]) and a
// batchnorm vector (file shape [2]).
struct Net {
  Param kernel{"kernel", Tensor::from<float>({-7, -7}, {2, 1, 1, 1}), Tensor(), true};
  Param beta{"beta", Tensor::from<float>({-7, -7}, {1, 2, 1, 1}), Tensor(), true};
  std::vector<NamedParam> params() { return {{"conv_1/kernel", &kernel}, {"norm_1/beta", &beta}}; }
};
const std::string kKernel = entry("conv_1/kernel", "F32", "[2, 1, 1, 1]", 0, 8);
const std::string kGoodData = float_bytes({1, 2, 3, 4});

class Weights : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cupick_weights_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(Weights, RoundTrip) {
  std::vector<Param> ps;
  ps.push_back({"kernel", test::random_tensor({4, 1, 3, 3}, DType::f32, 1), Tensor(), true});
  ps.push_back({"gamma", test::random_tensor({1, 4, 1, 1}, DType::f32, 2), Tensor(), true});
  ps.push_back({"moving_mean", test::random_tensor({1, 4, 1, 1}, DType::f32, 3), Tensor(), false});
  ps.push_back({"kernel", test::random_tensor({1, 4, 1, 1}, DType::f32, 4), Tensor(), true});  // one output, 1x1
  ps.push_back({"bias", test::random_tensor({1, 1, 1, 1}, DType::f32, 5), Tensor(), true});
  const std::vector<std::string> names = {"conv_1_depth1/kernel", "norm_1/gamma", "norm_1/moving_mean",
                                          "conv_23/kernel", "conv_23/bias"};
  std::vector<NamedParam> saved;
  for (size_t i = 0; i < ps.size(); ++i) saved.push_back({names[i], &ps[i]});
  const std::string file = path("w.safetensors");
  save_weights(file, saved, {{"epoch", "7"}, {"format", "other"}});

  const std::map<std::string, std::string> meta = read_metadata(file);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"epoch", "7"}, {"format", "cupick"}}));

  // Into zeroed f32 tensors: identical bits.
  std::vector<Param> back;
  for (const Param& p : ps) back.push_back({p.name, Tensor(p.value.shape()), Tensor(), p.trainable});
  std::vector<NamedParam> loaded;
  for (size_t i = 0; i < back.size(); ++i) loaded.push_back({names[i], &back[i]});
  load_weights(file, loaded);
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_EQ(back[i].value.values<float>(), ps[i].value.values<float>()) << names[i];

  // Into f64 host tensors (the gradient checks' type): converted exactly.
  for (Param& p : back) p.value = Tensor(p.value.shape(), Device::cpu, DType::f64);
  load_weights(file, loaded);
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::vector<float> f = ps[i].value.values<float>();
    EXPECT_EQ(back[i].value.values<double>(), std::vector<double>(f.begin(), f.end())) << names[i];
  }
  // From f64: rounded to f32 on the way out.
  save_weights(file, loaded);
  for (Param& p : ps) p.value.zero();
  load_weights(file, saved);
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::vector<double> d = back[i].value.values<double>();
    std::vector<float> want(d.begin(), d.end());
    EXPECT_EQ(ps[i].value.values<float>(), want) << names[i];
  }
}

// Every finite half survives float and back; float rounds to the nearest half, ties to even.
TEST(Half, RoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    ASSERT_EQ(float_to_half(f), h) << "half 0x" << std::hex << h;
  }
  EXPECT_EQ(float_to_half(1 + 0x1p-11f), 0x3c00);          // halfway between 1 and the next: even (1)
  EXPECT_EQ(float_to_half(1 + 3 * 0x1p-11f), 0x3c02);      // halfway above an odd one: up
  EXPECT_EQ(float_to_half(1 + 0x1p-11f + 0x1p-20f), 0x3c01);  // just above halfway: up
  EXPECT_EQ(float_to_half(65504), 0x7bff);
  EXPECT_EQ(float_to_half(65519), 0x7bff);                 // below halfway to 65536: the largest half
  EXPECT_EQ(float_to_half(65520), 0x7c00);                 // halfway: infinity
  EXPECT_EQ(float_to_half(-1e30f), 0xfc00);
  EXPECT_EQ(float_to_half(0x1p-25f), 0x0000);              // half the smallest subnormal: even (0)
  EXPECT_EQ(float_to_half(0x1p-25f * 3), 0x0002);          // 1.5 subnormal steps: even (2)
  EXPECT_EQ(float_to_half(0x1p-14f - 0x1p-26f), 0x0400);   // the top subnormal rounds up into the normals
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
}

// Saved in fp16, read back as each value rounded to the nearest half; the header says F16.
TEST_F(Weights, HalfRoundTrip) {
  Param kernel{"kernel", test::random_tensor({4, 1, 3, 3}, DType::f32, 1), Tensor(), true};
  Param beta{"beta", Tensor::from<float>({-1e-7f, 65504.f, 3.14159f}, {1, 3, 1, 1}), Tensor(), true};
  const std::string file = path("half.safetensors");
  save_weights(file, {{"conv_1/kernel", &kernel}, {"norm_1/beta", &beta}}, {{"note", "fp16"}}, /*half=*/true);
  const std::string bytes = read_bytes(file);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | uint8_t(bytes[i]);
  const nlohmann::json j = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(j["norm_1/beta"], (nlohmann::json{{"dtype", "F16"}, {"shape", {3}}, {"data_offsets", {72, 78}}}));
  EXPECT_EQ(bytes.size(), 8 + n + 78);

  Param kernel_back{"kernel", Tensor({4, 1, 3, 3}), Tensor(), true}, beta_back{"beta", Tensor({1, 3, 1, 1}), Tensor(), true};
  load_weights(file, {{"conv_1/kernel", &kernel_back}, {"norm_1/beta", &beta_back}});
  const std::vector<float> k = kernel.value.values<float>(), kb = kernel_back.value.values<float>();
  for (size_t i = 0; i < k.size(); ++i) EXPECT_EQ(kb[i], half_to_float(float_to_half(k[i])));
  const std::vector<float> b = beta_back.value.values<float>();
  EXPECT_EQ(b[0], -0x1p-24f * 2);  // -1e-7 is about 1.7 subnormal steps
  EXPECT_EQ(b[1], 65504.f);  // the largest finite half
  EXPECT_NEAR(b[2], 3.14159f, 2e-3);
}

// The bytes, read without our reader, follow the format.
TEST_F(Weights, FileLayoutFollowsTheFormat) {
  Param kernel{"kernel", Tensor::from<float>({1.5f, -2}, {1, 1, 1, 2}), Tensor(), true};
  Param beta{"beta", Tensor::from<float>({-1, 0.5f, 3}, {1, 3, 1, 1}), Tensor(), true};
  const std::string file = path("layout.safetensors");
  save_weights(file, {{"conv_1/kernel", &kernel}, {"norm_1/beta", &beta}}, {{"note", "hi"}});
  const std::string bytes = read_bytes(file);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | uint8_t(bytes[i]);
  EXPECT_EQ(n % 8, 0u) << "the data must start on an 8-byte boundary";
  ASSERT_EQ(bytes.size(), 8 + n + 20);
  const std::string header = bytes.substr(8, n);
  const size_t close = header.find_last_of('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << "padding is spaces only";
  // The header's order is the network's order, metadata first.
  EXPECT_LT(header.find("\"__metadata__\""), header.find("\"conv_1/kernel\""));
  EXPECT_LT(header.find("\"conv_1/kernel\""), header.find("\"norm_1/beta\""));
  const nlohmann::json j = nlohmann::json::parse(header);
  EXPECT_EQ(j.size(), 3u);
  EXPECT_EQ(j["__metadata__"], (nlohmann::json{{"format", "cupick"}, {"note", "hi"}}));
  EXPECT_EQ(j["conv_1/kernel"], (nlohmann::json{{"dtype", "F32"}, {"shape", {1, 1, 1, 2}}, {"data_offsets", {0, 8}}}));
  EXPECT_EQ(j["norm_1/beta"], (nlohmann::json{{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {8, 20}}}));
  EXPECT_EQ(bytes.substr(8 + n), float_bytes({1.5f, -2, -1, 0.5f, 3}));
}

// A file written by hand (no padding, metadata last, tensors in another order than the network's).
TEST_F(Weights, ReadsAHandWrittenFile) {
  const std::string file = path("hand.safetensors");
  write_bytes(file, file_bytes(object({entry("norm_1/beta", "F32", "[2]", 8, 16), kKernel,
                                      R"("__metadata__": {"format": "pt"})"}),
                               kGoodData));
  Net net;
  load_weights(file, net.params());
  EXPECT_EQ(net.kernel.value.values<float>(), (std::vector<float>{1, 2}));
  EXPECT_EQ(net.beta.value.values<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(read_metadata(file).at("format"), "pt");
}

// Every bad file gives one line naming the file and the problem, and changes no parameter.
TEST_F(Weights, RejectsBadFiles) {
  const std::string beta = entry("norm_1/beta", "F32", "[2]", 8, 16);
  const std::string good_header = object({kKernel, beta});
  struct Case {
    const char* name;
    std::string bytes;  // the file; "<none>" for no file at all
    std::string want;   // part of the message
  };
  const std::vector<Case> cases = {
      {"missing", "<none>", "does not exist"},
      {"too_short", "abc", "is 3 bytes, too short for a safetensors header"},
      {"truncated_header", le64(1000) + good_header.substr(0, 40), "header length 1000 is larger than the rest"},
      {"truncated_data", file_bytes(good_header, kGoodData.substr(0, 12)),
       "tensor norm_1/beta ends at byte 16 of the data but the data has 12 bytes: truncated file"},
      {"invalid_json", file_bytes(R"({"conv_1/kernel": {"dtype": "F32",, "shape": [2, 1, 1, 1]}})", kGoodData), "invalid JSON header: [json.exception.parse_error"},
      {"not_an_object", file_bytes("[1, 2]", ""), "the header is not a JSON object"},
      {"bad_offsets", file_bytes(R"({"conv_1/kernel": {"dtype": "F32", "shape": [2, 1, 1, 1], "data_offsets": [8]}})", ""),
       "tensor conv_1/kernel: \"data_offsets\" is [8], not [begin, end]"},
      {"wrong_shape", file_bytes(object({kKernel, entry("norm_1/beta", "F32", "[3]", 8, 20)}), float_bytes({1, 2, 3, 4, 5})),
       "tensor norm_1/beta has shape [3], the network expects [2]"},
      {"missing_tensor", file_bytes(object({kKernel}), kGoodData.substr(0, 8)),
       "1 tensor(s) the network needs are missing: norm_1/beta"},
      {"wrong_dtype", file_bytes(object({kKernel, entry("norm_1/beta", "BF16", "[2]", 8, 12)}), kGoodData.substr(0, 12)),
       "tensor norm_1/beta has dtype BF16, cupick reads F32 and F16"},
      {"f16_short", file_bytes(object({kKernel, entry("norm_1/beta", "F16", "[2]", 8, 10)}), kGoodData.substr(0, 10)),
       "tensor norm_1/beta has 2 bytes of data, its shape [2] needs 4"},
      {"extra_tensor", file_bytes(object({kKernel, beta, entry("conv_9/kernel", "F32", "[1]", 16, 20)}),
                                  kGoodData + float_bytes({5})),
       "1 tensor(s) the network does not have: conv_9/kernel"},
      {"size_mismatch", file_bytes(object({kKernel, entry("norm_1/beta", "F32", "[2]", 8, 12)}), kGoodData.substr(0, 12)),
       "tensor norm_1/beta has 4 bytes of data, its shape [2] needs 8"},
      {"gap", file_bytes(object({kKernel, entry("norm_1/beta", "F32", "[2]", 12, 20)}), kGoodData + "    "),
       "tensor norm_1/beta starts at byte 12 of the data, expected 8"},
      {"trailing_bytes", file_bytes(good_header, kGoodData + "xxxx"), "4 bytes after the last tensor"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string file = path(std::string(c.name) + ".safetensors");
    if (c.bytes != "<none>") write_bytes(file, c.bytes);
    Net net;
    const std::string msg = error_of([&] { load_weights(file, net.params()); });
    EXPECT_EQ(msg.rfind("file " + file + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(net.kernel.value.values<float>(), (std::vector<float>{-7, -7}));
    EXPECT_EQ(net.beta.value.values<float>(), (std::vector<float>{-7, -7}));
  }
  // The exact wording users see for the commonest mistake.
  Net net;
  EXPECT_EQ(error_of([&] { load_weights(path("wrong_shape.safetensors"), net.params()); }),
            "file " + path("wrong_shape.safetensors") + ": tensor norm_1/beta has shape [3], the network expects [2]");
  // Optimizer state or other extras may be ignored on purpose.
  load_weights(path("extra_tensor.safetensors"), net.params(), /*allow_extra=*/true);
  EXPECT_EQ(net.beta.value.values<float>(), (std::vector<float>{3, 4}));
}

TEST_F(Weights, RejectsBadParams) {
  Net net;
  Param half{"kernel", Tensor({1, 2, 1, 1}, Device::cpu, DType::f16), Tensor(), true};
  const std::string file = path("w.safetensors");
  EXPECT_NE(error_of([&] { save_weights(file, {{"conv_1/kernel", &half}}); }).find("parameter conv_1/kernel is"),
            std::string::npos);
  EXPECT_NE(error_of([&] { save_weights(file, {{"a/b", &net.kernel}, {"a/b", &net.beta}}); }).find("two parameters are named a/b"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".tmp"));
}

// A NaN or an infinity in a weights file (f32 or f16, written by hand: save_weights refuses them)
// is refused, naming the tensor, and the network keeps the values it had. Saving refuses them too,
// and f16 saving values beyond its range (65504), which would become infinities.
TEST_F(Weights, NaNOrInfiniteWeightsAreRefusedNamingTheTensor) {
  const std::string beta = entry("norm_1/beta", "F32", "[2]", 8, 16);
  const uint16_t half_one = 0x3c00, half_inf = 0x7c00, half_nan = 0x7e00;
  std::string halves(8, '\0');
  for (int i = 0; i < 4; ++i) std::memcpy(&halves[2 * i], i == 3 ? &half_inf : &half_one, 2);
  const std::vector<std::pair<std::string, std::string>> files = {
      {object({kKernel, beta}), float_bytes({1, 2, 3, std::nanf("")})},
      {object({kKernel, beta}), float_bytes({1, 2, -INFINITY, 4})},
      {object({entry("conv_1/kernel", "F16", "[2, 1, 1, 1]", 0, 4), entry("norm_1/beta", "F16", "[2]", 4, 8)}), halves}};
  for (const auto& [header, data] : files) {
    write_bytes(path("bad.safetensors"), file_bytes(header, data));
    Net net;
    const std::string msg = error_of([&] { load_weights(path("bad.safetensors"), net.params()); });
    EXPECT_EQ(msg, "file " + path("bad.safetensors") + ": tensor norm_1/beta has 1 of 2 values NaN or infinite");
    EXPECT_EQ(net.kernel.value.values<float>(), (std::vector<float>{-7, -7}));  // unchanged
  }
  std::memcpy(&halves[6], &half_nan, 2);
  write_bytes(path("bad.safetensors"), file_bytes(files[2].first, halves));
  Net net;
  EXPECT_NE(error_of([&] { load_weights(path("bad.safetensors"), net.params()); }).find("NaN or infinite"), std::string::npos);

  for (const auto& [value, half] : {std::pair{std::nanf(""), false}, std::pair{INFINITY, false}, std::pair{70000.f, true}}) {
    net.beta.value.copy_from(Tensor::from<float>({3, value}, {1, 2, 1, 1}));
    const std::string msg = error_of([&] { save_weights(path("out.safetensors"), net.params(), {}, half); });
    EXPECT_NE(msg.find("tensor norm_1/beta"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(path("out.safetensors")));
  }
}

TEST_F(Weights, SaveWritesATemporaryFileThenRenames) {
  Net net;
  const std::string file = path("w.safetensors");
  net.kernel.value.copy_from(Tensor::from<float>({1, 2}, {2, 1, 1, 1}));
  save_weights(file, net.params());
  EXPECT_TRUE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".tmp"));
  // Over an existing file: replaced whole.
  net.kernel.value.copy_from(Tensor::from<float>({5, 6}, {2, 1, 1, 1}));
  save_weights(file, net.params());
  EXPECT_FALSE(fs::exists(file + ".tmp"));
  Net back;
  load_weights(file, back.params());
  EXPECT_EQ(back.kernel.value.values<float>(), (std::vector<float>{5, 6}));
}

TEST_F(Weights, FailedSaveLeavesNoPartialFile) {
  Net net;
  // Into a folder that does not exist: nothing can be created.
  const std::string nowhere = path("no_such_folder/w.safetensors");
  const std::string msg = error_of([&] { save_weights(nowhere, net.params()); });
  EXPECT_NE(msg.find(nowhere), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(nowhere));
  EXPECT_FALSE(fs::exists(nowhere + ".tmp"));
  // The temporary file is written but the rename fails (a folder is in the way): it is removed again.
  const std::string blocked = path("blocked");
  fs::create_directories(blocked + "/inside");
  const std::string msg2 = error_of([&] { save_weights(blocked, net.params()); });
  EXPECT_NE(msg2.find(blocked + ": cannot rename"), std::string::npos) << msg2;
  EXPECT_FALSE(fs::exists(blocked + ".tmp"));
  EXPECT_TRUE(fs::is_directory(blocked + "/inside"));
}

// Parameters on the GPU are saved from and loaded into device memory.
TEST_F(Weights, RoundTripOnGpu) {
  SKIP_WITHOUT_GPU();
  Param kernel{"kernel", test::random_tensor({8, 4, 3, 3}, DType::f32, 7).to(Device::gpu), Tensor(), true};
  const std::string file = path("gpu.safetensors");
  save_weights(file, {{"conv_2/kernel", &kernel}});
  Param host{"kernel", Tensor({8, 4, 3, 3}), Tensor(), true};
  load_weights(file, {{"conv_2/kernel", &host}});
  EXPECT_EQ(host.value.values<float>(), kernel.value.values<float>());
  Param dev{"kernel", Tensor({8, 4, 3, 3}, Device::gpu), Tensor(), true};
  load_weights(file, {{"conv_2/kernel", &dev}});
  EXPECT_EQ(dev.value.values<float>(), kernel.value.values<float>());
}

}  // namespace
}  // namespace cupick
