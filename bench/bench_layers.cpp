// Every layer, forward and backward, at the shapes PhosaurusNet has on a 1024x1024 micrograph, batch
// 1 and 8; on the CPU always and on GPU 0 when there is one. Convolutions report GFLOP/s (2 x
// multiply-adds; backward counts data + filter gradients, 2x forward), the other layers GB/s of
// tensors read and written. Run `cupick_bench --benchmark_filter=gpu` for the GPU alone.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/layers/batchnorm.h"
#include "engine/layers/concat.h"
#include "engine/layers/conv.h"
#include "engine/layers/leaky_relu.h"
#include "engine/layers/maxpool.h"
#include "engine/layers/reorg.h"
#include "engine/layers/upsample.h"

namespace cupick {
namespace {

struct Case {
  std::string name;  // PhosaurusNet's layer
  std::function<std::unique_ptr<Layer>()> make;
  std::vector<Shape> in;  // batch 1; scaled to the batch below
  double flop = 0;        // forward, batch 1; 0 for memory-bound layers
};

std::vector<Case> phosaurus_cases() {
  std::vector<Case> cases;
  auto conv = [&](std::string name, int cin, int cout, int k, int size, bool bias = false) {
    cases.push_back({name, [=] { return std::make_unique<Conv2D>(name, cin, cout, k, bias); },
                     {{1, cin, size, size}}, 2.0 * size * size * cout * cin * k * k});
  };
  auto each = [&](std::string name, int c, int size, auto make) {
    cases.push_back({name, make, {{1, c, size, size}}, 0});
  };
  // Backbone (layers 1-13), then 14-20 at stride 32, passthrough and head at stride 16. Layers with
  // the same shape as one listed are left out: 5 = 3, 8 = 6, 11 and 13 = 9, 12 = 10, 16 and 18 = 14,
  // 17 = 15, 20 = 19.
  conv("conv_1_depth1", 1, 32, 3, 1024);
  conv("conv_2", 32, 64, 3, 512);
  conv("conv_3", 64, 128, 3, 256);
  conv("conv_4", 128, 64, 1, 256);
  conv("conv_6", 128, 256, 3, 128);
  conv("conv_7", 256, 128, 1, 128);
  conv("conv_9", 256, 512, 3, 64);
  conv("conv_10", 512, 256, 1, 64);
  conv("conv_14", 512, 1024, 3, 32);
  conv("conv_15", 1024, 512, 1, 32);
  conv("conv_19", 1024, 1024, 3, 32);
  conv("conv_21_", 512, 256, 1, 64);
  conv("conv_22", 1280, 1024, 3, 64);
  conv("conv_23", 1024, 6, 1, 64, true);
  for (auto [c, size] : {std::pair{32, 1024}, {128, 256}, {512, 64}, {1024, 32}}) {
    const std::string at = std::to_string(c) + "x" + std::to_string(size);
    each("norm@" + at, c, size, [c] { return std::make_unique<BatchNorm>("norm", c); });
    each("leaky@" + at, c, size, [] { return std::make_unique<LeakyReLU>("leaky"); });
  }
  for (auto [c, size] : {std::pair{32, 1024}, {64, 512}, {128, 256}, {256, 128}, {512, 64}})
    each("maxpool@" + std::to_string(c) + "x" + std::to_string(size), c, size,
         [] { return std::make_unique<MaxPool>("maxpool"); });
  each("upsample_20", 1024, 32, [] { return std::make_unique<Upsample>("upsample"); });
  each("reorg_21 (YOLO)", 64, 64, [] { return std::make_unique<Reorg>("reorg"); });
  cases.push_back({"concat_21", [] { return std::make_unique<Concat>("concat"); }, {{1, 256, 64, 64}, {1, 1024, 64, 64}}, 0});
  return cases;
}

// Times one forward or backward; on the GPU with CUDA events around the stream's work.
void run(benchmark::State& state, const Case& c, int batch, Context& ctx, bool backward) {
  std::unique_ptr<Layer> layer = c.make();
  layer->to(ctx.device());
  std::vector<Shape> shapes = c.in;
  for (Shape& s : shapes) s.n = batch;
  std::vector<Tensor> in, din;
  Inputs ptrs;
  InputGrads grads;
  for (const Shape& s : shapes) in.emplace_back(s, ctx.device());
  for (const Shape& s : shapes) din.emplace_back(s, ctx.device());
  for (size_t i = 0; i < in.size(); ++i) {
    ptrs.push_back(&in[i]);
    grads.push_back({&din[i], GradMode::overwrite});
  }
  const Shape out_shape = layer->output_shape(shapes);
  Tensor out(out_shape, ctx.device()), dout(out_shape, ctx.device());
  layer->forward(ctx, ptrs, out, Mode::train);  // warm-up: algorithm choice, workspace
  if (backward) layer->backward(ctx, ptrs, out, dout, grads);
  ctx.sync();

  cudaEvent_t start = nullptr, stop = nullptr;
  if (ctx.on_gpu()) {
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
  }
  for (auto _ : state) {
    if (ctx.on_gpu()) CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
    if (backward) layer->backward(ctx, ptrs, out, dout, grads);
    else layer->forward(ctx, ptrs, out, Mode::train);
    if (ctx.on_gpu()) {
      CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
      CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      state.SetIterationTime(ms * 1e-3);
    }
  }
  if (start) cudaEventDestroy(start), cudaEventDestroy(stop);

  if (c.flop > 0) {
    const double flop = c.flop * batch * (backward ? 2 : 1);
    state.counters["GFLOP/s"] = benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  } else {
    // Bytes a perfect kernel moves: inputs and output once (backward: inputs, output grad, input grads).
    double bytes = out.bytes();
    for (const Tensor& t : in) bytes += t.bytes() * (backward ? 2 : 1);
    state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  }
}

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  static Context cpu;
  static std::unique_ptr<Context> gpu = Context::try_gpu();
  static const std::vector<Case> cases = phosaurus_cases();
  std::printf("devices: cpu%s\n", gpu ? (", " + gpu->describe()).c_str() : " (no GPU)");
  for (Context* ctx : {&cpu, gpu.get()}) {
    if (!ctx) continue;
    for (const Case& c : cases)
      for (int batch : {1, 8})
        for (bool backward : {false, true}) {
          const std::string name = std::string(device_name(ctx->device())) + "/" + c.name + "/" +
                                   (backward ? "backward" : "forward") + "/batch:" + std::to_string(batch);
          auto* b = benchmark::RegisterBenchmark(name.c_str(), [&c, batch, ctx, backward](benchmark::State& s) {
            run(s, c, batch, *ctx, backward);
          });
          b->Unit(benchmark::kMillisecond);
          if (ctx->on_gpu()) b->UseManualTime();
          else b->UseRealTime();  // OpenBLAS and the layers use several threads
        }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
