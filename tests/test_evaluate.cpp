#include "pick/evaluate.h"

#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "image/plot.h"
#include "tests/temp_dir.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;
using BoxesByMicrograph = std::map<std::string, std::vector<Box>>;

using test::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

Box box(float x, float y, float size, float confidence = 1) { return Box{x, y, size, size, confidence}; }

// The hand-worked case: 2 micrographs, 5 true boxes of 50 px, 6 picks.
//   a: T1 (100,100), T2 (300,100), T3 (500,100, never found)
//      0.9  on T1 exactly              -> TP
//      0.7  on T1 moved 5 px (IoU .82) -> FP: T1 is taken by the 0.9
//      0.6  on T2 moved 5 px (IoU .82) -> TP
//      0.3  far from everything        -> FP
//   b: T4 (100,100), T5 (300,300)
//      0.85 on T5 moved 20 px (IoU 1500/3500 = .43) -> FP
//      0.4  on T4 moved 10 px (IoU 2000/3000 = .67) -> TP
// By falling confidence: .9 TP, .85 FP, .7 FP, .6 TP, .4 TP, .3 FP.
BoxesByMicrograph hand_truth() {
  return {{"a", {box(100, 100, 50), box(300, 100, 50), box(500, 100, 50)}}, {"b", {box(100, 100, 50), box(300, 300, 50)}}};
}
BoxesByMicrograph hand_picks() {
  return {{"a", {box(100, 100, 50, .9f), box(305, 100, 50, .6f), box(105, 100, 50, .7f), box(700, 700, 50, .3f)}},
          {"b", {box(110, 100, 50, .4f), box(320, 300, 50, .85f)}}};
}

void expect_counts(const CurvePoint& c, size_t tp, size_t fp, size_t fn) {
  EXPECT_EQ(c.tp, tp) << "at " << c.threshold;
  EXPECT_EQ(c.fp, fp) << "at " << c.threshold;
  EXPECT_EQ(c.fn, fn) << "at " << c.threshold;
}

// What the hand-worked case must give, however it was read.
void expect_hand_case(const Evaluation& e) {
  EXPECT_EQ(e.micrographs, 2u);
  EXPECT_EQ(e.truth_boxes, 5u);
  EXPECT_EQ(e.picks, 6u);
  ASSERT_EQ(e.curve.size(), 1001u);
  EXPECT_DOUBLE_EQ(e.curve[200].threshold, 0.2);
  expect_counts(e.curve[200], 3, 3, 2);  // P 3/6, R 3/5, F1 6/11
  EXPECT_DOUBLE_EQ(e.curve[200].precision, 0.5);
  EXPECT_DOUBLE_EQ(e.curve[200].recall, 0.6);
  EXPECT_NEAR(e.curve[200].f1, 6.0 / 11, 1e-12);
  expect_counts(e.curve[500], 2, 2, 3);  // P .5, R .4, F1 4/9
  EXPECT_NEAR(e.curve[500].f1, 4.0 / 9, 1e-12);
  expect_counts(e.curve[800], 1, 1, 4);  // P .5, R .2, F1 2/7
  EXPECT_NEAR(e.curve[800].f1, 2.0 / 7, 1e-12);
  // A pick counts at its own confidence (0.3f and 0.9f as thresholds), not just above it.
  expect_counts(e.curve[300], 3, 3, 2);
  expect_counts(e.curve[301], 3, 2, 2);
  expect_counts(e.curve[900], 1, 0, 4);
  expect_counts(e.curve[901], 0, 0, 5);
  EXPECT_DOUBLE_EQ(e.curve[1000].precision, 1);  // nothing picked
  EXPECT_DOUBLE_EQ(e.curve[1000].f1, 0);
  // Best: thresholds (0.3, 0.4] keep .9 .85 .7 .6 .4: TP 3, FP 2: P = R = F1 = .6; the lowest is 0.301.
  EXPECT_DOUBLE_EQ(e.best_threshold, 0.301);
  EXPECT_DOUBLE_EQ(e.precision, 0.6);
  EXPECT_DOUBLE_EQ(e.recall, 0.6);
  EXPECT_NEAR(e.f1, 0.6, 1e-12);
  // The curve's points by falling threshold, (recall, precision): (.2, 1) (.2, .5) (.2, 1/3) (.4, .5)
  // (.6, .6) (.6, .5); from recall 0 at precision 1: .2 * 1 + .2 * (1/3 + 1/2) / 2 + .2 * (.5 + .6) / 2.
  EXPECT_NEAR(e.auc, 0.2 + 0.2 * (1.0 / 3 + 0.5) / 2 + 0.2 * 1.1 / 2, 1e-12);
  // crYOLO's variant at 0.301: a: picks .9 .7 .6 all overlap a true box, T1 and T2 of 3 found: P 1,
  // R 2/3, F1 .8; b: .85 misses, .4 hits, T4 of 2 found: P .5, R .5, F1 .5; mean .65.
  EXPECT_NEAR(e.per_micrograph_f1, 0.65, 1e-12);
}

TEST(Evaluate, HandComputedPrecisionRecall) {
  const Evaluation e = evaluate(hand_picks(), hand_truth());
  expect_hand_case(e);
  EXPECT_TRUE(e.warnings.empty());
}

TEST(Evaluate, OneTrueBoxIsMatchedOnce) {
  const std::vector<Box> truth = {box(100, 100, 50)};
  const std::vector<Match> m = match_picks({box(100, 100, 50, .8f), box(100, 100, 50, .9f)}, truth);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].pick, 1u);  // the more confident first
  EXPECT_EQ(m[0].truth, 0);
  EXPECT_FLOAT_EQ(m[0].iou, 1);
  EXPECT_EQ(m[1].pick, 0u);
  EXPECT_EQ(m[1].truth, -1);
}

TEST(Evaluate, MoreConfidentPickWinsOverBetterOverlap) {
  // The exact pick is less confident than the one 10 px off (IoU 2/3): the confident one has it.
  const std::vector<Match> m = match_picks({box(100, 100, 50, .5f), box(110, 100, 50, .9f)}, {box(100, 100, 50)});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].pick, 1u);
  EXPECT_EQ(m[0].truth, 0);
  EXPECT_NEAR(m[0].iou, 2.0 / 3, 1e-6);
  EXPECT_EQ(m[1].truth, -1);
}

TEST(Evaluate, PickTakesTheUnmatchedTrueBoxOfHighestIou) {
  // Two true boxes 4 px apart. The first pick takes T0; the second, best with T0, falls back on T1.
  const std::vector<Box> truth = {box(100, 100, 50), box(104, 100, 50)};
  const std::vector<Match> m = match_picks({box(101, 100, 50, .9f), box(100, 100, 50, .8f)}, truth);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].truth, 0);
  EXPECT_EQ(m[1].truth, 1);
  EXPECT_NEAR(m[1].iou, 46.0 / 54, 1e-6);
}

TEST(Evaluate, IouOfExactlyHalfIsNoMatch) {
  // [0,1] x [0,1] inside [0,2] x [0,1]: intersection 1, union 2, exactly 0.5 in floats.
  const Box truth{1, 0.5f, 2, 1}, pick{0.5f, 0.5f, 1, 1, 0.9f};
  ASSERT_EQ(iou(truth, pick), 0.5f);
  EXPECT_EQ(match_picks({pick}, {truth})[0].truth, -1);
  EXPECT_EQ(match_picks({pick}, {truth}, 0.49)[0].truth, 0);
  const Evaluation e = evaluate({{"m", {pick}}}, {{"m", {truth}}});
  expect_counts(e.curve[0], 0, 1, 1);
}

TEST(Evaluate, MicrographsWithoutPicksOrTruth) {
  // "c" has truth but no picks: its box is a false negative. "x" has picks but no truth: left out.
  const BoxesByMicrograph truth = {{"a", {box(100, 100, 50)}}, {"c", {box(100, 100, 50)}}};
  const BoxesByMicrograph picks = {{"a", {box(100, 100, 50, .5f)}}, {"x", {box(1, 1, 50, .9f)}}};
  const Evaluation e = evaluate(picks, truth);
  EXPECT_EQ(e.micrographs, 2u);
  EXPECT_EQ(e.picks, 1u);
  expect_counts(e.curve[0], 1, 0, 1);
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_NE(e.warnings[0].find("x"), std::string::npos) << e.warnings[0];
  EXPECT_NE(error_of([] { evaluate({}, {}); }).find("no micrograph"), std::string::npos);
  EXPECT_NE(error_of([] { evaluate({}, {{"a", {}}}); }).find("holds no box"), std::string::npos);
}

TEST(Evaluate, PerfectPickerHasAucOne) {
  const BoxesByMicrograph truth = {{"a", {box(100, 100, 50), box(300, 100, 50), box(500, 100, 50)}},
                                   {"b", {box(100, 300, 60)}}};
  BoxesByMicrograph spread = truth;  // the same boxes with confidences .2 .4 .6 .8
  float c = 0.2f;
  for (auto& [key, boxes] : spread)
    for (Box& b : boxes) b.confidence = c, c += 0.2f;
  for (const BoxesByMicrograph& picks : {truth, spread}) {
    const Evaluation e = evaluate(picks, truth);
    EXPECT_DOUBLE_EQ(e.auc, 1);
    EXPECT_DOUBLE_EQ(e.f1, 1);
    EXPECT_DOUBLE_EQ(e.best_threshold, 0);
    EXPECT_DOUBLE_EQ(e.per_micrograph_f1, 1);
  }
}

TEST(Evaluate, NothingPickedHasAucZero) {
  const Evaluation e = evaluate({}, {{"a", {box(100, 100, 50)}}});
  EXPECT_DOUBLE_EQ(e.auc, 0);
  EXPECT_DOUBLE_EQ(e.f1, 0);
  EXPECT_DOUBLE_EQ(e.best_threshold, 0);
  EXPECT_DOUBLE_EQ(e.per_micrograph_f1, 0);  // precision 1, recall 0
}

TEST(Evaluate, FoldersOfBoxAndStarFiles) {
  TempDir dir;
  // Ground truth as EMAN .box files (lower-left corners), picks as one STAR file for all micrographs
  // (centres, no size: the default of 50), with a micrograph "c" that has no ground truth.
  dir.file("truth/a.box", "75 75 50 50\n275 75 50 50\n475 75 50 50\n");
  dir.file("truth/b.box", "75\t75\t50\t50\n275\t275\t50\t50\n");
  dir.file("truth/notes.txt", "not an annotation");
  dir.file("picks/picks.star",
           "data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnMicrographName #3\n_rlnAutopickFigureOfMerit #4\n"
           "100 100 Micrographs/a.mrc 0.9\n305 100 Micrographs/a.mrc 0.6\n105 100 Micrographs/a.mrc 0.7\n"
           "700 700 Micrographs/a.mrc 0.3\n110 100 Micrographs/b.mrc 0.4\n320 300 Micrographs/b.mrc 0.85\n"
           "10 10 Micrographs/c.mrc 0.99\n");
  const Evaluation e = evaluate_folders(dir / "picks", dir / "truth", 50);
  expect_hand_case(e);
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_NE(e.warnings[0].find("c"), std::string::npos);

  // The other way round: truth a STAR file per micrograph (one empty), picks CBOX and BOX files.
  dir.file("truth2/a.star", "data_\nloop_\n_rlnCoordinateX\n_rlnCoordinateY\n100 100\n300 100\n");
  dir.file("truth2/b.star", "");
  dir.file("picks2/a.cbox", "75\t75\t50\t50\t0.8\n");
  dir.file("picks2/b.BOX", "0 0 50 50\n");
  const Evaluation f = evaluate_folders(dir / "picks2", dir / "truth2", 50);
  EXPECT_EQ(f.micrographs, 2u);
  EXPECT_EQ(f.truth_boxes, 2u);
  expect_counts(f.curve[500], 1, 1, 1);
  expect_counts(f.curve[900], 0, 1, 2);  // the .box pick has confidence 1
}

TEST(Evaluate, FolderErrors) {
  TempDir dir;
  fs::create_directories(dir / "empty");
  dir.file("empty/readme.txt", "no annotations here");
  dir.file("truth/x.box", "0 0 50 50\n");
  dir.file("picks/a.box", "0 0 50 50\n");
  dir.file("picks/b.box", "0 0 50 50\n");

  std::string message = error_of([&] { evaluate_folders(dir / "empty", dir / "truth", 50); });
  EXPECT_NE(message.find("holds no .box, .star or .cbox file"), std::string::npos) << message;
  EXPECT_NE(message.find(dir / "empty"), std::string::npos) << message;
  message = error_of([&] { evaluate_folders(dir / "picks", dir / "missing", 50); });
  EXPECT_NE(message.find(dir / "missing" + " does not exist"), std::string::npos) << message;

  message = error_of([&] { evaluate_folders(dir / "picks", dir / "truth", 50); });
  EXPECT_NE(message.find("no micrograph has both"), std::string::npos) << message;
  EXPECT_NE(message.find("a, b"), std::string::npos) << message;
  EXPECT_NE(message.find(" x"), std::string::npos) << message;

  const std::string bad = dir.file("bad/x.box", "0 0 50 fifty\n");
  message = error_of([&] { evaluate_folders(dir / "bad", dir / "truth", 50); });
  EXPECT_NE(message.find(bad), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  dir.file("star/x.star", "data_\nloop_\n_rlnCoordinateX\n_rlnCoordinateY\n100 100\n");
  message = error_of([&] { evaluate_folders(dir / "star", dir / "truth", 0); });
  EXPECT_NE(message.find("give one with -b (--box_size)"), std::string::npos) << message;

  dir.file("twice/x.box", "0 0 50 50\n");
  dir.file("twice/x.cbox", "0\t0\t50\t50\t1\n");
  message = error_of([&] { evaluate_folders(dir / "twice", dir / "truth", 50); });
  EXPECT_NE(message.find("in both"), std::string::npos) << message;
}

TEST(Evaluate, JsonReport) {
  TempDir dir;
  Evaluation e = evaluate(hand_picks(), hand_truth());
  e.warnings.push_back("a warning");
  const std::string path = dir / "report.json";
  write_report_json(path, e);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  std::ifstream in(path);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["micrographs"], 2);
  EXPECT_EQ(j["truth_boxes"], 5);
  EXPECT_EQ(j["picks"], 6);
  EXPECT_DOUBLE_EQ(j["iou_threshold"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["best"]["threshold"].get<double>(), 0.301);
  EXPECT_DOUBLE_EQ(j["best"]["f1"].get<double>(), e.f1);
  EXPECT_DOUBLE_EQ(j["best"]["precision"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(j["best"]["recall"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(j["auc"].get<double>(), e.auc);
  EXPECT_DOUBLE_EQ(j["cryolo_per_micrograph"]["f1"].get<double>(), e.per_micrograph_f1);
  EXPECT_NE(j["cryolo_per_micrograph"]["note"].get<std::string>().find("crYOLO"), std::string::npos);
  EXPECT_EQ(j["warnings"], nlohmann::json::array({"a warning"}));
  ASSERT_EQ(j["curve"].size(), 1001u);
  const auto& c = j["curve"][200];
  EXPECT_DOUBLE_EQ(c["threshold"].get<double>(), 0.2);
  EXPECT_EQ(c["tp"], 3);
  EXPECT_EQ(c["fp"], 3);
  EXPECT_EQ(c["fn"], 2);
  EXPECT_DOUBLE_EQ(c["precision"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(c["recall"].get<double>(), 0.6);
  EXPECT_NEAR(c["f1"].get<double>(), 6.0 / 11, 1e-12);
}

TEST(Evaluate, PrCurvePng) {
  TempDir dir;
  const std::string path = dir / "pr.png";
  write_pr_curve(path, evaluate(hand_picks(), hand_truth()), 320, 240);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_TRUE(fs::exists(dir / "pr.svg"));  // its content: tests/test_plot

  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_file(&image, path.c_str())) << image.message;
  EXPECT_EQ(image.width, 320u);
  EXPECT_EQ(image.height, 240u);
  image.format = PNG_FORMAT_RGB;
  std::vector<png_byte> rgb(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, rgb.data(), 0, nullptr)) << image.message;
  size_t black = 0, red = 0, blue = 0;
  for (size_t i = 0; i < rgb.size(); i += 3) {
    black += rgb[i] == 0 && rgb[i + 1] == 0 && rgb[i + 2] == 0;
    red += rgb[i] == 214 && rgb[i + 1] == 39 && rgb[i + 2] == 40;
    blue += rgb[i] == 31 && rgb[i + 1] == 119 && rgb[i + 2] == 180;
  }
  EXPECT_GT(black, 4u * 200);  // the frame at least
  EXPECT_GT(red, 50u);         // the best-F1 marker, a disc of radius 5
  EXPECT_GT(blue, 100u);       // the curve

  LinePlot tiny;
  tiny.width = 10;
  EXPECT_NE(error_of([&] { write_line_plot_png(dir / "tiny.png", tiny); }).find("100 to 8192"), std::string::npos);
  EXPECT_NE(error_of([&] { write_pr_curve(dir / "no/such/folder/pr.png", Evaluation{}); }).find("cannot create"),
            std::string::npos);
}

}  // namespace
}  // namespace cupick
