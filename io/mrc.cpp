#include "io/mrc.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/files.h"

namespace cupick {

namespace {

// Floats go between file and memory byte for byte.
static_assert(std::endian::native == std::endian::little, "MRC writing assumes a little-endian host");

constexpr int header_bytes = 1024;

[[noreturn]] void fail(const std::string& path, const std::string& problem) { throw Error(path + ": " + problem); }

struct ModeInfo {
  int mode;
  int bytes;         // per pixel
  const char* name;  // the pixel type
  bool supported;
};

constexpr ModeInfo modes[] = {
    {0, 1, "int8", true},    {1, 2, "int16", true},   {2, 4, "float32", true},
    {3, 4, "complex int16", false}, {4, 8, "complex float32", false}, {6, 2, "uint16", true},
    {12, 2, "float16", true}, {101, 1, "4-bit packed", false},
};

const ModeInfo* find_mode(int mode) {
  for (const ModeInfo& m : modes)
    if (m.mode == mode) return &m;
  return nullptr;
}

std::string supported_modes() {
  std::string s;
  for (const ModeInfo& m : modes)
    if (m.supported) s += (s.empty() ? "" : ", ") + std::to_string(m.mode) + " (" + m.name + ")";
  return s;
}

uint32_t load_u32(const unsigned char* p, bool big) {
  return big ? uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]
             : uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}
int32_t load_i32(const unsigned char* p, bool big) { return int32_t(load_u32(p, big)); }
uint16_t load_u16(const unsigned char* p, bool big) { return big ? uint16_t(p[0] << 8 | p[1]) : uint16_t(p[1] << 8 | p[0]); }

// The header words that decide how to read the pixels.
struct Header {
  int32_t nx = 0, ny = 0, nz = 0, mode = 0, nsymbt = 0;
  bool big_endian = false;
};

Header parse(const unsigned char* h, bool big) {
  return {load_i32(h, big), load_i32(h + 4, big), load_i32(h + 8, big), load_i32(h + 12, big), load_i32(h + 92, big), big};
}

// What a real image or stack header looks like; used to pick the byte order when the machine stamp
// says nothing, and to accept files from writers older than the "MAP " word.
bool plausible(const Header& h) {
  auto side = [](int32_t n) { return n > 0 && n <= max_micrograph_side; };
  return side(h.nx) && side(h.ny) && h.nz > 0 && h.nz <= (1 << 24) && find_mode(h.mode) && h.nsymbt >= 0;
}

std::string dims(const Header& h) {
  return std::to_string(h.nx) + " x " + std::to_string(h.ny) + " x " + std::to_string(h.nz);
}

// One row of pixels in the file's byte order to floats. The switch stays outside the loops, which
// then compile to straight code: reading is a large share of picking time.
void convert_row(const unsigned char* src, float* dst, int n, int mode, bool big) {
  switch (mode) {
    case 0:
      for (int i = 0; i < n; ++i) dst[i] = float(int8_t(src[i]));
      break;
    case 1:
      for (int i = 0; i < n; ++i) dst[i] = float(int16_t(load_u16(src + 2 * i, big)));
      break;
    case 2:
      for (int i = 0; i < n; ++i) dst[i] = std::bit_cast<float>(load_u32(src + 4 * i, big));
      break;
    case 6:
      for (int i = 0; i < n; ++i) dst[i] = float(load_u16(src + 2 * i, big));
      break;
    default:  // 12
      for (int i = 0; i < n; ++i) dst[i] = half_to_float(load_u16(src + 2 * i, big));
  }
}

void put_i32(unsigned char* h, int offset, int32_t v) {
  const uint32_t u = uint32_t(v);
  for (int i = 0; i < 4; ++i) h[offset + i] = static_cast<unsigned char>(u >> (8 * i));
}
void put_f32(unsigned char* h, int offset, float v) { put_i32(h, offset, std::bit_cast<int32_t>(v)); }

}  // namespace

Image read_mrc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());
  if (file_bytes < header_bytes)
    fail(path, "too short for an MRC file: " + std::to_string(file_bytes) + " bytes, the header alone is 1024");

  unsigned char raw[header_bytes];
  if (!in.read(reinterpret_cast<char*>(raw), header_bytes)) fail(path, "cannot read the MRC header");
  const Header little = parse(raw, false), big = parse(raw, true);
  Header h;
  if (raw[212] == 0x44) h = little;
  else if (raw[212] == 0x11) h = big;
  else h = plausible(little) || !plausible(big) ? little : big;

  if (std::memcmp(raw + 208, "MAP ", 4) != 0 && !plausible(h))
    fail(path, "not an MRC file: no \"MAP \" at byte 208 and an implausible header (nx x ny x nz = " + dims(h) +
                   ", mode " + std::to_string(h.mode) + ")");
  if (h.nx <= 0 || h.ny <= 0 || h.nz <= 0) fail(path, "non-positive MRC dimensions " + dims(h));
  if (h.nx > max_micrograph_side || h.ny > max_micrograph_side)
    fail(path, "absurd MRC dimensions " + dims(h) + " (at most " + std::to_string(max_micrograph_side) + " per side)");
  if (h.nz > 1) fail(path, "a stack of " + std::to_string(h.nz) + " images, not a micrograph");
  const ModeInfo* mode = find_mode(h.mode);
  if (!mode || !mode->supported)
    fail(path, "MRC mode " + std::to_string(h.mode) + (mode ? std::string(" (") + mode->name + ")" : std::string()) +
                   " is not supported; supported modes: " + supported_modes());
  if (h.nsymbt < 0) fail(path, "negative extended header length " + std::to_string(h.nsymbt) + " at byte 92");
  check_claimed_size(path, "MRC", uint64_t(h.nx), uint64_t(h.ny), 8.0 * mode->bytes, file_bytes);  // the pixel cap

  const uintmax_t data_start = uintmax_t(header_bytes) + uintmax_t(h.nsymbt);
  const uintmax_t expected = uintmax_t(h.nx) * uintmax_t(h.ny) * uintmax_t(mode->bytes);
  const uintmax_t found = file_bytes > data_start ? file_bytes - data_start : 0;
  if (found < expected)
    fail(path, "truncated: " + std::to_string(h.nx) + " x " + std::to_string(h.ny) + " pixels of mode " +
                   std::to_string(h.mode) + " need " + std::to_string(expected) + " bytes after the headers (1024 + " +
                   std::to_string(h.nsymbt) + " extended), found " + std::to_string(found));

  // Row by row, so that the file's pixels never sit in memory beside the whole image; float32 in the
  // host's byte order goes straight into place.
  Image image(h.nx, h.ny);
  const bool direct = h.mode == 2 && !h.big_endian;
  std::vector<unsigned char> row(direct ? 0 : size_t(h.nx) * size_t(mode->bytes));
  in.seekg(std::streamoff(data_start));
  for (int r = 0; r < h.ny; ++r) {
    float* out = &image.at(0, h.ny - 1 - r);  // file row r is Image row ny-1-r (micrograph.h)
    char* target = direct ? reinterpret_cast<char*>(out) : reinterpret_cast<char*>(row.data());
    if (!in.read(target, std::streamsize(size_t(h.nx) * size_t(mode->bytes))))
      fail(path, "cannot read pixel row " + std::to_string(r));
    if (!direct) convert_row(row.data(), out, h.nx, h.mode, h.big_endian);
  }
  require_finite(path, image);
  return image;
}

void write_mrc(const std::string& path, const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.pixels.size() != size_t(image.width) * size_t(image.height))
    fail(path, "cannot write an MRC file of a " + std::to_string(image.width) + " x " + std::to_string(image.height) +
                   " image holding " + std::to_string(image.pixels.size()) + " pixels");

  double sum = 0, sum2 = 0;
  float lo = image.pixels[0], hi = image.pixels[0];
  for (float v : image.pixels) {
    sum += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double n = double(image.pixels.size()), mean = sum / n;
  for (float v : image.pixels) sum2 += (v - mean) * (v - mean);

  unsigned char h[header_bytes] = {};
  put_i32(h, 0, image.width);
  put_i32(h, 4, image.height);
  put_i32(h, 8, 1);
  put_i32(h, 12, 2);  // float32
  put_i32(h, 28, image.width);  // mx, my, mz: sampling = dimensions, so the pixel size is cell / n = 1 Å
  put_i32(h, 32, image.height);
  put_i32(h, 36, 1);
  put_f32(h, 40, float(image.width));
  put_f32(h, 44, float(image.height));
  put_f32(h, 48, 1);
  for (int i = 0; i < 3; ++i) put_f32(h, 52 + 4 * i, 90);  // cell angles
  for (int i = 0; i < 3; ++i) put_i32(h, 64 + 4 * i, i + 1);  // columns, rows, sections = x, y, z
  put_f32(h, 76, lo);
  put_f32(h, 80, hi);
  put_f32(h, 84, float(mean));
  put_i32(h, 108, 20140);  // nversion: MRC2014
  std::memcpy(h + 208, "MAP ", 4);
  h[212] = 0x44;
  h[213] = 0x44;
  put_f32(h, 216, float(std::sqrt(sum2 / n)));
  put_i32(h, 220, 1);
  const char label[] = "cupick";
  std::memcpy(h + 224, label, sizeof label - 1);

  const std::string tmp = temporary_path(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, "cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(h, 1, size_t(header_bytes), f) == size_t(header_bytes);
  for (int y = image.height - 1; ok && y >= 0; --y)  // Image row y is file row height-1-y
    ok = std::fwrite(&image.pixels[size_t(y) * size_t(image.width)], sizeof(float), size_t(image.width), f) ==
         size_t(image.width);
  if (!ok) {
    const int err = errno;
    std::fclose(f);
    std::remove(tmp.c_str());
    fail(path, "cannot write " + tmp + ": " + std::strerror(err));
  }
  commit_file(f, tmp, path);
}

}  // namespace cupick
