// What the PyTorch peer (bench/peers/) is checked against: for each network, cupick's weights and
// cupick's outputs for one input, computed by the CPU reference path in double precision.
//
//   cupick_peer_reference OUT_DIR [--size=256] [--batch=2] [--arch=NAME]
//
// writes, per network (all three unless --arch), OUT_DIR/<arch>.safetensors, the weights as cupick
// saves them (io/weights.h), and OUT_DIR/<arch>.reference.safetensors with
//   input          N x 1 x size x size
//   infer          the head output in inference mode (batchnorm with the moving statistics)
//   train          the head output in training mode (batchnorm with the batch statistics)
//   grad/<param>   d(0.5 * sum(train^2)) / d(param) for the first and the last convolution's kernels
// (computed in double from the float weights and input, and stored rounded to float)
// The weights are the network's initial ones with batchnorm's gamma, beta and moving statistics
// drawn away from 1, 0, 0, 1, so that the check sees every parameter at work.
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "engine/layers/batchnorm.h"
#include "io/weights.h"
#include "nets/network.h"

namespace cupick {
namespace {

void perturb_batchnorm(Graph& g, unsigned seed) {
  std::mt19937 bits(seed);
  auto u = [&] { return double(bits()) / 4294967296.0; };  // [0, 1)
  for (size_t i = 0; i < g.size(); ++i)
    if (auto* norm = dynamic_cast<BatchNorm*>(&g.layer(i)))
      for (Param* p : norm->params()) {
        float* v = p->value.data<float>();
        for (size_t k = 0; k < p->value.count(); ++k) {
          if (p->name == "gamma") v[k] = float(0.8 + 0.4 * u());
          if (p->name == "beta") v[k] = float(0.2 * u() - 0.1);
          if (p->name == "moving_mean") v[k] = float(0.1 * u() - 0.05);
          if (p->name == "moving_variance") v[k] = float(0.5 + u());
        }
      }
}

void write_reference(const std::string& arch, const std::string& dir, int size, int batch) {
  Context cpu;
  Graph g = build_network(arch);
  const Shape shape{batch, 1, size, size};
  initialize(g, shape, 7);
  perturb_batchnorm(g, 11);
  const std::string weights = dir + "/" + arch + ".safetensors";
  save_weights(weights, g.params(), {{"architecture", arch}});

  Tensor input(shape);
  std::mt19937 bits(3);
  std::normal_distribution<float> normal;  // its values differ between libraries, and need not agree: they are saved
  for (float& x : std::span(input.data<float>(), shape.count())) x = normal(bits);

  std::vector<Param> tensors;  // what the reference file holds, named as in the header comment
  auto keep = [&](const std::string& name, Tensor t) {
    tensors.emplace_back();
    tensors.back().name = name;
    tensors.back().value = std::move(t);
  };
  keep("input", input.clone());
  // The outputs in double, from exactly the saved float weights and input: the peer, run in double
  // too, must then agree to rounding, and in float it shows how far float32 alone takes both.
  g.to(Device::cpu, DType::f64);
  const Tensor input64 = input.to(DType::f64);
  keep("infer", g.forward(cpu, input64, Mode::infer).clone());
  keep("train", g.forward(cpu, input64, Mode::train).clone());
  g.backward(cpu, tensors.back().value);
  const std::string first = g.layer(0).name() + "/kernel", head = g.layer(g.size() - 1).name() + "/kernel";
  for (const NamedParam& p : g.params())
    if (p.name == first || p.name == head) keep("grad/" + p.name, p.param->grad.clone());

  std::vector<NamedParam> named;
  for (Param& t : tensors) named.push_back({t.name, &t});
  save_weights(dir + "/" + arch + ".reference.safetensors", named,
               {{"architecture", arch}, {"weights", arch + ".safetensors"}});
  std::printf("%s: %s and %s.reference.safetensors (input %s)\n", arch.c_str(), weights.c_str(), arch.c_str(),
              shape.str().c_str());
}

}  // namespace
}  // namespace cupick

int main(int argc, char** argv) {
  using namespace cupick;
  std::string dir, only;
  int size = 256, batch = 2;
  bool bad = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--size=", 0) == 0) size = std::atoi(a.c_str() + 7);
    else if (a.rfind("--batch=", 0) == 0) batch = std::atoi(a.c_str() + 8);
    else if (a.rfind("--arch=", 0) == 0) only = a.substr(7);
    else if (dir.empty() && a[0] != '-') dir = a;
    else bad = true;
  }
  if (bad || dir.empty() || batch < 1) {
    std::fprintf(stderr, "usage: cupick_peer_reference OUT_DIR [--size=256] [--batch=2] [--arch=NAME]\n");
    return 2;
  }
  try {
    check_input_size({batch, 1, size, size});
    for (const std::string& arch : only.empty() ? network_names() : std::vector<std::string>{only})
      write_reference(arch, dir, size, batch);
  } catch (const Error& e) {
    std::fprintf(stderr, "cupick_peer_reference: %s\n", e.what());
    return 1;
  }
  return 0;
}
