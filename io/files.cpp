#include "io/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace cupick {

namespace fs = std::filesystem;

std::string temporary_path(const std::string& path) {
  constexpr size_t max_name = 255;  // bytes, on every file system cupick writes to
  const fs::path p(path);
  const std::string name = p.filename().string();
  if (name.size() + 4 <= max_name) return path + ".tmp";
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  char tmp[40];
  std::snprintf(tmp, sizeof tmp, ".cupick_%016llx.tmp", static_cast<unsigned long long>(hash));
  return (p.parent_path() / tmp).string();
}

std::string why_missing(const std::string& path, const std::string& plain) {
  std::error_code ec;
  for (fs::path p = fs::path(path).parent_path(); !p.empty(); p = p.parent_path()) {
    const fs::file_status s = fs::status(p, ec);
    if (fs::exists(s)) return fs::is_directory(s) ? plain : "is inside '" + p.string() + "', which is a file";
    if (p == p.parent_path()) break;  // the root
  }
  return plain;
}

void make_folders(const std::string& path) {
  std::error_code made, ec;
  fs::create_directories(path, made);
  if (fs::is_directory(path, ec)) return;
  // The first part of the path that exists and is not a folder is what stands in the way.
  for (fs::path p = fs::path(path).lexically_normal(); !p.empty(); p = p.parent_path()) {
    const fs::file_status s = fs::status(p, ec);
    if (fs::exists(s) && !fs::is_directory(s))
      throw Error(path + ": cannot make this folder: '" + p.string() + "' is a file");
    if (p == p.parent_path()) break;
  }
  throw Error(path + ": cannot make this folder" + (made ? " (" + made.message() + ")" : ""));
}

void commit_file(std::FILE* f, const std::string& tmp, const std::string& path) {
  // fsync before the rename: otherwise a power loss can leave `path` naming an empty file.
  int err = std::fflush(f) != 0 || fsync(fileno(f)) != 0 ? errno : 0;
  if (std::fclose(f) != 0 && err == 0) err = errno;
  if (err == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " to it (" + std::strerror(err) + ")");
  }
  if (err != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write " + tmp + " (" + std::strerror(err) + ")");
  }
  // The rename is an entry in the folder: flushed too, so that it survives a power loss. A folder
  // that cannot be opened or flushed (some network file systems) costs only that guarantee.
  const fs::path parent = fs::path(path).parent_path();
  const std::string folder = parent.empty() ? std::string(".") : parent.string();
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    ::close(dir);
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = temporary_path(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot create " + tmp + " (" + std::strerror(errno) + ")");
  if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    const int err = errno;
    std::fclose(f);
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write " + tmp + " (" + std::strerror(err) + ")");
  }
  commit_file(f, tmp, path);
}

}  // namespace cupick
