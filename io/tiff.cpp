// TIFF micrographs through libtiff. libtiff reports problems through handlers; ours collect the
// messages for the Error instead of letting libtiff print them (TIFFOpenExt, libtiff >= 4.5).
#include <tiffio.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "io/micrograph.h"

namespace cupick {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) { throw Error(path + ": " + problem); }

int collect_error(TIFF*, void* messages, const char* module, const char* format, va_list args) {
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  auto& all = *static_cast<std::string*>(messages);
  all += (all.empty() ? "" : "; ") + std::string(module ? module : "libtiff") + ": " + text;
  return 1;  // handled: libtiff's global handler (stderr) stays quiet
}

// Detector TIFFs carry private tags that libtiff warns about; they do not affect the pixels.
int ignore_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

enum class Sample { u8, i8, u16, i16, u32, i32, f32 };

Sample sample_type(const std::string& path, int format, int bits) {
  const bool integer = format == SAMPLEFORMAT_UINT || format == SAMPLEFORMAT_INT;
  const bool is_signed = format == SAMPLEFORMAT_INT;
  if (integer && bits == 8) return is_signed ? Sample::i8 : Sample::u8;
  if (integer && bits == 16) return is_signed ? Sample::i16 : Sample::u16;
  if (integer && bits == 32) return is_signed ? Sample::i32 : Sample::u32;
  if (format == SAMPLEFORMAT_IEEEFP && bits == 32) return Sample::f32;
  const char* kind = format == SAMPLEFORMAT_IEEEFP ? "float" : format == SAMPLEFORMAT_INT ? "signed integer"
                     : format == SAMPLEFORMAT_UINT ? "unsigned integer" : "other (complex or void)";
  fail(path, std::to_string(bits) + "-bit " + kind +
                 " samples are not supported; supported: 8-, 16- and 32-bit integers, 32-bit floats");
}

// n samples as libtiff hands them over (host byte order) to floats.
template <class T> void widen(const void* src, float* dst, size_t n) {
  const T* s = static_cast<const T*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = float(s[i]);
}

void to_float(Sample type, const void* src, float* dst, size_t n) {
  switch (type) {
    case Sample::u8: return widen<uint8_t>(src, dst, n);
    case Sample::i8: return widen<int8_t>(src, dst, n);
    case Sample::u16: return widen<uint16_t>(src, dst, n);
    case Sample::i16: return widen<int16_t>(src, dst, n);
    case Sample::u32: return widen<uint32_t>(src, dst, n);
    case Sample::i32: return widen<int32_t>(src, dst, n);
    case Sample::f32: return widen<float>(src, dst, n);
  }
}

struct CloseTiff {
  void operator()(TIFF* t) const { TIFFClose(t); }
};

}  // namespace

Image read_tiff(const std::string& path) {
  // libtiff's own "cannot open" message lacks the reason; ask the system first.
  if (FILE* probe = std::fopen(path.c_str(), "rb")) std::fclose(probe);
  else fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::error_code ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());

  std::string messages;
  auto problem = [&](const std::string& what) { return messages.empty() ? what : what + " (" + messages + ")"; };
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options, collect_error, &messages);
  TIFFOpenOptionsSetWarningHandlerExtR(options, ignore_warning, nullptr);
  // No single allocation of libtiff's larger than what this file could decode to (strips, tiles,
  // tag arrays): a header's word alone never takes gigabytes.
  TIFFOpenOptionsSetMaxSingleMemAlloc(options, tmsize_t(max_decoded_bytes_per_file_byte * double(file_bytes)) + (1 << 20));
  std::unique_ptr<TIFF, CloseTiff> tif(TIFFOpenExt(path.c_str(), "r", options));
  TIFFOpenOptionsFree(options);  // the handle keeps its own copy of the handlers
  if (!tif) fail(path, problem("not a readable TIFF file"));
  TIFF* t = tif.get();

  const int pages = TIFFNumberOfDirectories(t);
  if (pages > 1)
    fail(path, std::to_string(pages) + " pages in one TIFF; a micrograph has one (sum a movie's frames first)");
  uint32_t width = 0, height = 0;
  uint16_t samples = 1, bits = 1, format = SAMPLEFORMAT_UINT;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &height);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &format);
  if (samples != 1) fail(path, std::to_string(samples) + " samples per pixel (colour?); a micrograph has one");
  const Sample type = sample_type(path, format, bits);
  check_claimed_size(path, "TIFF", width, height, bits, file_bytes);

  Image image{int(width), int(height)};
  const size_t sample_bytes = bits / 8;
  if (TIFFIsTiled(t)) {
    uint32_t tile_w = 0, tile_h = 0;
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &tile_w);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &tile_h);
    if (tile_w == 0 || tile_h == 0) fail(path, problem("TIFF tiles without a size"));
    check_claimed_size(path, "TIFF tile", tile_w, tile_h, bits, file_bytes);
    std::vector<unsigned char> tile(size_t(TIFFTileSize(t)));
    if (tile.size() < size_t(tile_w) * tile_h * sample_bytes) fail(path, problem("TIFF tile size does not add up"));
    for (uint32_t y0 = 0; y0 < height; y0 += tile_h)
      for (uint32_t x0 = 0; x0 < width; x0 += tile_w) {
        if (TIFFReadEncodedTile(t, TIFFComputeTile(t, x0, y0, 0, 0), tile.data(), tmsize_t(tile.size())) < 0)
          fail(path, problem("cannot read the tile at x " + std::to_string(x0) + ", y " + std::to_string(y0)));
        // Tiles at the right and bottom edges reach past the image: copy only what is inside.
        const uint32_t w = std::min(tile_w, width - x0), h = std::min(tile_h, height - y0);
        for (uint32_t r = 0; r < h; ++r)
          to_float(type, &tile[size_t(r) * tile_w * sample_bytes], &image.at(int(x0), int(y0 + r)), w);
      }
  } else {
    std::vector<unsigned char> row(size_t(TIFFScanlineSize(t)));
    if (row.size() < size_t(width) * sample_bytes) fail(path, problem("TIFF row size does not add up"));
    for (uint32_t y = 0; y < height; ++y) {
      if (TIFFReadScanline(t, row.data(), y, 0) < 0) fail(path, problem("cannot read row " + std::to_string(y)));
      to_float(type, row.data(), &image.at(0, int(y)), width);  // stored order: row 0 is the top (micrograph.h)
    }
  }
  if (type == Sample::f32) require_finite(path, image);
  return image;
}

}  // namespace cupick
