// Micrograph readers and the MRC writer, on small files built byte by byte or written here with
// libtiff, libpng and libjpeg, whose pixel values are known.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <png.h>
#include <tiffio.h>
#include <unistd.h>  // getpid

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <jpeglib.h>  // after <cstdio>: it needs FILE

#include "io/micrograph.h"
#include "io/mrc.h"
#include "tests/error_of.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;
using test::error_of;

// A folder of its own per test, removed afterwards.
class Files : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cupick_micrograph_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};
// The suites, so that ctest -R picks a format.
class Mrc : public Files {};
class Micrograph : public Files {};
class Tiff : public Files {};
class Png : public Files {};
class Jpeg : public Files {};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// ---- MRC bytes by hand ----

std::string word(uint32_t v, int bytes, bool big) {
  std::string s(size_t(bytes), '\0');
  for (int i = 0; i < bytes; ++i) s[size_t(big ? bytes - 1 - i : i)] = char(v >> (8 * i) & 0xff);
  return s;
}

// A 1024-byte header with the words the reader uses; everything else zero.
std::string mrc_header(int nx, int ny, int nz, int mode, bool big = false, int nsymbt = 0, bool map_word = true,
                       bool stamp = true) {
  std::string h(1024, '\0');
  auto put = [&](int offset, int32_t v) { h.replace(size_t(offset), 4, word(uint32_t(v), 4, big)); };
  put(0, nx);
  put(4, ny);
  put(8, nz);
  put(12, mode);
  put(92, nsymbt);
  if (map_word) h.replace(208, 4, "MAP ");
  if (stamp) h.replace(212, 2, big ? "\x11\x11" : "\x44\x44");
  return h;
}

std::string f32_bytes(const std::vector<float>& v, bool big = false) {
  std::string s;
  for (float x : v) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    s += word(u, 4, big);
  }
  return s;
}

// File rows as stored (row 0 first) -> the Image rows of an MRC file: upside down.
void expect_mrc_rows(const Image& image, int nx, int ny, const std::vector<float>& file_values) {
  ASSERT_EQ(image.width, nx);
  ASSERT_EQ(image.height, ny);
  for (int r = 0; r < ny; ++r)
    for (int x = 0; x < nx; ++x) EXPECT_EQ(image.at(x, ny - 1 - r), file_values[size_t(r * nx + x)]) << x << "," << r;
}

TEST_F(Mrc, RoundTripKeepsTheImageAndWritesAStandardHeader) {
  Image image(5, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) image.at(x, y) = float(10 * y + x) - 7.5f;
  const std::string p = path("round.mrc");
  write_mrc(p, image);
  EXPECT_FALSE(fs::exists(p + ".tmp"));

  const Image back = read_micrograph(p);
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.pixels, image.pixels);

  const std::string bytes = read_bytes(p);
  ASSERT_EQ(bytes.size(), 1024u + 15 * 4);
  auto i32 = [&](int offset) { int32_t v; std::memcpy(&v, &bytes[size_t(offset)], 4); return v; };
  auto f32 = [&](int offset) { float v; std::memcpy(&v, &bytes[size_t(offset)], 4); return v; };
  EXPECT_EQ(i32(0), 5);
  EXPECT_EQ(i32(4), 3);
  EXPECT_EQ(i32(8), 1);
  EXPECT_EQ(i32(12), 2);
  EXPECT_EQ(i32(92), 0);
  EXPECT_EQ(bytes.substr(208, 4), "MAP ");
  EXPECT_EQ(bytes.substr(212, 2), "\x44\x44");
  EXPECT_EQ(f32(40), 5.f);  // cell = (nx, ny, 1): 1 Å pixels
  EXPECT_EQ(f32(44), 3.f);
  EXPECT_EQ(f32(48), 1.f);
  EXPECT_EQ(f32(76), -7.5f);  // min, max, mean
  EXPECT_EQ(f32(80), 16.5f);
  EXPECT_FLOAT_EQ(f32(84), 4.5f);
  double var = 0;
  for (float v : image.pixels) var += (v - 4.5) * (v - 4.5);
  EXPECT_FLOAT_EQ(f32(216), float(std::sqrt(var / 15)));  // rms deviation from the mean
}

TEST_F(Mrc, BigEndianMode1) {
  const std::vector<int16_t> file_values = {1, -2, 300, -32768, 32767, 0};  // 3 x 2
  std::string data;
  for (int16_t v : file_values) data += word(uint16_t(v), 2, true);
  const std::string p = path("big.mrc");
  write_bytes(p, mrc_header(3, 2, 1, 1, true) + data);
  expect_mrc_rows(read_micrograph(p), 3, 2, {1, -2, 300, -32768, 32767, 0});
}

TEST_F(Mrc, Float16) {
  // 1.0, -2.0, the largest half (65504), the smallest subnormal (2^-24), the largest subnormal, -0.
  const std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x8000};
  std::string data;
  for (uint16_t h : halves) data += word(h, 2, false);
  const std::string p = path("half.mrc");
  write_bytes(p, mrc_header(6, 1, 1, 12) + data);
  const Image image = read_micrograph(p);
  EXPECT_EQ(image.at(0, 0), 1.0f);
  EXPECT_EQ(image.at(1, 0), -2.0f);
  EXPECT_EQ(image.at(2, 0), 65504.0f);
  EXPECT_EQ(image.at(3, 0), std::ldexp(1.0f, -24));
  EXPECT_EQ(image.at(4, 0), std::ldexp(1023.0f, -24));
  EXPECT_EQ(image.at(5, 0), 0.0f);
  EXPECT_TRUE(std::signbit(image.at(5, 0)));
}

TEST_F(Mrc, HalfToFloatSpecialValues) {
  EXPECT_EQ(half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7c01)));  // a signalling NaN stays NaN, not infinity
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
}

TEST_F(Mrc, Mode0IsSignedAndMode6IsUnsigned) {
  const std::string p0 = path("int8.mrc"), p6 = path("uint16.mrc");
  write_bytes(p0, mrc_header(2, 2, 1, 0) + std::string("\x80\xff\x00\x7f", 4));
  expect_mrc_rows(read_micrograph(p0), 2, 2, {-128, -1, 0, 127});
  write_bytes(p6, mrc_header(2, 2, 1, 6) + word(0, 2, false) + word(1, 2, false) + word(40000, 2, false) +
                      word(65535, 2, false));
  expect_mrc_rows(read_micrograph(p6), 2, 2, {0, 1, 40000, 65535});
}

TEST_F(Mrc, ExtendedHeaderIsSkipped) {
  const std::string p = path("ext.mrcs");
  write_bytes(p, mrc_header(2, 2, 1, 2, false, 100) + std::string(100, '\x55') + f32_bytes({1, 2, 3, 4}));
  expect_mrc_rows(read_micrograph(p), 2, 2, {1, 2, 3, 4});
}

TEST_F(Mrc, WithoutStampOrMapWordIsReadWhenPlausible) {
  // An older writer: big-endian data, no machine stamp, no "MAP ". Only big-endian makes sense.
  const std::string p = path("old.mrc");
  write_bytes(p, mrc_header(2, 1, 1, 2, true, 0, false, false) + f32_bytes({0.5f, -4}, true));
  expect_mrc_rows(read_micrograph(p), 2, 1, {0.5f, -4});
}

TEST_F(Mrc, ErrorsNameTheFileAndTheProblem) {
  struct Case {
    const char* name;
    std::string bytes;
    std::vector<std::string> expected;  // pieces of the message, besides the file name
  };
  const std::string ok = mrc_header(3, 2, 1, 2);
  const std::vector<Case> cases = {
      {"short.mrc", std::string(100, '\0'), {"too short", "100 bytes"}},
      {"junk.mrc", std::string(1024, '\x7b'), {"not an MRC file", "MAP "}},
      {"complex.mrc", mrc_header(3, 2, 1, 4) + std::string(48, '\0'),
       {"mode 4 (complex float32) is not supported", "12 (float16)", "0 (int8)"}},
      {"mode7.mrc", mrc_header(3, 2, 1, 7) + std::string(48, '\0'), {"mode 7 is not supported"}},
      {"zero.mrc", mrc_header(0, 2, 1, 2), {"non-positive", "0 x 2 x 1"}},
      {"huge.mrc", mrc_header(100000, 2, 1, 2), {"absurd", "100000 x 2 x 1"}},
      {"stack.mrcs", mrc_header(3, 2, 5, 2) + std::string(120, '\0'), {"a stack of 5 images, not a micrograph"}},
      {"trunc.mrc", ok + std::string(10, '\0'), {"truncated", "need 24 bytes", "found 10"}},
      {"trunc_ext.mrc", mrc_header(3, 2, 1, 2, false, 2000) + std::string(24, '\0'), {"truncated", "found 0"}},
      {"negext.mrc", mrc_header(3, 2, 1, 2, false, -5) + std::string(24, '\0'), {"negative extended header"}},
      {"nan.mrc", ok + f32_bytes({1, NAN, 2, INFINITY, 3, 4}), {"2 of 6 pixels are NaN or infinite"}},
  };
  for (const Case& c : cases) {
    const std::string p = path(c.name);
    write_bytes(p, c.bytes);
    const std::string message = error_of([&] { read_micrograph(p); });
    EXPECT_THAT(message, HasSubstr(p)) << c.name;
    for (const std::string& piece : c.expected) EXPECT_THAT(message, HasSubstr(piece)) << c.name;
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name;
  }
  const std::string missing = path("missing.mrc");
  EXPECT_THAT(error_of([&] { read_micrograph(missing); }), HasSubstr(missing + ": cannot open"));
}

// ---- dispatch and orientation ----

TEST_F(Micrograph, DispatchIgnoresCaseAndListsWhatItKnows) {
  Image image(2, 2, 3.f);
  write_mrc(path("a.MRC"), image);
  EXPECT_EQ(read_micrograph(path("a.MRC")).pixels, image.pixels);
  EXPECT_TRUE(is_micrograph_path("x/y.TiFf"));
  EXPECT_TRUE(is_micrograph_path("y.jpeg"));
  EXPECT_TRUE(is_micrograph_path("y.rec"));
  EXPECT_FALSE(is_micrograph_path("y.box"));
  EXPECT_FALSE(is_micrograph_path("mrc"));
  const std::string message = error_of([&] { read_micrograph(path("a.dm4")); });
  EXPECT_THAT(message, HasSubstr("a.dm4"));
  EXPECT_THAT(message, HasSubstr(".dm4"));
  for (const char* ext : {".mrc", ".mrcs", ".rec", ".tif", ".tiff", ".png", ".jpg", ".jpeg"})
    EXPECT_THAT(message, HasSubstr(ext));
}

void write_png_grey8(const std::string& path, int width, int height, const std::vector<uint8_t>& values);
void write_tiff(const std::string& path, int width, int height, int bits, int format, const void* values,
                int pages = 1, int tile = 0, int compression = COMPRESSION_NONE);
void write_jpeg(const std::string& path, int width, int height, int components, const std::vector<uint8_t>& values);

// The rule in micrograph.h: a bright pixel stored in file row r is Image row height-1-r for MRC and
// row r for TIFF, PNG and JPEG; and the box-file y of that MRC row (y = r, its lower edge) names it.
TEST_F(Micrograph, OrientationRule) {
  const int w = 16, h = 8, bright_x = 5, r = 2;
  std::vector<float> file_values(size_t(w * h), 0.f);
  file_values[size_t(r * w + bright_x)] = 200.f;
  std::vector<uint8_t> bytes(file_values.begin(), file_values.end());

  write_bytes(path("o.mrc"), mrc_header(w, h, 1, 2) + f32_bytes(file_values));
  write_tiff(path("o.tif"), w, h, 32, SAMPLEFORMAT_IEEEFP, file_values.data());
  write_png_grey8(path("o.png"), w, h, bytes);
  write_jpeg(path("o.jpg"), w, h, 1, bytes);

  auto brightest_row = [&](const Image& image) {
    int best = 0;
    for (int i = 1; i < w * h; ++i)
      if (image.pixels[size_t(i)] > image.pixels[size_t(best)]) best = i;
    EXPECT_EQ(best % w, bright_x);
    return best / w;
  };
  EXPECT_EQ(brightest_row(read_micrograph(path("o.mrc"))), h - 1 - r);
  EXPECT_EQ(brightest_row(read_micrograph(path("o.tif"))), r);
  EXPECT_EQ(brightest_row(read_micrograph(path("o.png"))), r);
  EXPECT_EQ(brightest_row(read_micrograph(path("o.jpg"))), r);

  // An EMAN box of height 1 with its lower edge at y = r covers Image y from h-r-1 to h-r.
  EXPECT_EQ(file_y_to_image_y(float(r) + 1, h), float(h - 1 - r));
  EXPECT_EQ(file_y_to_image_y(float(r), h), float(h - r));
  EXPECT_EQ(file_y_to_image_y(file_y_to_image_y(3.25f, h), h), 3.25f);

  // The writer inverts the reader: Image row 0 goes to the last row stored.
  Image top(w, h);
  top.at(bright_x, 0) = 1.f;
  write_mrc(path("top.mrc"), top);
  const std::string stored = read_bytes(path("top.mrc"));
  float last_row_value;
  std::memcpy(&last_row_value, &stored[1024 + size_t(((h - 1) * w + bright_x) * 4)], 4);
  EXPECT_EQ(last_row_value, 1.f);
}

// ---- TIFF ----

void write_tiff(const std::string& path, int width, int height, int bits, int format, const void* values, int pages,
                int tile, int compression) {
  TIFF* t = TIFFOpen(path.c_str(), "w");
  ASSERT_NE(t, nullptr);
  const size_t bytes = size_t(bits / 8);
  for (int page = 0; page < pages; ++page) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(width));
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(height));
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, uint16_t(1));
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, uint16_t(bits));
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, uint16_t(format));
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, uint16_t(compression));
    const auto* src = static_cast<const unsigned char*>(values);
    if (tile) {
      TIFFSetField(t, TIFFTAG_TILEWIDTH, uint32_t(tile));
      TIFFSetField(t, TIFFTAG_TILELENGTH, uint32_t(tile));
      std::vector<unsigned char> buf(size_t(tile * tile) * bytes);
      for (int y0 = 0; y0 < height; y0 += tile)
        for (int x0 = 0; x0 < width; x0 += tile) {
          std::fill(buf.begin(), buf.end(), 0);
          for (int y = y0; y < std::min(height, y0 + tile); ++y)
            for (int x = x0; x < std::min(width, x0 + tile); ++x)
              std::memcpy(&buf[size_t((y - y0) * tile + (x - x0)) * bytes], src + size_t(y * width + x) * bytes, bytes);
          ASSERT_GE(TIFFWriteTile(t, buf.data(), uint32_t(x0), uint32_t(y0), 0, 0), 0);
        }
    } else {
      TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, uint32_t(3));  // several strips
      std::vector<unsigned char> row(size_t(width) * bytes);
      for (int y = 0; y < height; ++y) {
        std::memcpy(row.data(), src + size_t(y * width) * bytes, row.size());
        ASSERT_EQ(TIFFWriteScanline(t, row.data(), uint32_t(y), 0), 1);
      }
    }
    if (pages > 1) TIFFWriteDirectory(t);
  }
  TIFFClose(t);
}

TEST_F(Tiff, Unsigned16Strips) {
  const int w = 7, h = 5;
  std::vector<uint16_t> v(size_t(w * h));
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint16_t(i * 1000 + 7);
  write_tiff(path("u16.tif"), w, h, 16, SAMPLEFORMAT_UINT, v.data());
  const Image image = read_micrograph(path("u16.tif"));
  ASSERT_EQ(image.width, w);
  ASSERT_EQ(image.height, h);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(image.pixels[i], float(v[i]));
}

TEST_F(Tiff, Signed16AndFloat32) {
  const std::vector<int16_t> s = {-32768, -1, 0, 1, 32767, 12};
  write_tiff(path("i16.tiff"), 3, 2, 16, SAMPLEFORMAT_INT, s.data());
  const Image a = read_micrograph(path("i16.tiff"));
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(a.pixels[i], float(s[i]));

  const std::vector<float> f = {-1.5f, 0.25f, 1e30f, -3e-20f, 7, 8};
  write_tiff(path("f32.TIF"), 2, 3, 32, SAMPLEFORMAT_IEEEFP, f.data());
  const Image b = read_micrograph(path("f32.TIF"));
  EXPECT_EQ(b.width, 2);
  EXPECT_EQ(b.height, 3);
  EXPECT_EQ(b.pixels, f);
}

TEST_F(Tiff, LzwEightBitTiles) {
  // 40 x 20 in 16 x 16 tiles: the right and bottom tiles reach past the image.
  const int w = 40, h = 20;
  std::vector<uint8_t> v(size_t(w * h));
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(i * 7 % 251);
  write_tiff(path("tiles.tif"), w, h, 8, SAMPLEFORMAT_UINT, v.data(), 1, 16, COMPRESSION_LZW);
  write_tiff(path("strips.tif"), w, h, 8, SAMPLEFORMAT_UINT, v.data(), 1, 0, COMPRESSION_LZW);
  for (const char* name : {"tiles.tif", "strips.tif"}) {
    const Image image = read_micrograph(path(name));
    ASSERT_EQ(image.width, w) << name;
    ASSERT_EQ(image.height, h) << name;
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(image.pixels[i], float(v[i])) << name << " pixel " << i;
  }
}

TEST_F(Tiff, ErrorsNameTheProblemAndLibtiffStaysQuiet) {
  const std::vector<uint16_t> v(12, 1);
  write_tiff(path("pages.tif"), 4, 3, 16, SAMPLEFORMAT_UINT, v.data(), 3);
  const std::vector<float> nan = {1, NAN, 2, 3};
  write_tiff(path("nan.tif"), 2, 2, 32, SAMPLEFORMAT_IEEEFP, nan.data());
  const char junk[] = "II*\0 this is not a real TIFF directory";
  write_bytes(path("junk.tif"), std::string(junk, sizeof junk - 1));
  std::string truncated = read_bytes(path("pages.tif"));
  write_bytes(path("cut.tif"), truncated.substr(0, 20));
  {  // RGB
    TIFF* t = TIFFOpen(path("rgb.tif").c_str(), "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(2));
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(1));
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, uint16_t(3));
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, uint16_t(8));
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    const uint8_t row[6] = {1, 2, 3, 4, 5, 6};
    TIFFWriteScanline(t, const_cast<uint8_t*>(row), 0, 0);
    TIFFClose(t);
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pages.tif", "3 pages"},         {"nan.tif", "1 of 4 pixels are NaN or infinite"},
      {"junk.tif", "not a readable TIFF"}, {"cut.tif", "not a readable TIFF"},
      {"rgb.tif", "3 samples per pixel"},  {"missing.tif", "cannot open"},
  };
  testing::internal::CaptureStderr();
  for (const auto& [name, piece] : cases) {
    const std::string message = error_of([&] { read_micrograph(path(name)); });
    EXPECT_THAT(message, HasSubstr(path(name))) << name;
    EXPECT_THAT(message, HasSubstr(piece)) << name;
    EXPECT_EQ(message.find('\n'), std::string::npos) << name;
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// A deflate TIFF declaring 16000 x 16000 pixels in one strip of which one row was written.
TEST_F(Tiff, HeaderClaimingMoreThanTheFileHoldsIsAnError) {
  TIFF* t = TIFFOpen(path("big.tif").c_str(), "w");
  ASSERT_NE(t, nullptr);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(16000));
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(16000));
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, uint16_t(1));
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, uint16_t(8));
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_COMPRESSION, uint16_t(COMPRESSION_ADOBE_DEFLATE));
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, uint32_t(16000));
  std::vector<uint8_t> row(16000, 3);
  ASSERT_EQ(TIFFWriteScanline(t, row.data(), 0, 0), 1);
  TIFFClose(t);
  ASSERT_LT(fs::file_size(path("big.tif")), 4096u);
  testing::internal::CaptureStderr();
  EXPECT_THAT(error_of([&] { read_micrograph(path("big.tif")); }),
              HasSubstr(path("big.tif") + ": the TIFF header claims 16000 x 16000 pixels"));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// ---- PNG ----

void write_png(const std::string& path, int width, int height, uint32_t format, const void* values) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(width);
  image.height = png_uint_32(height);
  image.format = format;
  ASSERT_NE(png_image_write_to_file(&image, path.c_str(), 0, values, 0, nullptr), 0) << image.message;
}

void write_png_grey8(const std::string& path, int width, int height, const std::vector<uint8_t>& values) {
  write_png(path, width, height, PNG_FORMAT_GRAY, values.data());
}

TEST_F(Png, Grey8And16AndColour) {
  const std::vector<uint8_t> g8 = {0, 1, 128, 255, 17, 99};
  write_png_grey8(path("g8.png"), 3, 2, g8);
  const Image a = read_micrograph(path("g8.png"));
  ASSERT_EQ(a.width, 3);
  ASSERT_EQ(a.height, 2);
  for (size_t i = 0; i < g8.size(); ++i) EXPECT_EQ(a.pixels[i], float(g8[i]));

  const std::vector<uint16_t> g16 = {0, 1, 300, 65535};
  write_png(path("g16.png"), 2, 2, PNG_FORMAT_LINEAR_Y, g16.data());
  const Image b = read_micrograph(path("g16.png"));
  for (size_t i = 0; i < g16.size(); ++i) EXPECT_EQ(b.pixels[i], float(g16[i]));

  // Pure red, green, blue and a grey: luminance 0.299 R + 0.587 G + 0.114 B, rounded.
  const std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 40, 40, 40};
  write_png(path("rgb.png"), 4, 1, PNG_FORMAT_RGB, rgb.data());
  const Image c = read_micrograph(path("rgb.png"));
  EXPECT_EQ(c.pixels, (std::vector<float>{76, 150, 29, 40}));
}

TEST_F(Png, CorruptFilesAreErrors) {
  std::vector<uint8_t> g(64 * 64);
  for (size_t i = 0; i < g.size(); ++i) g[i] = uint8_t(i * 31 % 256);
  write_png_grey8(path("good.png"), 64, 64, g);
  const std::string good = read_bytes(path("good.png"));
  write_bytes(path("cut.png"), good.substr(0, good.size() / 2));
  std::string flipped = good;
  flipped[good.size() / 2] = char(flipped[good.size() / 2] ^ 0x5a);  // inside the image data: CRC mismatch
  write_bytes(path("crc.png"), flipped);
  write_bytes(path("text.png"), "hello, not a png");
  for (const auto& [name, piece] : std::vector<std::pair<std::string, std::string>>{
           {"cut.png", "corrupt or unreadable PNG"}, {"crc.png", "corrupt or unreadable PNG"},
           {"text.png", "not a PNG file"}, {"missing.png", "cannot open"}}) {
    const std::string message = error_of([&] { read_micrograph(path(name)); });
    EXPECT_THAT(message, HasSubstr(path(name))) << name;
    EXPECT_THAT(message, HasSubstr(piece)) << name;
  }
}

// The CRC-32 of PNG chunks (ISO 3309), to patch a header and keep the file otherwise valid.
uint32_t png_crc(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string big_endian(uint32_t v, int bytes) {
  std::string s;
  for (int i = bytes - 1; i >= 0; --i) s += char((v >> (8 * i)) & 0xff);
  return s;
}

// A valid small PNG whose IHDR is made to claim width x height: nothing may be allocated for the
// claim before it is checked against the file's length.
TEST_F(Png, HeaderClaimingMoreThanTheFileHoldsIsAnError) {
  write_png_grey8(path("small.png"), 8, 8, std::vector<uint8_t>(64, 7));
  const std::string small = read_bytes(path("small.png"));
  auto claiming = [&](uint32_t width, uint32_t height) {
    std::string s = small;
    s.replace(16, 8, big_endian(width, 4) + big_endian(height, 4));  // IHDR's data starts at byte 16
    s.replace(29, 4, big_endian(png_crc(s.substr(12, 17)), 4));      // its CRC covers type and data
    return s;
  };
  write_bytes(path("huge.png"), claiming(65536, 65536));
  write_bytes(path("big.png"), claiming(16000, 16000));
  EXPECT_THAT(error_of([&] { read_micrograph(path("huge.png")); }),
              HasSubstr(path("huge.png") + ": implausible PNG size 65536 x 65536: more than 256 M pixels"));
  EXPECT_THAT(error_of([&] { read_micrograph(path("big.png")); }),
              HasSubstr(path("big.png") + ": the PNG header claims 16000 x 16000 pixels (256000000 bytes decoded), "
                                          "more than a file of " + std::to_string(small.size()) + " bytes can hold"));
}

// ---- JPEG ----

void write_jpeg(const std::string& path, int width, int height, int components, const std::vector<uint8_t>& values) {
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = JDIMENSION(width);
  info.image_height = JDIMENSION(height);
  info.input_components = components;
  info.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 100, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<JSAMPLE*>(&values[size_t(info.next_scanline) * size_t(width * components)]);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(file);
}

TEST_F(Jpeg, GreyAndColourApproximately) {
  // Smooth content, which JPEG at quality 100 keeps within a grey level or two.
  const int w = 24, h = 16;
  std::vector<uint8_t> grey(size_t(w * h)), rgb(size_t(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      grey[size_t(y * w + x)] = uint8_t(40 + 5 * x + 3 * y);
      for (int c = 0; c < 3; ++c) rgb[size_t((y * w + x) * 3 + c)] = uint8_t(c == 0 ? 200 : c == 1 ? 100 : 8 * x);
    }
  write_jpeg(path("g.jpg"), w, h, 1, grey);
  write_jpeg(path("c.JPEG"), w, h, 3, rgb);
  const Image g = read_micrograph(path("g.jpg"));
  const Image c = read_micrograph(path("c.JPEG"));
  ASSERT_EQ(g.width, w);
  ASSERT_EQ(g.height, h);
  ASSERT_EQ(c.width, w);
  ASSERT_EQ(c.height, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      EXPECT_NEAR(g.at(x, y), grey[size_t(y * w + x)], 2.0) << x << "," << y;
      EXPECT_NEAR(c.at(x, y), 0.299 * 200 + 0.587 * 100 + 0.114 * 8 * x, 3.0) << x << "," << y;
    }
}

TEST_F(Jpeg, CorruptFilesAreErrors) {
  std::vector<uint8_t> grey(size_t(64 * 64));
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(i * 13 % 256);
  write_jpeg(path("good.jpg"), 64, 64, 1, grey);
  const std::string good = read_bytes(path("good.jpg"));
  write_bytes(path("cut.jpg"), good.substr(0, good.size() / 2));
  write_bytes(path("text.jpg"), "hello, not a jpeg at all");
  write_bytes(path("empty.jpg"), "");
  testing::internal::CaptureStderr();
  for (const char* name : {"cut.jpg", "text.jpg", "empty.jpg"}) {
    const std::string message = error_of([&] { read_micrograph(path(name)); });
    EXPECT_THAT(message, HasSubstr(path(name) + ": corrupt or unreadable JPEG: ")) << name;
    EXPECT_EQ(message.find('\n'), std::string::npos) << name;
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_THAT(error_of([&] { read_micrograph(path("missing.jpeg")); }), HasSubstr("cannot open"));
}

// A valid small JPEG whose frame header (SOF0) is made to claim width x height.
TEST_F(Jpeg, HeaderClaimingMoreThanTheFileHoldsIsAnError) {
  write_jpeg(path("small.jpg"), 16, 16, 1, std::vector<uint8_t>(256, 90));
  const std::string small = read_bytes(path("small.jpg"));
  const size_t sof = small.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  auto claiming = [&](uint32_t width, uint32_t height) {
    std::string s = small;
    s.replace(sof + 5, 4, big_endian(height, 2) + big_endian(width, 2));  // after marker, length and precision
    return s;
  };
  write_bytes(path("huge.jpg"), claiming(60000, 60000));
  write_bytes(path("big.jpg"), claiming(4000, 4000));
  testing::internal::CaptureStderr();
  EXPECT_THAT(error_of([&] { read_micrograph(path("huge.jpg")); }),
              HasSubstr(path("huge.jpg") + ": implausible JPEG size 60000 x 60000: more than 256 M pixels"));
  EXPECT_THAT(error_of([&] { read_micrograph(path("big.jpg")); }),
              HasSubstr(path("big.jpg") + ": the JPEG header claims 4000 x 4000 pixels"));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace cupick
