// Whole networks: inference per image (batch 1 and 8) and one training step (batch 4: forward,
// YOLO loss, backward, Adam) on 1024x1024 micrographs, for crYOLO, YOLO and PhosaurusNet, on the CPU
// and on GPU 0 when there is one. Counters: images/s, GFLOP/s (forward: the network's own count;
// training: 3x forward), and the memory the graph planned for activations and gradients.
// The CPU figures at 1024 take about a minute per iteration: filter with e.g. --benchmark_filter=gpu.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "nets/network.h"
#include "train/optimizer.h"
#include "train/yolo_loss.h"

namespace cupick {
namespace {

Context& cpu_context() {
  static Context cpu;
  return cpu;
}
Context* gpu_context() {
  static std::unique_ptr<Context> gpu = Context::try_gpu();
  return gpu.get();
}

// A network on ctx's device with its initial weights, and a micrograph-sized input.
struct Setup {
  Graph graph;
  Tensor input;
  NetworkSize size;
  Setup(const std::string& arch, Context& ctx, Shape shape) : graph(build_network(arch, 1, 1, 1)) {
    graph.to(ctx.device());
    initialize(graph, shape, 1);
    Tensor host({shape.n, shape.c, shape.h, shape.w});
    for (size_t i = 0; i < host.count(); ++i) host.data<float>()[i] = float(i % 251) / 251 - 0.5f;
    input = host.to(ctx.device());
    size = network_size(graph, shape);
  }
};

void time_region(benchmark::State& state, Context& ctx, const std::function<void()>& work) {
  if (!ctx.on_gpu()) {
    work();
    return;
  }
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
  work();
  CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
  CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  state.SetIterationTime(ms * 1e-3);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void inference(benchmark::State& state, const std::string& arch, Context* ctx, int batch, int size) {
  Setup s(arch, *ctx, {batch, 1, size, size});
  s.graph.forward(*ctx, s.input, Mode::infer);  // plan, algorithms, workspace
  ctx->sync();
  for (auto _ : state) time_region(state, *ctx, [&] { s.graph.forward(*ctx, s.input, Mode::infer); });
  state.counters["images/s"] = benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(s.size.gflop, benchmark::Counter::kIsIterationInvariantRate);
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
  for (auto _ : state) time_region(state, *ctx, step);
  state.counters["images/s"] = benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(3 * s.size.gflop, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MiB"] = double(s.graph.planned_bytes()) / (1 << 20);
}

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  for (Context* ctx : {&cpu_context(), gpu_context()}) {
    if (!ctx) continue;
    const std::string dev = device_name(ctx->device());
    for (const char* arch : {"PhosaurusNet", "YOLO", "crYOLO"}) {
      for (int batch : {1, 8}) {
        auto* b = benchmark::RegisterBenchmark((dev + "/" + arch + "/inference/1024/batch:" + std::to_string(batch)).c_str(),
                                              [=](benchmark::State& s) { inference(s, arch, ctx, batch, 1024); });
        b->Unit(benchmark::kMillisecond);
        if (ctx->on_gpu()) b->UseManualTime();
        else b->Iterations(1)->UseRealTime();
      }
      auto* t = benchmark::RegisterBenchmark((dev + "/" + arch + "/train_step/1024/batch:4").c_str(),
                                            [=](benchmark::State& s) { training_step(s, arch, ctx, 4, 1024); });
      t->Unit(benchmark::kMillisecond);
      if (ctx->on_gpu()) t->UseManualTime();
      else t->Iterations(1)->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
