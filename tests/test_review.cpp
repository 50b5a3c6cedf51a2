// The review page (pick/review.h): what cupick writes for it, and the page itself in a real browser.
// The browser test opens the page in headless Chromium with a driver script appended that moves the
// sliders (input events, as a hand on the slider sends), counts the boxes drawn and reads the page's
// totals and its STAR .tar; the counts must be what the picks and `evaluate` say. Screenshots go to
// test_output/ in the folder the test runs in (build/ under ctest). Without Chromium it skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/annotations.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "pick/evaluate.h"
#include "pick/review.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

namespace cupick {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// picks.js is "window.CUPICK_REVIEW = {...};" after a comment line.
nlohmann::json review_data(const std::string& folder) {
  const std::string js = slurp(folder + "/picks.js");
  const size_t open = js.find('{'), close = js.rfind('}');
  EXPECT_NE(open, std::string::npos);
  return nlohmann::json::parse(js.substr(open, close - open + 1));
}

// A set of micrographs with picks of known confidences and sizes, and ground truth: micrograph i
// (of `count`) is 300x200 pixels with 6 picks; picks 0-3 sit on true boxes, 4-5 on none, and one
// true box has no pick at all.
struct Case {
  std::vector<std::string> files;
  std::map<std::string, std::vector<Box>> picks, truth;
};

Case make_case(const test::TempDir& dir, int count) {
  Case c;
  fs::create_directories(dir.path / "mics");
  for (int i = 0; i < count; ++i) {
    const std::string name = "mic" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    Image m(300, 200);
    for (size_t p = 0; p < m.pixels.size(); ++p) m.pixels[p] = float((p * 7919 + size_t(i)) % 101);
    const std::string file = (dir.path / "mics" / (name + ".mrc")).string();
    write_mrc(file, m);
    c.files.push_back(file);
    std::vector<Box>& picks = c.picks[name];
    std::vector<Box>& truth = c.truth[name];
    for (int k = 0; k < 5; ++k) truth.push_back(Box{40.f + 50 * k, 60, 40, 40});
    for (int k = 0; k < 6; ++k) {
      Box b{k < 4 ? 40.f + 50 * k : 60.f + 50 * k, k < 4 ? 61.f : 150.f, 40, 40};
      b.confidence = 0.05f + 0.15f * float(k) + 0.01f * float(i % 3);  // 0.05 .. 0.81
      b.est_w = b.est_h = 20.f + 4 * float(k);                          // sizes 20 .. 40
      picks.push_back(b);
    }
  }
  return c;
}

TEST(Review, WritesThumbnailsAndTheData) {
  test::TempDir dir;
  const Case more = make_case(dir, 4);
  Case c = more;  // the first three
  c.files.pop_back();
  c.picks.erase("mic03");
  c.truth.erase("mic03");
  ReviewOptions opt;
  opt.thumbnail_side = 150;
  opt.progress = false;
  opt.threshold = 0.25f;
  const std::string out = dir / "review";
  const ReviewSummary s = write_review(out, c.files, c.picks, c.truth, opt);
  EXPECT_EQ(s.micrographs, 3u);
  EXPECT_EQ(s.picks, 18u);
  EXPECT_EQ(s.thumbnails_made, 3u);
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_EQ(slurp(out + "/index.html"), review_page_html());

  const Image thumb = read_micrograph(out + "/thumbs/mic01.jpg");
  EXPECT_EQ(thumb.width, 150);
  EXPECT_EQ(thumb.height, 100);
  const nlohmann::json data = review_data(out);
  EXPECT_FLOAT_EQ(data["threshold"].get<float>(), 0.25f);
  EXPECT_TRUE(data["has_truth"].get<bool>());
  ASSERT_EQ(data["micrographs"].size(), 3u);
  const nlohmann::json& m = data["micrographs"][1];
  EXPECT_EQ(m["name"], "mic01");
  EXPECT_EQ(m["width"], 300);
  EXPECT_EQ(m["height"], 200);
  ASSERT_EQ(m["picks"].size(), 6u * 8);
  ASSERT_EQ(m["truth"].size(), 5u * 4);
  for (int k = 0; k < 6; ++k) {
    const Box& b = c.picks.at("mic01")[size_t(k)];
    EXPECT_FLOAT_EQ(m["picks"][8 * k + 4].get<float>(), b.confidence);
    EXPECT_FLOAT_EQ(m["picks"][8 * k + 5].get<float>(), b.est_w);
    // Picks 0-3 match true boxes 0-3 (IoU 0.95); picks 4 and 5 none.
    EXPECT_EQ(m["picks"][8 * k + 7].get<int>(), k < 4 ? k : -1) << "pick " << k;
  }

  // A second run over one more micrograph makes only its thumbnail.
  EXPECT_EQ(write_review(out, more.files, more.picks, more.truth, opt).thumbnails_made, 1u);
  // Another side, or a micrograph written anew, makes those again.
  opt.thumbnail_side = 100;
  EXPECT_EQ(write_review(out, more.files, more.picks, more.truth, opt).thumbnails_made, 4u);
  EXPECT_EQ(read_micrograph(out + "/thumbs/mic01.jpg").width, 100);
  fs::last_write_time(more.files[2], fs::last_write_time(more.files[2]) + std::chrono::seconds(5));
  EXPECT_EQ(write_review(out, more.files, more.picks, more.truth, opt).thumbnails_made, 1u);
}

TEST(Review, LeavesOutWhatItCannotShowAndSaysSo) {
  test::TempDir dir;
  Case c = make_case(dir, 2);
  c.files.push_back(dir.file("mics/broken.mrc", "not an MRC file"));
  c.picks["elsewhere"] = {Box{10, 10, 5, 5}};
  ReviewOptions opt;
  opt.progress = false;
  const ReviewSummary s = write_review(dir / "review", c.files, c.picks, {}, opt);
  EXPECT_EQ(s.micrographs, 2u);
  ASSERT_EQ(s.warnings.size(), 2u);
  EXPECT_NE(s.warnings[0].find("broken.mrc"), std::string::npos) << s.warnings[0];
  EXPECT_NE(s.warnings[1].find("elsewhere"), std::string::npos) << s.warnings[1];
  EXPECT_FALSE(review_data(dir / "review")["has_truth"].get<bool>());
  EXPECT_THROW(write_review(dir / "none", {c.files.back()}, c.picks, {}, opt), Error);
}

// ---- the page in Chromium -------------------------------------------------------------------------

std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"})
    if (std::system(("command -v " + std::string(name) + " >/dev/null 2>&1").c_str()) == 0) return name;
  return "";
}

// Headless Chromium's flags for a test: no sandbox (CI runs as root), no GPU, files may read files,
// a profile of its own in the test's folder (never the user's).
std::string browser_command(const std::string& browser, const test::TempDir& dir) {
  return "timeout 120 " + browser + " --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=" +
         (dir / "profile") +
         " --allow-file-access-from-files --no-first-run --disable-dev-shm-usage"
         " --window-size=1400,1000 ";
}

// The driver: moves the threshold slider through `thresholds`, then the size range, pages, and
// writes what it saw as JSON into <pre id="cupick_test">, which --dump-dom prints.
const char* driver_script = R"js(
<script>
(() => {
  const out = { steps: [] };
  const $ = (id) => document.getElementById(id);
  const move = (id, v) => { $(id).value = v; $(id).dispatchEvent(new Event("input", { bubbles: true })); };
  const look = () => ({
    drawn: document.querySelectorAll("#grid rect.pick").length,
    tp: document.querySelectorAll("#grid rect.pick.tp").length,
    fp: document.querySelectorAll("#grid rect.pick.fp").length,
    missed: document.querySelectorAll("#grid rect.truth.miss").length,
    figures: document.querySelectorAll("#grid figure").length,
    totals: window.cupickReview.totals(),
    text: $("totals").textContent,
    plots: document.querySelectorAll("#plots svg").length,
  });
  try {
    for (const t of CUPICK_THRESHOLDS) { move("threshold", t); out.steps.push(Object.assign({ t }, look())); }
    move("threshold", 0);
    move("size_min", 30);
    out.sized = look();
    move("size_min", 0);
    move("size_max", 1000);
    $("next").click();
    out.page2 = look();
    move("threshold", 0.5);
    const tar = window.cupickReview.tarBytes(window.cupickReview.pickFiles("star"));
    let s = "";
    for (const b of tar) s += String.fromCharCode(b);
    out.tar = btoa(s);
  } catch (e) {
    out.error = String(e.stack || e);
  }
  const pre = document.createElement("pre");
  pre.id = "cupick_test";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
)js";

std::string decode_base64(const std::string& text) {
  std::string out;
  int bits = 0;
  unsigned value = 0;  // only the last few bits matter; the mask keeps it from overflowing
  for (char ch : text) {
    const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* at = std::strchr(table, ch);
    if (!at || ch == 0) continue;
    value = ((value << 6) | unsigned(at - table)) & 0xffffu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((value >> bits) & 0xff));
    }
  }
  return out;
}

// What the page should show at a threshold over the micrographs of page `page` (24 a page).
struct Expected {
  size_t drawn = 0, tp = 0, fp = 0, missed = 0;
};
Expected expected_on_page(const Case& c, float t, float min_size, size_t page) {
  Expected e;
  size_t index = 0;
  for (const auto& [name, picks] : c.picks) {
    if (index++ / 24 != page) continue;
    size_t found = 0;
    for (size_t k = 0; k < picks.size(); ++k) {
      const Box& b = picks[k];
      if (b.confidence < t || (b.est_w + b.est_h) / 2 < min_size) continue;
      ++e.drawn;
      if (k < 4) ++e.tp, ++found;
      else ++e.fp;
    }
    e.missed += c.truth.at(name).size() - found;
  }
  return e;
}

TEST(ReviewInChromium, TheSliderRedrawsTheBoxesAsTheThresholdSays) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no Chromium here (scripts/test.sh installs Debian's chromium)";
  test::TempDir dir;
  const Case c = make_case(dir, 30);  // 30 micrographs: two pages of 24
  ReviewOptions opt;
  opt.thumbnail_side = 160;
  opt.progress = false;
  opt.title = "cupick review test";
  const std::string out = dir / "review";
  write_review(out, c.files, c.picks, c.truth, opt);

  const std::vector<float> thresholds = {0.05f, 0.2f, 0.36f, 0.5f, 0.66f, 0.9f};
  std::string list = "[";
  for (float t : thresholds) list += (list.size() > 1 ? "," : "") + std::to_string(t);
  list += "]";
  std::string page = slurp(out + "/index.html");
  std::string driver = driver_script;
  driver.replace(driver.find("CUPICK_THRESHOLDS"), 17, list);
  const size_t body = page.rfind("</body>");
  ASSERT_NE(body, std::string::npos);
  page.insert(body, driver);
  std::ofstream(out + "/driver.html") << page;

  const std::string dom = dir / "dom.html", log = dir / "chromium.log";
  const std::string run = browser_command(browser, dir) + "--virtual-time-budget=10000 --dump-dom file://" + out +
                          "/driver.html >" + dom + " 2>" + log;
  ASSERT_EQ(std::system(run.c_str()), 0) << run << "\n" << slurp(log);
  const std::string html = slurp(dom);
  const size_t start = html.find("<pre id=\"cupick_test\">"), end = html.find("</pre>", start);
  ASSERT_NE(start, std::string::npos) << "the driver wrote nothing; Chromium said:\n" << slurp(log);
  std::string text = html.substr(start + 22, end - start - 22);
  for (auto [from, to] : {std::pair<std::string, std::string>{"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}})
    for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
  const nlohmann::json seen = nlohmann::json::parse(text);
  ASSERT_FALSE(seen.contains("error")) << seen["error"];

  // Each threshold: the boxes drawn on page 1, their colours, the totals and evaluate's counts.
  const Evaluation e = evaluate(c.picks, c.truth, 0.5);
  ASSERT_EQ(seen["steps"].size(), thresholds.size());
  size_t previous = SIZE_MAX;
  for (size_t i = 0; i < thresholds.size(); ++i) {
    const nlohmann::json& s = seen["steps"][i];
    const Expected want = expected_on_page(c, thresholds[i], 0, 0);
    EXPECT_EQ(s["drawn"].get<size_t>(), want.drawn) << "threshold " << thresholds[i];
    EXPECT_EQ(s["tp"].get<size_t>(), want.tp) << "threshold " << thresholds[i];
    EXPECT_EQ(s["fp"].get<size_t>(), want.fp) << "threshold " << thresholds[i];
    EXPECT_EQ(s["missed"].get<size_t>(), want.missed) << "threshold " << thresholds[i];
    EXPECT_EQ(s["figures"].get<int>(), 24);
    EXPECT_EQ(s["plots"].get<int>(), 3) << "confidence, size and precision-recall plots";
    EXPECT_LT(s["drawn"].get<size_t>(), previous) << "a higher threshold must draw fewer boxes";
    previous = s["drawn"].get<size_t>();
    const CurvePoint& at = e.curve[size_t(std::lround(thresholds[i] * 1000))];
    EXPECT_EQ(s["totals"]["tp"].get<size_t>(), at.tp) << "threshold " << thresholds[i];
    EXPECT_EQ(s["totals"]["fp"].get<size_t>(), at.fp) << "threshold " << thresholds[i];
    EXPECT_EQ(s["totals"]["missed"].get<size_t>(), at.fn) << "threshold " << thresholds[i];
    EXPECT_NE(s["text"].get<std::string>().find(std::to_string(at.tp) + " right"), std::string::npos) << s["text"];
  }
  const Expected sized = expected_on_page(c, 0, 30, 0), paged = expected_on_page(c, 0, 0, 1);
  EXPECT_EQ(seen["sized"]["drawn"].get<size_t>(), sized.drawn) << "size range from 30 px";
  EXPECT_EQ(seen["page2"]["figures"].get<int>(), 6);
  EXPECT_EQ(seen["page2"]["drawn"].get<size_t>(), paged.drawn);

  // The STAR .tar at threshold 0.5: tar lists it, and cupick's STAR reader reads each file back.
  const std::string tar_path = dir / "picks.tar";
  std::ofstream(tar_path, std::ios::binary) << decode_base64(seen["tar"].get<std::string>());
  const std::string unpacked = dir / "unpacked";
  fs::create_directories(unpacked);
  ASSERT_EQ(std::system(("tar -xf " + tar_path + " -C " + unpacked).c_str()), 0);
  size_t files = 0;
  for (const auto& [name, picks] : c.picks) {
    const std::vector<Box> read = read_star(unpacked + "/STAR/" + name + ".star", 40);
    size_t want = 0;
    for (const Box& b : picks) want += b.confidence >= 0.5f;
    ASSERT_EQ(read.size(), want) << name;
    for (const Box& b : read) {
      EXPECT_GE(b.confidence, 0.5f);
      EXPECT_TRUE(std::any_of(picks.begin(), picks.end(), [&](const Box& p) {
        return std::fabs(p.x - b.x) < 0.01f && std::fabs(p.y - b.y) < 0.01f;
      })) << name << ": a saved pick at " << b.x << ", " << b.y << " is not among the picks";
    }
    ++files;
  }
  EXPECT_EQ(files, 30u);

  // Screenshots of the page as a person opens it, at two thresholds, kept with the test output.
  fs::create_directories("test_output");
  for (const char* t : {"0.3", "0.7"}) {
    const std::string shot = fs::absolute("test_output/review_t" + std::string(t) + ".png").string();
    fs::remove(shot);
    const std::string cmd = browser_command(browser, dir) + "--virtual-time-budget=5000 --screenshot=" + shot +
                            " 'file://" + out + "/index.html#t=" + t + "' >>" + log + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << slurp(log);
    const Image png = read_micrograph(shot);
    EXPECT_EQ(png.width, 1400);
    std::printf("screenshot: %s\n", shot.c_str());
  }
}

}  // namespace
}  // namespace cupick
