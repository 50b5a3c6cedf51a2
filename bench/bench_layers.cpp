// Every layer, forward and backward, at the shapes it has in PhosaurusNet, YOLO and crYOLO on a
// 1024x1024 micrograph. The cases come from the networks' graphs (nets/*.json through build_network
// and Graph::shapes), one per distinct (layer type, hyper-parameters, input shapes): the three
// networks share their backbone, so about 40 cases cover all of their 180 layers; each case's label
// names the layers it stands for.
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
#include "engine/layers/batchnorm.h"
#include "engine/layers/concat.h"
#include "engine/layers/conv.h"
#include "engine/layers/leaky_relu.h"
#include "engine/layers/maxpool.h"
#include "engine/layers/reorg.h"
#include "engine/layers/upsample.h"
#include "nets/network.h"

namespace cupick {
namespace {

constexpr int kImage = 1024;

struct Case {
  std::string name;                 // "conv3x3:32-64@512": type, channels, input height
  std::vector<std::string> where;   // "PhosaurusNet/conv_2", ... every layer this case stands for
  std::function<std::unique_ptr<Layer>()> make;  // a fresh layer like them (parameters zero)
  std::vector<Shape> in;            // batch 1
  double flop = 0;                  // forward, batch 1; 0 for the memory-bound layers
};

// A layer's name for the suite and a maker of fresh copies, from the layer in a network's graph.
std::pair<std::string, std::function<std::unique_ptr<Layer>()>> describe(Layer& layer, const std::vector<Shape>& in) {
  const std::string at = "@" + std::to_string(in[0].h), n = layer.name();
  const std::string c = std::to_string(in[0].c);
  if (auto* conv = dynamic_cast<Conv2D*>(&layer)) {
    const int i = conv->in_channels(), o = conv->out_channels(), k = conv->kernel_size();
    const bool bias = conv->has_bias();
    const std::string kk = std::to_string(k) + "x" + std::to_string(k);
    return {"conv" + kk + ":" + c + "-" + std::to_string(o) + at,
            [=] { return std::make_unique<Conv2D>(n, i, o, k, bias); }};
  }
  if (auto* norm = dynamic_cast<BatchNorm*>(&layer)) {
    const int ch = norm->channels();
    const double momentum = norm->momentum(), eps = norm->epsilon();
    return {"batchnorm:" + c + at, [=] { return std::make_unique<BatchNorm>(n, ch, momentum, eps); }};
  }
  if (auto* leaky = dynamic_cast<LeakyReLU*>(&layer)) {
    const float slope = leaky->slope();
    return {"leaky:" + c + at, [=] { return std::make_unique<LeakyReLU>(n, slope); }};
  }
  if (dynamic_cast<MaxPool*>(&layer)) return {"maxpool:" + c + at, [=] { return std::make_unique<MaxPool>(n); }};
  if (dynamic_cast<Upsample*>(&layer)) return {"upsample:" + c + at, [=] { return std::make_unique<Upsample>(n); }};
  if (dynamic_cast<Reorg*>(&layer)) return {"reorg:" + c + at, [=] { return std::make_unique<Reorg>(n); }};
  if (dynamic_cast<Concat*>(&layer)) {
    std::string parts;
    for (const Shape& s : in) parts += (parts.empty() ? "" : "+") + std::to_string(s.c);
    return {"concat:" + parts + at, [=] { return std::make_unique<Concat>(n); }};
  }
  throw Error(std::string("bench_layers: no benchmark case for layer type '") + layer.type() + "'");
}

// The distinct layers of the three networks, in the order they first appear.
std::vector<Case> network_cases() {
  std::vector<Case> cases;
  std::map<std::string, size_t> seen;  // case name -> index
  for (const char* arch : {"PhosaurusNet", "YOLO", "crYOLO"}) {
    Graph g = build_network(arch);
    const Shape input{1, 1, kImage, kImage};
    const std::vector<Shape> shapes = g.shapes(input);
    std::map<std::string, Shape> by_name{{Graph::kInput, input}};
    for (size_t i = 0; i < g.size(); ++i) {
      Layer& layer = g.layer(i);
      std::vector<Shape> in;
      for (const std::string& from : g.inputs(i)) in.push_back(by_name.at(from));
      by_name[layer.name()] = shapes[i];
      auto [name, make] = describe(layer, in);
      if (!seen.count(name)) {
        seen[name] = cases.size();
        double flop = 0;
        if (auto* conv = dynamic_cast<Conv2D*>(&layer))
          flop = 2.0 * shapes[i].count() * conv->in_channels() * conv->kernel_size() * conv->kernel_size();
        cases.push_back({name, {}, make, in, flop});
      }
      cases[seen[name]].where.push_back(std::string(arch) + "/" + layer.name());
    }
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

// Times one forward (train mode, as in training) or one backward of a fresh layer.
void run(benchmark::State& state, const Case& c, int batch, Context& ctx, bool backward) {
  std::unique_ptr<Layer> layer = c.make();
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

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  Context& cpu = bench::cpu_context();
  Context* gpu = bench::gpu_context();
  static const std::vector<Case> cases = network_cases();
  std::printf("devices: cpu%s; %zu distinct layers of PhosaurusNet, YOLO and crYOLO at %dx%d\n",
              gpu ? (", " + gpu->describe()).c_str() : " (no GPU)", cases.size(), kImage, kImage);
  bench::add_device_context(gpu != nullptr);
  for (Context* ctx : {&cpu, gpu}) {
    if (!ctx) continue;
    const std::vector<int> batches = ctx->on_gpu() ? std::vector<int>{1, 4, 8} : std::vector<int>{1};
    for (const Case& c : cases)
      for (int batch : batches)
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
