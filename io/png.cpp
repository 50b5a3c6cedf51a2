// PNG micrographs through libpng. libpng reports a fatal problem by calling our error function,
// which must not return: it longjmps back into read_header() or read_rows(). Everything that has to
// be freed lives in a PngFile owned by the caller, so neither path leaks, and no C++ object is born
// between setjmp and a longjmp (that would be undefined behaviour). The header's size is checked
// against the file's length between the two, before anything is allocated for the pixels.
#include <png.h>

#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/micrograph.h"

namespace cupick {

namespace {

struct PngFile {
  FILE* file = nullptr;
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::vector<png_byte> data;    // the decoded rows, back to back
  std::vector<png_bytep> rows;   // where each row starts in data
  png_uint_32 width = 0, height = 0;
  int channels = 0, bits = 0;    // after the transforms: 1 or 3 channels of 8 or 16 bits
  int stored_bits = 0;           // per pixel in the file, all channels
  char message[256] = "";

  ~PngFile() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    if (file) std::fclose(file);
  }
};

void on_error(png_structp png, png_const_charp text) {
  auto* f = static_cast<PngFile*>(png_get_error_ptr(png));
  std::snprintf(f->message, sizeof f->message, "%s", text);
  png_longjmp(png, 1);
}

// Benign complaints (an sRGB profile libpng dislikes, a bad ancillary chunk) do not stop reading.
void on_warning(png_structp, png_const_charp) {}

// Reads the header and sets up the transforms (f.width ... f.bits, f.stored_bits); false (with
// f.message) where libpng gave up. Nothing is allocated for the pixels yet.
bool read_header(PngFile& f) {
  if (setjmp(png_jmpbuf(f.png))) return false;
  png_init_io(f.png, f.file);
  png_set_sig_bytes(f.png, 8);
  // Only the pixels matter. libpng allocates a text or profile chunk's claimed length before it
  // reads the chunk (a 100-byte file claiming a 1.6 GB zTXt asked for 1.6 GB), so every ancillary
  // chunk but tRNS is skipped unread (a negative count means "all of them"), and nothing libpng
  // still buffers whole may exceed a bound.
  png_set_keep_unknown_chunks(f.png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
  png_set_chunk_malloc_max(f.png, 8u << 20);
  png_read_info(f.png, f.info);
  f.stored_bits = png_get_channels(f.png, f.info) * png_get_bit_depth(f.png, f.info);
  const int colour = png_get_color_type(f.png, f.info);
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(f.png);
  if (colour == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(f.png, f.info) < 8) png_set_expand_gray_1_2_4_to_8(f.png);
  if (colour & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(f.png);
  png_set_interlace_handling(f.png);
  png_read_update_info(f.png, f.info);
  f.width = png_get_image_width(f.png, f.info);
  f.height = png_get_image_height(f.png, f.info);
  f.channels = png_get_channels(f.png, f.info);
  f.bits = png_get_bit_depth(f.png, f.info);
  return true;
}

// Fills f.data; false (with f.message) where libpng gave up.
bool read_rows(PngFile& f) {
  if (setjmp(png_jmpbuf(f.png))) return false;
  const size_t row_bytes = png_get_rowbytes(f.png, f.info);
  f.data.resize(row_bytes * f.height);
  f.rows.resize(f.height);
  for (png_uint_32 y = 0; y < f.height; ++y) f.rows[y] = &f.data[y * row_bytes];
  png_read_image(f.png, f.rows.data());
  png_read_end(f.png, nullptr);
  return true;
}

}  // namespace

Image read_png(const std::string& path) {
  PngFile f;
  f.file = std::fopen(path.c_str(), "rb");
  if (!f.file) throw Error(path + ": cannot open: " + std::strerror(errno));
  png_byte signature[8] = {};
  if (std::fread(signature, 1, 8, f.file) != 8 || png_sig_cmp(signature, 0, 8) != 0)
    throw Error(path + ": not a PNG file (no PNG signature)");
  f.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &f, on_error, on_warning);
  if (f.png) f.info = png_create_info_struct(f.png);
  if (!f.png || !f.info) throw Error(path + ": libpng could not start (out of memory?)");
  auto corrupt = [&] {
    // libpng's own word for a file that ends too early.
    const bool short_read = std::strcmp(f.message, "Read Error") == 0;
    return Error(path + ": corrupt or unreadable PNG: " + (short_read ? "the file ends too early" : f.message));
  };
  if (!read_header(f)) throw corrupt();
  std::error_code ec;
  check_claimed_size(path, "PNG", f.width, f.height, f.stored_bits, std::filesystem::file_size(path, ec));
  if (!read_rows(f)) throw corrupt();
  if (f.channels != 1 && f.channels != 3)
    throw Error(path + ": " + std::to_string(f.channels) + " channels after decoding; expected grey or RGB");

  // 16-bit samples are stored big-endian.
  auto sample = [&](const png_byte* p) { return f.bits == 16 ? float(p[0] << 8 | p[1]) : float(p[0]); };
  const size_t step = size_t(f.bits / 8);
  Image image{int(f.width), int(f.height)};
  for (png_uint_32 y = 0; y < f.height; ++y)  // stored order: row 0 is the top (micrograph.h)
    for (png_uint_32 x = 0; x < f.width; ++x) {
      const png_byte* p = f.rows[y] + size_t(x) * f.channels * step;
      image.at(int(x), int(y)) = f.channels == 1 ? sample(p)
          : std::round(0.299f * sample(p) + 0.587f * sample(p + step) + 0.114f * sample(p + 2 * step));
    }
  return image;
}

}  // namespace cupick
