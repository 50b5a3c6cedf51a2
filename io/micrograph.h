// Micrographs: one grey image per file, read as float32 whatever the format (docs/BEHAVIOUR.md
// §3.1, §7.1).
//
// Orientation: Image row 0 is the TOP of the micrograph as viewers show it, y grows down the rows
// and x to the right. That is the array crYOLO's network sees, so preprocessing, tiling and imported
// weights meet the same pixels:
//   MRC             the file's rows in reverse order. MRC stores its y = 0 row first and shows it at
//                   the bottom, so crYOLO flips it upside down on reading, and so do we.
//   TIFF, PNG, JPEG the file's rows in stored order (the first stored row is the top).
// Coordinate files (EMAN .box, RELION .star, crYOLO .cbox) count y up from the BOTTOM edge, for
// every format, as crYOLO reads and writes them; for MRC that is the file's own y axis, the
// EMAN/RELION convention. With pixel edges at integer coordinates:
//   Image y = height - file y          (file_y_to_image_y below; the same formula converts back)
// so a box file's lower-left corner (x, y, w, h) is the Image box with top edge height - y - h, and
// the pixel at MRC file row r is Image row height - 1 - r, while TIFF/PNG/JPEG file row r is Image
// row r. A reader or writer of coordinates needs only the image height, never the file format.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.h"

namespace cupick {

struct Image {
  int width = 0, height = 0;
  std::vector<float> pixels;  // height rows of width values, row 0 at the top (see above)

  Image() = default;
  Image(int width, int height, float value = 0)
      : width(width), height(height), pixels(size_t(width) * size_t(height), value) {}
  float at(int x, int y) const { return pixels[size_t(y) * size_t(width) + size_t(x)]; }
  float& at(int x, int y) { return pixels[size_t(y) * size_t(width) + size_t(x)]; }
};

// Larger sides are taken for a damaged header rather than a micrograph (the largest detector images,
// EER at 4x, are 16,384 pixels a side).
constexpr int max_micrograph_side = 65536;
// More pixels than 16,384^2 (1 GiB as float32) are taken for a damaged or hostile header too.
constexpr size_t max_micrograph_pixels = size_t(1) << 28;
// No compressed micrograph decodes to more bytes than this many per byte of its file: deflate (PNG,
// TIFF) cannot expand further, a Huffman-coded JPEG not even half as far (64 pixels per bit at
// best), and micrographs, which are mostly noise, compress by a few times at most.
constexpr double max_decoded_bytes_per_file_byte = 1032;

// Throws Error naming the file unless a width x height header is believable before anything is
// allocated for it: sides in 1..max_micrograph_side, at most max_micrograph_pixels, and no more
// decoded bytes (bits_per_pixel as stored) than a file of file_bytes can hold compressed.
void check_claimed_size(const std::string& path, const char* format, uint64_t width, uint64_t height,
                        double bits_per_pixel, uint64_t file_bytes);

// A y coordinate from a box, STAR or CBOX file (up from the bottom edge) as an Image y (down from the
// top edge), and back: the conversion is its own inverse.
inline float file_y_to_image_y(float y, int height) { return float(height) - y; }

// By extension, in any letter case: .mrc .mrcs .rec (MRC), .tif .tiff, .png, .jpg .jpeg. Throws
// Error (one line naming the file and the problem) for an unknown extension, a missing, short or
// damaged file, a stack or multi-page file, an unsupported pixel type, or NaN/Inf pixels.
Image read_micrograph(const std::string& path);

// Whether read_micrograph knows the extension (for scanning image folders).
bool is_micrograph_path(const std::string& path);

// One format each, whatever the extension. read_tiff: one page, one sample per pixel, 8/16/32-bit
// signed or unsigned integers or 32-bit floats, strips or tiles, any compression libtiff decodes.
// read_png and read_jpeg: grey values (colour becomes 0.299 R + 0.587 G + 0.114 B, rounded, as
// crYOLO's reader gives it); a 16-bit PNG keeps its 16-bit values; transparency is ignored. Corrupt
// data, even where libjpeg would only warn and fill in grey, is an Error.
Image read_tiff(const std::string& path);
Image read_png(const std::string& path);
Image read_jpeg(const std::string& path);

// An 8-bit grey JPEG at `quality` (1-100): each value rounded and clamped to 0-255, row 0 the top.
// Written beside itself and renamed; Error names the file.
void write_jpeg(const std::string& path, const Image& grey_levels, int quality);

// Throws Error naming the file and how many pixels are NaN or infinite, if any are.
void require_finite(const std::string& path, const Image& image);

// Micrograph files of a folder (by extension; every entry but a folder, also one that cannot be
// read, so that reading it names the problem), sorted by name. Error: no such folder, or none there.
std::vector<std::string> list_micrographs(const std::string& folder);

}  // namespace cupick
