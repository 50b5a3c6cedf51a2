// Picking end to end, as `cupick predict --overwrite` does it: pick_micrographs on a folder of
// simulated 4096 x 4096 float32 MRC micrographs, every step inside the timing: reading, resizing to
// the network input, low-pass filtering there (crYOLO's default, 0.1) and normalising (on the
// reader threads, the filter on the GPU when picking runs on one), inference, decoding, NMS and
// writing CBOX/, EMAN/, STAR/ and DISTR/. Rates are micrographs per wall-clock second
// (items_per_second) and ms/micrograph.
//   <device>/predict/<network>/<input>/batch:N
// CPU: crYOLO's default config (PhosaurusNet at 1024) and a lighter one (crYOLO's network at 512),
// one iteration of 4 micrographs each. GPU 0, when there is one: PhosaurusNet at 1024, batch 4 and
// 8, on 16 micrographs. Before the timing the first batch is picked once, so that the activation
// memory, FFT plans and cuDNN's algorithms are made once per process, as in a long run.
//
// The micrographs are simulated (image/simulate.h) and written to a temporary folder once; reads come
// from the page cache, so a real file system can only be slower. The weights are initialised, not
// trained: the time hardly depends on them (random weights find more boxes than trained ones, about
// 1500 a micrograph above 0.3 at 1024: the counter picks/micrograph). Before each
// iteration, outside the timing, the filter cache is emptied so that every iteration filters, as a
// first run on new micrographs (or `--otf`) does. Each iteration picks every micrograph again
// (PickOptions::overwrite).
// `--side=N` replaces 4096 and scales the network inputs with it (the smoke test: a few seconds).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "app/network.h"
#include "bench/peaks.h"
#include "engine/context.h"
#include "image/simulate.h"
#include "io/micrograph.h"
#include "nets/network.h"
#include "pick/pipeline.h"

namespace fs = std::filesystem;

namespace cupick {
namespace {

constexpr int kFullSide = 4096;  // K3-sized micrographs
int g_side = kFullSide;

// A network input for the micrographs in use: `size` at 4096, scaled with --side, a multiple of 32.
int input_for(int size) { return std::max(32, size * g_side / kFullSide / 32 * 32); }

// The simulated micrographs (count of them), written once and removed at exit, with room for the
// picks and the filter cache.
struct Folder {
  fs::path dir;
  std::vector<std::string> micrographs;
  int box_size;
  Folder(int side, int count) {
    dir = fs::temp_directory_path() / ("cupick_bench_predict_" + std::to_string(getpid()));
    fs::create_directories(dir);
    SimulationOptions options;
    options.count = count;
    options.width = options.height = side;
    options.box_size = box_size = std::max(16, side * 160 / kFullSide);  // crYOLO's usual box at 4096
    simulate_dataset(options, dir.string());
    micrographs = list_micrographs((dir / "micrographs").string());
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
std::unique_ptr<Folder> g_folder;

void predict(benchmark::State& state, const std::string& arch, Context* ctx, int input, int batch) {
  ModelConfig model;
  model.architecture = arch;
  model.input_size = {input, input, false};
  model.anchors = Anchor{g_folder->box_size, g_folder->box_size};
  model.filter = LowpassFilter{0.1, (g_folder->dir / "filtered").string()};
  Graph graph = new_network(arch, *ctx, {1, 1, input, input}, 1);
  PickOptions opt;
  opt.batch_size = batch;
  opt.overwrite = true;
  opt.progress = false;
  const std::string out = (g_folder->dir / "picks").string();
  const std::vector<std::string>& files = g_folder->micrographs;
  {  // the activation memory, FFT plans, cuDNN's algorithms: once per process, outside the timing
    const std::vector<std::string> first(files.begin(), files.begin() + std::min<size_t>(batch, files.size()));
    pick_micrographs(graph, *ctx, model, first, out, opt);
  }
  size_t boxes = 0;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(model.filter->folder);
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    const PickSummary s = pick_micrographs(graph, *ctx, model, files, out, opt);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s.picked != files.size()) state.SkipWithError("not every micrograph was picked");
    boxes = s.boxes;
  }
  const double micrographs = double(state.iterations()) * double(files.size());
  state.SetItemsProcessed(int64_t(micrographs));
  state.counters["ms/micrograph"] = seconds * 1e3 / micrographs;
  state.counters["picks/micrograph"] = double(boxes) / double(files.size());
}

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--side=", 7) == 0) {
      g_side = std::atoi(argv[i] + 7);
      if (g_side < 256 || g_side > max_micrograph_side) {
        std::fprintf(stderr, "--side must be 256 to %d\n", max_micrograph_side);
        return 2;
      }
      for (int j = i; j < argc; ++j) argv[j] = argv[j + 1];
      --argc, --i;
    }
  const bool have_gpu = bench::gpu_context() != nullptr;
  bench::add_device_context(have_gpu);
  const int count = have_gpu ? 16 : 4;
  benchmark::AddCustomContext("micrographs", std::to_string(count) + " x " + std::to_string(g_side) + " x " +
                                                 std::to_string(g_side) + " float32 MRC, simulated");

  struct Case {
    Context* ctx;
    const char* arch;
    int input;  // at 4096
    int batch;
  };
  std::vector<Case> cases = {{&bench::cpu_context(), "PhosaurusNet", 1024, 4}, {&bench::cpu_context(), "crYOLO", 512, 4}};
  if (have_gpu)
    for (int batch : {4, 8}) cases.push_back({bench::gpu_context(), "PhosaurusNet", 1024, batch});
  for (const Case& c : cases) {
    const int input = input_for(c.input);
    const std::string name = std::string(device_name(c.ctx->device())) + "/predict/" + c.arch + "/" + std::to_string(input) +
                             "/batch:" + std::to_string(c.batch);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { predict(s, c.arch, c.ctx, input, c.batch); });
    b->Unit(benchmark::kMillisecond)->UseRealTime();
    if (!c.ctx->on_gpu()) b->Iterations(1);  // tens of seconds per iteration at 1024
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_folder = std::make_unique<Folder>(g_side, count);  // after the flags: --help writes nothing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_folder.reset();
  return 0;
}
