// RELION 3.1 (Debian's relion, which scripts/test.sh installs) as the real client of cupick's
// STAR picks: relion_preprocess --extract over them takes the particles exactly where the STAR
// files say, and those are where the simulated particles are. Skips where relion_preprocess is not
// installed. RELION 4 and 5's index (autopick.star) is checked as text: no RELION 4 to run here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "image/simulate.h"
#include "io/config.h"
#include "io/mrc.h"
#include "tests/run_cupick.h"

namespace cupick {
namespace {

namespace fs = std::filesystem;

constexpr int kSide = 512, kBox = 64;

// An MRC file's sections as stored (mode 2, float32): row r of a section is the file's y = r.
struct Stack {
  int nx = 0, ny = 0, nz = 0;
  std::vector<float> values;
  float at(int z, int x, int y) const { return values[(size_t(z) * ny + y) * nx + x]; }
};

Stack read_stack(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[1024];
  in.read(header, sizeof header);
  Stack s;
  int32_t mode = 0, nsymbt = 0;
  std::memcpy(&s.nx, header, 4);
  std::memcpy(&s.ny, header + 4, 4);
  std::memcpy(&s.nz, header + 8, 4);
  std::memcpy(&mode, header + 12, 4);
  std::memcpy(&nsymbt, header + 92, 4);
  EXPECT_EQ(mode, 2) << path;
  in.seekg(1024 + nsymbt);
  s.values.resize(size_t(s.nx) * s.ny * s.nz);
  in.read(reinterpret_cast<char*>(s.values.data()), std::streamsize(s.values.size() * 4));
  EXPECT_TRUE(in) << path;
  return s;
}

// The (x, y) columns of a STAR file cupick wrote: _rlnCoordinateX, _rlnCoordinateY first.
std::vector<std::pair<float, float>> star_coordinates(const std::string& path) {
  std::vector<std::pair<float, float>> out;
  for (const std::string& line : test::split_lines(test::read_text(path))) {
    std::istringstream words(line);
    float x, y;
    std::string name;
    if (words >> x >> y >> name) out.emplace_back(x, y);
  }
  return out;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / a.size(), mb += b[i] / b.size();
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  return ab / std::sqrt(aa * bb);
}

// A kBox square of `s` (section z) around pixel (cx, cy), as RELION cuts it: from cx - kBox/2, the
// edge pixel repeated outside. RELION takes the pixel a coordinate falls in, floor(x) with pixel
// edges at whole numbers, cupick's convention too (measured: rounding instead misses by one pixel
// half the time).
std::vector<double> crop(const Stack& s, int z, int cx, int cy) {
  std::vector<double> v;
  for (int y = cy - kBox / 2; y < cy + kBox / 2; ++y)
    for (int x = cx - kBox / 2; x < cx + kBox / 2; ++x) v.push_back(s.at(z, std::clamp(x, 0, s.nx - 1), std::clamp(y, 0, s.ny - 1)));
  return v;
}

TEST(Relion, ExtractsTheParticlesCupickPickedWhereTheyAre) {
  if (std::system("command -v relion_preprocess > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "relion_preprocess (Debian: relion) is not installed";
  test::TempDir dir;
  // Two simulated micrographs in Movies/, picked by the CPU demo network's pretrained start.
  SimulationOptions sim;
  sim.width = sim.height = kSide;
  sim.box_size = kBox;
  sim.snr = 0.5;
  std::vector<SimulatedMicrograph> truth;
  fs::create_directories(dir / "Movies");
  for (int i = 0; i < 2; ++i) {
    truth.push_back(simulate_micrograph(sim, i));
    write_mrc(dir / ("Movies/m" + std::to_string(i) + ".mrc"), truth.back().image);
  }
  save_config(dir / "config.json", make_config(kBox, {{"architecture", "cupick-cpu-demo"}, {"input_size", "512"}}));
  const test::Result picked = test::cupick(dir, "predict -c config.json -i Movies -o picks --cpu");
  ASSERT_EQ(picked.status, 0) << picked.err;

  // RELION 4 and 5's index (relion_preprocess --coord_list, not in 3.1): each micrograph's name as
  // the project names it, beside its STAR file, both relative to the folder predict ran in.
  EXPECT_EQ(test::read_text(dir / "picks/autopick.star"),
            "\n# version 30001\n\ndata_coordinate_files\n\nloop_\n_rlnMicrographName #1\n_rlnMicrographCoordinates #2\n"
            "Movies/m0.mrc\tpicks/STAR/m0.star\nMovies/m1.mrc\tpicks/STAR/m1.star\n");
  const test::Result absolute = test::cupick(dir, "predict -c config.json -i " + (dir / "Movies") + " -o " + (dir / "again") + " --cpu");
  ASSERT_EQ(absolute.status, 0) << absolute.err;
  EXPECT_NE(test::read_text(dir / "again/autopick.star").find("Movies/m1.mrc\tagain/STAR/m1.star\n"), std::string::npos);

  // RELION 3.1 looks for <coord_dir><the micrograph's path after its job folder, without
  // extension><coord_suffix>: coords/Movies/m0.star, which the README's recipe links to STAR/.
  dir.file("micrographs.star",
           "# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroupName #1\n_rlnOpticsGroup #2\n"
           "_rlnMicrographPixelSize #3\n_rlnVoltage #4\n_rlnSphericalAberration #5\n_rlnAmplitudeContrast #6\n"
           "opticsGroup1 1 1.0 300.0 2.7 0.1\n\n# version 30001\n\ndata_micrographs\n\nloop_\n"
           "_rlnMicrographName #1\n_rlnOpticsGroup #2\nMovies/m0.mrc 1\nMovies/m1.mrc 1\n");
  fs::create_directories(dir / "coords");
  fs::create_directory_symlink(fs::absolute(dir / "picks/STAR"), dir / "coords/Movies");
  const std::string command = "cd '" + (dir / "") + "' && relion_preprocess --i micrographs.star --coord_dir coords/ "
                              "--coord_suffix .star --part_star particles.star --part_dir Particles/ --extract "
                              "--extract_size " + std::to_string(kBox) + " > relion.log 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << test::read_text(dir / "relion.log");

  std::vector<double> average(size_t(kBox) * kBox, 0.0), expected(average), flipped(average);
  int particles = 0, true_particles = 0;
  for (int i = 0; i < 2; ++i) {
    const std::string name = std::string("m") + char('0' + i);  // (GCC 12 warns falsely on "m" + to_string)
    const auto picks = star_coordinates(dir / ("picks/STAR/" + name + ".star"));
    const Stack extracted = read_stack(dir / ("Particles/Movies/" + name + ".mrcs"));
    const Stack micrograph = read_stack(dir / ("Movies/" + name + ".mrc"));
    // Every pick extracted, in order, from the file's pixels at the STAR file's (x, y).
    ASSERT_EQ(extracted.nz, int(picks.size())) << name;
    ASSERT_GE(picks.size(), 5u) << name;
    for (int k = 0; k < extracted.nz; ++k) {
      const std::vector<double> particle = crop(extracted, k, kBox / 2, kBox / 2);
      const auto [x, y] = picks[size_t(k)];
      const double r = correlation(particle, crop(micrograph, 0, int(std::floor(x)), int(std::floor(y))));
      EXPECT_GT(r, 0.99) << name << " pick " << k << " at (" << x << ", " << y << ")";
      for (size_t p = 0; p < particle.size(); ++p) average[p] += particle[p];
      ++particles;
    }
    // What the simulator put there: its particles, cut from the file at their true centres (the
    // Image's row y is the file's kSide - y).
    for (const Box& b : truth[size_t(i)].particles) {
      const std::vector<double> v = crop(micrograph, 0, int(std::floor(b.x)), int(std::floor(kSide - b.y)));
      const std::vector<double> f = crop(micrograph, 0, int(std::floor(b.x)), int(std::floor(b.y)));  // mirrored
      for (size_t p = 0; p < v.size(); ++p) expected[p] += v[p], flipped[p] += f[p];
      ++true_particles;
    }
  }
  // Centred where the particles are: the average of what RELION extracted is the average simulated
  // particle, and not what sits at the mirrored rows (a y counted from the wrong edge). Averages of
  // two dozen noisy particles (snr 0.5) correlate about 0.75 (measured); the mirror about 0.
  const double r = correlation(average, expected), r_flipped = correlation(average, flipped);
  EXPECT_GT(r, 0.6) << particles << " extracted, " << true_particles << " simulated";
  EXPECT_LT(r_flipped, 0.3);
  std::printf("RELION extracted %d particles; their average correlates %.3f with the simulated particles' (%.3f mirrored)\n",
              particles, r, r_flipped);
}

}  // namespace
}  // namespace cupick
