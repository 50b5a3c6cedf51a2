#include "io/micrograph.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

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
  return format->read(path);
}

bool is_micrograph_path(const std::string& path) { return find_format(path) != nullptr; }

void require_finite(const std::string& path, const Image& image) {
  const auto bad = std::count_if(image.pixels.begin(), image.pixels.end(), [](float v) { return !std::isfinite(v); });
  if (bad > 0)
    throw Error(path + ": " + std::to_string(bad) + " of " + std::to_string(image.pixels.size()) +
                " pixels are NaN or infinite");
}

std::vector<std::string> list_micrographs(const std::string& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) throw Error(folder + ": no such folder");
  std::vector<std::string> out;
  for (const std::filesystem::directory_entry& e : std::filesystem::directory_iterator(folder))
    if (e.is_regular_file() && is_micrograph_path(e.path().string())) out.push_back(e.path().string());
  if (out.empty()) throw Error(folder + ": no micrographs (.mrc, .tif, .png, .jpg) in this folder");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cupick
