// Writing a whole file so that no reader ever sees half of it: "<path>.tmp" first, then a rename.
#pragma once
#include <string>

namespace cupick {

// Writes `bytes` to "<path>.tmp" and renames it to `path`. On failure the temporary file is removed,
// an earlier file at `path` stays as it was, and an Error names `path` and the cause.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace cupick
