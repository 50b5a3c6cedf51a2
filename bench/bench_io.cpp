// Preprocessing throughput: a 4096 x 4096 float32 MRC micrograph read, resized to the 1024 x 1024
// network input, low-pass filtered there and normalised (STANDARD), as prepare_micrograph does with
// the filter cache off (predict --otf). The filter uses crYOLO's default cutoff, 0.1 of the network
// input (a 1120 x 1120 transform). The micrograph is simulated (image/simulate.h) and written to a
// temporary folder once; reads come from the page cache, so a real file system can only be slower.
// Rates are micrographs per wall-clock second (items_per_second).
//   stage/<step>/threads:1     one step alone, one micrograph at a time: where the time goes.
//                              lowpass_micrograph_fftw is the filter as it ran before it moved to
//                              the network input (the whole micrograph at 0.025, a 4480^2
//                              transform); read_cached_input reads a filtered input back from the
//                              cache, what the cache saves
//   pipeline/cpu/threads:N     all four steps, N micrographs at once on N threads (as load_examples
//                              prepares a training set); FFTW runs each transform on one thread
//   pipeline/gpu/threads:N     the same with the filter on GPU 0 (cuFFT, one GpuLowpass shared, as
//                              picking's prefetcher uses it); read, resize and normalise stay on the CPU
// `--side=N` replaces 4096 (a quick check that the harness runs).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bench/peaks.h"
#include "engine/context.h"
#include "image/preprocess.h"
#include "image/simulate.h"
#include "io/micrograph.h"
#include "io/mrc.h"

namespace cupick {
namespace {

constexpr int network_side = 1024;  // crYOLO's default input_size
constexpr double config_cutoff = 0.1;  // crYOLO's default filter: [0.1, "filtered_tmp/"]


// The simulated micrograph's file, written once and removed at exit.
struct MicrographFile {
  std::filesystem::path dir;
  std::string path;
  explicit MicrographFile(int side) {
    dir = std::filesystem::temp_directory_path() / ("cupick_bench_io_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    SimulationOptions options;
    options.width = options.height = side;
    options.box_size = std::max(32, side / 16);
    path = (dir / "micrograph.mrc").string();
    write_mrc(path, simulate_micrograph(options, 0).image);
  }
  ~MicrographFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};
std::unique_ptr<MicrographFile> g_file;

// The network input size for a micrograph, as prepare_micrograph has it.
NetworkInput target_for(const Image& image) { return network_input_size(image.width, image.height, network_side); }

// prepare_micrograph's steps without the filter cache; `gpu` filters when given.
Image prepare(const std::string& path, GpuLowpass* gpu) {
  const Image micrograph = read_micrograph(path);
  const NetworkInput t = target_for(micrograph);
  Image image = resize_antialiased(micrograph, t.width, t.height);
  image = gpu ? gpu->filter(image, config_cutoff) : lowpass(image, config_cutoff);
  normalize_standard(image);
  return image;
}

void set_rate(benchmark::State& state, int micrographs_per_iteration) {
  state.SetItemsProcessed(int64_t(state.iterations()) * micrographs_per_iteration);
}

void stage_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(read_micrograph(g_file->path));
  set_rate(state, 1);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(std::filesystem::file_size(g_file->path)));
}

// The filter on the network input (on_gpu: cuFFT), or on the whole micrograph at cutoff x scale,
// as before it moved (full_size).
void stage_lowpass(benchmark::State& state, bool on_gpu, bool full_size) {
  const Image micrograph = read_micrograph(g_file->path);
  const NetworkInput t = target_for(micrograph);
  const double scale = std::max(double(t.width) / micrograph.width, double(t.height) / micrograph.height);
  const Image image = full_size ? micrograph : resize_antialiased(micrograph, t.width, t.height);
  const double cutoff = full_size ? std::min(0.5, config_cutoff * scale) : config_cutoff;
  std::unique_ptr<GpuLowpass> gpu;
  if (on_gpu) {
    gpu = std::make_unique<GpuLowpass>(*bench::gpu_context());
    gpu->filter(image, cutoff);  // plans and buffers, outside the timing
  }
  for (auto _ : state) benchmark::DoNotOptimize(gpu ? gpu->filter(image, cutoff) : lowpass(image, cutoff));
  set_rate(state, 1);
  const LowpassLayout layout = lowpass_layout(image.width, image.height, cutoff);
  state.counters["transform_side"] = layout.padded_width;
}

void stage_resize(benchmark::State& state) {
  const Image image = read_micrograph(g_file->path);
  const NetworkInput t = target_for(image);
  for (auto _ : state) benchmark::DoNotOptimize(resize_antialiased(image, t.width, t.height));
  set_rate(state, 1);
}

// A filtered network input read back from the cache (an MRC file of the input's size).
void stage_read_cached(benchmark::State& state) {
  const Image micrograph = read_micrograph(g_file->path);
  const NetworkInput t = target_for(micrograph);
  const std::string cached = (g_file->dir / "cached_input.mrc").string();
  write_mrc(cached, lowpass(resize_antialiased(micrograph, t.width, t.height), config_cutoff));
  for (auto _ : state) benchmark::DoNotOptimize(read_mrc(cached));
  set_rate(state, 1);
}

void stage_normalise(benchmark::State& state) {
  const Image micrograph = read_micrograph(g_file->path);
  const NetworkInput t = target_for(micrograph);
  const Image resized = resize_antialiased(micrograph, t.width, t.height);
  Image image = resized;
  for (auto _ : state) {
    state.PauseTiming();
    image.pixels = resized.pixels;
    state.ResumeTiming();
    normalize_standard(image);
    benchmark::DoNotOptimize(image.pixels.data());
  }
  set_rate(state, 1);
}

// `threads` micrographs per iteration, each on a thread of its own.
void pipeline(benchmark::State& state, int threads, bool on_gpu) {
  std::unique_ptr<GpuLowpass> gpu;
  if (on_gpu) {
    gpu = std::make_unique<GpuLowpass>(*bench::gpu_context());
    prepare(g_file->path, gpu.get());  // plans and buffers, outside the timing
  }
  for (auto _ : state) {
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
      pool.emplace_back([&] { benchmark::DoNotOptimize(prepare(g_file->path, gpu.get())); });
    for (std::thread& t : pool) t.join();
  }
  set_rate(state, threads);
}

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  int side = 4096;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--side=", 7) == 0) {
      side = std::atoi(argv[i] + 7);
      if (side < 64 || side > max_micrograph_side) {
        std::fprintf(stderr, "--side must be 64 to %d\n", max_micrograph_side);
        return 2;
      }
      for (int j = i; j < argc; ++j) argv[j] = argv[j + 1];
      --argc, --i;
    }
  const bool have_gpu = bench::gpu_context() != nullptr;
  bench::add_device_context(have_gpu);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("micrograph", std::to_string(side) + " x " + std::to_string(side) + " float32 MRC");

  const std::string s = std::to_string(side);
  auto add = [](const std::string& name, auto work) {
    benchmark::RegisterBenchmark(name.c_str(), work)->Unit(benchmark::kMillisecond)->UseRealTime();
  };
  add("stage/read_mrc/" + s + "/threads:1", [](benchmark::State& st) { stage_read(st); });
  const std::string input = std::to_string(network_side);
  add("stage/resize_to_" + input + "/" + s + "/threads:1", [](benchmark::State& st) { stage_resize(st); });
  add("stage/lowpass_cpu_fftw/" + input + "/threads:1", [](benchmark::State& st) { stage_lowpass(st, false, false); });
  if (have_gpu)
    add("stage/lowpass_gpu_cufft/" + input + "/threads:1", [](benchmark::State& st) { stage_lowpass(st, true, false); });
  add("stage/lowpass_micrograph_fftw/" + s + "/threads:1", [](benchmark::State& st) { stage_lowpass(st, false, true); });
  add("stage/read_cached_input/" + input + "/threads:1", [](benchmark::State& st) { stage_read_cached(st); });
  add("stage/normalise/" + std::to_string(network_side) + "/threads:1", [](benchmark::State& st) { stage_normalise(st); });
  std::vector<int> thread_counts = {1};
  if (cores > 1) thread_counts.push_back(cores);
  for (int threads : thread_counts) {
    add("pipeline/cpu/" + s + "/threads:" + std::to_string(threads),
        [threads](benchmark::State& st) { pipeline(st, threads, false); });
    if (have_gpu)
      add("pipeline/gpu/" + s + "/threads:" + std::to_string(threads),
          [threads](benchmark::State& st) { pipeline(st, threads, true); });
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_file = std::make_unique<MicrographFile>(side);  // after the flags: --help writes nothing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_file.reset();
  return 0;
}
