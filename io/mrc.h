// MRC files (the MRC2014 standard): a 1024-byte header, an optional extended header of nsymbt bytes,
// then nx x ny x nz pixels, x fastest. Header words used here (4 bytes each, in the file's byte order):
//   byte 0, 4, 8   nx, ny, nz          byte 12   mode (pixel type)
//   byte 40..48    cell size in Å      byte 76..84  min, max, mean      byte 92  nsymbt
//   byte 208       "MAP "              byte 212     machine stamp: 0x44 0x44 or 0x44 0x41
//                                                   little-endian, 0x11 0x11 big-endian
//   byte 216       rms deviation from the mean
// Rows are flipped on reading and writing: see micrograph.h for the orientation rule.
#pragma once
#include <cstdint>
#include <string>

#include "io/half.h"  // half_to_float, for mode 12
#include "io/micrograph.h"

namespace cupick {

// Modes 0 (int8, signed as MRC2014 says), 1 (int16), 2 (float32), 6 (uint16) and 12 (float16), in
// either byte order. A zero or unknown machine stamp is settled by which byte order gives a
// plausible header, and a file without "MAP " (older writers) is read when its header is plausible.
// A stack (nz > 1) is an Error, as is any other problem: see read_micrograph.
Image read_mrc(const std::string& path);

// Mode 2, little-endian, with min/max/mean/rms, cell = (nx, ny, 1) Å (pixel size 1 Å), "MAP " and
// the machine stamp. Writes "<path>.tmp", then renames it, so that a reader never sees half a file.
// read_mrc(path) gives the same Image back.
void write_mrc(const std::string& path, const Image& image);

}  // namespace cupick
