// JPEG micrographs through libjpeg(-turbo). libjpeg's default error handling prints and exits; ours
// formats the message and longjmps back into read_header() or read_rows(). What has to be freed
// lives in a JpegFile owned by the caller, and no C++ object is born between setjmp and a longjmp.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include <jpeglib.h>  // after <cstdio>: it needs FILE

#include "engine/error.h"
#include "io/files.h"
#include "io/micrograph.h"

namespace cupick {

namespace {

struct JpegFile {
  jpeg_decompress_struct info = {};
  jpeg_error_mgr errors = {};
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
  FILE* file = nullptr;
  bool created = false;
  std::vector<JSAMPLE> data;  // the decoded grey rows, back to back

  ~JpegFile() {
    if (created) jpeg_destroy_decompress(&info);
    if (file) std::fclose(file);
  }
};

JpegFile& owner(j_common_ptr info) { return *static_cast<JpegFile*>(info->client_data); }

[[noreturn]] void on_error(j_common_ptr info) {
  info->err->format_message(info, owner(info).message);
  std::longjmp(owner(info).jump, 1);
}

// Warnings (level -1) are what libjpeg says about corrupt data before filling the gap with grey:
// for a micrograph that is an error. Trace messages (level >= 0) are ignored.
void on_message(j_common_ptr info, int level) {
  if (level < 0) on_error(info);
}

// Reads the header; false (with f.message) where libjpeg gave up. Nothing is allocated for the
// pixels yet.
bool read_header(JpegFile& f) {
  if (setjmp(f.jump)) return false;
  jpeg_create_decompress(&f.info);
  f.created = true;
  jpeg_stdio_src(&f.info, f.file);
  jpeg_read_header(&f.info, TRUE);
  f.info.out_color_space = JCS_GRAYSCALE;  // colour: libjpeg keeps the luminance Y = 0.299 R + 0.587 G + 0.114 B
  return true;
}

// Fills f.data with width x height grey bytes; false (with f.message) where libjpeg gave up.
bool read_rows(JpegFile& f) {
  if (setjmp(f.jump)) return false;
  jpeg_start_decompress(&f.info);
  const JDIMENSION width = f.info.output_width, height = f.info.output_height;
  if (f.info.output_components != 1) {
    std::snprintf(f.message, sizeof f.message, "%d components after conversion to grey", f.info.output_components);
    return false;
  }
  f.data.resize(size_t(width) * height);
  while (f.info.output_scanline < height) {
    JSAMPROW row = &f.data[size_t(f.info.output_scanline) * width];
    jpeg_read_scanlines(&f.info, &row, 1);
  }
  jpeg_finish_decompress(&f.info);
  return true;
}

}  // namespace

Image read_jpeg(const std::string& path) {
  JpegFile f;
  f.file = std::fopen(path.c_str(), "rb");
  if (!f.file) throw Error(path + ": cannot open: " + std::strerror(errno));
  f.info.err = jpeg_std_error(&f.errors);
  f.errors.error_exit = on_error;
  f.errors.emit_message = on_message;
  f.info.client_data = &f;
  auto corrupt = [&] { return Error(path + ": corrupt or unreadable JPEG: " + f.message); };
  if (!read_header(f)) throw corrupt();
  // Before jpeg_start_decompress, which allocates whole-image buffers for progressive files.
  std::error_code ec;
  check_claimed_size(path, "JPEG", f.info.image_width, f.info.image_height, 8, std::filesystem::file_size(path, ec));
  if (!read_rows(f)) throw corrupt();

  const int width = int(f.info.output_width), height = int(f.info.output_height);
  Image image(width, height);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = float(f.data[i]);  // row 0 is the top
  return image;
}

namespace {

struct JpegWriter {
  jpeg_compress_struct info = {};
  jpeg_error_mgr errors = {};
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
  unsigned char* bytes = nullptr;  // libjpeg's memory destination: malloc'ed, ours to free
  unsigned long size = 0;
  bool created = false;

  ~JpegWriter() {
    if (created) jpeg_destroy_compress(&info);
    std::free(bytes);
  }
};

[[noreturn]] void on_write_error(j_common_ptr info) {
  auto& w = *static_cast<JpegWriter*>(info->client_data);
  info->err->format_message(info, w.message);
  std::longjmp(w.jump, 1);
}

bool encode(JpegWriter& w, const std::vector<JSAMPLE>& grey, int width, int height, int quality) {
  if (setjmp(w.jump)) return false;
  jpeg_create_compress(&w.info);
  w.created = true;
  jpeg_mem_dest(&w.info, &w.bytes, &w.size);
  w.info.image_width = JDIMENSION(width);
  w.info.image_height = JDIMENSION(height);
  w.info.input_components = 1;
  w.info.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&w.info);
  jpeg_set_quality(&w.info, quality, TRUE);
  jpeg_start_compress(&w.info, TRUE);
  while (w.info.next_scanline < w.info.image_height) {
    JSAMPROW row = const_cast<JSAMPLE*>(&grey[size_t(w.info.next_scanline) * size_t(width)]);
    jpeg_write_scanlines(&w.info, &row, 1);
  }
  jpeg_finish_compress(&w.info);
  return true;
}

}  // namespace

void write_jpeg(const std::string& path, const Image& grey_levels, int quality) {
  std::vector<JSAMPLE> grey(grey_levels.pixels.size());
  for (size_t i = 0; i < grey.size(); ++i)
    grey[i] = JSAMPLE(std::clamp(std::lround(grey_levels.pixels[i]), 0l, 255l));
  JpegWriter w;
  w.info.err = jpeg_std_error(&w.errors);
  w.errors.error_exit = on_write_error;
  w.info.client_data = &w;
  if (!encode(w, grey, grey_levels.width, grey_levels.height, quality))
    throw Error(path + ": cannot encode the JPEG: " + w.message);
  write_file_atomically(path, std::string(reinterpret_cast<const char*>(w.bytes), w.size));
}

}  // namespace cupick
