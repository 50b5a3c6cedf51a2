// Every layer, forward and backward, at the shapes it has in PhosaurusNet, YOLO and crYOLO on a
// 1024x1024 micrograph. The cases come from the networks' graphs (nets/*.json through build_network
// and Graph::shapes), one per distinct (layer type, hyper-parameters, input shapes): the three
// networks share their backbone, so about 40 cases cover all of their 180 layers; each case's label
// names the layers it stands for. Then every case of the table of layer test cases
// (tests/layer_cases.cpp) as "table:<case>", at batch 1 like the others, so that a layer type no
// network uses yet is measured too.
//
// GPU 0, when there is one: batch 1, 4 and 8. CPU: batch 1 only (the whole CPU suite takes a few
// minutes on two cores). Convolutions count 2 x multiply-adds (backward: the data and the filter
// gradients, 2x forward) and report TFLOP/s (GPU) or GFLOP/s (CPU); the other layers report the bytes
// a perfect kernel moves (each input, output and gradient once) as TB/s or GB/s. On a known GPU
// (bench/peaks.h) the counters %fp32, %bf16 and %bw give the share of the datasheet peaks.
// `cupick_bench_layers --benchmark_filter=^gpu/` runs the GPU alone.
#include <benchmark/benchmark.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/peaks.h"
#include "engine/layers/conv.h"
#include "nets/network.h"
#include "tests/layer_cases.h"

namespace cupick {
namespace {

constexpr int kImage = 1024;

struct Case {
  std::string name;                // "conv3x3:32-64@512": type, channels, input height
  std::vector<std::string> where;  // "PhosaurusNet/conv_2", ... every layer this case stands for
  Layer* layer;                    // one like them (parameters zero), kept by layers()
  std::vector<Shape> in;           // batch 1
  double flop = 0;                 // forward, batch 1; 0 for the layers that only move memory
};

// The networks' graphs and the table's layers, alive as long as the benchmarks.
std::vector<Graph>& graphs() {
  static std::vector<Graph> g;
  return g;
}
std::vector<std::unique_ptr<Layer>>& table_layers() {
  static std::vector<std::unique_ptr<Layer>> l;
  return l;
}

// Type, kernel (for layers with one), input channels, output channels (where a kernel sets them)
// and input height: "conv3x3:32-64@512", "concat:512+256@64".
std::string case_name(Layer& layer, const std::vector<Shape>& in) {
  // Appended piece by piece: "-" + std::to_string(...) trips GCC 12's -Wrestrict false positive.
  std::string name = layer.type(), channels;
  for (const Shape& s : in) channels.append(channels.empty() ? "" : "+").append(std::to_string(s.c));
  for (Param* p : layer.params())
    if (p->name == "kernel") {
      const Shape k = p->value.shape();
      name.append(std::to_string(k.h)).append("x").append(std::to_string(k.w));
      channels.append("-").append(std::to_string(k.n));
    }
  return name.append(":").append(channels).append("@").append(std::to_string(in[0].h));
}

// The distinct layers of the three networks, in the order they first appear, then the table's
// cases (tests/layer_cases.cpp), so that a layer type no network uses yet is measured too.
std::vector<Case> all_cases() {
  std::vector<Case> cases;
  std::map<std::string, size_t> seen;  // case name -> index
  for (const char* arch : {"PhosaurusNet", "YOLO", "crYOLO"}) {
    Graph& g = graphs().emplace_back(build_network(arch));
    const Shape input{1, 1, kImage, kImage};
    const std::vector<Shape> shapes = g.shapes(input);
    std::map<std::string, Shape> by_name{{Graph::kInput, input}};
    for (size_t i = 0; i < g.size(); ++i) {
      Layer& layer = g.layer(i);
      std::vector<Shape> in;
      for (const std::string& from : g.inputs(i)) in.push_back(by_name.at(from));
      by_name[layer.name()] = shapes[i];
      const std::string name = case_name(layer, in);
      if (!seen.count(name)) {
        seen[name] = cases.size();
        cases.push_back({name, {}, &layer, in, layer.flop(shapes[i])});
      }
      cases[seen[name]].where.push_back(std::string(arch) + "/" + layer.name());
    }
  }
  // The networks' 3x3 convolutions once more through im2col + gemm, the reference that Winograd
  // replaced on the host, so that both are timed in one run (CPU only).
  const size_t network_cases = cases.size();
  for (size_t i = 0; i < network_cases; ++i)
    if (auto* conv = dynamic_cast<Conv2D*>(cases[i].layer); conv && conv->kernel_size() == 3) {
      auto& reference = table_layers().emplace_back(std::make_unique<Conv2D>(
          conv->name(), conv->in_channels(), conv->out_channels(), 3, conv->has_bias()));
      static_cast<Conv2D&>(*reference).use(Conv2D::HostAlgorithm::reference);
      Case c = cases[i];
      c.name += ":im2col";
      c.layer = reference.get();
      cases.push_back(c);
    }
  for (const test::LayerCase& c : test::layer_cases()) {
    Layer& layer = *table_layers().emplace_back(c.make());
    std::vector<Shape> in = c.in;
    for (Shape& s : in) s.n = 1;
    cases.push_back({"table:" + c.name(), {"tests/layer_cases.cpp"}, &layer, in,
                     layer.flop(layer.output_shape(in))});
  }
  return cases;
}

// Deterministic, varied values (no ties in max-pooling, both signs for leaky ReLU).
Tensor pattern(Shape s, Device device, int salt) {
  Tensor host(s);
  float* v = host.data<float>();
  for (size_t i = 0; i < host.count(); ++i) v[i] = float((i * 7919 + size_t(salt) * 104729) % 1009) / 1009 - 0.5f;
  return host.to(device);
}

// Times one forward (train mode, as in training) or one backward of the case's layer. The layer is
// shared by the case's runs on every device and batch (its parameters move with it); its values do
// not change the time.
void run(benchmark::State& state, const Case& c, int batch, Context& ctx, bool backward) {
  Layer* layer = c.layer;
  layer->to(ctx.device());
  std::vector<Shape> shapes = c.in;
  for (Shape& s : shapes) s.n = batch;
  std::vector<Tensor> in, din;
  Inputs ptrs;
  InputGrads grads;
  for (size_t i = 0; i < shapes.size(); ++i) {
    in.push_back(pattern(shapes[i], ctx.device(), int(i)));
    din.emplace_back(shapes[i], ctx.device());
  }
  for (size_t i = 0; i < in.size(); ++i) {
    ptrs.push_back(&in[i]);
    grads.push_back({&din[i], GradMode::overwrite});
  }
  const Shape out_shape = layer->output_shape(shapes);
  Tensor out(out_shape, ctx.device()), dout = pattern(out_shape, ctx.device(), 7);
  layer->forward(ctx, ptrs, out, Mode::train);  // warm-up: algorithm choice, workspace
  if (backward) layer->backward(ctx, ptrs, out, dout, grads);
  ctx.sync();

  double seconds = 0;
  for (auto _ : state)
    seconds += bench::timed_iteration(state, ctx.stream(), ctx.on_gpu(), [&] {
      if (backward) layer->backward(ctx, ptrs, out, dout, grads);
      else layer->forward(ctx, ptrs, out, Mode::train);
    });

  static const std::optional<bench::Peaks> peaks = bench::peaks_for(bench::gpu_name());
  if (c.flop > 0) {
    bench::report_flop(state, c.flop * batch * (backward ? 2 : 1), seconds, ctx.on_gpu(), peaks);
  } else {
    // Forward reads the inputs and writes the output; backward reads the inputs and the output's
    // gradient and writes the inputs' gradients.
    double bytes = out.bytes();
    for (const Tensor& t : in) bytes += t.bytes() * (backward ? 2 : 1);
    bench::report_bytes(state, bytes, seconds, ctx.on_gpu(), peaks);
  }
  std::string label = c.where[0];
  if (c.where.size() > 1) label += " +" + std::to_string(c.where.size() - 1) + " more";
  state.SetLabel(label);
}

// The memory bandwidth the element-wise layers are measured against: a STREAM-like copy of 128 MB
// (PhosaurusNet's largest activation) on every core, counting the bytes read and written.
void stream_copy(benchmark::State& state) {
  const size_t n = size_t(32) << 20;
  std::vector<float> a(n, 1.f), b(n, 0.f);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < long(n); ++i) b[i] = a[i];
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(2e-9 * n * sizeof(float), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  Context& cpu = bench::cpu_context();
  Context* gpu = bench::gpu_context();
  static const std::vector<Case> cases = all_cases();
  std::printf("devices: cpu%s; %zu cases: the distinct layers of PhosaurusNet, YOLO and crYOLO at %dx%d and the test table\n",
              gpu ? (", " + gpu->describe()).c_str() : " (no GPU)", cases.size(), kImage, kImage);
  bench::add_device_context(gpu != nullptr);
  benchmark::RegisterBenchmark("cpu/stream_copy:128MB", stream_copy)->Unit(benchmark::kMillisecond)->UseRealTime();
  for (Context* ctx : {&cpu, gpu}) {
    if (!ctx) continue;
    const std::vector<int> batches = ctx->on_gpu() ? std::vector<int>{1, 4, 8} : std::vector<int>{1};
    for (const Case& c : cases)
      for (int batch : batches) {
        if (ctx->on_gpu() && c.name.ends_with(":im2col")) continue;
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
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
