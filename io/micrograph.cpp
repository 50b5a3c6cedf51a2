#include "io/micrograph.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <new>

#include "io/files.h"
#include "io/mrc.h"

namespace cupick {

namespace {

using Reader = Image (*)(const std::string&);

struct Format {
  const char* extension;
  Reader read;
};

// crYOLO's list of micrograph formats, plus .jpeg (docs/BEHAVIOUR.md §7.1).
constexpr Format formats[] = {
    {".mrc", read_mrc}, {".mrcs", read_mrc}, {".rec", read_mrc}, {".tif", read_tiff}, {".tiff", read_tiff},
    {".png", read_png}, {".jpg", read_jpeg}, {".jpeg", read_jpeg},
};

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

const Format* find_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  for (const Format& f : formats)
    if (ext == f.extension) return &f;
  return nullptr;
}

}  // namespace

Image read_micrograph(const std::string& path) {
  const Format* format = find_format(path);
  if (!format) {
    const std::string ext = std::filesystem::path(path).extension().string();
    std::string message = path + ": not a micrograph file name (";
    message += ext.empty() ? std::string("no extension") : "extension " + ext;
    message += "); supported:";
    for (const Format& f : formats) message.append(" ").append(f.extension);
    throw Error(message);
  }
  try {
    return format->read(path);
  } catch (const std::bad_alloc&) {  // the readers' sizes are checked first: this is a full machine
    throw Error(path + ": not enough memory to read it");
  }
}

void check_claimed_size(const std::string& path, const char* format, uint64_t width, uint64_t height,
                        double bits_per_pixel, uint64_t file_bytes) {
  const std::string size = std::to_string(width) + " x " + std::to_string(height);
  if (width == 0 || height == 0 || width > uint64_t(max_micrograph_side) || height > uint64_t(max_micrograph_side))
    throw Error(path + ": implausible " + format + " size " + size + " (sides of 1 to " +
                std::to_string(max_micrograph_side) + " pixels)");
  if (width * height > max_micrograph_pixels)
    throw Error(path + ": implausible " + format + " size " + size + ": more than " +
                std::to_string(max_micrograph_pixels >> 20) + " M pixels");
  const double decoded = double(width) * double(height) * bits_per_pixel / 8;
  if (decoded > max_decoded_bytes_per_file_byte * double(file_bytes))
    throw Error(path + ": the " + format + " header claims " + size + " pixels (" +
                std::to_string(uint64_t(decoded)) + " bytes decoded), more than a file of " +
                std::to_string(file_bytes) + " bytes can hold: damaged or truncated");
}

bool is_micrograph_path(const std::string& path) { return find_format(path) != nullptr; }

void require_finite(const std::string& path, const Image& image) {
  const auto bad = std::count_if(image.pixels.begin(), image.pixels.end(), [](float v) { return !std::isfinite(v); });
  if (bad > 0)
    throw Error(path + ": " + std::to_string(bad) + " of " + std::to_string(image.pixels.size()) +
                " pixels are NaN or infinite");
}

std::vector<std::string> list_micrographs(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw Error(folder + ": " + (fs::exists(folder, ec) ? "is not a folder" : why_missing(folder, "no such folder")));
  fs::directory_iterator it(folder, ec), end;
  if (ec) throw Error(folder + ": cannot list the folder (" + ec.message() + ")");
  std::vector<std::string> out;
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error(folder + ": cannot list the folder (" + ec.message() + ")");
    const std::string path = it->path().string();
    if (!is_micrograph_path(path)) continue;
    // Anything of a micrograph's name but a folder is listed, also what cannot be read (a symlink
    // loop, a dangling link): reading it then fails for it alone, naming it, and the others go on.
    std::error_code type_error;
    if (!it->is_directory(type_error)) out.push_back(path);
  }
  if (ec) throw Error(folder + ": cannot list the folder (" + ec.message() + ")");
  if (out.empty()) throw Error(folder + ": no micrographs (.mrc, .tif, .png, .jpg) in this folder");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cupick
