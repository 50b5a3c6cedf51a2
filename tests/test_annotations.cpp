#include "io/annotations.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "engine/error.h"
#include "tests/temp_dir.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Reading `path` fails with a message that names the file and contains `part` (e.g. ":3: ").
void expect_read_error(const std::string& path, const std::string& part, float default_box_size = 0) {
  const std::string message = error_of([&] { read_boxes(path, default_box_size); });
  EXPECT_NE(message.find(path), std::string::npos) << "expected the file name in: " << message;
  EXPECT_NE(message.find(part), std::string::npos) << "expected \"" << part << "\" in: " << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "expected one line: " << message;
}

void expect_box(const Box& b, float x, float y, float w, float h, float confidence = 1) {
  EXPECT_NEAR(b.x, x, 1e-3f);
  EXPECT_NEAR(b.y, y, 1e-3f);
  EXPECT_NEAR(b.w, w, 1e-3f);
  EXPECT_NEAR(b.h, h, 1e-3f);
  EXPECT_NEAR(b.confidence, confidence, 1e-6f);
}

// Boxes with fractional centres and sizes, a score each, and an estimated size on some.
std::vector<Box> some_boxes() {
  std::vector<Box> boxes = {{100.25f, 200.5f, 180, 190, 0.9f}, {3000.125f, 17.75f, 200, 200, 0.31f},
                            {4095.5f, 4000, 64.5f, 70, 0.123456f}};
  boxes[1].est_w = 210, boxes[1].est_h = 205;
  return boxes;
}

// ---- EMAN .box ----

TEST(Box, ReadsEmanFileAsCentres) {
  TempDir dir;
  // Integers and floats, tabs and spaces, an extra column (e2boxer's), blank lines, a CRLF line.
  const std::string path = dir.file("mic_001.box",
                                    "100\t200\t50\t50\n"
                                    "  10.5   20.25  60  40  -3\n"
                                    "\n"
                                    "300 400 50 50 whatever\r\n"
                                    "\n");
  const std::vector<Box> boxes = read_boxes(path);
  ASSERT_EQ(boxes.size(), 3u);
  expect_box(boxes[0], 125, 225, 50, 50);
  expect_box(boxes[1], 40.5f, 40.25f, 60, 40);
  expect_box(boxes[2], 325, 425, 50, 50);
}

TEST(Box, EmptyFileIsAMicrographWithoutParticles) {
  TempDir dir;
  EXPECT_TRUE(read_boxes(dir.file("empty.box", "")).empty());
  EXPECT_TRUE(read_boxes(dir.file("blank.box", "\n  \n\t\n")).empty());
}

TEST(Box, RoundTripKeepsCentresAndSizes) {
  TempDir dir;
  const std::vector<Box> boxes = some_boxes();
  write_eman_box(dir / "own.box", boxes, 0);  // each box's own size
  std::vector<Box> back = read_boxes(dir / "own.box");
  ASSERT_EQ(back.size(), boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) expect_box(back[i], boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h);

  write_eman_box(dir / "sized.box", boxes, 220);  // the configured size, centred on each box
  back = read_boxes(dir / "sized.box");
  ASSERT_EQ(back.size(), boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) expect_box(back[i], boxes[i].x, boxes[i].y, 220, 220);
  EXPECT_EQ(read_all(dir / "sized.box").substr(0, 24), "-9.75\t90.5\t220\t220\n2890.");  // corner, tab-separated
}

TEST(Box, BadInputNamesFileAndLine) {
  TempDir dir;
  expect_read_error(dir.file("few.box", "1 2 3 4\n1 2 3\n"), "few.box:2: expected x y width height, found 3 values");
  expect_read_error(dir.file("text.box", "1 2 3 4\n\n10 abc 3 4\n"), ":3: y is 'abc', not a number");
  expect_read_error(dir.file("nan.box", "nan 2 3 4\n"), ":1: x is nan, not a finite number");
  expect_read_error(dir.file("inf.box", "1 2 inf 4\n"), ":1: width is inf, not a finite number");
  expect_read_error(dir.file("huge.box", "1 2 3 1e400\n"), ":1: height is 1e400, not a finite number");
  expect_read_error(dir.file("zero.box", "1 2 0 4\n"), ":1: width is 0; a box size must be positive");
  expect_read_error(dir.file("negative.box", "1 2 3 4\n1 2 3 -5\n"), ":2: height is -5; a box size must be positive");
  expect_read_error(dir / "missing.box", "cannot open");
  fs::create_directory(dir / "folder.box");
  expect_read_error(dir / "folder.box", "is a folder");
}

// ---- STAR ----

// RELION 3.0 autopick output: one data_ block, columns with "#N", trailing spaces.
const char* kRelion30 = R"(
data_

loop_ 
_rlnCoordinateX #1 
_rlnCoordinateY #2 
_rlnClassNumber #3 
_rlnAutopickFigureOfMerit #4 
_rlnAnglePsi #5 
 1023.000000   512.000000            1     1.250000   -999.00000 
  200.000000  3000.000000            1    -0.500000   -999.00000 
   50.500000    60.000000            0  -999.000000   -999.00000 
 
)";

TEST(Star, ReadsRelion30) {
  TempDir dir;
  const std::vector<Box> boxes = read_boxes(dir.file("mic_001_autopick.star", kRelion30), 160);
  ASSERT_EQ(boxes.size(), 3u);
  expect_box(boxes[0], 1023, 512, 160, 160, 1.25f);
  expect_box(boxes[1], 200, 3000, 160, 160, -0.5f);
  expect_box(boxes[2], 50.5f, 60, 160, 160, 1);  // -999: RELION's "no figure of merit" (a manual pick)
}

// RELION 3.1: a data_optics block first, the coordinates in data_particles, "# version" comments.
const char* kRelion31 = R"(
# version 30001

data_optics

loop_ 
_rlnOpticsGroupName #1 
_rlnOpticsGroup #2 
_rlnMicrographOriginalPixelSize #3 
_rlnVoltage #4 
_rlnSphericalAberration #5 
_rlnAmplitudeContrast #6 
_rlnImagePixelSize #7 
_rlnImageSize #8 
_rlnImageDimensionality #9 
opticsGroup1            1     0.885000   300.000000     2.700000     0.100000     1.770000          128            2 
 

# version 30001

data_particles

loop_ 
_rlnCoordinateX #1 
_rlnCoordinateY #2 
_rlnAutopickFigureOfMerit #3 
_rlnClassNumber #4 
_rlnAnglePsi #5 
_rlnImageName #6 
_rlnMicrographName #7 
_rlnOpticsGroup #8 
 1543.000000  2211.000000     0.930233            1   -999.00000 000001@Extract/job007/Movies/mic_001.mrcs MotionCorr/job002/Movies/mic_001.mrc            1 
  812.500000   100.000000     0.500000            1   -999.00000 000002@Extract/job007/Movies/mic_001.mrcs MotionCorr/job002/Movies/mic_001.mrc            1 
)";

TEST(Star, ReadsRelion31WithOptics) {
  TempDir dir;
  const std::vector<Box> boxes = read_boxes(dir.file("particles.star", kRelion31));
  ASSERT_EQ(boxes.size(), 2u);
  expect_box(boxes[0], 1543, 2211, 0, 0, 0.930233f);  // no default size: the caller sets it
  expect_box(boxes[1], 812.5f, 100, 0, 0, 0.5f);
  const auto by_micrograph = read_star_by_micrograph(dir / "particles.star", 200);
  ASSERT_EQ(by_micrograph.size(), 1u);
  ASSERT_EQ(by_micrograph.count("mic_001"), 1u);
  expect_box(by_micrograph.at("mic_001")[1], 812.5f, 100, 200, 200, 0.5f);
}

// As cryoSPARC exports particles: no "#N", tabs, the micrograph name first, coordinates among
// other columns, file names with cryoSPARC's UID prefix, several micrographs in one file, no score.
const char* kCryosparc =
    "# Created by cryoSPARC\n"
    "data_optics\n"
    "loop_\n"
    "_rlnOpticsGroup\n_rlnOpticsGroupName\n_rlnVoltage\n_rlnImagePixelSize\n_rlnImageSize\n"
    "1\topticsGroup1\t300.0\t1.06\t256\n"
    "\n"
    "data_particles\n"
    "loop_\n"
    "_rlnMicrographName\n_rlnImageName\n_rlnDefocusU\n_rlnCoordinateY\n_rlnOpticsGroup\n_rlnCoordinateX\n"
    "J9/motioncorrected/004565423123287483098_mic_001.mrc\t1@J12/extract/a.mrc\t12000.5\t2000.0\t1\t1000.0\n"
    "J9/motioncorrected/004565423123287483098_mic_002.mrc\t2@J12/extract/a.mrc\t11800.2\t20.5\t1\t3000.25\n"
    "J9/motioncorrected/004565423123287483098_mic_001.mrc\t3@J12/extract/a.mrc\t12000.5\t30.0\t1\t40.0\n";

TEST(Star, ReadsCryosparcExportByMicrograph) {
  TempDir dir;
  const std::string path = dir.file("P3_J20_particles_exported.star", kCryosparc);
  const auto by_micrograph = read_star_by_micrograph(path, 256);
  ASSERT_EQ(by_micrograph.size(), 2u);
  const std::vector<Box>& one = by_micrograph.at("mic_001");
  ASSERT_EQ(one.size(), 2u);
  expect_box(one[0], 1000, 2000, 256, 256);
  expect_box(one[1], 40, 30, 256, 256);
  ASSERT_EQ(by_micrograph.at("mic_002").size(), 1u);
  expect_box(by_micrograph.at("mic_002")[0], 3000.25f, 20.5f, 256, 256);
  EXPECT_EQ(read_star(path).size(), 3u);  // every row, whatever micrograph
  // One file for several micrographs where one micrograph's boxes are asked for.
  expect_read_error(path, "names 2 micrographs (mic_001, mic_002); one micrograph per file expected here");
}

TEST(Star, SplitsRelionFileByMicrograph) {
  TempDir dir;
  const std::string path = dir.file("all.star",
                                    "data_\nloop_\n_rlnMicrographName #1\n_rlnCoordinateX #2\n_rlnCoordinateY #3\n"
                                    "Micrographs/a.mrc 10 20\nMicrographs/b.tiff 30 40\nother/a.mrc 50 60\n");
  const auto by_micrograph = read_star_by_micrograph(path);
  ASSERT_EQ(by_micrograph.size(), 2u);
  ASSERT_EQ(by_micrograph.at("a").size(), 2u);  // the base name decides, not the folder
  EXPECT_EQ(by_micrograph.at("a")[1].x, 50);
  EXPECT_EQ(by_micrograph.at("b")[0].y, 40);
  // Without _rlnMicrographName every box belongs to the micrograph the file is named after.
  const auto own = read_star_by_micrograph(dir.file("mic_007.star", kRelion30));
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own.at("mic_007").size(), 3u);
}

TEST(Star, QuotesCommentsAndBlankLines) {
  TempDir dir;
  const std::string path = dir.file("quoted.star",
                                    "# a comment\n\n"
                                    "data_picks\n\n"
                                    "_someItem 'a value'\n"
                                    "loop_\n"
                                    "_rlnCoordinateX #1\n"
                                    "# a comment among the labels\n"
                                    "_rlnMicrographName #2\n"
                                    "_rlnCoordinateY #3\n"
                                    "_rlnComment #4\n"
                                    "1.5 \"my mic.mrc\" 2.5 \"\"\n"
                                    "\n"
                                    "# a comment among the rows\n"
                                    "3 'my mic.mrc' 4 'it''s'\n");
  const auto by_micrograph = read_star_by_micrograph(path);
  ASSERT_EQ(by_micrograph.size(), 1u);
  const std::vector<Box>& boxes = by_micrograph.at("my mic");
  ASSERT_EQ(boxes.size(), 2u);
  expect_box(boxes[0], 1.5f, 2.5f, 0, 0);
  expect_box(boxes[1], 3, 4, 0, 0);
}

TEST(Star, EmptyFileIsAMicrographWithoutParticles) {
  TempDir dir;
  EXPECT_TRUE(read_boxes(dir.file("empty.star", "")).empty());
  EXPECT_TRUE(read_boxes(dir.file("comments.star", "# version 30001\n\n")).empty());
  EXPECT_TRUE(read_boxes(dir.file("header.star", "data_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n")).empty());
}

TEST(Star, RoundTripKeepsCentresAndScores) {
  TempDir dir;
  const std::vector<Box> boxes = some_boxes();
  write_star(dir / "mic_001.star", boxes, "mic_001.mrc");
  const std::string text = read_all(dir / "mic_001.star");
  EXPECT_NE(text.find("data_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnMicrographName #3\n"
                      "_rlnAutopickFigureOfMerit #4\n100.25\t200.5\tmic_001.mrc\t0.9\n"),
            std::string::npos)
      << text;
  const std::vector<Box> back = read_boxes(dir / "mic_001.star", 180);
  ASSERT_EQ(back.size(), boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) expect_box(back[i], boxes[i].x, boxes[i].y, 180, 180, boxes[i].confidence);

  // Many micrographs in one file, names with a space quoted.
  const std::map<std::string, std::vector<Box>> many = {{"Movies/a b.mrc", {boxes[0]}}, {"c.mrc", {boxes[1], boxes[2]}}};
  write_star_by_micrograph(dir / "all.star", many);
  const auto split = read_star_by_micrograph(dir / "all.star");
  ASSERT_EQ(split.size(), 2u);
  ASSERT_EQ(split.at("a b").size(), 1u);
  ASSERT_EQ(split.at("c").size(), 2u);
  expect_box(split.at("a b")[0], boxes[0].x, boxes[0].y, 0, 0, boxes[0].confidence);
  expect_box(split.at("c")[1], boxes[2].x, boxes[2].y, 0, 0, boxes[2].confidence);
}

TEST(Star, BadInputNamesFileAndLine) {
  TempDir dir;
  expect_read_error(dir.file("optics.star", "data_optics\nloop_\n_rlnVoltage #1\n300\n"),
                    "optics.star: no loop_ with _rlnCoordinateX and _rlnCoordinateY");
  expect_read_error(dir.file("count.star", "data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 2\n3 4 5\n"),
                    "count.star:6: 3 values for the 2 labels of the loop_");
  expect_read_error(dir.file("text.star", "data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 two\n"),
                    ":5: _rlnCoordinateY is 'two', not a number");
  expect_read_error(dir.file("nan.star", "data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\nNaN 2\n"),
                    ":5: _rlnCoordinateX is NaN, not a finite number");
  expect_read_error(dir.file("merit.star",
                             "data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnAutopickFigureOfMerit #3\n"
                             "1 2 -inf\n"),
                    ":6: _rlnAutopickFigureOfMerit is -inf, not a finite number");
  expect_read_error(dir.file("quote.star", "data_\nloop_\n_rlnCoordinateX #1\n_rlnMicrographName #2\n1 'a.mrc\n"),
                    ":5: a quote is not closed");
  expect_read_error(dir.file("outside.star", "data_\n1 2\n"), ":2: value '1' outside a loop_");
  expect_read_error(dir.file("nolabels.star", "data_\nloop_\n1 2\n"), ":3: loop_ without labels");
  expect_read_error(dir.file("item.star", "data_\n_rlnCoordinateX\n"), ":2: _rlnCoordinateX takes one value, found 0");
  expect_read_error(dir / "missing.star", "cannot open");
}

// ---- CBOX ----

// As crYOLO 1.8+ writes a 2D file (rows from a real one), with a row that has no score.
const char* kCbox = R"(
data_global

_cbox_format_version 1.0

data_cryolo

loop_
_CoordinateX #1
_CoordinateY #2
_CoordinateZ #3
_Width #4
_Height #5
_Depth #6
_EstWidth #7
_EstHeight #8
_Confidence #9
_NumBoxes #10
_Angle #11
4472.011260986328 3834.466156333685 <NA> 200.0 200.0 <NA> 208.0 203.0 0.14524617791175842 <NA> <NA>
2.4136924743652344 1544.9186751842499 <NA> 200.0 200.0 <NA> 188.0 205.0 0.20812804996967316 <NA> <NA>
100 50 <NA> 200.0 180.0 <NA> <NA> <NA> <NA> <NA> <NA>

data_cryolo_include

loop_
_slice_index #1
)";

TEST(Cbox, ReadsCryoloFile) {
  TempDir dir;
  const std::vector<Box> boxes = read_boxes(dir.file("mic.cbox", kCbox));
  ASSERT_EQ(boxes.size(), 3u);
  expect_box(boxes[0], 4572.011260986328f, 3934.466156333685f, 200, 200, 0.14524617791175842f);
  EXPECT_FLOAT_EQ(boxes[0].est_w, 208);
  EXPECT_FLOAT_EQ(boxes[0].est_h, 203);
  expect_box(boxes[1], 102.4136924743652344f, 1644.9186751842499f, 200, 200, 0.20812804996967316f);
  expect_box(boxes[2], 200, 140, 200, 180, 1);  // <NA> score: an annotation
  EXPECT_FLOAT_EQ(boxes[2].estimated_w(), 200);  // <NA> estimate: the box's own size
  EXPECT_FLOAT_EQ(boxes[2].estimated_h(), 180);
}

TEST(Cbox, ReadsOlderFiles) {
  TempDir dir;
  // crYOLO before 1.8: x y width height confidence est_width est_height, tab-separated.
  std::vector<Box> boxes = read_boxes(dir.file("old.cbox", "4472.0\t3834.5\t200\t200\t0.145\t208\t203\n"
                                                            "2.4\t1544.9\t200\t200\t0.208\n"));
  ASSERT_EQ(boxes.size(), 2u);
  expect_box(boxes[0], 4572, 3934.5f, 200, 200, 0.145f);
  EXPECT_FLOAT_EQ(boxes[0].est_w, 208);
  expect_box(boxes[1], 102.4f, 1644.9f, 200, 200, 0.208f);
  EXPECT_FLOAT_EQ(boxes[1].est_w, 0);
  // Files with only some columns, as other tools write them: the estimate stands in for the size.
  boxes = read_boxes(dir.file("some.cbox", "data_cryolo\nloop_\n_CoordinateX\n_CoordinateY\n_EstWidth\n_EstHeight\n"
                                           "60 70 5 6\n"));
  ASSERT_EQ(boxes.size(), 1u);
  expect_box(boxes[0], 62.5f, 73, 5, 6);
}

TEST(Cbox, RoundTripKeepsBoxEstimateAndScore) {
  TempDir dir;
  const std::vector<Box> boxes = some_boxes();
  write_cbox(dir / "mic.cbox", boxes, 200);
  const std::string text = read_all(dir / "mic.cbox");
  EXPECT_TRUE(text.starts_with("\ndata_global\n\n_cbox_format_version 1.0\n\ndata_cryolo\n\nloop_\n_CoordinateX #1\n"));
  EXPECT_NE(text.find("\n_Angle #11\n0.25 100.5 <NA> 200 200 <NA> 180 190 0.9 <NA> <NA>\n"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("\n\ndata_cryolo_include\n\nloop_\n_slice_index #1\n")) << text;
  const std::vector<Box> back = read_boxes(dir / "mic.cbox");
  ASSERT_EQ(back.size(), boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    expect_box(back[i], boxes[i].x, boxes[i].y, 200, 200, boxes[i].confidence);
    EXPECT_FLOAT_EQ(back[i].estimated_w(), boxes[i].estimated_w());  // the detected size survives
    EXPECT_FLOAT_EQ(back[i].estimated_h(), boxes[i].estimated_h());
  }
  write_cbox(dir / "own.cbox", back, 0);  // each box's own size: the same file again
  EXPECT_EQ(read_all(dir / "own.cbox"), text);
}

TEST(Cbox, EmptyFileIsAMicrographWithoutParticles) {
  TempDir dir;
  EXPECT_TRUE(read_boxes(dir.file("empty.cbox", "")).empty());
  write_cbox(dir / "none.cbox", {}, 200);
  EXPECT_TRUE(read_boxes(dir / "none.cbox").empty());
}

TEST(Cbox, BadInputNamesFileAndLine) {
  TempDir dir;
  const std::string header = "data_cryolo\nloop_\n_CoordinateX #1\n_CoordinateY #2\n_Width #3\n_Height #4\n";
  expect_read_error(dir.file("nocoords.cbox", "data_global\n_cbox_format_version 1.0\ndata_cryolo\nloop_\n_Width\n1\n"),
                    "nocoords.cbox: no loop_ with _CoordinateX and _CoordinateY");
  expect_read_error(dir.file("nowidth.cbox", "data_cryolo\nloop_\n_CoordinateX\n_CoordinateY\n1 2\n"),
                    "no _Width and _Height");
  expect_read_error(dir.file("na.cbox", header + "<NA> 2 3 4\n"), "na.cbox:7: _CoordinateX is '<NA>', not a number");
  expect_read_error(dir.file("zero.cbox", header + "1 2 0 4\n"), ":7: _Width is 0; a box size must be positive");
  expect_read_error(dir.file("nasize.cbox", header + "1 2 <NA> 4\n"), ":7: _Width is <NA> and there is no estimate");
  expect_read_error(dir.file("count.cbox", header + "1 2 3 4\n1 2 3\n"), ":8: 3 values for the 4 labels");
  expect_read_error(dir.file("old.cbox", "1\t2\t3\t4\n"), "old.cbox:1: expected x y width height confidence");
}

// ---- all formats ----

TEST(Annotation, DispatchesByExtension) {
  TempDir dir;
  EXPECT_EQ(read_boxes(dir.file("a.BOX", "1 2 3 4\n")).size(), 1u);
  EXPECT_EQ(read_boxes(dir.file("a.Star", kRelion30)).size(), 3u);
  EXPECT_EQ(read_boxes(dir.file("a.CBOX", kCbox)).size(), 3u);
  expect_read_error(dir.file("a.txt", "1 2 3 4\n"),
                    "unknown annotation format '.txt'; expected .box (EMAN), .star (RELION, cryoSPARC) or .cbox (crYOLO)");
  expect_read_error(dir.file("noext", "1 2 3 4\n"), "unknown annotation format ''");
}

TEST(Annotation, MicrographKey) {
  EXPECT_EQ(micrograph_key("MotionCorr/job002/Movies/mic_001.mrc"), "mic_001");
  EXPECT_EQ(micrograph_key("mic.001.tiff"), "mic.001");
  EXPECT_EQ(micrograph_key("mic_001"), "mic_001");
  EXPECT_EQ(micrograph_key("J9/004565423123287483098_mic_001.mrc"), "mic_001");  // cryoSPARC's UID goes
  EXPECT_EQ(micrograph_key("20220309_161226_fractions.mrc"), "20220309_161226_fractions");  // a date stays
}

TEST(Annotation, WritersReplaceFilesWhole) {
  TempDir dir;
  const std::vector<Box> boxes = some_boxes();
  const std::string path = dir / "mic.box";
  write_eman_box(path, boxes, 200);
  write_eman_box(path, {boxes[0]}, 200);  // replaces the earlier file
  EXPECT_EQ(read_boxes(path).size(), 1u);
  write_star(dir / "mic.star", boxes, "mic.mrc");
  write_cbox(dir / "mic.cbox", boxes, 200);
  for (const auto& entry : fs::directory_iterator(dir.path)) EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();

  // A failed write names the file and leaves nothing behind.
  const std::string nowhere = dir / "no/such/folder/mic.box";
  std::string message = error_of([&] { write_eman_box(nowhere, boxes, 200); });
  EXPECT_NE(message.find(nowhere + ": cannot create"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(nowhere));
}

TEST(Annotation, WritersRejectWhatTheyCannotWrite) {
  TempDir dir;
  std::vector<Box> boxes = some_boxes();
  const std::string path = dir / "mic.box";
  EXPECT_NE(error_of([&] { write_eman_box(path, boxes, -1); }).find(path + ": box size must be positive"), std::string::npos);
  EXPECT_NE(error_of([&] { write_cbox(path, {Box{1, 2, 0, 0}}, 0); }).find("box 0 has no size to write"), std::string::npos);
  EXPECT_NE(error_of([&] { write_star(path, boxes, ""); }).find("no micrograph name"), std::string::npos);
  boxes[2].y = NAN;
  EXPECT_NE(error_of([&] { write_star(path, boxes, "m.mrc"); }).find("box 2 holds a value that is not a finite number"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path));
}

TEST(Annotation, CheckBoxesAgainstTheImage) {
  const std::vector<Box> boxes = {
      {500, 400, 100, 100},   // inside
      {-1, 400, 100, 100},    // centre left of the image: dropped
      {1000, 400, 100, 100},  // centre on the right edge, outside [0, 1000): dropped
      {NAN, 400, 100, 100},   // dropped
      {20, 780, 100, 100},    // over the left and bottom edges: kept
      {500.3f, 399.8f, 100.2f, 100, 0.5f},  // the first box again: dropped
      {500, 400, 150, 150},   // the same centre, another size: kept
      {20, 780, 100, 100},    // the over-the-edge box again: dropped
  };
  const BoxCheck check = check_boxes(boxes, 1000, 800, "mic.box");
  ASSERT_EQ(check.kept.size(), 3u);
  EXPECT_EQ(check.kept[0].w, 100);
  EXPECT_EQ(check.kept[1].x, 20);
  EXPECT_EQ(check.kept[2].w, 150);
  ASSERT_EQ(check.warnings.size(), 3u);
  EXPECT_EQ(check.warnings[0], "mic.box: 3 boxes with the centre outside the 1000 x 800 image dropped");
  EXPECT_EQ(check.warnings[1], "mic.box: 1 box reaches over the edge of the 1000 x 800 image; kept");
  EXPECT_EQ(check.warnings[2], "mic.box: 2 duplicate boxes (the same centre and size as an earlier one) dropped");

  EXPECT_TRUE(check_boxes({boxes[0]}, 1000, 800, "mic.box").warnings.empty());
  EXPECT_NE(error_of([&] { check_boxes(boxes, 0, 800, "mic.box"); }).find("mic.box: image size 0 x 800"), std::string::npos);
}

}  // namespace
}  // namespace cupick
