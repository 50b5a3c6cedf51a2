// Whole networks: inference and one training step (forward, YOLO loss, backward, Adam) for crYOLO,
// YOLO and PhosaurusNet on 1024x1024 micrographs. GPU 0, when there is one: batch 1, 4 and 8. CPU:
// inference at batch 1, the training step at batch 1 and 4 (a PhosaurusNet step at batch 4 takes
// about 1.5 minutes on two cores). Counters: images/s; TFLOP/s (GPU) or GFLOP/s (CPU), counting the
// network's forward convolutions (nets/network.h network_size) and, for training, 3x that (forward,
// data and filter gradients); on a known GPU the share of the peaks (bench/peaks.h); MiB, the
// memory the graph planned for activations (and, in training, gradients).
// `--size=N` (a multiple of 32) replaces 1024, e.g. for a quick check that the harness runs.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <string>

#include "app/network.h"
#include "bench/peaks.h"
#include "nets/network.h"
#include "train/optimizer.h"
#include "train/yolo_loss.h"

namespace cupick {
namespace {


// A network on ctx's device with its initial weights, and a micrograph-sized input.
struct Setup {
  Graph graph;
  Tensor input;
  NetworkSize size;
  Setup(const std::string& arch, Context& ctx, Shape shape) : graph(new_network(arch, ctx, shape, 1)) {
    Tensor host({shape.n, shape.c, shape.h, shape.w});
    for (size_t i = 0; i < host.count(); ++i) host.data<float>()[i] = float(i % 251) / 251 - 0.5f;
    input = host.to(ctx.device());
    size = network_size(graph, shape);
  }
};

void report(benchmark::State& state, Context& ctx, int batch, double flop, double seconds) {
  state.counters["images/s"] = batch * double(state.iterations()) / seconds;
  state.counters["ms/image"] = seconds * 1e3 / (batch * double(state.iterations()));
  bench::report_flop(state, flop, seconds, ctx.on_gpu(), bench::peaks_for(bench::gpu_name()));
}

void inference(benchmark::State& state, const std::string& arch, Context* ctx, int batch, int size) {
  Setup s(arch, *ctx, {batch, 1, size, size});
  s.graph.forward(*ctx, s.input, Mode::infer);  // plan, algorithms, workspace
  ctx->sync();
  double seconds = 0;
  for (auto _ : state)
    seconds += bench::timed_iteration(state, ctx->stream(), ctx->on_gpu(), [&] { s.graph.forward(*ctx, s.input, Mode::infer); });
  report(state, *ctx, batch, s.size.gflop * 1e9, seconds);
  state.counters["MiB"] = double(s.graph.planned_bytes()) / (1 << 20);
}

void training_step(benchmark::State& state, const std::string& arch, Context* ctx, int batch, int size) {
  Setup s(arch, *ctx, {batch, 1, size, size});
  const Shape head = s.graph.shapes(s.input.shape()).back();
  YoloLoss loss({{{2.5f, 2.5f}}, 1, 5, 1, 1, 1});
  std::vector<std::vector<TruthBox>> truth(batch);
  for (int n = 0; n < batch; ++n)
    for (int k = 0; k < 100; ++k) truth[n].push_back({float(k % head.w) + 0.5f, float(k * 7 % head.h) + 0.5f, 2.5f, 2.5f, 0});
  Tensor dhead(head, ctx->device());
  Adam adam(s.graph.params(), 1e-4f);
  auto step = [&] {
    const Tensor& out = s.graph.forward(*ctx, s.input, Mode::train);
    loss.compute(*ctx, out, truth, false, dhead);
    s.graph.backward(*ctx, dhead);
    adam.step(*ctx);
  };
  step();
  ctx->sync();
  double seconds = 0;
  for (auto _ : state) seconds += bench::timed_iteration(state, ctx->stream(), ctx->on_gpu(), step);
  report(state, *ctx, batch, 3 * s.size.gflop * 1e9, seconds);
  state.counters["MiB"] = double(s.graph.planned_bytes()) / (1 << 20);
}

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  int size = 1024;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--size=", 7) == 0) {
      size = std::atoi(argv[i] + 7);
      check_input_size({1, 1, size, size});
      for (int j = i; j < argc; ++j) argv[j] = argv[j + 1];
      --argc, --i;
    }
  bench::add_device_context(bench::gpu_context() != nullptr);
  for (Context* ctx : {&bench::cpu_context(), bench::gpu_context()}) {
    if (!ctx) continue;
    const std::string dev = device_name(ctx->device());
    const bool gpu = ctx->on_gpu();
    auto add = [&](const std::string& name, auto work) {
      auto* b = benchmark::RegisterBenchmark(name.c_str(), work);
      b->Unit(benchmark::kMillisecond);
      if (gpu) b->UseManualTime();
      else b->Iterations(1)->UseRealTime();  // seconds per iteration at 1024
    };
    for (const char* arch : {"PhosaurusNet", "YOLO", "crYOLO"}) {
      auto name = [&](const char* what, int batch) {  // "gpu/YOLO/inference/1024/batch:8"
        std::string n = dev;
        for (const std::string& part : {std::string(arch), std::string(what), std::to_string(size)}) n += "/" + part;
        return n + "/batch:" + std::to_string(batch);
      };
      for (int batch : gpu ? std::vector<int>{1, 4, 8} : std::vector<int>{1})
        add(name("inference", batch), [=](benchmark::State& s) { inference(s, arch, ctx, batch, size); });
      for (int batch : gpu ? std::vector<int>{1, 4, 8} : std::vector<int>{1, 4})
        add(name("train_step", batch), [=](benchmark::State& s) { training_step(s, arch, ctx, batch, size); });
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
