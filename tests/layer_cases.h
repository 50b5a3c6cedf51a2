// The table of layer test cases, on the model of ggml's test-backend-ops: every registered layer
// type (engine/layers/registry.h) has cases here, and the gradient check, the accumulate check,
// CPU-vs-GPU parity, the known values (tests/test_layers.cpp) and the layer benchmarks
// (bench/bench_layers.cpp) all run from it, on every device present. A type without a case fails
// LayerCases.EveryRegisteredTypeHasACase.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/layers/registry.h"

namespace cupick::test {

// Exact values worked out by hand: inputs in, output out, forward in the case's mode; with `dout`,
// backward too (input gradients overwritten: they start as NaN, which overwrite must not read).
struct KnownValues {
  Shape out_shape;                     // what output_shape() must give
  std::vector<std::vector<float>> in;  // each input's values
  std::vector<float> out;
  std::vector<float> dout = {};              // empty: forward only
  std::vector<std::vector<float>> din = {};  // each input's gradient for dout
};

struct LayerCase {
  std::string type;         // a registered type
  std::vector<Shape> in;    // input shapes
  int filters = 0, size = 0;  // conv
  bool bias = false;          // conv
  Mode mode = Mode::train;
  // Which checks run. The finite-difference check is in double and costs a forward per checked
  // point, so the large parity shapes skip it.
  bool gradient = true, accumulate = true, parity = true;
  // Parity: |gpu - cpu| <= atol * max|cpu| + rtol * |cpu|. Exact for the layers that only move or
  // compare values.
  double rtol = 0, atol = 0;
  std::shared_ptr<const KnownValues> known = nullptr;  // none

  // A fresh layer of this case (parameters zero).
  std::unique_ptr<Layer> make() const;
  // "conv_to4_k3_bias_2x3x5x6_train": unique in the table, usable as a test name.
  std::string name() const;
};

const std::vector<LayerCase>& layer_cases();

}  // namespace cupick::test
