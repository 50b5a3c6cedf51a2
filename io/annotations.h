// Particle annotation files (docs/BEHAVIOUR.md §7.2): EMAN .box, RELION/cryoSPARC .star and crYOLO
// .cbox, read into and written from the one box model (io/boxes.h). Each file keeps its own
// convention; in memory a box is always its centre and size in micrograph pixels.
//
//   .box   one particle a line: x y width height, (x, y) the lower-left corner. Whitespace between
//          values, floats allowed, further columns ignored, blank lines and '#' lines skipped.
//   .star  STAR data blocks; the first loop_ with _rlnCoordinateX and _rlnCoordinateY (centres) is
//          read, whatever the block (RELION 3.0's single data_, RELION 3.1's data_particles after
//          data_optics, cryoSPARC's exports), with _rlnAutopickFigureOfMerit as the confidence and
//          _rlnMicrographName to tell micrographs apart (a figure of merit of -999, RELION's mark of
//          a manual pick, reads as 1). Labels may carry "#N"; values may be quoted. No box size.
//   .cbox  crYOLO's STAR-based file: data_global (_cbox_format_version), data_cryolo with a loop_ of
//          _CoordinateX/Y (lower-left corner), _Width/_Height (the box), _EstWidth/_EstHeight (the
//          size crYOLO detected; where _Width is missing or <NA>, also the box), _Confidence (<NA>:
//          1) and 3D/filament columns (<NA> in 2D files, not read),
//          then data_cryolo_include, a loop_ of _slice_index: the tomogram slices that were picked,
//          empty in 2D files; it is skipped. Files without data_ lines are crYOLO's format before
//          1.8: tab-separated x y width height confidence [est_width est_height].
// Readers skip blocks and columns they do not know. A missing or unreadable file, a value that is
// not a finite number, a row with too few (BOX) or another number of values than labels (STAR,
// CBOX) and a width or height of 0 or less are each an Error of one line, "file:line: problem". An
// empty file is a micrograph without particles, and so is a STAR or CBOX file without any loop_ (only
// comments, a bare data_) or whose coordinate loop_ has no rows; one with loops but none with the
// coordinate columns is an Error.
//
// Writers build the whole file, write "<path>.tmp" beside it and rename that to `path`: a reader
// never sees a half-written file, and a failed write leaves an earlier file as it was. (No fsync:
// picking writes thousands of small files, and the rename is what keeps readers safe.)
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/boxes.h"

namespace cupick {

// By the extension, in any case: .box, .star or .cbox; another is an Error that lists these.
// `default_box_size` is the width and height given to boxes from STAR files, which have no size;
// 0 leaves them 0: the caller sets the size (for training, the config's anchors). A STAR file that
// names more than one micrograph is an Error here: read it with read_star_by_micrograph.
std::vector<Box> read_boxes(const std::string& path, float default_box_size = 0);

std::vector<Box> read_eman_box(const std::string& path);
std::vector<Box> read_cbox(const std::string& path);
// Every row of the coordinate table, whatever micrograph it names.
std::vector<Box> read_star(const std::string& path, float default_box_size = 0);

// One STAR file for many micrographs, as users bring them: boxes by micrograph_key() of
// _rlnMicrographName. Without that column every box is the micrograph's the file is named after; a
// file without boxes (empty, no loop, an empty loop) is that micrograph without particles.
std::map<std::string, std::vector<Box>> read_star_by_micrograph(const std::string& path, float default_box_size = 0);

// The name by which annotations and micrographs are matched: the base name without folder and
// extension, "Movies/mic_001.mrc" -> "mic_001". cryoSPARC prefixes the files it imports with a
// numeric UID ("012345678901234567890_mic_001.mrc"); a leading run of 15 or more digits and '_' is
// dropped, so that its exports match the user's own file names.
std::string micrograph_key(const std::string& name);

// EMAN .box, tab-separated: boxes of `box_size` x `box_size` centred on each box's centre, or with
// each box's own size where box_size is 0.
void write_eman_box(const std::string& path, const std::vector<Box>& boxes, float box_size);

// A RELION-importable coordinate file: one data_ block, a loop_ of _rlnCoordinateX #1,
// _rlnCoordinateY #2 (centres), _rlnMicrographName #3 and _rlnAutopickFigureOfMerit #4 (the
// confidence). RELION reads the coordinates and ignores the rest; cryoSPARC's Import Particle Stack
// matches _rlnMicrographName to its exposures, so give the micrograph's file name ("mic_001.mrc").
void write_star(const std::string& path, const std::vector<Box>& boxes, const std::string& micrograph_name);
// The same table for many micrographs in one file, in the map's order: what cryoSPARC imports at once.
void write_star_by_micrograph(const std::string& path, const std::map<std::string, std::vector<Box>>& boxes);

// RELION 4 and 5's index of coordinate files, as their auto-picking writes autopick.star and
// `relion_preprocess --coord_list` reads it: a data_coordinate_files block, a loop_ of
// _rlnMicrographName #1 and _rlnMicrographCoordinates #2, one row per (micrograph, STAR file).
// RELION matches the micrograph names to its micrographs STAR file's exactly.
void write_coordinate_index(const std::string& path, const std::vector<std::pair<std::string, std::string>>& rows);

// crYOLO's CBOX, as crYOLO 1.8+ writes it for 2D micrographs: _Width/_Height `box_size` (each box's
// own w, h where box_size is 0), the box centred where it was, _EstWidth/_EstHeight the estimated
// size (Box::estimated_w/h), _Confidence, and <NA> for the 3D and filament columns.
void write_cbox(const std::string& path, const std::vector<Box>& boxes, float box_size);

// What check_boxes kept and one line for each kind of problem it found (none: no lines).
struct BoxCheck {
  std::vector<Box> kept;
  std::vector<std::string> warnings;
};

// Annotations against their micrograph of `image_width` x `image_height` pixels: boxes whose centre
// lies outside [0, width) x [0, height) are dropped, boxes that reach over an edge are kept, and of
// boxes with the same centre (within 0.5 px) and size (within 0.5 px) the first is kept. Warnings
// name `file` and say how many. The kept boxes stay in their order.
BoxCheck check_boxes(const std::vector<Box>& boxes, int image_width, int image_height, const std::string& file);

}  // namespace cupick
