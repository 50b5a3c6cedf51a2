// Writing a whole file so that no reader ever sees half of it, and a crash or power loss leaves
// either the old file or the new one: a temporary file beside it, flushed to the disk, renamed,
// and the folder flushed too.
#pragma once
#include <cstdio>
#include <string>

namespace cupick {

// The temporary name write_file_atomically and the streaming writers use: "<path>.tmp", or where
// that would pass the 255 bytes a file name may have, ".cupick_<hash of the name>.tmp" in the same
// folder (the same name on every run, so a leftover is overwritten, not piled up).
std::string temporary_path(const std::string& path);

// Writes `bytes` to temporary_path(path) and commits it. On failure the temporary file is removed,
// an earlier file at `path` stays as it was, and an Error names `path` and the cause.
void write_file_atomically(const std::string& path, const std::string& bytes);

// For writers that stream into `f`, opened on `tmp` = temporary_path(path): flushes `f` to the
// disk, closes it, renames `tmp` to `path` and flushes the folder. On failure removes `tmp` and
// throws an Error naming `path`. `f` is closed however it ends.
void commit_file(std::FILE* f, const std::string& tmp, const std::string& path);

// Why `path` cannot be found, for a message: `plain` ("does not exist"), or where a folder on the
// way is a file ("a.mrc/b"), "is inside 'a.mrc', which is a file", which is what the user must fix.
std::string why_missing(const std::string& path, const std::string& plain);

// Makes `path` and the folders above it where missing; an Error names the path and why not ("'out'
// is a file", "Permission denied"), not the library's "filesystem error" text.
void make_folders(const std::string& path);

}  // namespace cupick
